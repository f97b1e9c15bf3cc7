import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { compileRelabelConfigs, relabel } from '../relabel/relabel.js';
import { podTargetGroup } from './kubernetes-sd.js';
import { MonitorError, parseDurationMs, podMonitorScrapeConfigs, serviceMonitorScrapeConfigs, type MonitorContext, type PodMonitor, type ServiceMonitor } from './monitors.js';
import type { ScrapeConfigYaml } from './types.js';

const dir = new URL('../../test/fixtures/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, dir), 'utf8');
const one = <T>(path: string): T => parse(read(path)) as T;
const all = <T>(path: string): T[] => parseAllDocuments(read(path)).map((d) => d.toJSON() as T);
const expected = (path: string) => (parse(read(path)) as { scrape_configs: ScrapeConfigYaml[] }).scrape_configs;

const secrets: Record<string, string> = { 'shop/checkout-metrics/token': 's3cr3t-token' };
const ctx: MonitorContext = { secret: (ns, name, key) => secrets[`${ns}/${name}/${key}`] };

describe('PodMonitor → scrape configs as the prometheus-operator generates them', () => {
  it("turns Istio's envoy-stats-monitor into the operator's job (any namespace, DoesNotExist drop, jobLabel, user rules last)", () => {
    const configs = podMonitorScrapeConfigs(one<PodMonitor>('monitors/envoy-stats-monitor.yaml'), ctx);
    expect(configs).toEqual(expected('monitors/envoy-stats-monitor.expected.yaml'));
  });

  it('uses the own namespace without namespaceSelector, every selector operator, port name / number, secrets, TA default interval', () => {
    const configs = podMonitorScrapeConfigs(one<PodMonitor>('monitors/app-podmonitor.yaml'), ctx);
    expect(configs).toEqual(expected('monitors/app-podmonitor.expected.yaml'));
  });

  it('takes the default interval from prometheusCR.scrapeInterval', () => {
    const [config] = podMonitorScrapeConfigs(one<PodMonitor>('monitors/app-podmonitor.yaml'), { ...ctx, scrapeInterval: '1m' });
    expect(config?.scrape_interval).toBe('1m');
  });

  it('its relabel rules keep exactly the istio-proxy targets of the gateway pod, rewritten to the annotated port', () => {
    const [config] = podMonitorScrapeConfigs(one<PodMonitor>('monitors/envoy-stats-monitor.yaml'), ctx);
    const rules = compileRelabelConfigs(config?.relabel_configs);
    const pods = all<V1Pod>('kubernetes-sd/pods.yaml');
    const kept = pods.flatMap((pod) => {
      const group = podTargetGroup(pod);
      return group.targets.map((t) => relabel({ job: config?.job_name ?? '', ...group.labels, ...t }, rules)).filter((l) => l !== null);
    });
    // The gateway's three istio-proxy ports all map to 15020 (Prometheus dedups identical targets);
    // log-shipper, init containers and pods without the annotation are dropped.
    expect(kept.map((l) => [l.__address__, l.container, l.namespace, l.pod_name, l.job])).toEqual(
      Array(3).fill(['10.244.1.17:15020', 'istio-proxy', 'istio-system', 'istio-ingressgateway-7d4f9c8b6-x2x9p', 'istio-system/envoy-stats-monitor']),
    );
    expect(Object.keys(kept[0] ?? {}).filter((k) => k.startsWith('__meta_kubernetes_pod_label_'))).toEqual([]);
  });
});

describe('ServiceMonitor → scrape configs as the prometheus-operator generates them', () => {
  it('turns the gateway ServiceMonitor (port http-envoy-prom, matchNames) into the role-endpoints job', () => {
    const configs = serviceMonitorScrapeConfigs(one<ServiceMonitor>('monitors/gateway-servicemonitor.yaml'), ctx);
    expect(configs).toEqual(expected('monitors/gateway-servicemonitor.expected.yaml'));
  });

  it('with serviceDiscoveryRole EndpointSlice (prometheusCR, or the ServiceMonitor\'s own field): role endpointslice, the same rules on the slice\'s port name and address target, as the prometheus-operator generates them', () => {
    const monitor = one<ServiceMonitor>('monitors/gateway-servicemonitor.yaml');
    const viaSlices = JSON.parse(
      JSON.stringify(expected('monitors/gateway-servicemonitor.expected.yaml'))
        .replaceAll('"role":"endpoints"', '"role":"endpointslice"')
        .replaceAll('__meta_kubernetes_endpoint_port_name', '__meta_kubernetes_endpointslice_port_name')
        .replaceAll('__meta_kubernetes_endpoint_address_target_', '__meta_kubernetes_endpointslice_address_target_'),
    ) as unknown;
    expect(JSON.stringify(viaSlices)).toContain('endpointslice');
    expect(serviceMonitorScrapeConfigs(monitor, { ...ctx, serviceDiscoveryRole: 'EndpointSlice' })).toEqual(viaSlices);
    const own = { ...monitor, spec: { ...monitor.spec, serviceDiscoveryRole: 'EndpointSlice' as const } };
    expect(serviceMonitorScrapeConfigs(own, ctx)).toEqual(viaSlices);
    const back = { ...monitor, spec: { ...monitor.spec, serviceDiscoveryRole: 'Endpoints' as const } };
    expect(serviceMonitorScrapeConfigs(back, { ...ctx, serviceDiscoveryRole: 'EndpointSlice' })).toEqual(expected('monitors/gateway-servicemonitor.expected.yaml'));
  });

  it('lists no namespaces for namespaceSelector.any', () => {
    const monitor = one<ServiceMonitor>('monitors/gateway-servicemonitor.yaml');
    monitor.spec = { ...monitor.spec, namespaceSelector: { any: true } };
    expect(serviceMonitorScrapeConfigs(monitor, ctx)[0]?.kubernetes_sd_configs).toEqual([{ role: 'endpoints' }]);
  });

  it('puts TLS, basic auth and bearer token values from Secrets into the config', () => {
    const monitor: ServiceMonitor = {
      metadata: { name: 'secured', namespace: 'shop' },
      spec: {
        selector: {},
        endpoints: [{
          port: 'https-metrics',
          scheme: 'https',
          tlsConfig: { ca: { configMap: { name: 'ca', key: 'ca.crt' } }, cert: { secret: { name: 'client', key: 'tls.crt' } }, keySecret: { name: 'client', key: 'tls.key' }, serverName: 'metrics.shop' },
          basicAuth: { username: { name: 'basic', key: 'user' }, password: { name: 'basic', key: 'pass' } },
          bearerTokenSecret: { name: 'token', key: 'value' },
        }],
      },
    };
    const values: Record<string, string> = { 'client/tls.crt': 'CERT', 'client/tls.key': 'KEY', 'basic/user': 'scraper', 'basic/pass': 'pw', 'token/value': 'tok' };
    const [config] = serviceMonitorScrapeConfigs(monitor, {
      secret: (ns, name, key) => (ns === 'shop' ? values[`${name}/${key}`] : undefined),
      configMap: (ns, name, key) => (ns === 'shop' && name === 'ca' && key === 'ca.crt' ? 'CA' : undefined),
    });
    expect(config?.tls_config).toEqual({ ca: 'CA', cert: 'CERT', key: 'KEY', server_name: 'metrics.shop' });
    expect(config?.basic_auth).toEqual({ username: 'scraper', password: 'pw' });
    expect(config?.bearer_token).toBe('tok');
    expect(config?.scheme).toBe('https');
  });
});

describe('selectorMechanism RoleSelector and attachMetadata', () => {
  it('moves the label selector into kubernetes_sd selectors instead of keep rules', () => {
    const pm: PodMonitor = {
      metadata: { name: 'm', namespace: 'ns' },
      spec: { selectorMechanism: 'RoleSelector', attachMetadata: { node: true }, selector: { matchLabels: { app: 'gw' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['edge'] }] }, podMetricsEndpoints: [{ port: 'metrics' }] },
    };
    const [config] = podMonitorScrapeConfigs(pm, ctx);
    expect(config?.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: ['ns'] }, attach_metadata: { node: true }, selectors: [{ role: 'pod', label: 'app=gw,tier in (edge)' }] }]);
    expect(config?.relabel_configs?.some((r) => r.source_labels?.[0]?.startsWith('__meta_kubernetes_pod_label'))).toBe(false);
    const sm: ServiceMonitor = { metadata: { name: 'm', namespace: 'ns' }, spec: { selectorMechanism: 'RoleSelector', selector: { matchLabels: { app: 'gw' } }, endpoints: [{ port: 'metrics' }] } };
    expect(serviceMonitorScrapeConfigs(sm, ctx)[0]?.kubernetes_sd_configs?.[0]?.selectors).toEqual([{ role: 'endpoints', label: 'app=gw' }, { role: 'service', label: 'app=gw' }]);
  });
});

