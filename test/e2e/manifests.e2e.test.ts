// The install manifests (a kustomize base and overlays in manifests/) against the real apiserver:
// the harness's kubectl renders each one, the apiserver accepts what it renders (server-side dry
// run of `kubectl apply -k`; the cert-manager objects are checked structurally, as the test
// cluster has no cert-manager CRDs), and the webhook's RBAC grants exactly what it needs (its own
// Secret and its own MutatingWebhookConfiguration), checked by the apiserver's authorizer.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AuthorizationV1Api,
  type KubernetesObject,
  type V1Deployment,
  type V1MutatingWebhookConfiguration,
  type V1RoleBinding,
  type V1Service,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { serviceDnsNames } from '../../certs/ca.js';
import { clients, kubectl } from '../harness/context.js';

const manifestsDir = fileURLToPath(new URL('../../manifests/', import.meta.url));
const base = 'base';
const kubeStack = 'overlays/kube-stack';
const certManager = 'overlays/cert-manager';

const parse = (text: string) => parseAllDocuments(text).map((doc) => doc.toJS() as KubernetesObject | null).filter((o): o is KubernetesObject => o !== null);
/** A plain YAML file of manifests/. */
const manifestFile = (path: string) => parse(readFileSync(manifestsDir + path, 'utf8'));
/** `kubectl kustomize manifests/<dir>`: what `kubectl apply -k` would send. */
const render = async (dir: string) => parse(await kubectl(['kustomize', manifestsDir + dir]));
/** `kubectl apply --dry-run=server -k manifests/<dir>` (or the given objects): what the apiserver accepts, by name. */
const dryRun = async (what: { dir: string } | { objects: KubernetesObject[] }) => {
  const args = ['apply', '--dry-run=server', '-o', 'name'];
  const out = 'dir' in what ? await kubectl([...args, '-k', manifestsDir + what.dir]) : await kubectl([...args, '-f', '-'], { input: what.objects.map((o) => stringify(o)).join('---\n') });
  return out.trim().split('\n');
};

const key = (o: KubernetesObject) => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
const keys = (objects: KubernetesObject[]) => objects.map(key).sort();
const byKey = (objects: KubernetesObject[]) => Object.fromEntries(objects.map((o) => [key(o), o]));
const isCertManager = (o: KubernetesObject) => (o.apiVersion ?? '').startsWith('cert-manager.io/');
const only = <T extends KubernetesObject>(objects: KubernetesObject[], kind: string): T => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found.map(key)).toHaveLength(1);
  return found[0] as T;
};
const webhookArgs = (deployment: V1Deployment) => deployment.spec?.template.spec?.containers.find((c) => c.name === 'webhook')?.args ?? [];
const flagName = (arg: string) => arg.split('=', 1)[0] ?? arg;
const flagNames = (args: string[]) => args.filter((a) => a.startsWith('--')).map(flagName);
/** The fields of cert-manager's Issuer and Certificate (cert-manager.io/v1) the checks read. */
type CertManagerObject = KubernetesObject & {
  spec: {
    secretName?: string;
    dnsNames?: string[];
    isCA?: boolean;
    issuerRef?: { group?: string; kind?: string; name: string };
    ca?: { secretName: string };
    selfSigned?: object;
  };
};

const webhookSubject = { kind: 'ServiceAccount', name: 'edot-ta-webhook', namespace: 'edot-ta-system' };
const kubeStackSubject = { kind: 'ServiceAccount', name: 'opentelemetry-kube-stack-daemon-collector', namespace: 'opentelemetry-operator-system' };
const bindingKinds = ['RoleBinding', 'ClusterRoleBinding'];
const rbacKinds = ['Role', 'ClusterRole', ...bindingKinds];

