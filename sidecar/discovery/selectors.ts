// Kubernetes label selectors (matchLabels + matchExpressions) and the Target Allocator's
// prometheusCR selection rules: which PodMonitors/ServiceMonitors a sidecar uses.
import { type LabelSelector, type PrometheusCRSettings } from '../../contract/prometheus-cr.js';
import type { Labels } from './types.js';

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

export interface MonitorObjectMeta {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
}

/**
 * Whether the TA would select one monitor of `kind`, and if not, why (for `edot-ta doctor`):
 * monitor label selector (nil = none), allow/deny lists, then the namespace selector over the
 * namespace's labels (nil = all). `namespaceLabels` returns undefined for an unknown namespace.
 */
/** The kinds a prometheusCR selects, with their selector and namespace selector fields. */
export type MonitorKind = 'PodMonitor' | 'ServiceMonitor' | 'ScrapeConfig' | 'Probe';
export const selectorFields = {
  PodMonitor: ['podMonitorSelector', 'podMonitorNamespaceSelector'],
  ServiceMonitor: ['serviceMonitorSelector', 'serviceMonitorNamespaceSelector'],
  ScrapeConfig: ['scrapeConfigSelector', 'scrapeConfigNamespaceSelector'],
  Probe: ['probeSelector', 'probeNamespaceSelector'],
} as const;

export function monitorSelection(
  monitor: MonitorObjectMeta,
  kind: MonitorKind,
  cr: PrometheusCRSettings,
  namespaceLabels: (namespace: string) => Labels | undefined,
): { selected: true } | { selected: false; reason: string } {
  const [field, nsField] = selectorFields[kind];
  const selector = cr[field];
  if (selector === undefined || selector === null) return { selected: false, reason: `prometheusCR.${field} is not set (nil selects no ${kind})` };
  const namespace = monitor.metadata?.namespace ?? '';
  const allow = cr.allowNamespaces ?? [];
  if (allow.length > 0 && !allow.includes(namespace)) return { selected: false, reason: `namespace ${namespace} is not in prometheusCR.allowNamespaces [${allow.join(', ')}]` };
  if (allow.length === 0 && (cr.denyNamespaces ?? []).includes(namespace)) return { selected: false, reason: `namespace ${namespace} is in prometheusCR.denyNamespaces` };
  const labels = monitor.metadata?.labels ?? {};
  if (!matchesLabelSelector(selector, labels)) return { selected: false, reason: `its labels do not match prometheusCR.${field} (${selectorMismatch(selector, labels)})` };
  const namespaceSelector = cr[nsField] ?? {};
  if (!selectsEverything(namespaceSelector)) {
    const nsLabels = namespaceLabels(namespace);
    if (!nsLabels || !matchesLabelSelector(namespaceSelector, nsLabels)) {
      return { selected: false, reason: `namespace ${namespace} does not match prometheusCR.${nsField} (${selectorMismatch(namespaceSelector, nsLabels ?? {})})` };
    }
  }
  return { selected: true };
}

/** Which requirements of `selector` the labels fail, e.g. `wants release=edot, has release=prod`. */
export function selectorMismatch(selector: LabelSelector, labels: Labels): string {
  const failed: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) failed.push(`wants ${key}=${value}, has ${key in labels ? `${key}=${labels[key]}` : `no ${key}`}`);
  }
  for (const e of selector.matchExpressions ?? []) {
    if (!matchesLabelSelector({ matchExpressions: [e] }, labels)) failed.push(`wants ${e.key} ${e.operator}${e.values?.length ? ` (${e.values.join(', ')})` : ''}, has ${e.key in labels ? `${e.key}=${labels[e.key]}` : `no ${e.key}`}`);
  }
  return failed.join('; ');
}

/** The monitors of one kind the TA would select (see monitorSelection). */
export function selectMonitors<M extends MonitorObjectMeta>(
  monitors: Iterable<M>,
  kind: MonitorKind,
  cr: PrometheusCRSettings,
  namespaceLabels: (namespace: string) => Labels | undefined,
): M[] {
  return [...monitors].filter((monitor) => monitorSelection(monitor, kind, cr, namespaceLabels).selected);
}

/** Whether selection needs namespace labels (so the caller knows to watch namespaces). */
export function needsNamespaceLabels(cr: PrometheusCRSettings): boolean {
  return [cr.podMonitorNamespaceSelector, cr.serviceMonitorNamespaceSelector, cr.scrapeConfigNamespaceSelector, cr.probeNamespaceSelector].some((s) => !!s && !selectsEverything(s));
}

function selectsEverything(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}
