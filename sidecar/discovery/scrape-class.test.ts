import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parsePrometheusCR, type ScrapeClassSettings } from '../../contract/prometheus-cr.js';
import { podMonitorScrapeConfigs, serviceMonitorScrapeConfigs, type PodMonitor, type ServiceMonitor } from './monitors.js';
import { probeScrapeConfigs, type ProbeCR } from './probe-crd.js';
import { scrapeConfigCrdScrapeConfigs } from './scrape-config-crd.js';
import { withScrapeClass } from './scrape-class.js';

const fixture = <T>(name: string) => parse(readFileSync(new URL(`../../test/fixtures/monitors/${name}`, import.meta.url), 'utf8')) as T;
const secrets: Record<string, string> = { 'istio-system/scrape-token/token': 'from-secret' };
const classes: ScrapeClassSettings[] = [
  { name: 'cluster-labels', default: true, relabelings: [{ targetLabel: 'cluster', replacement: 'eu-prod' }], metricRelabelings: [{ sourceLabels: ['__name__'], regex: 'go_gc_.*', action: 'Drop' }] },
  { name: 'istio-mtls', tlsConfig: { caFile: '/etc/istio-certs/root-cert.pem', certFile: '/etc/istio-certs/cert-chain.pem', keyFile: '/etc/istio-certs/key.pem', insecureSkipVerify: true }, attachMetadata: { node: true } },
];
const ctx = { secret: (ns: string, name: string, key: string) => secrets[`${ns}/${name}/${key}`], scrapeClasses: classes };

describe('scrape classes (prometheusCR.scrapeClasses), merged as the prometheus-operator merges them', () => {
  it('the default class: its relabelings after the generated rules and before the monitor\'s own, its metric relabelings first', () => {
    const monitor = fixture<PodMonitor>('envoy-stats-monitor.yaml');
    const [withClass] = podMonitorScrapeConfigs(monitor, ctx);
    const [without] = podMonitorScrapeConfigs(monitor, { secret: ctx.secret });
    const own = monitor.spec?.podMetricsEndpoints?.[0]?.relabelings?.length ?? 0;
    const generated = (without?.relabel_configs?.length ?? 0) - own;
    expect(withClass?.relabel_configs?.slice(0, generated)).toEqual(without?.relabel_configs?.slice(0, generated));
    expect(withClass?.relabel_configs?.[generated]).toEqual({ target_label: 'cluster', replacement: 'eu-prod' });
    expect(withClass?.relabel_configs?.slice(generated + 1)).toEqual(without?.relabel_configs?.slice(generated));
    expect(withClass?.metric_relabel_configs?.[0]).toEqual({ source_labels: ['__name__'], regex: 'go_gc_.*', action: 'drop' });
  });

  it('a named class: TLS and attach_metadata from the class where the monitor sets none; an unknown name rejects the monitor', () => {
    const monitor = fixture<ServiceMonitor>('gateway-servicemonitor.yaml');
    const named = { ...monitor, spec: { ...monitor.spec, scrapeClass: 'istio-mtls' } };
    const [config] = serviceMonitorScrapeConfigs(named, ctx);
    expect(config?.tls_config).toMatchObject({ ca_file: '/etc/istio-certs/root-cert.pem', cert_file: '/etc/istio-certs/cert-chain.pem', key_file: '/etc/istio-certs/key.pem', insecure_skip_verify: true });
    expect(config?.kubernetes_sd_configs?.[0]?.attach_metadata).toEqual({ node: true });
    expect(config?.relabel_configs).not.toContainEqual({ target_label: 'cluster', replacement: 'eu-prod' });
    expect(() => serviceMonitorScrapeConfigs({ ...monitor, spec: { ...monitor.spec, scrapeClass: 'nope' } }, ctx)).toThrow(/scrapeClass "nope" not found in prometheusCR\.scrapeClasses/);
  });

  it('the monitor\'s TLS and authorization win; the class fills only the files the monitor leaves out, and credentials it lacks', () => {
    const cls = { tlsConfig: { caFile: '/class/ca.pem', certFile: '/class/cert.pem', keyFile: '/class/key.pem' }, authorization: { type: 'Bearer', credentialsFile: '/class/token' } };
    const merged = withScrapeClass({ tlsConfig: { ca: { secret: { name: 's', key: 'ca.crt' } }, serverName: 'svc' }, authorization: { type: 'Custom' } }, cls);
    expect(merged.tlsConfig).toEqual({ ca: { secret: { name: 's', key: 'ca.crt' } }, serverName: 'svc', certFile: '/class/cert.pem', keyFile: '/class/key.pem' });
    expect(merged.authorization).toEqual({ type: 'Custom', credentialsFile: '/class/token' });
    expect(withScrapeClass({}, cls)).toEqual({ tlsConfig: cls.tlsConfig, authorization: cls.authorization });
  });

  it('Probes and ScrapeConfigs take the default class too (ScrapeConfig: right after the job-name rule)', () => {
    const probe = parse(readFileSync(new URL('../../test/fixtures/monitors/probes.yaml', import.meta.url), 'utf8').split('---')[0]!) as ProbeCR;
    expect(probeScrapeConfigs(probe, ctx)[0]?.relabel_configs).toContainEqual({ target_label: 'cluster', replacement: 'eu-prod' });
    const [sc] = scrapeConfigCrdScrapeConfigs({ metadata: { name: 'a', namespace: 'b' }, spec: { staticConfigs: [{ targets: ['x:1'] }] } }, ctx);
    expect(sc?.relabel_configs?.slice(0, 2)).toEqual([{ source_labels: ['job'], target_label: '__tmp_prometheus_job_name' }, { target_label: 'cluster', replacement: 'eu-prod' }]);
  });

  it('the selection refuses classes without a name, twice the same name, or two defaults', () => {
    expect(() => parsePrometheusCR({ scrapeClasses: [{ relabelings: [] }] })).toThrow(/scrapeClasses\[0\]\.name: required/);
    expect(() => parsePrometheusCR({ scrapeClasses: [{ name: 'a' }, { name: 'a' }] })).toThrow(/"a" is used twice/);
    expect(() => parsePrometheusCR({ scrapeClasses: [{ name: 'a', default: true }, { name: 'b', default: true }] })).toThrow(/more than one is marked default/);
    expect(parsePrometheusCR({ scrapeClasses: classes }).scrapeClasses).toEqual(classes);
  });
});
