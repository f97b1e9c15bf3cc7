import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { createCA, createServingCert } from '../certs/ca.js';
import { createLogger } from '../common/log.js';
import { defaultMutators } from './admission/admission.js';
import { createWebhookMetrics } from './admission/metrics.js';
import { createWebhookApp, startHttpsServer, type RunningServer } from './server.js';
import { defaultCRSettings, defaultInjectSettings } from './settings.js';

const podReview = readFileSync(new URL('../test/fixtures/admission/pod-create-edot-daemon.json', import.meta.url), 'utf8');
const settings = { inject: defaultInjectSettings(), cr: defaultCRSettings() };
const logLines: string[] = [];
const logger = createLogger({}, (line) => logLines.push(line));

function app(options: { ready?: boolean; throwing?: boolean } = {}) {
  const metrics = createWebhookMetrics({ processMetrics: false });
  const mutators = options.throwing
    ? { ...defaultMutators, diffPatch: () => { throw new Error('diff exploded'); } }
    : defaultMutators;
  return { metrics, app: createWebhookApp({ settings, metrics, logger, isReady: () => options.ready ?? true, mutators, maxBodyBytes: 64 * 1024 }) };
}

describe('webhook routes', () => {
  it('answers POST /mutate with the AdmissionReview response and counts it', async () => {
    const { app: hono, metrics } = app();
    const res = await hono.request('/mutate', { method: 'POST', body: podReview, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { response: { uid: string; allowed: boolean; patchType: string } };
    expect(body.response).toMatchObject({ uid: '3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c', allowed: true, patchType: 'JSONPatch' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('edot_ta_webhook_reviews_total{kind="Pod",result="mutated"} 1');
    expect(text).toMatch(/edot_ta_webhook_review_duration_seconds_count\{kind="Pod"\} 1/);
    expect(text).toMatch(/edot_ta_webhook_patch_bytes_count\{kind="Pod"\} 1/);
    expect(logLines.some((line) => line.includes('"msg":"mutated"') && line.includes('"uid":"3c1b5a2e'))).toBe(true);
    expect(logLines.every((line) => !line.includes('elastic-secret-otel'))).toBe(true); // no whole objects in logs
  });

  it('rejects a body that is not an AdmissionReview with HTTP 400 and a clear message', async () => {
    const { app: hono, metrics } = app();
    const res = await hono.request('/mutate', { method: 'POST', body: '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'not an admission.k8s.io/v1 AdmissionReview: request.uid is missing or empty' });
    expect(await metrics.registry.metrics()).toContain('edot_ta_webhook_rejected_requests_total{reason="bad_request"} 1');
  });

  it('limits the request body size (413)', async () => {
    const { app: hono } = app();
    const res = await hono.request('/mutate', { method: 'POST', body: 'x'.repeat(65 * 1024), headers: { 'content-length': String(65 * 1024) } });
    expect(res.status).toBe(413);
  });

  it('admits unchanged with a warning when the diff step fails', async () => {
    const { app: hono } = app({ throwing: true });
    const res = await hono.request('/mutate', { method: 'POST', body: podReview });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { response: unknown }).response).toEqual({
      uid: '3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c',
      allowed: true,
      warnings: ['edot-ta: mutation failed (diff exploded); admitted unchanged'],
    });
  });

  it('serves health, readiness and a clear 404 (and no benchmark route)', async () => {
    const { app: hono } = app({ ready: false });
    expect((await hono.request('/baseline', { method: 'POST', body: podReview })).status).toBe(404);
    expect((await hono.request('/healthz')).status).toBe(200);
    expect((await hono.request('/readyz')).status).toBe(503);
    const missing = await hono.request('/validate', { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('POST /mutate');
  });
});

describe('HTTPS server', () => {
  const ca = createCA({ validityDays: 1 });
  const issue = () => createServingCert(ca, { service: 'edot-ta-webhook', namespace: 'edot-ta-system', ips: ['127.0.0.1'], validityDays: 1 });
  let running: RunningServer | undefined;
  afterAll(async () => running?.close());

  const peer = (port: number, options: { maxVersion?: 'TLSv1.1' | 'TLSv1.3' } = {}) =>
    new Promise<PeerCertificate>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, ...(options.maxVersion ? { maxVersion: options.maxVersion, minVersion: 'TLSv1' } : {}) }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.once('error', reject);
    });

  it('serves reviews over TLS, refuses TLS 1.1, and swaps the certificate for new connections', async () => {
    const first = issue();
    running = await startHttpsServer(app().app, { port: 0, hostname: '127.0.0.1', ...first });
    const port = running.port;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca: ca.certPem }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end(podReview);
    });
    expect(status).toBe(200);
    await expect(peer(port, { maxVersion: 'TLSv1.1' })).rejects.toThrow();

    const firstSerial = (await peer(port)).serialNumber;
    const second = issue();
    running.setCertificate(second);
    const secondSerial = (await peer(port)).serialNumber;
    expect(secondSerial).not.toBe(firstSerial);
    // A chunked body (no Content-Length) is refused instead of buffered without a bound.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca: ca.certPem }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.write(podReview.slice(0, 100));
      req.end(podReview.slice(100));
    });
    expect(chunked).toBe(411);
    expect(running.server.headersTimeout).toBe(10_000);
    expect(running.server.keepAliveTimeout).toBe(95_000);
  });

  it('reads a large body paced (one chunk per turn) into the worker review, and survives a client that sends less than its Content-Length', async () => {
    const metrics = createWebhookMetrics({ processMetrics: false });
    const server = await startHttpsServer(createWebhookApp({ settings, metrics, logger }), { port: 0, hostname: '127.0.0.1', ...issue() });
    const post = (body: Buffer) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: server.port, path: '/mutate', method: 'POST', ca: ca.certPem, headers: { 'content-type': 'application/json' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        });
        req.once('error', reject);
        req.end(body);
      });
    try {
      const review = JSON.parse(podReview) as { request: { object: { metadata: { annotations?: Record<string, string> } } } };
      review.request.object.metadata.annotations = { ...review.request.object.metadata.annotations, 'example.com/large': 'x'.repeat(600 * 1024) };
      const large = Buffer.from(JSON.stringify(review));
      const answer = await post(large);
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.text) as { response: { allowed: boolean; patch?: string } }).response).toMatchObject({ allowed: true, patch: expect.any(String) });
      // A client that promises 600 KiB, sends 1 KiB and hangs up: nothing waits for the rest.
      await new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: server.port, ca: ca.certPem }, () => {
          socket.write(`POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${large.length}\r\n\r\n`);
          socket.end(large.subarray(0, 1024));
        });
        socket.on('data', () => undefined);
        socket.once('close', () => resolve());
        socket.once('error', () => resolve());
      });
      expect((await post(Buffer.from(podReview))).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('speaks TLS 1.3 by default and, on TLS 1.2, only forward-secret AEAD ciphers', async () => {
    const server = await startHttpsServer(app().app, { port: 0, hostname: '127.0.0.1', ...issue() });
    try {
      const handshake = (options: { maxVersion?: 'TLSv1.2'; ciphers?: string }) =>
        new Promise<{ protocol: string | null; cipher: string }>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port: server.port, ca: ca.certPem, ...options }, () => {
            resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
            socket.end();
          });
          socket.once('error', reject);
        });
      expect((await handshake({})).protocol).toBe('TLSv1.3');
      expect(await handshake({ maxVersion: 'TLSv1.2' })).toEqual({ protocol: 'TLSv1.2', cipher: expect.stringMatching(/^ECDHE-.*(GCM|CHACHA20)/) });
      for (const weak of ['AES128-SHA', 'AES256-SHA256', 'AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA']) {
        await expect(handshake({ maxVersion: 'TLSv1.2', ciphers: weak }), weak).rejects.toThrow();
      }
    } finally {
      await server.close();
    }
  });

  it('closes connections that finish the handshake and then stay silent, and caps open connections', async () => {
    const server = await startHttpsServer(app().app, { port: 0, hostname: '127.0.0.1', ...issue(), limits: { firstRequestTimeoutMs: 300, maxConnections: 3 } });
    try {
      const open = () =>
        new Promise<ReturnType<typeof connect>>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port: server.port, ca: ca.certPem }, () => resolve(socket));
          socket.once('error', reject);
        });
      const closedAfter = (socket: ReturnType<typeof connect>) => {
        const since = Date.now();
        return new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - since)));
      };
      const silent = await open();
      const silentMs = await closedAfter(silent);
      expect(silentMs).toBeLessThan(5_000);
      // A connection that sends a request in time is served and kept alive past the first-request limit.
      const busy = await open();
      busy.write(`POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(podReview)}\r\n\r\n${podReview}`);
      await new Promise((resolve) => busy.once('data', resolve));
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(busy.destroyed).toBe(false);
      // Two more fit under the cap of 3; the fourth is closed by the server.
      const more = [await open(), await open()];
      const extra = connect({ host: '127.0.0.1', port: server.port, ca: ca.certPem });
      const outcome = await new Promise<string>((resolve) => {
        extra.once('secureConnect', () => resolve('connected'));
        extra.once('error', () => resolve('refused'));
        extra.once('close', () => resolve('refused'));
      });
      expect(outcome).toBe('refused');
      for (const socket of [busy, ...more]) socket.destroy();
    } finally {
      await server.close();
    }
  });
});
