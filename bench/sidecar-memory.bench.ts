// What one sidecar costs in memory, on every node: the real `edot-ta sidecar serve` process (built,
// started as the webhook injects it) fed by a small list/watch API server that serves N mesh
// pods over 100 nodes (its own Node — the other nodes have members of their own —, a Lease,
// Events and bookmarks; nothing else), with the envoy-stats job of
// the prometheus-operator (kubernetes_sd role pod). Its RSS is read from /proc once it is ready
// and has answered its collector; peak = VmHWM.
// Baseline, same run: a bare Node process (the floor), and the same sidecar with
// @kubernetes/client-node's whole module graph preloaded (what the sidecar imported before it
// read kubeconfigs itself).
// Goals (issue 13): ≤ 64 MiB (its memory request) for ~100 own targets in a 10,000-pod cluster;
// ≤ 150 MiB with 100k targets in one sidecar.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { meshPodLiteral } from './mesh-pod.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = here.includes('/dist/') ? resolve(here, '../..') : resolve(here, '..');
const mainJs = join(repoRoot, 'dist/cli/main.js');
const clientNode = join(repoRoot, 'node_modules/@kubernetes/client-node/dist/index.js');
const work = mkdtempSync(join(tmpdir(), 'edot-ta-sidecar-memory-'));
const nodes = 100;

