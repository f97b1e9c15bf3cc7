// ScrapeConfig (monitoring.coreos.com/v1alpha1) and Probe (v1) on the real apiserver: a sidecar
// under the shipped RBAC selects them with prometheusCR.scrapeConfigSelector / probeSelector (as
// the Target Allocator),
// converts them as the prometheus-operator does, and a real Prometheus fed from the sidecar (as
// the collector's receiver is) scrapes their targets; one with a discovery edot-ta does not run
// is skipped with an Event naming it, the others are served.
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clients, clusterEndpoints, createTestNamespace, setPodRunning } from '../harness/context.js';
import { freePort, waitFor, type ManagedProcess } from '../harness/processes.js';
import { Prometheus } from '../harness/prometheus.js';
import { serveEnvoyStats } from '../harness/targets.js';
import { fetchReceiverConfig } from './support/receiver.js';
import { sidecarServiceAccount } from './support/service-accounts.js';
import { startSidecarProcess } from './support/sidecar.js';

describe('ScrapeConfig and Probe CRDs, served by a sidecar and scraped by a real Prometheus', () => {
  const { core, custom } = clients();
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-scrapeconfig-e2e-'));
  const servers: Server[] = [];
  let sidecar: ManagedProcess | undefined;
  let prometheus: Prometheus | undefined;
  afterAll(async () => {
    await prometheus?.stop();
    await sidecar?.stop();
    for (const server of servers) server.close();
  });

  it('static and kubernetes discovery from ScrapeConfigs and a static Probe: job names, spec.jobName and relabelings as the prometheus-operator generates them; consul skipped with an Event; a default scrape class labels them all', async () => {
    const namespace = await createTestNamespace('scrapeconfig');
    const release = { release: namespace };
    servers.push(await serveEnvoyStats('127.0.8.1'), await serveEnvoyStats('127.0.8.2'));
    // A pod the kubernetes_sd ScrapeConfig discovers (on the sidecar's node).
    await core.createNamespacedPod({ namespace, body: { metadata: { name: 'exporter', labels: { app: 'exporter' }, annotations: { 'prometheus.io/scrape': 'true' } }, spec: { nodeName: 'node-sc', containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.33.0', ports: [{ name: 'stats', containerPort: 15090 }] }] } } });
    await setPodRunning(namespace, 'exporter', '127.0.8.2');
    const scrapeConfig = (name: string, spec: Record<string, unknown>) => custom.createNamespacedCustomObject({
      group: 'monitoring.coreos.com', version: 'v1alpha1', namespace, plural: 'scrapeconfigs',
      body: { apiVersion: 'monitoring.coreos.com/v1alpha1', kind: 'ScrapeConfig', metadata: { name, labels: release }, spec },
    });
    await scrapeConfig('external', { jobName: 'external', metricsPath: '/stats/prometheus', staticConfigs: [{ targets: ['127.0.8.1:15090'], labels: { env: 'e2e' } }] });
    await scrapeConfig('annotated-pods', {
      metricsPath: '/stats/prometheus',
      kubernetesSDConfigs: [{ role: 'Pod', namespaces: { names: [namespace] } }],
      relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], regex: 'true', action: 'Keep' }, { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod' }],
    });
    await scrapeConfig('consul', { consulSDConfigs: [{ server: 'consul.service:8500' }] });
    // A Probe: the "prober" here is the stats server on 127.0.8.1 (any exporter answers the probe URL).
    await custom.createNamespacedCustomObject({
      group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'probes',
      body: { apiVersion: 'monitoring.coreos.com/v1', kind: 'Probe', metadata: { name: 'websites', labels: release }, spec: { module: 'http_2xx', prober: { url: '127.0.8.1:15090', path: '/stats/prometheus' }, targets: { staticConfig: { static: ['https://www.example.com'] } } } },
    });

    const kubeconfig = await sidecarServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir });
    const collector = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'collector' }, spec: { nodeName: 'node-sc', containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } } });
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    sidecar = startSidecarProcess({
      name: 'scrapeconfig', logFile: join(dir, 'sidecar.log'), port, args: [], kubeconfig,
      pod: { name: 'collector', uid: collector.metadata?.uid ?? '', namespace, node: 'node-sc' }, group: `${namespace}/edot`,
      env: {
        // A default scrape class (as the Target Allocator takes prometheusCR.scrapeClasses): its relabeling labels every target.
        EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, scrapeInterval: '1s', scrapeConfigSelector: { matchLabels: release }, probeSelector: { matchLabels: release }, allowNamespaces: [namespace], scrapeClasses: [{ name: 'cluster', default: true, relabelings: [{ targetLabel: 'cluster', replacement: 'e2e' }] }] }),
        EDOT_TA_LEASE_RENEW_SECONDS: '1',
        EDOT_TA_LEASE_DURATION_SECONDS: '4',
      },
    });
    const proc = sidecar;
    const jobs = [`probe/${namespace}/websites`, `scrapeConfig/${namespace}/annotated-pods`, `scrapeConfig/${namespace}/external`];
    let configs: Record<string, { relabel_configs?: unknown[] }> = {};
    await waitFor('the ScrapeConfig and Probe jobs on /scrape_configs', async () => {
      const res = await fetch(`${endpoint}/scrape_configs`).catch(() => undefined);
      configs = res?.ok ? ((await res.json()) as typeof configs) : {};
      return JSON.stringify(Object.keys(configs).sort()) === JSON.stringify(jobs);
    }, { timeoutMs: 60_000, abortIf: proc.exited, describe: () => `${JSON.stringify(Object.keys(configs))}\n${proc.tail()}` });
    expect(configs[`scrapeConfig/${namespace}/external`]?.relabel_configs).toEqual([
      { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
      { target_label: 'cluster', replacement: 'e2e' },
      { target_label: 'job', action: 'replace', replacement: 'external' },
    ]);

    // The ScrapeConfig with consul: not served, and said so where kubectl describe shows it.
    await waitFor('an InvalidMonitor Event naming the consul ScrapeConfig', async () => {
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=collector' });
      return events.items.some((e) => e.reason === 'InvalidMonitor' && (e.message ?? '').includes(`ScrapeConfig ${namespace}/consul`) && (e.message ?? '').includes('consulSDConfigs'));
    }, { timeoutMs: 30_000, describe: () => proc.tail() });

    // A real Prometheus, configured from the sidecar as the receiver configures itself, scrapes both.
    prometheus = await Prometheus.start(await fetchReceiverConfig({ endpoint, collectorId: 'collector' }), { dir });
    const prom = prometheus;
    let up: Array<{ metric: Record<string, string>; value: [number, string] }> = [];
    await waitFor('every target up in Prometheus', async () => {
      up = (await prom.query('up{cluster="e2e"}')).filter((s) => s.value[1] === '1');
      return up.some((s) => s.metric.job === 'external' && s.metric.env === 'e2e' && s.metric.instance === '127.0.8.1:15090')
        && up.some((s) => s.metric.job === `scrapeConfig/${namespace}/annotated-pods` && s.metric.pod === 'exporter')
        && up.some((s) => s.metric.job === `probe/${namespace}/websites` && s.metric.instance === 'https://www.example.com' && s.metric.namespace === namespace);
    }, { timeoutMs: 60_000, intervalMs: 500, describe: () => `${JSON.stringify(up)}\n${prom.logTail()}` });
  });
});
