// Which jobs the render step moves to the sidecar, on the real kube-stack daemon config (read
// from ../shared/real-configs, public data kept beside the project) and on job shapes taken
// from Prometheus' documentation: per-node, other discovery, invalid, `regex: true`, merge keys.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { renderConfigs } from './render.js';

const realConfig = (file: string) => readFileSync(new URL(`../../../shared/real-configs/${file}`, import.meta.url), 'utf8');
const options = { endpoint: 'http://127.0.0.1:27390', interval: '30s', refreshInterval: '10s', env: { CLUSTER_NAME: 'prod' }, podLocalEnv: ['POD_NAME', 'OTEL_K8S_NODE_NAME', 'OTEL_K8S_NODE_IP'] };

/** The daemon collector's config as the operator writes it into the pod (`spec.config` of the CR). */
function kubeStackDaemonConfig(): string {
  const crs = parseAllDocuments(realConfig('kube-stack-default.collectors.yaml')).map((d) => d.toJS() as { metadata: { name: string }; spec: { mode?: string; config: unknown } });
  const daemon = crs.find((cr) => cr.spec.mode === 'daemonset');
  if (!daemon) throw new Error('no daemonset collector in kube-stack-default.collectors.yaml');
  return typeof daemon.spec.config === 'string' ? daemon.spec.config : stringify(daemon.spec.config);
}

const jobs = (text: string) => ((parse(text) as { receivers: { prometheus: { config?: { scrape_configs?: Array<{ job_name: string }> } } } }).receivers.prometheus.config?.scrape_configs ?? []).map((j) => j.job_name);

describe('render on the kube-stack daemon config', () => {
  it('keeps kubernetes-pods, node-exporter and kubelet in the collector: each reads a per-pod variable, so each collector scrapes its own node as before', () => {
    const result = renderConfigs([{ name: 'collector.yaml', text: kubeStackDaemonConfig() }], options);
    expect(result.scrapeConfigs).toEqual([]);
    expect(jobs(result.configs[0]!.text)).toEqual(['kubernetes-pods', 'node-exporter', 'kubelet']);
    expect(result.messages.join('\n')).toMatch(/job kubernetes-pods reads the per-pod variable OTEL_K8S_NODE_NAME/);
    expect(result.messages.join('\n')).toMatch(/job node-exporter reads the per-pod variable OTEL_K8S_NODE_IP/);
    expect(result.messages.join('\n')).toMatch(/job kubelet reads the per-pod variable OTEL_K8S_NODE_NAME/);
    // Kept jobs stay as written: unquoted `regex: true`, the collector's `$$1` escapes.
    expect(result.configs[0]!.text).toContain('regex: true');
    expect(result.configs[0]!.text).toContain('replacement: $$1:$$2');
  });

  it('moves the same jobs when nothing in them is per pod (a webhook that saw no fieldRef env)', () => {
    const result = renderConfigs([{ name: 'collector.yaml', text: kubeStackDaemonConfig() }], { ...options, podLocalEnv: [] });
    expect(result.scrapeConfigs.map((j) => j.job_name)).toEqual(['kubernetes-pods', 'node-exporter', 'kubelet']);
    // `regex: true` arrives as YAML's boolean: the sidecar reads it as Prometheus does ("true").
    const pods = result.scrapeConfigs[0] as unknown as { relabel_configs: Array<{ regex?: unknown }> };
    expect(pods.relabel_configs[0]!.regex).toBe(true);
  });
});