/** The pieces of the API the sidecar talks to, for `pods` mesh pods spread over 100 nodes. */
function fakeApiServer(pods: number): Promise<{ server: Server; url: string }> {
  const leases = new Map<string, Record<string, unknown>>();
  let rv = 1000;
  const openWatches = new Set<ServerResponse>();
  const bookmarks = setInterval(() => {
    for (const res of openWatches) res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } } })}\n`);
  }, 5_000);
  const json = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://api');
      const q = url.searchParams;
      if (q.get('watch') === 'true') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
        openWatches.add(res);
        res.on('close', () => openWatches.delete(res));
        return;
      }
      if (url.pathname === '/api/v1/pods' && req.method === 'GET') {
        // fieldSelector spec.nodeName=node-N: the pods i with i % 100 === N.
        const node = /spec\.nodeName=node-(\d+)/.exec(q.get('fieldSelector') ?? '')?.[1];
        const step = node === undefined ? 1 : nodes;
        const first = node === undefined ? 0 : Number(node);
        const start = Number(q.get('continue') || first);
        const limit = Number(q.get('limit') || 500);
        const items: unknown[] = [];
        let i = start;
        for (; i < pods && items.length < limit; i += step) items.push(meshPodLiteral(i, 1));
        json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(rv), ...(i < pods ? { continue: String(i) } : {}) }, items });
        return;
      }
      if (url.pathname === '/api/v1/nodes' && req.method === 'GET') {
        // Only the sidecar's own node: the other 99 have members of their own (pod scope node).
        json(res, 200, { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: [{ metadata: { name: 'node-7', resourceVersion: '1' } }] });
        return;
      }
      const lease = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/[^/]+\/leases(?:\/([^/]+))?$/.exec(url.pathname);
      if (lease) {
        const name = lease[1];
        if (req.method === 'GET' && !name) return json(res, 200, { kind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1', metadata: { resourceVersion: String(rv) }, items: [...leases.values()] });
        if (req.method === 'GET') return leases.has(name!) ? json(res, 200, leases.get(name!)) : json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound' });
        if (req.method === 'POST' || req.method === 'PUT') {
          const body = await readBody(req);
          const metadata = { ...(body.metadata as { name: string }), resourceVersion: String(++rv) };
          const stored = { ...body, metadata };
          leases.set(metadata.name, stored);
          return json(res, req.method === 'POST' ? 201 : 200, stored);
        }
        if (req.method === 'DELETE') {
          leases.delete(name ?? '');
          return json(res, 200, { kind: 'Status', status: 'Success' });
        }
      }
      if (/\/events$/.test(url.pathname) && req.method === 'POST') return json(res, 201, await readBody(req));
      if (/^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+$/.test(url.pathname)) return json(res, 200, { kind: 'Pod', apiVersion: 'v1', metadata: {} });
      json(res, 404, { kind: 'Status', code: 404, reason: 'NotFound', message: `not served here: ${url.pathname}` });
    })();
  });
  server.on('close', () => clearInterval(bookmarks));
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

function procStatus(pid: number): { rss: number; peak: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Row {
  name: string;
  pods: number;
  scope: 'node' | 'cluster';
  preload?: boolean;
  targets: number;
  rss: number;
  peak: number;
  heap?: number;
  readyMs: number;
}

async function measureSidecar(name: string, pods: number, scope: 'node' | 'cluster', preload = false): Promise<Row> {
  const api = await fakeApiServer(pods);
  const kubeconfig = join(work, `${name}.kubeconfig`);
  writeFileSync(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'fake', cluster: { server: api.url } }], users: [{ name: 'sa', user: { token: 'bench' } }], contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'sa' } }], 'current-context': 'fake' }));
  const job = parse(readFileSync(join(repoRoot, 'test/fixtures/sidecar/envoy-stats-scrape-config.yaml'), 'utf8')) as { job_name: string };
  const scrapeConfigs = join(work, `${name}.scrape-configs.yaml`);
  writeFileSync(scrapeConfigs, stringify({ scrape_configs: [job] }));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const started = Date.now();
  const child: ChildProcess = spawn(process.execPath, [...(preload ? ['--import', clientNode] : []), mainJs, 'sidecar', 'serve', '--listen', `127.0.0.1:${port}`, '--scrape-configs', scrapeConfigs, '--pod-scope', scope], {
    env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: 'edot-collector-abcde', POD_UID: 'uid-1', POD_NAMESPACE: 'observability', NODE_NAME: 'node-7', EDOT_TA_GROUP: 'observability/edot', EDOT_TA_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await until(`${name} ready`, async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined), 600_000);
    const readyMs = Date.now() - started;
    // As its collector would: read the job's targets (the answer is built and cached).
    const targets = await until(`${name} targets`, async () => {
      const res = await fetch(`${base}/jobs/${encodeURIComponent(job.job_name)}/targets?collector_id=edot-collector-abcde`);
      if (!res.ok) return undefined;
      const groups = (await res.json()) as Array<{ targets: string[] }>;
      return groups.reduce((n, g) => n + g.targets.length, 0);
    }, 60_000);
    await new Promise((r) => setTimeout(r, 4_000)); // let the collections after the first answer settle
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const heap = Number(/^edot_ta_nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN);
    const { rss, peak } = procStatus(child.pid!);
    return { name, pods, scope, preload, targets, rss, peak, readyMs, ...(Number.isFinite(heap) ? { heap } : {}) };
  } finally {
    child.kill('SIGKILL');
    api.server.closeAllConnections();
    api.server.close();
  }
}

async function bareNode(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1_000));
  const { rss } = procStatus(child.pid!);
  child.kill('SIGKILL');
  return rss;
}

const mib = (bytes: number | undefined) => (bytes === undefined ? '–' : (bytes / 2 ** 20).toFixed(1));
const sizes = (process.env.EDOT_TA_BENCH_SIDECAR_PODS ?? '10000,100000').split(',').map(Number);
const floor = await bareNode();
const rows: Row[] = [];
rows.push(await measureSidecar('no pods', 0, 'cluster'));
rows.push(await measureSidecar('no pods, client-node preloaded (before)', 0, 'cluster', true));
for (const pods of sizes) {
  rows.push(await measureSidecar(`${pods} pods, pod scope node`, pods, 'node'));
  if (pods <= 10_000) rows.push(await measureSidecar(`${pods} pods, pod scope node, client-node preloaded (before)`, pods, 'node', true));
  rows.push(await measureSidecar(`${pods} pods, pod scope cluster (one member)`, pods, 'cluster'));
}

console.log(`The real sidecar process (dist/cli/main.js sidecar serve) against a list/watch server of N mesh pods on ${nodes} nodes; envoy-stats job (kubernetes_sd role pod).\n`);
console.log('| sidecar | own targets | RSS MiB | peak RSS MiB | V8 heap used MiB | RSS vs bare node | ready after s |');
console.log('|---|---|---|---|---|---|---|');
console.log(`| bare node process (floor) | – | ${mib(floor)} | – | – | 1.00× | – |`);
for (const r of rows) console.log(`| ${r.name} | ${r.targets} | ${mib(r.rss)} | ${mib(r.peak)} | ${mib(r.heap)} | ${(r.rss / floor).toFixed(2)}× | ${(r.readyMs / 1000).toFixed(1)} |`);
const goalRow = rows.find((r) => r.pods === 10_000 && r.scope === 'node' && !r.preload);
const before = rows.find((r) => r.pods === 10_000 && r.scope === 'node' && r.preload);
const big = rows.find((r) => r.pods === 100_000 && r.scope === 'cluster');
if (goalRow) console.log(`\n- ~100 own targets in a 10,000-pod cluster: ${mib(goalRow.rss)} MiB RSS (goal ≤ 64)${before ? `; with client-node's graph (before) ${mib(before.rss)} MiB: ${(goalRow.rss / before.rss).toFixed(2)}×` : ''}`);
if (big) console.log(`- 100k targets in one sidecar: ${mib(big.rss)} MiB RSS, peak ${mib(big.peak)} MiB (goal ≤ 150)`);
