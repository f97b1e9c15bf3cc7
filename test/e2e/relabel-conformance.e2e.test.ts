// Relabel conformance: every case of test/fixtures/relabel/cases.ts goes through ONE real
// Prometheus (2.42, one scrape job per case, http_sd input as the collector gets it from the
// sidecar) and through our engine; the target labels (or the drop) must agree case by case.
// Prometheus is the oracle, not hand-written answers. (http_sd, not file_sd: 130+ file watchers
// exhaust the machine's inotify instances.) A case is identified by its scrape pool only:
// Prometheus 2.42 overwrites the discoveredLabels of dropped targets while relabeling, so dropped
// cases are "not active", and the number of dropped targets must equal our number of drops.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRelabelConfigs, relabel, type Labels } from '../../sidecar/relabel/relabel.js';
import { relabelCases, type RelabelCase } from '../fixtures/relabel/cases.js';
import { waitFor } from '../harness/processes.js';
import { Prometheus } from '../harness/prometheus.js';

const scrapeInterval = '1h'; // long: the targets need not be scraped, only discovered and relabeled
const scrapeTimeout = '10s';

interface Prepared {
  job: string;
  testCase: RelabelCase;
  input: Labels;
}

/** What the target list says about one case: kept with these visible labels, dropped, or absent (no address). */
type Outcome = { kind: 'active'; labels: Labels } | { kind: 'dropped' } | { kind: 'absent' };

const prepared: Prepared[] = relabelCases.map((testCase, index) => ({
  job: `case-${index}`,
  testCase,
  input: { __address__: `127.0.0.1:${20000 + index}`, ...testCase.input },
}));

let sdBase = '';

/** Our engine, wrapped the way Prometheus's scrape pool wraps relabeling (scrape/target.go PopulateLabels). */
function ourOutcome(p: Prepared, dotMatchesNewline: boolean): Outcome {
  const withDefaults: Labels = { ...p.input, __meta_url: `${sdBase}/sd/${p.job}` }; // http_sd adds __meta_url
  const defaults: Labels = { job: p.job, __scrape_interval__: scrapeInterval, __scrape_timeout__: scrapeTimeout, __metrics_path__: '/metrics', __scheme__: 'http' };
  for (const [name, value] of Object.entries(defaults)) if (!withDefaults[name]) withDefaults[name] = value;
  const out = relabel(withDefaults, compileRelabelConfigs(p.testCase.relabel_configs, { dotMatchesNewline, nameValidation: 'legacy' }));
  if (out === null) return { kind: 'dropped' };
  const address = out.__address__;
  if (!address) return { kind: 'absent' }; // Prometheus: "no address", listed nowhere
  // Prometheus parses these after relabeling; a rule that removed them fails the target.
  if (!out.__scrape_interval__ || !out.__scrape_timeout__) return { kind: 'absent' };
  const visible: Labels = {};
  for (const [name, value] of Object.entries(out)) if (!name.startsWith('__') && value !== '') visible[name] = value;
  visible.instance ||= address;
  return { kind: 'active', labels: visible };
}

describe('relabel conformance with a real Prometheus', () => {
  let prometheus: Prometheus | undefined;
  let sdServer: Server | undefined;
  /** Active targets by scrape pool (= case job). */
  const theirs = new Map<string, Outcome>();
  let droppedCount = 0;

  beforeAll(async () => {
    const groups = new Map(prepared.map((p) => {
      const { __address__: address, ...labels } = p.input;
      return [`/sd/${p.job}`, JSON.stringify([{ targets: [address], labels }])];
    }));
    const server = createServer((req, res) => {
      const body = groups.get(req.url ?? '');
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' }).end(body ?? '[]');
    });
    sdServer = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sdBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const scrapeConfigs = prepared.map((p) => ({
      job_name: p.job,
      http_sd_configs: [{ url: `${sdBase}/sd/${p.job}` }],
      relabel_configs: p.testCase.relabel_configs,
    }));
    prometheus = await Prometheus.start({ global: { scrape_interval: scrapeInterval, scrape_timeout: scrapeTimeout }, scrape_configs: scrapeConfigs });
    const expectedVisible = prepared.filter((p) => ourOutcome(p, false).kind !== 'absent').length;
    const prom = prometheus;
    const collect = async () => {
      const answer = await prom.targets('any');
      theirs.clear();
      for (const t of answer.activeTargets) theirs.set(t.scrapePool, { kind: 'active', labels: t.labels });
      droppedCount = answer.droppedTargets.length;
      return theirs.size + droppedCount;
    };
    // Wait for discovery to settle: every job has reported (or the count stops growing).
    // Wait for discovery to settle: every case we expect listed is there and the count is stable
    // between two polls. On timeout the per-case tests below report what is missing.
    let previous = -1;
    await waitFor('prometheus to list the relabeled targets of every case', async () => {
      const size = await collect();
      const settled = size >= expectedVisible && size === previous;
      previous = size;
      return settled;
    }, { timeoutMs: 40_000 }).catch(() => undefined);
    await collect();
  });

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => sdServer?.close(resolve));
  });

  it(`runs at least 100 valid cases through one Prometheus`, () => {
    expect(prepared.length).toBeGreaterThanOrEqual(100);
    const actions = new Set(prepared.flatMap((p) => p.testCase.relabel_configs.map((r) => (r.action ?? 'replace').toLowerCase())));
    expect([...actions].sort()).toEqual(['drop', 'dropequal', 'hashmod', 'keep', 'keepequal', 'labeldrop', 'labelkeep', 'labelmap', 'lowercase', 'replace', 'uppercase']);
    // The oracle exercised every outcome: kept, dropped, and failed (no address / no interval),
    // and dropped exactly as many targets as our engine.
    const ours = prepared.map((p) => ourOutcome(p, false).kind);
    expect(theirs.size).toBeGreaterThan(80);
    expect(droppedCount).toBeGreaterThan(10);
    expect(droppedCount).toBe(ours.filter((k) => k === 'dropped').length);
    expect(prepared.length - theirs.size - droppedCount).toBeGreaterThanOrEqual(2);
  });

  for (const p of prepared) {
    it(`${p.job}: ${p.testCase.name}`, () => {
      const ours = ourOutcome(p, false);
      const active = theirs.get(p.job);
      if (active) expect(ours).toEqual(active);
      else expect(ours.kind, 'Prometheus did not keep this target').not.toBe('active');
    });
  }

  it('the default (Prometheus 3, dot matches newline) agrees on every case without a newline', () => {
    const noNewline = prepared.filter((p) => !Object.values(p.input).some((v) => v.includes('\n')));
    expect(noNewline.length).toBeGreaterThan(100);
    for (const p of noNewline) expect(ourOutcome(p, true), p.testCase.name).toEqual(ourOutcome(p, false));
  });
});
