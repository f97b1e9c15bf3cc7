import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildMonitorScrapeConfigs } from './monitor-configs.js';
import { scrapeConfigCrdScrapeConfigs, type ScrapeConfigCR } from './scrape-config-crd.js';

const [external, annotatedPods, consul] = parseAllDocuments(readFileSync(new URL('../../test/fixtures/monitors/scrapeconfigs.yaml', import.meta.url), 'utf8')).map((d) => d.toJSON() as ScrapeConfigCR) as [ScrapeConfigCR, ScrapeConfigCR, ScrapeConfigCR];
const ctx = { secret: (ns: string, name: string, key: string) => (`${ns}/${name}/${key}` === 'monitoring/exporter-token/token' ? 's3cret' : undefined) };

describe('ScrapeConfig → scrape config as the prometheus-operator generates it', () => {
  it('a static job: job scrapeConfig/<ns>/<name>, the operator\'s relabeling head then spec.jobName and the relabelings, HTTP settings with the Secret resolved', () => {
    expect(scrapeConfigCrdScrapeConfigs(external, ctx)).toEqual([
      {
        job_name: 'scrapeConfig/monitoring/external-exporters',
        metrics_path: '/probe',
        params: { module: ['http_2xx'] },
        scrape_interval: '60s',
        scrape_timeout: '20s',
        scheme: 'https',
        authorization: { type: 'Bearer', credentials: 's3cret' },
        static_configs: [{ targets: ['exporter-a.example.com:9100', 'exporter-b.example.com:9100'], labels: { env: 'prod' } }],
        relabel_configs: [
          { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
          { target_label: 'job', action: 'replace', replacement: 'external' },
          { source_labels: ['__address__'], target_label: '__param_target' },
        ],
        metric_relabel_configs: [{ source_labels: ['__name__'], regex: 'go_.*', action: 'drop' }],
      },
    ]);
  });

  it('kubernetes discovery: role, namespaces and selectors lowercased as Prometheus wants them, attach_metadata where Prometheus honours it, the prometheusCR interval filled in', () => {
    const [config] = scrapeConfigCrdScrapeConfigs(annotatedPods, { ...ctx, scrapeInterval: '15s' });
    expect(config).toMatchObject({
      job_name: 'scrapeConfig/monitoring/annotated-pods',
      scrape_interval: '15s',
      kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: ['shop'] }, selectors: [{ role: 'pod', label: 'app.kubernetes.io/part-of=shop' }], attach_metadata: { node: true } }],
    });
    expect(config?.relabel_configs?.at(-1)).toEqual({ source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], regex: 'true', action: 'keep' });
  });

  it('refuses what it cannot honour, naming it: a discovery the sidecar does not run, a timeout above the interval, a bad regex', () => {
    expect(() => scrapeConfigCrdScrapeConfigs(consul, ctx)).toThrow(/consulSDConfigs: not run by edot-ta/);
    expect(() => scrapeConfigCrdScrapeConfigs({ ...external, spec: { ...external.spec, scrapeTimeout: '90s' } }, ctx)).toThrow(/scrapeTimeout "90s" greater than the scrape interval "60s"/);
    expect(() => scrapeConfigCrdScrapeConfigs({ ...external, spec: { ...external.spec, relabelings: [{ sourceLabels: ['a'], regex: 'a(b' }] } }, ctx)).toThrow(/spec\.relabelings/);
  });

  it('selected by prometheusCR.scrapeConfigSelector (nil selects none, as the Target Allocator); a bad one is a problem, the others are served', () => {
    const inputs = { podMonitors: [], serviceMonitors: [], namespaces: [], scrapeConfigs: [external, annotatedPods, consul], secrets: { secret: ctx.secret, synced: () => true } };
    expect(buildMonitorScrapeConfigs({ ...inputs, settings: { enabled: true } }).configs).toEqual([]);
    const { configs, problems } = buildMonitorScrapeConfigs({ ...inputs, settings: { enabled: true, scrapeConfigSelector: { matchLabels: { release: 'edot' } } } });
    expect(configs.map((c) => c.job_name)).toEqual(['scrapeConfig/monitoring/annotated-pods', 'scrapeConfig/monitoring/external-exporters']);
    expect(problems).toEqual([expect.objectContaining({ kind: 'ScrapeConfig', name: 'monitoring/consul-services', message: expect.stringContaining('consulSDConfigs: not run by edot-ta') })]);
  });
});
