// `edot-ta sidecar serve` on the real apiserver, with a real Prometheus standing in for the
// collector's prometheus receiver (jobs from /scrape_configs, one http_sd per job, exactly what
// the receiver builds from a target allocator). Istio-gateway-like pods get 127.0.5.x pod IPs
// and a small HTTP server each on <ip>:15090 serving /stats/prometheus.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { apiServer, clients, clusterEndpoints, createTestNamespace, setPodRunning } from '../harness/context.js';
import { sidecarServiceAccount } from './support/service-accounts.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../harness/processes.js';
import { serveEnvoyStats } from '../harness/targets.js';
import { Prometheus } from '../harness/prometheus.js';
import { fetchReceiverConfig } from './support/receiver.js';

const repoRoot = new URL('../../', import.meta.url).pathname;
const fixtures = new URL('../fixtures/', import.meta.url);
const monitoring = { group: 'monitoring.coreos.com', version: 'v1' };

describe('sidecar serve on a real cluster', () => {
  const { core, apiextensions, custom, coordination } = clients();
  const servers: Server[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-sidecar-e2e-'));
  let sidecarKubeconfig = '';
  let namespace = '';
  let sidecar: ManagedProcess | undefined;
  let prometheus: Prometheus | undefined;
  let endpoint = '';
  const collector = 'edot-collector-0';
  const envoyJob = () => `podMonitor/${namespace}/envoy-stats-monitor/0`;

  beforeAll(async () => {
    for (const file of ['monitoring.coreos.com_podmonitors.yaml', 'monitoring.coreos.com_servicemonitors.yaml']) {
      const crd = parse(readFileSync(new URL(`crds/${file}`, fixtures), 'utf8')) as k8s.V1CustomResourceDefinition & { metadata: { name: string } };
      await apiextensions.createCustomResourceDefinition({ body: crd }).catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });
      await waitFor(`CRD ${crd.metadata.name} established`, async () => {
        const got = await apiextensions.readCustomResourceDefinition({ name: crd.metadata.name });
        return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      });
    }
    namespace = await createTestNamespace('sidecar');
    // The sidecar runs under the collector's ServiceAccount with the shipped RBAC, not as admin.
    sidecarKubeconfig = await sidecarServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir });
    // The collector pod the sidecar belongs to (its Events and summary annotation land here).
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: collector }, spec: { nodeName: 'node-a', containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } },
    });
    for (const [i, name] of ['istio-ingressgateway-0', 'istio-ingressgateway-1'].entries()) await createGateway(name, `127.0.5.${i + 1}`);
    await serveTarget('127.0.5.4'); // the static job's target
    await createMonitor(parse(readFileSync(new URL('sidecar/envoy-stats-monitor.yaml', fixtures), 'utf8')) as object);
  });

  afterAll(async () => {
    await apiServer.start().catch(() => undefined);
    await prometheus?.stop();
    await sidecar?.stop();
    for (const server of servers) server.close();
  });

  /** `edot-ta sidecar serve` as a real process with the env the webhook gives the sidecar of `pod`. */
  function startSidecar(name: string, pod: k8s.V1Pod, port: number, args: string[], env: Record<string, string>): ManagedProcess {
    return startProcess(name, process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sidecar', 'serve', '--listen', `127.0.0.1:${port}`, ...args], {
      cwd: repoRoot,
      logFile: join(dir, `${name}.log`),
      env: {
        ...process.env,
        KUBECONFIG: sidecarKubeconfig,
        POD_NAME: pod.metadata?.name ?? '',
        POD_UID: pod.metadata?.uid ?? '',
        POD_NAMESPACE: namespace,
        NODE_NAME: pod.spec?.nodeName ?? '',
        ...env,
      },
    });
  }

  async function serveTarget(ip: string): Promise<void> {
    servers.push(await serveEnvoyStats(ip));
  }

  async function createGateway(name: string, ip: string, nodeName = 'node-a'): Promise<void> {
    const pod = parse(readFileSync(new URL('sidecar/istio-gateway-pod.yaml', fixtures), 'utf8')) as k8s.V1Pod & { metadata: { name: string }; spec: k8s.V1PodSpec };
    pod.metadata.name = name;
    pod.spec.nodeName = nodeName;
    await core.createNamespacedPod({ namespace, body: pod });
    await setPodRunning(namespace, name, ip);
    await serveTarget(ip);
  }

  async function createMonitor(monitor: object, plural = 'podmonitors'): Promise<void> {
    const body = structuredClone(monitor) as { metadata: { namespace?: string }; spec: { namespaceSelector?: unknown } };
    body.metadata.namespace = namespace;
    // Istio's sample selects in every namespace; here only this test's, so other tests' pods stay out.
    body.spec.namespaceSelector = { matchNames: [namespace] };
    await custom.createNamespacedCustomObject({ ...monitoring, namespace, plural, body });
  }

  async function upSeries(): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    return prometheus ? prometheus.query(`up{namespace="${namespace}"}`) : [];
  }

  async function served(job: string): Promise<Array<{ targets: string[]; labels: Record<string, string> }>> {
    const res = await fetch(`${endpoint}/jobs/${encodeURIComponent(job)}/targets?collector_id=${collector}`);
    return (await res.json()) as Array<{ targets: string[]; labels: Record<string, string> }>;
  }

  it('starts as a real process, answers 503 until the first full discovery (API server down at start), then serves the jobs', async () => {
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    const scrapeConfigsFile = join(dir, 'scrape-configs.yaml');
    writeFileSync(
      scrapeConfigsFile,
      stringify({ scrape_configs: [{ job_name: 'static-gateway', metrics_path: '/stats/prometheus', static_configs: [{ targets: ['127.0.5.4:15090'], labels: { namespace } }] }] }),
    );
    const pod = await core.readNamespacedPod({ name: collector, namespace });
    await apiServer.stop();
    sidecar = startSidecar('sidecar', pod, port, ['--scrape-configs', scrapeConfigsFile], {
      EDOT_TA_GROUP: `${namespace}/edot`,
      EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, scrapeInterval: '30s', podMonitorSelector: {}, serviceMonitorSelector: {}, allowNamespaces: [namespace] }),
    });
    const proc = sidecar;
    // Started while the API server is down: alive, but nothing served before the first discovery.
    await waitFor('sidecar /livez', async () => (await fetch(`${endpoint}/livez`)).ok, { timeoutMs: 30_000, abortIf: proc.exited, describe: () => proc.tail() });
    try {
      for (const path of ['/readyz', '/scrape_configs', `/jobs/static-gateway/targets?collector_id=${collector}`]) {
        expect((await fetch(`${endpoint}${path}`)).status, path).toBe(503);
      }
    } finally {
      await apiServer.start();
    }
    await waitFor('sidecar /readyz', async () => (await fetch(`${endpoint}/readyz`)).ok, { timeoutMs: 60_000, abortIf: proc.exited, describe: () => proc.tail() });
    const configs = (await (await fetch(`${endpoint}/scrape_configs`)).json()) as Record<string, Record<string, unknown>>;
    expect(Object.keys(configs).sort()).toEqual([envoyJob(), 'static-gateway'].sort());
    for (const [job, config] of Object.entries(configs)) {
      expect(config.job_name).toBe(job);
      expect(config.kubernetes_sd_configs).toBeUndefined();
      expect(config.static_configs).toBeUndefined();
    }
    expect(configs[envoyJob()]).toMatchObject({ metrics_path: '/stats/prometheus', scrape_interval: '2s' });
    const targets = await served(envoyJob());
    expect(targets.map((t) => t.targets[0]).sort()).toEqual(['127.0.5.1:15090', '127.0.5.2:15090']);
    expect(targets[0]?.labels).toMatchObject({ __meta_kubernetes_namespace: namespace, __meta_kubernetes_pod_container_name: 'istio-proxy' });
    expect(await served('no-such-job')).toEqual([]);
    expect(await (await fetch(`${endpoint}/jobs/${encodeURIComponent(envoyJob())}/targets?collector_id=other-collector`)).json()).toEqual([]);
  });

  it('feeds a real Prometheus that scrapes every target with the prometheus-operator labels', async () => {
    prometheus = await Prometheus.start(await fetchReceiverConfig({ endpoint, collectorId: collector }));
    const prom = prometheus;
    await waitFor('3 targets up', async () => (await upSeries()).filter((s) => s.value[1] === '1').length === 3, { timeoutMs: 60_000, intervalMs: 500, describe: () => prom.logTail() });
    const envoy = (await upSeries()).filter((s) => s.metric.job === `${namespace}/envoy-stats-monitor`).map((s) => s.metric);
    expect(envoy.map((m) => m.pod).sort()).toEqual(['istio-ingressgateway-0', 'istio-ingressgateway-1']);
    for (const metric of envoy) {
      expect(metric).toMatchObject({ namespace, container: 'istio-proxy', endpoint: 'http-envoy-prom', job: `${namespace}/envoy-stats-monitor` });
      expect(metric.instance).toMatch(/^127\.0\.5\.[12]:15090$/);
    }
  });

  it('picks up a new pod without restarting anything', async () => {
    await createGateway('istio-ingressgateway-2', '127.0.5.3');
    await waitFor('the new pod scraped', async () => (await upSeries()).some((s) => s.metric.pod === 'istio-ingressgateway-2' && s.value[1] === '1'), { timeoutMs: 30_000, intervalMs: 500 });
  });

  it('says what it serves on its Lease (carried by its renewals: the sidecar never writes to pods)', async () => {
    await waitFor('summary annotation on the Lease', async () => {
      const lease = await coordination.readNamespacedLease({ name: `edot-ta-${collector}`, namespace });
      return lease.metadata?.annotations?.['edot-ta.io/summary'] === 'serving 4 targets in 2 jobs';
    }, { timeoutMs: 30_000 });
    const pod = await core.readNamespacedPod({ name: collector, namespace });
    expect(pod.metadata?.annotations?.['edot-ta.io/summary']).toBeUndefined();
  });

  it('skips invalid monitors with an Event and a log line naming them, and keeps serving the others', async () => {
    const bad = parse(readFileSync(new URL('sidecar/invalid-monitors.yaml', fixtures), 'utf8')) as { items: Array<{ kind: string; metadata: { name: string } }> };
    for (const monitor of bad.items) await createMonitor(monitor, monitor.kind === 'ServiceMonitor' ? 'servicemonitors' : 'podmonitors');
    const names = bad.items.map((m) => `${namespace}/${m.metadata.name}`);
    await waitFor('an InvalidMonitor event per invalid monitor', async () => {
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${collector}` });
      const messages = events.items.filter((e) => e.reason === 'InvalidMonitor').map((e) => e.message ?? '');
      return names.every((name) => messages.some((m) => m.includes(name)));
    }, { timeoutMs: 30_000, describe: () => sidecar?.tail() ?? '' });
    const log = readFileSync(join(dir, 'sidecar.log'), 'utf8');
    for (const name of names) expect(log).toMatch(new RegExp(`skipping invalid monitor.*${name.replace(/[/]/g, '\\/')}`));
    const configs = (await (await fetch(`${endpoint}/scrape_configs`)).json()) as Record<string, unknown>;
    expect(Object.keys(configs).sort()).toEqual([envoyJob(), 'static-gateway'].sort());
    expect((await served(envoyJob())).length).toBe(3);
  });

  it('keeps serving and scraping the last good targets while the API server is down, and recovers after', async () => {
    const before = await served(envoyJob());
    await apiServer.stop();
    try {
      await waitFor('the sidecar to notice the outage', async () => {
        const metrics = await (await fetch(`${endpoint}/metrics`)).text();
        return /edot_ta_watch_connected\{resource="pods"[^}]*\} 0/.test(metrics);
      }, { timeoutMs: 30_000 });
      expect(await served(envoyJob())).toEqual(before);
      expect((await fetch(`${endpoint}/readyz`)).status).toBe(200);
      const since = Date.now();
      await waitFor('fresh scrapes during the outage', async () => {
        const { activeTargets } = await prometheus!.targets('active');
        const ours = activeTargets.filter((t) => t.labels.namespace === namespace);
        return ours.length === 4 && ours.every((t) => t.health === 'up' && Date.parse(t.lastScrape) > since);
      }, { timeoutMs: 30_000, intervalMs: 500 });
    } finally {
      await apiServer.start();
    }
    // Watches recover: a pod created after the restart shows up.
    await waitFor('the API server back', async () => (await core.readNamespace({ name: namespace })).metadata?.name === namespace, { timeoutMs: 60_000 });
    await createGateway('istio-ingressgateway-3', '127.0.5.5');
    await waitFor('the pod created after the outage scraped', async () => (await upSeries()).some((s) => s.metric.pod === 'istio-ingressgateway-3' && s.value[1] === '1'), { timeoutMs: 60_000, intervalMs: 500, describe: () => sidecar?.tail() ?? '' });
  });

  it('pod scope node (the default): a second member of the group, on node-b, watches node-b\'s pods only (node-a has a member) and serves its gateway', async () => {
    const collectorB = 'edot-collector-b';
    const pod = await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: collectorB }, spec: { nodeName: 'node-b', containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } },
    });
    await createGateway('istio-ingressgateway-b', '127.0.5.6', 'node-b');
    const port = await freePort();
    const endpointB = `http://127.0.0.1:${port}`;
    const nodeScoped = startSidecar('sidecar-b', pod, port, ['--scrape-configs', join(dir, 'scrape-configs.yaml')], {
      EDOT_TA_GROUP: `${namespace}/edot`, // the first sidecar's group (on node-a)
      EDOT_TA_LEASE_RENEW_SECONDS: '1', // ready after a 1.5 s warm-up instead of 15 s
      EDOT_TA_LEASE_DURATION_SECONDS: '4',
      EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, scrapeInterval: '30s', podMonitorSelector: {}, serviceMonitorSelector: {}, allowNamespaces: [namespace] }),
    });
    try {
      await waitFor('node-b sidecar /readyz', async () => (await fetch(`${endpointB}/readyz`).catch(() => undefined))?.ok ?? false, { timeoutMs: 60_000, abortIf: nodeScoped.exited, describe: () => nodeScoped.tail() });
      const addresses = async (base: string, id: string) => {
        const res = await fetch(`${base}/jobs/${encodeURIComponent(envoyJob())}/targets?collector_id=${id}`);
        return ((await res.json()) as Array<{ targets: string[] }>).map((t) => t.targets[0]).sort();
      };
      await waitFor('the node-b member serves the node-b gateway', async () => JSON.stringify(await addresses(endpointB, collectorB)) === JSON.stringify(['127.0.5.6:15090']), { timeoutMs: 30_000 });
      // Its pod watches are per node (spec.nodeName field selectors at the apiserver): node-b, never node-a.
      const metrics = await (await fetch(`${endpointB}/metrics`)).text();
      const podWatches = [...metrics.matchAll(/^edot_ta_watch_connected\{resource="pods",scope="([^"]+)"\}/gm)].map((m) => m[1]!);
      expect(podWatches.some((scope) => scope.includes('fields=spec.nodeName=node-b'))).toBe(true);
      expect(podWatches.filter((scope) => !/fields=spec\.nodeName=/.test(scope))).toEqual([]);
      expect(podWatches.some((scope) => scope.includes('spec.nodeName=node-a'))).toBe(false);
    } finally {
      await nodeScoped.stop(10_000);
    }
  });

  it('removes the job of a deleted PodMonitor (the receiver re-applies /scrape_configs without restarting)', async () => {
    await custom.deleteNamespacedCustomObject({ ...monitoring, namespace, plural: 'podmonitors', name: 'envoy-stats-monitor' });
    await waitFor('the job gone from /scrape_configs', async () => {
      const configs = (await (await fetch(`${endpoint}/scrape_configs`)).json()) as Record<string, unknown>;
      return !(envoyJob() in configs) && 'static-gateway' in configs;
    }, { timeoutMs: 30_000 });
    const pid = prometheus!.pid;
    await prometheus!.reload(await fetchReceiverConfig({ endpoint, collectorId: collector }));
    // Prometheus stops the removed job's scrape pool (its series go stale); the target list is the proof.
    await waitFor('envoy targets gone, static target still up', async () => {
      const { activeTargets } = await prometheus!.targets('active');
      const ours = activeTargets.filter((t) => t.labels.namespace === namespace);
      return ours.length === 1 && ours[0]?.scrapePool === 'static-gateway' && ours[0].health === 'up';
    }, { timeoutMs: 30_000, intervalMs: 500 });
    expect(prometheus!.pid).toBe(pid);
  });

  it('stops cleanly on SIGTERM', async () => {
    await sidecar!.stop(10_000);
    expect(await sidecar!.exited).toBe(0);
  });
});
