// Discovery + relabel + serialization (gzipped http_sd answer) at 1k, 10k and 100k pod targets, through the real serve
// engine (kubernetes_sd pod groups -> the prometheus-operator's envoy-stats relabeling -> the
// http_sd JSON answer). Each size runs in its own process so RSS is that size's alone.
// Baseline, same run: JSON.stringify of the same number of prebuilt target groups (the floor
// any allocator pays to answer), and a naive recompute (a fresh engine from scratch).
// Anchors (OpenTelemetry Target Allocator, issue 5): ~8 ms at 10k, ~80 ms at 100k, ~149 MiB at 100k.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createLogger } from '../common/log.js';
import type { WatchScope } from '../sidecar/kube/scope.js';
import { transformFor, type ObjectStores } from '../sidecar/targets/targets-sd.js';
import { TargetEngine, type ScrapeConfig } from '../sidecar/targets/targets.js';
import { meshPodLiteral } from './mesh-pod.js';

const sizes = (process.env.EDOT_TA_BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const logger = createLogger({}, () => {});

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = here.includes('/dist/') ? resolve(here, '../..') : resolve(here, '..');
const scrapeConfig = parse(readFileSync(resolve(repoRoot, 'test/fixtures/sidecar/envoy-stats-scrape-config.yaml'), 'utf8')) as ScrapeConfig;

/** A mesh pod as the API server returns it: app container + istio-proxy, labels, annotations. */
function meshPod(i: number, rv = 1): Record<string, unknown> {
  // Through JSON, as the informer receives it: every string is the pod's own copy.
  return JSON.parse(JSON.stringify(meshPodLiteral(i, rv))) as Record<string, unknown>;
}

function podKey(i: number): string {
  const { metadata } = meshPodLiteral(i, 1) as { metadata: { name: string; namespace: string } };
  return `${metadata.namespace}/${metadata.name}`;
}

/** The pod informer's cache for a role-pod scope: pod key -> target group (as transformFor makes it). */
class PodStore implements ObjectStores {
  readonly pods = new Map<string, unknown>();
  get(scope: WatchScope, key: string): unknown {
    return scope.resource === 'pods' ? this.pods.get(key) : undefined;
  }
  entries(scope: WatchScope): Iterable<[string, unknown]> {
    return scope.resource === 'pods' ? this.pods.entries() : [];
  }
}

const asCached = transformFor({ resource: 'pods', form: 'targetGroup' });

function timeMs(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timeAsyncMs(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** One size, in this process: prints a JSON line with the measurements. */
async function measure(size: number): Promise<void> {
  const store = new PodStore();
  // Ingest (what the informer does on its first list): pod -> cached target group.
  let ingestMs = 0;
  for (let start = 0; start < size; start += 10_000) {
    const raw = Array.from({ length: Math.min(10_000, size - start) }, (_, j) => meshPod(start + j));
    const keys = raw.map((_, j) => podKey(start + j));
    ingestMs += timeMs(() => raw.forEach((pod, j) => store.pods.set(keys[j] as string, asCached(pod))));
  }
  gc();
  const rssStoreOnly = process.memoryUsage().rss;
  const heapStoreOnly = process.memoryUsage().heapUsed;
  const job = scrapeConfig.job_name;
  const runs = size >= 100_000 ? 1 : 5;

  // Full recompute: every pod -> groups -> relabel -> kept targets -> serialized answer.
  const full: number[] = [];
  let engine = new TargetEngine(store, { ownNamespace: 'otel' }, logger);
  let answerBytes = 0;
  for (let r = 0; r < runs; r++) {
    engine = new TargetEngine(store, { ownNamespace: 'otel' }, logger);
    full.push(await timeAsyncMs(async () => {
      engine.setScrapeConfigs([scrapeConfig]);
      answerBytes = (await engine.targetsAnswerGzip(job)).length;
    }));
  }
  const kept = engine.summary().kept;
  gc();
  const rssServing = process.memoryUsage().rss;
  const heapServing = process.memoryUsage().heapUsed;

  // Incremental: one pod changes (new label), its group is recomputed; then the answer rebuilt.
  const incremental: number[] = [];
  const incrementalWithAnswer: number[] = [];
  for (let r = 0; r < 200; r++) {
    const timeAnswer = r % (size >= 100_000 ? 20 : 10) === 0;
    if (timeAnswer) await engine.targetsAnswerGzip(job); // cached, so the timed rebuild follows exactly one change
    const index = (r * 7919) % size;
    const key = podKey(index);
    const pod = meshPod(index, r + 2) as { metadata: { labels: Record<string, string> } };
    pod.metadata.labels.revision = String(r);
    incremental.push(timeMs(() => {
      store.pods.set(key, asCached(pod));
      engine.onObjectChanged('pods', key);
    }));
    if (timeAnswer) {
      incrementalWithAnswer.push(await timeAsyncMs(async () => void (await engine.targetsAnswerGzip(job))));
    }
  }

  const answerTextMiB = engine.targetsAnswer(job).length / 2 ** 20;

  // Baseline: stringify the same number of prebuilt groups (labels already computed).
  const prebuilt = [...engine.allKeptTargets()].map((t) => ({ targets: [t.address], labels: t.labels }));
  const baseline: number[] = [];
  for (let r = 0; r < runs; r++) baseline.push(timeMs(() => void JSON.stringify(prebuilt)));

  console.log(JSON.stringify({
    size,
    kept,
    ingestMs,
    fullMs: median(full),
    baselineMs: median(baseline),
    incrementalMs: median(incremental),
    incrementalP99Ms: [...incremental].sort((a, b) => a - b)[Math.floor(incremental.length * 0.99)] ?? 0,
    answerRebuildMs: median(incrementalWithAnswer),
    answerMiB: answerBytes / 2 ** 20,
    answerTextMiB,
    rssStoreMiB: rssStoreOnly / 2 ** 20,
    rssMiB: rssServing / 2 ** 20,
    heapStoreMiB: heapStoreOnly / 2 ** 20,
    heapMiB: heapServing / 2 ** 20,
  }));
}

function main(): void {
  const child = process.argv.indexOf('--size');
  if (child >= 0) {
    void measure(Number(process.argv[child + 1]));
    return;
  }
  const rows: Array<Record<string, number>> = [];
  for (const size of sizes) {
    const result = spawnSync(process.execPath, [...process.execArgv.filter((a) => a !== '--expose-gc'), '--expose-gc', fileURLToPath(import.meta.url), '--size', String(size)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (result.status !== 0) throw new Error(`size ${size} failed: ${result.stderr}`);
    rows.push(JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>);
  }
  const f = (n: number | undefined, digits = 1) => (n ?? 0).toFixed(digits);
  console.log('Pods each have an app container and istio-proxy (2 discovered targets, 1 kept by the envoy-stats relabeling). Ingest = the informer turning listed pods into cached target groups; full recompute = relabel every cached group + build the gzipped answer (what a scrape config change costs); incremental = one pod event (transform + relabel its group).\n');
  console.log('| targets kept | ingest ms | full recompute ms | baseline stringify ms | full / baseline | incremental (1 pod) ms, median / p99 | answer rebuild after 1 pod ms (gzip) | answer MiB gzip / text | heap MiB (pods only / serving) | RSS MiB (pods only / serving) |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.kept} | ${f(r.ingestMs)} | ${f(r.fullMs)} | ${f(r.baselineMs)} | ${f((r.fullMs ?? 0) / (r.baselineMs || 1), 2)}× | ${f(r.incrementalMs, 3)} / ${f(r.incrementalP99Ms, 3)} | ${f(r.answerRebuildMs)} | ${f(r.answerMiB)} / ${f(r.answerTextMiB)} | ${f(r.heapStoreMiB, 0)} / ${f(r.heapMiB, 0)} | ${f(r.rssStoreMiB, 0)} / ${f(r.rssMiB, 0)} |`);
  }
  const at100k = rows.find((r) => r.size === 100_000);
  const at10k = rows.find((r) => r.size === 10_000);
  console.log(`\nAnchors (OpenTelemetry TA, other hardware): 10k ~8 ms, 100k ~80 ms, ~149 MiB at 100k.`);
  console.log(`Here: 10k ${f(at10k?.fullMs)} ms (${f((at10k?.fullMs ?? 0) / 8, 2)}× anchor), 100k ${f(at100k?.fullMs)} ms (${f((at100k?.fullMs ?? 0) / 80, 2)}× anchor), RSS ${f(at100k?.rssMiB, 0)} MiB (${f((at100k?.rssMiB ?? 0) / 149, 2)}× anchor); incremental at 100k ${f(at100k?.incrementalMs, 3)} ms (goal < 1 ms).`);
}

main();
