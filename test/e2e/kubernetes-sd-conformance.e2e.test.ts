// kubernetes_sd roles pod, service, endpoints and endpointslice against Prometheus's own
// discovery code, both reading the same objects from the real kube-apiserver: the gateway pod,
// its Service, its Endpoints (fixture: a VM address, pods that are gone) and an EndpointSlice
// written by the test (no controller-manager runs) with two ports, a pod-backed endpoint
// (conditions, node, zone, hostname) and an address without a target reference. The oracle is
// the discovery/kubernetes package of the Prometheus module the collector's prometheus receiver
// is built with (bin/prometheus-sd from test/harness/build/collector/sd-dump; Debian's
// Prometheus 2.42 has no kubernetes_sd); its target groups must equal what our builders make
// of the objects the apiserver returns — and the real sidecar, running a job with role
// endpointslice, serves the same addresses.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1EndpointSlice, V1Endpoints, V1Pod, V1Service } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { attachNodeMetadata, endpointSliceTargetGroup, endpointsTargetGroup, ingressTargetGroup, podTargetGroup, serviceTargetGroup } from '../../sidecar/discovery/kubernetes-sd.js';
import type { Labels, TargetGroup } from '../../sidecar/discovery/types.js';
import { clients, clusterEndpoints, createTestNamespace, kubectl, setPodRunning } from '../harness/context.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../harness/processes.js';
import { tool } from '../harness/tools.js';
import { sidecarServiceAccount } from './support/service-accounts.js';
import { startSidecarProcess } from './support/sidecar.js';

const read = (file: string) => parseAllDocuments(readFileSync(new URL(`../fixtures/kubernetes-sd/${file}`, import.meta.url), 'utf8')).map((d) => d.toJSON());
const fixturePod = (read('pods.yaml') as V1Pod[]).find((p) => p.metadata?.name === 'istio-ingressgateway-7d4f9c8b6-x2x9p') as V1Pod;
const fixtureService = (read('services.yaml') as V1Service[]).find((s) => s.metadata?.name === 'istio-ingressgateway') as V1Service;
const fixtureEndpoints = (read('endpoints.yaml') as V1Endpoints[])[0] as V1Endpoints;

/** Only what discovery decides: the address and the `__meta_` labels (Prometheus adds job, scheme, ...). */
const discovered = (labels: Labels) => Object.fromEntries(Object.entries(labels).filter(([k]) => k === '__address__' || k.startsWith('__meta_')).sort(([a], [b]) => (a < b ? -1 : 1)));
const canonical = (sets: Labels[]) => sets.map((l) => JSON.stringify(discovered(l))).sort();

