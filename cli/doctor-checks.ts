// The decisions of `edot-ta doctor`: a pure function from a snapshot of the cluster to a list
// of findings. Gathering the snapshot (API calls) lives in doctor.ts.
import type { V1Container, V1Lease, V1MutatingWebhookConfiguration, V1Pod } from '@kubernetes/client-node';
import { groupAnnotation, groupLabel, viewAnnotation } from '../sidecar/sharding/lease-record.js';
import { sidecarContainerName } from '../contract/names.js';
import { sidecarEnv } from '../contract/sidecar.js';

export type FindingLevel = 'ok' | 'warn' | 'fail';

export interface Finding {
  level: FindingLevel;
  check: string;
  message: string;
  hint?: string;
}

export interface AccessCheck {
  /** Whose access: the collectors' sidecars (default) or the webhook. */
  who?: 'sidecar' | 'webhook';
  serviceAccount: string; // namespace/name
  verb: string;
  resource: string; // group/resource, "" group for core
  resourceName?: string;
  namespace?: string;
  /** Why this namespace is checked (for per-namespace checks). */
  covers?: string;
  allowed: boolean;
}

export interface ClusterSnapshot {
  webhookConfigName: string;
  webhookConfig: V1MutatingWebhookConfiguration | undefined;
  /** Ready addresses behind the webhook Service; undefined when the config uses a URL. */
  webhookServiceReadyAddresses: number | undefined;
  optedInNamespaces: string[];
  /** Pods in opted-in namespaces that look like collectors (by image/labels/container name). */
  collectorPods: V1Pod[];
  leases: V1Lease[];
  crds: Record<'podmonitors' | 'servicemonitors' | 'opentelemetrycollectors', boolean> & { probes?: boolean; scrapeconfigs?: boolean };
  access: AccessCheck[];
  /** Every node's name; absent when doctor may not list nodes. */
  nodes?: string[] | undefined;
  nowMs: number;
  /** `--collector`: the groups kept (namespace/group). */
  onlyGroups?: string[];
  /** `--namespace`: only this namespace's collectors, CRs and Leases were read. */
  onlyNamespace?: string;
}

const statusAnnotation = 'edot-ta.io/status';

export function diagnose(snapshot: ClusterSnapshot): Finding[] {
  return [
    ...checkWebhookConfig(snapshot),
    ...checkNamespaces(snapshot),
    ...checkCollectorPods(snapshot),
    ...checkLeases(snapshot),
    ...checkCrds(snapshot),
    ...checkAccess(snapshot),
  ];
}

function checkWebhookConfig({ webhookConfig, webhookConfigName, webhookServiceReadyAddresses }: ClusterSnapshot): Finding[] {
  const check = 'webhook';
  if (!webhookConfig) {
    return [{ level: 'fail', check, message: `MutatingWebhookConfiguration "${webhookConfigName}" not found`, hint: 'kubectl apply -k manifests/overlays/kube-stack' }];
  }
  const findings: Finding[] = [];
  const hooks = webhookConfig.webhooks ?? [];
  if (hooks.length === 0) findings.push({ level: 'fail', check, message: `${webhookConfigName} has no webhooks` });
  for (const hook of hooks) {
    const where = `${webhookConfigName}/${hook.name}`;
    if (!hook.clientConfig.caBundle) {
      findings.push({ level: 'fail', check, message: `${where} has no caBundle: the API server cannot trust the webhook`, hint: 'the webhook patches it at startup; check its logs, or run `edot-ta certs --secret ... --webhook-config ...`' });
    }
    if (hook.failurePolicy !== 'Ignore') {
      findings.push({ level: 'warn', check, message: `${where} has failurePolicy ${hook.failurePolicy ?? 'Fail'}: a webhook outage blocks pod creation`, hint: 'set failurePolicy: Ignore' });
    }
    const selector = hook.namespaceSelector?.matchLabels?.['edot-ta.io/inject'];
    if (selector !== 'enabled') {
      findings.push({ level: 'warn', check, message: `${where} does not select namespaces by edot-ta.io/inject=enabled`, hint: 'without it every namespace is intercepted' });
    }
  }
  if (webhookServiceReadyAddresses === 0) {
    findings.push({ level: 'fail', check, message: 'the webhook Service has no ready endpoints: pods are created without injection', hint: 'kubectl -n edot-ta-system get pods,endpoints' });
  }
  if (findings.length === 0) findings.push({ level: 'ok', check, message: `${webhookConfigName}: ${hooks.length} webhook(s), caBundle set, failurePolicy Ignore` });
  return findings;
}

