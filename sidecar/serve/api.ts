// The target_allocator HTTP API the collector's prometheus receiver polls, on loopback only.
// Nothing here decides: it reads the engine's current answers. Before the first full discovery
// every data endpoint answers 503, because the receiver treats `{}` as "delete every job".
import { timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import type { Logger } from '../../common/log.js';
import type { SidecarMetrics } from './metrics.js';

export interface ApiState {
  ready(): boolean;
  /** Why not ready (for /readyz), when not. */
  notReadyReason(): string;
  /** This pod's name: the only collector_id that gets targets. */
  collectorId: string;
  scrapeConfigs(): Record<string, unknown>;
  jobNames(): string[];
  /** The http_sd answer for a job (`[]` when unknown), gzipped JSON. */
  targetsAnswerGzip(job: string): Promise<Buffer>;
  debugTargets(): unknown;
  /**
   * The pod's API token: when set, every route but /livez, /readyz and /metrics wants
   * `Authorization: Bearer <token>` (a hostNetwork pod's loopback is the node's).
   */
  token?: string;
}

/** Routes that carry no scrape configuration or credentials: probes and the sidecar's own metrics. */
const openRoutes = new Set(['/livez', '/readyz', '/metrics']);

export function createApi(state: ApiState, metrics: SidecarMetrics, logger: Logger): Hono {
  const app = new Hono();
  const json = { 'Content-Type': 'application/json' };
  const notReady = () => new Response(JSON.stringify({ error: `not ready: ${state.notReadyReason()}` }), { status: 503, headers: json });

  app.use(async (c, next) => {
    const started = process.hrtime.bigint();
    await next();
    const route = routeName(new URL(c.req.url).pathname);
    metrics.httpDuration.observe({ route, code: String(c.res.status) }, Number(process.hrtime.bigint() - started) / 1e9);
  });

  if (state.token) {
    const expected = Buffer.from(`Bearer ${state.token}`);
    app.use(async (c, next) => {
      if (openRoutes.has(new URL(c.req.url).pathname)) return next();
      const given = Buffer.from(c.req.header('authorization') ?? '');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
      return c.json({ error: 'missing or wrong bearer token: this API answers only its own pod\'s collector (the token is in /edot-ta/token)' }, 401);
    });
  }

  app.get('/livez', (c) => c.text('ok'));
  app.get('/readyz', (c) => (state.ready() ? c.text('ok') : c.text(`not ready: ${state.notReadyReason()}`, 503)));

  app.get('/scrape_configs', () => (state.ready() ? new Response(JSON.stringify(state.scrapeConfigs()), { headers: json }) : notReady()));

  app.get('/jobs', () => {
    if (!state.ready()) return notReady();
    const jobs = Object.fromEntries(state.jobNames().map((job) => [job, { _link: `/jobs/${queryEscape(job)}/targets` }]));
    return new Response(JSON.stringify(jobs), { headers: json });
  });

  app.get('/jobs/*', async (c) => {
    const url = new URL(c.req.url);
    const match = /^\/jobs\/(.+)\/targets\/?$/.exec(url.pathname);
    if (!match?.[1]) return c.json({ error: 'expected /jobs/{job}/targets' }, 404);
    if (!state.ready()) return notReady();
    // Only this pod's own collector gets targets; any other id, or none, gets [] (never 404).
    if (url.searchParams.get('collector_id') !== state.collectorId) return new Response('[]', { headers: json });
    const gzipped = await state.targetsAnswerGzip(jobFromPath(match[1], state.jobNames()));
    const headers = { ...json, Vary: 'Accept-Encoding' };
    if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) return new Response(new Uint8Array(gzipped), { headers: { ...headers, 'Content-Encoding': 'gzip' } });
    // Prometheus's http_sd does not ask for gzip: inflate as a stream, never the whole text at once.
    if (gzipped.length < 64 * 1024) return new Response(gunzipSync(gzipped), { headers });
    const body = Readable.toWeb(Readable.from([gzipped]).pipe(createGunzip())) as ReadableStream<Uint8Array>;
    return new Response(body, { headers });
  });

  app.get('/metrics', async () => {
    const body = await metrics.registry.metrics();
    return new Response(body, { headers: { 'Content-Type': metrics.registry.contentType } });
  });

  app.get('/debug/targets', () => new Response(JSON.stringify(state.debugTargets(), null, 2), { headers: json }));

  app.onError((err, c) => {
    logger.error('API request failed', { path: new URL(c.req.url).pathname, error: err.message });
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}

/** Go's url.QueryEscape, which the receiver uses to put a job name into the path. */
export function queryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Decodes a job from the path; `+` is a space in QueryEscape but a literal `+` in a raw path. */
function jobFromPath(encoded: string, known: string[]): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
  if (known.includes(decoded)) return decoded;
  const withSpaces = decodeURIComponent(encoded.replace(/\+/g, '%20'));
  return known.includes(withSpaces) ? withSpaces : decoded;
}

function routeName(path: string): string {
  if (path.startsWith('/jobs/')) return '/jobs/{job}/targets';
  return ['/scrape_configs', '/jobs', '/livez', '/readyz', '/metrics', '/debug/targets'].includes(path) ? path : 'other';
}

/** Accepts only loopback listen addresses: the API serves real secrets, and DaemonSet pods share the node's network. */
export function parseListenAddress(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--listen "${listen}" must be host:port, e.g. 127.0.0.1:27390`);
  }
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback) {
    throw new Error(`--listen "${listen}" is not a loopback address: the sidecar serves scrape secrets and must only listen on 127.0.0.0/8 or ::1`);
  }
  return { host, port };
}
