// The monitor selection a collector group uses (the operator CR's
// spec.targetAllocator.prometheusCR): the webhook carries it from the CR to the pod
// (annotation edot-ta.io/prometheus-cr, env EDOT_TA_PROMETHEUS_CR) and checks it with this
// parser; the sidecar parses the same env with it. Label selectors are validated as the API
// server would.

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export class SelectorError extends Error {}

/** Rejects selectors the API server would reject (unknown operator, values where none belong). */
export function validateLabelSelector(selector: unknown, where: string): LabelSelector {
  if (selector === null || selector === undefined) return {};
  if (typeof selector !== 'object' || Array.isArray(selector)) throw new SelectorError(`${where}: must be a label selector object`);
  const { matchLabels, matchExpressions } = selector as { matchLabels?: unknown; matchExpressions?: unknown };
  if (matchLabels !== undefined && matchLabels !== null) {
    if (typeof matchLabels !== 'object' || Array.isArray(matchLabels)) throw new SelectorError(`${where}.matchLabels: must be a map`);
    for (const [k, v] of Object.entries(matchLabels)) if (typeof v !== 'string') throw new SelectorError(`${where}.matchLabels.${k}: must be a string`);
  }
  if (matchExpressions !== undefined && matchExpressions !== null) {
    if (!Array.isArray(matchExpressions)) throw new SelectorError(`${where}.matchExpressions: must be a list`);
    matchExpressions.forEach((raw: unknown, i) => {
      const e = (raw ?? {}) as { key?: unknown; operator?: unknown; values?: unknown };
      const at = `${where}.matchExpressions[${i}]`;
      if (typeof e.key !== 'string' || e.key === '') throw new SelectorError(`${at}.key: required`);
      const values = e.values ?? [];
      if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) throw new SelectorError(`${at}.values: must be a list of strings`);
      if (e.operator === 'In' || e.operator === 'NotIn') {
        if (values.length === 0) throw new SelectorError(`${at}: operator ${e.operator} needs at least one value`);
      } else if (e.operator === 'Exists' || e.operator === 'DoesNotExist') {
        if (values.length > 0) throw new SelectorError(`${at}: operator ${e.operator} takes no values`);
      } else throw new SelectorError(`${at}.operator: "${String(e.operator)}" is not In, NotIn, Exists or DoesNotExist`);
    });
  }
  return selector as LabelSelector;
}

/** The Target Allocator's `prometheusCR` block (as in EDOT_TA_PROMETHEUS_CR). */
export interface PrometheusCRSettings {
  enabled?: boolean;
  /** Default scrape interval for monitors that set none (TA default 30s). */
  scrapeInterval?: string;
  /** nil: no PodMonitor is selected; {}: all. */
  podMonitorSelector?: LabelSelector | null;
  /** nil: no ServiceMonitor is selected; {}: all. */
  serviceMonitorSelector?: LabelSelector | null;
  /** nil: the TA's default `{}` (all namespaces). */
  podMonitorNamespaceSelector?: LabelSelector | null;
  serviceMonitorNamespaceSelector?: LabelSelector | null;
  /** nil: no ScrapeConfig (monitoring.coreos.com/v1alpha1) is selected; {}: all. */
  scrapeConfigSelector?: LabelSelector | null;
  scrapeConfigNamespaceSelector?: LabelSelector | null;
  /** nil: no Probe is selected; {}: all. */
  probeSelector?: LabelSelector | null;
  probeNamespaceSelector?: LabelSelector | null;
  /**
   * prometheus-operator scrape classes: settings a monitor picks by `spec.scrapeClass` (the one
   * marked `default` when it names none). Checked here for names only; the sidecar reads the rest.
   */
  scrapeClasses?: ScrapeClassSettings[];
  /** Non-empty: only monitors in these namespaces (denyNamespaces then ignored). */
  allowNamespaces?: string[];
  denyNamespaces?: string[];
  /**
   * How ServiceMonitors are discovered (prometheus-operator's `serviceDiscoveryRole`):
   * `EndpointSlice` (discovery.k8s.io/v1) or `Endpoints` (core/v1). Unset: EndpointSlice, as the
   * Target Allocator configures it, or Endpoints where the API server serves no
   * discovery.k8s.io/v1 (before 1.21). A ServiceMonitor's own `spec.serviceDiscoveryRole` wins.
   */
  serviceDiscoveryRole?: ServiceDiscoveryRole;
}

export type ServiceDiscoveryRole = 'Endpoints' | 'EndpointSlice';

export type ScrapeClassSettings = { name: string; default?: boolean } & Record<string, unknown>;

