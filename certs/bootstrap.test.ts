import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { issue, readStoredCertificates, writeCertFiles, type BootstrapOptions } from './bootstrap.js';
import { certificateInfo, signedBy } from './ca.js';

const options: BootstrapOptions = { secretNamespace: 'edot-ta-system', secretName: 'edot-ta-webhook-tls', service: 'edot-ta-webhook', serviceNamespace: 'edot-ta-system', validityDays: 30, caValidityDays: 90 };
const at = (iso: string) => ({ ...options, now: () => new Date(iso) });
const asSecret = (stored: ReturnType<typeof issue>): V1Secret => ({
  data: {
    'tls.crt': Buffer.from(stored.serving.certPem).toString('base64'),
    'tls.key': Buffer.from(stored.serving.keyPem).toString('base64'),
    'ca.crt': Buffer.from(stored.caBundlePem).toString('base64'),
    'ca.key': Buffer.from(stored.ca.keyPem).toString('base64'),
  },
});

describe('certificate bootstrap (pure parts)', () => {
  const first = issue(at('2026-01-01T00:00:00Z'), undefined);

  it('round-trips through the Secret data and rejects a Secret whose parts do not fit together', () => {
    expect(readStoredCertificates(asSecret(first))).toEqual(first);
    const other = issue(options, undefined);
    const mixed = asSecret(first);
    mixed.data!['tls.key'] = Buffer.from(other.serving.keyPem).toString('base64');
    expect(readStoredCertificates(mixed)).toBeUndefined();
    const foreignCA = asSecret(first);
    foreignCA.data!['ca.crt'] = Buffer.from(other.ca.certPem).toString('base64');
    foreignCA.data!['ca.key'] = Buffer.from(other.ca.keyPem).toString('base64');
    expect(readStoredCertificates(foreignCA)).toBeUndefined(); // serving cert not signed by the stored CA
    expect(readStoredCertificates({ data: {} })).toBeUndefined();
  });

  it('renews the serving certificate from the same CA while the CA has time left (caBundle unchanged)', () => {
    const renewed = issue(at('2026-01-25T00:00:00Z'), first);
    expect(renewed.ca).toEqual(first.ca);
    expect(renewed.caBundlePem).toBe(first.caBundlePem);
    expect(certificateInfo(renewed.serving.certPem).serialHex).not.toBe(certificateInfo(first.serving.certPem).serialHex);
    expect(signedBy(renewed.serving.certPem, first.ca.certPem)).toBe(true);
  });

  it('rotates the CA near its expiry and keeps trusting the old CA in the bundle until it expires', () => {
    const rotated = issue(at('2026-03-10T00:00:00Z'), first); // 22 of 90 days left: CA due
    expect(rotated.ca.certPem).not.toBe(first.ca.certPem);
    expect(rotated.caBundlePem).toBe(rotated.ca.certPem + first.ca.certPem);
    expect(signedBy(rotated.serving.certPem, rotated.ca.certPem)).toBe(true);
    const afterOldExpired = issue(at('2026-04-10T00:00:00Z'), first);
    expect(afterOldExpired.caBundlePem).toBe(afterOldExpired.ca.certPem);
  });

  it('writes the files for the server with a private key only the owner can read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edot-ta-bootstrap-'));
    await writeCertFiles(dir, { serving: first.serving, caBundlePem: first.caBundlePem });
    expect(readFileSync(join(dir, 'tls.crt'), 'utf8')).toBe(first.serving.certPem);
    expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).toBe(first.caBundlePem);
    expect(statSync(join(dir, 'tls.key')).mode & 0o777).toBe(0o600);
  });
});
