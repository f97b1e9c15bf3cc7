import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClusterTask } from './cluster-tasks.js';

describe('cluster tasks in a child process', () => {
  it('rejects with the child\'s error when the API server cannot be reached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edot-ta-cluster-task-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'gone', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'c', context: { cluster: 'gone', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    await expect(runClusterTask({ task: 'version' }, { timeoutMs: 50_000, env: { ...process.env, KUBECONFIG: kubeconfig } })).rejects.toThrow(/ECONNREFUSED|connect/);
  }, 60_000); // a child loading client-node is slow on a busy machine; normally ~4 s
});
