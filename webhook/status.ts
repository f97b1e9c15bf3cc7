// The edot-ta.io/status annotation: what the webhook injected or changed, so `kubectl describe`
// answers "what did edot-ta do to my pod/CR?" (modelled on Istio's sidecar.istio.io/status).
// Only names, paths and messages go in here: never env values or config contents.
import type { PodInjectionStatus } from './types.js';

/**
 * `kubectl describe` cuts annotation values after 140 characters, so the keys a reader needs
 * first (what was added, which config was rewritten, warnings) come first.
 */
export function formatPodStatus(status: PodInjectionStatus): string {
  const ordered: PodInjectionStatus = {
    version: status.version,
    containers: status.containers,
    initContainers: status.initContainers,
    configs: status.configs,
    warnings: status.warnings,
    sidecarPort: status.sidecarPort,
    group: status.group,
    podScope: status.podScope,
    nativeSidecar: status.nativeSidecar,
    collectorContainer: status.collectorContainer,
    volumes: status.volumes,
    argsChanged: status.argsChanged,
    preStop: status.preStop,
    ...(status.leaveTimeoutSeconds !== undefined ? { leaveTimeoutSeconds: status.leaveTimeoutSeconds } : {}),
    ...(status.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: status.terminationGracePeriodSeconds } : {}),
    sidecarImage: status.sidecarImage,
  };
  return JSON.stringify(ordered);
}

export function parsePodStatus(text: string | undefined): PodInjectionStatus | undefined {
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { version?: unknown }).version !== 'string') return undefined;
    return parsed as PodInjectionStatus;
  } catch {
    return undefined;
  }
}

/** JSON of the status annotation on a mutated OpenTelemetryCollector CR. */
export interface CRMutationStatus {
  version: string;
  changes: string[];
  warnings: string[];
}

export function formatCRStatus(status: CRMutationStatus): string {
  return JSON.stringify(status);
}
