import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { certificateInfo, createCA, createServingCert, createWebhookCertificates, needsRenewal, randomSerialHex, signedBy, validateKeyPair } from './ca.js';

describe('webhook certificates', () => {
  const certs = createWebhookCertificates({ service: 'edot-ta-webhook', namespace: 'edot-ta-system', ips: ['127.0.0.1'], validityDays: 30 });

  it('issues a serving certificate for every DNS form of the Service plus the requested IPs', () => {
    const x509 = new X509Certificate(certs.serving.certPem);
    expect(x509.subjectAltName?.split(', ')).toEqual([
      'DNS:edot-ta-webhook',
      'DNS:edot-ta-webhook.edot-ta-system',
      'DNS:edot-ta-webhook.edot-ta-system.svc',
      'DNS:edot-ta-webhook.edot-ta-system.svc.cluster.local',
      'IP Address:127.0.0.1',
    ]);
    expect(x509.checkHost('edot-ta-webhook.edot-ta-system.svc')).toBe('edot-ta-webhook.edot-ta-system.svc');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth EKU
    expect(signedBy(certs.serving.certPem, certs.ca.certPem)).toBe(true);
  });

  it('makes a CA certificate with RSA 2048 keys', () => {
    const ca = new X509Certificate(certs.ca.certPem);
    expect(ca.ca).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(new X509Certificate(certs.serving.certPem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('uses random positive serial numbers', () => {
    const serials = new Set(Array.from({ length: 50 }, () => randomSerialHex()));
    expect(serials.size).toBe(50);
    for (const serial of serials) expect(parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);
    expect(certificateInfo(certs.ca.certPem).serialHex).not.toBe(certificateInfo(certs.serving.certPem).serialHex);
  });

  it('is accepted by a TLS client that trusts only the generated CA', async () => {
    const server = createServer({ cert: certs.serving.certPem, key: certs.serving.keyPem, minVersion: 'TLSv1.2' }, (socket) => socket.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: certs.ca.certPem, servername: 'edot-ta-webhook.edot-ta-system.svc' }, () => {
          socket.once('data', (data) => resolve(data.toString()));
        });
        socket.once('error', reject);
      });
      expect(reply).toBe('ok');
    } finally {
      server.close();
    }
  });

  it('validates that the key belongs to the certificate', () => {
    expect(() => validateKeyPair(certs.serving)).not.toThrow();
    expect(() => validateKeyPair({ certPem: certs.serving.certPem, keyPem: certs.ca.keyPem })).toThrow(/does not belong/);
    expect(() => validateKeyPair({ certPem: 'garbage', keyPem: certs.ca.keyPem })).toThrow(/not a PEM certificate/);
  });

  it('asks for renewal once less than a third of the lifetime is left', () => {
    const issued = new Date('2026-01-01T00:00:00Z');
    const ca = createCA({ validityDays: 30, now: issued });
    const cert = createServingCert(ca, { service: 's', namespace: 'n', validityDays: 30, now: issued });
    expect(needsRenewal(cert.certPem, new Date('2026-01-15T00:00:00Z'))).toBe(false);
    expect(needsRenewal(cert.certPem, new Date('2026-01-22T00:00:00Z'))).toBe(true);
    expect(needsRenewal('not a cert')).toBe(true);
  });

  it('rejects a service name that is not a DNS label and a bad IP', () => {
    expect(() => createServingCert(certs.ca, { service: 'Bad_Name', namespace: 'n', validityDays: 1 })).toThrow(/DNS label/);
    expect(() => createServingCert(certs.ca, { service: 's', namespace: 'n', ips: ['not-an-ip'], validityDays: 1 })).toThrow(/not an IP/);
  });
});