describe('deprecated targetPort (IntOrString)', () => {
  const keepRule = (configs: ScrapeConfigYaml[]) => configs[0]?.relabel_configs?.find((r) => r.action === 'keep' && r.source_labels?.[0]?.startsWith('__meta_kubernetes_pod_container_port'));
  const endpointRule = (configs: ScrapeConfigYaml[]) => configs[0]?.relabel_configs?.find((r) => r.target_label === 'endpoint');
  it('a number keeps by container port number, a string (even a quoted number) by port name; both set endpoint', () => {
    const pm = (targetPort: string | number): PodMonitor => ({ metadata: { name: 'm', namespace: 'ns' }, spec: { selector: {}, podMetricsEndpoints: [{ targetPort }] } });
    expect(keepRule(podMonitorScrapeConfigs(pm(9090), ctx))).toEqual({ action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_number'], regex: '9090' });
    expect(keepRule(podMonitorScrapeConfigs(pm('metrics'), ctx))).toEqual({ action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'metrics' });
    expect(keepRule(podMonitorScrapeConfigs(pm('9090'), ctx))?.source_labels).toEqual(['__meta_kubernetes_pod_container_port_name']);
    expect(endpointRule(podMonitorScrapeConfigs(pm(9090), ctx))).toEqual({ target_label: 'endpoint', replacement: '9090' });
    const sm: ServiceMonitor = { metadata: { name: 'm', namespace: 'ns' }, spec: { selector: {}, endpoints: [{ targetPort: 'web' }] } };
    expect(keepRule(serviceMonitorScrapeConfigs(sm, ctx))).toEqual({ action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'web' });
  });

  it('a PodMonitor endpoint without any port keeps every container port (as the operator; Istio relies on it)', () => {
    const [config] = podMonitorScrapeConfigs(one<PodMonitor>('monitors/envoy-stats-monitor.yaml'), ctx);
    expect(keepRule([config as ScrapeConfigYaml])).toBeUndefined();
  });
});

describe('invalid monitors are rejected with an error naming the object', () => {
  const monitors = all<PodMonitor | ServiceMonitor>('monitors/invalid-monitors.yaml');
  const reasons: Record<string, RegExp> = {
    'bad-regex': /^PodMonitor shop\/bad-regex: endpoint\[0\]: relabelings: relabel_configs\[0\]\.regex: invalid regex/,
    'unknown-action': /^PodMonitor shop\/unknown-action: endpoint\[0\]: relabelings: relabel_configs\[0\]\.action: unknown relabel action "explode"/,
    'no-port': /^ServiceMonitor shop\/no-port: endpoint\[0\]: port or targetPort is required/,
    'timeout-over-interval': /^PodMonitor shop\/timeout-over-interval: endpoint\[0\]: scrapeTimeout "10s" greater than scrapeInterval "5s"/,
    'missing-secret': /^ServiceMonitor shop\/missing-secret: basicAuth\.username: key "user" of Secret shop\/absent not found/,
    'bad-selector': /^PodMonitor shop\/bad-selector: spec\.selector\.matchExpressions\[0\]\.operator: "Near"/,
  };
  for (const monitor of monitors) {
    const name = monitor.metadata?.name ?? '';
    it(`rejects ${name}`, () => {
      const build = () => (monitor.kind === 'ServiceMonitor' ? serviceMonitorScrapeConfigs(monitor as ServiceMonitor, ctx) : podMonitorScrapeConfigs(monitor as PodMonitor, ctx));
      expect(build).toThrow(MonitorError);
      expect(build).toThrow(reasons[name] ?? /never/);
    });
  }

  it('covers every fixture', () => {
    expect(monitors.map((m) => m.metadata?.name).sort()).toEqual(Object.keys(reasons).sort());
  });
});

describe('durations', () => {
  it('parses Prometheus durations and rejects others', () => {
    expect(parseDurationMs('15s')).toBe(15_000);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('0')).toBe(0);
    expect(parseDurationMs('1.5s')).toBeUndefined();
    expect(parseDurationMs('')).toBeUndefined();
  });
});

// Proof that the generated configs are valid Prometheus configuration, checked by Prometheus's own
// promtool (Debian's prometheus package); skipped where promtool is not installed.
const promtool = (() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!promtool)('promtool check config', () => {
  it('accepts every generated scrape config, discovery swapped for http_sd as the receiver does (this build has no kubernetes_sd)', () => {
    const generated = [
      ...podMonitorScrapeConfigs(one<PodMonitor>('monitors/envoy-stats-monitor.yaml'), ctx),
      ...podMonitorScrapeConfigs(one<PodMonitor>('monitors/app-podmonitor.yaml'), ctx),
      ...serviceMonitorScrapeConfigs(one<ServiceMonitor>('monitors/gateway-servicemonitor.yaml'), ctx),
    ];
    const configs = generated.map(({ kubernetes_sd_configs: _sd, ...rest }) => ({
      ...rest,
      http_sd_configs: [{ url: `http://127.0.0.1:27390/jobs/${encodeURIComponent(rest.job_name)}/targets?collector_id=x` }],
    }));
    expect(configs).toHaveLength(4);
    const tmp = mkdtempSync(join(tmpdir(), 'edot-ta-promtool-'));
    try {
      const file = join(tmp, 'prometheus.yml');
      writeFileSync(file, stringify({ scrape_configs: configs }));
      const output = execFileSync('promtool', ['check', 'config', '--syntax-only', file], { encoding: 'utf8' });
      expect(output).toContain('SUCCESS');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
