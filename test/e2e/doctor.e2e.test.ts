// `edot-ta doctor` against the real apiserver, and the sidecar RBAC in manifests/ proven by
// the apiserver's own authorizer (SubjectAccessReview): before the bindings the doctor names
// the missing permissions, after `kubectl apply` of manifests/overlays/kube-stack/sidecar-rbac.yaml
// (rebound to the test's ServiceAccount) it is satisfied.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { Finding } from '../../cli/doctor-checks.js';
import { clients, clusterEndpoints, createTestNamespace, kubectl, setPodRunning } from '../harness/context.js';
import { freePort, waitFor } from '../harness/processes.js';
import { parseMemberReport } from '../../sidecar/serve/member-report.js';
import { sidecarServiceAccount } from './support/service-accounts.js';
import { startSidecarProcess } from './support/sidecar.js';

const repoRoot = new URL('../../', import.meta.url).pathname;

const execFileAsync = promisify(execFile);

async function doctor(webhookConfig: string, extra: string[] = []): Promise<{ code: number; findings: Finding[] }> {
  const args = ['--import', 'tsx', 'cli/main.ts', 'doctor', '--kubeconfig', clusterEndpoints().kubeconfigPath, '--webhook-config', webhookConfig, '--output', 'json', ...extra];
  try {
    const { stdout } = await execFileAsync(process.execPath, args);
    return { code: 0, findings: JSON.parse(stdout) as Finding[] };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    if (!failed.stdout) throw new Error(`doctor crashed: ${failed.stderr}`);
    return { code: failed.code, findings: JSON.parse(failed.stdout) as Finding[] };
  }
}