describe('install manifests (kustomize base and overlays)', () => {
  const authorization = clients().kc.makeApiClient(AuthorizationV1Api);
  const rendered: Record<string, KubernetesObject[]> = {};
  const applied: string[] = [];

  beforeAll(async () => {
    for (const dir of [base, kubeStack, certManager]) rendered[dir] = await render(dir);
  });
  // Cluster-scoped objects only: the test cluster has no namespace controller, so a deleted
  // namespace would stay Terminating for every later test that needs it.
  afterAll(async () => {
    for (const kindName of applied.reverse()) await kubectl(['delete', '--ignore-not-found', '--wait=false', ...kindName.split(' ')]).catch(() => {});
  });

  it('base renders the webhook objects of base/webhook.yaml unchanged', () => {
    const objects = rendered[base]!;
    expect(keys(objects)).toEqual(keys(manifestFile('base/webhook.yaml')));
    // Kustomize adds nothing (no labels, name prefixes or namespace rewrites) to what we ship.
    const shipped = byKey(manifestFile('base/webhook.yaml'));
    for (const object of objects) expect(object, key(object)).toEqual(shipped[key(object)]);
    expect(keys(objects)).toEqual(
      [
        'Namespace edot-ta-system',
        'ServiceAccount edot-ta-system/edot-ta-webhook',
        'Role edot-ta-system/edot-ta-webhook',
        'RoleBinding edot-ta-system/edot-ta-webhook',
        'ClusterRole edot-ta-webhook',
        'ClusterRoleBinding edot-ta-webhook',
        'Deployment edot-ta-system/edot-ta-webhook',
        'PodDisruptionBudget edot-ta-system/edot-ta-webhook',
        'Service edot-ta-system/edot-ta-webhook',
        'MutatingWebhookConfiguration edot-ta',
      ].sort(),
    );
  });

  it('kube-stack overlay is the base plus the sidecar RBAC, bound to the kube-stack daemon collector', () => {
    const objects = rendered[kubeStack]!;
    const sidecarRbac = manifestFile('overlays/kube-stack/sidecar-rbac.yaml');
    expect(keys(objects)).toEqual(keys([...rendered[base]!, ...sidecarRbac]));
    const all = byKey(objects);
    for (const object of [...rendered[base]!, ...sidecarRbac]) expect(all[key(object)], key(object)).toEqual(object);

    const bindings = objects.filter((o) => bindingKinds.includes(o.kind ?? '') && o.metadata?.name?.startsWith('edot-ta-sidecar-')) as V1RoleBinding[];
    expect(keys(bindings)).toEqual(['ClusterRoleBinding edot-ta-sidecar-discovery', 'RoleBinding opentelemetry-operator-system/edot-ta-sidecar-membership']);
    for (const binding of bindings) {
      expect(binding.subjects, key(binding)).toEqual([kubeStackSubject]);
      // Every role a binding names is in the overlay.
      expect(all[`ClusterRole ${binding.roleRef.name}`], key(binding)).toBeDefined();
    }
  });

  it('base and kube-stack overlay are accepted by the API server (kubectl apply --dry-run=server -k)', async () => {
    const served = new Set((await kubectl(['api-versions'])).trim().split('\n'));
    const everything = Object.values(rendered).flat().filter((o) => !isCertManager(o));
    // The current server serves every API version we ship (policy/v1 PodDisruptionBudget included).
    expect(everything.filter((o) => !served.has(o.apiVersion ?? '')).map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([]);
    // A dry run does not create namespaces; the namespaced objects need them to exist.
    for (const namespace of ['edot-ta-system', 'opentelemetry-operator-system']) {
      await kubectl(['create', 'namespace', namespace]).catch((err: Error) => {
        if (!err.message.includes('AlreadyExists')) throw err;
      });
    }

    const baseOut = await dryRun({ dir: base });
    expect(baseOut).toHaveLength(rendered[base]!.length);
    expect(baseOut).toEqual(
      expect.arrayContaining([
        'mutatingwebhookconfiguration.admissionregistration.k8s.io/edot-ta',
        'deployment.apps/edot-ta-webhook',
        'poddisruptionbudget.policy/edot-ta-webhook',
        'service/edot-ta-webhook',
      ]),
    );

    const kubeStackOut = await dryRun({ dir: kubeStack });
    expect(kubeStackOut).toHaveLength(rendered[kubeStack]!.length);
    expect(kubeStackOut).toEqual(
      expect.arrayContaining([
        ...baseOut,
        'clusterrole.rbac.authorization.k8s.io/edot-ta-sidecar-discovery',
        'clusterrole.rbac.authorization.k8s.io/edot-ta-sidecar-membership',
        'clusterrole.rbac.authorization.k8s.io/edot-ta-sidecar-secrets',
        'clusterrolebinding.rbac.authorization.k8s.io/edot-ta-sidecar-discovery',
        'rolebinding.rbac.authorization.k8s.io/edot-ta-sidecar-membership',
      ]),
    );
  });

  it('cert-manager overlay: a Certificate for the webhook Service in the mounted Secret, caBundle injected from it, no bootstrap', async () => {
    const objects = rendered[certManager]!;
    const certManagerObjects = objects.filter(isCertManager) as CertManagerObject[];
    const kubernetesObjects = objects.filter((o) => !isCertManager(o));

    // The Kubernetes objects: the base without the webhook's RBAC (it reads no Secret and patches
    // no webhook configuration any more), accepted by the API server.
    const webhookRbac = rendered[base]!.filter((o) => rbacKinds.includes(o.kind ?? ''));
    expect(keys(webhookRbac)).toHaveLength(4);
    expect(keys(kubernetesObjects)).toEqual(keys(rendered[base]!.filter((o) => !webhookRbac.includes(o))));
    expect(kubernetesObjects.filter((o) => ((o as V1RoleBinding).subjects ?? []).some((s) => s.name === webhookSubject.name)).map(key)).toEqual([]);
    await kubectl(['create', 'namespace', 'edot-ta-system']).catch((err: Error) => {
      if (!err.message.includes('AlreadyExists')) throw err;
    });
    const out = await dryRun({ objects: kubernetesObjects });
    expect(out).toHaveLength(kubernetesObjects.length);
    expect(out).toContain('mutatingwebhookconfiguration.admissionregistration.k8s.io/edot-ta');
    expect(out).toContain('deployment.apps/edot-ta-webhook');

    // The Deployment does not bootstrap: no --bootstrap-secret (nor --service, --webhook-config,
    // which the webhook refuses without it); every other argument as in the base.
    const deployment = only<V1Deployment>(kubernetesObjects, 'Deployment');
    const baseDeployment = only<V1Deployment>(rendered[base]!, 'Deployment');
    const bootstrapFlags = ['--bootstrap-secret', '--service', '--webhook-config'];
    expect(flagNames(webhookArgs(baseDeployment))).toEqual(expect.arrayContaining(bootstrapFlags));
    expect(flagNames(webhookArgs(deployment)).filter((f) => bootstrapFlags.includes(f))).toEqual([]);
    expect(webhookArgs(deployment)).toEqual(webhookArgs(baseDeployment).filter((a) => !bootstrapFlags.includes(flagName(a))));

    // --cert-dir is a Secret volume (not the base's emptyDir); that Secret is a Certificate's.
    const certDir = webhookArgs(deployment).find((a) => a.startsWith('--cert-dir='))?.slice('--cert-dir='.length);
    expect(certDir).toBe('/var/run/edot-ta/certs');
    const podSpec = deployment.spec!.template.spec!;
    const mount = podSpec.containers.find((c) => c.name === 'webhook')?.volumeMounts?.find((m) => m.mountPath === certDir);
    const volume = podSpec.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.emptyDir).toBeUndefined();
    expect(volume?.secret?.secretName).toBe('edot-ta-webhook-tls');
    const namespace = deployment.metadata!.namespace!;
    const certificates = certManagerObjects.filter((o) => o.kind === 'Certificate');
    const certificate = certificates.find((c) => c.metadata?.namespace === namespace && c.spec.secretName === volume?.secret?.secretName);
    expect(certificate, 'a Certificate whose Secret the Deployment mounts').toBeDefined();
    expect(certificate!.apiVersion).toBe('cert-manager.io/v1');

    // Its names are those the webhook's own bootstrap would issue for every Service the
    // configuration calls (the API server connects to <service>.<namespace>.svc), and those
    // Services exist, on the configured port.
    const configuration = only<V1MutatingWebhookConfiguration>(kubernetesObjects, 'MutatingWebhookConfiguration');
    expect(configuration.webhooks?.length).toBeGreaterThan(0);
    for (const hook of configuration.webhooks ?? []) {
      const service = hook.clientConfig.service!;
      expect(service, hook.name).toBeDefined();
      expect(certificate!.spec.dnsNames, hook.name).toEqual(expect.arrayContaining(serviceDnsNames(service.name, service.namespace)));
      const target = byKey(kubernetesObjects)[`Service ${service.namespace}/${service.name}`] as V1Service | undefined;
      expect(target?.spec?.ports?.map((p) => p.port), hook.name).toContain(service.port ?? 443);
    }
    expect([...(certificate!.spec.dnsNames ?? [])].sort()).toEqual(serviceDnsNames('edot-ta-webhook', 'edot-ta-system').sort());

    // cert-manager's CA injector fills caBundle from exactly that Certificate.
    expect(configuration.metadata?.annotations?.['cert-manager.io/inject-ca-from']).toBe(`${certificate!.metadata!.namespace}/${certificate!.metadata!.name}`);

    // The issuer chain is complete in the overlay: Certificate → CA Issuer → CA Certificate → self-signed Issuer.
    const issuer = (ref: CertManagerObject['spec']['issuerRef']) =>
      certManagerObjects.find((o) => o.kind === (ref?.kind ?? 'Issuer') && o.metadata?.name === ref?.name && o.metadata?.namespace === namespace);
    const caIssuer = issuer(certificate!.spec.issuerRef);
    expect(caIssuer?.spec.ca?.secretName, 'a CA Issuer').toBeDefined();
    const caCertificate = certificates.find((c) => c.metadata?.namespace === namespace && c.spec.secretName === caIssuer!.spec.ca!.secretName);
    expect(caCertificate?.spec.isCA).toBe(true);
    expect(issuer(caCertificate!.spec.issuerRef)?.spec.selfSigned).toEqual({});
    expect(certManagerObjects.every((o) => o.apiVersion === 'cert-manager.io/v1' && o.metadata?.namespace === namespace)).toBe(true);
  });

  it('give the webhook ServiceAccount its own Secret and webhook configuration, nothing more', async () => {
    const rbacOnly = rendered[base]!.filter((o) => ['Namespace', 'ServiceAccount', ...rbacKinds].includes(o.kind ?? ''));
    await kubectl(['apply', '-f', '-'], { input: rbacOnly.map((o) => stringify(o)).join('---\n') });
    applied.push('clusterrolebinding edot-ta-webhook', 'clusterrole edot-ta-webhook');

    const can = async (verb: string, group: string, resource: string, name?: string, namespace?: string) => {
      const review = await authorization.createSubjectAccessReview({
        body: {
          spec: {
            user: 'system:serviceaccount:edot-ta-system:edot-ta-webhook',
            groups: ['system:serviceaccounts', 'system:serviceaccounts:edot-ta-system', 'system:authenticated'],
            resourceAttributes: { verb, group, resource, name, namespace },
          },
        },
      });
      return review.status?.allowed === true;
    };
    expect(await can('get', '', 'secrets', 'edot-ta-webhook-tls', 'edot-ta-system')).toBe(true);
    expect(await can('update', '', 'secrets', 'edot-ta-webhook-tls', 'edot-ta-system')).toBe(true);
    expect(await can('create', '', 'secrets', undefined, 'edot-ta-system')).toBe(true);
    expect(await can('patch', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'edot-ta')).toBe(true);
    // Least privilege: not other Secrets, not other webhook configurations, not other namespaces.
    expect(await can('get', '', 'secrets', 'some-other-secret', 'edot-ta-system')).toBe(false);
    expect(await can('get', '', 'secrets', 'edot-ta-webhook-tls', 'default')).toBe(false);
    expect(await can('patch', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'istio-sidecar-injector')).toBe(false);
  });
});
