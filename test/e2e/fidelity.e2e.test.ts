// The rule, on real collectors: with edot-ta a collector scrapes every target it scraped before,
// once across collectors. A kube-stack-shaped daemon config (a per-node job on
// ${env:OTEL_K8S_NODE_IP}, a shared static job, a prometheus-operator sharded job with
// `regex: $(SHARD)`, a job with an unquoted `regex: true`, a blackbox-style probe job whose
// targets all end on one exporter address, a file_sd job the sidecar does not run, an invalid
// job) is rendered with per-pod env for 3 collectors on 4 nodes, on a cluster of
// its own **without the monitor CRDs**: the sidecars are ready anyway; then the CRDs and a
// PodMonitor appear and their targets are scraped without a restart.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Cluster } from '../harness/cluster.js';
import { collectorConfig, scrapedBy } from '../harness/collector.js';
import { installCrds } from '../harness/crds.js';
import { registerNode } from '../harness/nodes.js';
import { DnsServer, resolvConfText } from '../harness/dns-server.js';
import { freePort, waitFor } from '../harness/processes.js';
import { serveEnvoyStats, serveMetrics } from '../harness/targets.js';
import { startMember, type Member } from './support/member.js';
import { sidecarServiceAccount } from './support/service-accounts.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const crdPollSeconds = 1;
/** Longest scrape interval (s) of the jobs below; a window of two of them sees every target. */
const longestInterval = 2;
/** A new target reaches a scrape: sidecar recompute + http_sd refresh (1 s) + the receiver's 5 s discovery throttle + one interval. */
const pickupSeconds = 1 + 1 + 5 + longestInterval;

