import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLogger } from '../../common/log.js';
import type { WatchScope, WatchedResource } from '../kube/scope.js';
import { parseSdConfig, transformFor, type ObjectStores } from './targets-sd.js';
import { gzipTargets, TargetEngine, type KeptTarget, type ScrapeConfig } from './targets.js';

const logger = createLogger({}, () => {});
const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/sidecar/${name}`, import.meta.url), 'utf8');
const envoyConfig = parse(fixture('envoy-stats-scrape-config.yaml')) as ScrapeConfig;
const gatewayPod = parse(fixture('istio-gateway-pod.yaml')) as Record<string, unknown>;

/** In-memory caches standing in for the informers: one map per resource, filtered by namespace. */
class MemoryStores implements ObjectStores {
  readonly byResource = new Map<WatchedResource, Map<string, unknown>>();
  put(resource: WatchedResource, object: { metadata: { name: string; namespace?: string; labels?: Record<string, string> } }): string {
    const key = object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name;
    const map = this.byResource.get(resource) ?? new Map<string, unknown>();
    this.byResource.set(resource, map);
    map.set(key, object);
    return key;
  }
  remove(resource: WatchedResource, key: string): void {
    this.byResource.get(resource)?.delete(key);
  }
  // Objects are cached as the informer of the scope would keep them (transformFor).
  get(scope: WatchScope, key: string): unknown {
    if (scope.namespace && !key.startsWith(`${scope.namespace}/`)) return undefined;
    const object = this.byResource.get(scope.resource)?.get(key);
    return object === undefined ? undefined : transformFor(scope)(structuredClone(object));
  }
  *entries(scope: WatchScope): Iterable<[string, unknown]> {
    for (const key of this.byResource.get(scope.resource)?.keys() ?? []) {
      if (!scope.namespace || key.startsWith(`${scope.namespace}/`)) yield [key, this.get(scope, key)];
    }
  }
}

function gateway(name: string, ip: string, extra: { node?: string; labels?: Record<string, string>; phase?: string } = {}) {
  const pod = structuredClone(gatewayPod) as { metadata: Record<string, unknown> & { name: string; namespace?: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status?: unknown };
  pod.metadata.name = name;
  pod.metadata.namespace = 'istio-system';
  pod.metadata.uid = `uid-${name}`;
  pod.metadata.labels = { ...pod.metadata.labels, ...extra.labels };
  pod.spec.nodeName = extra.node ?? 'node-a';
  pod.status = { phase: extra.phase ?? 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] };
  return pod;
}

function setup(configs: ScrapeConfig[] = [envoyConfig]) {
  const stores = new MemoryStores();
  const engine = new TargetEngine(stores, { ownNamespace: 'otel' }, logger);
  const problems = engine.setScrapeConfigs(configs);
  return { stores, engine, problems };
}

const answer = (engine: TargetEngine, job: string) => JSON.parse(engine.targetsAnswer(job)) as Array<{ targets: string[]; labels: Record<string, string> }>;
const envoyJob = envoyConfig.job_name;

describe('TargetEngine', () => {
  it('serves static_configs targets with their raw labels, without the discovery sections in the config', () => {
    const { engine } = setup([
      {
        job_name: 'static',
        metrics_path: '/stats/prometheus',
        static_configs: [{ targets: ['10.0.0.1:15090', '10.0.0.2:15090'], labels: { zone: 'a' } }],
        relabel_configs: [{ action: 'drop', source_labels: ['__address__'], regex: '10\\.0\\.0\\.2:.*' }],
      },
    ]);
    expect(answer(engine, 'static')).toEqual([{ targets: ['10.0.0.1:15090'], labels: { __address__: '10.0.0.1:15090', zone: 'a' } }]);
    expect(engine.scrapeConfigs()).toEqual({ static: { job_name: 'static', metrics_path: '/stats/prometheus', relabel_configs: [{ action: 'drop', source_labels: ['__address__'], regex: '10\\.0\\.0\\.2:.*' }] } });
    const keys = [...engine.allKeptTargets()].map((t) => t.key);
    expect(keys).toHaveLength(1);
    // The identity: the job and every final label outside __meta_ (as the Target Allocator hashes them).
    expect(keys[0]).toMatch(/^static\|__address__=10\.0\.0\.1:15090,__metrics_path__=\/stats\/prometheus,.*,job=static,zone=a$/);
    expect(engine.summary()).toMatchObject({ jobs: 1, kept: 1, dropped: 1 });
  });

  it('keeps only the istio-proxy metrics port of each pod, serving the kubernetes_sd labels its rules read and the pod node', () => {
    const { stores, engine } = setup();
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-0', '10.1.0.5', { node: 'node-b' })));
    const served = answer(engine, envoyJob);
    expect(served).toHaveLength(1);
    expect(served[0]?.targets).toEqual(['10.1.0.5:15090']);
    expect(served[0]?.labels).toMatchObject({
      __address__: '10.1.0.5:15090',
      __meta_kubernetes_namespace: 'istio-system',
      __meta_kubernetes_pod_name: 'gw-0',
      __meta_kubernetes_pod_container_name: 'istio-proxy',
      __meta_kubernetes_pod_container_port_name: 'http-envoy-prom',
      __meta_kubernetes_pod_annotationpresent_prometheus_io_scrape: 'true',
    });
    // Meta labels no rule reads are left out of the answer: Prometheus deletes them unread.
    expect(served[0]?.labels).not.toHaveProperty('__meta_kubernetes_pod_node_name');
    expect(Object.keys(served[0]?.labels ?? {}).filter((name) => name.startsWith('__meta_kubernetes_pod_label_'))).toEqual([]);
    const [target] = [...engine.allKeptTargets()];
    expect(target).toMatchObject({ job: envoyJob, nodeName: 'node-b' });
    expect(target?.key).toContain('__address__=10.1.0.5:15090,__metrics_path__=/stats/prometheus,');
    expect(engine.summary()).toMatchObject({ kept: 1, dropped: 3 }); // status-port, http2, https
  });

  it('updates one pod incrementally: a change, a completed pod and a deletion touch only that pod', () => {
    const { stores, engine } = setup();
    for (let i = 0; i < 5; i++) engine.onObjectChanged('pods', stores.put('pods', gateway(`gw-${i}`, `10.1.0.${i + 1}`)));
    expect(answer(engine, envoyJob)).toHaveLength(5);
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-2', '10.1.9.9')));
    expect(answer(engine, envoyJob).map((t) => t.targets[0])).toContain('10.1.9.9:15090');
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-3', '10.1.0.4', { phase: 'Succeeded' })));
    expect(answer(engine, envoyJob)).toHaveLength(4);
    stores.remove('pods', 'istio-system/gw-4');
    engine.onObjectChanged('pods', 'istio-system/gw-4');
    expect(answer(engine, envoyJob).map((t) => t.labels.__meta_kubernetes_pod_name).sort()).toEqual(['gw-0', 'gw-1', 'gw-2']);
    expect(engine.summary().keptByJob[envoyJob]).toBe(3);
  });

  it('keeps unchanged jobs as they are, recomputes a changed one, and names an invalid one without dropping the others', () => {
    const { stores, engine } = setup();
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-0', '10.1.0.1')));
    const first = engine.targetsAnswerGzip(envoyJob);
    const broken: ScrapeConfig = { job_name: 'broken', relabel_configs: [{ action: 'keep', source_labels: ['a'], regex: 'istio-(' }], static_configs: [{ targets: ['x:1'] }] };
    const problems = engine.setScrapeConfigs([envoyConfig, broken]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.job).toBe('broken');
    expect(problems[0]?.message).toMatch(/relabel_configs\[0\]\.regex/);
    expect(engine.jobNames()).toEqual([envoyJob]);
    expect(engine.targetsAnswerGzip(envoyJob)).toBe(first); // the same cached answer: nothing recomputed
    const changed = { ...envoyConfig, metrics_path: '/other' };
    engine.setScrapeConfigs([changed]);
    expect([...engine.allKeptTargets()][0]?.key).toContain('__address__=10.1.0.1:15090,__metrics_path__=/other,');
  });

  it('caches the gzipped answer until a target of the job changes', async () => {
    const { stores, engine } = setup();
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-0', '10.1.0.1')));
    const first = engine.targetsAnswerGzip(envoyJob);
    expect(JSON.parse(gunzipSync(await first).toString())).toEqual(answer(engine, envoyJob));
    expect(engine.targetsAnswerGzip(envoyJob)).toBe(first);
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-1', '10.1.0.2')));
    const second = await engine.targetsAnswerGzip(envoyJob);
    expect((JSON.parse(gunzipSync(second).toString()) as unknown[]).length).toBe(2);
    expect(gunzipSync(await gzipTargets([...engine.allKeptTargets()], 1)).toString()).toBe(engine.targetsAnswer(envoyJob));
  });

  it('serves only what the shard filter owns, and re-asks it when ownership changes', () => {
    const { stores, engine } = setup();
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-a', '10.1.0.1', { node: 'node-a' })));
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-b', '10.1.0.2', { node: 'node-b' })));
    let mine = 'node-a';
    const seen: KeptTarget[] = [];
    engine.setShardFilter({ owns: (t) => (seen.push(t), t.nodeName === mine) });
    expect(answer(engine, envoyJob).map((t) => t.labels.__meta_kubernetes_pod_name)).toEqual(['gw-a']);
    mine = 'node-b';
    engine.ownershipChanged();
    expect(answer(engine, envoyJob).map((t) => t.labels.__meta_kubernetes_pod_name)).toEqual(['gw-b']);
    expect(seen.every((t) => t.job === envoyJob && t.key.includes('__metrics_path__=/stats/prometheus'))).toBe(true);
    expect(engine.summary().owned).toBe(1);
  });

  const podRef = { kind: 'Pod', name: 'gw-0', namespace: 'istio-system' };
  it.each([
    {
      role: 'endpoints',
      resource: 'endpoints' as const,
      object: { metadata: { name: 'istio-ingressgateway', namespace: 'istio-system' }, subsets: [{ addresses: [{ ip: '10.1.0.1', nodeName: 'node-a', targetRef: podRef }], ports: [{ name: 'http-envoy-prom', port: 15090, protocol: 'TCP' }] }] },
    },
    {
      // The Service by the slice's kubernetes.io/service-name label.
      role: 'endpointslice',
      resource: 'endpointslices' as const,
      object: {
        metadata: { name: 'istio-ingressgateway-x1', namespace: 'istio-system', labels: { 'kubernetes.io/service-name': 'istio-ingressgateway' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true }, nodeName: 'node-a', targetRef: podRef }],
        ports: [{ name: 'http-envoy-prom', port: 15090, protocol: 'TCP' }],
      },
    },
  ])('computes role $role targets and recomputes them when the service or a referenced pod changes', ({ role, resource, object }) => {
    const portLabel = role === 'endpoints' ? '__meta_kubernetes_endpoint_port_name' : '__meta_kubernetes_endpointslice_port_name';
    const config: ScrapeConfig = {
      job_name: role,
      kubernetes_sd_configs: [{ role, namespaces: { names: ['istio-system'] } }],
      relabel_configs: [
        { action: 'keep', source_labels: [portLabel], regex: 'http-envoy-prom' },
        { action: 'labelmap', regex: '__meta_kubernetes_(service|pod)_label_(.+)', replacement: '$2' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      ],
    };
    const { stores, engine } = setup([config]);
    const podKey = stores.put('pods', gateway('gw-0', '10.1.0.1'));
    engine.onObjectChanged('pods', podKey);
    const service = { metadata: { name: 'istio-ingressgateway', namespace: 'istio-system', labels: { app: 'gw' } }, spec: { ports: [{ name: 'http-envoy-prom', port: 15090 }] } };
    engine.onObjectChanged('services', stores.put('services', service));
    engine.onObjectChanged(resource, stores.put(resource, object));
    expect(answer(engine, role).map((g) => g.targets)).toEqual([['10.1.0.1:15090']]);
    expect(answer(engine, role)[0]?.labels).toMatchObject({ __meta_kubernetes_service_label_app: 'gw', __meta_kubernetes_pod_name: 'gw-0' });
    expect([...engine.allKeptTargets()].map((t) => t.nodeName)).toEqual(['node-a']); // assigned with its node
    stores.put('services', { ...service, metadata: { ...service.metadata, labels: { app: 'gateway' } } });
    engine.onObjectChanged('services', 'istio-system/istio-ingressgateway');
    expect(answer(engine, role)[0]?.labels.__meta_kubernetes_service_label_app).toBe('gateway');
    stores.put('pods', gateway('gw-0', '10.1.0.1', { labels: { version: 'v2' } }));
    engine.onObjectChanged('pods', podKey);
    expect(answer(engine, role)[0]?.labels.__meta_kubernetes_pod_label_version).toBe('v2');
  });
});

describe('parseSdConfig', () => {
  it('turns namespaces, selectors and the covered-nodes pod scope into watch scopes', () => {
    const spec = parseSdConfig(
      { role: 'endpoints', namespaces: { names: ['a', 'b'], own_namespace: true }, selectors: [{ role: 'pod', label: 'app=gw', field: 'status.phase=Running' }] },
      { ownNamespace: 'otel', podNodes: 'covered' },
    );
    expect(spec.namespaces).toEqual(['a', 'b', 'otel']);
    expect(spec.scopes.get('pods')?.[0]).toEqual({ resource: 'pods', namespace: 'a', labelSelector: 'app=gw', fieldSelector: 'status.phase=Running', nodes: 'covered' });
    // Role pod caches target groups, not pods: its pod scope is a different informer.
    expect(parseSdConfig({ role: 'pod' }, { ownNamespace: 'otel' }).scopes.get('pods')?.[0]?.form).toBe('targetGroup');
    expect(spec.scopes.get('services')?.map((s) => s.namespace)).toEqual(['a', 'b', 'otel']);
    expect(spec.scopes.get('endpoints')?.[2]).toEqual({ resource: 'endpoints', namespace: 'otel', labelSelector: undefined, fieldSelector: undefined });
  });

  it('rejects roles and options it cannot honour', () => {
    expect(() => parseSdConfig({ role: 'gateway' }, { ownNamespace: 'x' })).toThrow(/role "gateway" is not supported \(pod, service, endpoints, endpointslice, node, ingress\)/);
    expect(() => parseSdConfig({ role: 'pod', api_server: 'https://elsewhere' }, { ownNamespace: 'x' })).toThrow(/api_server/);
  });

  it('attach_metadata node: the node\'s labels on a pod\'s targets, updated when the node\'s labels change', () => {
    const stores = new MemoryStores();
    const engine = new TargetEngine(stores, { ownNamespace: 'otel' }, logger);
    expect(engine.setScrapeConfigs([{
      job_name: 'pods',
      kubernetes_sd_configs: [{ role: 'pod', attach_metadata: { node: true } }],
      relabel_configs: [{ source_labels: ['__meta_kubernetes_node_label_topology_kubernetes_io_zone'], target_label: 'zone' }],
    }])).toEqual([]);
    const node = (zone: string, ready: string) => ({ metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': zone } }, status: { conditions: [{ type: 'Ready', status: ready }] } });
    engine.onObjectChanged('nodes', stores.put('nodes', node('eu-1a', 'True')));
    engine.onObjectChanged('pods', stores.put('pods', gateway('gw-0', '10.1.0.5')));
    const zones = () => answer(engine, 'pods').map((g) => g.labels.__meta_kubernetes_node_label_topology_kubernetes_io_zone);
    expect(zones()).toEqual(['eu-1a', 'eu-1a', 'eu-1a', 'eu-1a']); // one per container port
    engine.onObjectChanged('nodes', stores.put('nodes', node('eu-1b', 'True')));
    expect(zones()).toEqual(['eu-1b', 'eu-1b', 'eu-1b', 'eu-1b']);
    // Without attach_metadata the node's labels are not there.
    const plain = setup([{ job_name: 'pods', kubernetes_sd_configs: [{ role: 'pod' }], relabel_configs: [{ source_labels: ['__meta_kubernetes_node_label_topology_kubernetes_io_zone'], target_label: 'zone' }] }]);
    plain.engine.onObjectChanged('nodes', plain.stores.put('nodes', node('eu-1a', 'True')));
    plain.engine.onObjectChanged('pods', plain.stores.put('pods', gateway('gw-0', '10.1.0.5')));
    expect(answer(plain.engine, 'pods').map((g) => g.labels.__meta_kubernetes_node_label_topology_kubernetes_io_zone)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('role ingress: one target per rule host and path, https where a TLS entry (or its wildcard) covers the host', () => {
    const stores = new MemoryStores();
    const engine = new TargetEngine(stores, { ownNamespace: 'otel' }, logger);
    expect(engine.setScrapeConfigs([{
      job_name: 'ingresses',
      kubernetes_sd_configs: [{ role: 'ingress', namespaces: { names: ['web'] } }],
      // (The answer carries the meta labels the relabeling reads.)
      relabel_configs: [{ action: 'labelmap', regex: '__meta_kubernetes_(ingress_.+|namespace)' }],
    }])).toEqual([]);
    const key = stores.put('ingresses', {
      metadata: { name: 'shop', namespace: 'web', labels: { app: 'shop' } },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: ['*.example.com'] }],
        rules: [
          { host: 'shop.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: {} }, { path: '', pathType: 'Prefix', backend: {} }] } },
          { host: 'plain.example.org' },
        ],
      },
    } as never);
    engine.onObjectChanged('ingresses', key);
    const groups = answer(engine, 'ingresses');
    expect(groups.map((g) => g.targets[0]).sort()).toEqual(['plain.example.org', 'shop.example.com', 'shop.example.com']);
    expect(groups.map((g) => [g.labels.__meta_kubernetes_ingress_scheme, g.labels.__meta_kubernetes_ingress_path]).sort()).toEqual([['http', '/'], ['https', '/'], ['https', '/api']]);
    expect(groups[0]?.labels).toMatchObject({ __meta_kubernetes_namespace: 'web', __meta_kubernetes_ingress_name: 'shop', __meta_kubernetes_ingress_class_name: 'nginx', __meta_kubernetes_ingress_label_app: 'shop' });
  });
});

describe('TargetEngine with dns_sd, http_sd and file_sd (groups pushed by refresh loops)', () => {
  it('serves groups pushed by a dns/http/file refresh, relabeled like any other, without the discovery section; a refresh without a source removes its group', () => {
    const config: ScrapeConfig = {
      job_name: 'dns-exporters',
      dns_sd_configs: [{ names: ['_m._tcp.shop.example'] }],
      relabel_configs: [{ source_labels: ['__meta_dns_srv_record_port'], regex: '9100', action: 'keep' }],
    };
    const { engine, problems } = setup([config]);
    expect(problems).toEqual([]);
    const [entry] = engine.refreshEntries();
    expect(entry).toMatchObject({ job: 'dns-exporters', index: 0, spec: { kind: 'dns', names: ['_m._tcp.shop.example'] } });
    expect(engine.scrapeConfigs()['dns-exporters']).not.toHaveProperty('dns_sd_configs');
    const target = (host: string, port: string) => ({ __address__: `${host}:${port}`, __meta_dns_name: '_m._tcp.shop.example', __meta_dns_srv_record_target: `${host}.`, __meta_dns_srv_record_port: port });
    const group = { source: '_m._tcp.shop.example', targets: [target('a', '9100'), target('b', '9100'), target('c', '9200')], labels: {} };
    expect(engine.setRefreshedGroups(entry!, new Map([[group.source, group]]))).toBe(true);
    for (const served of answer(engine, 'dns-exporters')) expect(served.labels.__meta_dns_srv_record_port).toBe('9100');
    expect(answer(engine, 'dns-exporters').flatMap((g) => g.targets).sort()).toEqual(['a:9100', 'b:9100']);
    expect(engine.summary()).toMatchObject({ kept: 2, dropped: 1 });
    engine.setRefreshedGroups(entry!, new Map());
    expect(answer(engine, 'dns-exporters')).toEqual([]);
  });

  it('ignores groups from a refresh loop of an older version of the job, and keeps pushed groups across unrelated config changes', () => {
    const config: ScrapeConfig = { job_name: 'files', file_sd_configs: [{ files: ['/conf/*.json'] }] };
    const { engine } = setup([config]);
    const [old] = engine.refreshEntries();
    const group = { source: '/conf/a.json:0', targets: [{ __address__: '10.0.0.1:80' }], labels: { __meta_filepath: '/conf/a.json' } };
    engine.setRefreshedGroups(old!, new Map([[group.source, group]]));
    engine.setScrapeConfigs([config, { job_name: 'other', static_configs: [{ targets: ['x:1'] }] }]);
    expect(answer(engine, 'files').flatMap((g) => g.targets)).toEqual(['10.0.0.1:80']);
    engine.setScrapeConfigs([{ ...config, metrics_path: '/m' }]);
    expect(engine.setRefreshedGroups(old!, new Map([[group.source, group]]))).toBe(false);
    expect(answer(engine, 'files')).toEqual([]);
  });

  it('refuses a dns/http/file section Prometheus would refuse, naming the job', () => {
    const { problems } = setup([{ job_name: 'bad-dns', dns_sd_configs: [{ names: ['x'], type: 'A' }] }]);
    expect(problems).toEqual([{ job: 'bad-dns', message: 'not served, Prometheus would reject it: a port is required in DNS-SD configs for all record types except SRV' }]);
  });
});

describe('job stats (what a member reports on its Lease)', () => {
  it('counts each dropped target under the relabel rule that dropped it, across groups and within one', () => {
    const { engine, problems } = setup([
      {
        job_name: 'static',
        static_configs: [
          { targets: ['a:1', 'b:1', 'c:1', 'e:1'], labels: { env: 'prod' } },
          { targets: ['d:1'], labels: { env: 'dev' } },
        ],
        relabel_configs: [
          { source_labels: ['__address__'], regex: 'b:1', action: 'drop' },
          { source_labels: ['env'], regex: 'prod', action: 'keep' },
          { source_labels: ['__address__'], regex: 'c:1|e:1', action: 'drop' },
        ],
      },
      { job_name: 'no-address', static_configs: [{ targets: ['x:1'] }], relabel_configs: [{ action: 'labeldrop', regex: '__address__' }] },
    ]);
    expect(problems).toEqual([]);
    expect(engine.jobStats()).toEqual([
      { job: 'static', served: 1, kept: 1, dropped: 4, droppedBy: { 'relabel_configs[0]': 1, 'relabel_configs[1]': 1, 'relabel_configs[2]': 2 } },
      { job: 'no-address', served: 0, kept: 0, dropped: 1, droppedBy: { 'no __address__': 1 } },
    ]);
  });

  it('counts served targets as the shard filter decides', () => {
    const { engine } = setup([{ job_name: 'static', static_configs: [{ targets: ['a:1', 'b:1', 'c:1'] }] }]);
    engine.setShardFilter({ owns: (t: KeptTarget) => !t.key.includes('b:1') });
    expect(engine.jobStats()).toEqual([{ job: 'static', served: 2, kept: 3, dropped: 0, droppedBy: {} }]);
  });
});
