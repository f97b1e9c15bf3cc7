// Kubernetes label selectors (matchLabels + matchExpressions) and the Target Allocator's
// prometheusCR selection rules: which PodMonitors/ServiceMonitors a sidecar uses.
import type { Labels } from './types.js';

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

/** Kubernetes semantics: every matchLabels pair and every expression must hold; {} matches all. */
export function matchesLabelSelector(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value ?? '')) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value ?? '')) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The selector in the API's `labelSelector=` query syntax (e.g. `app=gw,tier in (a,b),!legacy`). */
export function labelSelectorString(selector: LabelSelector): string {
  const parts: string[] = [];
  for (const key of Object.keys(selector.matchLabels ?? {}).sort()) parts.push(`${key}=${selector.matchLabels?.[key] ?? ''}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
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
  /** Non-empty: only monitors in these namespaces (denyNamespaces then ignored). */
  allowNamespaces?: string[];
  denyNamespaces?: string[];
}

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
  return {
    enabled: cr.enabled === undefined ? undefined : cr.enabled === true,
    scrapeInterval: cr.scrapeInterval as string | undefined,
    podMonitorSelector: selector('podMonitorSelector'),
    serviceMonitorSelector: selector('serviceMonitorSelector'),
    podMonitorNamespaceSelector: selector('podMonitorNamespaceSelector'),
    serviceMonitorNamespaceSelector: selector('serviceMonitorNamespaceSelector'),
    allowNamespaces: names('allowNamespaces'),
    denyNamespaces: names('denyNamespaces'),
  };
}

export interface MonitorObjectMeta {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
}

/**
 * The monitors of one kind the TA would select: monitor label selector (nil = none),
 * namespace selector over the namespaces' labels (nil = all), then allow/deny lists.
 * `namespaceLabels` returns undefined for a namespace that is not known (not selected).
 */
export function selectMonitors<M extends MonitorObjectMeta>(
  monitors: Iterable<M>,
  kind: 'PodMonitor' | 'ServiceMonitor',
  cr: PrometheusCRSettings,
  namespaceLabels: (namespace: string) => Labels | undefined,
): M[] {
  const selector = kind === 'PodMonitor' ? cr.podMonitorSelector : cr.serviceMonitorSelector;
  if (selector === undefined || selector === null) return [];
  const namespaceSelector = (kind === 'PodMonitor' ? cr.podMonitorNamespaceSelector : cr.serviceMonitorNamespaceSelector) ?? {};
  const selectsAllNamespaces = selectsEverything(namespaceSelector);
  const allow = cr.allowNamespaces ?? [];
  const deny = cr.denyNamespaces ?? [];
  const selected: M[] = [];
  for (const monitor of monitors) {
    const namespace = monitor.metadata?.namespace ?? '';
    if (allow.length > 0 ? !allow.includes(namespace) : deny.includes(namespace)) continue;
    if (!matchesLabelSelector(selector, monitor.metadata?.labels ?? {})) continue;
    if (!selectsAllNamespaces) {
      const labels = namespaceLabels(namespace);
      if (!labels || !matchesLabelSelector(namespaceSelector, labels)) continue;
    }
    selected.push(monitor);
  }
  return selected;
}

/** Whether selection needs namespace labels (so the caller knows to watch namespaces). */
export function needsNamespaceLabels(cr: PrometheusCRSettings): boolean {
  return [cr.podMonitorNamespaceSelector, cr.serviceMonitorNamespaceSelector].some((s) => !!s && !selectsEverything(s));
}

function selectsEverything(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}