function checkNamespaces({ optedInNamespaces }: ClusterSnapshot): Finding[] {
  if (optedInNamespaces.length === 0) {
    return [{ level: 'warn', check: 'namespaces', message: 'no namespace has the label edot-ta.io/inject=enabled', hint: 'kubectl label namespace <collector namespace> edot-ta.io/inject=enabled' }];
  }
  return [{ level: 'ok', check: 'namespaces', message: `opted in: ${optedInNamespaces.join(', ')}` }];
}

function checkCollectorPods({ collectorPods }: ClusterSnapshot): Finding[] {
  const findings: Finding[] = [];
  let injected = 0;
  for (const pod of collectorPods) {
    const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const annotations = pod.metadata?.annotations ?? {};
    if (annotations['edot-ta.io/inject'] === 'false') continue;
    const status = annotations[statusAnnotation];
    if (!status) {
      findings.push({ level: 'warn', check: 'pods', message: `collector pod ${name} was not injected`, hint: 'it was probably created before the namespace was labelled or while the webhook was down: kubectl rollout restart the DaemonSet' });
      continue;
    }
    injected++;
    const sidecar = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((c) => c.name === 'edot-ta');
    if (sidecar && !sidecar.ready && pod.status?.phase === 'Running') {
      findings.push({ level: 'warn', check: 'pods', message: `sidecar of ${name} is not ready (restarts: ${sidecar.restartCount})`, hint: `kubectl logs ${pod.metadata?.name} -n ${pod.metadata?.namespace} -c edot-ta` });
    }
  }
  if (injected > 0 && findings.length === 0) {
    findings.push({ level: 'ok', check: 'pods', message: `${injected} collector pod(s) injected` });
  }
  return findings;
}

/** The edot-ta sidecar container the webhook injected into a pod (a container or a native-sidecar init container). */
export function sidecarOf(pod: V1Pod): V1Container | undefined {
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === sidecarContainerName);
}

/** The value of one of the sidecar's env variables (EDOT_TA_GROUP, EDOT_TA_PROMETHEUS_CR, …). */
export function sidecarEnvValue(pod: V1Pod, name: string): string | undefined {
  return sidecarOf(pod)?.env?.find((e) => e.name === name)?.value;
}

/** `namespace/group` of an injected collector pod (its sidecar's EDOT_TA_GROUP); undefined when not injected. */
export function groupOfPod(pod: V1Pod): string | undefined {
  const group = sidecarEnvValue(pod, sidecarEnv.group);
  return group === undefined ? undefined : `${pod.metadata?.namespace ?? ''}/${group}`;
}

