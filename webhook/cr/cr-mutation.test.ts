import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderConfigs } from '../../sidecar/render/render.js';
import { CollectorCRParseError, mutateCollectorCR, parseCollectorCR } from './cr-mutation.js';
import { diffPatch } from '../admission/patch.js';
import { defaultCRSettings } from '../settings.js';
import type { CollectorCR } from '../types.js';

const fixture = (name: string): CollectorCR => parseCollectorCR(parse(readFileSync(new URL(`../../test/fixtures/collector-crs/${name}`, import.meta.url), 'utf8')));
const create = (cr: CollectorCR) => mutateCollectorCR(cr, defaultCRSettings(), { operation: 'CREATE' });
type Config = { receivers: Record<string, unknown>; service: { pipelines: Record<string, { receivers: string[] }> } };
const status = (cr: CollectorCR) => JSON.parse(cr.metadata.annotations?.['edot-ta.io/status'] ?? 'null') as { changes: string[]; warnings: string[] } | null;

describe('mutateCollectorCR v1beta1 (config object)', () => {
  it('fixes the failing setup: mode daemonset, central TA off, prometheusCR carried to the pods', () => {
    const original = fixture('v1beta1-no-mode-ta-on.yaml');
    const { object, warnings } = create(original);
    expect(object.spec.mode).toBe('daemonset');
    expect(object.spec.targetAllocator?.enabled).toBe(false);
    expect(object.spec.targetAllocator?.prometheusCR).toEqual(original.spec.targetAllocator?.prometheusCR); // kept
    expect(JSON.parse(object.spec.podAnnotations?.['edot-ta.io/prometheus-cr'] ?? '')).toEqual({
      enabled: true,
      scrapeInterval: '15s',
      podMonitorSelector: { matchLabels: { mesh: 'istio' } },
      serviceMonitorSelector: {},
      podMonitorNamespaceSelector: { matchLabels: { 'istio-injection': 'enabled' } },
    });
    expect(warnings).toEqual([]);
    expect(status(object)?.changes.join('\n')).toMatch(/set spec.mode to daemonset[\s\S]*turned off spec.targetAllocator/);
    expect(original.spec.mode).toBeUndefined(); // deep copy
  });

  it('warns when the prometheusCR would be refused by the sidecar', () => {
    const cr = fixture('v1beta1-no-mode-ta-on.yaml');
    cr.spec.targetAllocator!.prometheusCR!.podMonitorSelector = 'everything'; // not a label selector
    expect(create(cr).warnings.join()).toMatch(/prometheusCR is not usable by the sidecar \(.*podMonitorSelector/);
  });

  it('keeps the static scrape_configs in the wired prometheus receiver for the render step', () => {
    const { object } = create(fixture('v1beta1-no-mode-ta-on.yaml'));
    expect(object.spec.config).toEqual(fixture('v1beta1-no-mode-ta-on.yaml').spec.config);
    // What the pod render step then does with it: the job moves to the sidecar, nothing is scraped twice.
    const rendered = renderConfigs([{ name: 'c', text: JSON.stringify(object.spec.config) }], { endpoint: 'http://127.0.0.1:27390', interval: '30s', refreshInterval: '10s' });
    expect(rendered.scrapeConfigs.map((j) => j.job_name)).toEqual(['istio-ingressgateway']);
    expect((parse(rendered.configs[0]!.text) as Config).receivers.prometheus).toMatchObject({ config: {}, target_allocator: { endpoint: 'http://127.0.0.1:27390' } });
  });

  it('opts the pods of a collector without a prometheus receiver out of injection (Elastic kube-stack daemon): a sidecar would serve nobody', () => {
    const original = fixture('kube-stack-daemon-v1beta1.yaml');
    const { object, warnings } = create(original);
    // Only annotations change: the pods' opt-out, our marker and the status.
    expect(diffPatch(original, object).map((op) => op.path).sort()).toEqual(['/metadata/annotations', '/spec/podAnnotations']);
    expect(object.metadata.annotations?.['edot-ta.io/no-prometheus-receiver']).toBe('true');
    expect(object.spec.podAnnotations?.['edot-ta.io/inject']).toBe('false');
    expect(object.metadata.annotations?.['edot-ta.io/status']).toContain('no prometheus receiver in spec.config');
    expect(warnings).toEqual([]);
    expect(create(object).object).toEqual(object); // a reinvocation changes nothing
  });

  it('undoes its own opt-out when an update adds a prometheus receiver, and then uses no monitors (no prometheusCR), as the Target Allocator', () => {
    const optedOut = create(fixture('kube-stack-daemon-v1beta1.yaml')).object;
    const updated = structuredClone(optedOut);
    const config = updated.spec.config as { receivers: Record<string, unknown>; service: { pipelines: Record<string, { receivers: string[] }> } };
    config.receivers.prometheus = { config: { scrape_configs: [{ job_name: 'app', static_configs: [{ targets: ['10.0.0.1:9100'] }] }] } };
    config.service.pipelines['metrics/app'] = { receivers: ['prometheus'], exporters: ['debug'] } as never;
    const { object } = mutateCollectorCR(updated, defaultCRSettings(), { operation: 'UPDATE', oldObject: optedOut });
    expect(object.spec.podAnnotations?.['edot-ta.io/inject']).toBeUndefined();
    expect(object.metadata.annotations?.['edot-ta.io/no-prometheus-receiver']).toBeUndefined();
    expect(JSON.parse(object.spec.podAnnotations?.['edot-ta.io/prometheus-cr'] ?? 'null')).toEqual({ enabled: false });
  });

  it('leaves a user\'s own inject "false" alone', () => {
    const own = fixture('kube-stack-daemon-v1beta1.yaml');
    own.spec.podAnnotations = { 'edot-ta.io/inject': 'false' };
    expect(create(own).object.metadata.annotations?.['edot-ta.io/no-prometheus-receiver']).toBeUndefined();
  });

  it('is idempotent: a second pass (webhook reinvocation) changes nothing, status included', () => {
    const first = create(fixture('v1beta1-no-mode-ta-on.yaml')).object;
    const second = create(first);
    expect(diffPatch(first, second.object)).toEqual([]);
    expect(second.warnings).toEqual([]);
  });
});

describe('mutateCollectorCR v1alpha1 (config string)', () => {
  it('wires an unused prometheus/istio into the metrics pipeline, keeping comments and ${env:...}', () => {
    const { object } = create(fixture('v1alpha1-no-mode-ta-istio.yaml'));
    const text = object.spec.config as string;
    const config = parse(text) as Config;
    expect(config.service.pipelines.metrics!.receivers).toEqual(['otlp', 'prometheus/istio']);
    expect(text).toContain('# Scrape the Istio gateways\' Envoy stats.');
    expect(text).toContain('# static, the gateways have fixed node IPs');
    expect(text).toContain('cluster: ${env:CLUSTER_NAME}');
    expect(text).toContain('endpoint: "${env:OTLP_ENDPOINT}"');
    expect(object.spec.mode).toBe('daemonset');
    expect(object.spec.targetAllocator?.enabled).toBe(false);
    expect(object.spec.podAnnotations?.['edot-ta.io/prometheus-cr']).toBe('{"enabled":true,"podMonitorSelector":{}}');
  });

  it('adds prometheus: {config: {scrape_configs: []}} when the TA was on without a receiver, and explains it', () => {
    const { object, warnings } = create(fixture('v1alpha1-ta-no-receiver.yaml'));
    const config = parse(object.spec.config as string) as Config;
    expect(config.receivers.prometheus).toEqual({ config: { scrape_configs: [] } });
    expect(config.service.pipelines.metrics!.receivers).toEqual(['otlp', 'prometheus']);
    expect(object.spec.mode).toBe('statefulset'); // set by the user: kept
    expect(warnings.join()).toMatch(/added an empty prometheus receiver/);
  });

  it('does not add a receiver when the TA was off and there is none', () => {
    const cr = fixture('v1alpha1-ta-no-receiver.yaml');
    cr.spec.targetAllocator = { enabled: false };
    expect(create(cr).object.spec.config).toBe(cr.spec.config);
  });

  it('repairs a prometheus receiver without config block, and warns when there is no metrics pipeline', () => {
    const cr = fixture('v1alpha1-ta-no-receiver.yaml');
    cr.spec.config = 'receivers:\n  prometheus/apps:\n  otlp: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n';
    const { object, warnings } = create(cr);
    expect((parse(object.spec.config as string) as Config).receivers['prometheus/apps']).toEqual({ config: { scrape_configs: [] } });
    expect(warnings.join()).toMatch(/prometheus\/apps are not in any metrics pipeline/);
  });

  it('allows an unparsable config string unchanged, with a clear warning', () => {
    const original = fixture('v1alpha1-unparsable.yaml');
    const { object, warnings } = create(original);
    expect(diffPatch(original, object)).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/spec.config is not valid YAML.*left unchanged/);
  });
});

