// The readiness script runs for real: plain node against a local HTTP server, as the kubelet
// would run the postStart hook / startup probe inside the sidecar container.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readinessScript } from './sidecar-containers.js';

const run = promisify(execFile);
const check = async (url: string, graceMs: number, mode: 'wait' | 'probe') => {
  const started = Date.now();
  try {
    const { stdout } = await run(process.execPath, ['-e', readinessScript, url, String(graceMs), mode], { timeout: 15_000 });
    return { code: 0, stdout, ms: Date.now() - started };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', ms: Date.now() - started };
  }
};

describe('sidecar readiness script', () => {
  let server: Server;
  let base = '';
  let readyAfterMs = 0;
  let startedAt = Date.now();
  beforeAll(async () => {
    server = createServer((req, res) => {
      const ready = req.url === '/readyz' && Date.now() - startedAt >= readyAfterMs;
      res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'not ready');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('wait: returns as soon as /readyz answers 200', async () => {
    readyAfterMs = 1200;
    startedAt = Date.now();
    const result = await check(`${base}/readyz`, 10_000, 'wait');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.ms).toBeLessThan(8000);
  });

  it('wait: gives up after the grace period with exit 0 and a message (never hangs the pod)', async () => {
    readyAfterMs = 1e9;
    const result = await check(`${base}/readyz`, 1500, 'wait');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/not ready after 1500 ms/);
  });

  it('wait: survives a refused connection (sidecar not listening yet)', async () => {
    const result = await check('http://127.0.0.1:1/readyz', 800, 'wait');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/letting the collector start/);
  });

  it('probe: 0 when ready, 1 while not ready within the grace period', async () => {
    readyAfterMs = 0;
    expect((await check(`${base}/readyz`, 1e9, 'probe')).code).toBe(0);
    readyAfterMs = 1e9;
    expect((await check(`${base}/readyz`, 1e12, 'probe')).code).toBe(1);
  });

  it('probe: fails open once PID 1 has been up longer than the grace period', async () => {
    readyAfterMs = 1e9;
    // PID 1 of this machine has been up for more than 1 ms.
    const result = await check(`${base}/readyz`, 1, 'probe');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/letting the collector start/);
  });
});
