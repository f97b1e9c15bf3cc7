// `edot-ta doctor`: reads the cluster and reports what stands between the user and working
// target allocation (webhook config, opt-in labels, injected pods, live members, CRDs, RBAC),
// the OpenTelemetryCollector CRs (doctor-collectors.ts) and the monitors each collector group
// selects or misses (doctor-monitors.ts).
import * as k8s from '@kubernetes/client-node';
import { findCollectorContainer } from '../webhook/pod/collector-detect.js';
import { defaultInjectSettings } from '../webhook/settings.js';
import { parseFlags, UsageError } from '../common/args.js';
import { diagnose, formatFindings, type AccessCheck, type ClusterSnapshot } from './doctor-checks.js';
import { diagnoseMonitors, type MonitorSnapshot } from './doctor-monitors.js';
import { diagnoseCollectors, type CollectorCRLike, type CollectorSnapshot } from './doctor-collectors.js';
import { parsePrometheusCREnv } from '../contract/prometheus-cr.js';
import { sidecarContainerName } from '../contract/names.js';
import { sidecarEnv } from '../contract/sidecar.js';
import type { PodMonitor, ServiceMonitor } from '../sidecar/discovery/monitor-types.js';

const help = `Usage: edot-ta doctor [flags]

Checks a cluster for common edot-ta problems. Exit code 1 when a check fails.

Flags:
  --kubeconfig FILE         kubeconfig (default: $KUBECONFIG, then in-cluster)
  --webhook-config NAME     MutatingWebhookConfiguration name (default: edot-ta)
  --namespace NS            only the collectors, CRs and member Leases of namespace NS
  --output text|json        output format (default: text)`;

export async function run(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, {
      kubeconfig: { type: 'string' },
      'webhook-config': { type: 'string', default: 'edot-ta' },
      namespace: { type: 'string' },
      output: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    }).values;
  } catch (err) {
    if (err instanceof UsageError) return console.error(`edot-ta doctor: ${err.message}\n\n${help}`), 2;
    throw err;
  }
  if (flags.help) return console.log(help), 0;
  const kc = new k8s.KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  const snapshot = await gather(kc, flags['webhook-config'] ?? 'edot-ta', flags.namespace);
  const findings = [...diagnose(snapshot), ...diagnoseCollectors(await gatherCollectors(kc, snapshot)), ...diagnoseMonitors(await gatherMonitors(kc, snapshot))];
  console.log(flags.output === 'json' ? JSON.stringify(findings, null, 2) : formatFindings(findings));
  return findings.some((f) => f.level === 'fail') ? 1 : 0;
}

// The webhook's own recognition rules (default settings), plus anything it already injected.
function looksLikeCollector(pod: k8s.V1Pod): boolean {
  if (pod.metadata?.annotations?.['edot-ta.io/status']) return true;
  return findCollectorContainer(pod, defaultInjectSettings()).found;
}

export async function gather(kc: k8s.KubeConfig, webhookConfigName: string, onlyNamespace?: string): Promise<ClusterSnapshot> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const apiextensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const authorization = kc.makeApiClient(k8s.AuthorizationV1Api);

  const webhookConfig = await admission
    .readMutatingWebhookConfiguration({ name: webhookConfigName })
    .catch(notFoundAs(undefined));
  const service = webhookConfig?.webhooks?.[0]?.clientConfig.service;
  const webhookServiceReadyAddresses = service
    ? await core
        .readNamespacedEndpoints({ name: service.name, namespace: service.namespace })
        .then((ep) => (ep.subsets ?? []).reduce((n, s) => n + (s.addresses?.length ?? 0), 0))
        .catch(notFoundAs(0))
    : undefined;

  const namespaces = await core.listNamespace({ labelSelector: 'edot-ta.io/inject=enabled' });
  const optedInNamespaces = namespaces.items.map((ns) => ns.metadata?.name ?? '').filter((name) => name !== '' && (!onlyNamespace || name === onlyNamespace));
  const collectorPods: k8s.V1Pod[] = [];
  for (const namespace of optedInNamespaces) {
    const pods = await core.listNamespacedPod({ namespace });
    collectorPods.push(...pods.items.filter(looksLikeCollector));
  }
  const leases = onlyNamespace
    ? (await coordination.listNamespacedLease({ namespace: onlyNamespace, labelSelector: 'edot-ta.io/group' })).items
    : (await coordination.listLeaseForAllNamespaces({ labelSelector: 'edot-ta.io/group' })).items;

  const crdExists = (name: string) =>
    apiextensions.readCustomResourceDefinition({ name }).then(() => true, notFoundAs(false));
  const crds = {
    podmonitors: await crdExists('podmonitors.monitoring.coreos.com'),
    servicemonitors: await crdExists('servicemonitors.monitoring.coreos.com'),
    opentelemetrycollectors: await crdExists('opentelemetrycollectors.opentelemetry.io'),
  };

  const serviceAccounts = new Set(
    collectorPods
      .filter((p) => p.metadata?.annotations?.['edot-ta.io/status'])
      .map((p) => `${p.metadata?.namespace}/${p.spec?.serviceAccountName ?? 'default'}`),
  );
  const access: AccessCheck[] = [];
  for (const sa of serviceAccounts) {
    const [namespace = '', name = ''] = sa.split('/');
    const wanted: Array<Omit<AccessCheck, 'allowed' | 'serviceAccount'>> = [
      { verb: 'watch', resource: '/pods' },
      { verb: 'watch', resource: '/nodes' },
      { verb: 'watch', resource: '/endpoints' },
      { verb: 'watch', resource: 'monitoring.coreos.com/podmonitors' },
      { verb: 'update', resource: 'coordination.k8s.io/leases', namespace },
      { verb: 'create', resource: '/events', namespace },
    ];
    for (const want of wanted) {
      const [group = '', resource = ''] = want.resource.split('/');
      const review = await authorization.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${namespace}:${name}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
            resourceAttributes: { verb: want.verb, group, resource, namespace: want.namespace },
          },
        },
      });
      access.push({ ...want, serviceAccount: sa, allowed: review.status?.allowed === true });
    }
  }
  return { webhookConfigName, webhookConfig, webhookServiceReadyAddresses, optedInNamespaces, collectorPods, leases, crds, access, nowMs: Date.now(), ...(onlyNamespace ? { onlyNamespace } : {}) };
}

