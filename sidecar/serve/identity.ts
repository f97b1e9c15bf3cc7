// Who this sidecar is: the pod it runs in (downward API env set by the webhook), its collector
// group, and the prometheusCR settings that choose PodMonitors/ServiceMonitors.
import { parsePrometheusCR as parseSettings, SelectorError, type PrometheusCRSettings } from '../discovery/selectors.js';

// Parsed once at startup; a missing or malformed value stops the sidecar with a message that
// names the variable, because guessing an identity would serve the wrong collector's targets.

export type { PrometheusCRSettings };

export interface SidecarIdentity {
  podName: string;
  podUid: string;
  podNamespace: string;
  nodeName: string;
  group: string;
  prometheusCR: PrometheusCRSettings;
}

export class IdentityError extends Error {}

/** `sidecar serve --pod-scope`: watch every pod, or only the pods on NODE_NAME (the webhook injects it). */
export type PodScope = 'cluster' | 'node';
export const podScopes: readonly PodScope[] = ['cluster', 'node'];
export const isPodScope = (value: unknown): value is PodScope => podScopes.includes(value as PodScope);

const required = ['POD_NAME', 'POD_UID', 'POD_NAMESPACE', 'NODE_NAME', 'EDOT_TA_GROUP'] as const;

/** Monitors off: what a sidecar without EDOT_TA_PROMETHEUS_CR does (static scrape configs only). */
export const disabledPrometheusCR: PrometheusCRSettings = { enabled: false };

export function readIdentity(env: NodeJS.ProcessEnv): SidecarIdentity {
  const missing = required.filter((name) => !env[name]?.trim());
  if (missing.length > 0) {
    throw new IdentityError(
      `missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        '(the webhook sets them from the downward API; when running by hand, export them)',
    );
  }
  const value = (name: (typeof required)[number]) => (env[name] ?? '').trim();
  return {
    podName: value('POD_NAME'),
    podUid: value('POD_UID'),
    podNamespace: value('POD_NAMESPACE'),
    nodeName: value('NODE_NAME'),
    group: value('EDOT_TA_GROUP'),
    prometheusCR: parsePrometheusCR(env.EDOT_TA_PROMETHEUS_CR),
  };
}

/** Parses EDOT_TA_PROMETHEUS_CR (JSON, the shape of the operator CR's `spec.targetAllocator.prometheusCR`). */
export function parsePrometheusCR(raw: string | undefined): PrometheusCRSettings {
  if (raw === undefined || raw.trim() === '') return disabledPrometheusCR;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new IdentityError(`EDOT_TA_PROMETHEUS_CR is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const settings = parseSettings(parsed);
    if (settings.scrapeInterval !== undefined && !/^(\d+(ms|s|m|h|d|w|y))+$/.test(settings.scrapeInterval)) {
      throw new SelectorError('prometheusCR.scrapeInterval: must be a Prometheus duration such as "30s"');
    }
    return settings;
  } catch (err) {
    throw new IdentityError(`EDOT_TA_PROMETHEUS_CR: ${err instanceof Error ? err.message : String(err)}`);
  }
}
