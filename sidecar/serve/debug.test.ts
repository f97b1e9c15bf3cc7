import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLogger } from '../../common/log.js';
import { debugTargets } from './debug.js';
import type { WatchScope } from '../kube/scope.js';
import { transformFor } from '../targets/targets-sd.js';
import { TargetEngine, type ScrapeConfig } from '../targets/targets.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/sidecar/${name}`, import.meta.url), 'utf8');

describe('debugTargets', () => {
  it('lists every discovered target with its labels, kept or dropped, and names the rule that dropped it', () => {
    const pod = parse(fixture('istio-gateway-pod.yaml')) as { metadata: Record<string, unknown>; status?: unknown };
    pod.metadata.namespace = 'istio-system';
    pod.status = { phase: 'Running', podIP: '10.1.0.5', hostIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] };
    const pods = new Map<string, unknown>([['istio-system/istio-ingressgateway-0', pod]]);
    const get = (scope: WatchScope, key: string) => (pods.has(key) ? transformFor(scope)(structuredClone(pods.get(key))) : undefined);
    const stores = { get, entries: (scope: WatchScope) => [...pods.keys()].map((key): [string, unknown] => [key, get(scope, key)]) };
    const engine = new TargetEngine(stores, { ownNamespace: 'otel' }, createLogger({}, () => {}));
    const config = parse(fixture('envoy-stats-scrape-config.yaml')) as ScrapeConfig;
    engine.setScrapeConfigs([config]);
    engine.setShardFilter({ owns: () => false });

    const { jobs } = debugTargets(engine);
    const job = jobs[config.job_name];
    expect(job).toMatchObject({ kept: 1, dropped: 3 });
    const kept = job?.targets.find((t) => t.state === 'kept');
    expect(kept).toMatchObject({
      served: false,
      key: expect.stringContaining('__address__=10.1.0.5:15090,__metrics_path__=/stats/prometheus,'),
      discoveredLabels: { __meta_kubernetes_pod_container_port_name: 'http-envoy-prom' },
      labels: { namespace: 'istio-system', pod: 'istio-ingressgateway-0', container: 'istio-proxy', endpoint: 'http-envoy-prom', job: 'istio-system/envoy-stats-monitor', instance: '10.1.0.5:15090' },
    });
    expect(Object.keys(kept?.labels ?? {}).some((name) => name.startsWith('__meta_'))).toBe(false);
    const dropped = job?.targets.filter((t) => t.state === 'dropped') ?? [];
    expect(dropped.map((t) => t.discoveredLabels.__meta_kubernetes_pod_container_port_name).sort()).toEqual(['http2', 'https', 'status-port']);
    for (const t of dropped) expect(t.reason).toBe('dropped by relabel_configs[2]: {"action":"keep","source_labels":["__meta_kubernetes_pod_container_port_name"],"regex":"http-envoy-prom"}');
  });
});
