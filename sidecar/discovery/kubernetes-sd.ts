// Prometheus kubernetes_sd as pure functions: a Pod / Service / Endpoints / EndpointSlice / Node / Ingress object in, the
// target group Prometheus's discovery/kubernetes would emit for it out (same `__meta_kubernetes_*`
// labels, same targets, same group source). Informers and caches live elsewhere.
import type { V1Container, CoreV1EndpointPort as V1EndpointPort, DiscoveryV1EndpointPort, V1EndpointAddress, V1Endpoints, V1EndpointSlice, V1Ingress, V1Node, V1ObjectMeta, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Labels, TargetGroup } from './types.js';

const meta = '__meta_kubernetes_';

/** Prometheus's strutil.SanitizeLabelName: every char outside [a-zA-Z0-9_] becomes `_`. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/gu, '_'); // per code point, as Go's regexp on runes
}

/** Go's net.JoinHostPort: IPv6 hosts in brackets. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `<role>_name`, `<role>_label_<k>`, `<role>_labelpresent_<k>`, `<role>_annotation_<k>`, `<role>_annotationpresent_<k>`. */
function addObjectMetaLabels(labels: Labels, metadata: V1ObjectMeta | undefined, role: string): void {
  labels[`${meta}${role}_name`] = metadata?.name ?? '';
  for (const [key, value] of Object.entries(metadata?.labels ?? {})) {
    const name = sanitizeLabelName(key);
    labels[`${meta}${role}_label_${name}`] = value;
    labels[`${meta}${role}_labelpresent_${name}`] = 'true';
  }
  for (const [key, value] of Object.entries(metadata?.annotations ?? {})) {
    const name = sanitizeLabelName(key);
    labels[`${meta}${role}_annotation_${name}`] = value;
    labels[`${meta}${role}_annotationpresent_${name}`] = 'true';
  }
}

function podReady(pod: V1Pod): string {
  const condition = pod.status?.conditions?.find((c) => c.type === 'Ready');
  return (condition?.status ?? 'Unknown').toLowerCase();
}

/** The pod-level labels shared by every target of a pod (Prometheus's podLabels). */
export function podLabels(pod: V1Pod): Labels {
  const labels: Labels = {
    [`${meta}pod_ip`]: pod.status?.podIP ?? '',
    [`${meta}pod_ready`]: podReady(pod),
    [`${meta}pod_phase`]: pod.status?.phase ?? '',
    [`${meta}pod_node_name`]: pod.spec?.nodeName ?? '',
    [`${meta}pod_host_ip`]: pod.status?.hostIP ?? '',
    [`${meta}pod_uid`]: pod.metadata?.uid ?? '',
  };
  addObjectMetaLabels(labels, pod.metadata, 'pod');
  const controller = pod.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  if (controller?.kind) labels[`${meta}pod_controller_kind`] = controller.kind;
  if (controller?.name) labels[`${meta}pod_controller_name`] = controller.name;
  return labels;
}

/** Regular containers first, then init containers (Prometheus appends them in that order). */
function allContainers(pod: V1Pod): Array<{ container: V1Container; isInit: boolean }> {
  return [
    ...(pod.spec?.containers ?? []).map((container) => ({ container, isInit: false })),
    ...(pod.spec?.initContainers ?? []).map((container) => ({ container, isInit: true })),
  ];
}

function containerId(pod: V1Pod, name: string, isInit: boolean): string {
  const statuses = (isInit ? pod.status?.initContainerStatuses : pod.status?.containerStatuses) ?? [];
  return statuses.find((s) => s.name === name)?.containerID ?? '';
}

function nodeNamesFor(group: TargetGroup, nodeName: string | undefined): TargetGroup {
  group.nodeNames = group.targets.map(() => nodeName || undefined);
  return group;
}

