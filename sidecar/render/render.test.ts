import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatScrapeConfigs, renderConfigs, type RenderOptions } from './render.js';
import { durationMs, expandString } from './render-expand.js';

const text = (name: string) => readFileSync(new URL(`../../test/fixtures/collector-configs/${name}`, import.meta.url), 'utf8');
const options: RenderOptions = { endpoint: 'http://127.0.0.1:27390', interval: '30s', refreshInterval: '10s', env: { CLUSTER_NAME: 'prod-eu', SCRAPE_PASSWORD: 's3cret' } };
type Config = { receivers: Record<string, Record<string, unknown>>; service: unknown; [k: string]: unknown };

describe('render on the EDOT daemon config with prometheus/istio', () => {
  const input = text('edot-daemon-istio.yaml');
  const result = renderConfigs([{ name: '/conf/collector.yaml', text: input }], options);
  const out = result.configs[0]!;
  const config = parse(out.text) as Config;
  const before = parse(input) as Config;

  it('points prometheus/istio at the sidecar with the target_allocator protocol settings', () => {
    expect(result.receiver).toBe('prometheus/istio');
    expect(config.receivers['prometheus/istio']!.target_allocator).toEqual({
      endpoint: 'http://127.0.0.1:27390',
      interval: '30s',
      collector_id: '${env:POD_NAME}',
      http_sd_config: { refresh_interval: '10s' },
    });
  });

  it('moves scrape_configs out and keeps the rest of config (global)', () => {
    expect(config.receivers['prometheus/istio']!.config).toEqual({ global: { scrape_interval: '30s', scrape_timeout: '10s' } });
    expect(result.scrapeConfigs.map((j) => j.job_name)).toEqual(['istio-ingressgateway', 'istio-gateway-pods']);
  });

  it('hands the sidecar what the receiver would have seen: $$ unescaped, ${env:...} expanded, global defaults inlined', () => {
    const [ingress, pods] = result.scrapeConfigs;
    expect(ingress).toMatchObject({
      metrics_path: '/stats/prometheus',
      scrape_interval: '15s',
      scrape_timeout: '10s',
      static_configs: [{ targets: ['10.0.3.17:15090', '10.0.5.22:15090'], labels: { cluster: 'prod-eu', gateway: 'ingress' } }],
    });
    expect(pods).toMatchObject({ scrape_interval: '30s', scrape_timeout: '10s' });
    expect((pods!.relabel_configs as Array<Record<string, unknown>>)[1]).toEqual({
      source_labels: ['__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port'],
      regex: '([^:]+)(?::\\d+)?;(\\d+)',
      replacement: '$1:15090',
      target_label: '__address__',
    });
  });

  it('keeps every other receiver, processor, exporter and pipeline as they were, ${env:...} untouched', () => {
    const { receivers, ...rest } = config;
    const { receivers: beforeReceivers, ...beforeRest } = before;
    expect(rest).toEqual(beforeRest);
    for (const id of ['otlp', 'filelog', 'hostmetrics', 'kubeletstats']) expect(receivers[id]).toEqual(beforeReceivers[id]);
    expect(out.text).toContain('endpoint: ${env:OTEL_K8S_NODE_NAME}:10250');
    expect(out.text).toContain('# The kube-stack EDOT daemon collector config'); // comments survive
    expect(out.text).toContain('endpoint: "http://opentelemetry-kube-stack-gateway-collector-headless:4317"'); // quoting survives
  });

  it('writes the scrape configs file the sidecar reads ({scrape_configs: [...]})', () => {
    const file = parse(formatScrapeConfigs(result.scrapeConfigs)) as { scrape_configs: unknown[] };
    expect(file.scrape_configs).toEqual(JSON.parse(JSON.stringify(result.scrapeConfigs)));
  });

  it('is stable: rendering the rendered config changes nothing and moves no job twice', () => {
    const again = renderConfigs([{ name: 'x', text: out.text }], options);
    expect(parse(again.configs[0]!.text)).toEqual(config);
    expect(again.scrapeConfigs).toEqual([]);
  });
});

describe('render with two prometheus receivers', () => {
  const result = renderConfigs([{ name: 'two.yaml', text: text('two-receivers.yaml') }], options);
  const config = parse(result.configs[0]!.text) as Config;

  it('uses `prometheus` for the sidecar, replacing a central target_allocator with a message', () => {
    expect(result.receiver).toBe('prometheus');
    expect((config.receivers.prometheus!.target_allocator as Record<string, unknown>).endpoint).toBe('http://127.0.0.1:27390');
    expect(result.messages.join('\n')).toMatch(/had a target_allocator \(endpoint http:\/\/central-targetallocator:80\); replaced/);
  });

  it('leaves prometheus/self scraping its own job so nothing is scraped twice, and says so', () => {
    expect(config.receivers['prometheus/self']).toEqual(parse(text('two-receivers.yaml')).receivers['prometheus/self']);
    expect(result.scrapeConfigs.map((j) => j.job_name)).not.toContain('otel-collector');
    expect(result.messages.join('\n')).toMatch(/prometheus\/self keeps its own scrape_configs/);
  });

  it('keeps job names unique (prefix on collision, with a message) and reports unresolvable references', () => {
    expect(result.scrapeConfigs.map((j) => j.job_name)).toEqual(['apps', 'prometheus/apps']);
    expect(result.messages.join('\n')).toMatch(/job name apps is used twice; the second is served as prometheus\/apps/);
    const second = result.scrapeConfigs[1]!;
    expect(second.basic_auth).toEqual({ username: 'scraper', password: 's3cret' });
    expect(result.messages.join('\n')).toMatch(/\$\{file:\/etc\/ca\/path.txt\} is not resolvable/);
    expect(result.messages.join('\n')).not.toContain('s3cret'); // never log secrets
  });
});

