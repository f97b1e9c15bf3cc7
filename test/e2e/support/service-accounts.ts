// The e2e suite runs sidecars and the webhook the way they run in a cluster: under their own
// ServiceAccounts, with exactly the RBAC rules the manifests ship (token auth), never as admin.
// Each helper creates the ServiceAccount and its bindings with an admin kubeconfig, asks the
// TokenRequest API for a token and writes a kubeconfig that holds only that token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { writeKubeconfig } from '../../harness/cluster.js';

const manifests = new URL('../../../manifests/', import.meta.url);

interface RbacDoc {
  kind: string;
  metadata: { name: string };
  rules?: k8s.V1PolicyRule[];
}

function shippedDocs(file: string): RbacDoc[] {
  return parseAllDocuments(readFileSync(new URL(file, manifests), 'utf8')).map((d) => d.toJS() as RbacDoc);
}

function admin(adminKubeconfig: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.caFile) throw new Error(`${adminKubeconfig}: want a current cluster with a certificate-authority file`);
  return { core: kc.makeApiClient(k8s.CoreV1Api), rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api), server: cluster.server, caFile: cluster.caFile };
}

async function ignoreConflict(create: Promise<unknown>): Promise<void> {
  await create.catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
}

/** Creates a ClusterRole, or replaces its rules with these when it exists. */
async function upsertClusterRole(rbac: k8s.RbacAuthorizationV1Api, name: string, rules: k8s.V1PolicyRule[]): Promise<void> {
  try {
    await rbac.createClusterRole({ body: { metadata: { name }, rules } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
    const existing = await rbac.readClusterRole({ name });
    await rbac.replaceClusterRole({ name, body: { ...existing, rules } });
  }
}

async function tokenKubeconfig(api: ReturnType<typeof admin>, namespace: string, serviceAccount: string, path: string, server?: string, caFile?: string): Promise<string> {
  const answer = await api.core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace, body: { spec: { audiences: [], expirationSeconds: 3 * 3600 } } });
  const token = answer.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${serviceAccount}`);
  writeKubeconfig(path, server ?? api.server, caFile ?? api.caFile, token, `system:serviceaccount:${namespace}:${serviceAccount}`);
  return path;
}

export interface ServiceAccountOptions {
  /** Kubeconfig of a cluster admin (creates the ServiceAccount and bindings). */
  adminKubeconfig: string;
  /** Where the ServiceAccount lives (the collector's or the webhook's namespace). */
  namespace: string;
  /** Directory for the written kubeconfig. */
  dir: string;
  /** Its file name (default `<namespace>-<serviceAccount>.kubeconfig`). */
  file?: string;
  serviceAccount?: string;
  /** Another API endpoint for the kubeconfig (a test proxy) and its CA; default the admin's. */
  server?: string;
  caFile?: string;
}

/**
 * The collector's ServiceAccount with the sidecar roles of manifests/overlays/kube-stack/
 * sidecar-rbac.yaml as shipped: discovery cluster-wide, membership (Leases, Events) in its own
 * namespace, and the Secrets role cluster-wide (the file's broadest documented binding).
 * Returns the path of a kubeconfig with its token.
 */
export async function sidecarServiceAccount(options: ServiceAccountOptions): Promise<string> {
  const api = admin(options.adminKubeconfig);
  const { namespace } = options;
  const serviceAccount = options.serviceAccount ?? 'edot-collector';
  const roles = shippedDocs('overlays/kube-stack/sidecar-rbac.yaml').filter((d) => d.kind === 'ClusterRole');
  const want = ['edot-ta-sidecar-discovery', 'edot-ta-sidecar-secrets', 'edot-ta-sidecar-membership'];
  for (const name of want) {
    const role = roles.find((r) => r.metadata.name === name);
    if (!role?.rules) throw new Error(`sidecar-rbac.yaml has no ClusterRole ${name}`);
    await upsertClusterRole(api.rbac, name, role.rules);
  }
  const subjects = [{ kind: 'ServiceAccount', name: serviceAccount, namespace }];
  const roleRef = (name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name });
  await ignoreConflict(api.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } }));
  for (const name of ['edot-ta-sidecar-discovery', 'edot-ta-sidecar-secrets']) {
    await ignoreConflict(api.rbac.createClusterRoleBinding({ body: { metadata: { name: `${name}-${namespace}-${serviceAccount}`.slice(0, 253) }, roleRef: roleRef(name), subjects } }));
  }
  await ignoreConflict(api.rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: `edot-ta-sidecar-membership-${serviceAccount}` }, roleRef: roleRef('edot-ta-sidecar-membership'), subjects } }));
  return tokenKubeconfig(api, namespace, serviceAccount, join(options.dir, options.file ?? `${namespace}-${serviceAccount}.kubeconfig`), options.server, options.caFile);
}

/**
 * The webhook's ServiceAccount with the Role and ClusterRole of manifests/base/webhook.yaml,
 * the ClusterRole's resourceNames set to this test's MutatingWebhookConfiguration and the
 * Role's to its bootstrap Secret. Returns the path of a kubeconfig with its token.
 */
export async function webhookServiceAccount(options: ServiceAccountOptions & { configName: string; secretName?: string }): Promise<string> {
  const api = admin(options.adminKubeconfig);
  const { namespace, configName } = options;
  const serviceAccount = options.serviceAccount ?? 'edot-ta-webhook';
  const docs = shippedDocs('base/webhook.yaml');
  const named = (name: string) => (rule: k8s.V1PolicyRule) => (rule.resourceNames ? { ...rule, resourceNames: [name] } : rule);
  const roleRules = docs.find((d) => d.kind === 'Role')?.rules?.map(named(options.secretName ?? 'edot-ta-webhook-tls'));
  const clusterRules = docs.find((d) => d.kind === 'ClusterRole')?.rules?.map(named(configName));
  if (!roleRules || !clusterRules) throw new Error('manifests/base/webhook.yaml lacks its Role or ClusterRole');
  const subjects = [{ kind: 'ServiceAccount', name: serviceAccount, namespace }];
  const clusterRoleName = configName; // the test's own name: its cleanup deletes both
  await ignoreConflict(api.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } }));
  await ignoreConflict(api.rbac.createNamespacedRole({ namespace, body: { metadata: { name: serviceAccount }, rules: roleRules } }));
  await ignoreConflict(api.rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: serviceAccount }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: serviceAccount }, subjects } }));
  await upsertClusterRole(api.rbac, clusterRoleName, clusterRules);
  await ignoreConflict(api.rbac.createClusterRoleBinding({ body: { metadata: { name: clusterRoleName }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRoleName }, subjects } }));
  return tokenKubeconfig(api, namespace, serviceAccount, join(options.dir, options.file ?? `${namespace}-${serviceAccount}.kubeconfig`), options.server, options.caFile);
}
