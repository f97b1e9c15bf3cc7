// /metrics for the sidecar: targets by job, discovery errors, HTTP and Kubernetes API latency,
// watch health. Own registry (not prom-client's global one) so tests can build several.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InformerStats } from '../kube/informer.js';

export interface SidecarMetrics {
  registry: Registry;
  discoveryErrors: Counter<'kind'>;
  httpDuration: Histogram<'route' | 'code'>;
  kubeRequestDuration: Histogram<'verb' | 'resource' | 'code'>;
  recomputeDuration: Histogram<'kind'>;
}

export interface MetricsSources {
  targets(): { keptByJob: Record<string, number>; dropped: number; owned: number };
  informers(): Array<{ resource: string; scope: string; stats: InformerStats }>;
  ready(): boolean;
}

export function createMetrics(sources: MetricsSources, withProcessMetrics = true): SidecarMetrics {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'edot_ta_' });
  new Gauge({
    name: 'edot_ta_targets',
    help: 'Targets kept by relabeling, by job (before sharding)',
    labelNames: ['job'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [job, count] of Object.entries(sources.targets().keptByJob)) this.set({ job }, count);
    },
  });
  new Gauge({
    name: 'edot_ta_targets_dropped',
    help: 'Discovered targets that relabeling dropped, all jobs',
    registers: [registry],
    collect() {
      this.set(sources.targets().dropped);
    },
  });
  new Gauge({
    name: 'edot_ta_targets_served',
    help: 'Kept targets this sidecar serves to its own collector (after the shard filter)',
    registers: [registry],
    collect() {
      this.set(sources.targets().owned);
    },
  });
  new Gauge({
    name: 'edot_ta_ready',
    help: '1 once the first full discovery has completed',
    registers: [registry],
    collect() {
      this.set(sources.ready() ? 1 : 0);
    },
  });
  const informerGauge = (name: string, help: string, pick: (s: InformerStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['resource', 'scope'],
      registers: [registry],
      collect() {
        this.reset();
        for (const { resource, scope, stats } of sources.informers()) this.set({ resource, scope }, pick(stats));
      },
    });
  // Monotonic values from the informers, exposed as gauges set from their counters (collect-time).
  informerGauge('edot_ta_watch_restarts_total', 'Watch restarts (normal ends and errors), by watch', (s) => s.watchRestarts);
  informerGauge('edot_ta_watch_relists_total', 'Full lists (start, 410 Gone), by watch', (s) => s.relists);
  informerGauge('edot_ta_watch_errors_total', 'List/watch failures, by watch', (s) => s.errors);
  informerGauge('edot_ta_watchdog_restarts_total', 'Watches restarted because they were silent too long', (s) => s.watchdogFires);
  informerGauge('edot_ta_watch_connected', '1 while the watch stream is open', (s) => (s.connected ? 1 : 0));
  return {
    registry,
    discoveryErrors: new Counter({ name: 'edot_ta_discovery_errors_total', help: 'Invalid scrape configs or monitors skipped, by kind', labelNames: ['kind'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'edot_ta_http_request_duration_seconds',
      help: 'target_allocator API request latency',
      labelNames: ['route', 'code'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    kubeRequestDuration: new Histogram({
      name: 'edot_ta_kube_request_duration_seconds',
      help: 'Kubernetes API request latency (lists, events, patches; not watch streams)',
      labelNames: ['verb', 'resource', 'code'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    recomputeDuration: new Histogram({
      name: 'edot_ta_recompute_duration_seconds',
      help: 'Time to recompute targets: full (configs changed) or incremental (one object changed)',
      labelNames: ['kind'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
  };
}
