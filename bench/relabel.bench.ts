// Relabel throughput: the prometheus-operator rule chain of Istio's envoy-stats-monitor PodMonitor
// (15 rules) over the discovered labels of 10k and 100k pod targets, through our engine (Go RE2
// semantics: a native RegExp where sidecar/relabel/relabel-native.ts proves both engines agree, re2js
// otherwise). Baselines in the same run: the same loop that only copies each label set, and a
// naive native-RegExp (V8) interpreter of the same chain (no result memo, no safety checks: not
// safe for user regexes, shown for scale only). Prints a markdown table with ratios.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { compileRelabelConfigs, relabel, type Labels } from '../sidecar/relabel/relabel.js';
import { usesNativeRegex } from '../sidecar/relabel/relabel-regex.js';
import { podMonitorScrapeConfigs, type PodMonitor } from '../sidecar/discovery/monitors.js';
import { podTargetGroup } from '../sidecar/discovery/kubernetes-sd.js';
import type { RelabelConfigYaml } from '../sidecar/discovery/types.js';

// Runs from bench/ (tsx) and from dist/bench/ (built): look for the fixture in both places.
const fixture = ['../test/fixtures/', '../../test/fixtures/']
  .map((base) => new URL(`${base}monitors/envoy-stats-monitor.yaml`, import.meta.url))
  .find((url) => existsSync(url));
if (!fixture) throw new Error('fixture test/fixtures/monitors/envoy-stats-monitor.yaml not found');
const monitor = parse(readFileSync(fixture, 'utf8')) as PodMonitor;
const [config] = podMonitorScrapeConfigs(monitor, { secret: () => undefined });
if (!config?.relabel_configs) throw new Error('no relabel configs generated');
const rawRules = config.relabel_configs;
const rules = compileRelabelConfigs(rawRules);
const re2jsRules = compileRelabelConfigs(rawRules, { nativeFastPath: false }); // the engine before the fast path

/** Discovered label sets of `count` targets: gateway-like pods with 4 container ports each. */
function targets(count: number): Labels[] {
  const out: Labels[] = [];
  for (let i = 0; out.length < count; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const group = podTargetGroup({
      metadata: {
        name: `gw-${i}`, namespace: `ns-${i % 50}`, uid: `uid-${i}`,
        labels: { app: 'istio-ingressgateway', istio: 'ingressgateway', 'pod-template-hash': 'abc123', ...(i % 10 === 0 ? { 'istio-prometheus-ignore': 'true' } : {}) },
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020', 'prometheus.io/path': '/stats/prometheus' },
      },
      spec: {
        nodeName: `node-${i % 100}`,
        containers: [
          { name: 'istio-proxy', image: 'istio/proxyv2:1.24.0', ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }, { containerPort: 15021, name: 'status-port', protocol: 'TCP' }] },
          { name: 'app', image: 'app:1', ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }, { containerPort: 9090, name: 'metrics', protocol: 'TCP' }] },
        ],
      },
      status: { phase: i % 20 === 0 ? 'Succeeded' : 'Running', podIP: ip, hostIP: '192.168.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    for (const t of group.targets) out.push({ job: config?.job_name ?? '', __scheme__: 'http', __metrics_path__: '/stats/prometheus', ...group.labels, ...t });
  }
  return out.slice(0, count);
}

/** A minimal native-RegExp interpreter of the actions this chain uses (replace, keep, drop, labeldrop). */
function nativeRules(raw: RelabelConfigYaml[]) {
  return raw.map((r) => ({
    action: r.action ?? 'replace',
    sources: r.source_labels ?? [],
    separator: r.separator ?? ';',
    target: r.target_label ?? '',
    regex: new RegExp(`^(?:${r.regex ?? '(.*)'})$`),
    replacement: (r.replacement ?? '$1').replace(/\$\{(\w+)\}/g, '$$$1'),
  }));
}
function nativeRelabel(labels: Labels, compiled: ReturnType<typeof nativeRules>): Labels | null {
  const out: Labels = { ...labels };
  for (const r of compiled) {
    const value = r.sources.map((s) => out[s] ?? '').join(r.separator);
    if (r.action === 'keep') { if (!r.regex.test(value)) return null; continue; }
    if (r.action === 'drop') { if (r.regex.test(value)) return null; continue; }
    if (r.action === 'labeldrop') { for (const k of Object.keys(out)) if (r.regex.test(k)) delete out[k]; continue; }
    if (!r.regex.test(value)) continue;
    const result = value.replace(r.regex, r.replacement);
    if (result === '') delete out[r.target];
    else out[r.target] = result;
  }
  return out;
}

/** Best of `rounds` timed runs after a warm-up: the machine is shared, the minimum is the least noisy. */
function time(run: () => number, rounds: number): { ms: number; kept: number } {
  run(); // warm-up
  let best = Infinity;
  let kept = 0;
  for (let i = 0; i < rounds; i++) {
    (globalThis as { gc?: () => void }).gc?.(); // bench/run.ts starts node with --expose-gc
    const start = process.hrtime.bigint();
    kept = run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { ms: best, kept };
}

const native = nativeRules(rawRules);
const onNative = rawRules.filter((r) => r.regex !== undefined && usesNativeRegex(r.regex, true)).length;
console.log(`Rule chain: ${rules.length} rules (prometheus-operator PodMonitor + Istio envoy-stats-monitor relabelings); ${onNative} of ${rawRules.filter((r) => r.regex !== undefined).length} explicit regexes run without re2js (native RegExp or plain string compare)\n`);
console.log('| targets | variant | best ms | µs / target | kept | × copy baseline | × native RegExp |');
console.log('|---:|---|---:|---:|---:|---:|---:|');
for (const count of [10_000, 100_000]) {
  const input = targets(count);
  const rounds = count > 10_000 ? 3 : 7;
  const copy = time(() => { const out: Labels[] = []; for (const l of input) out.push({ ...l }); return out.length; }, rounds);
  const nativeResult = time(() => { let n = 0; for (const l of input) if (nativeRelabel(l, native)) n++; return n; }, rounds);
  const re2jsOnly = time(() => { let n = 0; for (const l of input) if (relabel(l, re2jsRules)) n++; return n; }, rounds);
  const ours = time(() => { let n = 0; for (const l of input) if (relabel(l, rules)) n++; return n; }, rounds);
  if (ours.kept !== nativeResult.kept || re2jsOnly.kept !== ours.kept) throw new Error(`engines disagree: ${ours.kept} vs ${re2jsOnly.kept} vs ${nativeResult.kept} kept`);
  for (const [name, r] of [['copy only (baseline)', copy], ['native RegExp', nativeResult], ['edot-ta relabel, re2js only (before)', re2jsOnly], ['edot-ta relabel, native fast path (default)', ours]] as const) {
    console.log(`| ${count} | ${name} | ${r.ms.toFixed(1)} | ${((r.ms * 1000) / count).toFixed(2)} | ${r.kept} | ${(r.ms / copy.ms).toFixed(1)} | ${(r.ms / nativeResult.ms).toFixed(2)} |`);
  }
}
