// Child processes for the real-component harness (etcd, kube-apiserver, prometheus, sidecars).
// Every child is started through `setpriv --pdeathsig TERM`, so it dies with the process that
// started it even when that process is SIGKILLed: an interrupted test run leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines the process wrote, for error messages. */
  tail(lines?: number): string;
}

const havePdeathsig = existsSync('/usr/bin/setpriv');

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; resolvConf?: string },
): ManagedProcess {
  // A resolv.conf of its own (a test DNS server): a private mount namespace with the file bound
  // over /etc/resolv.conf, for processes that read it directly (Prometheus, Node's resolver).
  const [inner, innerArgs] = options.resolvConf
    ? ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', options.resolvConf, command, ...args]]
    : [command, args];
  const [file, argv] = havePdeathsig
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'TERM', '--', inner, ...innerArgs]]
    : [inner, innerArgs];
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(file, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
    child.once('error', () => resolve(null));
  });
  const pid = child.pid;
  return {
    name,
    pid,
    logFile: options.logFile,
    exited,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      log.end();
    },
    tail(lines = 20) {
      try {
        return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}

/** A TCP port that was free a moment ago on `host` (the kernel picks it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it returns true, failing with `describe()` after `timeoutMs`.
 * Used instead of sleeps: tests wait for a condition, never for a fixed time.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string; abortIf?: Promise<unknown> } = {},
): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  let aborted = false;
  let lastError: unknown;
  void options.abortIf?.then(() => (aborted = true));
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (aborted || Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const details = options.describe ? `\n${options.describe()}` : '';
      throw new Error(`${aborted ? 'gave up' : 'timed out'} waiting for ${what}${cause}${details}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
