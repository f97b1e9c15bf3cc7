// Monitor conformance: the scrape configs we generate from real PodMonitor/ServiceMonitor/Probe/ScrapeConfig fixtures
// run in a real Prometheus (2.42) fed, over http_sd, with the target groups our kubernetes_sd
// builders make from real Pod/Service/Endpoints fixtures. Prometheus must accept the configs and
// keep/drop/label exactly the targets our own pipeline (kubernetes_sd → relabel) keeps/drops/labels.
//
// One Prometheus job per (monitor job, discovered target): Prometheus 2.42 overwrites the
// discoveredLabels of dropped targets while relabeling (its Process reuses the label slice), so a
// target is identified by its scrape pool, never by its reported discovered labels.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Endpoints, V1Ingress, V1Pod, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { endpointsTargetGroup, ingressTargetGroup, podTargetGroup } from '../../sidecar/discovery/kubernetes-sd.js';
import { probeScrapeConfigs, type ProbeCR } from '../../sidecar/discovery/probe-crd.js';
import { scrapeConfigCrdScrapeConfigs, type ScrapeConfigCR } from '../../sidecar/discovery/scrape-config-crd.js';
import { podMonitorScrapeConfigs, serviceMonitorScrapeConfigs, type PodMonitor, type ServiceMonitor } from '../../sidecar/discovery/monitors.js';
import type { Labels, ScrapeConfigYaml, TargetGroup } from '../../sidecar/discovery/types.js';
import { compileRelabelConfigs, relabel } from '../../sidecar/relabel/relabel.js';
import { waitFor } from '../harness/processes.js';
import { Prometheus } from '../harness/prometheus.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, fixtures), 'utf8');
const all = <T>(path: string) => parseAllDocuments(read(path)).map((d) => d.toJSON() as T);
const tokens: Record<string, string> = { 'shop/checkout-metrics/token': 'tok', 'monitoring/exporter-token/token': 'tok2' };
const ctx = { secret: (ns: string, name: string, key: string) => tokens[`${ns}/${name}/${key}`] };

const pods = all<V1Pod>('kubernetes-sd/pods.yaml');
const services = all<V1Service>('kubernetes-sd/services.yaml');
const [endpoints] = all<V1Endpoints>('kubernetes-sd/endpoints.yaml');
const podGroups = pods.map(podTargetGroup);
const endpointGroups = [
  endpointsTargetGroup(endpoints as V1Endpoints, services.find((s) => s.metadata?.name === 'istio-ingressgateway'), (ns, name) =>
    pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name)),
];

/** The target groups of a config's static_configs, as Prometheus makes them. */
const staticGroups = (config: ScrapeConfigYaml): TargetGroup[] => (config.static_configs ?? []).map((s, i) => ({ source: `${i}`, labels: s.labels ?? {}, targets: s.targets.map((t) => ({ __address__: t })) }));
// Ingresses for the Probe with ingress targets: one of the team it selects, one of another team.
const ingress = (name: string, team: string, host: string): V1Ingress => ({
  metadata: { name, namespace: 'shop', labels: { team } },
  spec: { tls: [{ hosts: ['*.example.com'] }], rules: [{ host, http: { paths: [{ path: '/cart', pathType: 'Prefix', backend: {} }, { path: '/', pathType: 'Prefix', backend: {} }] } }] },
});
const ingressGroups = [ingressTargetGroup(ingress('storefront', 'shop', 'shop.example.com')), ingressTargetGroup(ingress('payments', 'payments', 'pay.example.org'))];
const [websitesProbe, ingressProbe] = all<ProbeCR>('monitors/probes.yaml') as [ProbeCR, ProbeCR];
const [externalScrapeConfig, podsScrapeConfig] = all<ScrapeConfigCR>('monitors/scrapeconfigs.yaml') as [ScrapeConfigCR, ScrapeConfigCR];

