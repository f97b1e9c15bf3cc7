import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { PodMonitor, ServiceMonitor } from '../sidecar/discovery/monitor-types.js';
import { diagnoseMonitors, monitorNamespacesByGroup, type MonitorSnapshot } from './doctor-monitors.js';

const gateway = (name: string, namespace: string, portName: string): V1Pod => ({
  metadata: { name, namespace, labels: { istio: 'ingressgateway' } },
  spec: { containers: [{ name: 'istio-proxy', image: 'proxyv2', ports: [{ name: portName, containerPort: 15090 }, { name: 'status-port', containerPort: 15021 }] }] },
});
const podMonitor = (name: string, namespace: string, port: string, labels: Record<string, string> = { release: 'edot' }): PodMonitor => ({
  metadata: { name, namespace, labels },
  spec: { selector: { matchLabels: { istio: 'ingressgateway' } }, podMetricsEndpoints: [{ port }] },
});

function snapshot(overrides: Partial<MonitorSnapshot> = {}): MonitorSnapshot {
  return {
    selections: [{ group: 'otel/edot', settings: { enabled: true, podMonitorSelector: { matchLabels: { release: 'edot' } }, serviceMonitorSelector: {}, denyNamespaces: ['kube-system'] } }],
    podMonitors: [podMonitor('envoy-stats', 'istio-system', 'http-envoy-prom')],
    serviceMonitors: [],
    namespaces: [{ name: 'istio-system', labels: {} }, { name: 'kube-system', labels: {} }],
    pods: [gateway('gw-0', 'istio-system', 'http-envoy-prom')],
    services: [],
    crds: { podmonitors: true, servicemonitors: true },
    ...overrides,
  };
}

describe('doctor: monitors of each collector group', () => {
  it('a healthy selection gives no monitor findings but the kinds with no objects', () => {
    expect(diagnoseMonitors(snapshot()).map((f) => f.message)).toEqual(['group otel/edot selects ServiceMonitors, but none exist']);
  });

  it('names the port mismatch of the Istio example and the ports the pods do have', () => {
    const findings = diagnoseMonitors(snapshot({ podMonitors: [podMonitor('envoy-stats', 'istio-system', 'http-monitoring')] }));
    expect(findings).toContainEqual(expect.objectContaining({
      level: 'warn',
      message: 'PodMonitor istio-system/envoy-stats (used by otel/edot): podMetricsEndpoints[0].port "http-monitoring" matches no container port of the 1 pod(s) it selects; they name theirs: http-envoy-prom, status-port',
      hint: 'set port: one of http-envoy-prom, status-port',
    }));
  });

  it('says why a monitor is not used: labels that differ, a denied namespace', () => {
    const messages = diagnoseMonitors(snapshot({ podMonitors: [podMonitor('a', 'istio-system', 'http-envoy-prom', { release: 'prod' }), podMonitor('b', 'kube-system', 'http-envoy-prom')] })).map((f) => f.message);
    expect(messages).toContain('PodMonitor istio-system/a is not used by group otel/edot: its labels do not match prometheusCR.podMonitorSelector (wants release=edot, has release=prod)');
    expect(messages).toContain('PodMonitor kube-system/b is not used by group otel/edot: namespace kube-system is in prometheusCR.denyNamespaces');
  });

  it('a monitor that selects no pod, a ServiceMonitor port no Service has', () => {
    const service: V1Service = { metadata: { name: 'gw', namespace: 'istio-system', labels: { app: 'gw' } }, spec: { ports: [{ name: 'http2', port: 80 }] } };
    const sm: ServiceMonitor = { metadata: { name: 'gw', namespace: 'istio-system' }, spec: { selector: { matchLabels: { app: 'gw' } }, endpoints: [{ port: 'metrics' }] } };
    const messages = diagnoseMonitors(snapshot({ pods: [], services: [service], serviceMonitors: [sm] })).map((f) => f.message);
    expect(messages).toContain('PodMonitor istio-system/envoy-stats (used by otel/edot) selects no pod: selector {"matchLabels":{"istio":"ingressgateway"}} in namespaces istio-system');
    expect(messages).toContain('ServiceMonitor istio-system/gw (used by otel/edot): endpoints[0].port "metrics" matches no port of the 1 Service(s) it selects; they name theirs: http2');
  });

  it('monitors off (enabled false) or a missing CRD: nothing to say here', () => {
    expect(diagnoseMonitors(snapshot({ selections: [{ group: 'otel/edot', settings: { enabled: false } }] }))).toEqual([]);
    expect(diagnoseMonitors(snapshot({ crds: { podmonitors: false, servicemonitors: false } }))).toEqual([]);
  });

  it('a monitor two collector groups select: each scrapes all of its targets', () => {
    const settings = { enabled: true, podMonitorSelector: {} };
    const findings = diagnoseMonitors(snapshot({ selections: [{ group: 'otel/edot', settings }, { group: 'monitoring/other', settings }] }));
    expect(findings).toContainEqual(expect.objectContaining({ level: 'warn', message: 'PodMonitor istio-system/envoy-stats is used by 2 collector groups (otel/edot, monitoring/other): each of them scrapes every one of its targets' }));
  });

  it('the namespaces each group\'s monitors discover in (for the per-namespace access checks)', () => {
    expect(monitorNamespacesByGroup(snapshot())).toEqual(new Map([['otel/edot', new Set(['istio-system'])]]));
  });

  it('stays quiet about monitors that are someone else\'s: outside the namespaces and without the selector\'s labels, or without any of its keys', () => {
    const findings = diagnoseMonitors(snapshot({ podMonitors: [podMonitor('envoy-stats', 'istio-system', 'http-envoy-prom'), podMonitor('theirs', 'kube-system', 'x', { team: 'db' }), podMonitor('other-prom', 'istio-system', 'x', { prometheus: 'k8s' })] }));
    expect(findings.filter((f) => f.message.includes('theirs') || f.message.includes('other-prom'))).toEqual([]);
  });

  it('Probes and ScrapeConfigs: a near miss is named, and one two groups select is flagged', () => {
    const probe = { metadata: { name: 'websites', namespace: 'monitoring', labels: { release: 'prod' } }, spec: { prober: { url: 'bb:9115' }, targets: { staticConfig: { static: ['https://a.example'] } } } };
    const sc = { metadata: { name: 'external', namespace: 'monitoring', labels: { release: 'edot' } }, spec: { staticConfigs: [{ targets: ['x:1'] }] } };
    const settings = { enabled: true, probeSelector: { matchLabels: { release: 'edot' } }, scrapeConfigSelector: {} };
    const findings = diagnoseMonitors(snapshot({
      selections: [{ group: 'otel/edot', settings }, { group: 'otel/other', settings: { enabled: true, scrapeConfigSelector: {} } }],
      podMonitors: [], probes: [probe], scrapeConfigs: [sc], crds: { podmonitors: true, servicemonitors: true, probes: true, scrapeconfigs: true },
    })).map((f) => f.message);
    expect(findings).toContain('Probe monitoring/websites is not used by group otel/edot: its labels do not match prometheusCR.probeSelector (wants release=edot, has release=prod)');
    expect(findings).toContain('ScrapeConfig monitoring/external is used by 2 collector groups (otel/edot, otel/other): each of them scrapes every one of its targets');
  });
});
