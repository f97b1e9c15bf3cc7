// http_sd_configs as Prometheus runs them: GET the url with the entry's HTTP client settings
// (basic auth, authorization, TLS, redirects), a 200 with a JSON content type and a list of
// target groups is the answer; each group gets `__meta_url` and the source `<url>:<index>`.
// Any failure keeps the previous groups. The request times out after the refresh interval.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { HttpSdSpec, Refresh } from './refresh-sd.js';
import { decodeTargetGroups } from './refresh-sd.js';
import type { TargetGroup } from './types.js';

const jsonContentType = /^application\/json(;\s*charset=("utf-8"|utf-8))?$/i;
const tlsVersions: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const maxRedirects = 10;
const maxBodyBytes = 64 * 1024 * 1024;

type Section = Record<string, unknown> | undefined;
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const fileOr = (inline: unknown, file: unknown): string | undefined => text(inline) ?? (text(file) ? readFileSync(file as string, 'utf8').trim() : undefined);

/** The Authorization header the client settings ask for, read now (credential files may rotate). */
export function authorizationHeader(client: Record<string, unknown>): string | undefined {
  const basic = client.basic_auth as Section;
  if (basic) {
    const password = fileOr(basic.password, basic.password_file) ?? '';
    return `Basic ${Buffer.from(`${String(basic.username ?? '')}:${password}`).toString('base64')}`;
  }
  const authorization = client.authorization as Section;
  if (authorization) {
    const credentials = fileOr(authorization.credentials, authorization.credentials_file);
    return `${text(authorization.type) ?? 'Bearer'}${credentials ? ` ${credentials}` : ''}`;
  }
  const bearer = fileOr(client.bearer_token, client.bearer_token_file);
  return bearer ? `Bearer ${bearer}` : undefined;
}

function tlsOptions(client: Record<string, unknown>): https.RequestOptions {
  const tls = (client.tls_config ?? {}) as Record<string, unknown>;
  const options: https.RequestOptions = {};
  const ca = fileOr(tls.ca, tls.ca_file);
  if (ca) options.ca = ca;
  const cert = fileOr(tls.cert, tls.cert_file);
  const key = fileOr(tls.key, tls.key_file);
  if (cert) options.cert = cert;
  if (key) options.key = key;
  if (text(tls.server_name)) options.servername = tls.server_name as string;
  if (tls.insecure_skip_verify === true) options.rejectUnauthorized = false;
  const min = tlsVersions[String(tls.min_version ?? '')];
  options.minVersion = min ?? 'TLSv1.2';
  const max = tlsVersions[String(tls.max_version ?? '')];
  if (max) options.maxVersion = max;
  return options;
}

interface Response {
  status: number;
  statusText: string;
  contentType: string;
  body: string;
}

function get(url: URL, client: Record<string, unknown>, timeoutMs: number, refreshSeconds: string, redirects = 0): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'edot-ta', 'X-Prometheus-Refresh-Interval-Seconds': refreshSeconds };
    const auth = authorizationHeader(client);
    if (auth) headers.Authorization = auth;
    const secure = url.protocol === 'https:';
    const request = (secure ? https : http).request(url, { method: 'GET', headers, timeout: timeoutMs, ...(secure ? tlsOptions(client) : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location && client.follow_redirects !== false) {
        res.resume();
        if (redirects >= maxRedirects) return reject(new Error(`stopped after ${maxRedirects} redirects`));
        return resolve(get(new URL(location, url), client, timeoutMs, refreshSeconds, redirects + 1));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) request.destroy(new Error(`answer larger than ${maxBodyBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status, statusText: res.statusMessage ?? '', contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}

/** The refresh for one http_sd_configs entry: throws (keeping the previous groups) on any failure. */
export function httpSdRefresh(spec: HttpSdSpec): Refresh {
  const url = new URL(spec.url);
  const refreshSeconds = String(spec.refreshMs / 1000);
  return async () => {
    const res = await get(url, spec.client, spec.refreshMs, refreshSeconds);
    if (res.status !== 200) throw new Error(`server returned HTTP status ${res.status} ${res.statusText}`.trim());
    if (!jsonContentType.test(res.contentType.trim())) throw new Error(`unsupported content type "${res.contentType}"`);
    let value: unknown;
    try {
      value = JSON.parse(res.body);
    } catch (err) {
      throw new Error(`answer is not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const decoded = decodeTargetGroups(value, (i) => `${spec.url}:${i}`, { __meta_url: spec.url }, false);
    const groups = new Map<string, TargetGroup>(decoded.map((g) => [g.source, g]));
    return { groups, errors: [] };
  };
}
