import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../admission/admission.js';
import { DecisionLog, decisionFromReview, oneLine, type AdmissionDecision } from './decisions.js';

const podRequest = (overrides: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: 'uid-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  operation: 'CREATE',
  namespace: 'observability',
  object: { metadata: { generateName: 'edot-daemon-', annotations: { secret: 'hunter2' } }, spec: { containers: [{ name: 'otc-container', env: [{ name: 'API_KEY', value: 'hunter2' }] }] } },
  dryRun: false,
  ...overrides,
});

const decision = (i: number, namespace = 'a'): AdmissionDecision => ({
  time: new Date(i * 1000).toISOString(),
  uid: `uid-${i}`,
  kind: 'v1/Pod',
  namespace,
  operation: 'CREATE',
  dryRun: false,
  result: 'unchanged',
  changed: false,
  warnings: [],
  patchBytes: 0,
  latencyMs: 0.1,
});

describe('decisionFromReview', () => {
  it('records what was decided about a pod without its body (generateName, not the object)', () => {
    const record = decisionFromReview(podRequest(), { kind: 'Pod', result: 'mutated', patchBytes: 1834 }, { warnings: ['w1'], latencyMs: 1.23456 }, new Date('2026-11-25T10:00:00Z'));
    expect(record).toEqual({
      time: '2026-11-25T10:00:00.000Z',
      uid: 'uid-1',
      kind: 'v1/Pod',
      namespace: 'observability',
      generateName: 'edot-daemon-',
      operation: 'CREATE',
      dryRun: false,
      result: 'mutated',
      changed: true,
      warnings: ['w1'],
      patchBytes: 1834,
      latencyMs: 1.235,
    });
    expect(JSON.stringify(record)).not.toContain('hunter2');
  });

  it('names grouped kinds with their group and keeps name, dryRun and the reason', () => {
    const record = decisionFromReview(
      podRequest({ kind: { group: 'opentelemetry.io', version: 'v1beta1', kind: 'OpenTelemetryCollector' }, operation: 'UPDATE', name: 'daemon', dryRun: true, object: { metadata: { name: 'daemon' } } }),
      { kind: 'OpenTelemetryCollector', result: 'unchanged', patchBytes: 0, reason: 'nothing to do' },
      { latencyMs: 0.5 },
    );
    expect(record).toMatchObject({ kind: 'opentelemetry.io/v1beta1/OpenTelemetryCollector', name: 'daemon', operation: 'UPDATE', dryRun: true, changed: false, reason: 'nothing to do', warnings: [] });
    expect(record.generateName).toBeUndefined();
  });

  it('keeps only the first line of messages: a YAML error excerpt of a collector config (with its secrets) is dropped', () => {
    const yamlError = 'Nested mappings are not allowed in compact mappings at line 3, column 12:\n\n  api_key: abc: SECRET-TOKEN\n           ^\n';
    const record = decisionFromReview(podRequest(), { kind: 'OpenTelemetryCollector', result: 'error', patchBytes: 0, reason: yamlError }, { warnings: [`edot-ta: cannot read the OpenTelemetryCollector (${yamlError}); admitted unchanged`], latencyMs: 1 });
    expect(record.reason).toBe('Nested mappings are not allowed in compact mappings at line 3, column 12: …');
    expect(JSON.stringify(record)).not.toContain('SECRET-TOKEN');
  });

  it('caps message length and the number of warnings', () => {
    expect(oneLine('x'.repeat(1000))).toHaveLength(302);
    expect(oneLine('short')).toBe('short');
    expect(oneLine('trailing newline\n')).toBe('trailing newline');
    const record = decisionFromReview(podRequest(), { kind: 'Pod', result: 'unchanged', patchBytes: 0 }, { warnings: Array.from({ length: 25 }, (_, i) => `w${i}`), latencyMs: 1 });
    expect(record.warnings).toHaveLength(11);
    expect(record.warnings.at(-1)).toBe('… 15 more');
  });
});

describe('DecisionLog', () => {
  it('never holds more than its capacity and keeps the newest entries', () => {
    const log = new DecisionLog(3);
    for (let i = 1; i <= 10; i++) log.record(decision(i));
    expect(log.size).toBe(3);
    expect(log.total).toBe(10);
    expect(log.list().map((d) => d.uid)).toEqual(['uid-10', 'uid-9', 'uid-8']);
  });

  it('lists newest first before the ring is full', () => {
    const log = new DecisionLog(5);
    for (let i = 1; i <= 2; i++) log.record(decision(i));
    expect(log.list().map((d) => d.uid)).toEqual(['uid-2', 'uid-1']);
    expect(new DecisionLog(5).list()).toEqual([]);
  });

  it('filters by namespace and applies the limit after the filter', () => {
    const log = new DecisionLog(10);
    for (let i = 1; i <= 8; i++) log.record(decision(i, i % 2 === 0 ? 'even' : 'odd'));
    expect(log.list({ namespace: 'even', limit: 2 }).map((d) => d.uid)).toEqual(['uid-8', 'uid-6']);
    expect(log.list({ namespace: 'none' })).toEqual([]);
    expect(log.list({ limit: 100 })).toHaveLength(8);
  });

  it('defaults to 100 entries per list and refuses a non-positive capacity', () => {
    const log = new DecisionLog(500);
    for (let i = 0; i < 300; i++) log.record(decision(i));
    expect(log.list()).toHaveLength(100);
    expect(log.list({ limit: 1000 })).toHaveLength(300);
    expect(() => new DecisionLog(0)).toThrow(RangeError);
  });
});