const monitorJobs: Array<{ config: ScrapeConfigYaml; groups: TargetGroup[] }> = [
  ...podMonitorScrapeConfigs(parse(read('monitors/envoy-stats-monitor.yaml')) as PodMonitor, ctx).map((config) => ({ config, groups: podGroups })),
  ...podMonitorScrapeConfigs(parse(read('monitors/app-podmonitor.yaml')) as PodMonitor, ctx).map((config) => ({ config, groups: podGroups })),
  ...serviceMonitorScrapeConfigs(parse(read('monitors/gateway-servicemonitor.yaml')) as ServiceMonitor, ctx).map((config) => ({ config, groups: endpointGroups })),
  ...probeScrapeConfigs(websitesProbe, ctx).map((config) => ({ config, groups: staticGroups(config) })),
  ...probeScrapeConfigs(ingressProbe, ctx).map((config) => ({ config, groups: ingressGroups })),
  ...scrapeConfigCrdScrapeConfigs(externalScrapeConfig, ctx).map((config) => ({ config, groups: staticGroups(config) })),
  // Targets with a container port only: this oracle (Prometheus 2.42) adds :80 to a port-less
  // address, Prometheus 3 (the collector's receiver, and edot-ta) no longer does.
  ...scrapeConfigCrdScrapeConfigs(podsScrapeConfig, ctx).map((config) => ({ config, groups: podGroups.map((g) => ({ ...g, targets: g.targets.filter((t) => t.__meta_kubernetes_pod_container_port_number) })) })),
];

/** Every discovered target as an http_sd entry (group labels + target labels). */
const entries = (groups: TargetGroup[]) => groups.flatMap((g) => g.targets.map(({ __address__: address, ...labels }) => ({ targets: [address ?? ''], labels: { ...g.labels, ...labels } })));

interface Probe {
  promJob: string;
  monitorJob: string;
  config: ScrapeConfigYaml;
  entry: { targets: string[]; labels: Labels };
}
const probes: Probe[] = monitorJobs.flatMap(({ config, groups }) =>
  entries(groups).map((entry, i) => ({ promJob: `${config.job_name}#${i}`, monitorJob: config.job_name, config, entry })));

type Outcome = { kind: 'active'; labels: Labels } | { kind: 'dropped' };

function ourOutcome(p: Probe, sdUrl: string): Outcome {
  const defaults: Labels = {
    job: p.promJob,
    __scheme__: p.config.scheme ?? 'http',
    __metrics_path__: p.config.metrics_path ?? '/metrics',
    __scrape_interval__: p.config.scrape_interval ?? '1m',
    __scrape_timeout__: p.config.scrape_timeout ?? '10s',
  };
  for (const [name, values] of Object.entries(p.config.params ?? {})) if (values[0]) defaults[`__param_${name}`] = values[0];
  const input: Labels = { ...defaults, ...p.entry.labels, __address__: p.entry.targets[0] ?? '', __meta_url: sdUrl };
  const out = relabel(input, compileRelabelConfigs(p.config.relabel_configs, { dotMatchesNewline: false, nameValidation: 'legacy' }));
  if (out === null) return { kind: 'dropped' };
  const visible: Labels = {};
  for (const [name, value] of Object.entries(out)) if (!name.startsWith('__') && value !== '') visible[name] = value;
  visible.instance ||= out.__address__ ?? '';
  return { kind: 'active', labels: visible };
}

