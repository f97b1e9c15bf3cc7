// What the webhook puts into the sidecar and render containers and what `edot-ta sidecar`
// reads back: environment variable names, the downward API fields behind them, subcommands
// and flags. Both sides build from these constants; test/unit/contract.test.ts runs the
// injected command lines through the sidecar's own parsers so drift fails a unit test.

/** Which pods a sidecar watches: every pod, or only those on NODE_NAME. */
export type PodScope = 'cluster' | 'node';
export const podScopes: readonly PodScope[] = ['cluster', 'node'];
export const isPodScope = (value: unknown): value is PodScope => podScopes.includes(value as PodScope);
/**
 * `node`: each sidecar watches its own node's pods, and the pods of nodes without a collector
 * that hash to it (a pod event reaches one member, not the group); `cluster`: every pod.
 */
export const defaultPodScope: PodScope = 'node';

/** Environment of the sidecar container. */
export const sidecarEnv = {
  podName: 'POD_NAME',
  podUid: 'POD_UID',
  podNamespace: 'POD_NAMESPACE',
  nodeName: 'NODE_NAME',
  /** The collector group: owning DaemonSet/StatefulSet/Deployment, or the operator instance. */
  group: 'EDOT_TA_GROUP',
  /** JSON in the shape of the operator CR's spec.targetAllocator.prometheusCR; absent = no monitors. */
  prometheusCR: 'EDOT_TA_PROMETHEUS_CR',
} as const;

/** The downward API field behind each identity variable. */
export const downwardApiFields: ReadonlyArray<readonly [name: string, fieldPath: string]> = [
  [sidecarEnv.podName, 'metadata.name'],
  [sidecarEnv.podUid, 'metadata.uid'],
  [sidecarEnv.podNamespace, 'metadata.namespace'],
  [sidecarEnv.nodeName, 'spec.nodeName'],
];

/** Identity variables the sidecar refuses to start without. */
export const requiredSidecarEnv = [sidecarEnv.podName, sidecarEnv.podUid, sidecarEnv.podNamespace, sidecarEnv.nodeName, sidecarEnv.group] as const;

/** `edot-ta sidecar render` flags (without the leading --). */
export const renderFlags = {
  in: 'in',
  out: 'out',
  scrapeConfigsOut: 'scrape-configs-out',
  endpoint: 'endpoint',
  interval: 'interval',
  refreshInterval: 'refresh-interval',
  collectorId: 'collector-id',
  /** Comma-separated env names whose value differs per pod (the webhook reads them from fieldRefs). */
  podLocalEnv: 'pod-local-env',
  /** Comma-separated directories the sidecar container reads as the collector does (the collector's ConfigMap volumes). */
  sharedPaths: 'shared-paths',
  /** Writes a fresh API token here and makes the receiver send it (the sidecar then requires it). */
  tokenOut: 'token-out',
} as const;

/** Downward API fields whose value differs between the pods of one collector group. */
export const perPodFieldPaths = ['metadata.name', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'];

/** `edot-ta sidecar serve` flags (without the leading --). */
export const serveFlags = {
  listen: 'listen',
  scrapeConfigs: 'scrape-configs',
  podScope: 'pod-scope',
  /** The API token render wrote: every route but /livez, /readyz and /metrics requires it. */
  tokenFile: 'token-file',
} as const;

/** argv after the image's command for each injected container. */
export const sidecarSubcommands = { render: ['sidecar', 'render'], serve: ['sidecar', 'serve'] } as const;

export const flag = (name: string): string => `--${name}`;
