// `edot-ta doctor`: reads the cluster and reports what stands between the user and working
// target allocation (webhook config, opt-in labels, injected pods, live members, CRDs, RBAC),
// the OpenTelemetryCollector CRs (doctor-collectors.ts) and the monitors each collector group
// selects or misses (doctor-monitors.ts).
import * as k8s from '@kubernetes/client-node';
import { findCollectorContainer } from '../webhook/pod/collector-detect.js';
import { defaultInjectSettings } from '../webhook/settings.js';
import { parseFlags, UsageError } from '../common/args.js';
import { diagnose, formatFindings, groupOfLease, groupOfPod, serviceAccountOf, sidecarEnvValue, sidecarOf, type AccessCheck, type ClusterSnapshot } from './doctor-checks.js';
import { diagnoseMonitors, monitorNamespacesByGroup, type MonitorSnapshot } from './doctor-monitors.js';
import { diagnoseMembers } from './doctor-members.js';
import { podAnnotation } from '../sidecar/sharding/lease-record.js';
import { diagnoseCollectors, type CollectorCRLike, type CollectorSnapshot, type WorkloadKind } from './doctor-collectors.js';
import { parsePrometheusCREnv } from '../contract/prometheus-cr.js';
import { sidecarEnv } from '../contract/sidecar.js';
import type { PodMonitor, ProbeCR, ScrapeConfigCR, ServiceMonitor } from '../sidecar/discovery/monitor-types.js';

const help = `Usage: edot-ta doctor [flags]

Checks a cluster for common edot-ta problems. Exit code 1 when a check fails.

Flags:
  --kubeconfig FILE         kubeconfig (default: $KUBECONFIG, then in-cluster)
  --webhook-config NAME     MutatingWebhookConfiguration name (default: edot-ta)
  --namespace NS            only the collectors, CRs and member Leases of namespace NS
  --collector POD|GROUP     only this collector pod's group (or the group NAMESPACE/GROUP,
                            as the sidecars' EDOT_TA_GROUP names it) and its CR
  --output text|json        output format (default: text)`;

export async function run(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, {
      kubeconfig: { type: 'string' },
      'webhook-config': { type: 'string', default: 'edot-ta' },
      namespace: { type: 'string' },
      collector: { type: 'string' },
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
  let snapshot = await gather(kc, flags['webhook-config'] ?? 'edot-ta', flags.namespace);
  if (flags.collector !== undefined) {
    const narrowed = narrowToCollector(snapshot, flags.collector);
    if (!narrowed) return console.error(`edot-ta doctor: --collector ${flags.collector}: no collector pod or member Lease of that name or group${flags.namespace ? ` in ${flags.namespace}` : ''}`), 2;
    snapshot = narrowed;
  }
  const monitors = await gatherMonitors(kc, snapshot);
  snapshot.access.push(...(await namespaceAccess(kc, snapshot, monitors)));
  const findings = [
    ...diagnose(snapshot),
    ...diagnoseMembers(snapshot),
    ...diagnoseCollectors(await gatherCollectors(kc, snapshot)),
    ...diagnoseMonitors(monitors),
  ];
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
    probes: await crdExists('probes.monitoring.coreos.com'),
    scrapeconfigs: await crdExists('scrapeconfigs.monitoring.coreos.com'),
  };

  const serviceAccounts = new Set(
    collectorPods
      .filter((p) => p.metadata?.annotations?.['edot-ta.io/status'])
      .map(serviceAccountOf),
  );
  const access: AccessCheck[] = [];
  for (const sa of serviceAccounts) {
    const [namespace = ''] = sa.split('/');
    access.push(
      ...(await accessReviews(kc, sa, [
        { verb: 'watch', resource: '/pods' },
        { verb: 'watch', resource: '/nodes' },
        { verb: 'watch', resource: '/endpoints' },
        { verb: 'watch', resource: 'discovery.k8s.io/endpointslices' },
        { verb: 'watch', resource: 'monitoring.coreos.com/podmonitors' },
        { verb: 'update', resource: 'coordination.k8s.io/leases', namespace },
        { verb: 'create', resource: '/events', namespace },
      ])),
    );
  }
  // Best effort: a user who may not read the webhook's namespace still gets every other finding.
  access.push(...(await webhookAccess(kc, webhookConfig).catch((err: unknown) => {
    if ((err as { code?: number }).code === 403) return [];
    throw err;
  })));
  // Node names, for which member covers the nodes without a collector (pod scope node).
  const nodes = await core.listNode().then((list) => list.items.map((node) => node.metadata?.name ?? ''), (err: unknown) => {
    if ((err as { code?: number }).code === 403) return undefined;
    throw err;
  });
  return { webhookConfigName, webhookConfig, webhookServiceReadyAddresses, optedInNamespaces, collectorPods, leases, crds, access, nodes, nowMs: Date.now(), ...(onlyNamespace ? { onlyNamespace } : {}) };
}

