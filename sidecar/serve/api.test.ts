import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { createApi, parseListenAddress, queryEscape, type ApiState } from './api.js';
import { createMetrics } from './metrics.js';

const logger = createLogger({}, () => {});

function app(overrides: Partial<ApiState> = {}) {
  let ready = true;
  const state: ApiState = {
    ready: () => ready,
    notReadyReason: () => 'waiting for the first list of pods',
    collectorId: 'collector-0',
    scrapeConfigs: () => ({ 'podMonitor/istio-system/envoy-stats-monitor/0': { job_name: 'podMonitor/istio-system/envoy-stats-monitor/0', scrape_interval: '15s' } }),
    jobNames: () => ['podMonitor/istio-system/envoy-stats-monitor/0', 'static job'],
    targetsAnswerGzip: async (job) =>
      gzipSync(job === 'podMonitor/istio-system/envoy-stats-monitor/0' ? '[{"targets":["127.0.0.2:15090"],"labels":{"__address__":"127.0.0.2:15090"}}]' : job === 'static job' ? '[{"targets":["a:1"],"labels":{}}]' : '[]'),
    debugTargets: () => ({ jobs: {} }),
    ...overrides,
  };
  const metrics = createMetrics({ targets: () => ({ keptByJob: { a: 2 }, dropped: 1, owned: 2 }), informers: () => [], ready: () => ready }, false);
  return { api: createApi(state, metrics, logger), setReady: (value: boolean) => (ready = value) };
}

describe('target_allocator API', () => {
  it('answers 503 on every data endpoint until the first full discovery, never an empty {}', async () => {
    const { api, setReady } = app();
    setReady(false);
    for (const path of ['/scrape_configs', '/jobs', '/jobs/x/targets?collector_id=collector-0', '/readyz']) {
      const res = await api.request(path);
      expect(res.status, path).toBe(503);
    }
    expect((await api.request('/livez')).status).toBe(200);
    setReady(true);
    expect((await api.request('/readyz')).status).toBe(200);
  });

  it('with a token, answers 401 without it or with a wrong one on every data and debug route; probes and /metrics stay open', async () => {
    const token = 'k'.repeat(43);
    const { api } = app({ token });
    for (const path of ['/scrape_configs', '/jobs', '/jobs/static%20job/targets?collector_id=collector-0', '/debug/targets']) {
      expect((await api.request(path)).status, path).toBe(401);
      expect((await api.request(path, { headers: { Authorization: `Bearer ${'x'.repeat(43)}` } })).status, path).toBe(401);
      expect((await api.request(path, { headers: { Authorization: `Bearer ${token}x` } })).status, path).toBe(401);
      expect((await api.request(path, { headers: { Authorization: `Bearer ${token}` } })).status, path).toBe(200);
    }
    for (const path of ['/livez', '/readyz', '/metrics']) expect((await api.request(path)).status, path).toBe(200);
    expect(await (await api.request('/scrape_configs')).json()).toEqual({ error: expect.stringMatching(/missing or wrong bearer token/) });
  });

  it('serves scrape configs keyed by job name as JSON', async () => {
    const res = await app().api.request('/scrape_configs');
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({ 'podMonitor/istio-system/envoy-stats-monitor/0': { job_name: 'podMonitor/istio-system/envoy-stats-monitor/0', scrape_interval: '15s' } });
  });

  it('links each job to its targets with Go QueryEscape, and decodes that path back', async () => {
    const { api } = app();
    const jobs = (await (await api.request('/jobs')).json()) as Record<string, { _link: string }>;
    expect(jobs['podMonitor/istio-system/envoy-stats-monitor/0']?._link).toBe('/jobs/podMonitor%2Fistio-system%2Fenvoy-stats-monitor%2F0/targets');
    expect(jobs['static job']?._link).toBe('/jobs/static+job/targets');
    for (const link of Object.values(jobs).map((j) => j._link)) {
      const res = await api.request(`${link}?collector_id=collector-0`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as unknown[]).length).toBe(1);
    }
  });

  it('gives targets only to its own collector; another id or an unknown job gets [] with 200', async () => {
    const { api } = app();
    const other = await api.request('/jobs/podMonitor%2Fistio-system%2Fenvoy-stats-monitor%2F0/targets?collector_id=someone-else');
    expect(other.status).toBe(200);
    expect(await other.json()).toEqual([]);
    const unknown = await api.request('/jobs/nope/targets?collector_id=collector-0');
    expect(unknown.status).toBe(200);
    expect(unknown.headers.get('content-type')).toMatch(/application\/json/);
    expect(await unknown.json()).toEqual([]);
  });

  it('sends the targets gzipped to clients that ask for it (Go http clients do), plain JSON otherwise', async () => {
    const { api } = app();
    const path = '/jobs/static+job/targets?collector_id=collector-0';
    const zipped = await api.request(path, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(JSON.parse(gunzipSync(Buffer.from(await zipped.arrayBuffer())).toString())).toEqual([{ targets: ['a:1'], labels: {} }]);
    const plain = await api.request(path);
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(await plain.json()).toEqual([{ targets: ['a:1'], labels: {} }]);
  });

  it('streams a large answer inflated to clients that do not ask for gzip (Prometheus http_sd)', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ targets: [`10.0.${i >> 8}.${i & 255}:15090`], labels: { __meta_kubernetes_pod_uid: String(i * 7919) } }));
    const { api } = app({ targetsAnswerGzip: async () => gzipSync(JSON.stringify(many)) });
    const res = await api.request('/jobs/static+job/targets?collector_id=collector-0');
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.json()).toEqual(many);
  });

  it('exposes targets by job and request latency on /metrics', async () => {
    const { api } = app();
    await api.request('/scrape_configs');
    const text = await (await api.request('/metrics')).text();
    expect(text).toContain('edot_ta_targets{job="a"} 2');
    expect(text).toMatch(/edot_ta_http_request_duration_seconds_count\{route="\/scrape_configs",code="200"\} 1/);
  });
});

describe('parseListenAddress', () => {
  it('accepts loopback addresses only', () => {
    expect(parseListenAddress('127.0.0.1:27390')).toEqual({ host: '127.0.0.1', port: 27390 });
    expect(parseListenAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(() => parseListenAddress('0.0.0.0:27390')).toThrow(/not a loopback address/);
    expect(() => parseListenAddress('10.0.0.5:27390')).toThrow(/not a loopback address/);
    expect(() => parseListenAddress('127.0.0.1')).toThrow(/host:port/);
  });

  it('escapes like Go url.QueryEscape', () => {
    expect(queryEscape('serviceMonitor/ns/a b/0')).toBe('serviceMonitor%2Fns%2Fa+b%2F0');
  });
});
