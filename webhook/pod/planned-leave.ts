// A planned leave (rollout, node drain) must miss no scrape: the collector keeps scraping its
// last targets while the edot-ta sidecar hands them over (design.md "Membership and assignment").
// Without this, the kubelet sends SIGTERM to the collector and the sidecar together: the
// sidecar hands over for up to EDOT_TA_LEAVE_TIMEOUT_SECONDS, but the collector has already
// stopped, so its targets are unscraped until the new owners' collectors pick them up.
// Pure: edits the (already copied) collector container and pod spec, returns what it changed.
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { leaveTimeoutEnvName, shardingSettingsFromEnv } from '../../contract/sharding-settings.js';
import type { InjectSettings } from '../types.js';

/** The sidecar's setting: how long its SIGTERM waits for the new owners before deleting its Lease. */
/** The sidecar stops waiting this long before the collector stops scraping. */
export const leaveTimeoutMarginSeconds = 5;
/** Time after the collector's preStop for it to flush and exit before SIGKILL. */
export const exitMarginSeconds = 10;
/** The pod default when spec.terminationGracePeriodSeconds is unset. */
export const defaultTerminationGracePeriodSeconds = 30;

export interface PlannedLeave {
  /** The collector got our `sleep` preStop hook. */
  preStop: boolean;
  /** EDOT_TA_LEAVE_TIMEOUT_SECONDS given to the sidecar (undefined: not set, the sidecar's default). */
  leaveTimeoutSeconds?: number;
  /** The pod set EDOT_TA_LEAVE_TIMEOUT_SECONDS itself (on the collector container). */
  leaveTimeoutFromPod?: boolean;
  /** spec.terminationGracePeriodSeconds after the mutation, when this raised it. */
  terminationGracePeriodSeconds?: number;
}

/**
 * Gives the collector a `sleep <handoverSeconds>` preStop hook (never replacing the user's own),
 * raises the pod's grace period to cover it (never lowers it), and returns the sidecar's leave timeout.
 * `handoverSeconds` 0 disables all of it. Native sidecars are left alone: the kubelet stops
 * them only after the collector has exited, so delaying the collector would only delay the
 * sidecar's leave (see the status annotation: preStop false).
 */
export function applyPlannedLeave(spec: V1PodSpec, collector: V1Container, settings: InjectSettings, warnings: string[]): PlannedLeave {
  const handoverSeconds = settings.handoverSeconds;
  if (handoverSeconds === 0 || settings.nativeSidecars) return { preStop: false };

  let preStop = false;
  if (collector.lifecycle?.preStop) {
    warnings.push(
      `edot-ta: container ${collector.name} has its own preStop hook, kept as is; a planned leave misses no scrape only if it keeps the collector running for about ${handoverSeconds} s`,
    );
  } else {
    // An image without `sleep` (the distroless upstream collector) makes the kubelet log
    // FailedPreStopHook and terminate the container at once, as without the hook: harmless.
    // EDOT's elastic-agent images have `sleep`.
    collector.lifecycle = { ...collector.lifecycle, preStop: { exec: { command: ['sleep', String(handoverSeconds)] } } };
    preStop = true;
  }

  // The pod's own leave timeout wins; the grace period then covers the longer of the two waits.
  const podValue = podLeaveTimeout(collector, warnings);
  const leaveTimeoutSeconds = podValue === undefined ? handoverSeconds - leaveTimeoutMarginSeconds : Number(podValue);
  const result: PlannedLeave = { preStop, leaveTimeoutSeconds, leaveTimeoutFromPod: podValue !== undefined };
  const wantedGraceSeconds = Math.ceil(Math.max(handoverSeconds, leaveTimeoutSeconds + leaveTimeoutMarginSeconds)) + exitMarginSeconds;
  const currentGraceSeconds = spec.terminationGracePeriodSeconds ?? defaultTerminationGracePeriodSeconds;
  if (wantedGraceSeconds > currentGraceSeconds) {
    spec.terminationGracePeriodSeconds = wantedGraceSeconds;
    result.terminationGracePeriodSeconds = wantedGraceSeconds;
  }
  return result;
}

/**
 * The leave timeout the pod asked for itself: a literal EDOT_TA_LEAVE_TIMEOUT_SECONDS on the
 * collector container (the one container a user of an unchanged DaemonSet controls). Checked
 * with the sidecar's own parser: a value it would refuse must not reach the sidecar (it would
 * not start); then the computed one is used, with a warning.
 */
export function podLeaveTimeout(collector: V1Container, warnings: string[]): string | undefined {
  const variable = (collector.env ?? []).find((e) => e.name === leaveTimeoutEnvName);
  if (variable?.value === undefined) return undefined;
  try {
    shardingSettingsFromEnv({ [leaveTimeoutEnvName]: variable.value });
    return variable.value;
  } catch (err) {
    warnings.push(`edot-ta: ${leaveTimeoutEnvName} on container ${collector.name} is not usable (${err instanceof Error ? err.message : String(err)}); using the webhook's value`);
    return undefined;
  }
}
