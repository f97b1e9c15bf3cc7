// Webhook admission benchmark: the EDOT daemon pod review over HTTPS with keep-alive, POST /mutate
// against the baseline route POST /baseline (same server, same parse, answers allowed without
// mutating). The server runs in a child process (its own core, its own RSS and CPU time); this
// process is the load generator: a bounded number of requests from a few keep-alive connections
// on loopback. Prints a markdown table with ratios against the baseline.
//
// Goals (issue 4): p99 ≤ 1.5× baseline, ≥ 2,000 reviews/s on one core, server RSS < 100 MiB.
// Goal (issue 12): pod review p99 while CR bombs arrive ≤ 2× the p99 without; peak RSS < 192 MiB.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { V1Deployment } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createWebhookCertificates } from '../certs/ca.js';
import { createLogger } from '../common/log.js';
import { createWebhookMetrics } from '../webhook/admission/metrics.js';
import { createWebhookApp, startHttpsServer } from '../webhook/server.js';
import { admissionResponse, parseAdmissionReview } from '../webhook/admission/admission.js';
import { Hono } from 'hono';
import { defaultCRSettings, defaultInjectSettings } from '../webhook/settings.js';

const here = fileURLToPath(import.meta.url);

/** A file of the repository, found from here (bench/ in the sources or dist/bench/ when built). */
function repoFile(relative: string): string {
  let dir = dirname(here);
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${relative} not found above ${here}`);
}

const fixturePath = (name: string) => repoFile(join('test/fixtures/admission', name));

/** The NODE_OPTIONS the shipped webhook Deployment runs with, so RSS is measured as deployed. */
function shippedNodeOptions(): string[] {
  const documents = parseAllDocuments(readFileSync(repoFile('manifests/base/webhook.yaml'), 'utf8')).map((d) => d.toJSON() as V1Deployment | null);
  const deployment = documents.find((d) => d?.kind === 'Deployment');
  const value = deployment?.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  return value?.split(' ').filter(Boolean) ?? [];
}

type FromChild = { ready: true; port: number; caPem: string } | { usage: true; cpuMicros: number; rss: number; peakRss: number; heapTotal: number; external: number };

// ---- the server process ----
async function serve(): Promise<void> {
  const certs = createWebhookCertificates({ service: 'edot-ta-webhook', namespace: 'bench', ips: ['127.0.0.1'], validityDays: 1 });
  const metrics = createWebhookMetrics();
  // The real logger (info level: one JSON line per mutated review), written to this child's stderr.
  // The baseline: the same server, TLS and body parse, answered allowed without a mutation.
  // Mounted only in this benchmark's server (extraRoutes); the product serves no such route.
  const baseline = new Hono().post('/baseline', async (c) => c.json(admissionResponse(parseAdmissionReview(await c.req.text()).uid)));
  const app = createWebhookApp({ settings: { inject: defaultInjectSettings(), cr: defaultCRSettings() }, metrics, logger: createLogger({ component: 'webhook' }), extraRoutes: baseline });
  const server = await startHttpsServer(app, { port: 0, hostname: '127.0.0.1', ...certs.serving });
  let peakRss = process.memoryUsage().rss;
  setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50).unref();
  process.on('message', (message) => {
    if (message === 'usage') {
      const cpu = process.cpuUsage();
      const { rss, heapTotal, external } = process.memoryUsage();
      peakRss = Math.max(peakRss, rss);
      process.send?.({ usage: true, cpuMicros: cpu.user + cpu.system, rss, peakRss, heapTotal, external } satisfies FromChild);
    } else if (message === 'stop') {
      void server.close().then(() => process.exit(0));
    }
  });
  process.send?.({ ready: true, port: server.port, caPem: certs.ca.certPem } satisfies FromChild);
}

// ---- the load generator ----
function ask(child: ChildProcess, message: string): Promise<Extract<FromChild, { usage: true }>> {
  return new Promise((resolve) => {
    const listener = (reply: FromChild) => {
      if ('usage' in reply) {
        child.off('message', listener);
        resolve(reply);
      }
    };
    child.on('message', listener);
    child.send(message);
  });
}

function post(agent: Agent, port: number, path: string, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    });
    req.once('error', reject);
    req.end(body);
  });
}

async function load(options: { port: number; caPem: string; path: string; body: Buffer; concurrency: number; count: number }): Promise<{ latenciesMs: Float64Array; seconds: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency, ca: options.caPem });
  const latenciesMs = new Float64Array(options.count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < options.count; i = next++) {
      const started = performance.now();
      await post(agent, options.port, options.path, options.body);
      latenciesMs[i] = performance.now() - started;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { latenciesMs, seconds };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Row {
  route: string;
  concurrency: number;
  reviews: number;
  wallSeconds: number;
  serverCpuSeconds: number;
  latencies: number[];
}

async function main(): Promise<void> {
  const body = readFileSync(fixturePath('pod-create-edot-daemon.json'));
  // An ordinary pod in an opted-in namespace (most admissions): detected as not a collector.
  const plainPod = readFileSync(fixturePath('pod-create-nginx.json'));
  // EDOT_TA_BENCH_SERVER_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server process.
  const serverNodeOptions = shippedNodeOptions();
  const child = fork(here, ['--serve'], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    execArgv: [...process.execArgv.filter((arg) => arg !== '--expose-gc'), ...serverNodeOptions, ...(process.env.EDOT_TA_BENCH_SERVER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [])],
  });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString()).slice(-2000)));
  const ready = await new Promise<Extract<FromChild, { ready: true }>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderrTail}`)));
    child.on('message', (m: FromChild) => ('ready' in m ? resolve(m) : undefined));
  });
  const { port, caPem } = ready;

  // Sanity: /mutate really injects (a patch), /baseline does not.
  const mutated = JSON.parse(await post(new Agent({ ca: caPem }), port, '/mutate', body)) as { response: { patch?: string } };
  if (!mutated.response.patch) throw new Error('/mutate returned no patch for the EDOT daemon pod: the benchmark would measure nothing');

  const idle = await ask(child, 'usage');
  const rows: Row[] = [];
  const rounds = 3;
  const perRound = 2_000;
  for (const concurrency of [1, 4]) {
    for (const path of ['/baseline', '/mutate']) await load({ port, caPem, path, body, concurrency, count: 500 }); // warm-up (JIT, TLS sessions)
    const byRoute = new Map<string, Row>();
    for (let round = 0; round < rounds; round++) {
      for (const path of ['/baseline', '/mutate']) {
        const before = await ask(child, 'usage');
        const { latenciesMs, seconds } = await load({ port, caPem, path, body, concurrency, count: perRound });
        const after = await ask(child, 'usage');
        const row = byRoute.get(path) ?? { route: path, concurrency, reviews: 0, wallSeconds: 0, serverCpuSeconds: 0, latencies: [] };
        row.reviews += perRound;
        row.wallSeconds += seconds;
        row.serverCpuSeconds += (after.cpuMicros - before.cpuMicros) / 1e6;
        row.latencies.push(...latenciesMs);
        byRoute.set(path, row);
      }
    }
    rows.push(...byRoute.values());
  }
  {
    const concurrency = 4;
    const row: Row = { route: '/mutate (nginx pod)', concurrency, reviews: 0, wallSeconds: 0, serverCpuSeconds: 0, latencies: [] };
    await load({ port, caPem, path: '/mutate', body: plainPod, concurrency, count: 500 });
    for (let round = 0; round < rounds; round++) {
      const before = await ask(child, 'usage');
      const { latenciesMs, seconds } = await load({ port, caPem, path: '/mutate', body: plainPod, concurrency, count: perRound });
      const after = await ask(child, 'usage');
      row.reviews += perRound;
      row.wallSeconds += seconds;
      row.serverCpuSeconds += (after.cpuMicros - before.cpuMicros) / 1e6;
      row.latencies.push(...latenciesMs);
    }
    rows.push(row);
  }
  // Hostile CRs (issue 12): pod reviews, one connection, with and without a second connection
  // sending CR bombs back to back. The bombs are refused by the pre-parse limits (or are the
  // largest config the limits still parse); pod reviews must not wait behind them. The bombs
  // come from a process of their own, as from another API server goroutine: encrypting
  // megabytes on this event loop would delay the timing of the pod reviews, not the server.
  const bombs = crBombs();
  const bombRows: Array<{ name: string; latencies: Float64Array }> = [];
  for (let round = 0; round < rounds; round++) {
    bombRows.push({ name: 'quiet', latencies: (await load({ port, caPem, path: '/mutate', body, concurrency: 1, count: 1_000 })).latenciesMs });
    const bomber = fork(here, ['--bomb', String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: process.execArgv });
    await new Promise<void>((resolve, reject) => {
      bomber.once('exit', (code) => reject(new Error(`bomber exited with ${code}`)));
      bomber.once('message', () => resolve()); // its bombs are built
    });
    bomber.send(caPem);
    bombRows.push({ name: 'bombs', latencies: (await load({ port, caPem, path: '/mutate', body, concurrency: 1, count: 1_000 })).latenciesMs });
    const sent = await new Promise<number>((resolve) => {
      bomber.removeAllListeners('exit');
      bomber.once('message', (m: { sent: number }) => resolve(m.sent));
      bomber.send('stop');
    });
    bombsSent += sent;
  }
  const usage = await ask(child, 'usage');
  child.send('stop');

  const p = (row: Row, q: number) => percentile(Float64Array.from(row.latencies).sort(), q);
  console.log(`EDOT daemon pod review (${body.length} bytes) over HTTPS keep-alive, loopback; server in its own process (node ${serverNodeOptions.join(' ') || 'with no options'}, as manifests/base/webhook.yaml runs it); ${rounds}×${perRound} reviews per row, interleaved.\n`);
  console.log('| route | connections | reviews/s (wall) | reviews/s per server core | p50 ms | p99 ms | p99 vs baseline | server CPU µs/review |');
  console.log('|---|---|---|---|---|---|---|---|');
  const summary: string[] = [];
  for (const row of rows) {
    const baseline = rows.find((r) => r.route === '/baseline' && r.concurrency === row.concurrency)!;
    const ratio = p(row, 99) / p(baseline, 99);
    const perCore = row.reviews / row.serverCpuSeconds;
    console.log(
      `| ${row.route} | ${row.concurrency} | ${(row.reviews / row.wallSeconds).toFixed(0)} | ${perCore.toFixed(0)} | ${p(row, 50).toFixed(3)} | ${p(row, 99).toFixed(3)} | ${ratio.toFixed(2)}× | ${((row.serverCpuSeconds / row.reviews) * 1e6).toFixed(0)} |`,
    );
    if (row.route.startsWith('/mutate')) summary.push(`${row.route} c=${row.concurrency}: p99 ${ratio.toFixed(2)}× baseline (goal ≤ 1.5×), ${perCore.toFixed(0)} reviews/s per core (goal ≥ 2000)`);
  }
  console.log(`\n/mutate (nginx pod): an ordinary pod (${plainPod.length} bytes) in an opted-in namespace, detected as not a collector; its ratio is against the baseline with the larger EDOT body.`);
  console.log(`Server RSS: ${(idle.rss / 1048576).toFixed(1)} MiB idle after start, peak ${(usage.peakRss / 1048576).toFixed(1)} MiB under load, ${(usage.rss / 1048576).toFixed(1)} MiB at the end (V8 heap ${(usage.heapTotal / 1048576).toFixed(1)} MiB, external ${(usage.external / 1048576).toFixed(1)} MiB) (goal < 100 MiB).`);
  for (const line of summary) console.log(`- ${line}`);

  const merged = (name: string) => Float64Array.from(bombRows.filter((r) => r.name === name).flatMap((r) => [...r.latencies])).sort();
  const quiet = merged('quiet');
  const bombed = merged('bombs');
  console.log(`\nPod reviews (1 connection) while a second connection sends CR bombs back to back (${bombsSent} bombs: ${bombs.map((b) => `${b.name} ${(b.body.length / 1024).toFixed(0)} KiB`).join(', ')}):\n`);
  console.log('| pod reviews | p50 ms | p99 ms | p99 vs quiet |');
  console.log('|---|---|---|---|');
  for (const [name, sorted] of [['quiet', quiet], ['during CR bombs', bombed]] as const) {
    console.log(`| ${name} | ${percentile(sorted, 50).toFixed(3)} | ${percentile(sorted, 99).toFixed(3)} | ${(percentile(sorted, 99) / percentile(quiet, 99)).toFixed(2)}× |`);
  }
  console.log(`- pod review p99 during CR bombs ÷ p99 quiet: ${(percentile(bombed, 99) / percentile(quiet, 99)).toFixed(2)}× (goal ≤ 2×); server peak RSS over the whole run ${(usage.peakRss / 1048576).toFixed(1)} MiB (limit 192 MiB)`);
}

