// Who this sidecar is: the pod it runs in (downward API env set by the webhook), its collector
// group, and the prometheusCR settings that choose PodMonitors/ServiceMonitors.
import { parsePrometheusCREnv, PrometheusCRError, type PrometheusCRSettings } from '../../contract/prometheus-cr.js';
import { requiredSidecarEnv, sidecarEnv } from '../../contract/sidecar.js';

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

export function readIdentity(env: NodeJS.ProcessEnv): SidecarIdentity {
  const missing = requiredSidecarEnv.filter((name) => !env[name]?.trim());
  if (missing.length > 0) {
    throw new IdentityError(
      `missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        '(the webhook sets them from the downward API; when running by hand, export them)',
    );
  }
  const value = (name: (typeof requiredSidecarEnv)[number]) => (env[name] ?? '').trim();
  let prometheusCR: PrometheusCRSettings;
  try {
    prometheusCR = parsePrometheusCREnv(env[sidecarEnv.prometheusCR]);
  } catch (err) {
    if (err instanceof PrometheusCRError) throw new IdentityError(err.message);
    throw err;
  }
  return {
    podName: value(sidecarEnv.podName),
    podUid: value(sidecarEnv.podUid),
    podNamespace: value(sidecarEnv.podNamespace),
    nodeName: value(sidecarEnv.nodeName),
    group: value(sidecarEnv.group),
    prometheusCR,
  };
}
