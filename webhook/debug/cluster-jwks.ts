// The cluster's ServiceAccount token signing keys, read the way the webhook reads anything from
// the API server: with its own credentials (in-cluster token + CA, or a kubeconfig). jose's
// createRemoteJWKSet cannot send a bearer token or trust a private CA, so this fetches
// /openid/v1/jwks with node:https, caches it, and refetches on an unknown `kid` at most once per
// minRefreshIntervalMs. Kept free of @kubernetes/client-node: the serving process stays small.
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../../common/log.js';

export const jwksPath = '/openid/v1/jwks';
export const discoveryPath = '/.well-known/openid-configuration';
export const inClusterCredentialsDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How to reach the API server. The token is a function: kubelet rotates projected tokens on disk. */
export interface ClusterConnection {
  server: string;
  caPem?: string;
  insecureSkipTlsVerify?: boolean;
  bearerToken?: () => string;
  clientCertPem?: string;
  clientKeyPem?: string;
  /** For logs: where the credentials came from (never the credentials). */
  describe: string;
}

export class ClusterConnectionError extends Error {}

export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, credentialsDir = inClusterCredentialsDir): ClusterConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new ClusterConnectionError('not running in a cluster (KUBERNETES_SERVICE_HOST is not set); pass --kubeconfig');
  const tokenFile = join(credentialsDir, 'token');
  let caPem: string;
  try {
    caPem = readFileSync(join(credentialsDir, 'ca.crt'), 'utf8');
    readFileSync(tokenFile, 'utf8');
  } catch (err) {
    throw new ClusterConnectionError(`cannot read the in-cluster ServiceAccount credentials in ${credentialsDir}: ${(err as Error).message}`);
  }
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caPem,
    bearerToken: () => readFileSync(tokenFile, 'utf8').trim(),
    describe: 'in-cluster ServiceAccount',
  };
}

type Entry<T> = { name?: unknown } & T;

/** The current context of a kubeconfig file: server, CA, token or client certificate. Exec plugins are refused. */
export function kubeconfigConnection(path: string): ClusterConnection {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ClusterConnectionError(`cannot read kubeconfig ${path}: ${(err as Error).message.split('\n', 1)[0]}`);
  }
  const config = (doc ?? {}) as { 'current-context'?: unknown; contexts?: unknown; clusters?: unknown; users?: unknown };
  const named = <T>(list: unknown, name: unknown, what: string): T => {
    const found = Array.isArray(list) ? (list as Entry<Record<string, unknown>>[]).find((e) => e?.name === name) : undefined;
    if (!found) throw new ClusterConnectionError(`kubeconfig ${path}: no ${what} named ${JSON.stringify(name)}`);
    return (found[what] ?? {}) as T;
  };
  const contextName = config['current-context'];
  const context = named<{ cluster?: unknown; user?: unknown }>(config.contexts, contextName, 'context');
  const cluster = named<Record<string, unknown>>(config.clusters, context.cluster, 'cluster');
  const user = context.user === undefined ? {} : named<Record<string, unknown>>(config.users, context.user, 'user');
  const file = (value: unknown) => readFileSync(isAbsolute(String(value)) ? String(value) : join(dirname(path), String(value)), 'utf8');
  const inline = (value: unknown) => Buffer.from(String(value), 'base64').toString('utf8');
  const pem = (dataKey: string, fileKey: string, from: Record<string, unknown>): string | undefined =>
    from[dataKey] !== undefined ? inline(from[dataKey]) : from[fileKey] !== undefined ? file(from[fileKey]) : undefined;

  if (typeof cluster.server !== 'string' || !cluster.server.startsWith('https://')) throw new ClusterConnectionError(`kubeconfig ${path}: cluster server must be an https:// URL`);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) throw new ClusterConnectionError(`kubeconfig ${path}: exec and auth-provider credentials are not supported here; use a token or a client certificate`);
  const token = typeof user.token === 'string' ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === 'string' ? user.tokenFile : undefined;
  const caPem = pem('certificate-authority-data', 'certificate-authority', cluster);
  const clientCertPem = pem('client-certificate-data', 'client-certificate', user);
  const clientKeyPem = pem('client-key-data', 'client-key', user);
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ...(caPem !== undefined ? { caPem } : {}),
    ...(cluster['insecure-skip-tls-verify'] === true ? { insecureSkipTlsVerify: true } : {}),
    ...(token !== undefined ? { bearerToken: () => token } : tokenFile !== undefined ? { bearerToken: () => file(tokenFile).trim() } : {}),
    ...(clientCertPem !== undefined && clientKeyPem !== undefined ? { clientCertPem, clientKeyPem } : {}),
    describe: `kubeconfig ${path} (context ${String(contextName)})`,
  };
}

const maxResponseBytes = 1024 * 1024;