function scrapeClasses(raw: unknown): ScrapeClassSettings[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw new SelectorError('prometheusCR.scrapeClasses: must be a list');
  const names = new Set<string>();
  raw.forEach((entry: unknown, i) => {
    const at = `prometheusCR.scrapeClasses[${i}]`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new SelectorError(`${at}: must be an object`);
    const { name, default: isDefault } = entry as { name?: unknown; default?: unknown };
    if (typeof name !== 'string' || name === '') throw new SelectorError(`${at}.name: required`);
    if (names.has(name)) throw new SelectorError(`${at}.name: "${name}" is used twice`);
    names.add(name);
    if (isDefault !== undefined && typeof isDefault !== 'boolean') throw new SelectorError(`${at}.default: must be true or false`);
  });
  if (raw.filter((c: { default?: boolean }) => c.default === true).length > 1) throw new SelectorError('prometheusCR.scrapeClasses: more than one is marked default');
  return raw as ScrapeClassSettings[];
}
export const serviceDiscoveryRoles: readonly ServiceDiscoveryRole[] = ['Endpoints', 'EndpointSlice'];

export const defaultScrapeInterval = '30s';

/** Parses EDOT_TA_PROMETHEUS_CR (JSON) into settings, validating every selector. */
export function parsePrometheusCR(raw: unknown): PrometheusCRSettings {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new SelectorError('prometheusCR: must be an object');
  const cr = raw as Record<string, unknown>;
  const selector = (name: string): LabelSelector | null | undefined =>
    cr[name] === undefined ? undefined : cr[name] === null ? null : validateLabelSelector(cr[name], `prometheusCR.${name}`);
  const names = (name: string): string[] | undefined => {
    const v = cr[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((n) => typeof n !== 'string')) throw new SelectorError(`prometheusCR.${name}: must be a list of namespace names`);
    return v as string[];
  };
  if (cr.scrapeInterval !== undefined && typeof cr.scrapeInterval !== 'string') throw new SelectorError('prometheusCR.scrapeInterval: must be a duration string');
  // Strict: "yes" or "true" must not quietly mean false (monitors off).
  if (cr.enabled !== undefined && cr.enabled !== null && typeof cr.enabled !== 'boolean') throw new SelectorError(`prometheusCR.enabled: must be true or false, got ${JSON.stringify(cr.enabled)}`);
  if (cr.serviceDiscoveryRole !== undefined && !serviceDiscoveryRoles.includes(cr.serviceDiscoveryRole as ServiceDiscoveryRole)) {
    throw new SelectorError(`prometheusCR.serviceDiscoveryRole: must be ${serviceDiscoveryRoles.join(' or ')}, got ${JSON.stringify(cr.serviceDiscoveryRole)}`);
  }
  return {
    enabled: cr.enabled === undefined ? undefined : cr.enabled === true,
    scrapeInterval: cr.scrapeInterval as string | undefined,
    podMonitorSelector: selector('podMonitorSelector'),
    serviceMonitorSelector: selector('serviceMonitorSelector'),
    podMonitorNamespaceSelector: selector('podMonitorNamespaceSelector'),
    serviceMonitorNamespaceSelector: selector('serviceMonitorNamespaceSelector'),
    ...(cr.scrapeConfigSelector === undefined ? {} : { scrapeConfigSelector: selector('scrapeConfigSelector') }),
    ...(cr.scrapeConfigNamespaceSelector === undefined ? {} : { scrapeConfigNamespaceSelector: selector('scrapeConfigNamespaceSelector') }),
    ...(cr.probeSelector === undefined ? {} : { probeSelector: selector('probeSelector') }),
    ...(cr.probeNamespaceSelector === undefined ? {} : { probeNamespaceSelector: selector('probeNamespaceSelector') }),
    ...(cr.scrapeClasses === undefined || cr.scrapeClasses === null ? {} : { scrapeClasses: scrapeClasses(cr.scrapeClasses)! }),
    allowNamespaces: names('allowNamespaces'),
    denyNamespaces: names('denyNamespaces'),
    ...(cr.serviceDiscoveryRole === undefined ? {} : { serviceDiscoveryRole: cr.serviceDiscoveryRole as ServiceDiscoveryRole }),
  };
}

/** Monitors off: what a sidecar without EDOT_TA_PROMETHEUS_CR does (static scrape configs only). */
export const disabledPrometheusCR: PrometheusCRSettings = { enabled: false };

export class PrometheusCRError extends Error {}

/** Parses EDOT_TA_PROMETHEUS_CR (JSON, the shape of the operator CR's `spec.targetAllocator.prometheusCR`). */
export function parsePrometheusCREnv(raw: string | undefined): PrometheusCRSettings {
  if (raw === undefined || raw.trim() === '') return disabledPrometheusCR;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new PrometheusCRError(`EDOT_TA_PROMETHEUS_CR is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const settings = parsePrometheusCR(parsed);
    if (settings.scrapeInterval !== undefined && !/^(\d+(ms|s|m|h|d|w|y))+$/.test(settings.scrapeInterval)) {
      throw new SelectorError('prometheusCR.scrapeInterval: must be a Prometheus duration such as "30s"');
    }
    return settings;
  } catch (err) {
    throw new PrometheusCRError(`EDOT_TA_PROMETHEUS_CR: ${err instanceof Error ? err.message : String(err)}`);
  }
}
