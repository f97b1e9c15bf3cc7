// The webhook's certificates on the real v1.20 apiserver: two racing bootstraps end with one
// Secret and one certificate and caBundle patched; a certificate near expiry is renewed from the
// same CA; `edot-ta certs --secret` leaves a good Secret alone; and a webhook started with
// --bootstrap-secret makes its own certificate, patches its caBundle and gets called with it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootstrapCertificates } from '../../certs/bootstrap.js';
import { certificateInfo, signedBy } from '../../certs/ca.js';
import { createLogger } from '../../common/log.js';
import { clients, clusterEndpoints, createTestNamespace } from '../harness/context.js';
import { freePort, startProcess, waitFor } from '../harness/processes.js';
import { webhookServiceAccount } from './support/service-accounts.js';
import { containerNames, daemonPod, edotTa, ensureBuilt, mainJs, servedSerial, shippedWebhookConfiguration } from './support/webhook.js';

beforeAll(() => ensureBuilt());

describe('certificate bootstrap on the real apiserver', () => {
  const { core, admissionregistration, rbac } = clients();
  const logger = createLogger({}, () => undefined);

  it('two racing bootstraps end with one Secret and one certificate, and caBundle is patched', async () => {
    const namespace = await createTestNamespace('certs');
    const configName = `edot-ta-bootstrap-${Date.now().toString(36)}`;
    await admissionregistration.createMutatingWebhookConfiguration({
      body: shippedWebhookConfiguration({
        name: configName,
        podsOnly: true,
        timeoutSeconds: 2,
        // Matches no namespace: this configuration only receives the caBundle.
        namespaceSelector: { 'edot-ta.io/bootstrap-test': 'never' },
        clientConfig: { service: { name: 'edot-ta-webhook', namespace, path: '/mutate' } },
      }),
    });
    try {
      const options = { secretNamespace: namespace, secretName: 'edot-ta-webhook-tls', service: 'edot-ta-webhook', serviceNamespace: namespace, webhookConfig: configName, validityDays: 30, caValidityDays: 365 };
      const kc = { core, admission: admissionregistration };
      const [a, b] = await Promise.all([bootstrapCertificates(kc, options, logger), bootstrapCertificates(kc, options, logger)]);
      expect([a.secretAction, b.secretAction].sort()).toEqual(['adopted', 'created']);
      expect(a.certificates.serving.certPem).toBe(b.certificates.serving.certPem);

      const secrets = await core.listNamespacedSecret({ namespace, labelSelector: 'app.kubernetes.io/component=webhook-tls' });
      expect(secrets.items).toHaveLength(1);
      const stored = Buffer.from(secrets.items[0]!.data!['tls.crt']!, 'base64').toString();
      expect(stored).toBe(a.certificates.serving.certPem);
      expect(certificateInfo(stored).subjectAltName).toContain(`DNS:edot-ta-webhook.${namespace}.svc`);

      const config = await admissionregistration.readMutatingWebhookConfiguration({ name: configName });
      const caBundle = Buffer.from(config.webhooks![0]!.clientConfig.caBundle!, 'base64').toString();
      expect(signedBy(stored, caBundle)).toBe(true);

      // The CLI against the same Secret: nothing to renew, same certificate.
      const cli = await edotTa(['certs', '--secret', `${namespace}/edot-ta-webhook-tls`, '--service', 'edot-ta-webhook', '--webhook-config', configName], { ...process.env, KUBECONFIG: clusterEndpoints().kubeconfigPath });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stderr).toContain('"action":"unchanged"');
      expect(cli.stderr).toContain(`"serial":"${certificateInfo(stored).serialHex}"`);
    } finally {
      await admissionregistration.deleteMutatingWebhookConfiguration({ name: configName }).catch(() => undefined);
    }
  });

  it('renews a certificate that is near expiry with an optimistic update, keeping the CA and caBundle', async () => {
    const namespace = await createTestNamespace('renew');
    const options = { secretNamespace: namespace, secretName: 'edot-ta-webhook-tls', service: 'edot-ta-webhook', serviceNamespace: namespace, validityDays: 30, caValidityDays: 365 };
    const kc = { core, admission: admissionregistration };
    // Issued 25 days ago with a 30-day lifetime: 5 days left, less than a third.
    const old = await bootstrapCertificates(kc, { ...options, now: () => new Date(Date.now() - 25 * 86_400_000) }, logger);
    expect(old.secretAction).toBe('created');
    const renewed = await bootstrapCertificates(kc, options, logger);
    expect(renewed.secretAction).toBe('renewed');
    expect(certificateInfo(renewed.certificates.serving.certPem).serialHex).not.toBe(certificateInfo(old.certificates.serving.certPem).serialHex);
    expect(renewed.certificates.caBundlePem).toBe(old.certificates.caBundlePem);
    const stored = await core.readNamespacedSecret({ name: 'edot-ta-webhook-tls', namespace });
    expect(Buffer.from(stored.data!['tls.crt']!, 'base64').toString()).toBe(renewed.certificates.serving.certPem);
    expect((await bootstrapCertificates(kc, options, logger)).secretAction).toBe('unchanged');
  });

  it('a webhook started with --bootstrap-secret under its ServiceAccount (shipped RBAC) makes its own certificate, patches caBundle and gets called with it', async () => {
    const marker = Date.now().toString(36);
    const namespace = await createTestNamespace('selfboot', { 'edot-ta.io/e2e-selfboot': marker });
    const configName = `edot-ta-selfboot-${marker}`;
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'edot-ta-selfboot-'));
    await admissionregistration.createMutatingWebhookConfiguration({
      body: shippedWebhookConfiguration({
        name: configName,
        podsOnly: true,
        // Only this test's namespace (other opted-in namespaces belong to other tests).
        namespaceSelector: { 'edot-ta.io/e2e-selfboot': marker },
        clientConfig: { url: `https://127.0.0.1:${port}/mutate` }, // no caBundle yet: the webhook patches it in
      }),
    });
    // As deployed: under the webhook's ServiceAccount with the shipped RBAC rules (Role and
    // ClusterRole of manifests/base/webhook.yaml, bound here with this test's names), not as admin.
    const kubeconfig = await webhookServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir, configName });
    const webhook = startProcess('webhook-selfboot', process.execPath, [
      mainJs, 'webhook', '--port', String(port), '--listen-address', '127.0.0.1', '--cert-dir', join(dir, 'certs'),
      '--bootstrap-secret', `${namespace}/edot-ta-webhook-tls`, '--service', 'edot-ta-webhook', '--webhook-config', configName, '--ip', '127.0.0.1',
      '--sidecar-image', 'edot-ta:e2e', '--shutdown-delay-seconds', '0',
    ], { logFile: join(dir, 'webhook.log'), env: { ...process.env, KUBECONFIG: kubeconfig } });
    try {
      let secretPem = '';
      await waitFor('the Secret and the served certificate to agree', async () => {
        const secret = await core.readNamespacedSecret({ name: 'edot-ta-webhook-tls', namespace });
        secretPem = Buffer.from(secret.data!['tls.crt']!, 'base64').toString();
        const caPem = Buffer.from(secret.data!['ca.crt']!, 'base64').toString();
        return (await servedSerial(port, caPem)) === certificateInfo(secretPem).serialHex;
      }, { timeoutMs: 30_000, abortIf: webhook.exited, describe: () => webhook.tail() });
      const config = await admissionregistration.readMutatingWebhookConfiguration({ name: configName });
      expect(signedBy(secretPem, Buffer.from(config.webhooks![0]!.clientConfig.caBundle!, 'base64').toString())).toBe(true);

      let probe = 0;
      await waitFor('the apiserver to call the self-bootstrapped webhook', async () => {
        const created = await core.createNamespacedPod({ namespace, body: daemonPod(`selfboot-${probe++}`) });
        return containerNames(created).includes('edot-ta');
      }, { timeoutMs: 30_000, intervalMs: 300, describe: () => webhook.tail() });
    } finally {
      await webhook.stop();
      await admissionregistration.deleteMutatingWebhookConfiguration({ name: configName }).catch(() => undefined);
      await rbac.deleteClusterRoleBinding({ name: configName }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: configName }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
