// `edot-ta certs`: make the webhook's CA and serving certificate, into a directory (local runs,
// tests, GitOps) or into a Secret with caBundle patched into the webhook configuration.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, parseFlags } from '../common/args.js';
import { createLogger } from '../common/log.js';
import { bootstrapCertificates, writeCertFiles } from './bootstrap.js';
import { certificateInfo, createCA, createServingCert, validateKeyPair, type PemPair } from './ca.js';

export const certsUsage = `Usage:
  edot-ta certs --out-dir DIR --service NAME --namespace NS [--ip IP]... [--days N] [--ca-days N] [--ca-from DIR]
  edot-ta certs --secret NS/NAME --service NAME [--namespace NS] [--webhook-config NAME] [--ip IP]... [--days N] [--ca-days N]

Creates a CA and a serving certificate for the webhook Service (SANs: NAME, NAME.NS, NAME.NS.svc,
NAME.NS.svc.cluster.local, plus each --ip).
  --out-dir DIR          write tls.crt, tls.key, ca.crt, ca.key (0600) into DIR
  --ca-from DIR          reuse the CA in DIR (ca.crt + ca.key) instead of making a new one (rotation)
  --secret NS/NAME       store them in a kubernetes.io/tls Secret (created if absent, renewed when
                         less than a third of the lifetime is left; kubeconfig from KUBECONFIG or in-cluster)
  --webhook-config NAME  patch caBundle into this MutatingWebhookConfiguration (with --secret)
  --service NAME         Service name (required)
  --namespace NS         Service namespace (default: the Secret's namespace)
  --ip IP                extra IP SAN, repeatable (e.g. 127.0.0.1 for a webhook reached by URL)
  --days N               serving certificate lifetime in days (default 365)
  --ca-days N            CA lifetime in days (default 3650)`;

function positiveInteger(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 36500) throw new UsageError(`--${flag}: want a whole number of days (1..36500), got "${value}"`);
  return parsed;
}

export async function run(argv: string[]): Promise<number> {
  const logger = createLogger({ component: 'certs' });
  try {
    const { values } = parseFlags(argv, {
      'out-dir': { type: 'string' },
      'ca-from': { type: 'string' },
      secret: { type: 'string' },
      'webhook-config': { type: 'string' },
      service: { type: 'string' },
      namespace: { type: 'string' },
      ip: { type: 'string', multiple: true },
      days: { type: 'string' },
      'ca-days': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(certsUsage);
      return 0;
    }
    if ((values['out-dir'] === undefined) === (values.secret === undefined)) throw new UsageError('give exactly one of --out-dir or --secret');
    if (!values.service) throw new UsageError('--service is required');
    const validityDays = positiveInteger('days', values.days, 365);
    const caValidityDays = positiveInteger('ca-days', values['ca-days'], 3650);
    const ips = values.ip ?? [];

    if (values['out-dir'] !== undefined) {
      if (!values.namespace) throw new UsageError('--namespace is required with --out-dir');
      if (values['webhook-config'] !== undefined) throw new UsageError('--webhook-config needs --secret (it patches the cluster)');
      let ca: PemPair;
      if (values['ca-from'] !== undefined) {
        const dir = values['ca-from'];
        ca = { certPem: await readFile(join(dir, 'ca.crt'), 'utf8'), keyPem: await readFile(join(dir, 'ca.key'), 'utf8') };
        validateKeyPair(ca);
      } else {
        ca = createCA({ validityDays: caValidityDays });
      }
      const serving = createServingCert(ca, { service: values.service, namespace: values.namespace, ips, validityDays });
      await writeCertFiles(values['out-dir'], { serving, caBundlePem: ca.certPem, caKeyPem: ca.keyPem });
      const info = certificateInfo(serving.certPem);
      logger.info('wrote the webhook certificates', { dir: values['out-dir'], serial: info.serialHex, notAfter: info.notAfter.toISOString(), subjectAltName: info.subjectAltName });
      return 0;
    }

    if (values['ca-from'] !== undefined) throw new UsageError('--ca-from works with --out-dir only');
    const [secretNamespace, secretName, ...rest] = (values.secret ?? '').split('/');
    if (!secretNamespace || !secretName || rest.length > 0) throw new UsageError(`--secret: want NAMESPACE/NAME, got "${values.secret}"`);
    const k8s = await import('@kubernetes/client-node'); // only this mode talks to a cluster
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    const result = await bootstrapCertificates(
      { core: kc.makeApiClient(k8s.CoreV1Api), admission: kc.makeApiClient(k8s.AdmissionregistrationV1Api) },
      {
        secretNamespace,
        secretName,
        service: values.service,
        serviceNamespace: values.namespace ?? secretNamespace,
        ips,
        validityDays,
        caValidityDays,
        ...(values['webhook-config'] !== undefined ? { webhookConfig: values['webhook-config'] } : {}),
      },
      logger,
    );
    const info = certificateInfo(result.certificates.serving.certPem);
    logger.info('webhook certificates ready', { secret: values.secret, action: result.secretAction, caBundlePatched: result.caBundlePatched, serial: info.serialHex, notAfter: info.notAfter.toISOString() });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`edot-ta certs: ${err.message}\n\n${certsUsage}`);
      return 2;
    }
    logger.error('certs failed', { error: err });
    return 1;
  }
}
