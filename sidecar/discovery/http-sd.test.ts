// http_sd against a real HTTP server on loopback: the answer Prometheus accepts, the ones it
// refuses (status, content type, body), auth headers and redirects.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationHeader, httpSdRefresh } from './http-sd.js';
import { parseRefreshSd, type HttpSdSpec } from './refresh-sd.js';

describe('http_sd on a real HTTP server', () => {
  let server: Server;
  let base = '';
  let answer: { status: number; type: string; body: string } = { status: 200, type: 'application/json', body: '[]' };
  const requests: IncomingMessage[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req);
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/targets' }).end();
        return;
      }
      res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const refresh = (entry: Record<string, unknown>) => httpSdRefresh(parseRefreshSd('http', { url: `${base}/targets`, refresh_interval: '5s', ...entry }) as HttpSdSpec)(new Map());

  it('serves the groups with __meta_url, sources <url>:<index>, and tells the server the refresh interval', async () => {
    answer = { status: 200, type: 'application/json; charset=utf-8', body: JSON.stringify([{ targets: ['10.0.0.1:9100'], labels: { team: 'shop' } }, { targets: ['10.0.0.2:9100'] }]) };
    const { groups } = await refresh({});
    expect([...groups.values()]).toEqual([
      { source: `${base}/targets:0`, targets: [{ __address__: '10.0.0.1:9100' }], labels: { team: 'shop', __meta_url: `${base}/targets` } },
      { source: `${base}/targets:1`, targets: [{ __address__: '10.0.0.2:9100' }], labels: { __meta_url: `${base}/targets` } },
    ]);
    expect(requests.at(-1)?.headers['x-prometheus-refresh-interval-seconds']).toBe('5');
    expect(requests.at(-1)?.headers.accept).toBe('application/json');
  });

  it.each([
    [{ status: 503, type: 'application/json', body: '[]' }, /server returned HTTP status 503/],
    [{ status: 200, type: 'text/plain', body: '[]' }, /unsupported content type "text\/plain"/],
    [{ status: 200, type: 'application/json', body: '[{"targets": ["a:1"]' }, /answer is not JSON/],
    [{ status: 200, type: 'application/json', body: '[null]' }, /nil target group item found/],
  ])('refuses %j (the loop keeps the previous groups)', async (given, message) => {
    answer = given;
    await expect(refresh({})).rejects.toThrow(message);
  });

  it('sends basic auth with the password read from its file, and follows redirects unless told not to', async () => {
    answer = { status: 200, type: 'application/json', body: '[]' };
    const dir = mkdtempSync(join(tmpdir(), 'edot-ta-http-sd-'));
    writeFileSync(join(dir, 'password'), 's3cret\n');
    await httpSdRefresh(parseRefreshSd('http', { url: `${base}/moved`, basic_auth: { username: 'prom', password_file: join(dir, 'password') } }) as HttpSdSpec)(new Map());
    expect(requests.at(-1)?.url).toBe('/targets');
    expect(requests.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from('prom:s3cret').toString('base64')}`);
    await expect(httpSdRefresh(parseRefreshSd('http', { url: `${base}/moved`, follow_redirects: false }) as HttpSdSpec)(new Map())).rejects.toThrow(/HTTP status 302/);
  });

  it('builds the Authorization header as Prometheus does', () => {
    expect(authorizationHeader({ authorization: { credentials: 'tok' } })).toBe('Bearer tok');
    expect(authorizationHeader({ authorization: { type: 'Token', credentials: 'tok' } })).toBe('Token tok');
    expect(authorizationHeader({ bearer_token: 'tok' })).toBe('Bearer tok');
    expect(authorizationHeader({})).toBeUndefined();
  });
});
