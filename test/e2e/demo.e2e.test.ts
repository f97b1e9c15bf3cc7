// The demo is the product end to end: the real webhook injects an unchanged EDOT DaemonSet on
// the real apiserver, the render steps and sidecars run from the stored pod specs, the
// sidecars share the targets through Leases, and one real collector per pod scrapes.
// It starts its own cluster (it is what `npm run demo` runs on a fresh machine).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);

describe('npm run demo', () => {
  it('scrapes every Istio gateway and the static job exactly once, node-local where a collector runs', async () => {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'test/demo/main.ts', '--no-wait'], {
      env: { ...process.env, CI: 'true' },
      timeout: 240_000,
      maxBuffer: 8 << 20,
    });
    expect(stdout).toContain('Every target is scraped by exactly one collector');
    const rows = [...stdout.matchAll(/^ {2}(127\.0\.0\.\d+:\d+)\s+(\S+)\s+(.+)$/gm)].map(([, target, node, by]) => ({ target, node, by: by!.trim() }));
    expect(rows).toHaveLength(9);
    for (const row of rows) {
      expect(row.by).toMatch(/^edot-collector-node-[abc]$/); // one collector, not "a, b"
      if (['node-a', 'node-b', 'node-c'].includes(row.node!)) expect(row.by).toBe(`edot-collector-${row.node}`);
    }
    // The status annotation the user sees in kubectl describe was printed from the stored pod.
    expect(stdout).toMatch(/"initContainers": \[\s*"edot-ta-render"\s*\]/);
  });
});
