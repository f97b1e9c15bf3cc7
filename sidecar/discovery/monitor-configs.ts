// PodMonitors/ServiceMonitors/ScrapeConfigs/Probes from the informers -> the scrape configs the prometheus-operator
// would generate, for the monitors the prometheusCR settings select. An invalid monitor is
// reported (named) and skipped; every other monitor still produces its jobs.
import { MonitorError, podMonitorScrapeConfigs, serviceMonitorScrapeConfigs } from './monitors.js';
import type { PrometheusCRSettings } from '../../contract/prometheus-cr.js';
import { selectMonitors, type MonitorKind } from './selectors.js';
import { scrapeConfigCrdScrapeConfigs } from './scrape-config-crd.js';
import { probeScrapeConfigs } from './probe-crd.js';
import type { Labels } from './types.js';
import type { ScrapeConfig } from '../targets/targets.js';
import { MissingReferenceError } from './monitor-http.js';

export interface MonitorProblem {
  /** `<namespace>/<name>` of the monitor. */
  name: string;
  kind: MonitorKind;
  message: string;
  /** A referenced Secret that is not cached yet (not an error of the monitor). */
  pending: boolean;
}

export interface MonitorInputs {
  podMonitors: unknown[];
  serviceMonitors: unknown[];
  /** ScrapeConfigs (monitoring.coreos.com/v1alpha1), where the CRD is served and selected. */
  scrapeConfigs?: unknown[];
  probes?: unknown[];
  namespaces: unknown[];
  settings: PrometheusCRSettings;
  secrets: SecretSource;
}

/**
 * Secret values from a cache of the referenced Secrets (each watched by name). `synced` is false
 * while that Secret is still being listed; `problem` says why it cannot be read (403: the
 * sidecar may not read Secrets there), and the monitor referencing it is then skipped.
 */
export interface SecretSource {
  secret(namespace: string, name: string, key: string): string | undefined;
  synced(namespace: string, name: string): boolean;
  problem?(namespace: string, name: string): string | undefined;
}

export function buildMonitorScrapeConfigs(inputs: MonitorInputs): { configs: ScrapeConfig[]; problems: MonitorProblem[] } {
  const namespaceLabels = new Map<string, Labels>();
  for (const raw of inputs.namespaces) {
    const meta = (raw as { metadata?: { name?: string; labels?: Labels } }).metadata;
    if (meta?.name) namespaceLabels.set(meta.name, meta.labels ?? {});
  }
  const lookupNamespace = (name: string) => namespaceLabels.get(name);
  let missedUnsynced = false;
  const ctx = {
    scrapeInterval: inputs.settings.scrapeInterval,
    ...(inputs.settings.serviceDiscoveryRole ? { serviceDiscoveryRole: inputs.settings.serviceDiscoveryRole } : {}),
    ...(inputs.settings.scrapeClasses ? { scrapeClasses: inputs.settings.scrapeClasses } : {}),
    secret: (namespace: string, name: string, key: string) => {
      const problem = inputs.secrets.problem?.(namespace, name);
      if (problem) throw new MissingReferenceError(`cannot read Secret ${namespace}/${name}: ${problem}`);
      if (!inputs.secrets.synced(namespace, name)) missedUnsynced = true;
      return inputs.secrets.secret(namespace, name, key);
    },
  };
  const configs: ScrapeConfig[] = [];
  const problems: MonitorProblem[] = [];
  const build = (kind: MonitorKind, monitor: MonitorLike, generate: () => ScrapeConfig[]) => {
    missedUnsynced = false;
    try {
      configs.push(...generate());
    } catch (err) {
      const message = err instanceof MonitorError ? err.message : `${kind} ${monitorName(monitor)}: ${err instanceof Error ? err.message : String(err)}`;
      problems.push({ name: monitorName(monitor), kind, message, pending: missedUnsynced });
    }
  };
  const byName = (a: MonitorLike, b: MonitorLike) => monitorName(a).localeCompare(monitorName(b));
  // Each kind: its objects and its converter, in the order the jobs are listed.
  const kinds: Array<[MonitorKind, unknown[] | undefined, (object: never, context: typeof ctx) => unknown[]]> = [
    ['PodMonitor', inputs.podMonitors, podMonitorScrapeConfigs],
    ['ServiceMonitor', inputs.serviceMonitors, serviceMonitorScrapeConfigs],
    ['ScrapeConfig', inputs.scrapeConfigs, scrapeConfigCrdScrapeConfigs],
    ['Probe', inputs.probes, probeScrapeConfigs],
  ];
  for (const [kind, objects, convert] of kinds) {
    for (const monitor of selectMonitors((objects ?? []) as MonitorLike[], kind, inputs.settings, lookupNamespace).sort(byName)) {
      build(kind, monitor, () => convert(monitor as never, ctx) as ScrapeConfig[]);
    }
  }
  return { configs, problems };
}

interface MonitorLike {
  metadata?: { name?: string; namespace?: string };
}

function monitorName(monitor: MonitorLike): string {
  return `${monitor.metadata?.namespace ?? ''}/${monitor.metadata?.name ?? ''}`;
}