let bombsSent = 0;

/** CR reviews whose spec.config is one of the bombs from the hardening review, plus the largest config the limits parse. */
function crBombs(): Array<{ name: string; body: Buffer }> {
  const review = JSON.parse(readFileSync(fixturePath('collector-create-v1alpha1.json'), 'utf8')) as { request: { object: { spec: { config: unknown } } } };
  const withConfig = (config: string) => {
    const copy = structuredClone(review);
    copy.request.object.spec.config = config;
    return Buffer.from(JSON.stringify(copy));
  };
  const keys = (n: number) => 'receivers:\n' + Array.from({ length: n }, (_, i) => `  k${i}: v`).join('\n');
  return [
    { name: '40k keys', body: withConfig(keys(40_000)) },
    { name: '9,999 keys (parsed)', body: withConfig(keys(9_999)) },
    { name: '350k nested [', body: withConfig('receivers: ' + '['.repeat(350_000) + ']'.repeat(350_000)) },
    { name: 'alias bomb', body: withConfig('a: &a0 [x]\n' + Array.from({ length: 5_000 }, (_, i) => `b${i}: &a${i + 1} [*a${i}, *a${i}]`).join('\n')) },
    { name: '1.5M nested JSON arrays', body: Buffer.from(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${'['.repeat(1_500_000)}${']'.repeat(1_500_000)}}`) },
  ];
}

// ---- the bomber process: CR bombs back to back on one keep-alive connection until told to stop ----
function bomb(port: number): void {
  const bombs = crBombs();
  process.send?.('ready');
  process.once('message', (caPem: string) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: caPem });
    let sending = true;
    let sent = 0;
    process.on('message', (message) => {
      if (message === 'stop') sending = false;
    });
    void (async () => {
      while (sending) {
        const next = bombs[sent++ % bombs.length]!;
        await post(agent, port, '/mutate', next.body).catch(() => undefined); // the nested body is a 400
      }
      agent.destroy();
      process.send?.({ sent }, undefined, undefined, () => process.disconnect());
    })();
  });
}

if (process.argv.includes('--bomb')) {
  bomb(Number(process.argv[process.argv.indexOf('--bomb') + 1]));
} else if (process.argv.includes('--serve')) {
  serve().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
