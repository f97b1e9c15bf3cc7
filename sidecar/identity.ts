// Who this sidecar is: the pod it runs in (downward API env set by the webhook), its collector
// group, and the prometheusCR settings that choose PodMonitors/ServiceMonitors.
// Parsed once at startup; a missing or malformed value stops the sidecar with a message that
// names the variable, because guessing an identity would serve the wrong collector's targets.

export interface PrometheusCRSettings {
  enabled: boolean;
  /** Default scrape interval for monitors without one (the Target Allocator's default is 30s). */
  scrapeInterval: string;
  /** Label selectors; `undefined` (nil) selects nothing, `{}` selects everything. */
  podMonitorSelector?: LabelSelector;
  serviceMonitorSelector?: LabelSelector;
  podMonitorNamespaceSelector?: LabelSelector;
  serviceMonitorNamespaceSelector?: LabelSelector;
  allowNamespaces: string[];
  denyNamespaces: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface SidecarIdentity {
  podName: string;
  podUid: string;
  podNamespace: string;
  nodeName: string;
  group: string;
  prometheusCR: PrometheusCRSettings;
}

export class IdentityError extends Error {}

const required = ['POD_NAME', 'POD_UID', 'POD_NAMESPACE', 'NODE_NAME', 'EDOT_TA_GROUP'] as const;

export const disabledPrometheusCR: PrometheusCRSettings = {
  enabled: false,
  scrapeInterval: '30s',
  allowNamespaces: [],
  denyNamespaces: [],
};

export function readIdentity(env: NodeJS.ProcessEnv): SidecarIdentity {
  const missing = required.filter((name) => !env[name]?.trim());
  if (missing.length > 0) {
    throw new IdentityError(
      `missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        '(the webhook sets them from the downward API; when running by hand, export them)',
    );
  }
  const value = (name: (typeof required)[number]) => (env[name] ?? '').trim();
  return {
    podName: value('POD_NAME'),
    podUid: value('POD_UID'),
    podNamespace: value('POD_NAMESPACE'),
    nodeName: value('NODE_NAME'),
    group: value('EDOT_TA_GROUP'),
    prometheusCR: parsePrometheusCR(env.EDOT_TA_PROMETHEUS_CR),
  };
}

/** Parses EDOT_TA_PROMETHEUS_CR (JSON, the shape of the operator CR's `spec.targetAllocator.prometheusCR`). */
export function parsePrometheusCR(raw: string | undefined): PrometheusCRSettings {
  if (raw === undefined || raw.trim() === '') return disabledPrometheusCR;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new IdentityError(`EDOT_TA_PROMETHEUS_CR is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(parsed)) throw new IdentityError('EDOT_TA_PROMETHEUS_CR must be a JSON object');
  const field = (name: string) => `EDOT_TA_PROMETHEUS_CR.${name}`;
  const enabled = parsed.enabled ?? false;
  if (typeof enabled !== 'boolean') throw new IdentityError(`${field('enabled')} must be a boolean`);
  const scrapeInterval = parsed.scrapeInterval ?? '30s';
  if (typeof scrapeInterval !== 'string' || !/^(\d+(ms|s|m|h|d|w|y))+$/.test(scrapeInterval)) {
    throw new IdentityError(`${field('scrapeInterval')} must be a Prometheus duration such as "30s"`);
  }
  const settings: PrometheusCRSettings = {
    enabled,
    scrapeInterval,
    allowNamespaces: stringList(parsed.allowNamespaces, field('allowNamespaces')),
    denyNamespaces: stringList(parsed.denyNamespaces, field('denyNamespaces')),
  };
  for (const name of ['podMonitorSelector', 'serviceMonitorSelector', 'podMonitorNamespaceSelector', 'serviceMonitorNamespaceSelector'] as const) {
    const selector = parsed[name];
    if (selector === undefined || selector === null) continue; // nil: selects nothing (kept distinct from {})
    settings[name] = labelSelector(selector, field(name));
  }
  return settings;
}

function labelSelector(raw: unknown, where: string): LabelSelector {
  if (!isObject(raw)) throw new IdentityError(`${where} must be a label selector object`);
  const selector: LabelSelector = {};
  if (raw.matchLabels !== undefined && raw.matchLabels !== null) {
    if (!isObject(raw.matchLabels) || !Object.values(raw.matchLabels).every((v) => typeof v === 'string')) {
      throw new IdentityError(`${where}.matchLabels must map label names to strings`);
    }
    selector.matchLabels = raw.matchLabels as Record<string, string>;
  }
  if (raw.matchExpressions !== undefined && raw.matchExpressions !== null) {
    if (!Array.isArray(raw.matchExpressions)) throw new IdentityError(`${where}.matchExpressions must be a list`);
    selector.matchExpressions = raw.matchExpressions.map((expr: unknown, i) => {
      const at = `${where}.matchExpressions[${i}]`;
      if (!isObject(expr) || typeof expr.key !== 'string' || typeof expr.operator !== 'string') {
        throw new IdentityError(`${at} needs a string key and operator`);
      }
      if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(expr.operator)) {
        throw new IdentityError(`${at}.operator "${expr.operator}" is not one of In, NotIn, Exists, DoesNotExist`);
      }
      return { key: expr.key, operator: expr.operator, values: stringList(expr.values, `${at}.values`) };
    });
  }
  return selector;
}

function stringList(raw: unknown, where: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || !raw.every((v) => typeof v === 'string')) throw new IdentityError(`${where} must be a list of strings`);
  return raw as string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
