// dns_sd, http_sd and file_sd: parsing with Prometheus' defaults and refusals, target group
// decoding, and the refresh loop's keep-on-failure rule. The lookups themselves run against a
// real DNS server, a real HTTP server and real files (dns-sd/http-sd/file-sd tests below).
import { afterEach, describe, expect, it } from 'vitest';
import { decodeTargetGroups, parseRefreshSd, parseRefreshSds, RefreshLoop, RefreshSdConfigError, type Refresh } from './refresh-sd.js';
import type { TargetGroup } from './types.js';

describe('parseRefreshSd', () => {
  it('fills Prometheus defaults: SRV and 30s for dns, 60s for http, 5m for file', () => {
    expect(parseRefreshSd('dns', { names: ['_m._tcp.example.com'] })).toEqual({ kind: 'dns', names: ['_m._tcp.example.com'], type: 'SRV', port: 0, refreshMs: 30_000 });
    expect(parseRefreshSd('http', { url: 'http://sd:8080/t' })).toMatchObject({ refreshMs: 60_000, client: {} });
    expect(parseRefreshSd('file', { files: ['/conf/*.json'] })).toMatchObject({ refreshMs: 300_000 });
    expect(parseRefreshSd('dns', { names: ['a.example'], type: 'aaaa', port: 9100, refresh_interval: '5s' })).toMatchObject({ type: 'AAAA', port: 9100, refreshMs: 5_000 });
  });

  it.each([
    ['dns', { names: [] }, 'DNS-SD config must contain at least one SRV record name'],
    ['dns', { names: ['a.example'], type: 'A' }, 'a port is required in DNS-SD configs for all record types except SRV'],
    ['dns', { names: ['a.example'], type: 'TXT' }, 'invalid DNS-SD records type TXT'],
    ['dns', { names: ['a.example'], refresh_interval: '5 minutes' }, 'dns_sd_configs: refresh_interval "5 minutes" is not a Prometheus duration'],
    ['http', {}, 'URL is missing'],
    ['http', { url: 'ftp://sd/t' }, "URL scheme must be 'http' or 'https'"],
    ['file', { files: [] }, 'file service discovery config must contain at least one path name'],
    ['file', { files: ['/conf/targets.txt'] }, 'path name "/conf/targets.txt" is not valid for file discovery'],
    ['file', { files: ['/conf/*/targets.json'] }, 'path name "/conf/*/targets.json" is not valid for file discovery'],
  ] as const)('%s %j is refused: %s', (kind, entry, message) => {
    expect(() => parseRefreshSd(kind, entry)).toThrow(new RefreshSdConfigError(message));
  });

  it('reads every section of a job, in a fixed order', () => {
    const specs = parseRefreshSds({ job_name: 'j', file_sd_configs: [{ files: ['/a.json'] }], dns_sd_configs: [{ names: ['x'] }] });
    expect(specs.map((s) => s.kind)).toEqual(['dns', 'file']);
    expect(() => parseRefreshSds({ job_name: 'j', dns_sd_configs: { names: ['x'] } })).toThrow('dns_sd_configs must be a list');
  });
});

describe('decodeTargetGroups', () => {
  const source = (i: number) => `f.json:${i}`;

  it('gives every target its __address__, the group its labels plus the meta label, the source by index', () => {
    expect(decodeTargetGroups([{ targets: ['a:1', 'b:2'], labels: { env: 'prod' } }, { targets: [] }], source, { __meta_filepath: 'f.json' }, false)).toEqual([
      { source: 'f.json:0', targets: [{ __address__: 'a:1' }, { __address__: 'b:2' }], labels: { env: 'prod', __meta_filepath: 'f.json' } },
      { source: 'f.json:1', targets: [], labels: { __meta_filepath: 'f.json' } },
    ]);
  });

  it.each([
    [[null], 'nil target group item found'],
    [[{ targets: [80] }], 'target group 0: target 80 is not a string'],
    [[{ targets: ['a:1'], labels: { 'bad-name': 'x' } }], '"bad-name" is not a valid label name'],
    [[{ targets: ['a:1'], labels: { n: 1 } }], 'target group 0: label n is not a string'],
    [{ targets: ['a:1'] }, 'expected a list of target groups'],
  ])('refuses %j', (value, message) => {
    expect(() => decodeTargetGroups(value, source, {}, false)).toThrow(message);
  });

  it('refuses unknown fields only when strict (file_sd YAML)', () => {
    expect(() => decodeTargetGroups([{ targets: ['a:1'], label: {} }], source, {}, true)).toThrow('target group 0: field label not found');
    expect(decodeTargetGroups([{ targets: ['a:1'], label: {} }], source, {}, false)).toHaveLength(1);
  });
});

describe('RefreshLoop', () => {
  const loops: RefreshLoop[] = [];
  afterEach(() => loops.splice(0).forEach((l) => l.stop()));
  const group = (source: string, address: string): TargetGroup => ({ source, targets: [{ __address__: address }], labels: {} });

  it('refreshes at once, then every period; a failed refresh keeps the previous groups and is reported', async () => {
    let calls = 0;
    const seen: string[][] = [];
    const errors: string[] = [];
    const refresh: Refresh = async () => {
      calls++;
      if (calls === 2) throw new Error('server returned HTTP status 503');
      return { groups: new Map([['s', group('s', `10.0.0.${calls}:80`)]]), errors: [] };
    };
    const loop = new RefreshLoop({ refreshMs: 20, refresh, onGroups: (g) => seen.push([...g.values()].map((x) => x.targets[0]!.__address__!)), onError: (e) => errors.push(e.message) });
    loops.push(loop);
    expect(loop.attempted).toBe(false);
    loop.start();
    await expect.poll(() => calls, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    expect(loop.attempted).toBe(true);
    expect(seen[0]).toEqual(['10.0.0.1:80']);
    expect(seen[1]).toEqual(['10.0.0.3:80']);
    expect(errors[0]).toBe('server returned HTTP status 503');
  });

  it('runs one refresh at a time: a refreshNow during a refresh runs once more after it', async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    let release: () => void = () => {};
    const refresh: Refresh = async () => {
      calls++;
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => (release = resolve));
      running--;
      return { groups: new Map(), errors: [] };
    };
    const loop = new RefreshLoop({ refreshMs: 60_000, refresh, onGroups: () => {}, onError: () => {} });
    loops.push(loop);
    loop.start();
    loop.refreshNow();
    loop.refreshNow();
    release();
    await expect.poll(() => calls).toBe(2);
    release();
    await expect.poll(() => loop.attempted).toBe(true);
    expect(most).toBe(1);
  });
});