/**
 * `--collector`: the snapshot of one group, named by a collector pod, `namespace/group` or the
 * group alone (the workload's name); undefined when nothing matches.
 */
export function narrowToCollector(snapshot: ClusterSnapshot, wanted: string): ClusterSnapshot | undefined {
  const names = (group: string) => group === wanted || group.endsWith(`/${wanted}`);
  const groups = new Set<string>();
  for (const pod of snapshot.collectorPods) {
    const group = groupOfPod(pod);
    if (group && (names(group) || pod.metadata?.name === wanted)) groups.add(group);
  }
  for (const lease of snapshot.leases) {
    if (names(groupOfLease(lease)) || lease.metadata?.annotations?.[podAnnotation] === wanted) groups.add(groupOfLease(lease));
  }
  const pods = snapshot.collectorPods.filter((pod) => pod.metadata?.name === wanted || groups.has(groupOfPod(pod) ?? ''));
  if (groups.size === 0 && pods.length === 0) return undefined;
  const podGroups = new Set(pods.map(groupOfPod).filter((g): g is string => g !== undefined));
  return {
    ...snapshot,
    collectorPods: pods,
    leases: snapshot.leases.filter((lease) => groups.has(groupOfLease(lease))),
    access: snapshot.access.filter((a) => a.who === 'webhook' || pods.some((pod) => a.serviceAccount === serviceAccountOf(pod))),
    onlyGroups: [...new Set([...groups, ...podGroups])],
  };
}

/** What the webhook's ServiceAccount (from the pods behind its Service) may do, by its own flags. */
async function webhookAccess(kc: k8s.KubeConfig, webhookConfig: k8s.V1MutatingWebhookConfiguration | undefined): Promise<AccessCheck[]> {
  const service = webhookConfig?.webhooks?.[0]?.clientConfig.service;
  if (!service) return [];
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const selector = (await core.readNamespacedService({ name: service.name, namespace: service.namespace }).catch(notFoundAs(undefined)))?.spec?.selector;
  if (!selector) return [];
  const pods = (await core.listNamespacedPod({ namespace: service.namespace, labelSelector: Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',') })).items;
  const pod = pods.find((p) => p.spec?.containers.some((c) => c.args?.includes('webhook') || c.command?.includes('webhook')));
  if (!pod) return [];
  const args = pod.spec?.containers.flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]) ?? [];
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
  const serviceAccount = `${service.namespace}/${pod.spec?.serviceAccountName ?? 'default'}`;
  const wanted: Array<Omit<AccessCheck, 'allowed' | 'serviceAccount'>> = [];
  const [secretNamespace, secretName] = (value('bootstrap-secret') ?? '').split('/');
  if (secretNamespace && secretName) {
    for (const verb of ['get', 'update']) wanted.push({ who: 'webhook', verb, resource: '/secrets', resourceName: secretName, namespace: secretNamespace });
    const config = value('webhook-config');
    if (config) for (const verb of ['get', 'patch']) wanted.push({ who: 'webhook', verb, resource: 'admissionregistration.k8s.io/mutatingwebhookconfigurations', resourceName: config });
  }
  return accessReviews(kc, serviceAccount, wanted);
}

/**
 * Where the sidecars may not watch cluster-wide: the namespaces their group's monitors discover
 * in, one by one (Roles bound per namespace are enough there).
 */
async function namespaceAccess(kc: k8s.KubeConfig, snapshot: ClusterSnapshot, monitors: MonitorSnapshot): Promise<AccessCheck[]> {
  const checks: AccessCheck[] = [];
  const byGroup = monitorNamespacesByGroup(monitors);
  const discovery = ['/pods', '/services', '/endpoints', 'discovery.k8s.io/endpointslices'];
  for (const pod of snapshot.collectorPods) {
    const group = groupOfPod(pod);
    const serviceAccount = serviceAccountOf(pod);
    const denied = snapshot.access.filter((a) => a.serviceAccount === serviceAccount && !a.allowed && a.namespace === undefined && discovery.includes(a.resource));
    const namespaces = group ? byGroup.get(group) : undefined;
    if (denied.length === 0 || !namespaces || checks.some((c) => c.serviceAccount === serviceAccount)) continue;
    const wanted = [...namespaces].flatMap((namespace) => discovery.map((resource) => ({ verb: 'watch', resource, namespace, covers: `monitors of ${group} discover there` })));
    checks.push(...(await accessReviews(kc, serviceAccount, wanted)));
  }
  return checks;
}

