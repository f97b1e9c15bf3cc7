import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCA, createServingCert, type PemPair } from '../certs/ca.js';
import { createLogger } from '../common/log.js';
import { waitFor } from '../test/harness/processes.js';
import { loadCertPair, watchCertDir, type CertWatcher } from './tls-reload.js';

const ca = createCA({ validityDays: 1 });
const issue = () => createServingCert(ca, { service: 'edot-ta-webhook', namespace: 'edot-ta-system', ips: ['127.0.0.1'], validityDays: 1 });
const quiet = createLogger({}, () => undefined);

/** Lays out a directory the way the kubelet mounts a Secret: tls.* → ..data/tls.* and ..data → ..<timestamp>. */
function secretVolume(dir: string, pair: PemPair, generation: number): void {
  const versioned = join(dir, `..2026_11_25_10_00_0${generation}`);
  mkdirSync(versioned);
  writeFileSync(join(versioned, 'tls.crt'), pair.certPem);
  writeFileSync(join(versioned, 'tls.key'), pair.keyPem);
  symlinkSync(`..2026_11_25_10_00_0${generation}`, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data')); // the atomic swap
}

describe('cert-dir hot reload', () => {
  let dir = '';
  let watcher: CertWatcher | undefined;
  afterEach(() => {
    watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks up a Kubernetes Secret symlink swap of ..data without restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'edot-ta-certs-'));
    const first = issue();
    secretVolume(dir, first, 1);
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir, 'tls.key'));
    expect(await loadCertPair(dir)).toEqual(first);

    const applied: PemPair[] = [];
    watcher = watchCertDir({ dir, current: first, apply: (pair) => applied.push(pair), logger: quiet, debounceMs: 20 });
    const second = issue();
    secretVolume(dir, second, 2);
    await waitFor('the swapped certificate to be applied', () => applied.length > 0, { timeoutMs: 5_000 });
    expect(applied).toEqual([second]);
  });

  it('reloads files replaced in place, and keeps the current pair while the key does not match', async () => {
    dir = mkdtempSync(join(tmpdir(), 'edot-ta-certs-'));
    const first = issue();
    writeFileSync(join(dir, 'tls.crt'), first.certPem);
    writeFileSync(join(dir, 'tls.key'), first.keyPem);
    const applied: PemPair[] = [];
    const results: string[] = [];
    watcher = watchCertDir({ dir, current: first, apply: (pair) => applied.push(pair), logger: quiet, debounceMs: 20, onResult: (r) => results.push(r) });

    const second = issue();
    writeFileSync(join(dir, 'tls.crt'), second.certPem); // half-way: new cert, old key
    expect(await watcher.reload()).toBe(false);
    expect(applied).toEqual([]);
    expect(results).toContain('failure');

    writeFileSync(join(dir, 'tls.key'), second.keyPem);
    await waitFor('the completed pair to be applied', () => applied.length > 0, { timeoutMs: 5_000 });
    expect(applied).toEqual([second]);
    expect(await watcher.reload()).toBe(false); // same bytes again: nothing to do
  });

  it('names the problem when the directory holds no usable pair', async () => {
    dir = mkdtempSync(join(tmpdir(), 'edot-ta-certs-'));
    await expect(loadCertPair(dir)).rejects.toThrow(/cannot read tls\.crt \(ENOENT\) and tls\.key \(ENOENT\) in /);
    writeFileSync(join(dir, 'tls.crt'), issue().certPem);
    await expect(loadCertPair(dir)).rejects.toThrow(/cannot read tls\.key \(ENOENT\) in /);
    writeFileSync(join(dir, 'tls.crt'), 'not a certificate');
    writeFileSync(join(dir, 'tls.key'), issue().keyPem);
    await expect(loadCertPair(dir)).rejects.toThrow(/not a PEM certificate/);
  });
});
