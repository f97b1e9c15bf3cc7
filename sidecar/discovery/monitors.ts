// PodMonitor / ServiceMonitor → the Prometheus scrape configs the prometheus-operator generates
// (pkg/prometheus/promcfg.go): job names, the keep/drop/replace rules in the operator's order,
// then the user's relabelings. An invalid monitor throws MonitorError naming the object: the
// caller skips it (Event + log line) and keeps every other target.
import { compileRelabelConfigs } from '../relabel/relabel.js';
import { addHttpClientFields, type ObjectValueLookup } from './monitor-http.js';
import type { EndpointCommon, MonitorSpecCommon, PodMetricsEndpoint, PodMonitor, RelabelConfigCR, ServiceMonitor, ServiceMonitorEndpoint } from './monitor-types.js';
import { defaultScrapeInterval, validateLabelSelector, type LabelSelector, type ScrapeClassSettings, type ServiceDiscoveryRole } from '../../contract/prometheus-cr.js';
import { scrapeClassFor, withScrapeClass, type ScrapeClass } from './scrape-class.js';
import { labelSelectorString } from './selectors.js';
import type { KubernetesSdConfigYaml, RelabelConfigYaml, ScrapeConfigYaml } from './types.js';

export type { PodMonitor, ServiceMonitor } from './monitor-types.js';

export interface MonitorContext extends ObjectValueLookup {
  /** prometheusCR.scrapeInterval: the interval of endpoints that set none (default 30s). */
  scrapeInterval?: string;
  /** prometheusCR.serviceDiscoveryRole: how ServiceMonitors are discovered (default Endpoints). */
  serviceDiscoveryRole?: ServiceDiscoveryRole;
  /** prometheusCR.scrapeClasses: what a monitor's spec.scrapeClass (or the default class) adds. */
  scrapeClasses?: readonly ScrapeClassSettings[];
}

export class MonitorError extends Error {
  constructor(
    readonly kind: 'PodMonitor' | 'ServiceMonitor',
    readonly namespace: string,
    readonly objectName: string,
    detail: string,
  ) {
    super(`${kind} ${namespace}/${objectName}: ${detail}`);
    this.name = 'MonitorError';
  }
}

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/gu, '_');
const durationPattern = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const durationUnitsMs = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/** Prometheus model.ParseDuration, in milliseconds; undefined when invalid. */
export function parseDurationMs(text: string): number | undefined {
  const m = durationPattern.exec(text);
  if (!m || text === '') return text === '0' ? 0 : undefined;
  return durationUnitsMs.reduce((sum, unit, i) => sum + Number(m[i + 1] ?? 0) * unit, 0);
}

/** The operator's generateRelabelConfig: CRD camelCase → snake_case, empty fields omitted, action lowercased. */
export function crRelabelConfigs(configs: RelabelConfigCR[] | undefined): RelabelConfigYaml[] {
  return (configs ?? []).map((c) => {
    const out: RelabelConfigYaml = {};
    if (c.sourceLabels?.length) out.source_labels = c.sourceLabels;
    if (c.separator !== undefined && c.separator !== null) out.separator = c.separator;
    if (c.targetLabel) out.target_label = c.targetLabel;
    if (c.regex) out.regex = c.regex;
    if (c.modulus) out.modulus = c.modulus;
    if (c.replacement !== undefined && c.replacement !== null) out.replacement = c.replacement;
    if (c.action) out.action = c.action.toLowerCase();
    return out;
  });
}

/** The operator's getNamespacesFromNamespaceSelector: any → all (none listed), none → own, else matchNames. */
/** The namespaces a monitor discovers in: none listed (= all) for `any`, else matchNames, else its own. */
export function sdNamespaces(spec: MonitorSpecCommon, ownNamespace: string): string[] {
  if (spec.namespaceSelector?.any) return [];
  const names = spec.namespaceSelector?.matchNames ?? [];
  return names.length === 0 ? [ownNamespace] : names;
}

