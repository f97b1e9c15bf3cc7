// The edot-ta.io/status annotation: what the webhook injected or changed, so `kubectl describe`
// answers "what did edot-ta do to my pod/CR?" (modelled on Istio's sidecar.istio.io/status).
// Only names, paths and messages go in here: never env values or config contents.
import type { PodInjectionStatus } from './types.js';

export function formatPodStatus(status: PodInjectionStatus): string {
  return JSON.stringify(status);
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
