// `edot-ta doctor`, the OpenTelemetryCollector checks: the two errors this project exists for.
// "mode is set to deployment, which does not support modification": a CR created without mode
// runs as a Deployment, and its mode cannot change afterwards — doctor shows each CR's mode
// (and whether the operator defaulted it) and a CR whose running workload disagrees with it,
// with the recreate command. "no prometheus available as part of the configuration": the
// Target Allocator left on without a prometheus receiver in a metrics pipeline. Pure: doctor.ts
// gathers the CRs and the workloads of their namespaces.
import { parse } from 'yaml';
import { annotations, isPrometheusReceiverId } from '../contract/names.js';
import type { Finding } from './doctor-checks.js';

export interface CollectorCRLike {
  apiVersion?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; annotations?: Record<string, string> };
  spec?: { mode?: string; config?: unknown; targetAllocator?: { enabled?: boolean } };
}

export type WorkloadKind = 'DaemonSet' | 'Deployment' | 'StatefulSet';

/** A DaemonSet, Deployment or StatefulSet: its kind, its controller (ownerReference) and who manages it. */
export interface Workload {
  kind: WorkloadKind;
  controller?: { kind: string; name: string; uid: string };
  /** Label app.kubernetes.io/managed-by (the operator sets opentelemetry-operator). */
  managedBy?: string;
}

export interface CollectorSnapshot {
  crs: CollectorCRLike[];
  /** `namespace/name` → the workloads in the CRs' namespaces. */
  workloads: Map<string, Workload>;
}

const workloadKind: Record<string, WorkloadKind> = { daemonset: 'DaemonSet', deployment: 'Deployment', statefulset: 'StatefulSet' };

/** The prometheus receivers used by a metrics pipeline, or undefined when the config cannot be read. */
export function metricsPrometheusReceivers(config: unknown): string[] | undefined {
  let doc: unknown = config;
  if (typeof config === 'string') {
    try {
      doc = parse(config);
    } catch {
      return undefined;
    }
  }
  if (doc === undefined || doc === null) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const pipelines = (doc as { service?: { pipelines?: Record<string, { receivers?: unknown }> } }).service?.pipelines ?? {};
  const ids = Object.entries(pipelines)
    .filter(([name]) => name === 'metrics' || name.startsWith('metrics/'))
    .flatMap(([, pipeline]) => (Array.isArray(pipeline?.receivers) ? pipeline.receivers.filter((r): r is string => typeof r === 'string') : []));
  return [...new Set(ids.filter(isPrometheusReceiverId))];
}

