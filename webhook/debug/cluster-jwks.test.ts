import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createWebhookCertificates, type WebhookCertificates } from '../../certs/ca.js';
import {
  ClusterConnectionError,
  KeySetUnavailableError,
  clusterKeySet,
  createCachedKeySet,
  discoverIssuer,
  inClusterConnection,
  kubeconfigConnection,
  parseJwks,
} from './cluster-jwks.js';

const jwks = { keys: [{ kty: 'RSA', kid: 'k1', n: 'AQAB', e: 'AQAB' }] };
const work = mkdtempSync(join(tmpdir(), 'edot-ta-jwks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('createCachedKeySet', () => {
  it('serves the cached set until it is maxAgeMs old, then refetches', async () => {
    let clock = 0;
    let fetches = 0;
    const keys = createCachedKeySet({ fetchKeys: async () => (fetches++, jwks), nowMs: () => clock, maxAgeMs: 60_000 });
    await keys.current();
    clock = 59_000;
    await keys.current();
    expect(fetches).toBe(1);
    clock = 61_000;
    await keys.current();
    expect(fetches).toBe(2);
  });

  it('shares one fetch between concurrent callers', async () => {
    let fetches = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const keys = createCachedKeySet({ fetchKeys: async () => (fetches++, await gate, jwks) });
    const all = Promise.all([keys.current(), keys.current(), keys.refresh()]);
    release();
    expect(await all).toEqual([jwks, jwks, jwks]);
    expect(fetches).toBe(1);
  });

  it('keeps serving the last good set when a refetch fails', async () => {
    let clock = 0;
    let up = true;
    const keys = createCachedKeySet({ fetchKeys: async () => (up ? jwks : Promise.reject(new Error('HTTP 503'))), nowMs: () => clock, maxAgeMs: 1_000, minRefreshIntervalMs: 100 });
    await keys.current();
    up = false;
    clock = 5_000;
    expect(await keys.current()).toBe(jwks);
    expect(await keys.refresh()).toBe(jwks);
  });

  it('with nothing cached, a failure is KeySetUnavailableError and retries wait for the rate limit', async () => {
    let clock = 0;
    let fetches = 0;
    const keys = createCachedKeySet({ fetchKeys: async () => (fetches++, Promise.reject(new Error('ECONNREFUSED'))), nowMs: () => clock, minRefreshIntervalMs: 1_000 });
    await expect(keys.current()).rejects.toBeInstanceOf(KeySetUnavailableError);
    await expect(keys.current()).rejects.toThrow(/ECONNREFUSED/);
    expect(fetches).toBe(1);
    clock = 1_500;
    await expect(keys.current()).rejects.toThrow(KeySetUnavailableError);
    expect(fetches).toBe(2);
  });
});

describe('parseJwks', () => {
  it('accepts {keys: [...]} and refuses anything else', () => {
    expect(parseJwks(jwks)).toEqual(jwks);
    for (const bad of [null, {}, { keys: {} }, { keys: [{ kid: 'no-kty' }] }, 'text']) expect(() => parseJwks(bad)).toThrow(/no "keys" array/);
  });
});