function sdConfig(spec: MonitorSpecCommon, namespace: string, role: KubernetesSdConfigYaml['role'], selectorRoles: string[], cls: ScrapeClass = {}): KubernetesSdConfigYaml {
  const sd: KubernetesSdConfigYaml = { role };
  const names = sdNamespaces(spec, namespace);
  if (names.length > 0) sd.namespaces = { names };
  const attachMetadata = spec.attachMetadata ?? cls.attachMetadata;
  if (attachMetadata) sd.attach_metadata = { node: attachMetadata.node ?? false };
  if (spec.selectorMechanism === 'RoleSelector') {
    const label = labelSelectorString(spec.selector ?? {});
    sd.selectors = selectorRoles.map((r) => ({ role: r, label }));
  }
  return sd;
}

/** matchLabels / matchExpressions as keep/drop rules on `<prefix>label_<k>` / `labelpresent_<k>`. */
export function selectorRelabelings(selector: LabelSelector, prefix: string): RelabelConfigYaml[] {
  const rules: RelabelConfigYaml[] = [];
  const both = (key: string) => [`${prefix}label_${sanitize(key)}`, `${prefix}labelpresent_${sanitize(key)}`];
  for (const key of Object.keys(selector.matchLabels ?? {}).sort()) {
    rules.push({ action: 'keep', source_labels: both(key), regex: `(${selector.matchLabels?.[key] ?? ''});true` });
  }
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join('|');
    if (e.operator === 'In') rules.push({ action: 'keep', source_labels: both(e.key), regex: `(${values});true` });
    if (e.operator === 'NotIn') rules.push({ action: 'drop', source_labels: both(e.key), regex: `(${values});true` });
    if (e.operator === 'Exists') rules.push({ action: 'keep', source_labels: [`${prefix}labelpresent_${sanitize(e.key)}`], regex: 'true' });
    if (e.operator === 'DoesNotExist') rules.push({ action: 'drop', source_labels: [`${prefix}labelpresent_${sanitize(e.key)}`], regex: 'true' });
  }
  return rules;
}

const jobNameRule = (): RelabelConfigYaml => ({ source_labels: ['job'], target_label: '__tmp_prometheus_job_name' });
const runningFilter = (): RelabelConfigYaml => ({ action: 'drop', source_labels: ['__meta_kubernetes_pod_phase'], regex: '(Failed|Succeeded)' });
const copyLabel = (from: string, to: string): RelabelConfigYaml => ({ source_labels: [from], target_label: to, regex: '(.+)', replacement: '${1}' });

/** The scrape-config head every endpoint shares: job name, honor flags, discovery, interval, path, scheme, HTTP client. */
function baseConfig(jobName: string, sd: KubernetesSdConfigYaml, ep: EndpointCommon & { bearerTokenFile?: string }, namespace: string, ctx: MonitorContext): ScrapeConfigYaml {
  const config: ScrapeConfigYaml = { job_name: jobName, honor_labels: ep.honorLabels ?? false };
  if (ep.honorTimestamps !== undefined) config.honor_timestamps = ep.honorTimestamps;
  if (ep.trackTimestampsStaleness !== undefined) config.track_timestamps_staleness = ep.trackTimestampsStaleness;
  config.kubernetes_sd_configs = [sd];
  // The operator leaves the interval to the global default; the TA serves it filled in.
  config.scrape_interval = ep.interval || ctx.scrapeInterval || defaultScrapeInterval;
  if (ep.scrapeTimeout) config.scrape_timeout = ep.scrapeTimeout;
  if (ep.path) config.metrics_path = ep.path;
  if (ep.params) config.params = ep.params;
  if (ep.scheme) config.scheme = ep.scheme.toLowerCase();
  addHttpClientFields(config, ctx, namespace, ep);
  return config;
}

type ScrapeLimits = Pick<MonitorSpecCommon, 'sampleLimit' | 'targetLimit' | 'labelLimit' | 'labelNameLengthLimit' | 'labelValueLengthLimit' | 'keepDroppedTargets' | 'scrapeProtocols' | 'bodySizeLimit'>;

