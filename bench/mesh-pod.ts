// A mesh pod as the API server returns it (app container + istio-proxy with its envoy stats port,
// labels, annotations, managedFields), number i of a cluster of 100 nodes: the benchmarks' pod.
export function meshPodLiteral(i: number, rv: number): Record<string, unknown> {
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return {
    metadata: {
      name: `reviews-v1-7f9c8d6b5-${i.toString(36).padStart(5, '0')}`,
      namespace: `bookinfo-${i % 50}`,
      uid: `3f6b2a1c-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      resourceVersion: String(rv),
      labels: { app: 'reviews', version: 'v1', 'pod-template-hash': '7f9c8d6b5', 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': 'reviews' },
      annotations: { 'prometheus.io/path': '/stats/prometheus', 'prometheus.io/port': '15090', 'prometheus.io/scrape': 'true', 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'reviews-v1-7f9c8d6b5', uid: 'rs-uid', controller: true }],
      managedFields: [{ manager: 'kubelet', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:podIP': {} } } }],
    },
    spec: {
      nodeName: `node-${i % 100}`,
      containers: [
        { name: 'reviews', image: 'docker.io/istio/examples-bookinfo-reviews-v1:1.20.2', ports: [{ name: 'http', containerPort: 9080, protocol: 'TCP' }], env: [{ name: 'LOG_DIR', value: '/tmp/logs' }] },
        { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }], args: ['proxy', 'sidecar'] },
      ],
      initContainers: [{ name: 'istio-init', image: 'docker.io/istio/proxyv2:1.24.0' }],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: `172.16.${(i % 100) >> 8}.${i % 100}`,
      conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }],
      containerStatuses: [
        { name: 'reviews', ready: true, containerID: `containerd://${i.toString(16).padStart(64, 'a')}` },
        { name: 'istio-proxy', ready: true, containerID: `containerd://${i.toString(16).padStart(64, 'b')}` },
      ],
    },
  };
}