/** `namespace/name` of the pod's ServiceAccount. */
export function serviceAccountOf(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.spec?.serviceAccountName ?? 'default'}`;
}

/** `namespace/group` of a member Lease: the exact group (annotation), else its label value. */
export function groupOfLease(lease: V1Lease): string {
  return `${lease.metadata?.namespace}/${lease.metadata?.annotations?.[groupAnnotation] ?? lease.metadata?.labels?.[groupLabel] ?? '?'}`;
}

/**
 * Renewed within twice its duration. A one-shot diagnostic may compare wall clocks (with the
 * full duration as margin); the sidecars themselves never do.
 */
export function isLive(lease: V1Lease, nowMs: number): boolean {
  const renewMs = Date.parse(String(lease.spec?.renewTime ?? ''));
  const durationMs = (lease.spec?.leaseDurationSeconds ?? 40) * 1000;
  return Number.isFinite(renewMs) && nowMs - renewMs <= 2 * durationMs;
}

function checkLeases({ leases, nowMs }: ClusterSnapshot): Finding[] {
  const groups = new Map<string, { fresh: number; stale: string[]; views: Map<string, string[]> }>();
  for (const lease of leases) {
    const group = groupOfLease(lease);
    const entry = groups.get(group) ?? { fresh: 0, stale: [], views: new Map<string, string[]>() };
    if (isLive(lease, nowMs)) {
      entry.fresh++;
      // The membership view each live member acts on (its hash, announced on its Lease).
      const view = lease.metadata?.annotations?.[viewAnnotation];
      if (view) entry.views.set(view, [...(entry.views.get(view) ?? []), lease.metadata?.name ?? '?']);
    } else entry.stale.push(lease.metadata?.name ?? '?');
    groups.set(group, entry);
  }
  const findings: Finding[] = [];
  for (const [group, { fresh, stale, views }] of groups) {
    findings.push(
      stale.length === 0
        ? { level: 'ok', check: 'membership', message: `group ${group}: ${fresh} live member(s)${views.size === 1 ? ', all acting on one view' : ''}` }
        : { level: 'warn', check: 'membership', message: `group ${group}: ${fresh} live, stale leases: ${stale.join(', ')}`, hint: 'stale leases of deleted pods are swept by the sidecars; if they persist, check the sidecars\' RBAC for leases' },
    );
    if (views.size > 1) {
      // Normal for a few seconds after a join or leave; lasting, it means members see different Leases.
      const split = [...views.entries()].map(([view, names]) => `${view}: ${names.join(', ')}`).join('; ');
      findings.push({ level: 'warn', check: 'membership', message: `group ${group}: members act on ${views.size} different views (${split})`, hint: 'fine for a few seconds after a member joins or leaves; if it lasts, the members do not see the same Leases — check their API access (edot_ta_api_healthy) and /debug/assignment' });
    }
  }
  return findings;
}

function checkCrds({ crds }: ClusterSnapshot): Finding[] {
  const missing = (['podmonitors', 'servicemonitors'] as const).filter((name) => !crds[name]);
  if (missing.length === 0) return [{ level: 'ok', check: 'crds', message: 'PodMonitor and ServiceMonitor CRDs installed' }];
  return [{ level: 'warn', check: 'crds', message: `CRDs not installed: ${missing.join(', ')}: the sidecars serve the collectors' own scrape_configs and look for the CRDs every 30 s`, hint: 'install the prometheus-operator CRDs to use monitors; sidecars pick them up without a restart' }];
}

function checkAccess({ access }: ClusterSnapshot): Finding[] {
  if (access.length === 0) return [];
  // Denied cluster-wide, yet allowed in every namespace the monitors discover in (Roles): enough.
  const coveredByRoles = (a: AccessCheck) => {
    const perNamespace = access.filter((b) => b.covers !== undefined && b.serviceAccount === a.serviceAccount && b.verb === a.verb && b.resource === a.resource);
    return a.namespace === undefined && perNamespace.length > 0 && perNamespace.every((b) => b.allowed);
  };
  const denied = access.filter((a) => !a.allowed && !coveredByRoles(a));
  const findings: Finding[] = [];
  for (const who of ['sidecar', 'webhook'] as const) {
    const mine = access.filter((a) => (a.who ?? 'sidecar') === who);
    if (mine.length > 0 && !denied.some((a) => (a.who ?? 'sidecar') === who)) findings.push({ level: 'ok', check: 'rbac', message: `${who} service accounts have the access they need (${mine.length} checks)` });
  }
  for (const a of denied) {
    const what = `${a.resource}${a.resourceName ? ` ${a.resourceName}` : ''}`;
    findings.push({
      level: 'fail',
      check: 'rbac',
      message: `${a.serviceAccount} cannot ${a.verb} ${what}${a.namespace ? ` in ${a.namespace}` : ' cluster-wide'}${a.covers ? ` (${a.covers})` : ''}`,
      hint: a.who === 'webhook'
        ? 'apply the Role and ClusterRole of manifests/base/webhook.yaml (their resourceNames must match --bootstrap-secret and --webhook-config)'
        : 'bind the roles in manifests/overlays/kube-stack/sidecar-rbac.yaml to the collector\'s ServiceAccount',
    });
  }
  return findings;
}

/** A short summary first (counts), then every finding, failures first, each with its fix. */
export function formatFindings(findings: Finding[]): string {
  const mark: Record<FindingLevel, string> = { ok: 'OK  ', warn: 'WARN', fail: 'FAIL' };
  const order: Record<FindingLevel, number> = { fail: 0, warn: 1, ok: 2 };
  const count = (level: FindingLevel) => findings.filter((f) => f.level === level).length;
  const summary = `edot-ta doctor: ${count('fail')} failing, ${count('warn')} to look at, ${count('ok')} fine`;
  const lines = [...findings]
    .sort((a, b) => order[a.level] - order[b.level])
    .map((f) => `${mark[f.level]} [${f.check}] ${f.message}${f.hint ? `\n       → ${f.hint}` : ''}`);
  return [summary, '', ...lines].join('\n');
}
