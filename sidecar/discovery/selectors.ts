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
