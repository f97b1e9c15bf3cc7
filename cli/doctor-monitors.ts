// `edot-ta doctor`, the monitor checks: for each collector group's selection in force (what its
// sidecars were given, EDOT_TA_PROMETHEUS_CR), the PodMonitors/ServiceMonitors it does not use
// and why (namespace lists, labels that differ, namespace selector), and for those it uses, the
// classic mistakes: selecting no pod/Service, and an endpoint port name that no container or
// Service port has (the Istio `http-monitoring` vs `http-envoy-prom` case). Pure: the snapshot
// is gathered in doctor.ts.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { LabelSelector, PrometheusCRSettings } from '../contract/prometheus-cr.js';
import { matchesLabelSelector, monitorSelection, selectorFields, selectorMismatch, type MonitorKind } from '../sidecar/discovery/selectors.js';
import type { ProbeCR, ScrapeConfigCR } from '../sidecar/discovery/monitor-types.js';
import type { PodMonitor, ServiceMonitor } from '../sidecar/discovery/monitor-types.js';
import { sdNamespaces } from '../sidecar/discovery/monitors.js';
import type { Finding } from './doctor-checks.js';

export interface MonitorSnapshot {
  /** One entry per collector group: the selection its sidecars run with. */
  selections: Array<{ group: string; settings: PrometheusCRSettings }>;
  podMonitors: PodMonitor[];
  serviceMonitors: ServiceMonitor[];
  probes?: ProbeCR[];
  scrapeConfigs?: ScrapeConfigCR[];
  namespaces: Array<{ name: string; labels: Record<string, string> }>;
  pods: V1Pod[];
  services: V1Service[];
  /** Whether the monitor CRDs exist (their absence is reported by the CRD check). */
  crds: { podmonitors: boolean; servicemonitors: boolean; probes?: boolean; scrapeconfigs?: boolean };
}

type AnyMonitor = PodMonitor | ServiceMonitor | ProbeCR | ScrapeConfigCR;

/** Each kind a prometheusCR selects: its CRD and its objects in the snapshot (its selector fields: selectorFields). */
const kinds: Record<MonitorKind, { crd: keyof MonitorSnapshot['crds']; objects: (s: MonitorSnapshot) => AnyMonitor[] }> = {
  PodMonitor: { crd: 'podmonitors', objects: (s) => s.podMonitors },
  ServiceMonitor: { crd: 'servicemonitors', objects: (s) => s.serviceMonitors },
  Probe: { crd: 'probes', objects: (s) => s.probes ?? [] },
  ScrapeConfig: { crd: 'scrapeconfigs', objects: (s) => s.scrapeConfigs ?? [] },
};

const nameOf = (m: { metadata?: { namespace?: string; name?: string } }) => `${m.metadata?.namespace ?? ''}/${m.metadata?.name ?? ''}`;

interface Labeled {
  metadata?: { namespace?: string; labels?: Record<string, string> };
}

/** What a monitor's own selector picks among `objects`, in the namespaces it discovers in (as its scrape config does). */
function selection<T extends Labeled>(monitor: PodMonitor | ServiceMonitor, objects: T[]) {
  const names = sdNamespaces(monitor.spec ?? {}, monitor.metadata?.namespace ?? '');
  const inNamespace = (object: T) => names.length === 0 || names.includes(object.metadata?.namespace ?? '');
  const selector = monitor.spec?.selector ?? {};
  return {
    selector,
    where: names.length === 0 ? 'all namespaces' : `namespaces ${names.join(', ')}`,
    nearby: objects.filter(inNamespace),
    selected: objects.filter((object) => inNamespace(object) && matchesLabelSelector(selector, object.metadata?.labels ?? {})),
  };
}

/** An endpoint port name no selected object has: the finding names the ones they do have. */
function portNameMismatch(where: string, field: string, port: string, count: string, names: string[], unnamedHint: string): Finding {
  return {
    level: 'warn',
    check: 'monitors',
    message: `${where}: ${field} "${port}" matches no ${count}${names.length ? `; they name theirs: ${names.join(', ')}` : '; their ports have no names'}`,
    hint: names.length ? `set port: ${names.length === 1 ? names[0] : `one of ${names.join(', ')}`}` : unnamedHint,
  };
}

