// The webhook's HTTP surface: a hono app (routes, body limit, one error handler) and the HTTPS
// server it runs on (TLS 1.3, or 1.2 with forward-secret AEAD ciphers; timeouts chosen for the
// API server's webhook client; silent connections closed; a connection cap).
// Decisions live in admission.ts; this file only moves bytes and records metrics and logs.
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from '../common/log.js';
import {
  AdmissionReviewError,
  defaultMutators,
  isCollectorKind,
  parseAdmissionReview,
  review,
  type AdmissionRequest,
  type AdmissionReviewResponse,
  type AdmissionSettings,
  type Mutators,
  type ReviewOutcome,
} from './admission/admission.js';
import type { WebhookMetrics } from './admission/metrics.js';
import { IsolatedReviewer } from './admission/isolated-review.js';

/**
 * An AdmissionReview carries the object (and on UPDATE the old object); etcd caps an object at
 * ~1.5 MiB, so two of them plus the envelope fit in 4 MiB. Anything bigger is not a review.
 */
export const defaultMaxBodyBytes = 4 * 1024 * 1024;

/** Bodies above this (an EDOT pod review is ~8 KiB) are parsed and reviewed in the worker thread. */
export const isolateBodiesAbove = 128 * 1024;

export const serverTimeouts = {
  /** Headers must arrive quickly: the API server sends them at once; slow senders are not it. */
  headersTimeoutMs: 10_000,
  /** A whole request (body included): the API server gives up after timeoutSeconds (max 30 s) anyway. */
  requestTimeoutMs: 30_000,
  /**
   * Idle keep-alive connections stay open longer than the API server's client keeps them
   * (Go's IdleConnTimeout, 90 s): the client closes first, so it never sends a review on a
   * connection the server is closing at that moment.
   */
  keepAliveTimeoutMs: 95_000,
  /** A client that opens TLS and never finishes the handshake must not hold a socket (Node's default: 120 s). */
  handshakeTimeoutMs: 10_000,
  /**
   * After the handshake the first request must arrive within this time: Node applies
   * headersTimeout only once bytes arrive, so a silent client would otherwise hold the socket
   * (and ~17 KB of TLS state) forever.
   */
  firstRequestTimeoutMs: 10_000,
  /**
   * Open connections at most: the API server opens one HTTP/1.1 connection per concurrent
   * review and keeps a few idle; beyond this a connection is refused instead of exhausting memory.
   */
  maxConnections: 512,
} as const;

export type ServerTimeouts = { -readonly [K in keyof typeof serverTimeouts]: number };

/**
 * TLS 1.3 (preferred, forward secret by design) or TLS 1.2 with ECDHE key exchange and AEAD
 * ciphers only: no static-RSA or CBC suites. Go's TLS client (the API server) offers all of these.
 */
export const tlsCiphers = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface WebhookAppOptions {
  settings: AdmissionSettings;
  metrics: WebhookMetrics;
  logger: Logger;
  maxBodyBytes?: number;
  /** /readyz: true once the serving certificate is loaded (and the server listens). */
  isReady?: () => boolean;
  mutators?: Mutators;
  /** Called after each answered review (e.g. the /debug/decisions log); must be cheap and not throw. */
  onDecision?: (request: AdmissionRequest, outcome: ReviewOutcome, answer: { warnings?: string[]; latencyMs: number }) => void;
  /** Extra routes mounted at / (the token-protected /debug/ sub-app). */
  extraRoutes?: Hono;
  /**
   * OpenTelemetryCollector reviews and bodies above `isolateBodiesAbove` in a worker thread
   * (default: yes, unless `mutators` are replaced): never delaying the other reviews.
   */
  isolateCollectorReviews?: boolean;
}