describe('mutateCollectorCR with a config beyond the parse limits', () => {
  it('does not parse it: the CR is admitted unchanged, as with an unparsable config, with a warning', () => {
    const original = fixture('v1alpha1-no-mode-ta-istio.yaml');
    original.spec.config = 'receivers:\n' + Array.from({ length: 20_000 }, (_, i) => `  k${i}: v`).join('\n');
    const { object, warnings } = create(original);
    expect(diffPatch(original, object)).toEqual([]);
    expect(warnings.join()).toMatch(/spec.config was not read because it has more than 10000 keys; the collector config is left unchanged/);
  });

  it('bounds a v1beta1 config object the same way', () => {
    const original = fixture('v1beta1-no-mode-ta-on.yaml');
    original.spec.config = { receivers: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'v'])) };
    const { warnings } = create(original);
    expect(warnings.join()).toMatch(/spec.config was not read because it has more than 40000 values/);
  });
});

describe('mutateCollectorCR on UPDATE', () => {
  const old = (mode?: string): CollectorCR => {
    const cr = fixture('v1beta1-no-mode-ta-on.yaml');
    if (mode) cr.spec.mode = mode;
    return cr;
  };

  it('keeps an immutable mode and explains how to recreate the CR', () => {
    const update = old('daemonset');
    const { object, warnings } = mutateCollectorCR(update, defaultCRSettings(), { operation: 'UPDATE', oldObject: old() });
    expect(object.spec.mode).toBe('deployment'); // old had none: the operator defaulted it to deployment
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/spec.mode cannot change/);
    expect(warnings[0]).toContain('kubectl delete opentelemetrycollector edot-mesh -n observability && kubectl apply -f <your file>');
    expect(warnings[0]).toMatch(/new name/);
    expect(object.spec.targetAllocator?.enabled).toBe(false); // the rest of the mutation still applies
  });

  it('keeps the old mode when the update leaves mode out, without a warning', () => {
    const { object, warnings } = mutateCollectorCR(old(), defaultCRSettings(), { operation: 'UPDATE', oldObject: old('daemonset') });
    expect(object.spec.mode).toBe('daemonset');
    expect(warnings).toEqual([]);
  });

  it('accepts an update with the same mode silently', () => {
    const { object, warnings } = mutateCollectorCR(old('statefulset'), defaultCRSettings(), { operation: 'UPDATE', oldObject: old('statefulset') });
    expect(object.spec.mode).toBe('statefulset');
    expect(warnings).toEqual([]);
  });
});