const sortedNames = (names: Array<string | undefined>) => [...new Set(names.filter((n): n is string => !!n))].sort();

/**
 * A monitor the selection misses is worth a finding only when it nearly matches: its labels
 * match a selector that names labels but its namespace is outside the selection, or it is in
 * the selection's namespaces and carries a key the selector names with another value. Monitors
 * that miss on both counts are someone else's (another Prometheus, another collector group).
 */
function nearMiss(monitor: AnyMonitor, selector: LabelSelector, reason: string): boolean {
  const labels = monitor.metadata?.labels ?? {};
  const keys = [...Object.keys(selector.matchLabels ?? {}), ...(selector.matchExpressions ?? []).map((e) => e.key)];
  if (reason.startsWith('its labels')) return keys.some((key) => key in labels);
  return keys.length > 0 && matchesLabelSelector(selector, labels);
}

/** The monitors each group uses, and a finding for each one a group does not use and why. */
function usedMonitors(snapshot: MonitorSnapshot) {
  const findings: Finding[] = [];
  const namespaceLabels = new Map(snapshot.namespaces.map((ns) => [ns.name, ns.labels]));
  const lookup = (ns: string) => namespaceLabels.get(ns);
  const used = new Map<string, { kind: MonitorKind; monitor: AnyMonitor; groups: string[] }>();
  for (const { group, settings } of snapshot.selections) {
    if (settings.enabled === false) continue;
    for (const kind of Object.keys(kinds) as MonitorKind[]) {
      const [selectorField] = selectorFields[kind];
      const selector = settings[selectorField];
      if (selector === undefined || selector === null) continue;
      if (!snapshot.crds[kinds[kind].crd]) continue;
      const monitors = kinds[kind].objects(snapshot);
      if (monitors.length === 0) {
        // Probes and ScrapeConfigs are often selected by a blanket {}: only the monitor kinds say so.
        if (kind === 'PodMonitor' || kind === 'ServiceMonitor') findings.push({ level: 'warn', check: 'monitors', message: `group ${group} selects ${kind}s, but none exist`, hint: `create a ${kind} whose labels match ${JSON.stringify(selector)}, or set prometheusCR.${selectorField} to null` });
        continue;
      }
      for (const monitor of monitors) {
        const selection = monitorSelection(monitor, kind, settings, lookup);
        if (selection.selected) {
          const entry = used.get(`${kind}|${nameOf(monitor)}`) ?? { kind, monitor, groups: [] };
          entry.groups.push(group);
          used.set(`${kind}|${nameOf(monitor)}`, entry);
        } else if (nearMiss(monitor, selector, selection.reason)) {
          findings.push({ level: 'warn', check: 'monitors', message: `${kind} ${nameOf(monitor)} is not used by group ${group}: ${selection.reason}`, hint: 'change the monitor (labels, namespace) or the selection (edot-ta.io/prometheus-cr / the CR\'s targetAllocator.prometheusCR) if it should be scraped' });
        }
      }
    }
  }
  return { used, findings };
}

export function diagnoseMonitors(snapshot: MonitorSnapshot): Finding[] {
  const { used, findings } = usedMonitors(snapshot);
  for (const { kind, monitor, groups } of used.values()) {
    if (kind === 'PodMonitor') findings.push(...checkPodMonitor(monitor as PodMonitor, snapshot, groups));
    if (kind === 'ServiceMonitor') findings.push(...checkServiceMonitor(monitor as ServiceMonitor, snapshot, groups));
    // Two collector groups (e.g. two CRs, or a CR and a chart's DaemonSet) selecting one monitor: each scrapes all of it.
    if (groups.length > 1) findings.push({ level: 'warn', check: 'monitors', message: `${kind} ${nameOf(monitor)} is used by ${groups.length} collector groups (${groups.join(', ')}): each of them scrapes every one of its targets`, hint: 'keep one group selecting it: narrow the other groups\' monitor selectors or namespaces (edot-ta.io/prometheus-cr / targetAllocator.prometheusCR)' });
  }
  return findings;
}

