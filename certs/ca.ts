// The webhook's own PKI: a self-signed CA and a serving certificate for the webhook Service.
// Pure (PEM in, PEM out); keys come from Node's crypto (OpenSSL) because node-forge's
// JavaScript RSA keygen takes seconds, and node-forge only builds and signs the certificates.
import { generateKeyPairSync, randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface WebhookCertificates {
  ca: PemPair;
  serving: PemPair;
}

export interface ServingCertRequest {
  /** Service name: the SANs are svc, svc.ns, svc.ns.svc, svc.ns.svc.cluster.local. */
  service: string;
  namespace: string;
  /** Extra IP SANs (e.g. 127.0.0.1 for a webhook reached by URL on loopback). */
  ips?: string[];
  /** Extra DNS SANs. */
  dnsNames?: string[];
  validityDays: number;
  now?: Date;
}

export const rsaModulusBits = 2048;
/** Certificates start a little in the past: nodes with a slow clock must accept them at once. */
const backdateMs = 5 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;

export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

function generateRsaKey(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: rsaModulusBits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    keyPem: privateKey,
  };
}

/** 128 random bits, high bit cleared (DER INTEGER stays positive), never a leading zero byte. */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, validityDays: number, now: Date): void {
  cert.validity.notBefore = new Date(now.getTime() - backdateMs);
  cert.validity.notAfter = new Date(now.getTime() + validityDays * dayMs);
}

export function createCA(options: { commonName?: string; validityDays: number; now?: Date }): PemPair {
  const { publicKey, privateKey, keyPem } = generateRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  validity(cert, options.validityDays, options.now ?? new Date());
  const subject = [{ name: 'commonName', value: options.commonName ?? 'edot-ta-webhook-ca' }, { name: 'organizationName', value: 'edot-ta' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export function createServingCert(ca: PemPair, request: ServingCertRequest): PemPair {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(request.service)) throw new Error(`service name "${request.service}" is not a DNS label`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(request.namespace)) throw new Error(`namespace "${request.namespace}" is not a DNS label`);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const dnsNames = [...serviceDnsNames(request.service, request.namespace), ...(request.dnsNames ?? [])];
  const altNames = [
    ...dnsNames.map((value) => ({ type: 2, value })),
    ...(request.ips ?? []).map((ip) => {
      if (isIP(ip) === 0) throw new Error(`--ip "${ip}" is not an IP address`);
      return { type: 7, ip };
    }),
  ];
  const { publicKey, keyPem } = generateRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  validity(cert, request.validityDays, request.now ?? new Date());
  cert.setSubject([{ name: 'commonName', value: dnsNames[2]! }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A fresh CA and a serving certificate signed by it. */
export function createWebhookCertificates(request: ServingCertRequest & { caValidityDays?: number }): WebhookCertificates {
  const ca = createCA({ validityDays: request.caValidityDays ?? request.validityDays, ...(request.now ? { now: request.now } : {}) });
  return { ca, serving: createServingCert(ca, request) };
}

export interface CertificateInfo {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  subjectAltName: string;
}

export function certificateInfo(certPem: string): CertificateInfo {
  const x509 = new X509Certificate(certPem);
  return {
    serialHex: x509.serialNumber.toLowerCase(),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    subjectAltName: x509.subjectAltName ?? '',
  };
}

/** True when less than `fraction` of the certificate's lifetime is left (or it is unreadable). */
export function needsRenewal(certPem: string, now: Date = new Date(), fraction = 1 / 3): boolean {
  try {
    const { notBefore, notAfter } = certificateInfo(certPem);
    const lifetimeMs = notAfter.getTime() - notBefore.getTime();
    return notAfter.getTime() - now.getTime() < lifetimeMs * fraction;
  } catch {
    return true;
  }
}

/** Throws a clear error unless certPem is a certificate and keyPem its private key. */
export function validateKeyPair(pair: PemPair): void {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pair.certPem);
  } catch (err) {
    throw new Error(`tls.crt is not a PEM certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
  let key;
  try {
    key = createPrivateKey(pair.keyPem);
  } catch (err) {
    throw new Error(`tls.key is not a PEM private key: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!x509.checkPrivateKey(key)) throw new Error('tls.key does not belong to tls.crt');
}

/** True when `certPem` was signed by the CA in `caPem`. */
export function signedBy(certPem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
}
