// The sidecar's and render's job validation (sidecar/targets/validate.ts) agrees with Prometheus'
// own loader: `promtool check config` (Debian's Prometheus 2.42) accepts exactly the jobs we
// accept. A job we would serve and the receiver would reject stops every job of the collector;
// a job we would remove that Prometheus accepts would be lost.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { scrapeConfigProblems } from '../../sidecar/targets/validate.js';

const execFileAsync = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'edot-ta-promtool-'));
const targets = [{ targets: ['10.0.0.1:9100'] }];

const cases: Array<[string, Record<string, unknown>]> = [
  ['plain static job', { static_configs: targets }],
  ['intervals in order', { scrape_interval: '30s', scrape_timeout: '10s', static_configs: targets }],
  ['timeout equal to interval', { scrape_interval: '10s', scrape_timeout: '10s', static_configs: targets }],
  ['timeout above interval', { scrape_interval: '5s', scrape_timeout: '10s', static_configs: targets }],
  ['compound duration', { scrape_interval: '1m30s', scrape_timeout: '1m', static_configs: targets }],
  ['not a duration', { scrape_interval: 'often', static_configs: targets }],
  ['https scheme', { scheme: 'https', static_configs: targets }],
  ['unknown scheme (the loader accepts it; scrapes fail later)', { scheme: 'ftp', static_configs: targets }],
  ['unquoted boolean regex (kube-stack)', { static_configs: targets, relabel_configs: [{ source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: true }] }],
  ['$(SHARD) regex (prometheus-operator)', { static_configs: targets, relabel_configs: [{ source_labels: ['__address__'], target_label: '__tmp_hash', modulus: 1, action: 'hashmod' }, { source_labels: ['__tmp_hash'], regex: '$(SHARD)', action: 'keep' }] }],
  ['hashmod without modulus', { static_configs: targets, relabel_configs: [{ source_labels: ['__address__'], target_label: '__tmp_hash', action: 'hashmod' }] }],
  ['unknown relabel action', { static_configs: targets, relabel_configs: [{ source_labels: ['__address__'], action: 'rename' }] }],
  ['bad relabel regex', { static_configs: targets, relabel_configs: [{ source_labels: ['__address__'], regex: 'a(b', action: 'keep' }] }],
  ['bad metric_relabel regex', { static_configs: targets, metric_relabel_configs: [{ source_labels: ['__name__'], regex: '[z-a]', action: 'drop' }] }],
  ['replace without target_label', { static_configs: targets, relabel_configs: [{ source_labels: ['__address__'], action: 'replace' }] }],
  ['labelmap', { static_configs: targets, relabel_configs: [{ regex: '__meta_kubernetes_pod_label_(.+)', action: 'labelmap' }] }],
];

async function promtoolAccepts(name: string, job: Record<string, unknown>): Promise<{ ok: boolean; output: string }> {
  const file = join(dir, `${name.replace(/\W+/g, '-')}.yml`);
  writeFileSync(file, stringify({ scrape_configs: [{ job_name: 'job', ...job }] }));
  try {
    const { stdout, stderr } = await execFileAsync('promtool', ['check', 'config', '--syntax-only', file]);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    return { ok: false, output: stdout + stderr };
  }
}

describe('job validation agrees with promtool check config', () => {
  for (const [name, job] of cases) {
    it(name, async () => {
      const problems = scrapeConfigProblems({ job_name: 'job', ...job });
      const promtool = await promtoolAccepts(name, job);
      expect(problems.length === 0, `ours: ${JSON.stringify(problems)}\npromtool: ${promtool.output}`).toBe(promtool.ok);
    });
  }
});
