// Names users, tools and both halves of edot-ta rely on: what the webhook writes into pods and
// what the sidecar, doctor and users read back (design.md "Names"). Keep them stable.
export const sidecarContainerName = 'edot-ta';
export const renderInitContainerName = 'edot-ta-render';
export const renderedConfigVolumeName = 'edot-ta-config';
export const renderedConfigMountPath = '/edot-ta';
export const scrapeConfigsPath = '/edot-ta/scrape-configs.yaml';
/**
 * The per-pod secret of the sidecar's API: render writes it (and puts it into the receiver's
 * target_allocator settings), the sidecar requires it. Only this pod's containers can read it.
 */
export const apiTokenPath = '/edot-ta/token';
export const defaultSidecarPort = 27390;

export const annotations = {
  /** `"false"` on a pod (or its template) opts it out. */
  inject: 'edot-ta.io/inject',
  /** JSON written by the webhook: what was injected/changed (never secrets). */
  status: 'edot-ta.io/status',
  /** Per-pod sidecar port override (hostNetwork pods share the node's loopback). */
  port: 'edot-ta.io/port',
  /** JSON in the shape of the operator CR's spec.targetAllocator.prometheusCR. */
  prometheusCR: 'edot-ta.io/prometheus-cr',
  /** Per-pod `cluster` | `node`: which pods the sidecar watches (InjectSettings.sidecarPodScope). */
  podScope: 'edot-ta.io/pod-scope',
  /** On a collector CR: edot-ta opted its pods out because its config has no prometheus receiver (undone when one is added). */
  noPrometheusReceiver: 'edot-ta.io/no-prometheus-receiver',
} as const;

/** Receiver ids that are prometheus receivers (`prometheus`, `prometheus/<name>`): the CR repair and the render step agree on them. */
export const isPrometheusReceiverId = (id: string): boolean => /^prometheus(\/.+)?$/.test(id);

export const namespaceOptInLabel = { key: 'edot-ta.io/inject', value: 'enabled' } as const;