describe('render sorts jobs by what the sidecar can take over', () => {
  const config = `receivers:
  prometheus:
    config:
      global: { scrape_interval: 15s }
      scrape_configs:
        - job_name: shared-static
          static_configs: [{ targets: ["10.0.0.1:9100", "10.0.0.2:9100"], labels: { note: "$\${env:OTEL_K8S_NODE_IP}" } }]
        - job_name: dns
          dns_sd_configs: [{ names: [_metrics._tcp.example.com] }]
        - job_name: files
          file_sd_configs: [{ files: [/etc/targets/*.json] }]
        - job_name: shared-files
          file_sd_configs: [{ files: [/conf/targets/*.yaml] }]
        - job_name: http
          http_sd_configs: [{ url: "http://sd.example:8080/targets", basic_auth: { username: u, password_file: /conf/sd-password } }]
        - job_name: http-oauth
          http_sd_configs: [{ url: "http://sd.example:8080/targets", oauth2: { client_id: a, client_secret: b, token_url: "http://idp.example/token" } }]
        - job_name: consul
          consul_sd_configs: [{ server: "consul:8500" }]
        - job_name: dns-no-port
          dns_sd_configs: [{ names: [metrics.example.com], type: A }]
        - job_name: other-cluster
          kubernetes_sd_configs: [{ role: ingress, api_server: "https://other.example:6443" }]
        - job_name: too-slow
          scrape_interval: 5s
          scrape_timeout: 10s
          static_configs: [{ targets: ["10.0.0.3:9100"] }]
        - job_name: bad-regex
          metric_relabel_configs: [{ source_labels: [__name__], regex: "a(b", action: drop }]
          static_configs: [{ targets: ["10.0.0.4:9100"] }]
        - &defaults
          job_name: base
          metrics_path: /probe
          static_configs: [{ targets: ["10.0.0.5:9115"] }]
        - <<: *defaults
          job_name: merged
exporters: { debug: {} }
service: { pipelines: { metrics: { receivers: [prometheus], exporters: [debug] } } }
`;
  const result = renderConfigs([{ name: 'c.yaml', text: config }], { ...options, sharedPaths: ['/conf'] });
  const text = result.configs[0]!.text;

  it('moves static jobs, with the global interval inlined and merge keys resolved', () => {
    expect(result.scrapeConfigs.map((j) => j.job_name)).toEqual(['shared-static', 'dns', 'shared-files', 'http', 'base', 'merged']);
    expect(result.scrapeConfigs[0]!.scrape_interval).toBe('15s');
    // `$$` escapes: a literal, not a read of the per-pod variable (as the collector's confmap reads it).
    expect((result.scrapeConfigs[0] as unknown as { static_configs: Array<{ labels: Record<string, string> }> }).static_configs[0]!.labels.note).toBe('${env:OTEL_K8S_NODE_IP}');
    expect(result.scrapeConfigs[5]).toMatchObject({ job_name: 'merged', metrics_path: '/probe', static_configs: [{ targets: ['10.0.0.5:9115'] }] });
  });

  it('moves dns_sd jobs, and file_sd and http_sd jobs whose files are on the shared ConfigMap paths', () => {
    expect(result.messages.join('\n')).not.toMatch(/job (dns|shared-files|http):/);
    expect(result.scrapeConfigs.find((j) => j.job_name === 'shared-files')).toMatchObject({ file_sd_configs: [{ files: ['/conf/targets/*.yaml'] }] });
  });

  it('keeps jobs with a discovery the sidecar does not run, or files it cannot read as the collector does, in the collector, as written', () => {
    expect(jobs(text)).toEqual(['files', 'http-oauth', 'consul', 'other-cluster']);
    expect(text).toContain('/etc/targets/*.json');
    const messages = result.messages.join('\n');
    expect(messages).toMatch(/job files: file_sd_configs reads \/etc\/targets\/\*\.json, which is not on a ConfigMap volume the sidecar shares with the collector \(\/conf\); it stays in the collector/);
    expect(messages).toMatch(/job http-oauth: http_sd_configs uses oauth2, which the sidecar's http_sd client does not support/);
    expect(messages).toMatch(/job consul uses consul_sd_configs, which the sidecar does not run/);
    expect(messages).toMatch(/job other-cluster: kubernetes_sd_configs.api_server is not supported: the sidecar discovers in its own cluster/);
  });

  it('without shared paths (plain render) a file_sd job stays in the collector', () => {
    const plain = renderConfigs([{ name: 'c.yaml', text: config }], options);
    expect(jobs(plain.configs[0]!.text)).toEqual(expect.arrayContaining(['files', 'shared-files', 'http']));
  });

  it('removes jobs Prometheus would reject, saying why (the receiver would refuse every job with them)', () => {
    expect(result.scrapeConfigs.map((j) => j.job_name)).not.toContain('too-slow');
    expect(jobs(text)).not.toContain('too-slow');
    expect(result.messages.join('\n')).toMatch(/job too-slow is not valid \(scrape timeout greater than scrape interval/);
    expect(result.messages.join('\n')).toMatch(/job bad-regex is not valid \(metric_relabel_configs\[0\]\.regex/);
    expect(result.messages.join('\n')).toMatch(/job dns-no-port is not valid \(a port is required in DNS-SD configs for all record types except SRV\)/);
  });

  it('points the receiver at the sidecar and keeps the remaining scrape_configs beside target_allocator', () => {
    const receiver = (parse(text) as { receivers: { prometheus: Record<string, unknown> } }).receivers.prometheus;
    expect(receiver.target_allocator).toMatchObject({ endpoint: 'http://127.0.0.1:27390' });
  });
});

describe('render on the kube-stack prometheus presets (several prometheus receivers)', () => {
  it('takes over one receiver, leaves the others scraping their own jobs, and moves nothing per-node', () => {
    const [daemon] = parseAllDocuments(realConfig('kube-stack-daemonset-prometheus-presets.collectors.yaml')).map((d) => d.toJS() as { spec: { config: unknown } });
    const result = renderConfigs([{ name: 'collector.yaml', text: stringify(daemon!.spec.config) }], options);
    const receivers = (parse(result.configs[0]!.text) as { receivers: Record<string, { target_allocator?: unknown; config?: { scrape_configs?: unknown[] } }> }).receivers;
    const withAllocator = Object.entries(receivers).filter(([, r]) => r.target_allocator).map(([id]) => id);
    expect(withAllocator).toHaveLength(1);
    expect(result.messages.join('\n')).toMatch(/keeps its own scrape_configs/);
    // No job reading a per-pod variable left the collector.
    for (const job of result.scrapeConfigs) expect(JSON.stringify(job)).not.toMatch(/OTEL_K8S_NODE|\$\{env:/);
  });
});
