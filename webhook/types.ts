// The contract between the pure mutations (pod-mutation.ts, cr-mutation.ts, patch.ts,
// settings.ts) and the HTTPS edge (server.ts, admission.ts, cli.ts, inject-cli.ts).
// Everything here is data: no I/O, no API server calls.
//
// Where each function lives:
//   webhook/pod/pod-mutation.ts  mutatePod(pod, settings, context?)       → PodMutationResult
//   webhook/cr/cr-mutation.ts    mutateCollectorCR(cr, settings, context)  → CRMutationResult
//                                parseCollectorCR(raw: unknown)            → CollectorCR (throws CollectorCRParseError)
//   webhook/settings.ts          defaultInjectSettings(), parseInjectSettings(flags, env),
//                                injectSettingsFlagOptions (spread into parseFlags options),
//                                resolveNativeSidecars(mode, serverVersion), defaultCRSettings()
//   webhook/admission/patch.ts   diffPatch(original, mutated)              → Operation[] (RFC 6902)
// Names shared with the sidecar and users live in contract/names.ts.
import type { V1ObjectMeta, V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import type { Operation } from 'fast-json-patch';
import { type PodScope } from '../contract/sidecar.js';

export type { Operation };

// ---- Pod mutation ----

/** `auto`: the server engineer resolves it from the apiserver version (>= 1.29 → native). */
export type NativeSidecarsMode = 'auto' | 'true' | 'false';

/** Equality-based label selector, every requirement must hold (`k=v`, `k!=v`, `k`, `!k`). */
export interface LabelRequirement {
  key: string;
  operator: 'Equals' | 'NotEquals' | 'Exists' | 'DoesNotExist';
  value?: string;
}

export interface InjectSettings {
  /** Image of the render init container and the sidecar (must contain node + `edot-ta` on PATH). */
  sidecarImage: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Command prefix that runs the edot-ta CLI inside sidecarImage, e.g. ['edot-ta'] or ['/nodejs/bin/node', '/app/dist/cli/main.js']. */
  sidecarCommand: string[];
  /** Node binary inside sidecarImage, used by the readiness wait hook/probe (`node -e ...`). */
  nodeBinary: string;
  /** Loopback port of the sidecar's target_allocator API; annotation edot-ta.io/port overrides per pod. */
  sidecarPort: number;
  /** Effective choice: native sidecar (init container, restartPolicy Always) vs first regular container. */
  nativeSidecars: boolean;
  /** How nativeSidecars was asked for (flag); informational for the server's resolution. */
  nativeSidecarsMode: NativeSidecarsMode;
  /** How long the postStart hook / startup probe waits for /readyz before letting the collector start anyway. */
  readyTimeoutSeconds: number;
  /**
   * Planned leave: the collector gets a `sleep <handoverSeconds>` preStop hook (unless it has its
   * own), the sidecar EDOT_TA_LEAVE_TIMEOUT_SECONDS = handoverSeconds - 5, the pod a grace period
   * of at least handoverSeconds + 10. 0 = off. Not applied with native sidecars.
   */
  handoverSeconds: number;
  /** Image repository globs (`*` = any run of characters, matched against the image without tag/digest). */
  collectorImagePatterns: string[];
  /** elastic-agent image globs: a collector only in otel mode (ELASTIC_AGENT_OTEL=true or an `otel` arg). */
  elasticAgentImagePatterns: string[];
  /** Pods matching this selector are collectors (operator-rendered); empty list = never by labels. */
  collectorPodSelector: LabelRequirement[];
  /** Container names treated as the collector in selector-matched pods (operator: otc-container). */
  collectorContainerNames: string[];
  /** target_allocator.interval written by render (Go duration). */
  targetAllocatorInterval: string;
  /** target_allocator.http_sd_config.refresh_interval written by render (Go duration). */
  httpSdRefreshInterval: string;
  /** EDOT_TA_PROMETHEUS_CR when the pod has no edot-ta.io/prometheus-cr annotation; '' = leave unset. */
  defaultPrometheusCR: string;
  /** Resources of the sidecar and the render init container. */
  sidecarResources: V1ResourceRequirements;
  /** uid/gid the sidecar runs as (restricted: the EDOT daemon pod itself runs as uid 0). */
  sidecarRunAsUser: number;
  /**
   * Pods each sidecar watches: `node` (its own node's, plus the nodes without a collector that
   * hash to it: one pod event reaches one member), `cluster` (every pod), or `auto` (the
   * default): `node` for DaemonSet pods, `cluster` for other workloads (a Deployment of a few
   * replicas would otherwise hold one pod watch per node it covers). Annotation
   * edot-ta.io/pod-scope overrides per pod.
   */
  sidecarPodScope: PodScope | 'auto';
}

export type { PodScope } from '../contract/sidecar.js';

export interface PodMutationContext {
  /** AdmissionReview request.namespace (pods created by controllers often lack metadata.namespace). */
  namespace?: string;
  /** The mutation is pure either way; recorded so callers can log it. */
  dryRun?: boolean;
  /** Owner of a pod template (offline inject of a DaemonSet/Deployment/StatefulSet): used for EDOT_TA_GROUP. */
  workload?: { kind: string; name: string };
}

export interface PodMutationResult {
  /** A copy that shares the parts it did not change with the input (copy before writing into it); equal to the input when injected is false. */
  pod: V1Pod;
  /** Admission warnings (short, human readable). */
  warnings: string[];
  injected: boolean;
  /** Why nothing was injected (not a collector, opted out, already injected, ...). */
  reason?: string;
}

export type MutatePod = (pod: V1Pod, settings: InjectSettings, context?: PodMutationContext) => PodMutationResult;

/** JSON of the edot-ta.io/status annotation on an injected pod. */
export interface PodInjectionStatus {
  version: string;
  sidecarImage: string;
  sidecarPort: number;
  nativeSidecar: boolean;
  group: string;
  /** Which pods the sidecar watches. */
  podScope: PodScope;
  collectorContainer: string;
  initContainers: string[];
  containers: string[];
  volumes: string[];
  /** Each rewritten --config value: original → rendered file. */
  configs: Array<{ from: string; to: string }>;
  argsChanged: boolean;
  /** The collector got the planned-leave `sleep` preStop hook. */
  preStop: boolean;
  /** EDOT_TA_LEAVE_TIMEOUT_SECONDS given to the sidecar, when set. */
  leaveTimeoutSeconds?: number;
  /** spec.terminationGracePeriodSeconds, when the webhook raised it. */
  terminationGracePeriodSeconds?: number;
  warnings: string[];
}

// ---- OpenTelemetryCollector CR mutation ----

export type CollectorMode = 'daemonset' | 'deployment' | 'statefulset' | 'sidecar';

/** spec.targetAllocator.prometheusCR (operator field names). */
export interface PrometheusCRSettings {
  enabled?: boolean;
  scrapeInterval?: string;
  podMonitorSelector?: unknown;
  serviceMonitorSelector?: unknown;
  podMonitorNamespaceSelector?: unknown;
  serviceMonitorNamespaceSelector?: unknown;
  allowNamespaces?: string[];
  denyNamespaces?: string[];
  [field: string]: unknown;
}

export interface CollectorCRSpec {
  mode?: string;
  /** v1alpha1: YAML string; v1beta1: object. */
  config?: string | Record<string, unknown>;
  targetAllocator?: { enabled?: boolean; prometheusCR?: PrometheusCRSettings; [field: string]: unknown };
  podAnnotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface CollectorCR {
  apiVersion: string; // opentelemetry.io/v1alpha1 | opentelemetry.io/v1beta1
  kind: string; // OpenTelemetryCollector
  metadata: V1ObjectMeta;
  spec: CollectorCRSpec;
  [field: string]: unknown;
}

export interface CRSettings {
  /** Mode set on CREATE when the user left spec.mode out (the operator would default to deployment). */
  defaultMode: CollectorMode;
}

export interface CRMutationContext {
  operation: 'CREATE' | 'UPDATE';
  oldObject?: CollectorCR;
}

export interface CRMutationResult {
  /** Deep copy, mutated. */
  object: CollectorCR;
  warnings: string[];
}

export type MutateCollectorCR = (cr: CollectorCR, settings: CRSettings, context: CRMutationContext) => CRMutationResult;

export type DiffPatch = (original: unknown, mutated: unknown) => Operation[];
