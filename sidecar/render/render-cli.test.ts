import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { run } from './render-cli.js';

const fixture = (name: string) => new URL(`../../test/fixtures/collector-configs/${name}`, import.meta.url).pathname;

describe('edot-ta sidecar render', () => {
  let dir = '';
  let stderr: string[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'render-cli-'));
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  it('renders several --in/--out pairs and writes the scrape configs file', async () => {
    const code = await run([
      '--in', fixture('edot-daemon-istio.yaml'), '--out', join(dir, 'edot-ta/0-collector.yaml'),
      '--in', fixture('no-prometheus.yaml'), '--out', join(dir, 'edot-ta/1-extra.yaml'),
      '--scrape-configs-out', join(dir, 'edot-ta/scrape-configs.yaml'),
      '--endpoint', 'http://127.0.0.1:29000', '--interval', '15s', '--refresh-interval', '5s',
    ]);
    expect(code).toBe(0);
    const rendered = parse(readFileSync(join(dir, 'edot-ta/0-collector.yaml'), 'utf8'));
    expect(rendered.receivers['prometheus/istio'].target_allocator).toEqual({ endpoint: 'http://127.0.0.1:29000', interval: '15s', collector_id: '${env:POD_NAME}', http_sd_config: { refresh_interval: '5s' } });
    expect(readFileSync(join(dir, 'edot-ta/1-extra.yaml'), 'utf8')).toBe(readFileSync(fixture('no-prometheus.yaml'), 'utf8'));
    const scrape = parse(readFileSync(join(dir, 'edot-ta/scrape-configs.yaml'), 'utf8'));
    expect(scrape.scrape_configs.map((j: { job_name: string }) => j.job_name)).toEqual(['istio-ingressgateway', 'istio-gateway-pods']);
    const lines = stderr.join('').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toContain('wrote scrape configs for the sidecar');
  });

  it('with --token-out writes a fresh token (owner-only) and makes the receiver send it on /scrape_configs and every http_sd request', async () => {
    const args = ['--in', fixture('edot-daemon-istio.yaml'), '--out', join(dir, 'out.yaml'), '--token-out', join(dir, 'token')];
    expect(await run(args)).toBe(0);
    const token = readFileSync(join(dir, 'token'), 'utf8');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);
    const allocator = parse(readFileSync(join(dir, 'out.yaml'), 'utf8')).receivers['prometheus/istio'].target_allocator;
    expect(allocator.headers).toEqual({ Authorization: `Bearer ${token}` });
    expect(allocator.http_sd_config).toEqual({ refresh_interval: '10s', authorization: { credentials: token } });
    // Every pod start gets its own token.
    expect(await run(args)).toBe(0);
    expect(readFileSync(join(dir, 'token'), 'utf8')).not.toBe(token);
  });

  it('copies an unparsable config unchanged, writes an empty scrape config list and exits 0', async () => {
    const code = await run(['--in', fixture('unparsable.yaml'), '--out', join(dir, 'out.yaml'), '--scrape-configs-out', join(dir, 'sc.yaml')]);
    expect(code).toBe(0);
    expect(readFileSync(join(dir, 'out.yaml'), 'utf8')).toBe(readFileSync(fixture('unparsable.yaml'), 'utf8'));
    expect(parse(readFileSync(join(dir, 'sc.yaml'), 'utf8'))).toEqual({ scrape_configs: [] });
    expect(stderr.join('')).toMatch(/cannot parse as YAML/);
  });

  it('fails (exit 1, nothing written) when an input cannot be read, naming the file: the collector must never start without its config', async () => {
    copyFileSync(fixture('no-prometheus.yaml'), join(dir, 'ok.yaml'));
    vi.spyOn(console, 'error').mockImplementation((text: string) => void stderr.push(text));
    const code = await run(['--in', join(dir, 'missing.yaml'), '--out', join(dir, 'o1.yaml'), '--in', join(dir, 'ok.yaml'), '--out', join(dir, 'o2.yaml')]);
    expect(code).toBe(1);
    expect(existsSync(join(dir, 'o1.yaml'))).toBe(false);
    expect(existsSync(join(dir, 'o2.yaml'))).toBe(false);
    expect(stderr.join('')).toMatch(/cannot read collector config.*missing.yaml/);
    expect(stderr.join('')).toMatch(/edot-ta render cannot read the collector config .*missing.yaml.*edot-ta.io\/inject/);
  });

  it('rejects mismatched --in/--out and bad durations with usage (exit 2)', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await run(['--in', 'a'])).toBe(2);
    expect(await run(['--in', 'a', '--out', 'b', '--interval', 'often'])).toBe(2);
    expect(await run(['--bogus'])).toBe(2);
  });
});