describe('kubeconfigConnection', () => {
  const write = (name: string, doc: unknown) => {
    const path = join(work, name);
    writeFileSync(path, typeof doc === 'string' ? doc : stringify(doc));
    return path;
  };
  const kubeconfig = (cluster: Record<string, unknown>, user: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'test',
    contexts: [{ name: 'other', context: { cluster: 'c2', user: 'u2' } }, { name: 'test', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
  });

  it('reads the current context: server, CA file relative to the kubeconfig, bearer token', () => {
    writeFileSync(join(work, 'ca.crt'), 'CA PEM');
    const conn = kubeconfigConnection(write('token.yaml', kubeconfig({ server: 'https://127.0.0.1:6443/', 'certificate-authority': 'ca.crt' }, { token: 't0ken' })));
    expect(conn).toMatchObject({ server: 'https://127.0.0.1:6443', caPem: 'CA PEM' });
    expect(conn.bearerToken?.()).toBe('t0ken');
    expect(conn.describe).not.toContain('t0ken');
  });

  it('reads inline CA and client certificate data', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const conn = kubeconfigConnection(write('certs.yaml', kubeconfig({ server: 'https://k8s.example:443', 'certificate-authority-data': b64('CA') }, { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') })));
    expect(conn).toMatchObject({ caPem: 'CA', clientCertPem: 'CERT', clientKeyPem: 'KEY' });
    expect(conn.bearerToken).toBeUndefined();
  });

  it('refuses exec credentials, plain http, a missing context and an unreadable file with a clear message', () => {
    expect(() => kubeconfigConnection(write('exec.yaml', kubeconfig({ server: 'https://x' }, { exec: { command: 'aws' } })))).toThrow(/exec and auth-provider credentials are not supported/);
    expect(() => kubeconfigConnection(write('http.yaml', kubeconfig({ server: 'http://x' }, {})))).toThrow(/must be an https:\/\/ URL/);
    expect(() => kubeconfigConnection(write('noctx.yaml', { ...kubeconfig({ server: 'https://x' }, {}), 'current-context': 'gone' }))).toThrow(/no context named "gone"/);
    expect(() => kubeconfigConnection(join(work, 'missing.yaml'))).toThrow(ClusterConnectionError);
  });
});

describe('inClusterConnection', () => {
  it('uses KUBERNETES_SERVICE_HOST/PORT, the mounted CA, and re-reads the rotated token file', () => {
    const dir = join(work, 'sa');
    mkdirSync(dir);
    writeFileSync(join(dir, 'ca.crt'), 'CLUSTER CA');
    writeFileSync(join(dir, 'token'), 'first\n');
    const conn = inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir);
    expect(conn).toMatchObject({ server: 'https://[fd00::1]:443', caPem: 'CLUSTER CA' });
    expect(conn.bearerToken?.()).toBe('first');
    writeFileSync(join(dir, 'token'), 'rotated\n');
    expect(conn.bearerToken?.()).toBe('rotated');
  });

  it('says to pass --kubeconfig when not in a cluster', () => {
    expect(() => inClusterConnection({}, work)).toThrow(/pass --kubeconfig/);
  });
});

describe('fetching from an HTTPS server with a private CA and a bearer token', () => {
  let certs: WebhookCertificates;
  let server: Server;
  let port = 0;
  const seenAuth: (string | undefined)[] = [];

  beforeAll(async () => {
    certs = createWebhookCertificates({ service: 'apiserver', namespace: 'default', ips: ['127.0.0.1'], validityDays: 1 });
    server = createServer({ cert: certs.serving.certPem, key: certs.serving.keyPem }, (req, res) => {
      seenAuth.push(req.headers.authorization);
      if (req.headers.authorization !== 'Bearer reader-token') return res.writeHead(401).end('{"kind":"Status","code":401}');
      // Like the API server: the JWKS only as application/jwk-set+json, else 406.
      if (req.url === '/openid/v1/jwks' && !req.headers.accept?.includes('application/jwk-set+json')) return res.writeHead(406).end('{"code":406}');
      if (req.url === '/openid/v1/jwks') return res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(jwks));
      if (req.url === '/.well-known/openid-configuration') return res.writeHead(200).end(JSON.stringify({ issuer: 'https://kubernetes.default.svc' }));
      res.writeHead(404).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fetches the JWKS and the issuer with the connection\'s CA and token', async () => {
    const conn = { server: `https://127.0.0.1:${port}`, caPem: certs.ca.certPem, bearerToken: () => 'reader-token', describe: 'test' };
    expect(await clusterKeySet(conn).current()).toEqual(jwks);
    expect(await discoverIssuer(conn)).toBe('https://kubernetes.default.svc');
    expect(seenAuth.at(-1)).toBe('Bearer reader-token');
  });

  it('reports the HTTP status when the API server refuses, and refuses an untrusted server certificate', async () => {
    const wrongToken = { server: `https://127.0.0.1:${port}`, caPem: certs.ca.certPem, bearerToken: () => 'nope', describe: 'test' };
    await expect(clusterKeySet(wrongToken).current()).rejects.toThrow(/HTTP 401/);
    const noCa = { server: `https://127.0.0.1:${port}`, bearerToken: () => 'reader-token', describe: 'test' };
    await expect(clusterKeySet(noCa).current()).rejects.toThrow(/certificate/);
  });
});
