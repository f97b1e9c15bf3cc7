// Proves the harness itself: a real apiserver that serves pods, their status subresource,
// Leases with MicroTime renewals and optimistic concurrency, CRDs, kubectl, and a real
// Prometheus that discovers a target through http_sd and scrapes it.
import { createServer, type Server } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { clients, createTestNamespace, kubectl } from '../harness/context.js';
import { waitFor } from '../harness/processes.js';
import { Prometheus } from '../harness/prometheus.js';

const microTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('real-cluster harness', () => {
  const { core, coordination, apiextensions, custom } = clients();
  let namespace = '';

  it('creates a pod on a node and sets its IP through the status subresource', async () => {
    namespace = await createTestNamespace('harness');
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'gateway-0', labels: { app: 'istio-ingressgateway' } },
        spec: { nodeName: 'node-a', containers: [{ name: 'istio-proxy', image: 'istio/proxyv2:1.24.0' }] },
      },
    });
    const pod = await core.readNamespacedPod({ name: 'gateway-0', namespace });
    pod.status = { ...pod.status, phase: 'Running', podIP: '127.0.0.2', podIPs: [{ ip: '127.0.0.2' }], hostIP: '127.0.0.1' };
    await core.replaceNamespacedPodStatus({ name: 'gateway-0', namespace, body: pod });

    const readBack = await core.readNamespacedPod({ name: 'gateway-0', namespace });
    expect(readBack.spec?.nodeName).toBe('node-a');
    expect(readBack.status?.podIP).toBe('127.0.0.2');
    expect(readBack.status?.phase).toBe('Running');
  });

  it('creates and renews a Lease with six-digit MicroTime and rejects a stale resourceVersion', async () => {
    const created = await coordination.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'edot-ta-gateway-0', labels: { 'edot-ta.io/group': 'harness' } },
        spec: {
          holderIdentity: 'uid-1',
          leaseDurationSeconds: 40,
          acquireTime: new k8s.V1MicroTime(),
          renewTime: new k8s.V1MicroTime(),
        },
      },
    });
    const firstRenew = String(created.spec?.renewTime);
    expect(firstRenew).toMatch(microTimePattern);

    // Renew with optimistic concurrency: the update carries the resourceVersion we read.
    // (Read back, MicroTime arrives as a string; wait until our clock has passed it.)
    await waitFor('the local clock to pass the first renewTime', () => Date.now() > Date.parse(firstRenew));
    const renewed = await coordination.replaceNamespacedLease({
      name: 'edot-ta-gateway-0',
      namespace,
      body: { ...created, spec: { ...created.spec, renewTime: new k8s.V1MicroTime() } },
    });
    const secondRenew = String(renewed.spec?.renewTime);
    expect(secondRenew).toMatch(microTimePattern);
    expect(Date.parse(secondRenew)).toBeGreaterThanOrEqual(Date.parse(firstRenew));
    expect(secondRenew).not.toBe(firstRenew);
    expect(renewed.metadata?.resourceVersion).not.toBe(created.metadata?.resourceVersion);

    // A writer holding the old resourceVersion loses: 409 Conflict.
    const stale = coordination.replaceNamespacedLease({
      name: 'edot-ta-gateway-0',
      namespace,
      body: { ...created, spec: { ...created.spec, renewTime: new k8s.V1MicroTime() } },
    });
    await expect(stale).rejects.toMatchObject({ code: 409 });
  });

  it('serves the PodMonitor CRD with its full schema and stores a PodMonitor unpruned', async () => {
    // The global setup installed it with kubectl; the schema keeps x-kubernetes-* keys.
    const crd = await apiextensions.readCustomResourceDefinition({ name: 'podmonitors.monitoring.coreos.com' });
    expect(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')).toBe(true);
    const monitor = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'envoy-stats-monitor', namespace },
      spec: {
        selector: { matchExpressions: [{ key: 'istio-prometheus-ignore', operator: 'DoesNotExist' }] },
        namespaceSelector: { any: true },
        podMetricsEndpoints: [
          {
            path: '/stats/prometheus',
            interval: '15s',
            relabelings: [{ action: 'keep', sourceLabels: ['__meta_kubernetes_pod_container_name'], regex: 'istio-proxy' }],
          },
        ],
      },
    };
    await waitFor('the PodMonitor to be accepted', async () => {
      await custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors', body: monitor });
      return true;
    });
    const stored = (await custom.getNamespacedCustomObject({
      group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors', name: 'envoy-stats-monitor',
    })) as { spec: { podMetricsEndpoints: Array<{ path: string; relabelings: unknown[] }> } };
    expect(stored.spec.podMetricsEndpoints[0]?.path).toBe('/stats/prometheus');
    // Not pruned: relabelings are preserved-unknown objects in the schema.
    expect(stored.spec.podMetricsEndpoints[0]?.relabelings).toEqual([
      { action: 'keep', sourceLabels: ['__meta_kubernetes_pod_container_name'], regex: 'istio-proxy' },
    ]);
  });

  it('lets kubectl see the lease, the pod and the PodMonitor', async () => {
    const out = await kubectl(['get', 'lease,pods', '-A', '-o', 'name']);
    expect(out).toContain('lease.coordination.k8s.io/edot-ta-gateway-0');
    expect(out).toContain('pod/gateway-0');
    const monitors = await kubectl(['get', 'podmonitors', '-n', namespace, '-o', 'jsonpath={.items[*].metadata.name}']);
    expect(monitors).toBe('envoy-stats-monitor');
  });

  describe('a real Prometheus', () => {
    const servers: Server[] = [];
    let prometheus: Prometheus | undefined;
    afterAll(async () => {
      await prometheus?.stop();
      for (const server of servers) server.close();
    });

    it('scrapes a target on 127.0.0.2 that it found through http_sd', async () => {
      const target = await listen('127.0.0.2', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('envoy_server_live 1\n');
      });
      const sd = await listen('127.0.0.1', (req, res) => {
        const body = req.url === '/targets' ? [{ targets: [`127.0.0.2:${target.port}`], labels: { pod: 'gateway-0' } }] : [];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
      servers.push(target.server, sd.server);
      prometheus = await Prometheus.start({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [
          {
            job_name: 'harness',
            metrics_path: '/stats/prometheus',
            http_sd_configs: [{ url: `http://127.0.0.1:${sd.port}/targets`, refresh_interval: '1s' }],
          },
        ],
      });
      const prom = prometheus;
      await waitFor('up == 1 for the http_sd target', async () => {
        const result = await prom.query('up{job="harness"}');
        return result.length === 1 && result[0]?.value[1] === '1';
      }, { timeoutMs: 30_000, intervalMs: 250, describe: () => prom.logTail() });
      const [series] = await prom.query('envoy_server_live{job="harness"}');
      expect(series?.metric).toMatchObject({ instance: `127.0.0.2:${target.port}`, pod: 'gateway-0' });
      const { activeTargets } = await prom.targets();
      expect(activeTargets.map((t) => t.scrapeUrl)).toEqual([`http://127.0.0.2:${target.port}/stats/prometheus`]);
    });
  });
});

async function listen(host: string, handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}
