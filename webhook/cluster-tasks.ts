// The webhook's few API server calls (server version at start; certificate bootstrap and renewal)
// run in a short-lived child process: @kubernetes/client-node adds ~70 MiB RSS to whatever loads
// it, and the serving process must stay small. Request in on stdin (JSON), result out on the
// last stdout line (JSON), logs on stderr (inherited: same stream as the webhook's).
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bootstrapCertificates, writeCertFiles, type BootstrapOptions } from '../certs/bootstrap.js';
import { certificateInfo } from '../certs/ca.js';
import { createLogger } from '../common/log.js';

export type ClusterTask =
  | { task: 'version' }
  | { task: 'bootstrap'; options: Omit<BootstrapOptions, 'now'>; certDir: string };

export type ClusterTaskResult =
  | { task: 'version'; major: number; minor: number; gitVersion: string }
  | { task: 'bootstrap'; secretAction: string; caBundlePatched: boolean; serial: string };

const here = fileURLToPath(import.meta.url);

/** Runs one task in a child process; rejects with the child's error message. */
export function runClusterTask<T extends ClusterTask>(request: T, options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Extract<ClusterTaskResult, { task: T['task'] }>> {
  return new Promise((resolve, reject) => {
    // From sources (tsx, vitest) the child needs a TypeScript loader; from dist/ it is plain node.
    const loader = here.endsWith('.ts') && !process.execArgv.some((arg) => arg.includes('tsx')) ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...process.execArgv, ...loader, here], { stdio: ['pipe', 'pipe', 'inherit'], ...(options.env ? { env: options.env } : {}) });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      let reply: { ok?: ClusterTaskResult; error?: string } = {};
      try {
        reply = JSON.parse(last) as typeof reply;
      } catch {
        reply = { error: `cluster task ${request.task} exited with ${signal ?? code} and no answer` };
      }
      if (code === 0 && reply.ok && reply.ok.task === request.task) resolve(reply.ok as Extract<ClusterTaskResult, { task: T['task'] }>);
      else reject(new Error(reply.error ?? `cluster task ${request.task} failed (exit ${signal ?? code})`));
    });
    child.stdin.end(JSON.stringify(request));
  });
}

async function perform(request: ClusterTask): Promise<ClusterTaskResult> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  if (request.task === 'version') {
    const info = await kc.makeApiClient(k8s.VersionApi).getCode();
    return { task: 'version', major: parseInt(info.major, 10), minor: parseInt(info.minor, 10), gitVersion: info.gitVersion };
  }
  const logger = createLogger({ component: 'webhook', task: 'bootstrap' });
  const result = await bootstrapCertificates({ core: kc.makeApiClient(k8s.CoreV1Api), admission: kc.makeApiClient(k8s.AdmissionregistrationV1Api) }, request.options, logger);
  await writeCertFiles(request.certDir, { serving: result.certificates.serving, caBundlePem: result.certificates.caBundlePem });
  return { task: 'bootstrap', secretAction: result.secretAction, caBundlePatched: result.caBundlePatched, serial: certificateInfo(result.certificates.serving.certPem).serialHex };
}

async function childMain(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  try {
    const ok = await perform(JSON.parse(input) as ClusterTask);
    process.stdout.write(JSON.stringify({ ok }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }) + '\n');
    process.exitCode = 1;
  }
}

const invoked = process.argv[1];
if (invoked !== undefined && realpathSync(invoked) === realpathSync(here)) void childMain();
