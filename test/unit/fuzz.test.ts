// Property-based fuzzing (fast-check) of every parser that takes user or API-server input: the
// AdmissionReview parser and dispatcher, the pod mutation, the CR config repair, render,
// relabeling and monitor conversion. Properties: no crash (only the module's own, named
// errors), a patch that applies and yields the mutated object, and idempotence (a second pass
// changes nothing). Seeded, so a failure reproduces; a few hundred runs each keep it quick.
import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AdmissionReviewError, parseAdmissionReview, review } from '../../webhook/admission/admission.js';
import { applyPatch, diffPatch } from '../../webhook/admission/patch.js';
import { mutateCollectorCR, parseCollectorCR, CollectorCRParseError } from '../../webhook/cr/cr-mutation.js';
import { mutatePod } from '../../webhook/pod/pod-mutation.js';
import { defaultCRSettings, defaultInjectSettings } from '../../webhook/settings.js';
import { renderConfigs } from '../../sidecar/render/render.js';
import { compileRelabelConfigs, relabel, RelabelConfigError } from '../../sidecar/relabel/relabel.js';
import { MonitorError, podMonitorScrapeConfigs, serviceMonitorScrapeConfigs, type PodMonitor, type ServiceMonitor } from '../../sidecar/discovery/monitors.js';
import { MissingReferenceError } from '../../sidecar/discovery/monitor-http.js';

const fixture = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');
const settings = { inject: { ...defaultInjectSettings(), sidecarImage: 'registry.example/edot-ta:fuzz' }, cr: defaultCRSettings() };
const runs = { seed: Number(process.env.EDOT_TA_FUZZ_SEED ?? 20261202), numRuns: Number(process.env.EDOT_TA_FUZZ_RUNS ?? 300) };

/** Any JSON value, including the shapes parsers trip on (nulls, arrays for objects, huge numbers). */
const anyJson = fc.jsonValue({ maxDepth: 4 });

