// `edot-ta webhook` as a process (from sources through tsx): it serves with the certificates in
// --cert-dir, and on SIGTERM fails /readyz while it keeps answering reviews for the shutdown
// delay, then exits 0.
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeCertFiles } from '../certs/bootstrap.js';
import { createWebhookCertificates } from '../certs/ca.js';
import { freePort, startProcess, waitFor } from '../test/harness/processes.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const podReview = readFileSync(join(root, 'test/fixtures/admission/pod-create-edot-daemon.json'), 'utf8');

function call(port: number, ca: string, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca, agent: false, headers: body ? { 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end(body);
  });
}

describe('edot-ta webhook process', () => {
  it('drains on SIGTERM: /readyz fails, reviews are still answered, then it exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edot-ta-webhook-cli-'));
    const certs = createWebhookCertificates({ service: 'edot-ta-webhook', namespace: 'edot-ta-system', ips: ['127.0.0.1'], validityDays: 1 });
    await writeCertFiles(join(dir, 'certs'), { serving: certs.serving, caBundlePem: certs.ca.certPem });
    const port = await freePort();
    const webhook = startProcess(
      'webhook',
      process.execPath,
      ['--import', 'tsx', join(root, 'cli/main.ts'), 'webhook', '--port', String(port), '--listen-address', '127.0.0.1', '--cert-dir', join(dir, 'certs'), '--native-sidecars', 'false', '--shutdown-delay-seconds', '3'],
      { logFile: join(dir, 'webhook.log'), cwd: root },
    );
    const ca = certs.ca.certPem;
    await waitFor('the webhook to be ready', async () => (await call(port, ca, 'GET', '/readyz')) === 200, { timeoutMs: 15_000, abortIf: webhook.exited, describe: () => webhook.tail() });
    expect(await call(port, ca, 'POST', '/mutate', podReview)).toBe(200);

    process.kill(webhook.pid, 'SIGTERM');
    await waitFor('/readyz to fail after SIGTERM', async () => (await call(port, ca, 'GET', '/readyz')) === 503, { timeoutMs: 5_000 });
    expect(await call(port, ca, 'POST', '/mutate', podReview)).toBe(200);
    expect(await webhook.exited).toBe(0);
    expect(webhook.tail()).toContain('"msg":"stopped"');
  });
});
