// Prometheus metrics of the webhook (GET /metrics). One registry per server, so tests and the
// benchmark can run several servers in one process without sharing counters.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReviewOutcome } from './admission.js';

export interface WebhookMetrics {
  registry: Registry;
  observeReview(outcome: ReviewOutcome, durationSeconds: number): void;
  observeRejected(reason: 'bad_request' | 'too_large' | 'internal'): void;
  observeTlsReload(result: 'success' | 'failure'): void;
}

export function createWebhookMetrics(options: { processMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'edot_ta_webhook_' });
  const reviews = new Counter({
    name: 'edot_ta_webhook_reviews_total',
    help: 'Admission reviews answered, by object kind and result (mutated, unchanged, error = admitted unchanged after a mutation failure).',
    labelNames: ['kind', 'result'] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'edot_ta_webhook_rejected_requests_total',
    help: 'Requests to /mutate answered with an HTTP error (not an AdmissionReview, body too large, internal error).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'edot_ta_webhook_review_duration_seconds',
    help: 'Time from a parsed AdmissionReview to its answer (parse, mutate, diff, encode).',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const patchBytes = new Histogram({
    name: 'edot_ta_webhook_patch_bytes',
    help: 'Size of the JSON Patch sent back (before base64), for reviews that changed the object.',
    labelNames: ['kind'] as const,
    buckets: [256, 1024, 4096, 16384, 65536, 262144],
    registers: [registry],
  });
  const tlsReloads = new Counter({
    name: 'edot_ta_webhook_tls_reloads_total',
    help: 'Serving certificate reloads from --cert-dir, by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return {
    registry,
    observeReview(outcome, durationSeconds) {
      reviews.inc({ kind: outcome.kind, result: outcome.result });
      latency.observe({ kind: outcome.kind }, durationSeconds);
      if (outcome.patchBytes > 0) patchBytes.observe({ kind: outcome.kind }, outcome.patchBytes);
    },
    observeRejected(reason) {
      rejected.inc({ reason });
    },
    observeTlsReload(result) {
      tlsReloads.inc({ result });
    },
  };
}