async function accessReviews(kc: k8s.KubeConfig, serviceAccount: string, wanted: Array<Omit<AccessCheck, 'allowed' | 'serviceAccount'>>): Promise<AccessCheck[]> {
  const authorization = kc.makeApiClient(k8s.AuthorizationV1Api);
  const [namespace = '', name = ''] = serviceAccount.split('/');
  const checks: AccessCheck[] = [];
  for (const want of wanted) {
    const [group = '', resource = ''] = want.resource.split('/');
    const review = await authorization.createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${namespace}:${name}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
          resourceAttributes: { verb: want.verb, group, resource, namespace: want.namespace, ...(want.resourceName ? { name: want.resourceName } : {}) },
        },
      },
    });
    checks.push({ ...want, serviceAccount, allowed: review.status?.allowed === true });
  }
  return checks;
}

/** Every OpenTelemetryCollector (as the API serves v1beta1, else v1alpha1) and the workloads of their namespaces. */
export async function gatherCollectors(kc: k8s.KubeConfig, snapshot: ClusterSnapshot): Promise<CollectorSnapshot> {
  const workloads: CollectorSnapshot['workloads'] = new Map();
  if (!snapshot.crds.opentelemetrycollectors) return { crs: [], workloads };
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (version: string) => retrying(() => custom.listClusterCustomObject({ group: 'opentelemetry.io', version, plural: 'opentelemetrycollectors' })) as Promise<{ items?: CollectorCRLike[] }>;
  const crs = (((await list('v1beta1').catch(notFoundAs(undefined))) ?? (await list('v1alpha1'))).items ?? [])
    .filter((cr) => !snapshot.onlyNamespace || cr.metadata?.namespace === snapshot.onlyNamespace)
    // --collector: the CR whose rendered workload (<name>-collector) is the group.
    .filter((cr) => !snapshot.onlyGroups || snapshot.onlyGroups.includes(`${cr.metadata?.namespace}/${cr.metadata?.name}-collector`));
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  for (const namespace of new Set(crs.map((cr) => cr.metadata?.namespace ?? ''))) {
    const add = (kind: WorkloadKind, items: Array<{ metadata?: k8s.V1ObjectMeta }>) => {
      for (const { metadata } of items) {
        const controller = metadata?.ownerReferences?.find((ref) => ref.controller);
        const managedBy = metadata?.labels?.['app.kubernetes.io/managed-by'];
        workloads.set(`${namespace}/${metadata?.name ?? ''}`, { kind, ...(controller ? { controller: { kind: controller.kind, name: controller.name, uid: controller.uid } } : {}), ...(managedBy ? { managedBy } : {}) });
      }
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
    if (!sidecarOf(pod)) continue;
    const group = groupOfPod(pod) ?? `${pod.metadata?.namespace ?? ''}/?`;
    if (selections.has(group)) continue;
    try {
      selections.set(group, { group, settings: parsePrometheusCREnv(sidecarEnvValue(pod, sidecarEnv.prometheusCR)) });
    } catch {
      // an invalid selection never reaches a pod (the webhook checks it): nothing to diagnose
    }
  }
  const crds = { podmonitors: snapshot.crds.podmonitors, servicemonitors: snapshot.crds.servicemonitors, probes: snapshot.crds.probes ?? false, scrapeconfigs: snapshot.crds.scrapeconfigs ?? false };
  const empty: MonitorSnapshot = { selections: [...selections.values()], podMonitors: [], serviceMonitors: [], namespaces: [], pods: [], services: [], crds };
  if (![...selections.values()].some((s) => s.settings.enabled !== false)) return empty;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const monitors = async (plural: string, served: boolean, version = 'v1') =>
    served ? (((await retrying(() => custom.listClusterCustomObject({ group: 'monitoring.coreos.com', version, plural }))) as { items?: unknown[] }).items ?? []) : [];
  return {
    ...empty,
    podMonitors: (await monitors('podmonitors', crds.podmonitors)) as PodMonitor[],
    serviceMonitors: (await monitors('servicemonitors', crds.servicemonitors)) as ServiceMonitor[],
    probes: (await monitors('probes', crds.probes)) as ProbeCR[],
    scrapeConfigs: (await monitors('scrapeconfigs', crds.scrapeconfigs, 'v1alpha1')) as ScrapeConfigCR[],
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