describe('operator-shaped monitor jobs in a real Prometheus agree with our pipeline', () => {
  let prometheus: Prometheus | undefined;
  let server: Server | undefined;
  let base = '';
  const active = new Map<string, Labels>();
  let droppedCount = 0;
  const url = (p: Probe) => `${base}/sd/${encodeURIComponent(p.promJob)}`;

  beforeAll(async () => {
    const answers = new Map(probes.map((p) => [`/sd/${encodeURIComponent(p.promJob)}`, JSON.stringify([p.entry])]));
    server = createServer((req, res) => {
      const body = answers.get(req.url ?? '');
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' }).end(body ?? '[]');
    });
    const s = server;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    // As the collector's receiver does with target_allocator: the job's discovery becomes http_sd.
    const scrapeConfigs = probes.map((p) => {
      const { kubernetes_sd_configs: _sd, static_configs: _static, ...rest } = p.config;
      return { ...rest, job_name: p.promJob, http_sd_configs: [{ url: url(p) }] };
    });
    prometheus = await Prometheus.start({ global: { scrape_interval: '1m', scrape_timeout: '10s' }, scrape_configs: scrapeConfigs });
    const prom = prometheus;
    let previous = -1;
    await waitFor('prometheus to list one target per probe job', async () => {
      const answer = await prom.targets('any');
      active.clear();
      for (const t of answer.activeTargets) active.set(t.scrapePool, t.labels);
      droppedCount = answer.droppedTargets.length;
      const seen = active.size + droppedCount;
      const settled = seen >= probes.length && seen === previous;
      previous = seen;
      return settled;
    }, { timeoutMs: 40_000, intervalMs: 500 }).catch(() => undefined);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('Prometheus loaded every generated job and listed every discovered target', () => {
    expect([...new Set(probes.map((p) => p.monitorJob))]).toEqual([
      'podMonitor/istio-system/envoy-stats-monitor/0',
      'podMonitor/shop/app/0',
      'podMonitor/shop/app/1',
      'serviceMonitor/monitoring/istio-gateways/0',
      'probe/monitoring/websites',
      'probe/monitoring/team-ingresses',
      'scrapeConfig/monitoring/external-exporters',
      'scrapeConfig/monitoring/annotated-pods',
    ]);
    expect(active.size + droppedCount).toBe(probes.length);
    expect(droppedCount).toBe(probes.filter((p) => ourOutcome(p, url(p)).kind === 'dropped').length);
  });

  for (const p of probes) {
    it(`${p.promJob} (${p.entry.targets[0]}): same keep/drop decision and labels`, () => {
      const ours = ourOutcome(p, url(p));
      const theirs = active.get(p.promJob);
      expect(ours).toEqual(theirs ? { kind: 'active', labels: theirs } : { kind: 'dropped' });
    });
  }

  const kept = (monitorJob: string) => probes.filter((p) => p.monitorJob === monitorJob).map((p) => active.get(p.promJob)).filter((l): l is Labels => !!l);

  it('envoy-stats-monitor keeps only the gateway proxy, at the annotated port, with the operator labels', () => {
    const labels = kept('podMonitor/istio-system/envoy-stats-monitor/0');
    expect(labels).toHaveLength(3); // three istio-proxy ports, one scrape address (Prometheus dedups them in one pool)
    expect(new Set(labels.map((l) => JSON.stringify(l))).size).toBe(1);
    expect(labels[0]).toEqual({
      container: 'istio-proxy',
      instance: '10.244.1.17:15020',
      job: 'istio-system/envoy-stats-monitor',
      namespace: 'istio-system',
      pod: 'istio-ingressgateway-7d4f9c8b6-x2x9p',
      pod_name: 'istio-ingressgateway-7d4f9c8b6-x2x9p',
    });
  });

  it('the gateway ServiceMonitor keeps ready and not-ready endpoints on http-envoy-prom with service/pod/endpoint labels', () => {
    const labels = kept('serviceMonitor/monitoring/istio-gateways/0');
    expect(labels.map((l) => l.instance).sort()).toEqual(['10.244.1.17:15090', '10.244.2.5:15090', '10.244.9.9:15090', '192.168.50.9:15090']);
    expect(labels.find((l) => l.instance === '10.244.1.17:15090')).toEqual({
      container: 'istio-proxy',
      endpoint: 'http-envoy-prom',
      instance: '10.244.1.17:15090',
      istio: 'ingressgateway',
      job: 'istio-ingressgateway',
      namespace: 'istio-system',
      pod: 'istio-ingressgateway-7d4f9c8b6-x2x9p',
      service: 'istio-ingressgateway',
    });
  });

  it('the app PodMonitor keeps one target per endpoint (port name, port number) with podTargetLabels and jobLabel', () => {
    expect(kept('podMonitor/shop/app/0').map((l) => [l.instance, l.endpoint, l.job, l.team, l.app_kubernetes_io_version])).toEqual([['10.244.1.30:8443', 'metrics', 'checkout', 'payments', '1.2.3']]);
    expect(kept('podMonitor/shop/app/1').map((l) => [l.instance, l.container, l.endpoint])).toEqual([['10.244.1.30:9102', 'exporter', undefined]]);
  });

  it('the Probes: the prober as address, each URL (static, or built from an Ingress the selector keeps) as instance, the Probe\'s namespace and job', () => {
    expect(kept('probe/monitoring/websites').map((l) => [l.instance, l.job, l.namespace, l.team, l.probe])).toEqual([
      ['https://www.example.com', 'blackbox', 'monitoring', 'web', 'external'],
      ['https://shop.example.com/health', 'blackbox', 'monitoring', 'web', 'external'],
    ]);
    expect(kept('probe/monitoring/team-ingresses').map((l) => [l.instance, l.namespace, l.ingress]).sort()).toEqual([
      ['https://shop.example.com/', 'shop', 'storefront'],
      ['https://shop.example.com/cart', 'shop', 'storefront'],
    ]);
  });
});
