// In-cluster certificate bootstrap: the webhook's CA and serving certificate live in one Secret.
// Every replica runs this at start and periodically: create the Secret if absent (a 409 means
// another replica won the race: read and use its certificate), renew before expiry with an
// optimistic update (resourceVersion), patch caBundle into the MutatingWebhookConfiguration,
// and write tls.crt/tls.key for the server (tls-reload.ts picks up changes).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdmissionregistrationV1Api, CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../common/log.js';
import { createCA, createServingCert, needsRenewal, signedBy, validateKeyPair, type PemPair } from './ca.js';

export interface BootstrapOptions {
  secretNamespace: string;
  secretName: string;
  service: string;
  serviceNamespace: string;
  /** MutatingWebhookConfiguration whose webhooks get the caBundle (all of its webhooks). */
  webhookConfig?: string;
  ips?: string[];
  validityDays: number;
  caValidityDays: number;
  /** Renew when less than this share of the lifetime is left. */
  renewFraction?: number;
  now?: () => Date;
}

/** What the Secret holds: the serving pair plus the CA (ca.crt may hold the previous CA during a CA rotation). */
export interface StoredCertificates {
  serving: PemPair;
  caBundlePem: string;
  ca: PemPair;
}

export interface BootstrapResult {
  certificates: StoredCertificates;
  secretAction: 'created' | 'adopted' | 'renewed' | 'unchanged';
  caBundlePatched: boolean;
}

const pemBlocks = (bundle: string): string[] => bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----(\r?\n)?/g) ?? [];
const b64 = (text: string) => Buffer.from(text).toString('base64');
const unb64 = (text: string | undefined) => (text === undefined ? '' : Buffer.from(text, 'base64').toString('utf8'));

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Reads the Secret's data; undefined when a part is missing or does not fit together. */
export function readStoredCertificates(secret: V1Secret): StoredCertificates | undefined {
  const data = secret.data ?? {};
  const serving = { certPem: unb64(data['tls.crt']), keyPem: unb64(data['tls.key']) };
  const caBundlePem = unb64(data['ca.crt']);
  const caCert = pemBlocks(caBundlePem)[0];
  const ca = { certPem: caCert ?? '', keyPem: unb64(data['ca.key']) };
  try {
    validateKeyPair(serving);
    validateKeyPair(ca);
  } catch {
    return undefined;
  }
  if (!signedBy(serving.certPem, ca.certPem)) return undefined;
  return { serving, caBundlePem, ca };
}

function secretFor(options: BootstrapOptions, stored: StoredCertificates, resourceVersion?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: options.secretName,
      namespace: options.secretNamespace,
      labels: { 'app.kubernetes.io/name': 'edot-ta', 'app.kubernetes.io/component': 'webhook-tls' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data: { 'tls.crt': b64(stored.serving.certPem), 'tls.key': b64(stored.serving.keyPem), 'ca.crt': b64(stored.caBundlePem), 'ca.key': b64(stored.ca.keyPem) },
  };
}

/** New certificates: a fresh CA only when the old one is missing or itself near expiry. */
export function issue(options: BootstrapOptions, previous: StoredCertificates | undefined): StoredCertificates {
  const now = options.now?.() ?? new Date();
  const fraction = options.renewFraction ?? 1 / 3;
  const keepCA = previous !== undefined && !needsRenewal(previous.ca.certPem, now, fraction);
  const ca = keepCA ? previous.ca : createCA({ validityDays: options.caValidityDays, now });
  const serving = createServingCert(ca, {
    service: options.service,
    namespace: options.serviceNamespace,
    validityDays: options.validityDays,
    now,
    ...(options.ips ? { ips: options.ips } : {}),
  });
  // During a CA rotation the API server must trust both until every replica serves the new pair.
  const oldCA = previous && !keepCA && !needsRenewal(previous.ca.certPem, now, 0) ? previous.ca.certPem : '';
  const caBundlePem = keepCA ? previous.caBundlePem : ca.certPem + oldCA;
  return { ca, serving, caBundlePem };
}

