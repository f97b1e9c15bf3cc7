import { readFileSync } from 'node:fs';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { applyPatch, diffPatch } from '../admission/patch.js';
import { groupName, mutatePod } from './pod-mutation.js';
import { defaultInjectSettings } from '../settings.js';
import { parsePodStatus } from '../status.js';
import type { InjectSettings } from '../types.js';

const fixture = (name: string): V1Pod => parse(readFileSync(new URL(`../../test/fixtures/pods/${name}`, import.meta.url), 'utf8')) as V1Pod;
const settings = (overrides: Partial<InjectSettings> = {}): InjectSettings => ({ ...defaultInjectSettings(), sidecarImage: 'registry.example/edot-ta:test', ...overrides });
const container = (pod: V1Pod, name: string): V1Container | undefined => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === name);
const envOf = (c: V1Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));

/** A minimal collector pod: one container with the given image/command/args, config volume at /conf. */
function collectorPod(c: Partial<V1Container>, metadata: V1Pod['metadata'] = { name: 'c-0' }): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      containers: [{ name: 'collector', image: 'otel/opentelemetry-collector-contrib:0.115.1', volumeMounts: [{ name: 'cfg', mountPath: '/conf' }], ...c }],
      volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }],
    },
  };
}

describe('mutatePod on the operator-rendered EDOT daemon pod', () => {
  const original = fixture('edot-daemon-operator.yaml');
  const result = mutatePod(original, settings());
  const pod = result.pod;

  it('injects and rewrites --config=/conf/collector.yaml to the rendered file', () => {
    expect(result.injected).toBe(true);
    expect(container(pod, 'otc-container')?.args).toEqual(['--config=/edot-ta/0-collector.yaml']);
  });

  it('adds the render init container reading otc-internal read-only at /conf and writing into /edot-ta', () => {
    const render = pod.spec?.initContainers?.find((c) => c.name === 'edot-ta-render');
    expect(render?.image).toBe('registry.example/edot-ta:test');
    expect(render?.command).toEqual([
      'edot-ta', 'sidecar', 'render',
      '--in', '/conf/collector.yaml', '--out', '/edot-ta/0-collector.yaml',
      '--scrape-configs-out', '/edot-ta/scrape-configs.yaml',
      '--endpoint', 'http://127.0.0.1:27390',
      '--interval', '30s', '--refresh-interval', '10s',
      // per-pod env of the collector (fieldRefs): jobs reading it stay node-local in the collector
      '--pod-local-env=POD_NAME,OTEL_K8S_NODE_NAME',
      // the collector's ConfigMap mounts, which the sidecar mounts too: file_sd files there move to it
      '--shared-paths=/conf',
      '--token-out', '/edot-ta/token',
    ]);
    expect(render?.volumeMounts).toEqual([
      { name: 'otc-internal', mountPath: '/conf', readOnly: true },
      { name: 'edot-ta-config', mountPath: '/edot-ta' },
    ]);
    // The collector's env rides along so ${env:...} in moved scrape configs resolves as in the collector.
    expect(envOf(render).ELASTIC_AGENT_OTEL).toBe('"true"');
  });

  it('puts the sidecar first (no native sidecars) with a postStart hook that waits for /readyz', () => {
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['edot-ta', 'otc-container']);
    const sidecar = pod.spec!.containers[0]!;
    // The API token render writes into the pod's emptyDir: only this pod's collector can call the API.
    expect(sidecar.command).toEqual(['edot-ta', 'sidecar', 'serve', '--listen', '127.0.0.1:27390', '--scrape-configs', '/edot-ta/scrape-configs.yaml', '--token-file', '/edot-ta/token']);
    const hook = sidecar.lifecycle?.postStart?.exec?.command ?? [];
    expect(hook.slice(0, 2)).toEqual(['node', '-e']);
    expect(hook.slice(3)).toEqual(['http://127.0.0.1:27390/readyz', '120000', 'wait']);
    expect(sidecar.restartPolicy).toBeUndefined();
    expect(pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container']).toBe('otc-container');
  });

  it('gives the sidecar downward-API identity, the DaemonSet as group and the default prometheusCR', () => {
    const env = envOf(container(pod, 'edot-ta'));
    expect(env).toMatchObject({
      POD_NAME: 'metadata.name',
      POD_UID: 'metadata.uid',
      POD_NAMESPACE: 'metadata.namespace',
      NODE_NAME: 'spec.nodeName',
      EDOT_TA_GROUP: 'opentelemetry-kube-stack-daemon-collector',
    });
    expect(JSON.parse(String(env.EDOT_TA_PROMETHEUS_CR))).toEqual({ enabled: true, podMonitorSelector: {}, serviceMonitorSelector: {} });
  });

  it('runs the sidecar restricted and non-root although the pod runs as uid 0, with resources', () => {
    const sidecar = container(pod, 'edot-ta')!;
    expect(sidecar.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(sidecar.resources?.requests).toEqual({ cpu: '10m', memory: '64Mi' });
    expect(container(pod, 'edot-ta-render')?.securityContext?.runAsNonRoot).toBe(true);
  });

  it('mounts the rendered configs, the service account token and the collector\'s ConfigMap volume (read-only) into the sidecar', () => {
    expect(container(pod, 'edot-ta')?.volumeMounts).toEqual([
      { name: 'edot-ta-config', mountPath: '/edot-ta', readOnly: true },
      { name: 'kube-api-access-7x2lq', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
      { name: 'otc-internal', mountPath: '/conf', readOnly: true },
    ]);
    expect(container(pod, 'otc-container')?.volumeMounts?.at(-1)).toEqual({ name: 'edot-ta-config', mountPath: '/edot-ta', readOnly: true });
    expect(pod.spec?.volumes?.at(-1)).toEqual({ name: 'edot-ta-config', emptyDir: {} });
  });

  it('keeps the operator-set POD_NAME on the collector instead of adding a second one', () => {
    expect(container(pod, 'otc-container')?.env?.filter((e) => e.name === 'POD_NAME')).toHaveLength(1);
  });

  it('writes a status annotation naming everything it added, without env values', () => {
    const status = parsePodStatus(pod.metadata?.annotations?.['edot-ta.io/status']);
    expect(status).toMatchObject({
      sidecarImage: 'registry.example/edot-ta:test',
      sidecarPort: 27390,
      nativeSidecar: false,
      group: 'opentelemetry-kube-stack-daemon-collector',
      collectorContainer: 'otc-container',
      initContainers: ['edot-ta-render'],
      containers: ['edot-ta'],
      volumes: ['edot-ta-config'],
      configs: [{ from: '/conf/collector.yaml', to: '/edot-ta/0-collector.yaml' }],
      argsChanged: true,
    });
    expect(pod.metadata?.annotations?.['edot-ta.io/status']).not.toContain('elastic-secret-otel');
  });

  it('does not touch the input pod and its patch reproduces the mutated pod', () => {
    expect(original).toEqual(fixture('edot-daemon-operator.yaml'));
    const patch = diffPatch(original, pod);
    expect(applyPatch(original, patch)).toEqual(JSON.parse(JSON.stringify(pod)));
    // Readable: the sidecar is one add at /spec/containers/0, the collector is edited in place.
    expect(patch.map((op) => `${op.op} ${op.path}`)).toEqual([
      'add /metadata/annotations/edot-ta.io~1status',
      'add /metadata/annotations/kubectl.kubernetes.io~1default-container',
      'add /spec/containers/0',
      'replace /spec/containers/1/args/0',
      'add /spec/containers/1/volumeMounts/6',
      'add /spec/containers/1/lifecycle',
      'add /spec/volumes/6',
      'add /spec/terminationGracePeriodSeconds',
      'add /spec/initContainers',
    ]);
  });

  it('returns a pod that uses no object twice (no YAML aliases when `edot-ta inject` prints it)', () => {
    const shared: string[] = [];
    const walk = (node: unknown, path: string, seen: Set<object>) => {
      if (!node || typeof node !== 'object') return;
      if (seen.has(node)) shared.push(path);
      seen.add(node);
      for (const [key, value] of Object.entries(node)) walk(value, `${path}/${key}`, seen);
    };
    walk(pod, '', new Set());
    walk(mutatePod(pod, settings()).pod, '#reinvoked', new Set());
    expect(shared).toEqual([]);
  });

  it('is idempotent: a second pass changes nothing', () => {
    const again = mutatePod(pod, settings());
    expect(again.injected).toBe(false);
    expect(again.reason).toBe('already injected');
    expect(diffPatch(pod, again.pod)).toEqual([]);
  });

  it('gives the same answer on dryRun', () => {
    expect(mutatePod(original, settings(), { dryRun: true, namespace: 'opentelemetry-operator-system' })).toEqual(result);
  });
});

describe('mutatePod with native sidecars (Kubernetes >= 1.29)', () => {
  const pod = mutatePod(fixture('edot-daemon-operator.yaml'), settings({ nativeSidecars: true })).pod;

  it('adds the sidecar as an init container with restartPolicy Always after the render step', () => {
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['edot-ta-render', 'edot-ta']);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['otc-container']);
    const sidecar = container(pod, 'edot-ta')!;
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.lifecycle).toBeUndefined();
    expect(pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container']).toBeUndefined();
  });

  it('gates the collector on an exec startup probe of /readyz that fails open before the threshold', () => {
    const probe = container(pod, 'edot-ta')!.startupProbe!;
    expect(probe.exec?.command?.slice(3)).toEqual(['http://127.0.0.1:27390/readyz', '120000', 'probe']);
    expect(probe.httpGet).toBeUndefined(); // loopback-only listener: the kubelet cannot reach it
    expect((probe.periodSeconds ?? 0) * (probe.failureThreshold ?? 0)).toBeGreaterThan(120);
    const status = parsePodStatus(pod.metadata?.annotations?.['edot-ta.io/status']);
    expect(status).toMatchObject({ nativeSidecar: true, initContainers: ['edot-ta-render', 'edot-ta'], containers: [] });
  });
});