/** For each group, the namespaces its monitors discover pods, Services and endpoints in. */
export function monitorNamespacesByGroup(snapshot: MonitorSnapshot): Map<string, Set<string>> {
  const all = snapshot.namespaces.map((ns) => ns.name);
  const byGroup = new Map<string, Set<string>>();
  for (const { kind, monitor, groups } of usedMonitors(snapshot).used.values()) {
    if (kind !== 'PodMonitor' && kind !== 'ServiceMonitor') continue; // Probes and ScrapeConfigs name their own discovery
    const names = sdNamespaces((monitor as PodMonitor).spec ?? {}, monitor.metadata?.namespace ?? '');
    for (const group of groups) {
      const set = byGroup.get(group) ?? new Set<string>();
      for (const name of names.length === 0 ? all : names) set.add(name);
      byGroup.set(group, set);
    }
  }
  return byGroup;
}

function checkPodMonitor(monitor: PodMonitor, snapshot: MonitorSnapshot, groups: string[]): Finding[] {
  const { selector, where: namespaces, selected: pods } = selection(monitor, snapshot.pods);
  const where = `PodMonitor ${nameOf(monitor)} (used by ${groups.join(', ')})`;
  if (pods.length === 0) {
    return [{ level: 'warn', check: 'monitors', message: `${where} selects no pod: selector ${JSON.stringify(selector)} in ${namespaces}`, hint: 'check the pods\' labels and the monitor\'s namespaceSelector' }];
  }
  const findings: Finding[] = [];
  const ports = pods.flatMap((p) => [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].flatMap((c) => c.ports ?? []));
  (monitor.spec?.podMetricsEndpoints ?? []).forEach((ep, i) => {
    const named = typeof ep.port === 'string' && ep.port !== '' ? ep.port : undefined;
    const number = ep.portNumber;
    if (named !== undefined && !ports.some((p) => p.name === named)) {
      findings.push(portNameMismatch(where, `podMetricsEndpoints[${i}].port`, named, `container port of the ${pods.length} pod(s) it selects`, sortedNames(ports.map((p) => p.name)), 'name the container port, or use portNumber'));
    } else if (named === undefined && number !== undefined && !ports.some((p) => p.containerPort === number)) {
      findings.push({ level: 'warn', check: 'monitors', message: `${where}: podMetricsEndpoints[${i}].portNumber ${number} matches no container port of the ${pods.length} pod(s) it selects (they have ${[...new Set(ports.map((p) => p.containerPort))].sort((a, b) => a - b).join(', ') || 'none'})` });
    }
  });
  return findings;
}

function checkServiceMonitor(monitor: ServiceMonitor, snapshot: MonitorSnapshot, groups: string[]): Finding[] {
  const { selector, nearby: near, selected: services } = selection(monitor, snapshot.services);
  const where = `ServiceMonitor ${nameOf(monitor)} (used by ${groups.join(', ')})`;
  if (services.length === 0) {
    return [{ level: 'warn', check: 'monitors', message: `${where} selects no Service: selector ${JSON.stringify(selector)}${near.length ? ` (e.g. ${nameOf(near[0]!)}: ${selectorMismatch(selector, near[0]!.metadata?.labels ?? {})})` : ''}`, hint: 'check the Services\' labels and the monitor\'s namespaceSelector' }];
  }
  const findings: Finding[] = [];
  const names = sortedNames(services.flatMap((s) => (s.spec?.ports ?? []).map((p) => p.name)));
  (monitor.spec?.endpoints ?? []).forEach((ep, i) => {
    if (typeof ep.port === 'string' && ep.port !== '' && !names.includes(ep.port)) {
      findings.push(portNameMismatch(where, `endpoints[${i}].port`, ep.port, `port of the ${services.length} Service(s) it selects`, names, 'name the Service port, or use targetPort'));
    }
  });
  return findings;
}
