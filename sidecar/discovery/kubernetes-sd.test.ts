import { readFileSync } from 'node:fs';
import type { V1EndpointSlice, V1Endpoints, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { endpointSliceTargetGroup, endpointsTargetGroup, joinHostPort, nodeTargetGroup, podTargetGroup, sanitizeLabelName, serviceTargetGroup } from './kubernetes-sd.js';

function fixture<T>(file: string): T[] {
  const text = readFileSync(new URL(`../../test/fixtures/kubernetes-sd/${file}`, import.meta.url), 'utf8');
  return parseAllDocuments(text).map((doc) => doc.toJSON() as T);
}
const pods = fixture<V1Pod>('pods.yaml');
const byName = <T extends { metadata?: { name?: string } }>(list: T[], name: string): T => {
  const found = list.find((o) => o.metadata?.name === name);
  if (!found) throw new Error(`fixture ${name} missing`);
  return found;
};
const gateway = byName(pods, 'istio-ingressgateway-7d4f9c8b6-x2x9p');
const m = '__meta_kubernetes_';

describe('kubernetes_sd role pod', () => {
  const group = podTargetGroup(gateway);

  it('puts the pod-level meta labels on the group, with sanitised label and annotation names', () => {
    expect(group.source).toBe('pod/istio-system/istio-ingressgateway-7d4f9c8b6-x2x9p');
    expect(group.labels).toEqual({
      [`${m}namespace`]: 'istio-system',
      [`${m}pod_name`]: 'istio-ingressgateway-7d4f9c8b6-x2x9p',
      [`${m}pod_ip`]: '10.244.1.17',
      [`${m}pod_ready`]: 'true',
      [`${m}pod_phase`]: 'Running',
      [`${m}pod_node_name`]: 'node-a',
      [`${m}pod_host_ip`]: '192.168.0.11',
      [`${m}pod_uid`]: '6f1c2d3e-0000-4000-8000-000000000001',
      [`${m}pod_controller_kind`]: 'ReplicaSet',
      [`${m}pod_controller_name`]: 'istio-ingressgateway-7d4f9c8b6',
      [`${m}pod_label_app`]: 'istio-ingressgateway',
      [`${m}pod_labelpresent_app`]: 'true',
      [`${m}pod_label_app_kubernetes_io_name`]: 'istio-ingressgateway',
      [`${m}pod_labelpresent_app_kubernetes_io_name`]: 'true',
      [`${m}pod_label_pod_template_hash`]: '7d4f9c8b6',
      [`${m}pod_labelpresent_pod_template_hash`]: 'true',
      [`${m}pod_annotation_prometheus_io_scrape`]: 'true',
      [`${m}pod_annotationpresent_prometheus_io_scrape`]: 'true',
      [`${m}pod_annotation_prometheus_io_port`]: '15020',
      [`${m}pod_annotationpresent_prometheus_io_port`]: 'true',
      [`${m}pod_annotation_prometheus_io_path`]: '/stats/prometheus',
      [`${m}pod_annotationpresent_prometheus_io_path`]: 'true',
    });
  });

  it('makes one target per container port, a bare-IP target per port-less container, init containers last', () => {
    expect(group.targets.map((t) => [t.__address__, t[`${m}pod_container_name`], t[`${m}pod_container_init`]])).toEqual([
      ['10.244.1.17:15090', 'istio-proxy', 'false'],
      ['10.244.1.17:15021', 'istio-proxy', 'false'],
      ['10.244.1.17:8080', 'istio-proxy', 'false'],
      ['10.244.1.17', 'log-shipper', 'false'],
      ['10.244.1.17', 'istio-init', 'true'],
      ['10.244.1.17:9999', 'warmup', 'true'],
    ]);
  });

  it('labels a port target with container id, image and port name/number/protocol (empty name for unnamed ports)', () => {
    expect(group.targets[0]).toEqual({
      __address__: '10.244.1.17:15090',
      [`${m}pod_container_name`]: 'istio-proxy',
      [`${m}pod_container_id`]: 'containerd://bbb222',
      [`${m}pod_container_image`]: 'docker.io/istio/proxyv2:1.24.0',
      [`${m}pod_container_port_number`]: '15090',
      [`${m}pod_container_port_name`]: 'http-envoy-prom',
      [`${m}pod_container_port_protocol`]: 'TCP',
      [`${m}pod_container_init`]: 'false',
    });
    expect(group.targets[2]?.[`${m}pod_container_port_name`]).toBe('');
    // Port-less container: address only, no port labels; init container id from initContainerStatuses.
    expect(group.targets[4]).toEqual({
      __address__: '10.244.1.17',
      [`${m}pod_container_name`]: 'istio-init',
      [`${m}pod_container_id`]: 'containerd://aaa111',
      [`${m}pod_container_image`]: 'docker.io/istio/proxyv2:1.24.0',
      [`${m}pod_container_init`]: 'true',
    });
    // No status for the warmup container: empty id, as Prometheus.
    expect(group.targets[5]?.[`${m}pod_container_id`]).toBe('');
  });

  it('reports the node of every target outside the labels', () => {
    expect(group.nodeNames).toEqual(Array(6).fill('node-a'));
  });

  it('gives a pod without IP an empty group (no targets)', () => {
    const pending = podTargetGroup(byName(pods, 'pending-0'));
    expect(pending).toEqual({ source: 'pod/istio-system/pending-0', targets: [], labels: {}, nodeNames: [] });
  });

  it('still lists a terminating pod, not ready, with its controller', () => {
    const terminating = podTargetGroup(byName(pods, 'terminating-0'));
    expect(terminating.targets.map((t) => t.__address__)).toEqual(['10.244.2.5:9090']);
    expect(terminating.labels[`${m}pod_ready`]).toBe('false');
    expect(terminating.labels[`${m}pod_controller_kind`]).toBe('StatefulSet');
  });

  it('still lists a completed pod (phase Succeeded, ready unknown), IPv6 address in brackets, non-controller owner ignored', () => {
    const done = podTargetGroup(byName(pods, 'migrate-abcde'));
    expect(done.targets.map((t) => t.__address__)).toEqual(['[fd00::17]:8080']);
    expect(done.labels[`${m}pod_phase`]).toBe('Succeeded');
    expect(done.labels[`${m}pod_ready`]).toBe('unknown');
    expect(done.labels[`${m}pod_controller_kind`]).toBeUndefined();
  });

  it('does not mutate the pod', () => {
    const copy = structuredClone(gateway);
    podTargetGroup(gateway);
    expect(gateway).toEqual(copy);
  });
});

describe('kubernetes_sd role service', () => {
  const services = fixture<V1Service>('services.yaml');

  it('makes one target per port at <name>.<ns>.svc with type, cluster IP and load balancer IPs', () => {
    const group = serviceTargetGroup(byName(services, 'istio-ingressgateway'));
    expect(group.source).toBe('svc/istio-system/istio-ingressgateway');
    expect(group.labels).toEqual({
      [`${m}namespace`]: 'istio-system',
      [`${m}service_name`]: 'istio-ingressgateway',
      [`${m}service_label_app`]: 'istio-ingressgateway',
      [`${m}service_labelpresent_app`]: 'true',
      [`${m}service_label_istio`]: 'ingressgateway',
      [`${m}service_labelpresent_istio`]: 'true',
      [`${m}service_annotation_service_beta_kubernetes_io_aws_load_balancer_type`]: 'nlb',
      [`${m}service_annotationpresent_service_beta_kubernetes_io_aws_load_balancer_type`]: 'true',
    });
    expect(group.targets[0]).toEqual({
      __address__: 'istio-ingressgateway.istio-system.svc:15090',
      [`${m}service_port_name`]: 'http-envoy-prom',
      [`${m}service_port_number`]: '15090',
      [`${m}service_port_protocol`]: 'TCP',
      [`${m}service_type`]: 'LoadBalancer',
      [`${m}service_cluster_ip`]: '10.96.12.34',
      [`${m}service_loadbalancer_ip`]: '203.0.113.10,203.0.113.11',
    });
    expect(group.targets).toHaveLength(2);
  });

  it('labels an unnamed port with an empty name and an ExternalName service with its external name', () => {
    const metrics = serviceTargetGroup(byName(services, 'metrics'));
    expect(metrics.targets).toEqual([
      {
        __address__: 'metrics.apps.svc:9100',
        [`${m}service_port_name`]: '',
        [`${m}service_port_number`]: '9100',
        [`${m}service_port_protocol`]: 'TCP',
        [`${m}service_type`]: 'ClusterIP',
        [`${m}service_cluster_ip`]: '10.96.0.50',
      },
    ]);
    const external = serviceTargetGroup(byName(services, 'external-db'));
    expect(external.targets[0]?.[`${m}service_external_name`]).toBe('db.example.com');
    expect(external.targets[0]?.[`${m}service_cluster_ip`]).toBeUndefined();
  });
});

describe('kubernetes_sd role endpoints', () => {
  const [endpoints] = fixture<V1Endpoints>('endpoints.yaml');
  const service = byName(fixture<V1Service>('services.yaml'), 'istio-ingressgateway');
  const lookup = (ns: string, name: string) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name);
  const group = endpointsTargetGroup(endpoints as V1Endpoints, service, lookup);
  const target = (address: string) => group.targets.find((t) => t.__address__ === address);

  it('carries namespace, service and endpoints object labels on the group', () => {
    expect(group.source).toBe('endpoints/istio-system/istio-ingressgateway');
    expect(group.labels[`${m}namespace`]).toBe('istio-system');
    expect(group.labels[`${m}service_name`]).toBe('istio-ingressgateway');
    expect(group.labels[`${m}service_label_istio`]).toBe('ingressgateway');
    expect(group.labels[`${m}endpoints_name`]).toBe('istio-ingressgateway');
    expect(group.labels[`${m}endpoints_label_app`]).toBe('istio-ingressgateway');
  });

  it('lists ready and not-ready addresses for every port, then uncovered container ports of the pods', () => {
    expect(group.targets.map((t) => [t.__address__, t[`${m}endpoint_ready`] ?? '-'])).toEqual([
      ['10.244.1.17:15090', 'true'],
      ['192.168.50.9:15090', 'true'],
      ['10.244.2.5:15090', 'false'],
      ['10.244.9.9:15090', 'false'],
      ['10.244.3.3:9100', 'true'],
      // extra targets: gateway pod ports that no endpoint port covers (containers, then init)
      ['10.244.1.17:15021', '-'],
      ['10.244.1.17:8080', '-'],
      ['10.244.1.17:9999', '-'],
      // the terminating pod's only port 9090 is not covered either
      ['10.244.2.5:9090', '-'],
    ]);
  });

  it('adds pod labels and the matching container port to an address backed by a pod', () => {
    expect(target('10.244.1.17:15090')).toMatchObject({
      [`${m}endpoint_port_name`]: 'http-envoy-prom',
      [`${m}endpoint_port_protocol`]: 'TCP',
      [`${m}endpoint_address_target_kind`]: 'Pod',
      [`${m}endpoint_address_target_name`]: 'istio-ingressgateway-7d4f9c8b6-x2x9p',
      [`${m}endpoint_node_name`]: 'node-a',
      [`${m}pod_name`]: 'istio-ingressgateway-7d4f9c8b6-x2x9p',
      [`${m}pod_label_app`]: 'istio-ingressgateway',
      [`${m}pod_container_name`]: 'istio-proxy',
      [`${m}pod_container_port_name`]: 'http-envoy-prom',
      [`${m}pod_container_port_number`]: '15090',
      [`${m}pod_container_init`]: 'false',
    });
    // Endpoints targets carry no container id (Prometheus sets it only for role pod).
    expect(target('10.244.1.17:15090')?.[`${m}pod_container_id`]).toBeUndefined();
  });

  it('keeps an address without a pod with its hostname and node name, and no pod labels', () => {
    expect(target('192.168.50.9:15090')).toEqual({
      __address__: '192.168.50.9:15090',
      [`${m}endpoint_port_name`]: 'http-envoy-prom',
      [`${m}endpoint_port_protocol`]: 'TCP',
      [`${m}endpoint_ready`]: 'true',
      [`${m}endpoint_hostname`]: 'vm-gateway',
      [`${m}endpoint_node_name`]: 'node-z',
    });
    // A pod reference that is not in the cache: target kind/name only.
    expect(target('10.244.9.9:15090')?.[`${m}endpoint_address_target_name`]).toBe('gone-0');
    expect(target('10.244.9.9:15090')?.[`${m}pod_name`]).toBeUndefined();
  });

  it('labels an unnamed endpoint port with an empty name', () => {
    expect(target('10.244.3.3:9100')?.[`${m}endpoint_port_name`]).toBe('');
  });

  it('labels the extra container-port targets like role pod, without endpoint labels', () => {
    const extra = target('10.244.1.17:9999');
    expect(extra?.[`${m}pod_container_name`]).toBe('warmup');
    expect(extra?.[`${m}pod_container_init`]).toBe('true');
    expect(extra?.[`${m}endpoint_ready`]).toBeUndefined();
    expect(extra?.[`${m}pod_ready`]).toBe('true');
  });

  it('reports the node behind each target: the pod node, else the address nodeName', () => {
    expect(group.nodeNames).toEqual(['node-a', 'node-z', 'node-b', undefined, undefined, 'node-a', 'node-a', 'node-a', 'node-b']);
  });

  it('works without the service (no service labels)', () => {
    const bare = endpointsTargetGroup(endpoints as V1Endpoints, undefined, () => undefined);
    expect(bare.labels[`${m}service_name`]).toBeUndefined();
    expect(bare.targets).toHaveLength(5);
  });
});

