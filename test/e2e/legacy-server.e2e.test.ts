// The oldest server we test (v1.20, Debian's source package): no native sidecars, so
// `--native-sidecars auto` asks the server's version and injects the sidecar as the first
// container with a postStart hook that waits for its /readyz. This file starts its own
// etcd + v1.20 apiserver beside the shared current one.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Cluster } from '../harness/cluster.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../harness/processes.js';
import { tool } from '../harness/tools.js';
import { installCrds } from '../harness/crds.js';
import { sidecarServiceAccount, webhookServiceAccount } from './support/service-accounts.js';
import { startSidecarProcess } from './support/sidecar.js';
import { containerNames, daemonPod, edotTa, ensureBuilt, fixture, mainJs, optIn, servedSerial, shippedWebhookConfiguration } from './support/webhook.js';

const execFileAsync = promisify(execFile);
const repoRoot = new URL('../../', import.meta.url).pathname;

describe('the postStart path on the oldest server (v1.20)', () => {
  const work = mkdtempSync(join(tmpdir(), 'edot-ta-legacy-e2e-'));
  let cluster: Cluster;
  let webhook: ManagedProcess | undefined;
  let core: k8s.CoreV1Api;
  const namespace = 'collectors';

  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const child = execFileAsync(tool('kubectl'), ['--kubeconfig', cluster.endpoints.kubeconfigPath, ...args], { maxBuffer: 16 << 20 });
    if (input !== undefined) child.child.stdin?.end(input);
    return (await child).stdout;
  };

  beforeAll(async () => {
    ensureBuilt();
    cluster = await Cluster.start({ version: 'legacy' });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.endpoints.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace, labels: optIn } } });

    const issued = await edotTa(['certs', '--out-dir', join(work, 'certs'), '--service', 'edot-ta-webhook', '--namespace', 'edot-ta-system', '--ip', '127.0.0.1']);
    expect(issued.code, issued.stderr).toBe(0);
    const caPem = readFileSync(join(work, 'certs', 'ca.crt'), 'utf8');
    const port = await freePort();
    // Under the webhook's ServiceAccount with the shipped rules (token auth), not as admin.
    const kubeconfig = await webhookServiceAccount({ adminKubeconfig: cluster.endpoints.kubeconfigPath, namespace, dir: work, configName: 'edot-ta' });
    webhook = startProcess('webhook-legacy', process.execPath, [
      mainJs, 'webhook', '--port', String(port), '--listen-address', '127.0.0.1', '--cert-dir', join(work, 'certs'), '--sidecar-image', 'edot-ta:e2e', '--shutdown-delay-seconds', '0',
    ], { logFile: join(work, 'webhook.log'), env: { ...process.env, KUBECONFIG: kubeconfig } });
    await waitFor('the webhook to be ready', async () => (await servedSerial(port, caPem)).length > 0, { timeoutMs: 20_000, abortIf: webhook.exited, describe: () => webhook!.tail() });
    await kc.makeApiClient(k8s.AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
      body: shippedWebhookConfiguration({ name: 'edot-ta', namespaceSelector: optIn, podsOnly: true, clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(caPem).toString('base64') } }),
    });
    let probe = 0;
    await waitFor('the apiserver to call the webhook', async () => {
      const name = `probe-${probe++}`;
      const created = await core.createNamespacedPod({ namespace, body: daemonPod(name) });
      await core.deleteNamespacedPod({ name, namespace });
      return containerNames(created).includes('edot-ta');
    }, { timeoutMs: 30_000, intervalMs: 300, describe: () => webhook!.tail() });
  });

  afterAll(async () => {
    await webhook?.stop();
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('--native-sidecars auto reads v1.20 and injects a first container whose postStart waits for /readyz; stored and described', async () => {
    await kubectl(['create', '-n', namespace, '-f', '-'], JSON.stringify(daemonPod('edot-daemon-legacy')));
    const pod = parse(await kubectl(['get', 'pod', 'edot-daemon-legacy', '-n', namespace, '-o', 'yaml'])) as k8s.V1Pod;
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['edot-ta-render']);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['edot-ta', 'otc-container']);
    const sidecar = pod.spec!.containers[0]!;
    expect(sidecar.lifecycle?.postStart?.exec?.command?.slice(-3)).toEqual(['http://127.0.0.1:27390/readyz', '120000', 'wait']);
    expect(sidecar.restartPolicy).toBeUndefined();
    // Planned leave on this path: the collector keeps scraping through a preStop sleep while the sidecar hands over.
    expect(pod.spec?.containers[1]?.lifecycle?.preStop?.exec?.command).toBeDefined();
    expect(JSON.parse(pod.metadata?.annotations?.['edot-ta.io/status'] ?? '{}')).toMatchObject({ nativeSidecar: false });
    expect(webhook!.tail(400)).toMatch(/"msg":"API server version".*"gitVersion":"v1\.20/);
    expect(await kubectl(['describe', 'pod', 'edot-daemon-legacy', '-n', namespace])).toMatch(/edot-ta\.io\/status:\s*\{"version"/);
  });

  it('refuses what a native sidecar needs (container restartPolicy, startupProbe on an init container): why auto checks the version', async () => {
    const { stdout, code } = await edotTa(['inject', '-f', fixture('pods/edot-daemonset-helm.yaml'), '--kubernetes-version', '1.30']);
    expect(code).toBe(0);
    const daemonSet = parse(stdout) as k8s.V1DaemonSet;
    expect(daemonSet.spec?.template.spec?.initContainers?.[1]?.restartPolicy).toBe('Always');
    daemonSet.metadata = { ...daemonSet.metadata, name: 'edot-native', namespace };
    await expect(kubectl(['apply', '-f', '-'], stringify(daemonSet))).rejects.toThrow(/restartPolicy/);
    // Without client-side validation the 1.20 server drops restartPolicy and then refuses a
    // startupProbe on a plain init container.
    await expect(kubectl(['apply', '--validate=false', '-f', '-'], stringify(daemonSet))).rejects.toThrow(/startupProbe.*must not be set for init containers/);
  });

  it('doctor on a server without the prometheus-operator and OpenTelemetry CRDs names them missing, with the fix, and skips the CR and monitor checks', async () => {
    const { stdout, code } = await edotTa(['doctor', '--kubeconfig', cluster.endpoints.kubeconfigPath, '--namespace', namespace, '--output', 'json']);
    const findings = JSON.parse(stdout) as Array<{ level: string; check: string; message: string; hint?: string }>;
    expect(findings.find((f) => f.check === 'crds')).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(/^CRDs not installed: podmonitors, servicemonitors: /),
      hint: expect.stringContaining('install the prometheus-operator CRDs'),
    });
    expect(findings.filter((f) => f.check === 'collectors' || f.check === 'monitors')).toEqual([]);
    expect(findings.find((f) => f.check === 'webhook')).toMatchObject({ level: 'ok' });
    expect(code).toBe(findings.some((f) => f.level === 'fail') ? 1 : 0);
  });

  it('a sidecar on a server without discovery.k8s.io/v1 discovers a ServiceMonitor through Endpoints (the EndpointSlice default falls back)', async () => {
    await installCrds(cluster.endpoints.kubeconfigPath, join(repoRoot, 'test/fixtures/crds/monitoring.coreos.com_servicemonitors.yaml'));
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.endpoints.kubeconfigPath);
    const labels = { app: 'legacy-gw' };
    await core.createNamespacedService({ namespace, body: { metadata: { name: 'legacy-gw', labels }, spec: { ports: [{ name: 'metrics', port: 9100 }] } } });
    await core.createNamespacedEndpoints({ namespace, body: { metadata: { name: 'legacy-gw', labels }, subsets: [{ addresses: [{ ip: '10.15.0.1' }], ports: [{ name: 'metrics', port: 9100 }] }] } });
    await kc.makeApiClient(k8s.CustomObjectsApi).createNamespacedCustomObject({
      group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'servicemonitors',
      body: { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'legacy-gw' }, spec: { selector: { matchLabels: labels }, namespaceSelector: { matchNames: [namespace] }, endpoints: [{ port: 'metrics' }] } },
    });
    const kubeconfig = await sidecarServiceAccount({ adminKubeconfig: cluster.endpoints.kubeconfigPath, namespace, dir: work });
    const pod = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'legacy-collector', annotations: { 'edot-ta.io/inject': 'false' } }, spec: { nodeName: 'node-legacy', containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } } });
    const port = await freePort();
    const sidecar = startSidecarProcess({
      name: 'legacy', logFile: join(work, 'sidecar.log'), port, args: [], kubeconfig, built: true,
      pod: { name: 'legacy-collector', uid: pod.metadata?.uid ?? '', namespace, node: 'node-legacy' }, group: 'legacy',
      env: { EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, serviceMonitorSelector: {}, allowNamespaces: [namespace] }), EDOT_TA_LEASE_RENEW_SECONDS: '1', EDOT_TA_LEASE_DURATION_SECONDS: '4' },
    });
    try {
      const job = `serviceMonitor/${namespace}/legacy-gw/0`;
      let served: string[] = [];
      await waitFor('the ServiceMonitor served through Endpoints', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/jobs/${encodeURIComponent(job)}/targets?collector_id=legacy-collector`).catch(() => undefined);
        served = res?.ok ? ((await res.json()) as Array<{ targets: string[] }>).flatMap((g) => g.targets) : [];
        return served.includes('10.15.0.1:9100');
      }, { timeoutMs: 60_000, abortIf: sidecar.exited, describe: () => `served ${JSON.stringify(served)}\n${sidecar.tail()}` });
      const configs = (await (await fetch(`http://127.0.0.1:${port}/scrape_configs`)).json()) as Record<string, { relabel_configs?: unknown[] }>;
      expect(configs[job]?.relabel_configs).toContainEqual({ action: 'keep', source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: 'metrics' });
      expect(sidecar.tail(4000)).toContain('ServiceMonitors are discovered through Endpoints');
    } finally {
      await sidecar.stop();
    }
  });
});