/** The per-job limits and scrape protocols of any monitor kind. */
export function addLimits(config: ScrapeConfigYaml, spec: ScrapeLimits): void {
  if (spec.sampleLimit) config.sample_limit = spec.sampleLimit;
  if (spec.targetLimit) config.target_limit = spec.targetLimit;
  if (spec.labelLimit) config.label_limit = spec.labelLimit;
  if (spec.labelNameLengthLimit) config.label_name_length_limit = spec.labelNameLengthLimit;
  if (spec.labelValueLengthLimit) config.label_value_length_limit = spec.labelValueLengthLimit;
  if (spec.keepDroppedTargets) config.keep_dropped_targets = spec.keepDroppedTargets;
  if (spec.scrapeProtocols?.length) config.scrape_protocols = spec.scrapeProtocols;
  if (spec.bodySizeLimit) config.body_size_limit = spec.bodySizeLimit;
}

function addLimitsAndMetricRelabelings(config: ScrapeConfigYaml, spec: MonitorSpecCommon, ep: EndpointCommon): void {
  addLimits(config, spec);
  const metricRelabelings = crRelabelConfigs(ep.metricRelabelings);
  if (metricRelabelings.length > 0) config.metric_relabel_configs = metricRelabelings;
}

/**
 * A Probe's or ScrapeConfig's own interval and timeout (field names as in its spec), checked as
 * the operator's resource selector checks them; the interval the job runs with (the TA fills in
 * the prometheusCR default where the operator leaves the global one).
 */
export function checkedInterval(fields: { interval: [string, string | undefined]; timeout: string | undefined }, ctx: MonitorContext): string {
  const [intervalField, own] = fields.interval;
  for (const [field, value] of [[intervalField, own], ['scrapeTimeout', fields.timeout]] as const) {
    if (value && parseDurationMs(value) === undefined) throw new Error(`spec.${field} "${value}" is not a valid duration`);
  }
  const interval = own || ctx.scrapeInterval || defaultScrapeInterval;
  if (fields.timeout && (parseDurationMs(fields.timeout) ?? 0) > (parseDurationMs(interval) ?? Infinity)) throw new Error(`spec.scrapeTimeout "${fields.timeout}" greater than the scrape interval "${interval}"`);
  return interval;
}

/** Sets the job's relabel and metric relabel rules, refusing any Prometheus would not load (naming the spec field). */
export function setRelabelings(config: ScrapeConfigYaml, rules: RelabelConfigYaml[], metricRelabelings: RelabelConfigYaml[], relabelField: string): void {
  for (const [field, compiled] of [[relabelField, rules], ['metricRelabelings', metricRelabelings]] as const) {
    try {
      compileRelabelConfigs(compiled);
    } catch (err) {
      throw new Error(`spec.${field}: ${(err as Error).message}`);
    }
  }
  config.relabel_configs = rules;
  if (metricRelabelings.length > 0) config.metric_relabel_configs = metricRelabelings;
}

/** What the operator's resource selector checks before it accepts a monitor. */
function validateEndpoint(ep: EndpointCommon, index: number, ctx: MonitorContext): void {
  const at = `endpoint[${index}]`;
  for (const [field, value] of [['interval', ep.interval], ['scrapeTimeout', ep.scrapeTimeout]] as const) {
    if (value && parseDurationMs(value) === undefined) throw new Error(`${at}: ${field} "${value}" is not a valid duration`);
  }
  if (ep.scrapeTimeout) {
    const interval = ep.interval || ctx.scrapeInterval || defaultScrapeInterval;
    if ((parseDurationMs(ep.scrapeTimeout) ?? 0) > (parseDurationMs(interval) ?? Infinity)) {
      throw new Error(`${at}: scrapeTimeout "${ep.scrapeTimeout}" greater than scrapeInterval "${interval}"`);
    }
  }
  if (ep.scheme && !['http', 'https'].includes(ep.scheme.toLowerCase())) throw new Error(`${at}: scheme "${ep.scheme}" is not http or https`);
  for (const field of ['relabelings', 'metricRelabelings'] as const) {
    try {
      compileRelabelConfigs(crRelabelConfigs(ep[field]));
    } catch (err) {
      throw new Error(`${at}: ${field}: ${(err as Error).message}`);
    }
  }
}

