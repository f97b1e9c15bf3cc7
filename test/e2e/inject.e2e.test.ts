// `edot-ta inject` and `edot-ta sidecar render`, run as the built CLI in plain node, checked by
// real components: the current apiserver validates and stores the injected pod specs (kubectl),
// and a real Prometheus scrapes with the scrape configs the render step moved to the sidecar.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Container, V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { clients, createTestNamespace, kubectl } from '../harness/context.js';
import { waitFor } from '../harness/processes.js';
import { Prometheus } from '../harness/prometheus.js';
import { mutateCollectorCR, parseCollectorCR } from '../../webhook/cr/cr-mutation.js';
import { defaultCRSettings } from '../../webhook/settings.js';
import { ensureBuilt } from './support/webhook.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = join(root, 'dist/cli/main.js');
const fixture = (path: string) => join(root, 'test/fixtures', path);

/** Runs the built CLI with plain node (no tsx), as the image does. */
function edotTa(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [mainJs, ...args], { env: options.env ?? process.env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? Number((err as { code?: number }).code ?? 1) : 0 }),
    );
    child.stdin?.end(options.input ?? '');
  });
}

const names = (containers: V1Container[] | undefined) => (containers ?? []).map((c) => c.name);

describe('edot-ta inject against the real apiserver', () => {
  const { apps, core } = clients();
  let namespace = '';

  beforeAll(async () => {
    ensureBuilt();
    namespace = await createTestNamespace('inject', { 'edot-ta.io/inject': 'enabled' });
  });

  it('injects a multi-document manifest (ConfigMap, EDOT DaemonSet, nginx Pod) and the apiserver accepts and stores it', async () => {
    const configMap = stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'edot-collector-config', namespace: 'observability' },
      data: { 'otel.yaml': readFileSync(fixture('collector-configs/edot-daemon-istio.yaml'), 'utf8') },
    });
    const input = [configMap, readFileSync(fixture('pods/edot-daemonset-helm.yaml'), 'utf8'), readFileSync(fixture('pods/nginx.yaml'), 'utf8')].join('---\n');
    const { stdout, stderr, code } = await edotTa(['inject', '-f', '-'], { input });
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('DaemonSet observability/edot-collector: injected');
    expect(stderr).toContain('Pod shop/web-6c9f8b7d5-abcde: not injected');
    const documents = parseAllDocuments(stdout).map((doc) => doc.toJS() as { kind: string; metadata: { namespace?: string } });
    expect(documents.map((doc) => doc.kind)).toEqual(['ConfigMap', 'DaemonSet', 'Pod']);
    for (const doc of documents) doc.metadata.namespace = namespace;
    // kubectl validates against the server's OpenAPI schema, the server validates the pod specs.
    await kubectl(['apply', '-f', '-'], { input: documents.map((doc) => stringify(doc)).join('---\n') });

    const stored = await apps.readNamespacedDaemonSet({ name: 'edot-collector', namespace });
    const spec = stored.spec!.template.spec!;
    expect(names(spec.initContainers)).toEqual(['edot-ta-render']);
    expect(names(spec.containers)).toEqual(['edot-ta', 'edot-collector']);
    const sidecar = spec.containers[0]!;
    // Fields the apiserver would silently drop if it did not know them are still there.
    expect(sidecar.securityContext?.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(sidecar.lifecycle?.postStart?.exec?.command?.slice(-3)).toEqual(['http://127.0.0.1:27390/readyz', '120000', 'wait']);
    expect(sidecar.env?.find((e) => e.name === 'EDOT_TA_GROUP')?.value).toBe('edot-collector');
    expect(spec.containers[1]!.args).toEqual(['--config', '/edot-ta/0-otel.yaml', '--set=service.telemetry.logs.level=info']);
    expect(spec.volumes?.find((v) => v.name === 'edot-ta-config')?.emptyDir).toEqual({});
    expect(JSON.parse(stored.spec!.template.metadata!.annotations!['edot-ta.io/status']!)).toMatchObject({ containers: ['edot-ta'], initContainers: ['edot-ta-render'] });
    const web = await core.readNamespacedPod({ name: 'web-6c9f8b7d5-abcde', namespace });
    expect(names(web.spec?.containers)).toEqual(['nginx']);
    expect(web.metadata?.annotations?.['edot-ta.io/status']).toBeUndefined();
  });

  it('leaves the stored (server-defaulted) DaemonSet unchanged when injected again', async () => {
    const stored = await kubectl(['get', 'daemonset', 'edot-collector', '-n', namespace, '-o', 'yaml']);
    const { stdout, stderr, code } = await edotTa(['inject', '-f', '-'], { input: stored });
    expect(code).toBe(0);
    expect(stderr).toMatch(/not injected \(already injected\)/);
    expect(parse(stdout)).toEqual(parse(stored));
  });

  it('creates the injected operator-rendered EDOT daemon pod; kubectl describe shows the status annotation', async () => {
    const { stdout, code, stderr } = await edotTa(['inject', '-f', '-'], { input: readFileSync(fixture('pods/edot-daemon-operator.yaml'), 'utf8') });
    expect(code, stderr).toBe(0);
    const pod = parse(stdout) as V1Pod;
    pod.metadata!.namespace = namespace;
    pod.spec!.nodeName = 'node-a';
    const created = (await kubectl(['create', '-f', '-', '-o', 'name'], { input: stringify(pod) })).trim();
    const name = created.replace(/^pod\//, '');

    const stored = await core.readNamespacedPod({ name, namespace });
    expect(names(stored.spec?.containers)).toEqual(['edot-ta', 'otc-container']);
    expect(stored.spec?.containers.find((c) => c.name === 'otc-container')?.args).toEqual(['--config=/edot-ta/0-collector.yaml']);
    const render = stored.spec?.initContainers?.find((c) => c.name === 'edot-ta-render');
    expect(render?.volumeMounts?.[0]).toMatchObject({ name: 'otc-internal', mountPath: '/conf', readOnly: true });
    // kubectl describe cuts annotations at 140 characters: what was added comes first.
    const describe = await kubectl(['describe', 'pod', name, '-n', namespace]);
    expect(describe).toContain('edot-ta.io/status');
    expect(describe).toContain('{"version":"0.1.0","containers":["edot-ta"],"initContainers":["edot-ta-render"],"configs":[{"from":"/conf/collector.yaml"');
    const full = await kubectl(['get', 'pod', name, '-n', namespace, '-o', 'jsonpath={.metadata.annotations.edot-ta\\.io/status}']);
    expect(JSON.parse(full)).toMatchObject({ collectorContainer: 'otc-container', group: 'opentelemetry-kube-stack-daemon-collector', sidecarPort: 27390 });
  });

  it('injects native sidecars for a current server (--kubernetes-version 1.37): the server stores restartPolicy Always and the startup probe', async () => {
    const { stdout, code } = await edotTa(['inject', '-f', fixture('pods/edot-daemonset-helm.yaml'), '--kubernetes-version', '1.37']);
    expect(code).toBe(0);
    const daemonSet = parse(stdout) as V1DaemonSet;
    daemonSet.metadata = { ...daemonSet.metadata, name: 'edot-native', namespace };
    await kubectl(['apply', '-f', '-'], { input: stringify(daemonSet) });
    const spec = (await apps.readNamespacedDaemonSet({ name: 'edot-native', namespace })).spec!.template.spec!;
    expect(names(spec.initContainers)).toEqual(['edot-ta-render', 'edot-ta']);
    expect(names(spec.containers)).toEqual(['edot-collector']);
    const sidecar = spec.initContainers![1]!;
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.startupProbe?.exec?.command).toContain('http://127.0.0.1:27390/readyz');
    expect(sidecar.lifecycle?.postStart).toBeUndefined();
    // The kubelet stops native sidecars after the collector: no preStop sleep is added.
    expect(spec.containers[0]!.lifecycle?.preStop).toBeUndefined();
  });
});

