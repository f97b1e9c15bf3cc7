// The sidecar's whole conversation with the API server: JSON requests and line-delimited watch
// streams over node:https with the credentials of a KubeConnection (kubeconfig.ts: KUBECONFIG or in-cluster).
// Kept tiny and typed at the edge; informers and event writers build on it.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConnection } from './kubeconfig.js';

export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface KubeClient {
  /** GET/POST/PATCH with a JSON body; rejects with KubeApiError on a non-2xx answer. */
  requestJson(method: string, path: string, options?: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; timeoutMs?: number; accept?: string }): Promise<unknown>;
  /**
   * Opens a watch stream; `onLine` gets each parsed JSON line. Resolves when the stream ends.
   * `accept` asks for another representation (e.g. PartialObjectMetadata: names and labels only).
   */
  watch(path: string, query: Record<string, string | undefined>, onLine: (event: unknown) => void, signal: AbortSignal, accept?: string): Promise<void>;
  readonly server: string;
}

export function createKubeClient(connection: KubeConnection): KubeClient {
  const { server } = connection;

  async function open(method: string, path: string, query: Record<string, string | undefined>, headers: Record<string, string>, signal?: AbortSignal, body?: string): Promise<IncomingMessage> {
    const url = new URL(server + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
    const options: RequestOptions & { headers: Record<string, string> } = { method, headers: {} };
    // Re-applied per request: in-cluster tokens are rotated on disk.
    await connection.apply(options);
    Object.assign(options.headers, headers);
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { ...options, signal }, resolve);
      req.once('error', reject);
      req.end(body);
    });
  }

  async function readAll(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  function apiError(status: number, text: string, path: string): KubeApiError {
    let message = text.slice(0, 300);
    let reason: string | undefined;
    try {
      const parsed = JSON.parse(text) as { message?: string; reason?: string };
      message = parsed.message ?? message;
      reason = parsed.reason;
    } catch {
      // not a Status object: keep the text
    }
    return new KubeApiError(`${path}: ${status} ${message}`, status, reason);
  }

  return {
    server,
    async requestJson(method, path, options = {}) {
      const body = options.body === undefined ? undefined : JSON.stringify(options.body);
      const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
      if (body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
      const signal = AbortSignal.timeout(options.timeoutMs ?? 30_000);
      const res = await open(method, path, options.query ?? {}, headers, signal, body);
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw apiError(status, text, path);
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    },
    async watch(path, query, onLine, signal, accept) {
      const res = await open('GET', path, { ...query, watch: 'true' }, { Accept: accept ?? 'application/json' }, signal);
      const status = res.statusCode ?? 0;
      if (status !== 200) throw apiError(status, await readAll(res), path);
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      try {
        for await (const line of lines) {
          if (line.trim() === '') continue;
          onLine(JSON.parse(line) as unknown);
        }
      } finally {
        res.destroy();
      }
    },
  };
}