function monitorGuard<T>(kind: 'PodMonitor' | 'ServiceMonitor', monitor: PodMonitor | ServiceMonitor, build: (namespace: string, name: string) => T): T {
  const namespace = monitor.metadata?.namespace ?? '';
  const name = monitor.metadata?.name ?? '';
  try {
    if (!namespace || !name) throw new Error('metadata.name and metadata.namespace are required');
    validateLabelSelector(monitor.spec?.selector, 'spec.selector');
    const matchNames = monitor.spec?.namespaceSelector?.matchNames;
    if (matchNames !== undefined && (!Array.isArray(matchNames) || matchNames.some((n) => typeof n !== 'string'))) throw new Error('spec.namespaceSelector.matchNames must be a list of names');
    return build(namespace, name);
  } catch (err) {
    if (err instanceof MonitorError) throw err;
    throw new MonitorError(kind, namespace, name, (err as Error).message);
  }
}

/** One scrape config per podMetricsEndpoint, job `podMonitor/<ns>/<name>/<idx>`, role pod. */
export function podMonitorScrapeConfigs(monitor: PodMonitor, ctx: MonitorContext): ScrapeConfigYaml[] {
  return monitorGuard('PodMonitor', monitor, (namespace, name) => {
    const spec = monitor.spec ?? {};
    const cls = scrapeClassFor(ctx.scrapeClasses, spec.scrapeClass);
    const endpoints: PodMetricsEndpoint[] = spec.podMetricsEndpoints ?? [];
    return endpoints.map((own, i) => {
      validateEndpoint(own, i, ctx);
      const ep = withScrapeClass(own, cls);
      const config = baseConfig(`podMonitor/${namespace}/${name}/${i}`, sdConfig(spec, namespace, 'pod', ['pod'], cls), ep, namespace, ctx);
      const rules: RelabelConfigYaml[] = [jobNameRule()];
      if (ep.filterRunning ?? true) rules.push(runningFilter());
      if (spec.selectorMechanism !== 'RoleSelector') rules.push(...selectorRelabelings(spec.selector ?? {}, '__meta_kubernetes_pod_'));
      const targetPort = ep.targetPort === undefined || ep.targetPort === null ? undefined : String(ep.targetPort);
      if (ep.port) rules.push({ action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: ep.port });
      else if (ep.portNumber) rules.push({ action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_number'], regex: String(ep.portNumber) });
      else if (targetPort && targetPort !== '0') {
        const byName = typeof ep.targetPort === 'string'; // IntOrString: a quoted number is a port name too
        rules.push({ action: 'keep', source_labels: [byName ? '__meta_kubernetes_pod_container_port_name' : '__meta_kubernetes_pod_container_port_number'], regex: targetPort });
      }
      rules.push(
        { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      );
      for (const label of spec.podTargetLabels ?? []) rules.push({ source_labels: [`__meta_kubernetes_pod_label_${sanitize(label)}`], target_label: sanitize(label), regex: '(.+)', replacement: '${1}' });
      rules.push({ target_label: 'job', replacement: `${namespace}/${name}` });
      if (spec.jobLabel) rules.push(copyLabel(`__meta_kubernetes_pod_label_${sanitize(spec.jobLabel)}`, 'job'));
      if (ep.port) rules.push({ target_label: 'endpoint', replacement: ep.port });
      else if (targetPort && targetPort !== '0') rules.push({ target_label: 'endpoint', replacement: targetPort });
      rules.push(...crRelabelConfigs(cls.relabelings), ...crRelabelConfigs(ep.relabelings));
      config.relabel_configs = rules;
      addLimitsAndMetricRelabelings(config, spec, ep);
      return config;
    });
  });
}

/**
 * One scrape config per endpoint, job `serviceMonitor/<ns>/<name>/<idx>`, role endpoints
 * (core/v1) or, with serviceDiscoveryRole EndpointSlice, endpointslice (the same rules on the
 * slice's port name and address target).
 */
export function serviceMonitorScrapeConfigs(monitor: ServiceMonitor, ctx: MonitorContext): ScrapeConfigYaml[] {
  return monitorGuard('ServiceMonitor', monitor, (namespace, name) => {
    const spec = monitor.spec ?? {};
    const cls = scrapeClassFor(ctx.scrapeClasses, spec.scrapeClass);
    const endpoints: ServiceMonitorEndpoint[] = spec.endpoints ?? [];
    return endpoints.map((own, i) => {
      validateEndpoint(own, i, ctx);
      const ep = withScrapeClass(own, cls);
      const targetPort = ep.targetPort === undefined || ep.targetPort === null ? undefined : String(ep.targetPort);
      // Without a port every port of every endpoint would be scraped: almost always a mistake.
      if (!ep.port && (!targetPort || targetPort === '0')) throw new Error(`endpoint[${i}]: port or targetPort is required`);
      const slices = (spec.serviceDiscoveryRole ?? ctx.serviceDiscoveryRole) === 'EndpointSlice';
      const role = slices ? 'endpointslice' : 'endpoints';
      const config = baseConfig(`serviceMonitor/${namespace}/${name}/${i}`, sdConfig(spec, namespace, role, [role, 'service'], cls), ep, namespace, ctx);
      const rules: RelabelConfigYaml[] = [jobNameRule()];
      if (spec.selectorMechanism !== 'RoleSelector') rules.push(...selectorRelabelings(spec.selector ?? {}, '__meta_kubernetes_service_'));
      if (ep.port) rules.push({ action: 'keep', source_labels: [slices ? '__meta_kubernetes_endpointslice_port_name' : '__meta_kubernetes_endpoint_port_name'], regex: ep.port });
      else if (targetPort) {
        const byName = typeof ep.targetPort === 'string'; // IntOrString: a quoted number is a port name too
        rules.push({ action: 'keep', source_labels: [byName ? '__meta_kubernetes_pod_container_port_name' : '__meta_kubernetes_pod_container_port_number'], regex: targetPort });
      }
      const targetKindName = slices
        ? ['__meta_kubernetes_endpointslice_address_target_kind', '__meta_kubernetes_endpointslice_address_target_name']
        : ['__meta_kubernetes_endpoint_address_target_kind', '__meta_kubernetes_endpoint_address_target_name'];
      rules.push(
        { source_labels: targetKindName, separator: ';', regex: 'Node;(.*)', replacement: '${1}', target_label: 'node' },
        { source_labels: targetKindName, separator: ';', regex: 'Pod;(.*)', replacement: '${1}', target_label: 'pod' },
        { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        { source_labels: ['__meta_kubernetes_service_name'], target_label: 'service' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      );
      if (ep.filterRunning ?? true) rules.push(runningFilter());
      for (const label of spec.targetLabels ?? []) rules.push(copyLabel(`__meta_kubernetes_service_label_${sanitize(label)}`, sanitize(label)));
      for (const label of spec.podTargetLabels ?? []) rules.push(copyLabel(`__meta_kubernetes_pod_label_${sanitize(label)}`, sanitize(label)));
      rules.push({ source_labels: ['__meta_kubernetes_service_name'], target_label: 'job', replacement: '${1}' });
      if (spec.jobLabel) rules.push(copyLabel(`__meta_kubernetes_service_label_${sanitize(spec.jobLabel)}`, 'job'));
      if (ep.port) rules.push({ target_label: 'endpoint', replacement: ep.port });
      else if (targetPort) rules.push({ target_label: 'endpoint', replacement: targetPort });
      rules.push(...crRelabelConfigs(cls.relabelings), ...crRelabelConfigs(ep.relabelings));
      config.relabel_configs = rules;
      addLimitsAndMetricRelabelings(config, spec, ep);
      return config;
    });
  });
}
