import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildMonitorScrapeConfigs } from './monitor-configs.js';
import { probeScrapeConfigs, type ProbeCR } from './probe-crd.js';
import { compileRelabelConfigs, relabel } from '../relabel/relabel.js';

const [websites, teamIngresses] = parseAllDocuments(readFileSync(new URL('../../test/fixtures/monitors/probes.yaml', import.meta.url), 'utf8')).map((d) => d.toJSON() as ProbeCR) as [ProbeCR, ProbeCR];
const ctx = { secret: () => undefined };

describe('Probe → scrape config as the prometheus-operator generates it', () => {
  it('static targets: job probe/<ns>/<name>, the prober as address, each URL as __param_target and instance, the module, the Probe\'s namespace label', () => {
    const [config] = probeScrapeConfigs(websites, ctx);
    expect(config).toEqual({
      job_name: 'probe/monitoring/websites',
      honor_timestamps: true,
      metrics_path: '/probe',
      scrape_interval: '60s',
      params: { module: ['http_2xx'] },
      static_configs: [{ targets: ['https://www.example.com', 'https://shop.example.com/health'], labels: { team: 'web', namespace: 'monitoring' } }],
      relabel_configs: [
        { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
        { target_label: 'job', replacement: 'blackbox' },
        { source_labels: ['__address__'], target_label: '__param_target' },
        { source_labels: ['__param_target'], target_label: 'instance' },
        { target_label: '__address__', replacement: 'blackbox-exporter.monitoring.svc:9115' },
        { target_label: 'probe', replacement: 'external' },
      ],
    });
    // Through the relabeling: what the receiver scrapes for the first URL.
    const out = relabel({ __address__: 'https://www.example.com', job: 'probe/monitoring/websites', team: 'web', namespace: 'monitoring' }, compileRelabelConfigs(config!.relabel_configs));
    expect(out).toMatchObject({ __address__: 'blackbox-exporter.monitoring.svc:9115', __param_target: 'https://www.example.com', instance: 'https://www.example.com', job: 'blackbox', probe: 'external' });
  });

  it('ingress targets: kubernetes_sd role ingress in the selected namespaces, kept by the selector, the URL from scheme, host and path', () => {
    const [config] = probeScrapeConfigs(teamIngresses, { ...ctx, scrapeInterval: '15s' });
    expect(config).toMatchObject({ job_name: 'probe/monitoring/team-ingresses', scrape_interval: '15s', kubernetes_sd_configs: [{ role: 'ingress', namespaces: { names: ['shop'] } }] });
    const rules = compileRelabelConfigs(config!.relabel_configs);
    const ingressTarget = { __address__: 'shop.example.com', __meta_kubernetes_ingress_scheme: 'https', __meta_kubernetes_ingress_path: '/cart', __meta_kubernetes_namespace: 'shop', __meta_kubernetes_ingress_name: 'storefront', job: 'probe/monitoring/team-ingresses' };
    expect(relabel({ ...ingressTarget, __meta_kubernetes_ingress_label_team: 'shop', __meta_kubernetes_ingress_labelpresent_team: 'true' }, rules)).toMatchObject({
      __address__: 'blackbox-exporter.monitoring.svc:9115', __param_target: 'https://shop.example.com/cart', instance: 'https://shop.example.com/cart', namespace: 'shop', ingress: 'storefront',
    });
    expect(relabel({ ...ingressTarget, __meta_kubernetes_ingress_label_team: 'payments', __meta_kubernetes_ingress_labelpresent_team: 'true' }, rules)).toBeNull();
  });

  it('refuses a Probe without a prober URL or targets, naming the field; selected by probeSelector (nil selects none)', () => {
    expect(() => probeScrapeConfigs({ ...websites, spec: { ...websites.spec, prober: {} } }, ctx)).toThrow(/spec\.prober\.url is required/);
    expect(() => probeScrapeConfigs({ ...websites, spec: { ...websites.spec, targets: {} } }, ctx)).toThrow(/spec\.targets needs staticConfig or ingress/);
    const inputs = { podMonitors: [], serviceMonitors: [], namespaces: [], probes: [websites, teamIngresses], secrets: { secret: () => undefined, synced: () => true } };
    expect(buildMonitorScrapeConfigs({ ...inputs, settings: { enabled: true } }).configs).toEqual([]);
    expect(buildMonitorScrapeConfigs({ ...inputs, settings: { enabled: true, probeSelector: {} } }).configs.map((c) => c.job_name)).toEqual(['probe/monitoring/team-ingresses', 'probe/monitoring/websites']);
  });
});