describe('real configs on real collectors: nothing lost, nothing doubled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-fidelity-e2e-'));
  const servers: Server[] = [];
  const members: Member[] = [];
  const namespace = 'observability';
  let cluster: Cluster;
  let kc: k8s.KubeConfig;
  /** job|instance → who must scrape it: 'once' (any one collector), 'all' (each, as before injection) or one collector's name. */
  const expected = new Map<string, string>();
  const nodeIp = (i: number) => `127.0.12.${10 + i}`;
  const shared = ['127.0.12.50', '127.0.12.51', '127.0.12.52', '127.0.12.53'].map((ip) => `${ip}:15090`);
  const sharded = ['127.0.12.60', '127.0.12.61', '127.0.12.62'].map((ip) => `${ip}:15090`);
  const flagged = ['127.0.12.70', '127.0.12.71'].map((ip) => `${ip}:15090`);
  let fileTarget = '';
  /** Shared sources every sidecar reads the same: a ConfigMap-like directory, DNS, an http_sd endpoint. */
  const sharedDir = join(dir, 'configmap');
  const sharedFileTargets = ['127.0.12.91', '127.0.12.92'].map((ip) => `${ip}:15090`);
  const dnsTargets = ['127.0.12.93', '127.0.12.94', '127.0.12.95'].map((ip) => `${ip}:15090`);
  const httpTargets = ['127.0.12.96', '127.0.12.97'].map((ip) => `${ip}:15090`);
  let dns: DnsServer | undefined;
  let sdUrl = '';
  /** Blackbox-style probes: every target ends on one exporter address, told apart by __param_target. */
  const probed = ['https://shop.example', 'https://api.example', 'https://docs.example', 'https://status.example', 'https://auth.example', 'https://cdn.example'];
  let probeExporter = '';

  /** The user's daemon collector config (the same for every pod; per-pod values come from env). */
  const daemonConfig = (output: string) =>
    collectorConfig(
      [
        { job_name: 'node-exporter', scrape_interval: '1s', static_configs: [{ targets: ['${env:OTEL_K8S_NODE_IP}:9100'] }] },
        { job_name: 'shared-static', metrics_path: '/stats/prometheus', static_configs: [{ targets: shared }] },
        {
          job_name: 'kubelet-sharded',
          metrics_path: '/stats/prometheus',
          static_configs: [{ targets: sharded }],
          relabel_configs: [
            { source_labels: ['__address__'], target_label: '__tmp_hash', modulus: 1, action: 'hashmod' },
            { source_labels: ['__tmp_hash'], regex: '$(SHARD)', action: 'keep' },
          ],
        },
        { job_name: 'flagged', metrics_path: '/stats/prometheus', static_configs: [{ targets: flagged, labels: { scrape: 'true' } }], relabel_configs: [{ source_labels: ['scrape'], regex: true, action: 'keep' }] },
        // A node-local file (hostPath-like, outside the shared paths): stays in every collector.
        { job_name: 'files', metrics_path: '/stats/prometheus', file_sd_configs: [{ files: [join(dir, 'file-targets.json')], refresh_interval: '1s' }] },
        { job_name: 'shared-files', metrics_path: '/stats/prometheus', file_sd_configs: [{ files: [join(sharedDir, '*.yaml')], refresh_interval: '1s' }] },
        { job_name: 'dns', metrics_path: '/stats/prometheus', dns_sd_configs: [{ names: ['envoy.fidelity.example'], type: 'A', port: 15090, refresh_interval: '1s' }] },
        { job_name: 'http', metrics_path: '/stats/prometheus', http_sd_configs: [{ url: sdUrl, refresh_interval: '1s' }] },
        {
          job_name: 'probe',
          metrics_path: '/probe',
          params: { module: ['http_2xx'] },
          static_configs: [{ targets: probed }],
          relabel_configs: [
            { source_labels: ['__address__'], target_label: '__param_target' },
            { source_labels: ['__param_target'], target_label: 'instance' },
            { target_label: '__address__', replacement: probeExporter },
          ],
        },
        { job_name: 'invalid', scrape_interval: '1s', scrape_timeout: '5s', static_configs: [{ targets: ['127.0.12.99:15090'] }] },
      ],
      output,
      { global: { scrape_interval: '2s', scrape_timeout: '1s' } },
    );

  let sidecarKubeconfig = '';

  beforeAll(async () => {
    cluster = await Cluster.start();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.endpoints.kubeconfigPath);
    await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    // The sidecars run under the collector's ServiceAccount with the shipped RBAC, not as admin.
    sidecarKubeconfig = await sidecarServiceAccount({ adminKubeconfig: cluster.endpoints.kubeconfigPath, namespace, dir });
    for (let i = 0; i < 3; i++) {
      servers.push(await serveMetrics(nodeIp(i), 9100, '/metrics', `node_load1{node="${i}"} 0.5\n`));
      expected.set(`node-exporter|${nodeIp(i)}:9100`, `collector-${i}`);
    }
    for (const address of [...shared, ...sharded, ...flagged, ...sharedFileTargets, ...dnsTargets, ...httpTargets]) servers.push(await serveEnvoyStats(address.split(':')[0]!));
    for (const address of shared) expected.set(`shared-static|${address}`, 'once');
    mkdirSync(sharedDir);
    writeFileSync(join(sharedDir, 'envoys.yaml'), `- targets: [${sharedFileTargets.join(', ')}]\n`);
    for (const address of sharedFileTargets) expected.set(`shared-files|${address}`, 'once');
    dns = await DnsServer.start('127.0.12.53', 53);
    dns.zone.set('envoy.fidelity.example', { A: dnsTargets.map((a) => a.split(':')[0]!) });
    writeFileSync(join(dir, 'resolv.conf'), resolvConfText(dns));
    for (const address of dnsTargets) expected.set(`dns|${address}`, 'once');
    const sd = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify([{ targets: httpTargets }])));
    servers.push(sd);
    await new Promise<void>((resolve) => sd.listen(0, '127.0.12.98', resolve));
    sdUrl = `http://127.0.12.98:${(sd.address() as { port: number }).port}/targets`;
    for (const address of httpTargets) expected.set(`http|${address}`, 'once');
    for (const address of sharded) expected.set(`kubelet-sharded|${address}`, 'once');
    for (const address of flagged) expected.set(`flagged|${address}`, 'once');
    const filePort = await freePort('127.0.12.90');
    servers.push(await serveMetrics('127.0.12.90', filePort, '/stats/prometheus', 'from_file 1\n'));
    fileTarget = `127.0.12.90:${filePort}`;
    writeFileSync(join(dir, 'file-targets.json'), JSON.stringify([{ targets: [fileTarget] }]));
    expected.set(`files|${fileTarget}`, 'all');
    const probePort = await freePort('127.0.12.80');
    servers.push(await serveMetrics('127.0.12.80', probePort, '/probe', 'probe_success 1\n'));
    probeExporter = `127.0.12.80:${probePort}`;
    for (const target of probed) expected.set(`probe|${target}`, 'once');
  }, 120_000);

  afterAll(async () => {
    for (const member of members) {
      await member.collector.stop(2_000);
      await member.sidecar.stop(2_000);
    }
    for (const server of servers) server.close();
    await dns?.stop();
    await cluster?.stop();
  });

  /** Waits until, over the last scrape window, each expected target was scraped by exactly whom it should be, and nothing else. */
  async function waitForExpected(what: string, timeoutMs: number): Promise<Map<string, string[]>> {
    let last = new Map<string, string[]>();
    const names = members.map((m) => m.name);
    const holds = (key: string, by: string[] | undefined) => {
      const rule = expected.get(key);
      if (!by || !rule) return false;
      if (rule === 'once') return by.length === 1;
      if (rule === 'all') return by.length === names.length;
      return by.length === 1 && by[0] === rule;
    };
    await waitFor(what, () => {
      last = scrapedBy(members.map((m) => m.collector), Date.now() - (2 * longestInterval + 1) * 1000);
      return last.size === expected.size && [...expected.keys()].every((key) => holds(key, last.get(key)));
    }, {
      timeoutMs,
      intervalMs: 500,
      describe: () => `wrong: ${JSON.stringify([...expected.keys()].filter((key) => !holds(key, last.get(key))).map((key) => [key, expected.get(key), last.get(key) ?? []]))}; unexpected: ${JSON.stringify([...last.keys()].filter((key) => !expected.has(key)))}`,
    });
    return last;
  }

  it('without the monitor CRDs the sidecars are ready, and every target is scraped by whom it should be: per-node jobs by their own node, shared jobs (static, dns, http, shared files) once, the node-local file_sd job by each collector as before', async () => {
    for (let i = 0; i < 3; i++) {
      members.push(await startMember({
        core: kc.makeApiClient(k8s.CoreV1Api), kubeconfig: sidecarKubeconfig, namespace, name: `collector-${i}`, node: `node-${i}`, dir,
        config: daemonConfig,
        collectorEnv: { OTEL_K8S_NODE_IP: nodeIp(i), OTEL_K8S_NODE_NAME: `node-${i}` },
        podLocalEnv: ['POD_NAME', 'OTEL_K8S_NODE_NAME', 'OTEL_K8S_NODE_IP'],
        sharedPaths: [sharedDir],
        resolvConf: join(dir, 'resolv.conf'),
        sidecarArgs: ['--crd-poll-seconds', String(crdPollSeconds)],
        sidecarEnv: {
          EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, podMonitorSelector: {}, allowNamespaces: [namespace] }),
          EDOT_TA_LEASE_RENEW_SECONDS: '1',
          EDOT_TA_LEASE_DURATION_SECONDS: '4',
          EDOT_TA_HANDOVER_HOLD_SECONDS: '8',
        },
      }));
    }
    const render = members[0]!.renderLog;
    expect(render).toMatch(/job node-exporter reads the per-pod variable OTEL_K8S_NODE_IP/);
    expect(render).toMatch(/job files: file_sd_configs reads \S+file-targets\.json, which is not on a ConfigMap volume the sidecar shares with the collector/);
    expect(render).toMatch(/job invalid is not valid \(scrape timeout greater than scrape interval/);
    const served = Object.keys((await (await fetch(`${members[0]!.endpoint}/scrape_configs`, { headers: { Authorization: `Bearer ${members[0]!.token}` } })).json()) as Record<string, unknown>).sort();
    expect(served).toEqual(['dns', 'flagged', 'http', 'kubelet-sharded', 'probe', 'shared-files', 'shared-static']);
    // Joins settle (1.5 renewals), then targets move: bounded by the lease duration plus pickup, with 2x slack.
    const by = await waitForExpected('every target scraped by whom it should be', 2 * (4 + pickupSeconds) * 1000 + 20_000);
    console.log(`without CRDs: ${by.size} targets; ${[...by.values()].filter((v) => v.length === 1).length} scraped by one collector, the file_sd job by ${by.get(`files|${fileTarget}`)?.length}`);
    // Probes share the exporter's address: identity by every final label spreads them (the Target Allocator's hashing).
    const probeOwners = new Set(probed.map((target) => by.get(`probe|${target}`)?.[0]));
    console.log(`probe targets on ${probeOwners.size} collectors: ${JSON.stringify(Object.fromEntries(probed.map((t) => [t, by.get(`probe|${t}`)?.[0]])))}`);
    expect(probeOwners.size).toBeGreaterThan(1);
    for (const member of members) {
      expect(member.sidecar.tail(200)).toMatch(/monitor CRDs not installed/);
      expect(member.collector.logTail(200)).not.toMatch(/"level":"error"/);
    }
  });

  it('the CRDs and a PodMonitor appear: the sidecars watch them without a restart and their targets are scraped once', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const pod = parse(readFileSync(new URL('sidecar/istio-gateway-pod.yaml', fixtures), 'utf8')) as k8s.V1Pod & { metadata: { name: string }; spec: { nodeName: string } };
    const gateways: Array<[string, string]> = [['node-0', '127.0.12.31'], ['node-2', '127.0.12.32'], ['node-3', '127.0.12.33']]; // node-3 has no collector
    for (const [i, [node, ip]] of gateways.entries()) {
      const body = structuredClone(pod);
      body.metadata.name = `gateway-${i}`;
      body.spec.nodeName = node;
      await core.createNamespacedPod({ namespace, body });
      await registerNode(core, node);
      const read = await core.readNamespacedPod({ name: body.metadata.name, namespace });
      read.status = { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] };
      await core.replaceNamespacedPodStatus({ name: body.metadata.name, namespace, body: read });
      servers.push(await serveEnvoyStats(ip));
      expected.set(`${namespace}/envoy-stats-monitor|${ip}:15090`, node === 'node-3' ? 'once' : `collector-${node.slice(-1)}`);
    }
    const since = Date.now();
    await installCrds(cluster.endpoints.kubeconfigPath, new URL('crds/', fixtures).pathname);
    const monitor = parse(readFileSync(new URL('sidecar/envoy-stats-monitor.yaml', fixtures), 'utf8')) as { metadata: { namespace?: string }; spec: { namespaceSelector?: unknown } };
    monitor.metadata.namespace = namespace;
    monitor.spec.namespaceSelector = { matchNames: [namespace] };
    await waitFor('the PodMonitor kind to be served', async () => {
      await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors', body: monitor });
      return true;
    }, { timeoutMs: 20_000, intervalMs: 500 });
    await waitForExpected('the PodMonitor targets scraped once, the rest as before', 2 * (crdPollSeconds + pickupSeconds) * 1000 + 20_000);
    console.log(`CRDs installed: PodMonitor targets scraped after ${((Date.now() - since) / 1000).toFixed(1)} s (CRD poll ${crdPollSeconds} s)`);
    for (const member of members) expect(member.sidecar.tail(400)).toMatch(/monitor CRDs appeared; watching them/);
  });
});