describe('mutatePod on other collector pods', () => {
  it('rewrites `--config <file>` of the Helm EDOT DaemonSet pod, adds POD_NAME, leaves --set alone', () => {
    const { pod, injected } = mutatePod(fixture('edot-daemonset-helm-pod.yaml'), settings());
    expect(injected).toBe(true);
    const collector = container(pod, 'edot-collector')!;
    expect(collector.args).toEqual(['--config', '/edot-ta/0-otel.yaml', '--set=service.telemetry.logs.level=info']);
    expect(collector.env?.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(envOf(container(pod, 'edot-ta')).EDOT_TA_GROUP).toBe('edot-collector');
    expect(container(pod, 'edot-ta-render')?.volumeMounts?.[0]).toEqual({ name: 'config', mountPath: '/etc/edot', readOnly: true });
  });

  it('groups an upstream collector Deployment pod by its Deployment (ReplicaSet name minus pod-template-hash)', () => {
    const { pod, injected } = mutatePod(fixture('upstream-collector-deployment-pod.yaml'), settings());
    expect(injected).toBe(true);
    expect(envOf(container(pod, 'edot-ta')).EDOT_TA_GROUP).toBe('otel-gateway-opentelemetry-collector');
    expect(container(pod, 'opentelemetry-collector')?.command).toEqual(['/otelcol-contrib']);
    expect(container(pod, 'opentelemetry-collector')?.args).toEqual(['--config=/edot-ta/0-relay.yaml']);
  });

  it('leaves a non-collector pod (nginx) exactly as it was', () => {
    const original = fixture('nginx.yaml');
    const result = mutatePod(original, settings());
    expect(result.injected).toBe(false);
    expect(result.reason).toMatch(/not a collector/);
    expect(diffPatch(original, result.pod)).toEqual([]);
  });

  it('treats elastic-agent without ELASTIC_AGENT_OTEL=true as a normal agent, and `otel` in the command as a collector', () => {
    const agent = collectorPod({ image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.3', args: ['--config', '/conf/otel.yml'] });
    expect(mutatePod(agent, settings())).toMatchObject({ injected: false, reason: expect.stringMatching(/ELASTIC_AGENT_OTEL/) });
    const otel = collectorPod({ image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.3', command: ['/usr/share/elastic-agent/elastic-agent', 'otel', '--config', '/conf/otel.yml'] });
    const result = mutatePod(otel, settings());
    expect(result.injected).toBe(true);
    expect(container(result.pod, 'collector')?.command).toEqual(['/usr/share/elastic-agent/elastic-agent', 'otel', '--config', '/edot-ta/0-otel.yml']);
  });

  it('recognises the elastic-otel-collector image and custom image patterns', () => {
    expect(mutatePod(collectorPod({ image: 'docker.elastic.co/elastic-agent/elastic-otel-collector:9.1.3', args: ['--config=/conf/c.yaml'] }), settings()).injected).toBe(true);
    const custom = collectorPod({ image: 'registry.corp:5000/obs/my-otelcol:1.0', args: ['--config=/conf/c.yaml'] });
    expect(mutatePod(custom, settings()).injected).toBe(false);
    expect(mutatePod(custom, settings({ collectorImagePatterns: ['*/obs/my-otelcol'] })).injected).toBe(true);
  });
});

describe('mutatePod takes only strict values', () => {
  const annotated = (annotations: Record<string, string>) => collectorPod({ args: ['--config=/conf/otel.yaml'] }, { name: 'c-0', annotations });

  it.each([' 80 ', '0x50', '1e3', '80.0', '0', '65536', '-1'])('refuses port annotation %j with a warning (default port kept)', (value) => {
    const result = mutatePod(annotated({ 'edot-ta.io/port': value }), settings());
    expect(result.injected).toBe(true);
    expect(result.warnings.join()).toMatch(/is not a port number \(digits, 1-65535\); using 27390/);
    expect(parsePodStatus(result.pod.metadata?.annotations?.['edot-ta.io/status'])?.sidecarPort).toBe(27390);
  });

  it('refuses a prometheus-cr annotation whose enabled is not a boolean, instead of reading "yes" as off', () => {
    const result = mutatePod(annotated({ 'edot-ta.io/prometheus-cr': '{"enabled":"yes"}' }), settings());
    expect(result.warnings.join()).toMatch(/prometheusCR.enabled: must be true or false, got "yes"\); using the webhook default/);
  });

  it('normalizes config paths: /conf/../../etc/passwd is not on the config volume', () => {
    const result = mutatePod(collectorPod({ args: ['--config=/conf/../../etc/passwd'] }), settings());
    expect(result.injected).toBe(false);
    expect(result.warnings.join()).toMatch(/--config \/etc\/passwd is not on a mounted volume/);
    const relative = mutatePod(collectorPod({ workingDir: '/conf/sub', args: ['--config', '../otel.yaml'] }), settings());
    expect(container(relative.pod, 'edot-ta-render')?.command).toEqual(expect.arrayContaining(['/conf/otel.yaml']));
  });

  it.each([
    ['a volumeMount without mountPath', (pod: V1Pod) => (pod.spec!.containers[0]!.volumeMounts = [{ name: 'cfg' } as never])],
    ['a null container', (pod: V1Pod) => pod.spec!.containers.push(null as never)],
    ['an env value that is not a string', (pod: V1Pod) => (pod.spec!.containers[0]!.env = [{ name: 'A', value: 3 as never }])],
    ['an ownerReference without a name', (pod: V1Pod) => (pod.metadata!.ownerReferences = [{ kind: 'DaemonSet' } as never])],
  ])('leaves a malformed pod (%s) to the API server to reject, without crashing', (_name, breakIt) => {
    const pod = collectorPod({ args: ['--config=/conf/otel.yaml'] });
    breakIt(pod);
    const result = mutatePod(pod, settings());
    expect(result.injected).toBe(false);
    expect(result.reason).toMatch(/^not injected: .* \(the API server will say more\)$/);
  });

  it('keeps warnings and the status annotation bounded when a value is huge', () => {
    const result = mutatePod(annotated({ 'edot-ta.io/port': 'x'.repeat(200_000), 'edot-ta.io/pod-scope': 'y'.repeat(200_000) }), settings());
    for (const warning of result.warnings) expect(warning.length).toBeLessThanOrEqual(512);
    expect(result.pod.metadata?.annotations?.['edot-ta.io/status']?.length).toBeLessThan(4_096);
  });

  it('does not inject when the injected pod would be larger than the API server accepts (a 20k-entry env copied into the render step)', () => {
    const env = Array.from({ length: 20_000 }, (_, i) => ({ name: `VAR_${i}`, value: `value-${'v'.repeat(30)}-${i}` }));
    const result = mutatePod(collectorPod({ args: ['--config=/conf/otel.yaml'], env }), settings());
    expect(result.injected).toBe(false);
    expect(result.warnings.join()).toMatch(/the injected pod would be \d+ bytes, above the 1400000 the API server accepts/);
    expect(diffPatch(collectorPod({ args: ['--config=/conf/otel.yaml'], env }), result.pod)).toEqual([]);
  });
});

describe('mutatePod shares the collector\'s ConfigMap volumes with the sidecar', () => {
  it('mounts ConfigMap volumes (not hostPath, not on system paths like /etc) read-only into the sidecar and names them to render', () => {
    const pod = collectorPod({
      args: ['--config=/conf/otel.yaml'],
      volumeMounts: [{ name: 'cfg', mountPath: '/conf' }, { name: 'targets', mountPath: '/etc/targets' }, { name: 'etc', mountPath: '/etc' }, { name: 'host', mountPath: '/host-targets' }],
    });
    pod.spec!.volumes = [{ name: 'cfg', configMap: { name: 'cfg' } }, { name: 'targets', configMap: { name: 'targets' } }, { name: 'etc', configMap: { name: 'etc' } }, { name: 'host', hostPath: { path: '/var/targets' } }];
    const out = mutatePod(pod, settings()).pod;
    expect(container(out, 'edot-ta')?.volumeMounts?.filter((m) => !['edot-ta-config'].includes(m.name))).toEqual([
      { name: 'cfg', mountPath: '/conf', readOnly: true },
      { name: 'targets', mountPath: '/etc/targets', readOnly: true },
    ]);
    expect(container(out, 'edot-ta-render')?.command).toContain('--shared-paths=/conf,/etc/targets');
  });
});

describe('mutatePod --config forms', () => {
  it('rewrites several --config files (file: URIs keep their scheme) and leaves env:, yaml:, http: sources with warnings', () => {
    const pod = collectorPod({
      args: [
        '--config=file:/conf/base.yaml',
        '--config',
        '/conf/extra/prometheus.yaml',
        '--config=env:OTEL_CONFIG',
        '--config=yaml:receivers::prometheus::config::global::scrape_interval: 15s',
        '--config=https://config.example/otel.yaml',
        '--set=receivers::prometheus::config::global::scrape_timeout=5s',
        '--feature-gates=-pkg.translator.prometheus.NormalizeName',
      ],
    });
    const { pod: out, warnings } = mutatePod(pod, settings());
    expect(container(out, 'collector')?.args).toEqual([
      '--config=file:/edot-ta/0-base.yaml',
      '--config',
      '/edot-ta/1-prometheus.yaml',
      '--config=env:OTEL_CONFIG',
      '--config=yaml:receivers::prometheus::config::global::scrape_interval: 15s',
      '--config=https://config.example/otel.yaml',
      '--set=receivers::prometheus::config::global::scrape_timeout=5s',
      '--feature-gates=-pkg.translator.prometheus.NormalizeName',
    ]);
    expect(container(out, 'edot-ta-render')?.command).toEqual(expect.arrayContaining(['/conf/base.yaml', '/edot-ta/0-base.yaml', '/conf/extra/prometheus.yaml', '/edot-ta/1-prometheus.yaml']));
    // One mount for both files: /conf holds /conf/extra too.
    expect(container(out, 'edot-ta-render')?.volumeMounts).toEqual([{ name: 'cfg', mountPath: '/conf', readOnly: true }, { name: 'edot-ta-config', mountPath: '/edot-ta' }]);
    expect(warnings.join('\n')).toMatch(/--config env: source is not a file/);
    expect(warnings.join('\n')).toMatch(/--config https: source is not a file/);
    expect(warnings.join('\n')).toMatch(/yaml:.*mentions prometheus/);
    expect(warnings.join('\n')).toMatch(/--set receivers::prometheus/);
  });

  it('mounts a subPath config mount the same way in the render step', () => {
    const pod = collectorPod({ args: ['--config=/etc/otelcol/config.yaml'], volumeMounts: [{ name: 'cfg', mountPath: '/etc/otelcol/config.yaml', subPath: 'config.yaml' }] });
    const out = mutatePod(pod, settings()).pod;
    expect(container(out, 'edot-ta-render')?.volumeMounts?.[0]).toEqual({ name: 'cfg', mountPath: '/etc/otelcol/config.yaml', subPath: 'config.yaml', readOnly: true });
  });

  it('does not rewrite a config the non-root render step could not read (mode 0400), unless an fsGroup makes it group-readable', () => {
    const pod = collectorPod({ args: ['--config=/conf/otel.yaml'] });
    pod.spec!.volumes = [{ name: 'cfg', secret: { secretName: 'otel-config', defaultMode: 0o400 } }];
    const refused = mutatePod(pod, settings());
    expect(refused.injected).toBe(false);
    expect(refused.warnings.join()).toMatch(/mode 0400, which the render step \(non-root\) cannot read/);
    pod.spec!.volumes = [{ name: 'cfg', configMap: { name: 'otel', defaultMode: 0o600, items: [{ key: 'otel.yaml', path: 'otel.yaml', mode: 0o440 }] } }];
    expect(mutatePod(pod, settings()).injected).toBe(false);
    pod.spec!.securityContext = { fsGroup: 2000 };
    expect(mutatePod(pod, settings()).injected).toBe(true);
  });

  it('resolves a relative --config against workingDir', () => {
    const out = mutatePod(collectorPod({ workingDir: '/conf', args: ['--config', 'otel.yaml'] }), settings()).pod;
    expect(container(out, 'collector')?.args).toEqual(['--config', '/edot-ta/0-otel.yaml']);
    expect(container(out, 'edot-ta-render')?.workingDir).toBe('/conf');
  });

  it('does not inject when no --config file can be read by the render step, and says why', () => {
    const baked = collectorPod({ args: ['--config=/etc/otelcol-contrib/config.yaml'] });
    const result = mutatePod(baked, settings());
    expect(result.injected).toBe(false);
    expect(result.reason).toMatch(/no --config file on a mounted volume/);
    expect(result.warnings.join('\n')).toMatch(/not on a mounted volume/);
    expect(mutatePod(collectorPod({ args: [] }), settings()).injected).toBe(false);
    expect(mutatePod(collectorPod({ args: ['--config=$(CONFIG_FILE)'] }), settings()).warnings.join()).toMatch(/\$\(VAR\)/);
  });
});

describe('mutatePod annotations and settings', () => {
  it('respects the opt-out annotation edot-ta.io/inject: "false"', () => {
    const pod = fixture('edot-daemon-operator.yaml');
    pod.metadata!.annotations!['edot-ta.io/inject'] = 'false';
    const result = mutatePod(pod, settings());
    expect(result).toMatchObject({ injected: false, reason: expect.stringMatching(/opted out/) });
    expect(diffPatch(pod, result.pod)).toEqual([]);
  });

  it('takes the port from edot-ta.io/port, warns on a bad value and on a port clash', () => {
    const pod = fixture('edot-daemon-operator.yaml');
    pod.metadata!.annotations!['edot-ta.io/port'] = '29999';
    expect(container(mutatePod(pod, settings()).pod, 'edot-ta')?.command).toContain('127.0.0.1:29999');
    pod.metadata!.annotations!['edot-ta.io/port'] = 'ninety';
    const bad = mutatePod(pod, settings({ sidecarPort: 28000 }));
    expect(container(bad.pod, 'edot-ta')?.command).toContain('127.0.0.1:28000');
    expect(bad.warnings.join()).toMatch(/not a port number/);
    pod.metadata!.annotations!['edot-ta.io/port'] = '8888';
    expect(mutatePod(pod, settings()).warnings.join()).toMatch(/port 8888 is also declared by container otc-container/);
  });

  it('pod scope auto (the default): node for a DaemonSet\'s pods, cluster for a Deployment\'s (a few replicas would each watch many nodes)', () => {
    const scope = (file: string, context = {}) => parsePodStatus(mutatePod(fixture(file), settings(), context).pod.metadata?.annotations?.['edot-ta.io/status'])?.podScope;
    expect(scope('edot-daemon-operator.yaml')).toBe('node');
    expect(scope('upstream-collector-deployment-pod.yaml')).toBe('cluster');
    expect(container(mutatePod(fixture('upstream-collector-deployment-pod.yaml'), settings()).pod, 'edot-ta')?.command?.join(' ')).toContain('--pod-scope cluster');
  });

  it('runs the sidecar with --pod-scope node from the setting or the edot-ta.io/pod-scope annotation, and records it in the status', () => {
    const pod = fixture('edot-daemon-operator.yaml');
    const scopeOf = (result: ReturnType<typeof mutatePod>) => {
      const command = container(result.pod, 'edot-ta')?.command ?? [];
      const flag = command.indexOf('--pod-scope');
      return { flag: flag < 0 ? 'node (default)' : command[flag + 1], status: parsePodStatus(result.pod.metadata?.annotations?.['edot-ta.io/status'])?.podScope };
    };
    expect(scopeOf(mutatePod(pod, settings()))).toEqual({ flag: 'node (default)', status: 'node' });
    expect(scopeOf(mutatePod(pod, settings({ sidecarPodScope: 'cluster' })))).toEqual({ flag: 'cluster', status: 'cluster' });
    pod.metadata!.annotations!['edot-ta.io/pod-scope'] = 'cluster';
    expect(scopeOf(mutatePod(pod, settings()))).toEqual({ flag: 'cluster', status: 'cluster' });
    pod.metadata!.annotations!['edot-ta.io/pod-scope'] = 'node';
    expect(scopeOf(mutatePod(pod, settings({ sidecarPodScope: 'cluster' })))).toEqual({ flag: 'node (default)', status: 'node' });
    pod.metadata!.annotations!['edot-ta.io/pod-scope'] = 'zone';
    const bad = mutatePod(pod, settings({ sidecarPodScope: 'cluster' }));
    expect(scopeOf(bad)).toEqual({ flag: 'cluster', status: 'cluster' });
    expect(bad.warnings.join()).toMatch(/edot-ta.io\/pod-scope="zone" is not cluster or node; using cluster/);
  });

  it('passes edot-ta.io/prometheus-cr to the sidecar as EDOT_TA_PROMETHEUS_CR, and omits it when there is no default', () => {
    const pod = fixture('edot-daemon-operator.yaml');
    const cr = { enabled: true, podMonitorSelector: { matchLabels: { team: 'mesh' } }, scrapeInterval: '15s' };
    pod.metadata!.annotations!['edot-ta.io/prometheus-cr'] = JSON.stringify(cr);
    expect(JSON.parse(String(envOf(container(mutatePod(pod, settings()).pod, 'edot-ta')).EDOT_TA_PROMETHEUS_CR))).toEqual(cr);
    pod.metadata!.annotations!['edot-ta.io/prometheus-cr'] = '{not json';
    expect(mutatePod(pod, settings()).warnings.join()).toMatch(/prometheus-cr is not usable \(EDOT_TA_PROMETHEUS_CR is not valid JSON/);
    // Valid JSON the sidecar would refuse (and stop on) falls back to the default too.
    pod.metadata!.annotations!['edot-ta.io/prometheus-cr'] = '{"enabled":true,"podMonitorSelector":{"matchExpressions":[{"key":"a","operator":"Like"}]}}';
    const refused = mutatePod(pod, settings());
    expect(refused.warnings.join()).toMatch(/prometheus-cr is not usable \(.*Like/);
    expect(JSON.parse(String(envOf(container(refused.pod, 'edot-ta')).EDOT_TA_PROMETHEUS_CR))).toEqual({ enabled: true, podMonitorSelector: {}, serviceMonitorSelector: {} });
    delete pod.metadata!.annotations!['edot-ta.io/prometheus-cr'];
    expect(envOf(container(mutatePod(pod, settings({ defaultPrometheusCR: '' })).pod, 'edot-ta'))).not.toHaveProperty('EDOT_TA_PROMETHEUS_CR');
  });

  it('uses a custom sidecar command, node binary, pull policy and timeout everywhere', () => {
    const s = settings({ sidecarCommand: ['/nodejs/bin/node', '/app/dist/cli/main.js'], nodeBinary: '/nodejs/bin/node', imagePullPolicy: 'Always', readyTimeoutSeconds: 30 });
    const pod = mutatePod(fixture('edot-daemon-operator.yaml'), s).pod;
    expect(container(pod, 'edot-ta')?.command?.slice(0, 4)).toEqual(['/nodejs/bin/node', '/app/dist/cli/main.js', 'sidecar', 'serve']);
    expect(container(pod, 'edot-ta-render')?.command?.slice(0, 4)).toEqual(['/nodejs/bin/node', '/app/dist/cli/main.js', 'sidecar', 'render']);
    expect(container(pod, 'edot-ta')?.lifecycle?.postStart?.exec?.command?.[0]).toBe('/nodejs/bin/node');
    expect(container(pod, 'edot-ta')?.lifecycle?.postStart?.exec?.command?.[4]).toBe('30000');
    expect(container(pod, 'edot-ta')?.imagePullPolicy).toBe('Always');
  });

  it('matches operator pods by label selector when the image is unknown (custom EDOT build)', () => {
    const pod = fixture('edot-daemon-operator.yaml');
    pod.spec!.containers[0]!.image = 'registry.corp/edot/custom-build:1';
    const result = mutatePod(pod, settings());
    expect(result.injected).toBe(true);
    expect(mutatePod(pod, settings({ collectorPodSelector: [] })).injected).toBe(false);
  });
});

describe('mutatePod on malformed input (admission runs before validation)', () => {
  it('skips pods without spec or containers instead of throwing', () => {
    expect(mutatePod({ metadata: { name: 'x' } }, settings())).toMatchObject({ injected: false, reason: 'pod has no spec.containers' });
    expect(mutatePod({ spec: {} as V1Pod['spec'] }, settings())).toMatchObject({ injected: false });
    expect(mutatePod({ spec: { containers: [{ name: 'c' }] } }, settings())).toMatchObject({ injected: false, reason: expect.stringMatching(/not a collector/) });
  });
});

describe('groupName', () => {
  it('prefers the workload, then the controller owner, then the operator instance label', () => {
    const pod: V1Pod = { metadata: { name: 'p', labels: { 'app.kubernetes.io/instance': 'obs.daemon' } } };
    expect(groupName(pod)).toBe('obs.daemon');
    expect(groupName(pod, { workload: { kind: 'DaemonSet', name: 'edot' } })).toBe('edot');
    pod.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'edot-sts', uid: 'u', controller: true }];
    expect(groupName(pod)).toBe('edot-sts');
    pod.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gw-7f9c8d6b5', uid: 'u', controller: true }];
    expect(groupName(pod)).toBe('gw');
  });

  it('always yields a valid label value', () => {
    expect(groupName({ metadata: { name: 'x', generateName: `${'a'.repeat(80)}-` } })).toHaveLength(63);
    expect(groupName({ metadata: { name: '-weird name_' } })).toBe('weird-name');
  });
});

describe('mutatePod leaves its input unchanged', () => {
  const deepFreeze = <T>(value: T): T => {
    if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
      Object.freeze(value);
      for (const child of Object.values(value)) deepFreeze(child);
    }
    return value;
  };
  const pods: Array<[string, V1Pod]> = [
    ...['edot-daemon-operator.yaml', 'edot-daemonset-helm-pod.yaml', 'upstream-collector-deployment-pod.yaml', 'nginx.yaml'].map((name) => [name, fixture(name)] as [string, V1Pod]),
    ['collector with its own preStop, env and several --config', collectorPod({ args: ['--config=/conf/a.yaml', '--config', 'file:/conf/b.yaml'], env: [{ name: 'X', value: '1' }], lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } } })],
  ];

  it.each(pods)('%s: a deep-frozen pod injects exactly like an unfrozen copy, and the patch turns the input into the result', (_name, pod) => {
    for (const nativeSidecars of [false, true]) {
      const frozen = deepFreeze(structuredClone(pod));
      const result = mutatePod(frozen, settings({ nativeSidecars })); // ESM is strict: a write into the input would throw
      expect(result).toEqual(mutatePod(structuredClone(pod), settings({ nativeSidecars })));
      expect(frozen).toEqual(pod);
      expect(applyPatch(pod, diffPatch(frozen, result.pod))).toEqual(JSON.parse(JSON.stringify(result.pod)));
    }
  });
});
