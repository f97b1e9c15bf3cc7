// An interrupted test run must leave no etcd, kube-apiserver or prometheus behind:
// Ctrl-C (SIGINT to the whole process group, as a terminal sends it) and a hard SIGKILL of
// the process that started them (children die through their parent-death signal).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/processes.js';

interface Started {
  pids: Record<string, number>;
}

async function startClusterProcess(): Promise<{ pid: number; started: Started; exited: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/harness/run-cluster.ts', '--with-prometheus'], {
    detached: true, // its own process group, like a terminal job
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const firstLine = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`run-cluster exited early with ${code}`)));
  });
  return { pid: child.pid!, started: JSON.parse(firstLine) as Started, exited };
}

function alive(pid: number): boolean {
  const statusFile = `/proc/${pid}/status`;
  if (!existsSync(statusFile)) return false;
  // A zombie waiting for its reaper is gone for our purposes.
  return !/^State:\s+Z/m.test(readFileSync(statusFile, 'utf8'));
}

describe('harness cleanup', () => {
  it('leaves no etcd, apiserver or prometheus after Ctrl-C', async () => {
    const { pid, started, exited } = await startClusterProcess();
    const children = Object.values(started.pids);
    expect(children).toHaveLength(3);
    expect(children.every(alive)).toBe(true);
    process.kill(-pid, 'SIGINT');
    await exited;
    await waitFor('children to exit after SIGINT', () => children.every((p) => !alive(p)), { timeoutMs: 15_000 });
  });

  it('leaves no etcd, apiserver or prometheus after the test process is SIGKILLed', async () => {
    const { pid, started, exited } = await startClusterProcess();
    const children = Object.values(started.pids);
    expect(children.every(alive)).toBe(true);
    process.kill(pid, 'SIGKILL'); // only the parent: nothing gets a chance to clean up
    await exited;
    await waitFor('children to exit after their parent was killed', () => children.every((p) => !alive(p)), { timeoutMs: 15_000 });
  });
});