/** A fixture with one random path replaced by a random JSON value (or deleted). */
function mutated<T>(base: T): fc.Arbitrary<T> {
  const paths: Array<Array<string | number>> = [];
  const walk = (value: unknown, path: Array<string | number>) => {
    paths.push(path);
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  walk(base, []);
  return fc.tuple(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.option(anyJson, { nil: undefined })).map(([path, value]) => {
    const copy = structuredClone(base) as Record<string | number, unknown>;
    let node: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    const last = path.at(-1)!;
    // Deleting from a list removes the element (JSON has no holes).
    if (value === undefined) {
      if (Array.isArray(node)) node.splice(Number(last), 1);
      else delete node[last];
    } else node[last] = value;
    return copy as T;
  });
}

describe('fuzzing', () => {
  it('the AdmissionReview parser and review: only AdmissionReviewError from parsing, never a throw from review, a patch that applies', () => {
    const bases = ['admission/pod-create-edot-daemon.json', 'admission/collector-create-v1alpha1.json', 'admission/collector-create-v1beta1.json', 'admission/collector-update-mode-v1beta1.json'].map((f) => JSON.parse(fixture(f)) as object);
    fc.assert(
      fc.property(fc.oneof(...bases.map(mutated)), (body) => {
        let request;
        try {
          request = parseAdmissionReview(JSON.stringify(body));
        } catch (err) {
          expect(err).toBeInstanceOf(AdmissionReviewError);
          return;
        }
        const { body: answer } = review(request, settings);
        expect(answer.response.uid).toBe(request.uid);
        expect(answer.response.allowed).toBe(true);
        if (answer.response.patch) {
          const patch = JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8'));
          expect(() => applyPatch(request.object, patch)).not.toThrow();
        }
      }),
      runs,
    );
  });

  it('arbitrary bytes as a body: a clear AdmissionReviewError, never another error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseAdmissionReview(text);
        } catch (err) {
          expect(err).toBeInstanceOf(AdmissionReviewError);
        }
      }),
      runs,
    );
  });

  it('the pod mutation: no crash; the patch yields the mutated pod; a second pass does nothing', () => {
    const pods = ['pods/edot-daemon-operator.yaml', 'pods/edot-daemonset-helm.yaml', 'pods/upstream-collector-deployment-pod.yaml', 'pods/nginx.yaml'].map((f) => parse(fixture(f)) as V1Pod);
    let injected = 0;
    fc.assert(
      fc.property(fc.oneof(...pods.map(mutated)), (pod) => {
        const result = mutatePod(pod, settings.inject);
        if (!result.injected) return;
        injected++;
        // As the API server gets it: the patch as JSON, applied to the pod as JSON.
        const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
        expect(json(applyPatch(json(pod), json(diffPatch(pod, result.pod))))).toEqual(json(result.pod));
        const again = mutatePod(result.pod, settings.inject);
        expect(again.injected).toBe(false);
        expect(diffPatch(result.pod, again.pod)).toEqual([]);
      }),
      runs,
    );
    // Not vacuous: most single-field changes leave a collector pod injectable.
    expect(injected).toBeGreaterThan(runs.numRuns / 4);
  });

  it('the CR repair on random configs (YAML text and objects): no crash, idempotent', () => {
    const base = JSON.parse(fixture('admission/collector-create-v1alpha1.json')).request.object as object;
    const config = fc.oneof(
      fc.string({ maxLength: 200 }),
      anyJson.map((v) => stringify(v)),
      fc.constantFrom('receivers: {prometheus: {}}', 'receivers:\n  prometheus/x:\n    config: 3\nservice: {pipelines: {metrics: {receivers: 1}}}', 'a: &x [*x]', '<<: *missing', 'receivers: [prometheus]'),
      anyJson,
    );
    fc.assert(
      fc.property(config, fc.boolean(), (value, ta) => {
        const raw = structuredClone(base) as { spec: Record<string, unknown> };
        raw.spec.config = value;
        raw.spec.targetAllocator = { enabled: ta };
        let cr;
        try {
          cr = parseCollectorCR(raw);
        } catch (err) {
          expect(err).toBeInstanceOf(CollectorCRParseError);
          return;
        }
        const once = mutateCollectorCR(cr, settings.cr, { operation: 'CREATE' });
        const twice = mutateCollectorCR(parseCollectorCR(JSON.parse(JSON.stringify(once.object))), settings.cr, { operation: 'CREATE' });
        expect(diffPatch(JSON.parse(JSON.stringify(once.object)), twice.object)).toEqual([]);
      }),
      runs,
    );
  });

  it('render on random collector configs: no crash; rendering its own output moves nothing more', () => {
    const base = parse(fixture('collector-configs/edot-daemon-istio.yaml')) as object;
    const options = { endpoint: 'http://127.0.0.1:27390', interval: '30s', refreshInterval: '10s', env: {} };
    fc.assert(
      fc.property(fc.oneof(mutated(base).map((c) => stringify(c)), fc.string({ maxLength: 200 })), (text) => {
        const first = renderConfigs([{ name: 'c.yaml', text }], options);
        const second = renderConfigs([{ name: 'c.yaml', text: first.configs[0]!.text }], options);
        expect(second.scrapeConfigs).toEqual([]);
      }),
      runs,
    );
  });

  it('relabeling: compiling throws only RelabelConfigError; applying never throws', () => {
    const rule = fc.record(
      {
        action: fc.constantFrom('replace', 'keep', 'drop', 'keepequal', 'dropequal', 'hashmod', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase', 'bogus'),
        source_labels: fc.array(fc.constantFrom('__address__', 'job', 'a', '__meta_x', ''), { maxLength: 3 }),
        regex: fc.oneof(fc.constantFrom('(.*)', 'a|b', '(?i)X', '[', '\\d+', '.*-(\\w+)$'), fc.string({ maxLength: 8 })),
        target_label: fc.constantFrom('a', 'b', '__tmp', '${1}', '', 'job'),
        replacement: fc.constantFrom('$1', '${1}x', '', 'v'),
        modulus: fc.oneof(fc.constant(undefined), fc.integer({ min: -1, max: 5 })),
        separator: fc.constantFrom(';', '', ','),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 4 }), fc.dictionary(fc.constantFrom('__address__', 'job', 'a', 'b', '__meta_x'), fc.string({ maxLength: 6 })), (rules, labels) => {
        let compiled;
        try {
          compiled = compileRelabelConfigs(rules);
        } catch (err) {
          expect(err).toBeInstanceOf(RelabelConfigError);
          return;
        }
        expect(() => relabel(labels, compiled)).not.toThrow();
      }),
      runs,
    );
  });

  it('monitor conversion: only MonitorError or MissingReferenceError on any PodMonitor/ServiceMonitor shape', () => {
    const podMonitor = parse(fixture('sidecar/envoy-stats-monitor.yaml')) as PodMonitor;
    const serviceMonitor: ServiceMonitor = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'sm', namespace: 'ns' }, spec: { selector: { matchLabels: { app: 'x' } }, endpoints: [{ port: 'http', interval: '15s', basicAuth: { username: { name: 's', key: 'u' }, password: { name: 's', key: 'p' } } }] } } as ServiceMonitor;
    const ctx = { secret: (_ns: string, name: string, key: string) => (name === 's' ? `${key}-value` : undefined) };
    const allowed = (err: unknown) => err instanceof MonitorError || err instanceof MissingReferenceError;
    fc.assert(
      fc.property(fc.oneof(mutated(podMonitor).map((m) => ['pod', m] as const), mutated(serviceMonitor).map((m) => ['service', m] as const)), ([kind, monitor]) => {
        try {
          if (kind === 'pod') podMonitorScrapeConfigs(monitor as PodMonitor, ctx);
          else serviceMonitorScrapeConfigs(monitor as ServiceMonitor, ctx);
        } catch (err) {
          if (!allowed(err)) throw err;
        }
      }),
      runs,
    );
  });
});