export function diagnoseCollectors({ crs, workloads }: CollectorSnapshot): Finding[] {
  const findings: Finding[] = [];
  for (const cr of crs) {
    const name = cr.metadata?.name ?? '';
    const namespace = cr.metadata?.namespace ?? '';
    const id = `OpenTelemetryCollector ${namespace}/${name}`;
    const mode = cr.spec?.mode || 'deployment';
    const defaulted = !cr.spec?.mode;
    const expected = workloadKind[mode];
    const workload = workloads.get(`${namespace}/${name}-collector`);
    const running = workload?.kind;
    const owner = workload?.controller;
    if (workload && ((owner && (owner.kind !== 'OpenTelemetryCollector' || owner.name !== name || (cr.metadata?.uid && owner.uid !== cr.metadata.uid))) || (!owner && workload.managedBy !== 'opentelemetry-operator'))) {
      // Two things render the same collector: the operator cannot own (or update) it for this CR.
      findings.push({
        level: 'fail',
        check: 'collectors',
        message: `${id} renders the ${workload.kind} ${namespace}/${name}-collector, but ${owner ? `${owner.kind} ${owner.name}${owner.kind === 'OpenTelemetryCollector' && owner.name === name ? ' (an earlier CR of that name)' : ''} controls it` : `it was not created by the operator (managed-by: ${workload.managedBy ?? 'none'})`}: two sources render one collector`,
        hint: `keep one: delete the other source (a Helm release's DaemonSet, or the other CR), then kubectl delete ${workload.kind.toLowerCase()} ${name}-collector -n ${namespace} so the operator recreates it`,
      });
    }
    const recreate = `kubectl delete opentelemetrycollector ${name} -n ${namespace} && kubectl apply -f <its manifest with spec.mode: ${mode === 'deployment' ? 'daemonset' : mode}> (a short gap in collection)`;
    if (running && expected && running !== expected) {
      findings.push({
        level: 'fail',
        check: 'collectors',
        message: `${id} asks for mode ${mode}, but its collector runs as a ${running}: the mode cannot change after creation ("mode is set to ${running.toLowerCase()}, which does not support modification")`,
        hint: `recreate it: kubectl delete opentelemetrycollector ${name} -n ${namespace} && kubectl apply -f <its manifest> (a short gap in collection)`,
      });
    } else {
      findings.push({
        level: defaulted ? 'warn' : 'ok',
        check: 'collectors',
        message: `${id}: mode ${mode}${defaulted ? ' (not set: the operator defaulted it, and it cannot change later)' : ''}${running ? `, running as a ${running}` : ''}`,
        ...(defaulted ? { hint: `set spec.mode explicitly; to run it as a DaemonSet: ${recreate}` } : {}),
      });
    }
    const receivers = metricsPrometheusReceivers(cr.spec?.config);
    const taOn = cr.spec?.targetAllocator?.enabled === true;
    if (taOn && receivers !== undefined && receivers.length === 0) {
      findings.push({
        level: 'fail',
        check: 'collectors',
        message: `${id}: the Target Allocator is enabled but no metrics pipeline has a prometheus receiver (the operator: "no prometheus available as part of the configuration")`,
        hint: 'add a prometheus receiver (config.scrape_configs: []) to a metrics pipeline, or let the edot-ta webhook fix the CR on its next update',
      });
    } else if (taOn) {
      findings.push({
        level: 'warn',
        check: 'collectors',
        message: `${id}: the central Target Allocator is still enabled — the edot-ta webhook turns it off when it reviews the CR, so this CR was written without it`,
        hint: 'check the webhook configuration\'s CR rule and re-apply the CR (kubectl apply) so the webhook reviews it',
      });
    }
    // What the webhook did to the CR when it admitted it (its status annotation).
    const status = reviewStatus(cr.metadata?.annotations?.[annotations.status]);
    if (status && status.changes.length > 0) findings.push({ level: 'ok', check: 'collectors', message: `${id}: the edot-ta webhook changed it on admission: ${status.changes.join('; ')}` });
    for (const warning of status?.warnings ?? []) {
      findings.push({ level: 'warn', check: 'collectors', message: `${id}: the edot-ta webhook warned on admission: ${warning.replace(/^edot-ta: /, '')}`, hint: 'the same warning was shown by kubectl apply; fix the CR and apply it again' });
    }
    if (cr.metadata?.annotations?.[annotations.noPrometheusReceiver] === 'true') {
      findings.push({
        level: 'warn',
        check: 'collectors',
        message: `${id}: no prometheus receiver in a metrics pipeline, so edot-ta does not inject its pods (${annotations.inject}: "false")`,
        hint: 'add a prometheus receiver to a metrics pipeline; the next rollout is injected',
      });
    }
  }
  return findings;
}

/** The webhook's status annotation on a CR (JSON: version, changes, warnings); undefined when absent or unreadable. */
function reviewStatus(text: string | undefined): { changes: string[]; warnings: string[] } | undefined {
  if (!text) return undefined;
  try {
    const doc = JSON.parse(text) as { changes?: unknown; warnings?: unknown };
    const strings = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
    return { changes: strings(doc.changes), warnings: strings(doc.warnings) };
  } catch {
    return undefined;
  }
}
