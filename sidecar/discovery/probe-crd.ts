// Probe (monitoring.coreos.com/v1) → the scrape config the prometheus-operator generates for it
// (pkg/prometheus/promcfg.go, generateProbeConfig): job `probe/<namespace>/<name>`, the prober
// as the address, each probed target as `__param_target` and `instance`, the module and params;
// targets from `spec.targets.staticConfig` (which wins) or from Ingresses (kubernetes_sd role
// ingress, filtered by the selector, the URL built from scheme, host and path).
import { validateLabelSelector } from '../../contract/prometheus-cr.js';
import { addHttpClientFields } from './monitor-http.js';
import { addLimits, checkedInterval, crRelabelConfigs, sdNamespaces, selectorRelabelings, setRelabelings, type MonitorContext } from './monitors.js';
import type { ProbeCR } from './monitor-types.js';
import { scrapeClassFor, withScrapeClass } from './scrape-class.js';
import type { RelabelConfigYaml, ScrapeConfigYaml } from './types.js';

export type { ProbeCR } from './monitor-types.js';

export function probeScrapeConfigs(probe: ProbeCR, ctx: MonitorContext): ScrapeConfigYaml[] {
  const namespace = probe.metadata?.namespace ?? '';
  const name = probe.metadata?.name ?? '';
  if (!namespace || !name) throw new Error('metadata.name and metadata.namespace are required');
  const spec = probe.spec ?? {};
  const cls = scrapeClassFor(ctx.scrapeClasses, spec.scrapeClass);
  const proberUrl = spec.prober?.url;
  if (!proberUrl) throw new Error('spec.prober.url is required');
  const { staticConfig, ingress } = spec.targets ?? {};
  if (!staticConfig && !ingress) throw new Error('spec.targets needs staticConfig or ingress');

  const config: ScrapeConfigYaml & Record<string, unknown> = { job_name: `probe/${namespace}/${name}`, honor_timestamps: true, metrics_path: spec.prober?.path || '/probe' };
  config.scrape_interval = checkedInterval({ interval: ['interval', spec.interval], timeout: spec.scrapeTimeout }, ctx);
  if (spec.scrapeTimeout) config.scrape_timeout = spec.scrapeTimeout;
  if (spec.prober?.scheme) config.scheme = spec.prober.scheme.toLowerCase();
  const params: Record<string, string[]> = {};
  if (spec.module) params.module = [spec.module];
  for (const p of spec.params ?? []) if (p.name && !(spec.module && p.name === 'module')) params[p.name] = p.values ?? [];
  if (Object.keys(params).length > 0) config.params = params;
  addLimits(config, spec);
  const { tlsConfig, basicAuth, authorization, bearerTokenSecret, oauth2, followRedirects, enableHttp2, metricRelabelings: ownMetricRelabelings } = withScrapeClass(spec, cls);
  addHttpClientFields(config, ctx, namespace, { tlsConfig, basicAuth, authorization, bearerTokenSecret, oauth2, followRedirects, enableHttp2, proxyUrl: spec.prober?.proxyUrl });

  const rules: RelabelConfigYaml[] = [{ source_labels: ['job'], target_label: '__tmp_prometheus_job_name' }];
  if (spec.jobName) rules.push({ target_label: 'job', replacement: spec.jobName });
  const prober: RelabelConfigYaml[] = [
    { source_labels: ['__param_target'], target_label: 'instance' },
    { target_label: '__address__', replacement: proberUrl },
  ];
  if (staticConfig) {
    // As the operator: the Probe's namespace unless the labels name one.
    config.static_configs = [{ targets: staticConfig.static ?? [], labels: { ...staticConfig.labels, namespace: staticConfig.labels?.namespace ?? namespace } }];
    rules.push({ source_labels: ['__address__'], target_label: '__param_target' }, ...prober, ...crRelabelConfigs(cls.relabelings), ...crRelabelConfigs(staticConfig.relabelingConfigs));
  } else if (ingress) {
    const selector = validateLabelSelector(ingress.selector, 'spec.targets.ingress.selector');
    rules.push(...selectorRelabelings(selector, '__meta_kubernetes_ingress_'));
    const names = sdNamespaces({ ...(ingress.namespaceSelector ? { namespaceSelector: ingress.namespaceSelector } : {}) }, namespace);
    config.kubernetes_sd_configs = [{ role: 'ingress', ...(names.length > 0 ? { namespaces: { names } } : {}) }];
    rules.push(
      { source_labels: ['__meta_kubernetes_ingress_scheme', '__address__', '__meta_kubernetes_ingress_path'], separator: ';', regex: '(.+);(.+);(.+)', target_label: '__param_target', replacement: '${1}://${2}${3}', action: 'replace' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_ingress_name'], target_label: 'ingress' },
      { source_labels: ['__address__'], separator: ';', regex: '(.*)', target_label: '__tmp_ingress_address', replacement: '$1', action: 'replace' },
      ...prober,
      ...crRelabelConfigs(cls.relabelings),
      ...crRelabelConfigs(ingress.relabelingConfigs),
    );
  }
  setRelabelings(config, rules, crRelabelConfigs(ownMetricRelabelings), 'relabelingConfigs');
  return [config];
}