describe('kubernetes_sd role node', () => {
  it('targets the first InternalIP at the kubelet port with conditions and every address type', () => {
    const [node] = fixture<V1Node>('nodes.yaml');
    const group = nodeTargetGroup(node as V1Node);
    expect(group?.targets).toEqual([
      {
        __address__: '192.168.0.11:10250',
        instance: 'node-a',
        [`${m}node_address_Hostname`]: 'node-a',
        [`${m}node_address_InternalIP`]: '192.168.0.11',
      },
    ]);
    expect(group?.labels).toMatchObject({
      [`${m}node_name`]: 'node-a',
      [`${m}node_provider_id`]: 'aws:///eu-west-1a/i-0123',
      [`${m}node_condition_ready`]: 'true',
      [`${m}node_condition_memorypressure`]: 'false',
      [`${m}node_label_topology_kubernetes_io_zone`]: 'eu-west-1a',
    });
    expect(group?.nodeNames).toEqual(['node-a']);
  });

  it('skips a node without any address', () => {
    expect(nodeTargetGroup({ metadata: { name: 'x' }, status: {} })).toBeUndefined();
  });
});

describe('helpers', () => {
  it('sanitises label names like Prometheus and joins IPv6 hosts in brackets', () => {
    expect(sanitizeLabelName('app.kubernetes.io/name')).toBe('app_kubernetes_io_name');
    expect(sanitizeLabelName('ünï-côde')).toBe('_n__c_de');
    expect(sanitizeLabelName('a🙂b')).toBe('a_b');
    expect(joinHostPort('::1', 80)).toBe('[::1]:80');
  });
});

