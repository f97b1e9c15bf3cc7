// Sharding's part of /metrics, registered into the sidecar's registry: members seen, view epoch,
// targets served by reason, handovers, Lease renew latency and failures.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Sharding } from './shard-filter.js';

export interface ShardingMetrics {
  renewDuration: Histogram<'outcome'>;
  renewFailures: Counter<'code'>;
  /** Connects the collect-time gauges to a running Sharding. */
  bind(sharding: Sharding): void;
}

export function createShardingMetrics(registry: Registry): ShardingMetrics {
  let bound: Sharding | undefined;
  new Gauge({
    name: 'edot_ta_members',
    help: 'Live members of the collector group in the view this sidecar acts on (itself included)',
    registers: [registry],
    collect() {
      this.set(bound?.currentView().members.length ?? 0);
    },
  });
  new Gauge({
    name: 'edot_ta_view_epoch',
    help: 'How many different views this sidecar has acted on since it started',
    registers: [registry],
    collect() {
      this.set(bound?.currentView().epoch ?? 0);
    },
  });
  new Gauge({
    name: 'edot_ta_targets_owned',
    help: 'Targets this sidecar serves, by why: node-local, node-covered, hashed, held-for-handover',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const counts: Record<string, number> = { 'node-local': 0, 'node-covered': 0, hashed: 0, 'held-for-handover': 0 };
      if (bound) for (const [, served] of bound.handover.entries()) counts[served.reason] = (counts[served.reason] ?? 0) + 1;
      for (const [reason, count] of Object.entries(counts)) this.set({ reason }, count);
    },
  });
  new Gauge({
    name: 'edot_ta_handovers_total',
    help: 'Targets taken over (gained) and handed off (released) since start',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.set({ direction: 'gained' }, bound?.handover.totals.gained ?? 0);
      this.set({ direction: 'released' }, bound?.handover.totals.released ?? 0);
    },
  });
  new Gauge({
    name: 'edot_ta_api_healthy',
    help: '1 while Lease writes succeed and Lease news arrives; 0 = membership frozen (outage)',
    registers: [registry],
    collect() {
      this.set(bound?.apiHealthy() ? 1 : 0);
    },
  });
  return {
    renewDuration: new Histogram({
      name: 'edot_ta_lease_renew_duration_seconds',
      help: 'Lease write (create/renew/announce) latency, by outcome',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    renewFailures: new Counter({ name: 'edot_ta_lease_renew_failures_total', help: 'Failed Lease writes, by HTTP status (or "error")', labelNames: ['code'], registers: [registry] }),
    bind(sharding) {
      bound = sharding;
    },
  };
}
