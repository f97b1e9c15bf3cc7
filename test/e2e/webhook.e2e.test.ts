// `edot-ta webhook` as a real process (the built CLI in plain node) called by the real v1.20
// apiserver through a MutatingWebhookConfiguration (url on loopback, caBundle from
// `edot-ta certs --out-dir`): pods in an opted-in namespace come back injected, others do not;
// OpenTelemetryCollector CRs get mode daemonset and the central TA off, an UPDATE that changes
// mode gets a warning through kubectl; a certificate rotation on disk (Kubernetes' ..data
// symlink swap) is served without a restart; /metrics counts the real calls; /debug/settings
// needs a ServiceAccount token for its audience; with the webhook down, pods are still created.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { certificateInfo } from '../../certs/ca.js';
import { clients, clusterEndpoints, createTestNamespace, kubectl } from '../harness/context.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../harness/processes.js';
import { tool } from '../harness/tools.js';
import { webhookServiceAccount } from './support/service-accounts.js';
import { containerNames, daemonPod, edotTa, ensureBuilt, fixture, mainJs, optIn, servedSerial, shippedWebhookConfiguration } from './support/webhook.js';

beforeAll(() => ensureBuilt());

describe('edot-ta webhook on the real apiserver (current release)', () => {
  const { core, admissionregistration, apiextensions, custom } = clients();
  const work = mkdtempSync(join(tmpdir(), 'edot-ta-webhook-e2e-'));
  const certDir = join(work, 'mounted');
  const configName = `edot-ta-e2e-${Date.now().toString(36)}`;
  let webhook: ManagedProcess | undefined;
  let port = 0;
  let caPem = '';
  let labelled = '';
  let unlabelled = '';

  /** Lays out `from` as a kubelet-mounted Secret generation and swaps ..data to it atomically. */
  function mountGeneration(from: string, generation: string): void {
    const versioned = join(certDir, `..${generation}`);
    mkdirSync(versioned);
    for (const file of ['tls.crt', 'tls.key', 'ca.crt']) spawnSync('cp', [join(from, file), join(versioned, file)]);
    symlinkSync(`..${generation}`, join(certDir, '..data_tmp'));
    renameSync(join(certDir, '..data_tmp'), join(certDir, '..data'));
  }

  beforeAll(async () => {
    const issued = await edotTa(['certs', '--out-dir', join(work, 'v1'), '--service', 'edot-ta-webhook', '--namespace', 'edot-ta-system', '--ip', '127.0.0.1', '--days', '2']);
    expect(issued.code, issued.stderr).toBe(0);
    caPem = readFileSync(join(work, 'v1', 'ca.crt'), 'utf8');
    mkdirSync(certDir);
    mountGeneration(join(work, 'v1'), '2026_11_25_10_00_01.1');
    for (const file of ['tls.crt', 'tls.key', 'ca.crt']) symlinkSync(`..data/${file}`, join(certDir, file));

    labelled = await createTestNamespace('webhook', optIn);
    unlabelled = await createTestNamespace('webhook-off');
    port = await freePort();
    // Under the webhook's ServiceAccount with the shipped Role/ClusterRole (token auth), not as admin.
    const kubeconfig = await webhookServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace: unlabelled, dir: work, configName });
    webhook = startProcess('webhook', process.execPath, [
      mainJs, 'webhook', '--port', String(port), '--listen-address', '127.0.0.1', '--cert-dir', certDir, '--sidecar-image', 'edot-ta:e2e', '--shutdown-delay-seconds', '0',
      '--debug-audience', 'edot-ta-webhook', '--debug-allow', `${labelled}:inspector`, '--kubeconfig', kubeconfig,
    ], {
      logFile: join(work, 'webhook.log'),
      env: { ...process.env, KUBECONFIG: kubeconfig, EDOT_TA_LOG_LEVEL: 'debug' },
    });
    await waitFor('the webhook to be ready', async () => (await servedSerial(port, caPem)).length > 0, { timeoutMs: 20_000, abortIf: webhook.exited, describe: () => webhook!.tail() });

    const config = shippedWebhookConfiguration({
      name: configName,
      namespaceSelector: optIn,
      clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(caPem).toString('base64') },
    });
    await admissionregistration.createMutatingWebhookConfiguration({ body: config });

    // The apiserver picks up a new webhook configuration asynchronously: probe until it calls us.
    let probe = 0;
    await waitFor('the apiserver to call the webhook', async () => {
      const name = `probe-${probe++}`;
      const created = await core.createNamespacedPod({ namespace: labelled, body: daemonPod(name) });
      await core.deleteNamespacedPod({ name, namespace: labelled });
      return containerNames(created).includes('edot-ta');
    }, { timeoutMs: 30_000, intervalMs: 300, describe: () => webhook!.tail() });
  });

  afterAll(async () => {
    await admissionregistration.deleteMutatingWebhookConfiguration({ name: configName }).catch(() => undefined);
    await webhook?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('injects an EDOT collector pod in an opted-in namespace as a native sidecar; kubectl shows the status annotation', async () => {
    await kubectl(['create', '-n', labelled, '-f', '-'], { input: JSON.stringify(daemonPod('edot-daemon-a')) });
    const pod = parse(await kubectl(['get', 'pod', 'edot-daemon-a', '-n', labelled, '-o', 'yaml'])) as V1Pod;
    expect(pod.spec?.volumes?.map((v) => v.name)).toContain('edot-ta-config');
    // The current server has native sidecars: --native-sidecars=auto asked it and chose an init container with restartPolicy Always.
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['edot-ta-render', 'edot-ta']);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['otc-container']);
    const sidecar = pod.spec?.initContainers?.find((c) => c.name === 'edot-ta');
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(sidecar?.startupProbe?.exec?.command).toContain('http://127.0.0.1:27390/readyz');
    expect(sidecar?.lifecycle?.postStart).toBeUndefined();
    const collector = pod.spec?.containers.find((c) => c.name === 'otc-container');
    expect(collector?.args?.join(' ')).toContain('/edot-ta/');
    const status = JSON.parse(pod.metadata?.annotations?.['edot-ta.io/status'] ?? '{}') as { sidecarImage?: string; nativeSidecar?: boolean };
    expect(status).toMatchObject({ sidecarImage: 'edot-ta:e2e', nativeSidecar: true });
    expect(webhook!.tail(400)).toMatch(/"msg":"API server version".*"gitVersion":"v1\.37/);
    const described = await kubectl(['describe', 'pod', 'edot-daemon-a', '-n', labelled]);
    expect(described).toMatch(/edot-ta\.io\/status:\s*\{"version"/);
    expect(described).toMatch(/Init Containers:\s*\n\s*edot-ta-render:[\s\S]*\n\s*edot-ta:\n/);
  });

  it('leaves a collector pod in a namespace without the opt-in label alone', async () => {
    const created = await core.createNamespacedPod({ namespace: unlabelled, body: daemonPod('edot-daemon-b') });
    expect(containerNames(created)).toEqual(['otc-container']);
    expect(created.metadata?.annotations?.['edot-ta.io/status']).toBeUndefined();
  });

  it('fixes an OpenTelemetryCollector created without mode and warns on an UPDATE that changes mode', async () => {
    const crdFile = fixture('crds/opentelemetry.io_opentelemetrycollectors.yaml');
    await waitFor('the OpenTelemetryCollector CRD fixture (written by the mutation engineer)', () => existsSync(crdFile), { timeoutMs: 60_000, intervalMs: 2_000 });
    const crd = parse(readFileSync(crdFile, 'utf8'));
    await apiextensions.createCustomResourceDefinition({ body: crd }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    await waitFor('the CRD to be established', async () => {
      const read = await apiextensions.readCustomResourceDefinition({ name: 'opentelemetrycollectors.opentelemetry.io' });
      return read.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    });

    const cr = parse(readFileSync(fixture('collector-crs/v1beta1-no-mode-ta-on.yaml'), 'utf8')) as { metadata: { namespace?: string; name: string }; spec: Record<string, unknown> };
    delete cr.metadata.namespace;
    // The CRD can take a moment to serve the new kind after Established.
    await waitFor('the collector CR to be created', async () => {
      await kubectl(['create', '-n', labelled, '-f', '-'], { input: JSON.stringify(cr) });
      return true;
    }, { timeoutMs: 20_000, intervalMs: 500 });
    const stored = (await custom.getNamespacedCustomObject({ group: 'opentelemetry.io', version: 'v1beta1', namespace: labelled, plural: 'opentelemetrycollectors', name: cr.metadata.name })) as {
      spec: { mode?: string; targetAllocator?: { enabled?: boolean } };
      metadata: { annotations?: Record<string, string> };
    };
    expect(stored.spec.mode).toBe('daemonset');
    expect(stored.spec.targetAllocator?.enabled).toBe(false);
    expect(stored.metadata.annotations?.['edot-ta.io/status']).toContain('spec.mode');

    // An UPDATE asking for another mode: kubectl prints the admission warning, mode stays.
    const update = await kubectl(['get', 'opentelemetrycollectors.v1beta1.opentelemetry.io', cr.metadata.name, '-n', labelled, '-o', 'json']);
    const changed = JSON.parse(update) as { spec: { mode: string } };
    changed.spec.mode = 'statefulset';
    const output = await new Promise<string>((resolve, reject) => {
      const child = execFile(tool('kubectl'), ['--kubeconfig', clusterEndpoints().kubeconfigPath, 'replace', '-f', '-'], (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout + stderr)));
      child.stdin?.end(JSON.stringify(changed));
    });
    expect(output).toMatch(/Warning: edot-ta: spec.mode cannot change after creation/);
    const after = JSON.parse(await kubectl(['get', 'opentelemetrycollectors.v1beta1.opentelemetry.io', cr.metadata.name, '-n', labelled, '-o', 'json'])) as { spec: { mode: string } };
    expect(after.spec.mode).toBe('daemonset');
  });

  it('serves a rotated certificate (..data symlink swap) without a restart', async () => {
    const before = await servedSerial(port, caPem);
    expect(before).toBe(certificateInfo(readFileSync(join(work, 'v1', 'tls.crt'), 'utf8')).serialHex);
    const rotated = await edotTa(['certs', '--out-dir', join(work, 'v2'), '--ca-from', join(work, 'v1'), '--service', 'edot-ta-webhook', '--namespace', 'edot-ta-system', '--ip', '127.0.0.1']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const expected = certificateInfo(readFileSync(join(work, 'v2', 'tls.crt'), 'utf8')).serialHex;
    expect(expected).not.toBe(before);
    mountGeneration(join(work, 'v2'), '2026_11_25_10_30_02.2');
    await waitFor('the webhook to serve the rotated certificate', async () => (await servedSerial(port, caPem)) === expected, { timeoutMs: 10_000, describe: () => webhook!.tail() });
    expect(webhook!.tail(200)).toContain('reloaded the serving certificate');

    // The apiserver keeps calling it (same CA): a new pod is still injected.
    const created = await core.createNamespacedPod({ namespace: labelled, body: daemonPod('edot-daemon-after-rotation') });
    expect(containerNames(created)).toContain('edot-ta');
  });

  it('counts the apiserver\'s reviews, latency and patch sizes on /metrics', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpsGet({ host: '127.0.0.1', port, path: '/metrics', ca: caPem }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      });
      req.once('error', reject);
    });
    const value = (series: string) => Number(text.split('\n').find((line) => line.startsWith(series + ' '))?.split(' ')[1] ?? 0);
    expect(value('edot_ta_webhook_reviews_total{kind="Pod",result="mutated"}')).toBeGreaterThanOrEqual(3);
    expect(value('edot_ta_webhook_reviews_total{kind="OpenTelemetryCollector",result="mutated"}')).toBeGreaterThanOrEqual(2);
    expect(value('edot_ta_webhook_review_duration_seconds_count{kind="Pod"}')).toBeGreaterThanOrEqual(3);
    expect(value('edot_ta_webhook_patch_bytes_count{kind="Pod"}')).toBeGreaterThanOrEqual(3);
    expect(value('edot_ta_webhook_tls_reloads_total{result="success"}')).toBe(1);
  });

  it('serves /debug/ only to an allowed ServiceAccount token bound to its audience (jose, cluster JWKS)', async () => {
    for (const name of ['inspector', 'someone-else']) await core.createNamespacedServiceAccount({ namespace: labelled, body: { metadata: { name } } });
    const token = async (serviceAccount: string, audiences: string[]) =>
      (await core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace: labelled, body: { spec: { audiences, expirationSeconds: 600 } } })).status!.token;
    const debug = (path: string, authorization?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsGet({ host: '127.0.0.1', port, path, ca: caPem, headers: authorization ? { authorization } : {} }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.once('error', reject);
      });
    const inspector = `Bearer ${await token('inspector', ['edot-ta-webhook'])}`;
    const settings = await debug('/debug/settings', inspector);
    expect(settings.status, settings.body).toBe(200);
    expect(JSON.parse(settings.body)).toMatchObject({ inject: { sidecarImage: 'edot-ta:e2e', nativeSidecars: true }, cr: { defaultMode: 'daemonset' } });
    // The decision log holds the apiserver's reviews of this test's pods (what, not the objects).
    const decisions = await debug(`/debug/decisions?namespace=${labelled}`, inspector);
    expect(decisions.status, decisions.body).toBe(200);
    expect(decisions.body).toContain('"name":"edot-daemon-a"');
    expect(decisions.body).toContain('"result":"mutated"');
    expect(decisions.body).not.toContain('elastic-secret-otel');

    const otherAudience = await debug('/debug/settings', `Bearer ${await token('inspector', ['https://kubernetes.default.svc'])}`); // the apiserver's own audience
    expect(otherAudience.status).toBe(401);
    const notAllowed = await debug('/debug/settings', `Bearer ${await token('someone-else', ['edot-ta-webhook'])}`);
    expect(notAllowed.status).toBe(403);
    expect((await debug('/debug/settings')).status).toBe(401);
    expect(webhook!.tail(400)).toContain(`"subject":"system:serviceaccount:${labelled}:inspector"`);
  });

  it('never blocks pod creation when the webhook is down (failurePolicy Ignore)', async () => {
    await webhook!.stop();
    const started = Date.now();
    const created = await core.createNamespacedPod({ namespace: labelled, body: daemonPod('edot-daemon-webhook-down') });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(containerNames(created)).toEqual(['otc-container']);
    const read = await core.readNamespacedPod({ name: 'edot-daemon-webhook-down', namespace: labelled });
    expect(read.metadata?.uid).toBeTruthy();
  });
});

