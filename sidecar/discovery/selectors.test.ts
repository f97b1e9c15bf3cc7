import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { PodMonitor, ServiceMonitor } from './monitor-types.js';
import { parsePrometheusCR, SelectorError, validateLabelSelector, type PrometheusCRSettings } from '../../contract/prometheus-cr.js';
import { labelSelectorString, matchesLabelSelector, needsNamespaceLabels, selectMonitors } from './selectors.js';

const monitors = parseAllDocuments(readFileSync(new URL('../../test/fixtures/monitors/selection.yaml', import.meta.url), 'utf8')).map((d) => d.toJSON() as PodMonitor | ServiceMonitor);
const podMonitors = monitors.filter((m) => m.kind === 'PodMonitor');
const serviceMonitors = monitors.filter((m) => m.kind === 'ServiceMonitor');
const namespaces: Record<string, Record<string, string>> = {
  'istio-system': { 'kubernetes.io/metadata.name': 'istio-system', mesh: 'true' },
  shop: { 'kubernetes.io/metadata.name': 'shop', team: 'payments', mesh: 'true' },
  legacy: { 'kubernetes.io/metadata.name': 'legacy' },
  monitoring: { 'kubernetes.io/metadata.name': 'monitoring' },
};
const nsLabels = (ns: string) => namespaces[ns];
const names = (list: Array<{ metadata?: { namespace?: string; name?: string } }>) => list.map((m) => `${m.metadata?.namespace}/${m.metadata?.name}`);

describe('label selectors (Kubernetes semantics)', () => {
  const labels = { app: 'gw', tier: 'edge' };
  it('matches matchLabels and every operator', () => {
    expect(matchesLabelSelector({}, labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { app: 'gw' } }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { app: 'other' } }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['edge', 'core'] }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels)).toBe(true); // absent label passes NotIn
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['edge'] }] }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels)).toBe(false);
  });

  it('renders the API query syntax', () => {
    expect(labelSelectorString({ matchLabels: { b: '2', a: '1' }, matchExpressions: [{ key: 't', operator: 'In', values: ['y', 'x'] }, { key: 'u', operator: 'NotIn', values: ['z'] }, { key: 'e', operator: 'Exists' }, { key: 'd', operator: 'DoesNotExist' }] }))
      .toBe('a=1,b=2,t in (x,y),u notin (z),e,!d');
  });

  it('rejects malformed selectors with the field path', () => {
    expect(() => validateLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In' }] }, 'sel')).toThrow('sel.matchExpressions[0]: operator In needs at least one value');
    expect(() => validateLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }, 'sel')).toThrow(SelectorError);
    expect(() => validateLabelSelector({ matchLabels: { a: 1 } }, 'sel')).toThrow('sel.matchLabels.a: must be a string');
  });
});

describe('selectMonitors (Target Allocator prometheusCR rules)', () => {
  it('a nil monitor selector selects nothing, {} selects everything', () => {
    expect(selectMonitors(podMonitors, 'PodMonitor', {}, nsLabels)).toEqual([]);
    expect(selectMonitors(podMonitors, 'PodMonitor', { podMonitorSelector: null }, nsLabels)).toEqual([]);
    expect(names(selectMonitors(podMonitors, 'PodMonitor', { podMonitorSelector: {} }, nsLabels))).toEqual(['istio-system/envoy-stats-monitor', 'shop/app', 'shop/other-team', 'legacy/legacy']);
  });

  it('a selector mismatch leaves a monitor out', () => {
    const cr: PrometheusCRSettings = { podMonitorSelector: { matchLabels: { release: 'edot' } } };
    expect(names(selectMonitors(podMonitors, 'PodMonitor', cr, nsLabels))).toEqual(['istio-system/envoy-stats-monitor', 'shop/app', 'legacy/legacy']);
  });

  it('a namespace selector leaves out monitors in namespaces that do not match (nil = all namespaces, the TA default)', () => {
    const cr: PrometheusCRSettings = { podMonitorSelector: {}, podMonitorNamespaceSelector: { matchLabels: { mesh: 'true' } } };
    expect(names(selectMonitors(podMonitors, 'PodMonitor', cr, nsLabels))).toEqual(['istio-system/envoy-stats-monitor', 'shop/app', 'shop/other-team']);
    expect(needsNamespaceLabels(cr)).toBe(true);
    expect(needsNamespaceLabels({ podMonitorSelector: {}, podMonitorNamespaceSelector: {} })).toBe(false);
  });

  it('a monitor in an unknown namespace is not selected by a namespace selector', () => {
    const cr: PrometheusCRSettings = { podMonitorSelector: {}, podMonitorNamespaceSelector: { matchExpressions: [{ key: 'mesh', operator: 'DoesNotExist' }] } };
    expect(names(selectMonitors(podMonitors, 'PodMonitor', cr, (ns) => (ns === 'legacy' ? undefined : nsLabels(ns))))).toEqual([]);
  });

  it('allowNamespaces restricts, denyNamespaces excludes (ignored when an allow list is set)', () => {
    expect(names(selectMonitors(podMonitors, 'PodMonitor', { podMonitorSelector: {}, allowNamespaces: ['shop'] }, nsLabels))).toEqual(['shop/app', 'shop/other-team']);
    expect(names(selectMonitors(podMonitors, 'PodMonitor', { podMonitorSelector: {}, denyNamespaces: ['shop'] }, nsLabels))).toEqual(['istio-system/envoy-stats-monitor', 'legacy/legacy']);
    expect(names(selectMonitors(podMonitors, 'PodMonitor', { podMonitorSelector: {}, allowNamespaces: ['shop'], denyNamespaces: ['shop'] }, nsLabels))).toEqual(['shop/app', 'shop/other-team']);
  });

  it('ServiceMonitors use their own selectors', () => {
    expect(selectMonitors(serviceMonitors, 'ServiceMonitor', { podMonitorSelector: {} }, nsLabels)).toEqual([]);
    expect(names(selectMonitors(serviceMonitors, 'ServiceMonitor', { serviceMonitorSelector: { matchLabels: { release: 'edot' } } }, nsLabels))).toEqual(['monitoring/istio-gateways']);
  });
});

describe('parsePrometheusCR (EDOT_TA_PROMETHEUS_CR)', () => {
  it('keeps nil and {} apart and validates selectors', () => {
    const cr = parsePrometheusCR(JSON.parse('{"enabled":true,"scrapeInterval":"15s","podMonitorSelector":{},"serviceMonitorSelector":null,"denyNamespaces":["kube-system"]}'));
    expect(cr).toMatchObject({ enabled: true, scrapeInterval: '15s', podMonitorSelector: {}, serviceMonitorSelector: null, denyNamespaces: ['kube-system'] });
    expect(cr.podMonitorNamespaceSelector).toBeUndefined();
    expect(() => parsePrometheusCR({ podMonitorSelector: { matchExpressions: [{ key: 'a', operator: 'Bogus' }] } })).toThrow('prometheusCR.podMonitorSelector.matchExpressions[0].operator');
    expect(() => parsePrometheusCR({ allowNamespaces: 'shop' })).toThrow('prometheusCR.allowNamespaces');
    expect(parsePrometheusCR({ serviceDiscoveryRole: 'EndpointSlice' }).serviceDiscoveryRole).toBe('EndpointSlice');
    expect(() => parsePrometheusCR({ serviceDiscoveryRole: 'endpointslices' })).toThrow('prometheusCR.serviceDiscoveryRole: must be Endpoints or EndpointSlice, got "endpointslices"');
  });
});
