// Sharding settings from the sidecar's environment. Pure and dependency-free, so the webhook
// can check the values it injects without loading the Kubernetes client.
/** Bounded-load cap of the assignment: no member gets more than this × the mean of the hashed targets. */
export const defaultLoadFactor = 1.1;

export interface ShardingSettings {
  renewIntervalMs: number;
  leaseDurationSeconds: number;
  /**
   * Overlap of a planned move: the receiver's http_sd refresh (10 s as rendered) + Prometheus's
   * discovery-to-scrape throttle (5 s) + one scrape interval (30 s) = 45 s by default.
   */
  holdMs: number;
  /** Longest a SIGTERM waits for the new owners before deleting the Lease anyway. */
  leaveTimeoutMs: number;
  loadFactor: number;
}

export class ShardingSettingsError extends Error {}

/** Environment variables (all optional) and their defaults. */
export const shardingEnv = {
  EDOT_TA_LEASE_RENEW_SECONDS: 10,
  EDOT_TA_LEASE_DURATION_SECONDS: 40,
  EDOT_TA_HANDOVER_HOLD_SECONDS: 45,
  EDOT_TA_LEAVE_TIMEOUT_SECONDS: 25,
  EDOT_TA_LOAD_FACTOR: defaultLoadFactor,
} as const;

/** The one the webhook sets (planned leave: handover seconds - 5). */
export const leaveTimeoutEnvName: keyof typeof shardingEnv = 'EDOT_TA_LEAVE_TIMEOUT_SECONDS';

export function shardingSettingsFromEnv(env: NodeJS.ProcessEnv): ShardingSettings {
  const value = (name: keyof typeof shardingEnv): number => {
    const raw = env[name]?.trim();
    if (!raw) return shardingEnv[name];
    const parsed = Number(raw);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new ShardingSettingsError(`${name}="${raw}" must be a positive number`);
    return parsed;
  };
  const settings = {
    renewIntervalMs: value('EDOT_TA_LEASE_RENEW_SECONDS') * 1000,
    leaseDurationSeconds: value('EDOT_TA_LEASE_DURATION_SECONDS'),
    holdMs: value('EDOT_TA_HANDOVER_HOLD_SECONDS') * 1000,
    leaveTimeoutMs: value('EDOT_TA_LEAVE_TIMEOUT_SECONDS') * 1000,
    loadFactor: value('EDOT_TA_LOAD_FACTOR'),
  };
  if (settings.leaseDurationSeconds * 1000 < 2 * settings.renewIntervalMs) {
    throw new ShardingSettingsError('EDOT_TA_LEASE_DURATION_SECONDS must be at least twice EDOT_TA_LEASE_RENEW_SECONDS');
  }
  if (settings.loadFactor < 1) throw new ShardingSettingsError('EDOT_TA_LOAD_FACTOR must be at least 1');
  return settings;
}