describe('parseCollectorCR', () => {
  it('rejects what is not an OpenTelemetryCollector with a message naming the field', () => {
    expect(() => parseCollectorCR('x')).toThrow(CollectorCRParseError);
    expect(() => parseCollectorCR({ apiVersion: 'opentelemetry.io/v2', kind: 'OpenTelemetryCollector' })).toThrow(/apiVersion "opentelemetry.io\/v2"/);
    expect(() => parseCollectorCR({ apiVersion: 'opentelemetry.io/v1beta1', kind: 'Instrumentation' })).toThrow(/kind "Instrumentation"/);
    expect(() => parseCollectorCR({ apiVersion: 'opentelemetry.io/v1beta1', kind: 'OpenTelemetryCollector', spec: [] })).toThrow(/spec/);
    const base = { apiVersion: 'opentelemetry.io/v1beta1', kind: 'OpenTelemetryCollector' };
    expect(() => parseCollectorCR({ ...base, spec: { targetAllocator: true } })).toThrow(/spec.targetAllocator/);
    expect(() => parseCollectorCR({ ...base, spec: { podAnnotations: 'a=b' } })).toThrow(/spec.podAnnotations/);
    expect(() => parseCollectorCR({ ...base, spec: { mode: 3 } })).toThrow(/spec.mode/);
    expect(parseCollectorCR(base)).toMatchObject({ metadata: {}, spec: {} });
  });
});

describe("Elastic's EDOT kube-stack collectors (values of the chart, ../shared/real-configs)", () => {
  const values = parse(readFileSync(new URL('../../../shared/real-configs/elastic-edot-kube-stack-values.yaml', import.meta.url), 'utf8')) as { collectors: Record<string, { mode?: string; config?: unknown }> };
  for (const name of ['cluster', 'daemon', 'gateway']) {
    it(`${name}: no prometheus receiver, so its pods are opted out and nothing else changes`, () => {
      const collector = values.collectors[name]!;
      const cr = parseCollectorCR({ apiVersion: 'opentelemetry.io/v1beta1', kind: 'OpenTelemetryCollector', metadata: { name: `opentelemetry-kube-stack-${name}`, namespace: 'opentelemetry-operator-system' }, spec: { mode: collector.mode ?? (name === 'daemon' ? 'daemonset' : 'deployment'), config: collector.config } });
      const { object, warnings } = create(cr);
      expect(warnings).toEqual([]);
      expect(object.spec.podAnnotations?.['edot-ta.io/inject']).toBe('false');
      expect(object.spec.config).toEqual(cr.spec.config);
    });
  }
});

describe('the CR repair keeps YAML as written', () => {
  it('leaves anchors, merge keys and flow style of a v1alpha1 config string as they were', () => {
    const config = `x-defaults: &defaults
  metrics_path: /probe
  scrape_interval: 15s
receivers:
  prometheus:
    config:
      scrape_configs:
        - <<: *defaults
          job_name: merged
          static_configs: [{ targets: ["10.0.0.5:9115"] }]
exporters: { debug: {} }
service: { pipelines: { metrics: { receivers: [prometheus], exporters: [debug] } } }
`;
    const cr = parseCollectorCR({ apiVersion: 'opentelemetry.io/v1alpha1', kind: 'OpenTelemetryCollector', metadata: { name: 'c' }, spec: { config, targetAllocator: { enabled: true } } });
    const { object } = create(cr);
    expect(object.spec.targetAllocator?.enabled).toBe(false);
    expect(object.spec.config).toBe(config);
  });
});