function usable(stored: StoredCertificates | undefined, options: BootstrapOptions): stored is StoredCertificates {
  return stored !== undefined && !needsRenewal(stored.serving.certPem, options.now?.() ?? new Date(), options.renewFraction ?? 1 / 3);
}

/** Makes the Secret hold a valid, not-yet-due certificate; returns what it holds now. */
export async function ensureSecret(core: CoreV1Api, options: BootstrapOptions, logger: Logger): Promise<{ certificates: StoredCertificates; action: BootstrapResult['secretAction'] }> {
  const { secretName: name, secretNamespace: namespace } = options;
  for (let attempt = 1; attempt <= 5; attempt++) {
    let existing: V1Secret | undefined;
    try {
      existing = await core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    if (!existing) {
      const certificates = issue(options, undefined);
      try {
        await core.createNamespacedSecret({ namespace, body: secretFor(options, certificates) });
        logger.info('created the webhook certificate Secret', { secret: `${namespace}/${name}` });
        return { certificates, action: 'created' };
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
        logger.info('another replica created the certificate Secret first; using its certificate', { secret: `${namespace}/${name}` });
        continue; // read the winner's Secret
      }
    }
    const stored = readStoredCertificates(existing);
    if (usable(stored, options)) return { certificates: stored, action: attempt === 1 ? 'unchanged' : 'adopted' };
    const certificates = issue(options, stored);
    try {
      await core.replaceNamespacedSecret({ name, namespace, body: secretFor(options, certificates, existing.metadata?.resourceVersion) });
      logger.info('renewed the webhook certificate', { secret: `${namespace}/${name}`, reason: stored ? 'near expiry' : 'missing or invalid data' });
      return { certificates, action: 'renewed' };
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
      logger.info('another replica renewed the certificate first; using its certificate', { secret: `${namespace}/${name}` });
    }
  }
  throw new Error(`could not settle the certificate Secret ${namespace}/${name} after 5 attempts (conflicts)`);
}

/** Sets clientConfig.caBundle on every webhook of the configuration; true when it changed anything. */
export async function patchCABundle(admission: AdmissionregistrationV1Api, configName: string, caBundlePem: string, logger: Logger): Promise<boolean> {
  const caBundle = b64(caBundlePem);
  for (let attempt = 1; attempt <= 5; attempt++) {
    const config = await admission.readMutatingWebhookConfiguration({ name: configName });
    const webhooks = config.webhooks ?? [];
    if (webhooks.every((webhook) => webhook.clientConfig.caBundle === caBundle)) return false;
    for (const webhook of webhooks) webhook.clientConfig.caBundle = caBundle;
    try {
      await admission.replaceMutatingWebhookConfiguration({ name: configName, body: config });
      logger.info('patched caBundle into the MutatingWebhookConfiguration', { webhookConfig: configName, webhooks: webhooks.length });
      return true;
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }
  throw new Error(`could not update caBundle of MutatingWebhookConfiguration ${configName} after 5 attempts (conflicts)`);
}

/** Writes tls.crt, tls.key and ca.crt into `dir`, each atomically (write + rename). */
export async function writeCertFiles(dir: string, certificates: { serving: PemPair; caBundlePem: string; caKeyPem?: string }): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string, number]> = [
    ['tls.key', certificates.serving.keyPem, 0o600],
    ['tls.crt', certificates.serving.certPem, 0o644],
    ['ca.crt', certificates.caBundlePem, 0o644],
  ];
  if (certificates.caKeyPem !== undefined) files.push(['ca.key', certificates.caKeyPem, 0o600]);
  for (const [name, content, mode] of files) {
    const temporary = join(dir, `.${name}.tmp-${process.pid}`);
    await writeFile(temporary, content, { mode });
    await rename(temporary, join(dir, name));
  }
}

export async function bootstrapCertificates(
  clients: { core: CoreV1Api; admission: AdmissionregistrationV1Api },
  options: BootstrapOptions,
  logger: Logger,
): Promise<BootstrapResult> {
  const { certificates, action } = await ensureSecret(clients.core, options, logger);
  const caBundlePatched = options.webhookConfig ? await patchCABundle(clients.admission, options.webhookConfig, certificates.caBundlePem, logger) : false;
  return { certificates, secretAction: action, caBundlePatched };
}