describe('edot-ta sidecar render on a real collector config, scraped by a real Prometheus', () => {
  let server: Server;
  let prometheus: Prometheus | undefined;
  let target = '';
  const dir = mkdtempSync(join(tmpdir(), 'render-e2e-'));

  beforeAll(async () => {
    ensureBuilt();
    server = createServer((req, res) => {
      if (req.url !== '/stats/prometheus') return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end('# TYPE istio_requests_total counter\nistio_requests_total{response_code="200"} 42\n# TYPE envoy_server_uptime gauge\nenvoy_server_uptime 1234\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
    target = `127.0.0.2:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await prometheus?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('rewrites the EDOT daemon config for the sidecar, keeping ${env:...} and every other component', async () => {
    const out = join(dir, 'edot-ta');
    const { code, stderr } = await edotTa(
      ['sidecar', 'render', '--in', fixture('collector-configs/edot-daemon-istio.yaml'), '--out', join(out, '0-collector.yaml'), '--scrape-configs-out', join(out, 'scrape-configs.yaml'), '--endpoint', 'http://127.0.0.1:27390'],
      { env: { ...process.env, CLUSTER_NAME: 'prod-eu' } },
    );
    expect(code, stderr).toBe(0);
    const rendered = readFileSync(join(out, '0-collector.yaml'), 'utf8');
    const config = parse(rendered) as { receivers: Record<string, Record<string, unknown>> };
    expect(config.receivers['prometheus/istio']!.target_allocator).toEqual({ endpoint: 'http://127.0.0.1:27390', interval: '30s', collector_id: '${env:POD_NAME}', http_sd_config: { refresh_interval: '10s' } });
    expect(Object.keys(config.receivers)).toEqual(['otlp', 'filelog', 'hostmetrics', 'kubeletstats', 'prometheus/istio']);
    expect(rendered).toContain('endpoint: ${env:OTEL_K8S_NODE_NAME}:10250');
    const moved = readFileSync(join(out, 'scrape-configs.yaml'), 'utf8');
    expect(moved).toContain('cluster: prod-eu');
    expect(moved).toContain('replacement: $1:15090');
    const logs = stderr.trim().split('\n').map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(logs.map((l) => l.msg)).toContain('wrote scrape configs for the sidecar');
  });

  it('moves scrape configs that a real Prometheus loads and scrapes as the receiver would have', async () => {
    // The same fixture, its static gateway job pointed at a local /stats/prometheus and a short interval.
    const variant = readFileSync(fixture('collector-configs/edot-daemon-istio.yaml'), 'utf8')
      .replace('["10.0.3.17:15090", "10.0.5.22:15090"]', `["${target}"]`)
      .replace('scrape_interval: 15s', 'scrape_interval: 1s')
      .replace('scrape_timeout: 10s', 'scrape_timeout: 1s');
    writeFileSync(join(dir, 'variant.yaml'), variant);
    const { code } = await edotTa(
      ['sidecar', 'render', '--in', join(dir, 'variant.yaml'), '--out', join(dir, 'variant-out.yaml'), '--scrape-configs-out', join(dir, 'variant-sc.yaml')],
      { env: { ...process.env, CLUSTER_NAME: 'prod-eu' } },
    );
    expect(code).toBe(0);
    const { scrape_configs: jobs } = parse(readFileSync(join(dir, 'variant-sc.yaml'), 'utf8')) as { scrape_configs: Array<Record<string, unknown>> };
    // Debian's Prometheus has no kubernetes_sd; the sidecar serves those jobs' targets over http_sd anyway.
    const staticJobs = jobs.filter((job) => !('kubernetes_sd_configs' in job));
    expect(staticJobs.map((job) => job.job_name)).toEqual(['istio-ingressgateway']);
    prometheus = await Prometheus.start({ scrape_configs: staticJobs });
    await waitFor('the gateway target to be up', async () => (await prometheus!.targets('active')).activeTargets.some((t) => t.health === 'up'), { timeoutMs: 30_000 });
    const [up] = (await prometheus.targets('active')).activeTargets;
    expect(up!.labels).toMatchObject({ job: 'istio-ingressgateway', instance: target, cluster: 'prod-eu', gateway: 'ingress' });
    expect(up!.scrapeUrl).toBe(`http://${target}/stats/prometheus`);
    await waitFor('istio_requests_total to be stored', async () => (await prometheus!.query('istio_requests_total')).length === 1);
    // metric_relabel_configs moved along: envoy_server_uptime is dropped, as in the collector.
    expect(await prometheus.query('envoy_server_uptime')).toEqual([]);
  });
});

describe('mutated OpenTelemetryCollector CRs against the real apiserver', () => {
  const { apiextensions, custom } = clients();
  let namespace = '';

  beforeAll(async () => {
    // kubectl, not createCustomResourceDefinition: client-node's serializer only knows its own
    // property names (`_enum`, `x_kubernetes_preserve_unknown_fields`) and silently drops the raw
    // `enum` / `x-kubernetes-preserve-unknown-fields` keys of a parsed YAML file.
    await kubectl(['apply', '-f', fixture('crds/opentelemetry.io_opentelemetrycollectors.yaml')]);
    await waitFor('the OpenTelemetryCollector CRD to be established', async () => {
      const got = await apiextensions.readCustomResourceDefinition({ name: 'opentelemetrycollectors.opentelemetry.io' });
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    });
    namespace = await createTestNamespace('inject-cr');
  });

  for (const [file, version] of [['v1beta1-no-mode-ta-on.yaml', 'v1beta1'], ['v1alpha1-no-mode-ta-istio.yaml', 'v1alpha1']] as const) {
    it(`stores the mutated ${version} CR (${file}) as mutated`, async () => {
      const cr = parseCollectorCR(parse(readFileSync(fixture(`collector-crs/${file}`), 'utf8')));
      const { object } = mutateCollectorCR(cr, defaultCRSettings(), { operation: 'CREATE' });
      object.metadata.namespace = namespace;
      await waitFor('the CR to be accepted', async () => {
        await custom.createNamespacedCustomObject({ group: 'opentelemetry.io', version, namespace, plural: 'opentelemetrycollectors', body: object });
        return true;
      });
      const stored = (await custom.getNamespacedCustomObject({ group: 'opentelemetry.io', version, namespace, plural: 'opentelemetrycollectors', name: object.metadata.name! })) as typeof object;
      expect(stored.spec.mode).toBe('daemonset');
      expect(stored.spec.targetAllocator?.enabled).toBe(false);
      expect(stored.spec.podAnnotations?.['edot-ta.io/prometheus-cr']).toBe(object.spec.podAnnotations?.['edot-ta.io/prometheus-cr']);
      expect(stored.spec.config).toEqual(object.spec.config);
      expect(stored.metadata.annotations?.['edot-ta.io/status']).toBe(object.metadata.annotations?.['edot-ta.io/status']);
    });
  }

  it('rejects a mode outside the operator enum (the schema is enforced)', async () => {
    const body = { apiVersion: 'opentelemetry.io/v1beta1', kind: 'OpenTelemetryCollector', metadata: { name: 'bad-mode', namespace }, spec: { mode: 'cluster' } };
    await expect(custom.createNamespacedCustomObject({ group: 'opentelemetry.io', version: 'v1beta1', namespace, plural: 'opentelemetrycollectors', body })).rejects.toMatchObject({ code: 422 });
  });
});
