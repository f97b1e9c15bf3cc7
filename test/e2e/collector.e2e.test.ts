// The real client: one OpenTelemetry collector per member (the contrib prometheus receiver EDOT
// ships, built by setup.sh), its config rewritten by `edot-ta sidecar render`, talking to its
// own sidecar over the target_allocator protocol — the receiver fetches /scrape_configs,
// validates the whole answer with Prometheus' loader, swaps each job's discovery for http_sd on
// /jobs/<escaped job>/targets and scrapes. What was scraped is read from the collectors' own
// output (the file exporter): every target exactly once across collectors, for a static job, a
// kubernetes_sd job, a PodMonitor and a ServiceMonitor, through a planned leave and a crash.
// Short lease settings (renew 1 s, duration 4 s, hold 8 s = 1 s http_sd refresh + the
// receiver's 5 s discovery throttle + 2 s scrape interval) so membership changes play out in
// seconds; every bound below is derived from those intervals with at least 2x slack.
import { mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { collectorConfig, largestGaps, scrapedBy, type Collector } from '../harness/collector.js';
import { clients, clusterEndpoints, createTestNamespace, setPodRunning } from '../harness/context.js';
import { sidecarServiceAccount } from './support/service-accounts.js';
import { freePort, waitFor } from '../harness/processes.js';
import { hostAddress, serveEnvoyStats, serveMetrics } from '../harness/targets.js';
import { startMember as startCollectorPod, type Member } from './support/member.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const monitoring = { group: 'monitoring.coreos.com', version: 'v1' };
const lease = { renew: 1, duration: 4, hold: 8 };
/** Scrape intervals (s): the static job scrapes every second, the rest every 2 s. */
const intervalOf = (key: string) => (key.startsWith('static-nodeless|') ? 1 : 2);
const longestInterval = 2;
/** A target moved between members: http_sd refresh (1 s) + the receiver's discovery throttle (5 s) + one scrape interval. */
const pickupSeconds = 1 + 5 + longestInterval;


describe('real collectors (prometheus receiver) against their sidecars', () => {
  const { core, custom } = clients();
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-collector-e2e-'));
  const servers: Server[] = [];
  const members = new Map<string, Member>();
  /** Collectors that stopped (their output still counts for gap checks). */
  const stopped: Collector[] = [];
  let namespace = '';
  /** job|instance of every target that must be scraped. */
  const expected = new Set<string>();
  const gateways: Array<[string, string]> = [
    ['node-0', '127.0.11.1'], ['node-1', '127.0.11.2'], ['node-2', '127.0.11.3'], ['node-3', '127.0.11.4'],
    ['node-x', '127.0.11.8'], ['node-x', '127.0.11.9'], // a node without a collector
  ];
  /** gateway pod IP -> its Service endpoint address. */
  const serviceTargets = new Map<string, string>();
  const staticTargets = ['127.0.11.50', '127.0.11.51', '127.0.11.52', '127.0.11.53'].map((ip) => `${ip}:15090`);

  let sidecarKubeconfig = '';

  beforeAll(async () => {
    namespace = await createTestNamespace('collector');
    // The sidecars run under the collector's ServiceAccount with the shipped RBAC, not as admin.
    sidecarKubeconfig = await sidecarServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir });
    const pod = parse(readFileSync(new URL('sidecar/istio-gateway-pod.yaml', fixtures), 'utf8')) as k8s.V1Pod & { metadata: { name: string }; spec: { nodeName: string } };
    // The Service's endpoints: current servers refuse loopback IPs there, so each gateway's
    // Service endpoint is this machine's address with a port of its own.
    const host = hostAddress();
    const subsets: k8s.V1EndpointSubset[] = [];
    for (const [i, [node, ip]] of gateways.entries()) {
      const body = structuredClone(pod);
      body.metadata.name = `gateway-${i}`;
      body.spec.nodeName = node;
      const created = await core.createNamespacedPod({ namespace, body });
      await setPodRunning(namespace, body.metadata.name, ip);
      servers.push(await serveEnvoyStats(ip));
      const servicePort = await freePort(host);
      servers.push(await serveMetrics(host, servicePort, '/stats/prometheus', `envoy_server_live{pod="gateway-${i}"} 1\n`));
      subsets.push({ addresses: [{ ip: host, nodeName: node, targetRef: { kind: 'Pod', name: body.metadata.name, namespace, uid: created.metadata?.uid } }], ports: [{ name: 'http-envoy-prom', port: servicePort }] });
      for (const job of ['gateway-pods', `${namespace}/envoy-stats-monitor`]) expected.add(`${job}|${ip}:15090`);
      expected.add(`gateways|${host}:${servicePort}`);
      serviceTargets.set(ip, `${host}:${servicePort}`);
    }
    for (const address of staticTargets) {
      servers.push(await serveEnvoyStats(address.split(':')[0]!));
      expected.add(`static-nodeless|${address}`);
    }
    // A ServiceMonitor through a Service and its Endpoints (no controller runs: we write them as the endpoints controller would).
    // It asks for the Endpoints role itself: its targets listen on loopback, which EndpointSlices refuse.
    await core.createNamespacedService({ namespace, body: { metadata: { name: 'gateways', labels: { app: 'gateways' } }, spec: { selector: { istio: 'ingressgateway' }, ports: [{ name: 'http-envoy-prom', port: 15090, targetPort: 15090 }] } } });
    await core.createNamespacedEndpoints({ namespace, body: { metadata: { name: 'gateways', labels: { app: 'gateways' } }, subsets } });
    await custom.createNamespacedCustomObject({
      ...monitoring, namespace, plural: 'servicemonitors',
      body: { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'gateways', namespace }, spec: { serviceDiscoveryRole: 'Endpoints', selector: { matchLabels: { app: 'gateways' } }, namespaceSelector: { matchNames: [namespace] }, endpoints: [{ port: 'http-envoy-prom', path: '/stats/prometheus', interval: '2s' }] } },
    });
    const monitor = parse(readFileSync(new URL('sidecar/envoy-stats-monitor.yaml', fixtures), 'utf8')) as { metadata: { namespace?: string }; spec: { namespaceSelector?: unknown } };
    monitor.metadata.namespace = namespace;
    monitor.spec.namespaceSelector = { matchNames: [namespace] };
    await custom.createNamespacedCustomObject({ ...monitoring, namespace, plural: 'podmonitors', body: monitor });
  });

  afterAll(async () => {
    for (const member of members.values()) {
      await member.collector.stop(2_000);
      await member.sidecar.stop(2_000);
    }
    for (const server of servers) server.close();
  });

  /** The collector config a user would have: a static job and a kubernetes_sd job in the prometheus receiver. */
  function userConfig(output: string): string {
    return collectorConfig(
      [
        { job_name: 'static-nodeless', scrape_interval: '1s', metrics_path: '/stats/prometheus', static_configs: [{ targets: staticTargets }] },
        {
          job_name: 'gateway-pods',
          metrics_path: '/stats/prometheus',
          kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] } }],
          relabel_configs: [
            { source_labels: ['__meta_kubernetes_pod_container_port_name'], action: 'keep', regex: 'http-envoy-prom' },
          ],
        },
      ],
      output,
      { global: { scrape_interval: '2s', scrape_timeout: '1s' } },
    );
  }

  /** A collector pod: `edot-ta sidecar render` on its config, its sidecar, then the collector on the rendered config. */
  async function startMember(name: string, node: string): Promise<Member> {
    const member = await startCollectorPod({
      core, kubeconfig: sidecarKubeconfig, namespace, name, node, dir, config: userConfig,
      sidecarEnv: {
        EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, podMonitorSelector: {}, serviceMonitorSelector: {}, allowNamespaces: [namespace] }),
        EDOT_TA_LEASE_RENEW_SECONDS: String(lease.renew),
        EDOT_TA_LEASE_DURATION_SECONDS: String(lease.duration),
        EDOT_TA_HANDOVER_HOLD_SECONDS: String(lease.hold),
        EDOT_TA_LEAVE_TIMEOUT_SECONDS: '20',
      },
    });
    members.set(name, member);
    return member;
  }

  const collectors = () => [...members.values()].map((m) => m.collector);

  /** Waits until, over the last scrape window, every expected target was scraped by exactly one collector and nothing else was scraped. */
  async function waitExactlyOnce(what: string, timeoutMs: number, also: (by: Map<string, string[]>) => boolean = () => true): Promise<Map<string, string[]>> {
    let last = new Map<string, string[]>();
    const windowMs = (2 * longestInterval + 1) * 1000;
    await waitFor(what, () => {
      last = scrapedBy(collectors(), Date.now() - windowMs);
      return last.size === expected.size && [...expected].every((key) => last.get(key)?.length === 1) && also(last);
    }, {
      timeoutMs,
      intervalMs: 500,
      describe: () => {
        const missing = [...expected].filter((key) => !last.has(key));
        const doubled = [...last].filter(([, by]) => by.length > 1);
        const unexpected = [...last.keys()].filter((key) => !expected.has(key));
        return `missing ${JSON.stringify(missing)}; doubled ${JSON.stringify(doubled)}; unexpected ${JSON.stringify(unexpected)}\n${collectors().map((c) => `${c.name}: ${c.logTail(5)}`).join('\n')}`;
      },
    });
    return last;
  }

  it('the receiver takes every job from its sidecar and, across four collectors, every target is scraped exactly once (pod targets by the collector on their node)', async () => {
    await Promise.all(['collector-0', 'collector-1', 'collector-2', 'collector-3'].map((name, i) => startMember(name, `node-${i}`)));
    // Joins settle (a new sidecar waits 1.5 renewals before it counts members), then targets move within pickupSeconds.
    const by = await waitExactlyOnce('exactly-once with four collectors', 2 * (lease.duration + pickupSeconds) * 1000 + 30_000);
    console.log(`four collectors: ${by.size} targets, each scraped by exactly one (${[...members.keys()].map((name) => `${name}: ${[...by.values()].filter((v) => v[0] === name).length}`).join(', ')})`);
    for (const [node, ip] of gateways) {
      if (node === 'node-x') continue;
      const owner = [`collector-${node.slice(-1)}`];
      for (const job of ['gateway-pods', `${namespace}/envoy-stats-monitor`]) expect(by.get(`${job}|${ip}:15090`), `${job} ${ip}`).toEqual(owner);
      expect(by.get(`gateways|${serviceTargets.get(ip)}`), `ServiceMonitor endpoint of ${ip}`).toEqual(owner);
    }
    // The receiver re-validated and used the sidecar's answer: its jobs are the sidecar's (job names escaped in the http_sd URL).
    // It got them with the pod's API token (the collector sent it, as render configured it): without it, 401.
    const first = members.get('collector-0')!;
    expect((await fetch(`${first.endpoint}/scrape_configs`)).status).toBe(401);
    expect((await fetch(`${first.endpoint}/jobs/gateway-pods/targets?collector_id=collector-0`)).status).toBe(401);
    const jobs = Object.keys((await (await fetch(`${first.endpoint}/scrape_configs`, { headers: { Authorization: `Bearer ${first.token}` } })).json()) as Record<string, unknown>).sort();
    expect(jobs).toEqual(['gateway-pods', `podMonitor/${namespace}/envoy-stats-monitor/0`, `serviceMonitor/${namespace}/gateways/0`, 'static-nodeless'].sort());
    for (const member of members.values()) expect(member.collector.logTail(200)).not.toMatch(/"level":"error"/);
  });

  it('a planned leave (SIGTERM; the collector scrapes on until its sidecar has handed over): no target misses a scrape, exactly-once after', async () => {
    const leaving = members.get('collector-1')!;
    const all = collectors();
    const since = Date.now();
    await leaving.sidecar.stop(30_000); // returns once the sidecar exited, after its handover
    expect(await leaving.sidecar.exited).toBe(0);
    await leaving.collector.stop();
    members.delete('collector-1');
    stopped.push(leaving.collector);
    await waitExactlyOnce('exactly-once after the leave', 2 * pickupSeconds * 1000);
    const gaps = largestGaps(all, since);
    console.log(`planned leave: largest scrape gap ${Math.max(...gaps.values()).toFixed(2)} s over ${gaps.size} targets`);
    expect(gaps.size).toBe(expected.size);
    // A missed scrape would show as a gap of two intervals.
    for (const [key, gap] of gaps) expect(gap, key).toBeLessThan(intervalOf(key) * 1.5);
  });

  it('a crash (sidecar and collector SIGKILLed): the survivors scrape every target exactly once again within lease duration + pickup', async () => {
    const victim = members.get('collector-2')!;
    process.kill(victim.sidecar.pid, 'SIGKILL');
    process.kill(victim.collector.pid, 'SIGKILL');
    await Promise.all([victim.sidecar.exited, victim.collector.exited]);
    members.delete('collector-2');
    const killedAt = Date.now();
    // Lease expiry, then the moves; a target the bounded loads shift between survivors is held by
    // its old owner for the handover hold (make-before-break) before exactly-once holds again.
    await waitExactlyOnce('exactly-once after the crash', 2 * (lease.duration + lease.renew + lease.hold + pickupSeconds) * 1000);
    console.log(`crash: every target scraped exactly once again after ${((Date.now() - killedAt) / 1000).toFixed(1)} s (lease duration ${lease.duration} s, pickup ${pickupSeconds} s)`);
  });
});