describe('render passes through what it cannot or need not change', () => {
  it('passes an unparsable config through byte for byte with a clear message', () => {
    const input = text('unparsable.yaml');
    const result = renderConfigs([{ name: 'bad.yaml', text: input }], options);
    expect(result.configs[0]).toEqual({ name: 'bad.yaml', text: input, changed: false });
    expect(result.scrapeConfigs).toEqual([]);
    expect(result.messages[0]).toMatch(/bad.yaml: cannot parse as YAML/);
  });

  it('passes a config without prometheus receiver through byte for byte', () => {
    const input = text('no-prometheus.yaml');
    const result = renderConfigs([{ name: 'np.yaml', text: input }], options);
    expect(result.configs[0]!.text).toBe(input);
    expect(result.messages.join()).toMatch(/no prometheus receiver/);
  });

  it('renders several files: the receiver lives in one, the other stays byte for byte; later scrape_configs win', () => {
    const base = 'receivers:\n  prometheus:\n    config:\n      scrape_configs:\n        - job_name: a\n          static_configs: [{targets: ["h:1"]}]\n';
    const overlay = 'receivers:\n  prometheus:\n    config:\n      scrape_configs:\n        - job_name: b\n          static_configs: [{targets: ["h:2"]}]\n';
    const pipelines = text('no-prometheus.yaml');
    const result = renderConfigs([{ name: 'base', text: base }, { name: 'pipelines', text: pipelines }, { name: 'overlay', text: overlay }], options);
    expect(result.configs.map((c) => c.changed)).toEqual([true, false, true]);
    expect(result.configs[1]!.text).toBe(pipelines);
    expect(result.scrapeConfigs.map((j) => j.job_name)).toEqual(['b']);
    expect(result.messages.join()).toMatch(/replace the ones from base/);
  });

  it('passes a receiver written as a YAML alias through unchanged, with a message', () => {
    const input = 'x-prom: &prom\n  config:\n    scrape_configs: [{job_name: a, static_configs: [{targets: ["h:1"]}]}]\nreceivers:\n  prometheus: *prom\n';
    const result = renderConfigs([{ name: 'alias.yaml', text: input }], options);
    expect(result.configs[0]).toEqual({ name: 'alias.yaml', text: input, changed: false });
    expect(result.messages.join()).toMatch(/alias.yaml: cannot rewrite \(prometheus is a YAML alias\); passed through unchanged/);
    expect(result.receiver).toBeUndefined();
    expect(result.scrapeConfigs).toEqual([]);
  });

  it('adds target_allocator to a bare `prometheus:` receiver', () => {
    const result = renderConfigs([{ name: 'c', text: 'receivers:\n  prometheus:\nservice:\n  pipelines:\n    metrics:\n      receivers: [prometheus]\n' }], { ...options, collectorId: '${env:MY_ID}' });
    const config = parse(result.configs[0]!.text) as Config;
    expect(config.receivers.prometheus).toMatchObject({ config: {}, target_allocator: { collector_id: '${env:MY_ID}' } });
  });
});

describe('confmap expansion of moved scrape configs', () => {
  it('unescapes $$, expands env with defaults, keeps Prometheus $1 and unknown providers', () => {
    const unresolved: string[] = [];
    expect(expandString('$$1 ${env:A} ${B} ${env:C:-dflt} ${file:/x} $1 ${env:MISSING}', { A: 'a', B: 'b' }, unresolved)).toBe('$1 a b dflt ${file:/x} $1 ${env:MISSING}');
    expect(unresolved).toEqual(['${file:/x}', '${env:MISSING}']);
  });

  it('parses Prometheus durations', () => {
    expect(durationMs('1m30s')).toBe(90_000);
    expect(durationMs('500ms')).toBe(500);
    expect(durationMs('soon')).toBeUndefined();
  });
});

describe('render reports the jobs it did not take', () => {
  it('names each job left in the collector or removed, in config order, with its reason', () => {
    const config = [
      'receivers:',
      '  prometheus:',
      '    config:',
      '      scrape_configs:',
      '        - job_name: kubelet',
      '          static_configs: [{ targets: ["${env:NODE_NAME}:10250"] }]',
      '        - job_name: moved',
      '          static_configs: [{ targets: ["a:1"] }]',
      '        - job_name: consul',
      '          consul_sd_configs: [{ server: "consul:8500" }]',
      '        - job_name: broken',
      '          scrape_interval: soon',
      '          static_configs: [{ targets: ["b:1"] }]',
      '        - static_configs: [{ targets: ["c:1"] }]',
      'exporters: { debug: {} }',
      'service: { pipelines: { metrics: { receivers: [prometheus], exporters: [debug] } } }',
    ].join('\n');
    const result = renderConfigs([{ name: 'config.yaml', text: config }], options);
    expect(result.scrapeConfigs.map((job) => job.job_name)).toEqual(['moved']);
    expect(result.notTaken.map(({ job, action }) => ({ job, action }))).toEqual([
      { job: 'kubelet', action: 'keep' },
      { job: 'consul', action: 'keep' },
      { job: 'broken', action: 'drop' },
      { job: 'prometheus scrape_configs[4]', action: 'keep' },
    ]);
    expect(result.notTaken[0]?.reason).toBe('job kubelet reads the per-pod variable NODE_NAME: node-local by construction, it stays in the collector');
  });
});