/** Every OpenTelemetryCollector (as the API serves v1beta1, else v1alpha1) and the workloads of their namespaces. */
export async function gatherCollectors(kc: k8s.KubeConfig, snapshot: ClusterSnapshot): Promise<CollectorSnapshot> {
  const workloads: CollectorSnapshot['workloads'] = new Map();
  if (!snapshot.crds.opentelemetrycollectors) return { crs: [], workloads };
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (version: string) => retrying(() => custom.listClusterCustomObject({ group: 'opentelemetry.io', version, plural: 'opentelemetrycollectors' })) as Promise<{ items?: CollectorCRLike[] }>;
  const crs = (((await list('v1beta1').catch(notFoundAs(undefined))) ?? (await list('v1alpha1'))).items ?? []).filter((cr) => !snapshot.onlyNamespace || cr.metadata?.namespace === snapshot.onlyNamespace);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  for (const namespace of new Set(crs.map((cr) => cr.metadata?.namespace ?? ''))) {
    const add = (kind: 'DaemonSet' | 'Deployment' | 'StatefulSet', items: Array<{ metadata?: { name?: string } }>) => {
      for (const item of items) workloads.set(`${namespace}/${item.metadata?.name ?? ''}`, kind);
    };
    add('DaemonSet', (await apps.listNamespacedDaemonSet({ namespace })).items);
    add('Deployment', (await apps.listNamespacedDeployment({ namespace })).items);
    add('StatefulSet', (await apps.listNamespacedStatefulSet({ namespace })).items);
  }
  return { crs, workloads };
}

/**
 * What the monitor checks read: each injected group's selection (its sidecar's
 * EDOT_TA_PROMETHEUS_CR), every PodMonitor/ServiceMonitor, namespace labels, pods and Services.
 */
export async function gatherMonitors(kc: k8s.KubeConfig, snapshot: ClusterSnapshot): Promise<MonitorSnapshot> {
  const selections = new Map<string, MonitorSnapshot['selections'][number]>();
  for (const pod of snapshot.collectorPods) {
    const sidecar = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === sidecarContainerName);
    const env = (name: string) => sidecar?.env?.find((e) => e.name === name)?.value;
    const group = `${pod.metadata?.namespace ?? ''}/${env(sidecarEnv.group) ?? '?'}`;
    if (!sidecar || selections.has(group)) continue;
    try {
      selections.set(group, { group, settings: parsePrometheusCREnv(env(sidecarEnv.prometheusCR)) });
    } catch {
      // an invalid selection never reaches a pod (the webhook checks it): nothing to diagnose
    }
  }
  const crds = { podmonitors: snapshot.crds.podmonitors, servicemonitors: snapshot.crds.servicemonitors };
  const empty: MonitorSnapshot = { selections: [...selections.values()], podMonitors: [], serviceMonitors: [], namespaces: [], pods: [], services: [], crds };
  if (![...selections.values()].some((s) => s.settings.enabled !== false)) return empty;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const monitors = async (plural: string, served: boolean) =>
    served ? (((await retrying(() => custom.listClusterCustomObject({ group: 'monitoring.coreos.com', version: 'v1', plural }))) as { items?: unknown[] }).items ?? []) : [];
  return {
    ...empty,
    podMonitors: (await monitors('podmonitors', crds.podmonitors)) as PodMonitor[],
    serviceMonitors: (await monitors('servicemonitors', crds.servicemonitors)) as ServiceMonitor[],
    namespaces: (await core.listNamespace()).items.map((ns) => ({ name: ns.metadata?.name ?? '', labels: ns.metadata?.labels ?? {} })),
    pods: (await core.listPodForAllNamespaces()).items,
    services: (await core.listServiceForAllNamespaces()).items,
  };
}

/** A read the API server may answer 429 (e.g. a CRD's storage initializing) or 5xx: a few tries, as its Retry-After says. */
async function retrying<T>(read: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const code = (err as { code?: number }).code ?? 0;
      if (attempt >= attempts || (code !== 429 && code < 500)) throw err;
      const retryAfter = Number((err as { headers?: Record<string, string> }).headers?.['retry-after']);
      await new Promise((resolve) => setTimeout(resolve, (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : attempt) * 1000));
    }
  }
}

function notFoundAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    if ((err as { code?: number }).code === 404) return value;
    throw err;
  };
}
