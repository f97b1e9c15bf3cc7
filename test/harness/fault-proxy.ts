// An HTTPS proxy in front of the real API server that injects the faults a client must survive:
// 429 with Retry-After, 5xx, requests that never get an answer (timeouts), watches that go
// silent after their headers, watches that end in 410 Gone, and 409 conflicts on writes. The
// client talks to the proxy (its own serving certificate, any token); the proxy forwards to the
// API server with the admin token and streams the answers (watches included). Faults are rules
// the test sets and clears while the client runs.
import { readFileSync } from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWebhookCertificates } from '../../certs/ca.js';

export type Fault =
  | { kind: 'status'; code: number; retryAfterSeconds?: number }
  | { kind: 'hang' }
  | { kind: 'silent-watch' }
  | { kind: 'gone-watch' };

export interface FaultRule {
  /** Which requests: method and a path test. */
  method?: string;
  path: RegExp;
  fault: Fault;
}

export class FaultProxy {
  readonly caPem: string;
  rules: FaultRule[] = [];
  /** Requests answered with a fault, by fault kind. */
  readonly injected: Record<string, number> = {};
  private readonly open = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    caPem: string,
  ) {
    this.caPem = caPem;
  }

  /** Without `token`, the client's own credentials (its Authorization header) are passed on. */
  static async start(upstream: { server: string; caFile: string; token?: string }): Promise<FaultProxy> {
    const certs = createWebhookCertificates({ service: 'fault-proxy', namespace: 'test', ips: ['127.0.0.1'], validityDays: 1 });
    const target = new URL(upstream.server);
    const ca = readFileSync(upstream.caFile);
    let proxy: FaultProxy | undefined;
    const server = createServer({ cert: certs.serving.certPem, key: certs.serving.keyPem }, (req: IncomingMessage, res: ServerResponse) => {
      const self = proxy!;
      self.open.add(res);
      res.on('close', () => self.open.delete(res));
      const url = req.url ?? '/';
      const isWatch = /[?&]watch=(1|true)/.test(url);
      const rule = self.rules.find((r) => (!r.method || r.method === req.method) && r.path.test(url) && (r.fault.kind === 'status' || r.fault.kind === 'hang' || isWatch));
      if (rule) {
        self.injected[rule.fault.kind] = (self.injected[rule.fault.kind] ?? 0) + 1;
        const fault = rule.fault;
        if (fault.kind === 'hang') return; // never answered: the client's timeout must fire
        if (fault.kind === 'status') {
          req.resume();
          res.writeHead(fault.code, { 'Content-Type': 'application/json', ...(fault.retryAfterSeconds ? { 'Retry-After': String(fault.retryAfterSeconds) } : {}) });
          res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: fault.code, reason: fault.code === 409 ? 'Conflict' : fault.code === 429 ? 'TooManyRequests' : 'InternalError', message: `injected ${fault.code}` }));
          return;
        }
        if (fault.kind === 'silent-watch') {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
          res.flushHeaders();
          return; // headers, then nothing: the watchdog must notice
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'injected: too old resource version' } })}\n`);
        return;
      }
      const headers = { ...req.headers, host: target.host, ...(upstream.token ? { authorization: `Bearer ${upstream.token}` } : {}) };
      const forward = httpsRequest({ host: target.hostname, port: target.port, path: url, method: req.method, headers, ca }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.destroy());
      res.on('close', () => forward.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new FaultProxy(server, `https://127.0.0.1:${(server.address() as { port: number }).port}`, certs.ca.certPem);
    return proxy;
  }

  /** Sets the rules and ends open streams, so watches reconnect under them. */
  set(rules: FaultRule[]): void {
    this.rules = rules;
    for (const res of this.open) res.destroy();
  }

  clear(): void {
    this.set([]);
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