/** Role pod: one target per container port, one port-less target per container without ports. */
export function podTargetGroup(pod: V1Pod): TargetGroup {
  const source = `pod/${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  const podIP = pod.status?.podIP ?? '';
  // PodIP is empty while a pod starts or after eviction: Prometheus emits an empty group.
  if (podIP === '') return { source, targets: [], labels: {}, nodeNames: [] };
  const labels = podLabels(pod);
  labels[`${meta}namespace`] = pod.metadata?.namespace ?? '';
  const targets: Labels[] = [];
  for (const { container, isInit } of allContainers(pod)) {
    const common: Labels = {
      [`${meta}pod_container_name`]: container.name,
      [`${meta}pod_container_id`]: containerId(pod, container.name, isInit),
      [`${meta}pod_container_image`]: container.image ?? '',
    };
    const init = { [`${meta}pod_container_init`]: String(isInit) };
    const ports = container.ports ?? [];
    if (ports.length === 0) {
      targets.push({ __address__: podIP, ...common, ...init });
      continue;
    }
    for (const port of ports) {
      targets.push({
        __address__: joinHostPort(podIP, port.containerPort),
        ...common,
        [`${meta}pod_container_port_number`]: String(port.containerPort),
        [`${meta}pod_container_port_name`]: port.name ?? '',
        [`${meta}pod_container_port_protocol`]: port.protocol ?? '',
        ...init,
      });
    }
  }
  return nodeNamesFor({ source, targets, labels }, pod.spec?.nodeName);
}

/** Group labels of a service: namespace, name, labels, annotations. */
export function serviceLabels(service: V1Service): Labels {
  const labels: Labels = { [`${meta}namespace`]: service.metadata?.namespace ?? '' };
  addObjectMetaLabels(labels, service.metadata, 'service');
  return labels;
}

function loadBalancerIPs(service: V1Service): string {
  const ips = (service.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
  return ips.length > 0 ? ips.join(',') : (service.spec?.loadBalancerIP ?? '');
}

/** Role service: one target per service port, addressed `<name>.<namespace>.svc:<port>`. */
export function serviceTargetGroup(service: V1Service): TargetGroup {
  const name = service.metadata?.name ?? '';
  const namespace = service.metadata?.namespace ?? '';
  const type = service.spec?.type ?? '';
  const targets = (service.spec?.ports ?? []).map((port) => {
    const target: Labels = {
      __address__: joinHostPort(`${name}.${namespace}.svc`, port.port),
      [`${meta}service_port_name`]: port.name ?? '',
      [`${meta}service_port_number`]: String(port.port),
      [`${meta}service_port_protocol`]: port.protocol ?? '',
      [`${meta}service_type`]: type,
    };
    if (type === 'ExternalName') target[`${meta}service_external_name`] = service.spec?.externalName ?? '';
    else target[`${meta}service_cluster_ip`] = service.spec?.clusterIP ?? '';
    if (type === 'LoadBalancer') target[`${meta}service_loadbalancer_ip`] = loadBalancerIPs(service);
    return target;
  });
  return { source: `svc/${namespace}/${name}`, targets, labels: serviceLabels(service), nodeNames: targets.map(() => undefined) };
}

/** Looks a pod up in the caller's cache by namespace and name. */
export type PodLookup = (namespace: string, name: string) => V1Pod | undefined;

/**
 * Role endpoints: one target per (address, port) of every subset, ready and not-ready addresses
 * alike (`endpoint_ready`), pod labels for addresses backed by a known pod, and one extra target
 * per container port of those pods that no endpoint port covers.
 */
export function endpointsTargetGroup(endpoints: V1Endpoints, service: V1Service | undefined, podLookup: PodLookup): TargetGroup {
  const namespace = endpoints.metadata?.namespace ?? '';
  let labels: Labels = { [`${meta}namespace`]: namespace };
  if (service) labels = { ...labels, ...serviceLabels(service) };
  addObjectMetaLabels(labels, endpoints.metadata, 'endpoints');

  const targets: Labels[] = [];
  const nodeNames: Array<string | undefined> = [];
  const seenPods = new Map<string, { pod: V1Pod; ports: number[] }>();

  const add = (address: V1EndpointAddress, port: V1EndpointPort, ready: string) => {
    let target: Labels = {
      __address__: joinHostPort(address.ip, port.port),
      [`${meta}endpoint_port_name`]: port.name ?? '',
      [`${meta}endpoint_port_protocol`]: port.protocol ?? '',
      [`${meta}endpoint_ready`]: ready,
    };
    if (address.targetRef) {
      target[`${meta}endpoint_address_target_kind`] = address.targetRef.kind ?? '';
      target[`${meta}endpoint_address_target_name`] = address.targetRef.name ?? '';
    }
    if (address.nodeName !== undefined && address.nodeName !== null) target[`${meta}endpoint_node_name`] = address.nodeName;
    if (address.hostname) target[`${meta}endpoint_hostname`] = address.hostname;

    const ref = address.targetRef;
    const pod = ref?.kind === 'Pod' ? podLookup(ref.namespace ?? '', ref.name ?? '') : undefined;
    if (!pod) {
      targets.push(target);
      nodeNames.push(address.nodeName || undefined);
      return;
    }
    const podKey = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const seen = seenPods.get(podKey) ?? { pod, ports: [] };
    seenPods.set(podKey, seen);
    target = { ...target, ...podLabels(pod) };
    // The endpoints role labels the container port with the endpoint port's protocol.
    addContainerPortLabels(target, pod, port.port, () => port.protocol ?? '');
    seen.ports.push(port.port);
    targets.push(target);
    nodeNames.push(pod.spec?.nodeName || address.nodeName || undefined);
  };

  for (const subset of endpoints.subsets ?? []) {
    for (const port of subset.ports ?? []) {
      for (const address of subset.addresses ?? []) add(address, port, 'true');
      for (const address of subset.notReadyAddresses ?? []) add(address, port, 'false');
    }
  }

  addUncoveredContainerPorts(seenPods, targets, nodeNames);
  return { source: `endpoints/${namespace}/${endpoints.metadata?.name ?? ''}`, targets, labels, nodeNames };
}

/**
 * Roles endpoints and endpointslice: the labels of the container port an endpoint port points
 * at. As Prometheus: regular, then init containers; each container's first matching port; a
 * later container overwrites an earlier one (the last match wins).
 */
function addContainerPortLabels(target: Labels, pod: V1Pod, portNumber: number, protocolOf: (containerPort: { protocol?: string }) => string): void {
  for (const { container, isInit } of allContainers(pod)) {
    const containerPort = (container.ports ?? []).find((p) => p.containerPort === portNumber);
    if (!containerPort) continue;
    target[`${meta}pod_container_name`] = container.name;
    target[`${meta}pod_container_image`] = container.image ?? '';
    target[`${meta}pod_container_port_name`] = containerPort.name ?? '';
    target[`${meta}pod_container_port_number`] = String(portNumber);
    target[`${meta}pod_container_port_protocol`] = protocolOf(containerPort);
    target[`${meta}pod_container_init`] = String(isInit);
  }
}

/**
 * Roles endpoints and endpointslice: one target per container port (init containers too) of
 * the pods an endpoint referenced that no endpoint port covered.
 */
function addUncoveredContainerPorts(seenPods: Map<string, { pod: V1Pod; ports: number[] }>, targets: Labels[], nodeNames: Array<string | undefined>): void {
  for (const { pod, ports } of seenPods.values()) {
    const podIP = pod.status?.podIP ?? '';
    if (podIP === '') continue;
    for (const { container, isInit } of allContainers(pod)) {
      for (const containerPort of container.ports ?? []) {
        if (ports.includes(containerPort.containerPort)) continue;
        targets.push({
          __address__: joinHostPort(podIP, containerPort.containerPort),
          [`${meta}pod_container_name`]: container.name,
          [`${meta}pod_container_image`]: container.image ?? '',
          [`${meta}pod_container_port_name`]: containerPort.name ?? '',
          [`${meta}pod_container_port_number`]: String(containerPort.containerPort),
          [`${meta}pod_container_port_protocol`]: containerPort.protocol ?? '',
          [`${meta}pod_container_init`]: String(isInit),
          ...podLabels(pod),
        });
        nodeNames.push(pod.spec?.nodeName || undefined);
      }
    }
  }
}

/** The Service an EndpointSlice belongs to: its `kubernetes.io/service-name` label. */
export const endpointSliceServiceLabel = 'kubernetes.io/service-name';

/**
 * Role endpointslice (discovery.k8s.io/v1): one target per (endpoint, port, address), with the
 * slice's and its Service's labels on the group, the endpoint's conditions, hostname, target
 * reference, node name, zone and deprecated topology, pod labels for endpoints backed by a known
 * pod, and one extra target per container port of those pods that no slice port covers.
 */
export function endpointSliceTargetGroup(slice: V1EndpointSlice, service: V1Service | undefined, podLookup: PodLookup): TargetGroup {
  const namespace = slice.metadata?.namespace ?? '';
  let labels: Labels = { [`${meta}namespace`]: namespace, [`${meta}endpointslice_address_type`]: slice.addressType ?? '' };
  addObjectMetaLabels(labels, slice.metadata, 'endpointslice');
  if (service) labels = { ...labels, ...serviceLabels(service) };

  const targets: Labels[] = [];
  const nodeNames: Array<string | undefined> = [];
  const seenPods = new Map<string, { pod: V1Pod; ports: number[] }>();
  const slicePrefix = `${meta}endpointslice_`;
  const flag = (value: boolean | undefined | null) => (value === undefined || value === null ? undefined : String(value));

  for (const endpoint of slice.endpoints ?? []) {
    for (const port of (slice.ports ?? []) as DiscoveryV1EndpointPort[]) {
      for (const address of endpoint.addresses ?? []) {
        const hasPort = port.port !== undefined && port.port !== null;
        let target: Labels = { __address__: hasPort ? joinHostPort(address, port.port as number) : address };
        if (port.name !== undefined && port.name !== null) target[`${slicePrefix}port_name`] = port.name;
        if (port.protocol !== undefined && port.protocol !== null) target[`${slicePrefix}port_protocol`] = port.protocol;
        if (hasPort) target[`${slicePrefix}port`] = String(port.port);
        if (port.appProtocol !== undefined && port.appProtocol !== null) target[`${slicePrefix}port_app_protocol`] = port.appProtocol;
        const conditions = endpoint.conditions ?? {};
        for (const [name, value] of [['ready', conditions.ready], ['serving', conditions.serving], ['terminating', conditions.terminating]] as const) {
          const text = flag(value);
          if (text !== undefined) target[`${slicePrefix}endpoint_conditions_${name}`] = text;
        }
        if (endpoint.hostname !== undefined && endpoint.hostname !== null) target[`${slicePrefix}endpoint_hostname`] = endpoint.hostname;
        if (endpoint.targetRef) {
          target[`${slicePrefix}address_target_kind`] = endpoint.targetRef.kind ?? '';
          target[`${slicePrefix}address_target_name`] = endpoint.targetRef.name ?? '';
        }
        if (endpoint.nodeName !== undefined && endpoint.nodeName !== null) target[`${slicePrefix}endpoint_node_name`] = endpoint.nodeName;
        if (endpoint.zone !== undefined && endpoint.zone !== null) target[`${slicePrefix}endpoint_zone`] = endpoint.zone;
        for (const [key, value] of Object.entries(endpoint.deprecatedTopology ?? {})) {
          target[`${slicePrefix}endpoint_topology_${sanitizeLabelName(key)}`] = value;
          target[`${slicePrefix}endpoint_topology_present_${sanitizeLabelName(key)}`] = 'true';
        }
        const ref = endpoint.targetRef;
        const pod = ref?.kind === 'Pod' ? podLookup(ref.namespace ?? '', ref.name ?? '') : undefined;
        if (!pod) {
          targets.push(target);
          nodeNames.push(endpoint.nodeName || undefined);
          continue;
        }
        const podKey = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
        const seen = seenPods.get(podKey) ?? { pod, ports: [] };
        seenPods.set(podKey, seen);
        target = { ...target, ...podLabels(pod) };
        // The endpointslice role labels it with the container port's own protocol.
        if (hasPort) addContainerPortLabels(target, pod, port.port as number, (containerPort) => containerPort.protocol ?? '');
        seen.ports.push(...(hasPort ? [port.port as number] : []));
        targets.push(target);
        nodeNames.push(pod.spec?.nodeName || endpoint.nodeName || undefined);
      }
    }
  }

  addUncoveredContainerPorts(seenPods, targets, nodeNames);
  return { source: `endpointslice/${namespace}/${slice.metadata?.name ?? ''}`, targets, labels, nodeNames };
}

const nodeAddressPreference = ['InternalIP', 'InternalDNS', 'ExternalIP', 'ExternalDNS', 'LegacyHostIP', 'Hostname'];

/** Role node: one target at the preferred node address and the kubelet port; undefined without an address (Prometheus logs and skips). */
export function nodeTargetGroup(node: V1Node): TargetGroup | undefined {
  const name = node.metadata?.name ?? '';
  const labels: Labels = { [`${meta}node_provider_id`]: node.spec?.providerID ?? '' };
  for (const condition of node.status?.conditions ?? []) {
    labels[`${meta}node_condition_${sanitizeLabelName(condition.type.toLowerCase())}`] = condition.status.toLowerCase();
  }
  addObjectMetaLabels(labels, node.metadata, 'node');
  const byType = new Map<string, string[]>();
  for (const a of node.status?.addresses ?? []) byType.set(a.type, [...(byType.get(a.type) ?? []), a.address]);
  const preferred = nodeAddressPreference.map((type) => byType.get(type)?.[0]).find((a) => a !== undefined);
  if (preferred === undefined) return undefined;
  const target: Labels = {
    __address__: joinHostPort(preferred, node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0),
    instance: name,
  };
  for (const [type, addresses] of byType) target[sanitizeLabelName(`${meta}node_address_${type}`)] = addresses[0] ?? '';
  return { source: `node/${name}`, targets: [target], labels, nodeNames: [name || undefined] };
}

/**
 * `attach_metadata: {node: true}` (roles pod, endpoints, endpointslice): the node's name, labels
 * and annotations, as Prometheus adds them to a target on that node (only its metadata is read).
 */
export function nodeMetadataLabels(node: { metadata?: V1ObjectMeta }): Labels {
  const labels: Labels = {};
  addObjectMetaLabels(labels, node.metadata, 'node');
  return labels;
}

/**
 * attach_metadata: the node's labels on each target whose node is known — the pod's node (role
 * pod, on the group labels), the address's nodeName or else a Node target (endpoints), a Node
 * target or else the endpoint's nodeName (endpointslice) — as a new group (a cached one may be
 * shared). A node not (yet) known adds nothing, as in Prometheus.
 */
export function attachNodeMetadata(role: 'pod' | 'endpoints' | 'endpointslice', group: TargetGroup, lookupNode: (name: string) => { metadata?: V1ObjectMeta } | undefined): TargetGroup {
  const nodeLabels = (name: string | undefined) => {
    const node = name ? lookupNode(name) : undefined;
    return node === undefined ? undefined : nodeMetadataLabels(node);
  };
  if (role === 'pod') {
    const labels = nodeLabels(group.labels[`${meta}pod_node_name`]);
    return labels ? { ...group, labels: { ...group.labels, ...labels } } : group;
  }
  const prefix = role === 'endpoints' ? `${meta}endpoint` : `${meta}endpointslice`;
  const nodeOf = (target: Labels) => {
    const nodeTarget = target[`${prefix}_address_target_kind`] === 'Node' ? target[`${prefix}_address_target_name`] : undefined;
    const nodeName = target[role === 'endpoints' ? `${prefix}_node_name` : `${prefix}_endpoint_node_name`];
    return role === 'endpoints' ? (nodeName ?? nodeTarget) : (nodeTarget ?? nodeName);
  };
  return { ...group, targets: group.targets.map((target) => ({ ...target, ...nodeLabels(nodeOf(target)) })) };
}

/** A TLS host pattern covers a host: equal, or `*.` plus the same remaining labels (one wildcard level). */
function matchesHostPattern(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  const patternParts = pattern.split('.');
  const hostParts = host.split('.');
  return patternParts[0] === '*' && patternParts.length === hostParts.length && patternParts.every((part, i) => i === 0 || part === hostParts[i]);
}

/**
 * Role ingress (networking.k8s.io/v1): one target per rule and path, addressed by the rule's
 * host; scheme https when a TLS entry covers the host; a rule without http paths is `/`.
 */
export function ingressTargetGroup(ingress: V1Ingress): TargetGroup {
  const namespace = ingress.metadata?.namespace ?? '';
  const name = ingress.metadata?.name ?? '';
  const labels: Labels = { [`${meta}namespace`]: namespace };
  addObjectMetaLabels(labels, ingress.metadata, 'ingress');
  if (ingress.spec?.ingressClassName !== undefined && ingress.spec.ingressClassName !== null) labels[`${meta}ingress_class_name`] = ingress.spec.ingressClassName;
  const tlsHosts = (ingress.spec?.tls ?? []).flatMap((tls) => tls.hosts ?? []);
  const targets: Labels[] = [];
  for (const rule of ingress.spec?.rules ?? []) {
    const host = rule.host ?? '';
    const scheme = tlsHosts.some((pattern) => matchesHostPattern(pattern, host)) ? 'https' : 'http';
    const paths = rule.http ? rule.http.paths.map((p) => p.path || '/') : ['/'];
    for (const path of paths) targets.push({ __address__: host, [`${meta}ingress_scheme`]: scheme, [`${meta}ingress_host`]: host, [`${meta}ingress_path`]: path });
  }
  return { source: `ingress/${namespace}/${name}`, targets, labels, nodeNames: targets.map(() => undefined) };
}

