// Cost of the pure mutations on the webhook's hot path (mutatePod + diffPatch per admission
// review) and of the render step, against a baseline measured in the same run: a JSON
// round trip of the same pod (the least any admission handler does with the object).
// Prints a markdown table; run with `npm run bench -- mutation`.
import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { parse, parseDocument } from 'yaml';
import { renderConfigs } from '../sidecar/render/render.js';
import { mutateCollectorCR, parseCollectorCR } from '../webhook/cr/cr-mutation.js';
import { diffPatch } from '../webhook/admission/patch.js';
import { mutatePod } from '../webhook/pod/pod-mutation.js';
import { defaultCRSettings, defaultInjectSettings } from '../webhook/settings.js';

const fixture = (path: string) => readFileSync(new URL(`../../test/fixtures/${path}`, import.meta.url), 'utf8');
const pod = parse(fixture('pods/edot-daemon-operator.yaml')) as V1Pod;
const podJson = JSON.stringify(pod);
const settings = defaultInjectSettings();
const injected = mutatePod(pod, settings).pod;
const collectorConfig = fixture('collector-configs/edot-daemon-istio.yaml');
const cr = parseCollectorCR(parse(fixture('collector-crs/v1alpha1-no-mode-ta-istio.yaml')));
const renderOptions = { endpoint: 'http://127.0.0.1:27390', interval: '30s', refreshInterval: '10s', env: {} };

interface Row {
  name: string;
  perOpUs: { p50: number; p99: number; mean: number };
}

/** Runs `fn` in batches for ~durationMs after a warm-up; per-op times from batch means. */
function measure(name: string, fn: () => unknown, durationMs = 1500): Row {
  for (let i = 0; i < 200; i++) fn();
  const samples: number[] = [];
  const batch = 20;
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    samples.push(((performance.now() - start) * 1000) / batch);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { name, perOpUs: { p50: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length } };
}

const rows: Row[] = [
  measure('baseline: JSON round trip of the pod', () => JSON.parse(JSON.stringify(JSON.parse(podJson)))),
  measure('mutatePod (EDOT daemon pod)', () => mutatePod(JSON.parse(podJson) as V1Pod, settings)),
  measure('mutatePod + diffPatch (admission core)', () => {
    const original = JSON.parse(podJson) as V1Pod;
    return diffPatch(original, mutatePod(original, settings).pod);
  }),
  measure('mutatePod on an injected pod (reinvocation)', () => mutatePod(injected, settings)),
  measure('non-collector pod (nginx-like, skipped)', () => mutatePod({ metadata: { name: 'web' }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } }, settings)),
  measure('mutateCollectorCR v1alpha1 (YAML string config)', () => mutateCollectorCR(cr, defaultCRSettings(), { operation: 'CREATE' })),
  measure('baseline: yaml parse + stringify of the collector config', () => parseDocument(collectorConfig).toString()),
  measure('renderConfigs (EDOT daemon + prometheus/istio)', () => renderConfigs([{ name: 'c', text: collectorConfig }], renderOptions)),
];

const podBaseline = rows[0]!.perOpUs.mean;
const yamlBaseline = rows[6]!.perOpUs.mean;
console.log('| operation | p50 µs | p99 µs | mean µs | ops/s (one core) | × baseline |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
rows.forEach((row, index) => {
  const baseline = index >= 6 ? yamlBaseline : podBaseline;
  const { p50, p99, mean } = row.perOpUs;
  console.log(`| ${row.name} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${mean.toFixed(1)} | ${Math.round(1e6 / mean).toLocaleString('en-US')} | ${(mean / baseline).toFixed(2)} |`);
});
console.log('\nBaselines: pod rows against the JSON round trip, render rows against yaml parse + stringify.');