describe('kubernetes_sd: the same targets and labels as Prometheus\'s own discovery on the same apiserver', () => {
  const { core, kc } = clients();
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-endpointslice-e2e-'));
  let namespace = '';
  const oracles: ManagedProcess[] = [];
  /** Prometheus's endpointslice groups: group labels merged into each target's. */
  let theirs: Labels[] = [];
  let sidecar: ManagedProcess | undefined;
  const job = 'slices';
  const podIP = '10.14.0.1'; // EndpointSlices refuse loopback addresses; nothing is scraped here

  beforeAll(async () => {
    namespace = await createTestNamespace('slices');
    const { uid: _uid, namespace: _ns, ownerReferences: _owners, ...podMeta } = fixturePod.metadata ?? {};
    await core.createNamespacedPod({ namespace, body: { metadata: podMeta, spec: fixturePod.spec } });
    await setPodRunning(namespace, podMeta.name ?? '', podIP, '127.0.0.1');
    const { uid: _suid, namespace: _sns, resourceVersion: _rv, creationTimestamp: _ct, ...serviceMeta } = fixtureService.metadata ?? {};
    const { clusterIP: _ip, clusterIPs: _ips, ...serviceSpec } = fixtureService.spec ?? {};
    await core.createNamespacedService({ namespace, body: { metadata: serviceMeta, spec: serviceSpec } });
    const slice: V1EndpointSlice = {
      metadata: {
        name: 'istio-ingressgateway-abc12',
        labels: { 'kubernetes.io/service-name': 'istio-ingressgateway', 'endpointslice.kubernetes.io/managed-by': 'e2e.edot-ta.io' },
        annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-12-01T10:00:00Z' },
      },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: [podIP],
          conditions: { ready: true, serving: true, terminating: false },
          hostname: 'gw-0',
          nodeName: fixturePod.spec?.nodeName ?? 'node-a',
          zone: 'zone-a',
          targetRef: { kind: 'Pod', name: podMeta.name ?? '', namespace },
        },
        { addresses: ['10.14.0.9'], conditions: { ready: false } },
      ],
      ports: [
        { name: 'http2', port: 8080, protocol: 'TCP', appProtocol: 'http' },
        { name: 'status-port', port: 15021, protocol: 'TCP' },
      ],
    };
    await discovery.createNamespacedEndpointSlice({ namespace, body: slice });
    // The fixture Endpoints, its gateway pod at the pod's address here.
    const { namespace: _ens, ...endpointsMeta } = fixtureEndpoints.metadata ?? {};
    const subsets = JSON.parse(JSON.stringify(fixtureEndpoints.subsets).replaceAll('10.244.1.17', podIP).replaceAll('"istio-system"', JSON.stringify(namespace))) as V1Endpoints['subsets'];
    await core.createNamespacedEndpoints({ namespace, body: { metadata: endpointsMeta, subsets } });
    // A pod whose two containers declare the same port number, behind its own Endpoints and
    // EndpointSlice (no Service): which container labels the target is Prometheus's rule.
    const twinIP = '10.14.0.2';
    await core.createNamespacedPod({ namespace, body: { metadata: { name: 'twin' }, spec: { nodeName: 'node-a', containers: [
      { name: 'first', image: 'registry.k8s.io/pause:3.10', ports: [{ name: 'first-port', containerPort: 8080, protocol: 'TCP' }] },
      { name: 'second', image: 'registry.k8s.io/pause:3.10', ports: [{ name: 'second-port', containerPort: 8080, protocol: 'UDP' }] },
    ] } } });
    await setPodRunning(namespace, 'twin', twinIP, '127.0.0.1');
    const twinRef = { kind: 'Pod', name: 'twin', namespace };
    await core.createNamespacedEndpoints({ namespace, body: { metadata: { name: 'twin' }, subsets: [{ addresses: [{ ip: twinIP, targetRef: twinRef }], ports: [{ name: 'app', port: 8080, protocol: 'TCP' }] }] } });
    await discovery.createNamespacedEndpointSlice({ namespace, body: { metadata: { name: 'twin-x1' }, addressType: 'IPv4', endpoints: [{ addresses: [twinIP], targetRef: twinRef }], ports: [{ name: 'app', port: 8080, protocol: 'TCP' }] } });
  });

  /** Prometheus's target groups for `role` in the test namespace, group labels merged into each target. */
  async function prometheusTargets(role: string, expected: number, extra: Record<string, unknown> = {}): Promise<Labels[]> {
    const name = `${role}${Object.keys(extra).length ? '-attach' : ''}`;
    const config = join(dir, `sd-${name}.yaml`);
    writeFileSync(config, stringify({ role, kubeconfig_file: clusterEndpoints().kubeconfigPath, namespaces: { names: [namespace] }, ...extra }));
    const log = join(dir, `prometheus-sd-${name}.log`);
    const proc = startProcess(`prometheus-sd-${name}`, tool('prometheus-sd'), ['--config', config], { logFile: log });
    oracles.push(proc);
    let targets: Labels[] = [];
    await waitFor(`Prometheus discovers role ${role}`, async () => {
      // One JSON line per update (the whole state); stderr lines are logfmt.
      const last = readFileSync(log, 'utf8').split('\n').filter((line) => line.startsWith('[')).at(-1);
      const groups = last ? (JSON.parse(last) as Array<{ labels: Labels; targets: Labels[] }>) : [];
      targets = groups.flatMap((g) => g.targets.map((t) => ({ ...g.labels, ...t })));
      return targets.length >= expected;
    }, { timeoutMs: 60_000, abortIf: proc.exited, describe: () => proc.tail() });
    return targets;
  }

  const merged = (groups: Array<TargetGroup | undefined>) => groups.flatMap((g) => (g ? g.targets.map((target) => ({ ...g.labels, ...target })) : []));

  it.each(['pod', 'service', 'endpoints'])('role %s: the same label sets as Prometheus', async (role) => {
    const pods = (await core.listNamespacedPod({ namespace })).items;
    const service = await core.readNamespacedService({ name: 'istio-ingressgateway', namespace });
    const lookup = (ns: string, name: string) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name);
    const ours = role === 'pod'
      ? merged(pods.map(podTargetGroup))
      : role === 'service'
        ? merged([serviceTargetGroup(service)])
        : merged((await core.listNamespacedEndpoints({ namespace })).items.map((endpoints) => endpointsTargetGroup(endpoints, endpoints.metadata?.name === 'istio-ingressgateway' ? service : undefined, lookup)));
    expect(ours.length).toBeGreaterThan(0);
    expect(canonical(ours)).toEqual(canonical(await prometheusTargets(role, ours.length)));
  });

  afterAll(async () => {
    await Promise.all(oracles.map((o) => o.stop()));
    await sidecar?.stop();
  });

  it.each(['pod', 'endpoints', 'endpointslice'] as const)('role %s with attach_metadata node: the node\'s name, labels and annotations as Prometheus adds them', async (role) => {
    // The node the fixture pod runs on, with a label and an annotation of its own.
    const nodeName = fixturePod.spec?.nodeName ?? 'node-a';
    // (Not a topology.kubernetes.io label: the apiserver copies those onto pods bound to the node.)
    await kubectl(['label', 'node', nodeName, 'e2e.edot-ta.io/rack=r42', '--overwrite']);
    await kubectl(['annotate', 'node', nodeName, 'edot-ta.io/conformance=attach', '--overwrite']);
    // Every Node of the apiserver, as Prometheus's node informer sees them (other tests register some).
    const nodes = new Map((await core.listNode()).items.map((n) => [n.metadata?.name ?? '', n]));
    const lookupNode = (name: string) => nodes.get(name);
    const pods = (await core.listNamespacedPod({ namespace })).items;
    const service = await core.readNamespacedService({ name: 'istio-ingressgateway', namespace });
    const lookup = (ns: string, name: string) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name);
    const groups = role === 'pod'
      ? pods.map(podTargetGroup)
      : role === 'endpoints'
        ? (await core.listNamespacedEndpoints({ namespace })).items.map((endpoints) => endpointsTargetGroup(endpoints, endpoints.metadata?.name === 'istio-ingressgateway' ? service : undefined, lookup))
        : (await discovery.listNamespacedEndpointSlice({ namespace })).items.map((slice) => endpointSliceTargetGroup(slice, slice.metadata?.labels?.['kubernetes.io/service-name'] ? service : undefined, lookup));
    const ours = merged(groups.map((group) => attachNodeMetadata(role, group, lookupNode)));
    expect(ours.some((labels) => labels.__meta_kubernetes_node_annotation_edot_ta_io_conformance === 'attach')).toBe(true);
    expect(canonical(ours)).toEqual(canonical(await prometheusTargets(role, ours.length, { attach_metadata: { node: true } })));
  });

  it('role ingress: the same label sets as Prometheus (per rule host and path; https under a TLS wildcard; class name; a rule without http paths)', async () => {
    const networking = kc.makeApiClient(k8s.NetworkingV1Api);
    const backend = { service: { name: 'istio-ingressgateway', port: { number: 80 } } };
    await networking.createNamespacedIngress({
      namespace,
      body: {
        metadata: { name: 'shop', labels: { app: 'shop', 'app.kubernetes.io/part-of': 'store' }, annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/' } },
        spec: {
          ingressClassName: 'nginx',
          tls: [{ hosts: ['*.example.com'], secretName: 'wildcard-tls' }],
          rules: [
            { host: 'shop.example.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend }, { path: '/', pathType: 'Prefix', backend }] } },
            { host: 'a.b.example.com', http: { paths: [{ path: '/deep', pathType: 'Exact', backend }] } },
            { host: 'plain.example.org' },
          ],
        },
      },
    });
    await networking.createNamespacedIngress({ namespace, body: { metadata: { name: 'legacy-class', annotations: { 'kubernetes.io/ingress.class': 'traefik' } }, spec: { defaultBackend: backend, rules: [{ host: 'old.example.net', http: { paths: [{ pathType: 'ImplementationSpecific', backend }] } }] } } });
    const ours = merged((await networking.listNamespacedIngress({ namespace })).items.map(ingressTargetGroup));
    expect(ours.length).toBe(5);
    expect(canonical(ours)).toEqual(canonical(await prometheusTargets('ingress', ours.length)));
  });

  it('role endpointslice: the same label sets as Prometheus (group labels: slice, address type, Service; targets: ports, conditions, node, zone, pod)', async () => {
    const slices = (await discovery.listNamespacedEndpointSlice({ namespace })).items;
    const service = await core.readNamespacedService({ name: 'istio-ingressgateway', namespace });
    const pods = (await core.listNamespacedPod({ namespace })).items;
    const lookup = (ns: string, name: string) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name);
    const ours = merged(slices.map((slice) => endpointSliceTargetGroup(slice, slice.metadata?.labels?.['kubernetes.io/service-name'] ? service : undefined, lookup)));
    theirs = await prometheusTargets('endpointslice', ours.length);
    expect(canonical(ours)).toEqual(canonical(theirs));
  });

  it('the sidecar (under its ServiceAccount) serves a job with role endpointslice, the same addresses, and a ServiceMonitor through EndpointSlices by default (as the Target Allocator), or through Endpoints when the monitor says so', async () => {
    // The gateway ServiceMonitor of the fixtures, here, on the slice's status-port.
    const monitor = parseAllDocuments(readFileSync(new URL('../fixtures/monitors/gateway-servicemonitor.yaml', import.meta.url), 'utf8'))[0]!.toJSON() as { metadata: { namespace?: string }; spec: { namespaceSelector?: unknown; endpoints: Array<Record<string, unknown>> } };
    monitor.metadata.namespace = namespace;
    monitor.spec.namespaceSelector = { matchNames: [namespace] };
    monitor.spec.endpoints = [{ port: 'status-port', path: '/healthz/ready' }];
    await clients().custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'servicemonitors', body: monitor });
    // The same monitor asking for the Endpoints role itself (prometheus-operator's spec.serviceDiscoveryRole).
    const byEndpoints = { ...monitor, metadata: { ...monitor.metadata, name: 'istio-gateways-endpoints' }, spec: { ...monitor.spec, serviceDiscoveryRole: 'Endpoints' } };
    await clients().custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'servicemonitors', body: byEndpoints });
    const kubeconfig = await sidecarServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir });
    const scrapeConfigs = join(dir, 'scrape-configs.yaml');
    writeFileSync(scrapeConfigs, stringify({ scrape_configs: [
      { job_name: job, kubernetes_sd_configs: [{ role: 'endpointslice', namespaces: { names: [namespace] } }] },
      { job_name: 'ingresses', kubernetes_sd_configs: [{ role: 'ingress', namespaces: { names: [namespace] } }] },
      {
        job_name: 'pods-with-node',
        kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] }, attach_metadata: { node: true } }],
        relabel_configs: [{ source_labels: ['__meta_kubernetes_node_label_e2e_edot_ta_io_rack'], target_label: 'rack' }],
      },
    ] }));
    const created = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'collector' }, spec: { nodeName: fixturePod.spec?.nodeName ?? 'node-a', containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } } });
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    sidecar = startSidecarProcess({
      name: 'slices',
      logFile: join(dir, 'sidecar.log'),
      port,
      args: ['--scrape-configs', scrapeConfigs],
      kubeconfig,
      pod: { name: 'collector', uid: created.metadata?.uid ?? '', namespace, node: fixturePod.spec?.nodeName ?? 'node-a' },
      group: `${namespace}/edot`,
      env: {
        EDOT_TA_LEASE_RENEW_SECONDS: '1',
        EDOT_TA_LEASE_DURATION_SECONDS: '4',
        // No serviceDiscoveryRole: EndpointSlice, since this API server serves discovery.k8s.io/v1.
        EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, serviceMonitorSelector: {}, allowNamespaces: [namespace] }),
      },
    });
    const proc = sidecar;
    await waitFor('sidecar ready', async () => (await fetch(`${endpoint}/readyz`).catch(() => undefined))?.ok ?? false, { timeoutMs: 60_000, abortIf: proc.exited, describe: () => proc.tail() });
    const addresses = theirs.map((labels) => labels.__address__ ?? '').sort();
    let served: string[] = [];
    await waitFor('the sidecar serves every slice target', async () => {
      const res = await fetch(`${endpoint}/jobs/${job}/targets?collector_id=collector`);
      served = ((await res.json()) as Array<{ targets: string[] }>).flatMap((g) => g.targets).sort();
      return JSON.stringify(served) === JSON.stringify(addresses);
    }, { timeoutMs: 30_000, describe: () => `served ${JSON.stringify(served)}, Prometheus ${JSON.stringify(addresses)}` });
    // The ServiceMonitor's job: the slice's status-port endpoints, with the slice labels its
    // relabeling (kept in /scrape_configs, applied by the receiver) reads.
    const monitorJob = `serviceMonitor/${namespace}/istio-gateways/0`;
    let groups: Array<{ targets: string[]; labels: Labels }> = [];
    await waitFor('the ServiceMonitor job serves the status-port endpoints', async () => {
      const res = await fetch(`${endpoint}/jobs/${encodeURIComponent(monitorJob)}/targets?collector_id=collector`);
      groups = res.ok ? ((await res.json()) as typeof groups) : [];
      return JSON.stringify(groups.flatMap((g) => g.targets).sort()) === JSON.stringify([`${podIP}:15021`, '10.14.0.9:15021']);
    }, { timeoutMs: 30_000, describe: () => JSON.stringify(groups) });
    const podTarget = groups.find((g) => g.targets[0] === `${podIP}:15021`);
    expect(podTarget?.labels).toMatchObject({
      __meta_kubernetes_endpointslice_port_name: 'status-port',
      __meta_kubernetes_endpointslice_address_target_kind: 'Pod',
      __meta_kubernetes_endpointslice_address_target_name: fixturePod.metadata?.name,
      __meta_kubernetes_service_name: 'istio-ingressgateway',
    });
    const configs = (await (await fetch(`${endpoint}/scrape_configs`)).json()) as Record<string, { relabel_configs?: Array<{ action?: string; source_labels?: string[]; regex?: string }> }>;
    expect(configs[monitorJob]?.relabel_configs).toContainEqual({ action: 'keep', source_labels: ['__meta_kubernetes_endpointslice_port_name'], regex: 'status-port' });
    // The ingress job (role ingress, under the shipped RBAC): every rule host and path of the test's Ingresses.
    const ingressTargets = ((await (await fetch(`${endpoint}/jobs/ingresses/targets?collector_id=collector`)).json()) as Array<{ targets: string[] }>).flatMap((g) => g.targets).sort();
    expect(ingressTargets).toEqual(['a.b.example.com', 'old.example.net', 'plain.example.org', 'shop.example.com', 'shop.example.com']);
    // attach_metadata through the sidecar (a Node watch, metadata only): the rack label of the pod's node.
    const withNode = (await (await fetch(`${endpoint}/jobs/pods-with-node/targets?collector_id=collector`)).json()) as Array<{ targets: string[]; labels: Labels }>;
    const gateway = withNode.find((g) => g.targets[0]?.startsWith(`${podIP}:`));
    expect(gateway?.labels.__meta_kubernetes_node_label_e2e_edot_ta_io_rack).toBe('r42');
    expect(configs[`serviceMonitor/${namespace}/istio-gateways-endpoints/0`]?.relabel_configs).toContainEqual({ action: 'keep', source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: 'status-port' });
  });
});
