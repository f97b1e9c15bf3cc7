// ScrapeConfig (monitoring.coreos.com/v1alpha1) → the Prometheus scrape config the
// prometheus-operator generates for it (pkg/prometheus/promcfg.go, generateScrapeConfig): job
// `scrapeConfig/<namespace>/<name>`, the operator's relabeling head (job → __tmp_prometheus_job_name,
// then spec.jobName), the user's relabelings, HTTP client settings with Secrets resolved, and
// the discoveries the sidecar runs — static, file, http, kubernetes and dns. A ScrapeConfig
// with any other discovery (consul, ec2, …) is not served, with a message naming it: its
// targets cannot be shared across collectors.
import { addHttpClientFields } from './monitor-http.js';
import { addLimits, checkedInterval, crRelabelConfigs, setRelabelings, type MonitorContext } from './monitors.js';
import type { ScrapeConfigCR } from './monitor-types.js';
import { scrapeClassFor, withScrapeClass } from './scrape-class.js';
import type { KubernetesSdConfigYaml, RelabelConfigYaml, ScrapeConfigYaml } from './types.js';

export type { ScrapeConfigCR } from './monitor-types.js';

/** The discovery fields of a ScrapeConfig the sidecar runs. */
const supportedDiscovery = new Set(['staticConfigs', 'fileSDConfigs', 'httpSDConfigs', 'kubernetesSDConfigs', 'dnsSDConfigs']);

const lower = (value: string | undefined) => value?.toLowerCase();

export function scrapeConfigCrdScrapeConfigs(sc: ScrapeConfigCR, ctx: MonitorContext): ScrapeConfigYaml[] {
  const namespace = sc.metadata?.namespace ?? '';
  const name = sc.metadata?.name ?? '';
  if (!namespace || !name) throw new Error('metadata.name and metadata.namespace are required');
  const spec = sc.spec ?? {};
  const cls = scrapeClassFor(ctx.scrapeClasses, spec.scrapeClass);
  const merged = withScrapeClass(spec, cls);
  const unsupported = Object.keys(spec).filter((key) => /SDConfigs?$/.test(key) && !supportedDiscovery.has(key) && (spec as Record<string, unknown>)[key] !== undefined);
  if (unsupported.length > 0) throw new Error(`${unsupported.join(', ')}: not run by edot-ta (it runs staticConfigs, fileSDConfigs, httpSDConfigs, kubernetesSDConfigs and dnsSDConfigs); the ScrapeConfig is not served`);

  const config: ScrapeConfigYaml & Record<string, unknown> = { job_name: `scrapeConfig/${namespace}/${name}` };
  if (spec.honorTimestamps !== undefined) config.honor_timestamps = spec.honorTimestamps;
  if (spec.trackTimestampsStaleness !== undefined) config.track_timestamps_staleness = spec.trackTimestampsStaleness;
  if (spec.honorLabels !== undefined) config.honor_labels = spec.honorLabels;
  if (spec.metricsPath) config.metrics_path = spec.metricsPath;
  if (spec.params && Object.keys(spec.params).length > 0) config.params = spec.params;
  if (spec.enableCompression !== undefined) config.enable_compression = spec.enableCompression;
  config.scrape_interval = checkedInterval({ interval: ['scrapeInterval', spec.scrapeInterval], timeout: spec.scrapeTimeout }, ctx);
  if (spec.scrapeTimeout) config.scrape_timeout = spec.scrapeTimeout;
  if (spec.scheme) {
    if (!['http', 'https'].includes(spec.scheme.toLowerCase())) throw new Error(`spec.scheme "${spec.scheme}" is not HTTP or HTTPS`);
    config.scheme = spec.scheme.toLowerCase();
  }
  addHttpClientFields(config, ctx, namespace, {
    ...(merged.tlsConfig ? { tlsConfig: merged.tlsConfig } : {}),
    ...(spec.basicAuth ? { basicAuth: spec.basicAuth } : {}),
    ...(merged.authorization ? { authorization: merged.authorization } : {}),
    ...(spec.oauth2 ? { oauth2: spec.oauth2 } : {}),
    ...(spec.enableHTTP2 !== undefined ? { enableHttp2: spec.enableHTTP2 } : {}),
    ...(spec.proxyUrl ? { proxyUrl: spec.proxyUrl } : {}),
  });
  addLimits(config, spec);

  if (spec.staticConfigs?.length) config.static_configs = spec.staticConfigs.map((s) => ({ targets: s.targets ?? [], ...(s.labels ? { labels: s.labels } : {}) }));
  if (spec.fileSDConfigs?.length) config.file_sd_configs = spec.fileSDConfigs.map((f) => ({ files: f.files ?? [], ...(f.refreshInterval ? { refresh_interval: f.refreshInterval } : {}) }));
  if (spec.httpSDConfigs?.length) {
    config.http_sd_configs = spec.httpSDConfigs.map((h) => {
      const out: Record<string, unknown> = {};
      addHttpClientFields(out as unknown as ScrapeConfigYaml, ctx, namespace, {
        ...(h.basicAuth ? { basicAuth: h.basicAuth } : {}),
        ...(h.authorization ? { authorization: h.authorization } : {}),
        ...(h.tlsConfig ? { tlsConfig: h.tlsConfig } : {}),
        ...(h.proxyUrl ? { proxyUrl: h.proxyUrl } : {}),
        ...(h.followRedirects !== undefined ? { followRedirects: h.followRedirects } : {}),
        ...(h.enableHTTP2 !== undefined ? { enableHttp2: h.enableHTTP2 } : {}),
      });
      out.url = h.url;
      if (h.refreshInterval) out.refresh_interval = h.refreshInterval;
      return out;
    });
  }
  if (spec.kubernetesSDConfigs?.length) {
    config.kubernetes_sd_configs = spec.kubernetesSDConfigs.map((k) => {
      const sd: KubernetesSdConfigYaml & Record<string, unknown> = { role: lower(k.role) as KubernetesSdConfigYaml['role'] };
      if (k.apiServer) sd.api_server = k.apiServer;
      if (k.namespaces) sd.namespaces = { names: k.namespaces.names ?? [], ...(k.namespaces.ownNamespace !== undefined ? { own_namespace: k.namespaces.ownNamespace } : {}) };
      if (k.selectors?.length) sd.selectors = k.selectors.map((s) => ({ role: lower(s.role) ?? '', ...(s.label ? { label: s.label } : {}), ...(s.field ? { field: s.field } : {}) }));
      // As the operator: attach_metadata only where Prometheus honours it.
      if (k.attachMetadata && ['pod', 'endpoints', 'endpointslice'].includes(lower(k.role) ?? '')) sd.attach_metadata = { node: k.attachMetadata.node ?? false };
      return sd;
    });
  }
  if (spec.dnsSDConfigs?.length) {
    config.dns_sd_configs = spec.dnsSDConfigs.map((d) => ({
      names: d.names ?? [],
      ...(d.refreshInterval ? { refresh_interval: d.refreshInterval } : {}),
      ...(d.type ? { type: d.type } : {}),
      ...(d.port !== undefined ? { port: d.port } : {}),
    }));
  }

  const rules: RelabelConfigYaml[] = [{ source_labels: ['job'], target_label: '__tmp_prometheus_job_name' }, ...crRelabelConfigs(cls.relabelings)];
  if (spec.jobName) rules.push({ target_label: 'job', action: 'replace', replacement: spec.jobName });
  rules.push(...crRelabelConfigs(spec.relabelings));
  setRelabelings(config, rules, crRelabelConfigs(merged.metricRelabelings), 'relabelings');
  return [config];
}
