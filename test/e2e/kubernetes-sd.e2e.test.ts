// kubernetes_sd builders on objects a real kube-apiserver stored and returned: the fixture
// gateway pod, its Service and Endpoints are created in a test namespace (status set through the
// status subresource), read back with client-node, and must yield the same target groups as the
// fixture objects themselves (apart from the server-assigned uid and the namespace).
import { readFileSync } from 'node:fs';
import type { V1Endpoints, V1Pod, V1Service } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { endpointsTargetGroup, podTargetGroup, serviceTargetGroup } from '../../sidecar/discovery/kubernetes-sd.js';
import type { TargetGroup } from '../../sidecar/discovery/types.js';
import { clients, createTestNamespace } from '../harness/context.js';

const read = (file: string) => parseAllDocuments(readFileSync(new URL(`../fixtures/kubernetes-sd/${file}`, import.meta.url), 'utf8')).map((d) => d.toJSON());
const fixturePod = (read('pods.yaml') as V1Pod[]).find((p) => p.metadata?.name === 'istio-ingressgateway-7d4f9c8b6-x2x9p') as V1Pod;
const fixtureService = (read('services.yaml') as V1Service[]).find((s) => s.metadata?.name === 'istio-ingressgateway') as V1Service;
const fixtureEndpoints = (read('endpoints.yaml') as V1Endpoints[])[0] as V1Endpoints;

/** A group with the namespace and pod uid replaced, to compare cluster objects with fixtures. */
function normalized(group: TargetGroup, namespace: string, uid: string): TargetGroup {
  const fix = (labels: Record<string, string>) =>
    Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, v === uid ? '<uid>' : v.replaceAll(namespace, 'istio-system')]));
  return { ...group, source: group.source.replace(namespace, 'istio-system'), labels: fix(group.labels), targets: group.targets.map(fix) };
}

describe('kubernetes_sd builders on objects served by a real kube-apiserver', () => {
  const { core } = clients();
  let namespace = '';
  let pod: V1Pod;
  let service: V1Service;
  let endpoints: V1Endpoints;

  beforeAll(async () => {
    namespace = await createTestNamespace('ksd');
    const { ownerReferences: _owners, uid: _uid, namespace: _ns, ...podMeta } = fixturePod.metadata ?? {};
    // ownerReferences need a real owner uid; the apiserver keeps them as given (no GC controller runs).
    await core.createNamespacedPod({ namespace, body: { metadata: { ...podMeta, ownerReferences: fixturePod.metadata?.ownerReferences }, spec: fixturePod.spec } });
    const created = await core.readNamespacedPod({ name: podMeta.name ?? '', namespace });
    created.status = fixturePod.status;
    await core.replaceNamespacedPodStatus({ name: podMeta.name ?? '', namespace, body: created });
    pod = await core.readNamespacedPod({ name: podMeta.name ?? '', namespace });

    const { namespace: _sns, ...serviceMeta } = fixtureService.metadata ?? {};
    await core.createNamespacedService({ namespace, body: { metadata: serviceMeta, spec: { ...fixtureService.spec, clusterIP: undefined } } });
    service = await core.readNamespacedService({ name: serviceMeta.name ?? '', namespace });

    const subsets = JSON.parse(JSON.stringify(fixtureEndpoints.subsets).replaceAll('"istio-system"', JSON.stringify(namespace))) as V1Endpoints['subsets'];
    await core.createNamespacedEndpoints({ namespace, body: { metadata: { name: fixtureEndpoints.metadata?.name, labels: fixtureEndpoints.metadata?.labels }, subsets } });
    endpoints = await core.readNamespacedEndpoints({ name: fixtureEndpoints.metadata?.name ?? '', namespace });
  });

  it('role pod: the stored pod gives the fixture pod target group', () => {
    const fromCluster = normalized(podTargetGroup(pod), namespace, pod.metadata?.uid ?? '');
    const fromFixture = normalized(podTargetGroup(fixturePod), 'istio-system', fixturePod.metadata?.uid ?? '');
    expect(fromCluster).toEqual(fromFixture);
    expect(fromCluster.targets).toHaveLength(6);
  });

  it('role service: same targets, with the cluster IP the apiserver allocated', () => {
    const group = serviceTargetGroup(service);
    expect(group.targets.map((t) => t.__address__)).toEqual([`istio-ingressgateway.${namespace}.svc:15090`, `istio-ingressgateway.${namespace}.svc:15021`]);
    expect(group.targets[0]?.__meta_kubernetes_service_cluster_ip).toBe(service.spec?.clusterIP);
    expect(group.targets[0]?.__meta_kubernetes_service_cluster_ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(group.labels.__meta_kubernetes_service_label_istio).toBe('ingressgateway');
  });

  it('role endpoints: ready/not-ready addresses, pod labels from the stored pod, extra container ports', () => {
    const group = endpointsTargetGroup(endpoints, service, (ns, name) => (ns === namespace && name === pod.metadata?.name ? pod : undefined));
    const ready = group.targets.map((t) => [t.__address__, t.__meta_kubernetes_endpoint_ready ?? '-']);
    expect(ready).toEqual([
      ['10.244.1.17:15090', 'true'],
      ['192.168.50.9:15090', 'true'],
      ['10.244.2.5:15090', 'false'],
      ['10.244.9.9:15090', 'false'],
      ['10.244.3.3:9100', 'true'],
      ['10.244.1.17:15021', '-'],
      ['10.244.1.17:8080', '-'],
      ['10.244.1.17:9999', '-'],
    ]);
    expect(group.targets[0]).toMatchObject({
      __meta_kubernetes_pod_name: pod.metadata?.name,
      __meta_kubernetes_pod_uid: pod.metadata?.uid,
      __meta_kubernetes_pod_container_name: 'istio-proxy',
      __meta_kubernetes_pod_ready: 'true',
      __meta_kubernetes_endpoint_node_name: 'node-a',
    });
    expect(group.nodeNames?.[0]).toBe('node-a');
  });
});
