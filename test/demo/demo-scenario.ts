// What the demo deploys: an Istio-like mesh (ingress gateways whose Envoy serves
// /stats/prometheus on 15090, Istio's envoy-stats-monitor PodMonitor) on four nodes, and an
// EDOT collector DaemonSet on three of them (node-d has none: its targets are hashed).
import type { Server } from 'node:http';
import type { V1ConfigMap, V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { serveMetrics } from '../harness/targets.js';

export const collectorNamespace = 'observability';
export const meshNamespace = 'istio-system';
export const collectorNodes = ['node-a', 'node-b', 'node-c'];
export const allNodes = [...collectorNodes, 'node-d'];
export const gatewaysPerNode = 2;
export const staticTarget = { ip: '127.0.0.30', port: 9100 };
/** hostNetwork collectors on one machine share its loopback: each gets its own sidecar port. */
export const firstSidecarPort = 27391;

export interface Gateway {
  name: string;
  node: string;
  ip: string;
}

export function gateways(): Gateway[] {
  return allNodes.flatMap((node, n) =>
    Array.from({ length: gatewaysPerNode }, (_, i) => ({ name: `istio-ingressgateway-${node.slice(-1)}${i}`, node, ip: `127.0.0.${11 + n * gatewaysPerNode + i}` })),
  );
}

export function gatewayPod(gateway: Gateway): V1Pod {
  return {
    metadata: {
      name: gateway.name,
      namespace: meshNamespace,
      labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
      // Without metrics merging the annotations point at Envoy's own stats port.
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15090', 'prometheus.io/path': '/stats/prometheus' },
    },
    spec: {
      nodeName: gateway.node,
      containers: [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }] }],
    },
  };
}

/** Istio's sample PodMonitor for Envoy sidecars and gateways (samples/addons/extras/prometheus-operator.yaml). */
export const envoyStatsMonitor = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PodMonitor',
  metadata: { name: 'envoy-stats-monitor', namespace: meshNamespace, labels: { monitoring: 'istio-proxies', release: 'istio' } },
  spec: {
    selector: { matchExpressions: [{ key: 'istio-prometheus-ignore', operator: 'DoesNotExist' }] },
    namespaceSelector: { any: true },
    jobLabel: 'envoy-stats',
    podMetricsEndpoints: [
      {
        path: '/stats/prometheus',
        interval: '15s',
        relabelings: [
          { action: 'keep', sourceLabels: ['__meta_kubernetes_pod_container_name'], regex: 'istio-proxy' },
          { action: 'keep', sourceLabels: ['__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape'] },
          { action: 'replace', regex: '(\\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})', replacement: '[$2]:$1', sourceLabels: ['__meta_kubernetes_pod_annotation_prometheus_io_port', '__meta_kubernetes_pod_ip'], targetLabel: '__address__' },
          { action: 'replace', regex: '(\\d+);((([0-9]+?)(\\.|$)){4})', replacement: '$2:$1', sourceLabels: ['__meta_kubernetes_pod_annotation_prometheus_io_port', '__meta_kubernetes_pod_ip'], targetLabel: '__address__' },
          { action: 'labeldrop', regex: '__meta_kubernetes_pod_label_(.+)' },
          { sourceLabels: ['__meta_kubernetes_namespace'], action: 'replace', targetLabel: 'namespace' },
          { sourceLabels: ['__meta_kubernetes_pod_name'], action: 'replace', targetLabel: 'pod_name' },
        ],
      },
    ],
  },
};

/** The collector config as a user writes it: a prometheus receiver with one static job. */
export const collectorConfigYaml = `# EDOT daemon collector (abridged): OTLP in, Prometheus scraping, OTLP out to the gateway.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: \${env:MY_POD_IP}:4317
  prometheus:
    config:
      scrape_configs:
        - job_name: node-exporter-static
          scrape_interval: 15s
          static_configs:
            - targets: ["${staticTarget.ip}:${staticTarget.port}"]
              labels:
                role: static-demo
processors:
  batch: {}
exporters:
  otlp/gateway:
    endpoint: opentelemetry-kube-stack-gateway-collector:4317
    tls:
      insecure: true
service:
  pipelines:
    metrics:
      receivers: [otlp, prometheus]
      processors: [batch]
      exporters: [otlp/gateway]
`;

export const collectorConfigMap: V1ConfigMap = {
  metadata: { name: 'edot-collector-config', namespace: collectorNamespace },
  data: { 'collector.yaml': collectorConfigYaml },
};

const collectorLabels = { 'app.kubernetes.io/name': 'edot-collector', 'app.kubernetes.io/component': 'daemon' };

/** The user's unchanged EDOT DaemonSet (Elastic's elastic-agent image in otel mode). */
export const collectorDaemonSet: V1DaemonSet = {
  metadata: { name: 'edot-collector', namespace: collectorNamespace, labels: collectorLabels },
  spec: {
    selector: { matchLabels: collectorLabels },
    template: {
      metadata: { labels: collectorLabels },
      spec: {
        hostNetwork: true,
        securityContext: { runAsUser: 0 },
        containers: [
          {
            name: 'edot-collector',
            image: 'docker.elastic.co/elastic-agent/elastic-agent:9.2.1',
            args: ['--config=/etc/edot/collector.yaml'],
            env: [
              { name: 'ELASTIC_AGENT_OTEL', value: 'true' },
              { name: 'MY_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            ],
            volumeMounts: [{ name: 'config', mountPath: '/etc/edot' }],
          },
        ],
        volumes: [{ name: 'config', configMap: { name: 'edot-collector-config' } }],
      },
    },
  },
};

/** What the DaemonSet controller would create on `node` (the test cluster runs no controllers). */
export function collectorPod(daemonSet: V1DaemonSet, node: string, index: number): V1Pod {
  const template = daemonSet.spec!.template;
  return {
    metadata: {
      name: `edot-collector-${node}`,
      namespace: collectorNamespace,
      labels: { ...template.metadata?.labels },
      annotations: { 'edot-ta.io/port': String(firstSidecarPort + index) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: daemonSet.metadata!.name!, uid: daemonSet.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...structuredClone(template.spec!), nodeName: node },
  };
}

/** Small HTTP servers standing in for Envoy (/stats/prometheus) and a node exporter (/metrics). */
export async function startTargetServers(): Promise<Server[]> {
  const servers: Server[] = [];
  for (const gateway of gateways()) {
    servers.push(await serveMetrics(gateway.ip, 15090, '/stats/prometheus', `envoy_server_live 1\nenvoy_cluster_upstream_rq_total{cluster="outbound|80||demo"} 42\n`));
  }
  servers.push(await serveMetrics(staticTarget.ip, staticTarget.port, '/metrics', 'node_load1 0.42\n'));
  return servers;
}