/** GET a JSON document from the API server with the connection's credentials. */
export function getJson(connection: ClusterConnection, path: string, timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, connection.server + '/');
    const token = connection.bearerToken?.();
    const req = httpsRequest(
      url,
      {
        method: 'GET',
        // The API server serves the JWKS only as application/jwk-set+json (406 for plain JSON).
        headers: { accept: 'application/json, application/jwk-set+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(connection.caPem !== undefined ? { ca: connection.caPem } : {}),
        ...(connection.clientCertPem !== undefined ? { cert: connection.clientCertPem, key: connection.clientKeyPem } : {}),
        rejectUnauthorized: connection.insecureSkipTlsVerify !== true,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) req.destroy(new Error(`GET ${url.pathname}: response larger than ${maxResponseBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode} ${body.slice(0, 200)}`));
          try {
            resolve(JSON.parse(body));
          } catch {
            reject(new Error(`GET ${url.pathname}: response is not JSON`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Checks the shape of a JWKS document: {keys: [{kty, ...}]}. */
export function parseJwks(raw: unknown): JSONWebKeySet {
  const keys = (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'object' && k !== null && typeof (k as { kty?: unknown }).kty === 'string')) {
    throw new Error('JWKS document has no "keys" array of JWKs');
  }
  return { keys: keys as JSONWebKeySet['keys'] };
}

/** The issuer the API server puts into ServiceAccount tokens (--service-account-issuer). */
export async function discoverIssuer(connection: ClusterConnection): Promise<string> {
  const doc = (await getJson(connection, discoveryPath)) as { issuer?: unknown } | null;
  if (typeof doc?.issuer !== 'string' || doc.issuer === '') throw new Error(`${discoveryPath} has no issuer`);
  return doc.issuer;
}

/** Where verification gets its keys: `current()` for every token, `refresh()` when a `kid` is unknown. */
export interface KeySetSource {
  current(): Promise<JSONWebKeySet>;
  /** A fresh copy unless one was fetched (or tried) within the rate limit; then the cached one. */
  refresh(): Promise<JSONWebKeySet>;
}

export interface CachedKeySetOptions {
  fetchKeys: () => Promise<JSONWebKeySet>;
  /** Refetch on unknown kid (or after a failure) at most this often. */
  minRefreshIntervalMs?: number;
  /** Refetch on use once the cached set is this old (keys rotate rarely; tokens live ≥ 10 min). */
  maxAgeMs?: number;
  logger?: Logger;
  /** Monotonic milliseconds (tests pass a fake clock). */
  nowMs?: () => number;
}

export class KeySetUnavailableError extends Error {}

/** A cached key set with rate-limited refetching; a failed refetch keeps serving the last good set. */
export function createCachedKeySet(options: CachedKeySetOptions): KeySetSource & { fetchCount(): number } {
  const minRefreshIntervalMs = options.minRefreshIntervalMs ?? 10_000;
  const maxAgeMs = options.maxAgeMs ?? 5 * 60_000;
  const nowMs = options.nowMs ?? (() => performance.now());
  let cached: { keys: JSONWebKeySet; fetchedAtMs: number } | undefined;
  let lastAttemptMs = -Infinity;
  let lastError: unknown;
  let inFlight: Promise<JSONWebKeySet> | undefined;
  let fetches = 0;

  const fetchNow = (): Promise<JSONWebKeySet> => {
    inFlight ??= (async () => {
      lastAttemptMs = nowMs();
      fetches++;
      try {
        const keys = await options.fetchKeys();
        cached = { keys, fetchedAtMs: nowMs() };
        lastError = undefined;
        options.logger?.debug('fetched the cluster JWKS', { keys: keys.keys.length });
        return keys;
      } catch (err) {
        lastError = err;
        if (!cached) throw new KeySetUnavailableError(`cannot fetch the cluster's token signing keys: ${(err as Error).message}`);
        options.logger?.warn('cannot refresh the cluster JWKS; keeping the cached keys', { error: err });
        return cached.keys;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
  const rateLimited = () => nowMs() - lastAttemptMs < minRefreshIntervalMs;
  const cachedOrThrow = (): JSONWebKeySet => {
    if (cached) return cached.keys;
    throw new KeySetUnavailableError(`cannot fetch the cluster's token signing keys: ${(lastError as Error | undefined)?.message ?? 'not fetched yet'}`);
  };
  return {
    current: async () => {
      if (cached && nowMs() - cached.fetchedAtMs < maxAgeMs) return cached.keys;
      if (inFlight) return inFlight;
      return rateLimited() ? cachedOrThrow() : fetchNow();
    },
    refresh: async () => {
      if (inFlight) return inFlight;
      return rateLimited() ? cachedOrThrow() : fetchNow();
    },
    fetchCount: () => fetches,
  };
}

/** The API server's JWKS, fetched with the connection's credentials. */
export function clusterKeySet(connection: ClusterConnection, options: Omit<CachedKeySetOptions, 'fetchKeys'> = {}): KeySetSource & { fetchCount(): number } {
  return createCachedKeySet({ ...options, fetchKeys: async () => parseJwks(await getJson(connection, jwksPath)) });
}