export function createWebhookApp(options: WebhookAppOptions): Hono {
  const { settings, metrics, logger } = options;
  const mutators = options.mutators ?? defaultMutators;
  const app = new Hono();
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
  const readBody = <F extends 'text' | 'bytes'>(c: Context, form: F) => readBoundedBody(c, maxBodyBytes, () => metrics.observeRejected('too_large'), form);

  const isolated = (options.isolateCollectorReviews ?? !options.mutators) ? new IsolatedReviewer({ settings, logger }) : undefined;

  app.post('/mutate', async (c) => {
    const started = process.hrtime.bigint();
    let request: AdmissionRequest;
    let answer: { body: AdmissionReviewResponse; outcome: ReviewOutcome };
    const length = Number(c.req.header('content-length') ?? 0);
    if (isolated && length > isolateBodiesAbove) {
      // A large body goes to the worker as bytes (moved, not copied): decoding and parsing
      // megabytes is event-loop time the pod reviews should not wait behind.
      const bytes = await readBody(c, 'bytes');
      const result = await isolated.review({ bytes });
      request = result.request;
      answer = result;
    } else {
      request = parseAdmissionReview(await readBody(c, 'text'));
      answer = isolated && isCollectorKind(request.kind) ? await isolated.review({ request }) : review(request, settings, mutators);
    }
    const { body, outcome } = answer;
    const durationSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.observeReview(outcome, durationSeconds);
    options.onDecision?.(request, outcome, { ...(body.response.warnings ? { warnings: body.response.warnings } : {}), latencyMs: durationSeconds * 1000 });
    const fields = {
      uid: request.uid,
      kind: request.kind.kind,
      operation: request.operation,
      namespace: request.namespace,
      name: request.name,
      dryRun: request.dryRun,
      result: outcome.result,
      reason: outcome.reason,
      patchBytes: outcome.patchBytes,
      warnings: body.response.warnings?.length ?? 0,
      durationMs: Math.round(durationSeconds * 1e6) / 1e3,
    };
    if (outcome.result === 'error') logger.warn('admitted unchanged after a mutation failure', fields);
    else if (outcome.result === 'mutated') logger.info('mutated', fields);
    else logger.debug('admitted unchanged', fields);
    return c.json(body);
  });

  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', (c) => ((options.isReady?.() ?? true) ? c.text('ok') : c.text('serving certificate not loaded yet', 503)));
  app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }));

  if (options.extraRoutes) app.route('/', options.extraRoutes);

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}; the webhook serves POST /mutate, GET /healthz, /readyz, /metrics` }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    if (err instanceof AdmissionReviewError) {
      metrics.observeRejected('bad_request');
      logger.warn('rejected a request that is not an AdmissionReview', { path: c.req.path, error: err.message });
      return c.json({ error: `not an admission.k8s.io/v1 AdmissionReview: ${err.message}` }, 400);
    }
    metrics.observeRejected('internal');
    logger.error('request failed', { path: c.req.path, error: err });
    // The API server treats a 500 as a failed call: with failurePolicy Ignore the pod is admitted.
    return c.json({ error: `internal error: ${err.message}` }, 500);
  });
  return app;
}

/**
 * The body, bounded by Content-Length. The API server always sends Content-Length; a chunked
 * body is refused (411) rather than buffered without a bound. (hono's bodyLimit middleware is
 * not used: touching `req.raw.body` builds a full WHATWG Request per review, which costs more
 * CPU than the mutation itself; c.req.text() takes @hono/node-server's direct read path.)
 */
async function readBoundedBody<F extends 'text' | 'bytes'>(c: Context, maxBytes: number, onTooLarge: () => void, form: F): Promise<F extends 'text' ? string : ArrayBuffer> {
  const length = c.req.header('content-length');
  if (length !== undefined) {
    if (!/^[0-9]+$/.test(length)) throw new HTTPException(400, { res: Response.json({ error: `bad Content-Length "${length}"` }, { status: 400 }) });
    if (Number(length) > maxBytes) {
      onTooLarge();
      throw new HTTPException(413, { res: Response.json({ error: `request body larger than ${maxBytes} bytes` }, { status: 413 }) });
    }
  } else if (c.req.header('transfer-encoding') !== undefined) {
    throw new HTTPException(411, { res: Response.json({ error: 'send Content-Length (chunked bodies are not accepted)' }, { status: 411 }) });
  }
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (form === 'bytes' && incoming && length !== undefined) return readPaced(incoming, Number(length)) as Promise<F extends 'text' ? string : ArrayBuffer>;
  return (form === 'text' ? c.req.text() : c.req.arrayBuffer()) as Promise<F extends 'text' ? string : ArrayBuffer>;
}

/**
 * A large body, one chunk per event-loop turn, into one buffer of its Content-Length. Read
 * freely, libuv takes up to 32 socket reads (2 MiB) in one go and TLS decrypts them all before
 * any other connection is served: a pod review arriving meanwhile waits milliseconds behind a
 * hostile body. Paused after each chunk, the socket stops being read until the next turn.
 */
function readPaced(incoming: IncomingMessage, length: number): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const body = new Uint8Array(length);
    let offset = 0;
    const bad = (message: string) => new HTTPException(400, { res: Response.json({ error: message }, { status: 400 }) });
    incoming.on('data', (chunk: Buffer) => {
      if (offset + chunk.length > length) {
        incoming.destroy();
        reject(bad('request body longer than its Content-Length'));
        return;
      }
      body.set(chunk, offset);
      offset += chunk.length;
      incoming.pause();
      setImmediate(() => incoming.resume());
    });
    incoming.once('end', () => (offset === length ? resolve(body.buffer) : reject(bad('request body shorter than its Content-Length'))));
    incoming.once('error', reject);
    // A client that hangs up mid-body: settle (a no-op once resolved) instead of waiting forever.
    incoming.once('close', () => reject(bad('request body cut short: the connection closed')));
  });
}

export interface RunningServer {
  server: HttpsServer;
  port: number;
  /** Replaces the serving certificate for new connections (hot reload). */
  setCertificate(pair: { certPem: string; keyPem: string }): void;
  /** Stops accepting, lets in-flight reviews finish, closes idle keep-alive connections. */
  close(): Promise<void>;
}

export const tlsMinVersion = 'TLSv1.2' as const;

export async function startHttpsServer(
  app: Hono,
  options: { port: number; hostname: string; certPem: string; keyPem: string; limits?: Partial<ServerTimeouts> },
): Promise<RunningServer> {
  const limits: ServerTimeouts = { ...serverTimeouts, ...options.limits };
  const secure = (pair: { certPem: string; keyPem: string }): SecureContextOptions => ({ cert: pair.certPem, key: pair.keyPem, minVersion: tlsMinVersion, ciphers: tlsCiphers, honorCipherOrder: true });
  const server = await new Promise<HttpsServer>((resolve, reject) => {
    const created = serve({
      fetch: app.fetch,
      port: options.port,
      hostname: options.hostname,
      createServer: createHttpsServer,
      serverOptions: {
        ...secure(options),
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        handshakeTimeout: limits.handshakeTimeoutMs,
      },
    }) as HttpsServer;
    created.maxConnections = limits.maxConnections;
    // A connection that has not started a request in time is closed (no 'data' listener: that
    // would take the socket off the HTTP parser's fast path for its whole life).
    const started = new WeakSet<object>();
    created.on('request', (req: { socket: object }) => started.add(req.socket));
    created.on('secureConnection', (socket: TLSSocket) => {
      const timer = setTimeout(() => {
        if (!started.has(socket)) socket.destroy();
      }, limits.firstRequestTimeoutMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    });
    created.once('error', reject);
    created.once('listening', () => {
      created.off('error', reject);
      resolve(created);
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    setCertificate: (pair) => server.setSecureContext(secure(pair)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