describe('roles endpoints and endpointslice: the container port an endpoint port points at', () => {
  // Two containers declaring the same port number: Prometheus labels the target with the last
  // one (each container's first match, a later container overwrites an earlier one).
  const pod: V1Pod = {
    metadata: { name: 'twin', namespace: 'ns', uid: 'u' },
    spec: { containers: [{ name: 'first', image: 'a', ports: [{ name: 'first-port', containerPort: 8080, protocol: 'TCP' }] }, { name: 'second', image: 'b', ports: [{ name: 'second-port', containerPort: 8080, protocol: 'UDP' }] }] },
    status: { podIP: '10.0.0.9' },
  };
  const ref = { kind: 'Pod', name: 'twin', namespace: 'ns' };
  const lookup = () => pod;

  it('endpoints: the last container with the port, labeled with the endpoint port\'s protocol', () => {
    const endpoints: V1Endpoints = { metadata: { name: 'twin', namespace: 'ns' }, subsets: [{ addresses: [{ ip: '10.0.0.9', targetRef: ref }], ports: [{ port: 8080, protocol: 'TCP' }] }] };
    expect(endpointsTargetGroup(endpoints, undefined, lookup).targets[0]).toMatchObject({ __meta_kubernetes_pod_container_name: 'second', __meta_kubernetes_pod_container_port_name: 'second-port', __meta_kubernetes_pod_container_port_protocol: 'TCP' });
  });

  it('endpointslice: the last container with the port, labeled with the container port\'s protocol', () => {
    const slice: V1EndpointSlice = { metadata: { name: 'twin-x', namespace: 'ns' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.9'], targetRef: ref }], ports: [{ port: 8080, protocol: 'TCP' }] };
    expect(endpointSliceTargetGroup(slice, undefined, lookup).targets[0]).toMatchObject({ __meta_kubernetes_pod_container_name: 'second', __meta_kubernetes_pod_container_port_name: 'second-port', __meta_kubernetes_pod_container_port_protocol: 'UDP' });
  });
});