describe('edot-ta doctor on a real cluster', () => {
  const { core, admissionregistration, coordination } = clients();
  const webhookConfig = `edot-ta-doctor-${Date.now()}`;
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  });

  /** A webhook configuration as installed (pointing nowhere; failurePolicy Ignore keeps pods flowing). */
  async function createWebhookConfig(name: string): Promise<void> {
    await admissionregistration.createMutatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name: 'pods.edot-ta.io',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Ignore',
            timeoutSeconds: 1,
            namespaceSelector: { matchLabels: { 'edot-ta.io/inject': 'enabled', 'edot-ta.io/doctor-test': name } },
            clientConfig: { url: 'https://127.0.0.1:1/mutate', caBundle: Buffer.from('not a real CA').toString('base64') },
            rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          },
        ],
      },
    });
    cleanup.push(() => admissionregistration.deleteMutatingWebhookConfiguration({ name }));
  }

  it('names what is missing, then passes once the webhook config and sidecar RBAC are installed', async () => {
    const namespace = await createTestNamespace('doctor', { 'edot-ta.io/inject': 'enabled' });
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'collector' } } });
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'daemon-a', annotations: { 'edot-ta.io/status': '{"version":"test"}' } },
        spec: {
          serviceAccountName: 'collector',
          nodeName: 'node-a',
          containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.2.0' }],
        },
      },
    });

    const before = await doctor(webhookConfig);
    expect(before.code).toBe(1);
    expect(before.findings).toContainEqual(expect.objectContaining({ level: 'fail', check: 'webhook', message: `MutatingWebhookConfiguration "${webhookConfig}" not found` }));
    const rbacFailures = before.findings.filter((f) => f.check === 'rbac' && f.message.startsWith(`${namespace}/collector`));
    expect(rbacFailures.map((f) => f.message)).toContain(`${namespace}/collector cannot update coordination.k8s.io/leases in ${namespace}`);
    expect(rbacFailures.map((f) => f.message)).toContain(`${namespace}/collector cannot watch /pods cluster-wide`);

    // Install: a webhook configuration (pointing nowhere; failurePolicy Ignore keeps pods flowing)…
    await createWebhookConfig(webhookConfig);

    // …and the sidecar RBAC from manifests/, bound to this test's ServiceAccount.
    const docs = parseAllDocuments(readFileSync(new URL('../../manifests/overlays/kube-stack/sidecar-rbac.yaml', import.meta.url), 'utf8')).map((d) => d.toJS() as k8s.KubernetesObject & { subjects?: k8s.RbacV1Subject[] });
    const rebound = docs.map((doc) => {
      if (!doc.subjects) return doc;
      const suffix = doc.kind === 'ClusterRoleBinding' ? `-${namespace}` : '';
      return {
        ...doc,
        metadata: { ...doc.metadata, name: `${doc.metadata?.name}${suffix}`, ...(doc.kind === 'RoleBinding' ? { namespace } : {}) },
        subjects: [{ kind: 'ServiceAccount', name: 'collector', namespace }],
      };
    });
    await kubectl(['apply', '-f', '-'], { input: rebound.map((d) => stringify(d)).join('---\n') });
    cleanup.push(() => kubectl(['delete', 'clusterrolebinding', `edot-ta-sidecar-discovery-${namespace}`]));

    await coordination.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'edot-ta-daemon-a', labels: { 'edot-ta.io/group': 'daemon' } },
        spec: { holderIdentity: 'uid-a', leaseDurationSeconds: 40, renewTime: new k8s.V1MicroTime() },
      },
    });

    const after = await doctor(webhookConfig);
    const mine = after.findings.filter((f) => f.check !== 'rbac' || f.message.includes(namespace));
    expect(mine.find((f) => f.check === 'webhook')).toMatchObject({ level: 'ok' });
    expect(after.findings.filter((f) => f.check === 'rbac' && f.message.startsWith(`${namespace}/`))).toEqual([]);
    expect(after.findings).toContainEqual(expect.objectContaining({ level: 'ok', check: 'membership', message: `group ${namespace}/daemon: 1 live member(s)` }));
  });

  it('names the two errors this project exists for: a collector CR whose mode was defaulted, one whose running workload disagrees with its mode (with the recreate command), the Target Allocator on without a prometheus receiver', async () => {
    const namespace = await createTestNamespace('doctor-cr');
    const custom = clients().custom;
    const config = { receivers: { otlp: { protocols: { grpc: {} } } }, exporters: { debug: {} }, service: { pipelines: { metrics: { receivers: ['otlp'], exporters: ['debug'] } } } };
    const cr = (name: string, spec: Record<string, unknown>) => custom.createNamespacedCustomObject({
      group: 'opentelemetry.io', version: 'v1beta1', namespace, plural: 'opentelemetrycollectors',
      body: { apiVersion: 'opentelemetry.io/v1beta1', kind: 'OpenTelemetryCollector', metadata: { name }, spec: { config, ...spec } },
    });
    // As the operator renders them (no operator runs here): <name>-collector workloads.
    const deployment = (name: string, managedBy = 'opentelemetry-operator') => clients().apps.createNamespacedDeployment({
      namespace,
      body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': managedBy } }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.2.0' }] } } } },
    });
    await cr('defaulted', { targetAllocator: { enabled: true } }); // no mode, TA on, no prometheus receiver
    await deployment('defaulted-collector');
    await cr('switched', { mode: 'daemonset' }); // asks for a DaemonSet, runs as the Deployment it was created as
    await deployment('switched-collector');
    await cr('charted', { mode: 'deployment' }); // a Helm release already renders charted-collector
    await deployment('charted-collector', 'Helm');

    const { code, findings } = await doctor(webhookConfig, ['--namespace', namespace]);
    expect(code).toBe(1);
    // --namespace: only this namespace's CRs (the shared cluster holds other tests' CRs too).
    const collectors = findings.filter((f) => f.check === 'collectors');
    expect(collectors.length).toBeGreaterThanOrEqual(3);
    expect(collectors.filter((f) => !f.message.includes(`${namespace}/`))).toEqual([]);
    const mine = collectors;
    expect(mine).toContainEqual(expect.objectContaining({
      level: 'fail',
      message: `OpenTelemetryCollector ${namespace}/switched asks for mode daemonset, but its collector runs as a Deployment: the mode cannot change after creation ("mode is set to deployment, which does not support modification")`,
      hint: `recreate it: kubectl delete opentelemetrycollector switched -n ${namespace} && kubectl apply -f <its manifest> (a short gap in collection)`,
    }));
    expect(mine).toContainEqual(expect.objectContaining({ level: 'warn', message: `OpenTelemetryCollector ${namespace}/defaulted: mode deployment (not set: the operator defaulted it, and it cannot change later), running as a Deployment` }));
    expect(mine).toContainEqual(expect.objectContaining({ level: 'fail', message: `OpenTelemetryCollector ${namespace}/defaulted: the Target Allocator is enabled but no metrics pipeline has a prometheus receiver (the operator: "no prometheus available as part of the configuration")` }));
    expect(mine).toContainEqual(expect.objectContaining({ level: 'fail', message: `OpenTelemetryCollector ${namespace}/charted renders the Deployment ${namespace}/charted-collector, but it was not created by the operator (managed-by: Helm): two sources render one collector` }));
    // The operator's own workloads raise no ownership finding.
    expect(mine.filter((f) => f.message.includes('two sources') && !f.message.includes('/charted '))).toEqual([]);
  });

  it('names the monitor mistakes of a group\'s selection: the Istio port-name mismatch (with the ports that exist), labels that differ, a namespace outside the selection', async () => {
    const namespace = await createTestNamespace('doctor-mon', { 'edot-ta.io/inject': 'enabled' });
    const elsewhere = await createTestNamespace('doctor-other');
    const selection = { enabled: true, podMonitorSelector: { matchLabels: { release: 'edot' } }, allowNamespaces: [namespace] };
    // An injected collector pod: its sidecar carries the group and the selection in force.
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'daemon-m', annotations: { 'edot-ta.io/status': '{"version":"test"}' } },
        spec: {
          nodeName: 'node-a',
          containers: [
            { name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.2.0' },
            { name: 'edot-ta', image: 'edot-ta:e2e', env: [{ name: 'EDOT_TA_GROUP', value: 'daemon' }, { name: 'EDOT_TA_PROMETHEUS_CR', value: JSON.stringify(selection) }] },
          ],
        },
      },
    });
    // Istio gateway pods name their stats port http-envoy-prom.
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'gateway', labels: { istio: 'ingressgateway' } }, spec: { nodeName: 'node-a', containers: [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', ports: [{ name: 'http-envoy-prom', containerPort: 15090 }] }] } },
    });
    const monitor = (ns: string, name: string, labels: Record<string, string>) => ({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name, namespace: ns, labels },
      spec: { selector: { matchLabels: { istio: 'ingressgateway' } }, podMetricsEndpoints: [{ port: 'http-monitoring' }] },
    });
    const custom = clients().custom;
    await custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors', body: monitor(namespace, 'istio-gateways', { release: 'edot' }) });
    await custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors', body: monitor(namespace, 'mislabeled', { release: 'prod' }) });
    await custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace: elsewhere, plural: 'podmonitors', body: monitor(elsewhere, 'outside', { release: 'edot' }) });

    const { findings } = await doctor(webhookConfig);
    const group = `${namespace}/daemon`;
    const mine = findings.filter((f) => f.check === 'monitors' && f.message.includes(group));
    // (Other tests' groups in the shared cluster may select it too: "used by" lists them all.)
    const portFinding = mine.find((f) => f.message.startsWith(`PodMonitor ${namespace}/istio-gateways (used by `));
    expect(portFinding).toMatchObject({ level: 'warn', hint: 'set port: http-envoy-prom' });
    expect(portFinding?.message).toMatch(/: podMetricsEndpoints\[0\]\.port "http-monitoring" matches no container port of the 1 pod\(s\) it selects; they name theirs: http-envoy-prom$/);
    expect(mine.map((f) => f.message)).toContain(`PodMonitor ${namespace}/mislabeled is not used by group ${group}: its labels do not match prometheusCR.podMonitorSelector (wants release=edot, has release=prod)`);
    expect(mine.map((f) => f.message)).toContain(`PodMonitor ${elsewhere}/outside is not used by group ${group}: namespace ${elsewhere} is not in prometheusCR.allowNamespaces [${namespace}]`);

    // Fixed: the monitor names the port the pods have; doctor has nothing more to say about it.
    await custom.patchNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors', name: 'istio-gateways', body: [{ op: 'replace', path: '/spec/podMetricsEndpoints/0/port', value: 'http-envoy-prom' }] });
    const fixed = (await doctor(webhookConfig)).findings.filter((f) => f.check === 'monitors' && f.message.includes(`${namespace}/istio-gateways`));
    expect(fixed).toEqual([]);
  });

  it('a healthy group with a real render and a real sidecar comes back clean; then its Lease report names a job relabeling empties (and the rule), and doctor names a stale Lease and one of a missing pod', async () => {
    const namespace = await createTestNamespace('doctor-live', { 'edot-ta.io/inject': 'enabled' });
    const dir = mkdtempSync(join(tmpdir(), 'edot-ta-doctor-e2e-'));
    const custom = clients().custom;
    const group = 'daemon-collector';
    const selection = { enabled: true, podMonitorSelector: { matchLabels: { release: namespace } }, allowNamespaces: [namespace] };
    const healthyConfig = `${webhookConfig}-live`;
    await createWebhookConfig(healthyConfig);
    // The sidecar runs under the shipped RBAC; the pod carries what the webhook injects (group, selection).
    const kubeconfig = await sidecarServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir });
    cleanup.push(() => kubectl(['delete', 'clusterrolebinding', `edot-ta-sidecar-discovery-${namespace}-edot-collector`, `edot-ta-sidecar-secrets-${namespace}-edot-collector`]));
    const sidecarEnv = [{ name: 'EDOT_TA_GROUP', value: group }, { name: 'EDOT_TA_PROMETHEUS_CR', value: JSON.stringify(selection) }];
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'collector-0', annotations: { 'edot-ta.io/status': '{"version":"test"}' } },
        spec: {
          serviceAccountName: 'edot-collector',
          nodeName: 'node-doctor',
          containers: [
            { name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.2.0' },
            { name: 'edot-ta', image: 'edot-ta:e2e', args: ['sidecar', 'serve'], env: sidecarEnv },
          ],
        },
      },
    });
    await setPodRunning(namespace, 'collector-0', '127.0.6.1');
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'web-0', labels: { app: 'web' } }, spec: { nodeName: 'node-doctor', containers: [{ name: 'web', image: 'nginx', ports: [{ name: 'metrics', containerPort: 9100 }] }] } },
    });
    await setPodRunning(namespace, 'web-0', '127.0.6.2');
    const podMonitor = (name: string, relabelings?: unknown[]) => custom.createNamespacedCustomObject({
      group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors',
      body: { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { name, labels: { release: namespace } }, spec: { selector: { matchLabels: { app: 'web' } }, podMetricsEndpoints: [{ port: 'metrics', ...(relabelings ? { relabelings } : {}) }] } },
    });
    await podMonitor('web');

    // The real render step on a collector config with a node-local job (it stays in the collector).
    writeFileSync(join(dir, 'collector.yaml'), [
      'receivers:',
      '  prometheus:',
      '    config:',
      '      scrape_configs:',
      '        - job_name: kubelet',
      '          static_configs: [{ targets: ["${env:NODE_NAME}:10250"] }]',
      '        - job_name: static-app',
      '          static_configs: [{ targets: ["127.0.6.3:9100"] }]',
      'exporters: { debug: {} }',
      'service: { pipelines: { metrics: { receivers: [prometheus], exporters: [debug] } } }',
    ].join('\n'));
    await execFileAsync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sidecar', 'render', '--in', join(dir, 'collector.yaml'), '--out', join(dir, 'rendered.yaml'), '--scrape-configs-out', join(dir, 'scrape-configs.yaml')], { cwd: repoRoot });
    const pod = await core.readNamespacedPod({ name: 'collector-0', namespace });
    const port = await freePort();
    const sidecar = startSidecarProcess({
      name: 'doctor', logFile: join(dir, 'sidecar.log'), port, args: ['--scrape-configs', join(dir, 'scrape-configs.yaml')], kubeconfig,
      pod: { name: 'collector-0', uid: pod.metadata?.uid ?? '', namespace, node: 'node-doctor' }, group,
      env: { EDOT_TA_PROMETHEUS_CR: JSON.stringify(selection), EDOT_TA_LEASE_RENEW_SECONDS: '1', EDOT_TA_LEASE_DURATION_SECONDS: '4', EDOT_TA_HANDOVER_HOLD_SECONDS: '8' },
    });
    cleanup.push(() => sidecar.stop());
    const report = async () => parseMemberReport((await coordination.readNamespacedLease({ name: 'edot-ta-collector-0', namespace }).catch(() => undefined))?.metadata?.annotations?.['edot-ta.io/report']);
    // Renewals carry the report: a few renew intervals after the first discovery.
    await waitFor('the report of 2 served targets on the Lease', async () => (await report())?.served === 2, { timeoutMs: 60_000, abortIf: sidecar.exited, describe: () => sidecar.tail() });

    const live = ['--namespace', namespace, '--collector', group];
    const healthy = await doctor(healthyConfig, live);
    expect(healthy.findings.filter((f) => f.level !== 'ok')).toEqual([]);
    expect(healthy.code).toBe(0);
    const ok = healthy.findings.map((f) => f.message);
    expect(ok).toContain(`group ${namespace}/${group}: 1 member(s) serve 2 target(s) in 2 job(s) (per member 2–2)`);
    // (The monitor's selector is a keep rule: the namespace's other pods are dropped by it, and counted.)
    expect(ok.find((m) => m.startsWith(`group ${namespace}/${group}: job podMonitor/${namespace}/web/0: 1 target(s) served`))).toMatch(/, relabeling drops \d+ on collector-0 \(relabel_configs\[\d+\]: \d+\)$/);
    expect(ok).toContain(`group ${namespace}/${group}: job kubelet stays in the collector: job kubelet reads the per-pod variable NODE_NAME: node-local by construction, it stays in the collector`);

    // A monitor whose relabeling keeps a label no pod has: it serves nothing, and doctor names the rule.
    await podMonitor('dropper', [{ action: 'keep', sourceLabels: ['__meta_kubernetes_pod_label_tier'], regex: 'frontend' }]);
    const dropperJob = `podMonitor/${namespace}/dropper/0`;
    await waitFor('the dropping job in the report', async () => (await report())?.jobs.some((j) => j.job === dropperJob && j.kept === 0 && j.dropped > 0) === true, { timeoutMs: 60_000, abortIf: sidecar.exited, describe: () => sidecar.tail() });
    const broken = await doctor(healthyConfig, live);
    const dropped = broken.findings.find((f) => f.message.includes(`job ${dropperJob} serves nothing`));
    expect(dropped, JSON.stringify(broken.findings, null, 2)).toMatchObject({ level: 'warn', message: expect.stringMatching(/relabeling drops every target it discovers \(\d+ on collector-0, by relabel_configs\[\d+\]: \d+/) });
    // web-0 falls to the monitor's own keep rule (the namespace's other pods to the selector's):
    // the index doctor names is that rule in the job the sidecar serves.
    const rule = /relabel_configs\[(\d+)\]: 1\b/.exec(dropped?.message ?? '');
    const served = (await (await fetch(`http://127.0.0.1:${port}/scrape_configs`)).json()) as Record<string, { relabel_configs: Array<Record<string, unknown>> }>;
    expect(served[dropperJob]?.relabel_configs[Number(rule?.[1])]).toMatchObject({ action: 'keep', source_labels: ['__meta_kubernetes_pod_label_tier'], regex: 'frontend' });

    // A stale Lease, and a live one renewed for a pod that does not exist (another group of the namespace).
    const ghostLease = (name: string, pod: string, renewTime: Date) => coordination.createNamespacedLease({
      namespace,
      body: {
        metadata: { name, labels: { 'edot-ta.io/group': 'ghost' }, annotations: { 'edot-ta.io/group': 'ghost', 'edot-ta.io/pod': pod, 'edot-ta.io/node': 'node-gone' } },
        spec: { holderIdentity: `uid-${pod}`, leaseDurationSeconds: 40, renewTime: new k8s.V1MicroTime(renewTime.getTime()) },
      },
    });
    await ghostLease('edot-ta-ghost-0', 'ghost-0', new Date(Date.now() - 3_600_000));
    await ghostLease('edot-ta-ghost-1', 'ghost-1', new Date());
    const ghosts = (await doctor(healthyConfig, ['--namespace', namespace, '--collector', 'ghost'])).findings.filter((f) => f.level === 'warn').map((f) => f.message);
    expect(ghosts).toContain(`group ${namespace}/ghost: 1 live, stale leases: edot-ta-ghost-0`);
    expect(ghosts).toContain(`group ${namespace}/ghost: Lease edot-ta-ghost-1 is renewed for pod ghost-1, which does not exist (on node node-gone)`);
  });
});
