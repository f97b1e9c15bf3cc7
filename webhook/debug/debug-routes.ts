// GET /debug/decisions: the webhook's recent admission decisions, for a human or a tool holding a
// ServiceAccount token requested for our audience. The webhook listens on every interface, so the
// route is authenticated (token-auth.ts) and only exists when an allow list is configured: never
// open by default. Also the flags that turn it on, parsed here so cli.ts only wires them.
import { Hono, type Context } from 'hono';
import { UsageError } from '../../common/args.js';
import type { Logger } from '../../common/log.js';
import { clusterKeySet, discoverIssuer, discoveryPath, inClusterConnection, jwksPath, kubeconfigConnection, type ClusterConnection, type KeySetSource } from './cluster-jwks.js';
import { DecisionLog } from './decisions.js';
import { SubjectPatternError, createTokenVerifier, parseSubjectPattern, type TokenVerification, type TokenVerifier } from './token-auth.js';

export const defaultDebugAudience = 'edot-ta';
/** Tokens from a node whose clock runs a little ahead are still accepted. */
export const debugClockToleranceSeconds = 30;
const realm = 'edot-ta';

/** The flags this module adds; `--debug-audience` is declared by cli.ts (it also gates GET /debug/settings). */
export const debugFlagOptions = {
  'debug-allow': { type: 'string', multiple: true },
  kubeconfig: { type: 'string' },
} as const;

export const debugUsage = `Debug endpoints under /debug/ (GET /debug/decisions; off unless --debug-allow is given):
  --debug-allow SUBJECT    ServiceAccount allowed on /debug/ routes, repeatable: system:serviceaccount:NS:NAME,
                           NS:NAME or NS:* ; its token must be for --debug-audience (default here: ${defaultDebugAudience})
  --kubeconfig FILE        read the cluster's token signing keys (JWKS) with this kubeconfig
                           (default: in-cluster ServiceAccount, else $KUBECONFIG)`;

export interface DebugSettings {
  audience: string;
  allowedSubjects: string[];
  /** Kubeconfig path; undefined = in-cluster credentials (falling back to $KUBECONFIG). */
  kubeconfig?: string;
}

/** The debug settings from flags; undefined when the endpoint stays off. Throws UsageError. */
export function parseDebugSettings(values: { 'debug-audience'?: string; 'debug-allow'?: string[]; kubeconfig?: string }): DebugSettings | undefined {
  const allowed = values['debug-allow'] ?? [];
  if (allowed.length === 0) {
    if (values.kubeconfig !== undefined) throw new UsageError('--kubeconfig is only used with --debug-allow (it locates the cluster\'s token signing keys)');
    return undefined;
  }
  for (const subject of allowed) {
    try {
      parseSubjectPattern(subject);
    } catch (err) {
      if (err instanceof SubjectPatternError) throw new UsageError(`--debug-allow: ${err.message}`);
      throw err;
    }
  }
  const audience = values['debug-audience'] ?? defaultDebugAudience;
  if (audience.trim() === '') throw new UsageError('--debug-audience must not be empty');
  return { audience, allowedSubjects: allowed, ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}) };
}

/** --kubeconfig, else the in-cluster ServiceAccount, else $KUBECONFIG. Throws ClusterConnectionError. */
export function debugClusterConnection(settings: DebugSettings, env: NodeJS.ProcessEnv = process.env): ClusterConnection {
  if (settings.kubeconfig !== undefined) return kubeconfigConnection(settings.kubeconfig);
  if (!env.KUBERNETES_SERVICE_HOST && env.KUBECONFIG) return kubeconfigConnection(env.KUBECONFIG.split(':')[0] ?? env.KUBECONFIG);
  return inClusterConnection(env);
}

export interface DebugEndpoint {
  routes: Hono;
  decisions: DecisionLog;
  verifier: TokenVerifier;
  keys: KeySetSource;
}

/** Builds the verifier (keys fetched from the cluster on first use), the decision log and the routes. */
export function createDebugEndpoint(settings: DebugSettings, connection: ClusterConnection, logger: Logger): DebugEndpoint {
  const keys = clusterKeySet(connection, { logger });
  const verifier = createTokenVerifier({
    jwks: keys,
    issuer: () => discoverIssuer(connection),
    audience: settings.audience,
    allowedSubjects: settings.allowedSubjects,
    clockToleranceSeconds: debugClockToleranceSeconds,
  });
  const decisions = new DecisionLog();
  return { routes: createDebugRoutes({ verifier, decisions, logger }), decisions, verifier, keys };
}

/**
 * What `edot-ta webhook` calls: connection from flags/environment, endpoint, and a first fetch of
 * issuer and keys in the background so a missing permission shows in the log at start, not at the
 * first debug request. Throws ClusterConnectionError when no credentials can be found.
 */
export function startDebugEndpoint(settings: DebugSettings, logger: Logger, env: NodeJS.ProcessEnv = process.env): DebugEndpoint {
  const connection = debugClusterConnection(settings, env);
  const endpoint = createDebugEndpoint(settings, connection, logger);
  logger.info('debug endpoint enabled: GET /debug/decisions (ServiceAccount token required)', { audience: settings.audience, allowedSubjects: settings.allowedSubjects, keysFrom: connection.describe });
  void Promise.all([discoverIssuer(connection), endpoint.keys.current()]).then(
    ([issuer, keys]) => logger.info('debug endpoint: token issuer and signing keys loaded', { issuer, keys: keys.keys.length }),
    (err: unknown) =>
      logger.warn(`debug endpoint: cannot read ${discoveryPath} or ${jwksPath} yet (RBAC: ClusterRole system:service-account-issuer-discovery, bound by default to every ServiceAccount); debug requests answer 503 until it works`, { error: err }),
  );
  return endpoint;
}

function challenge(result: Extract<TokenVerification, { ok: false }>): string {
  if (result.reason === 'missing_token') return `Bearer realm="${realm}"`;
  const error = result.status === 403 ? 'insufficient_scope' : 'invalid_token';
  return `Bearer realm="${realm}", error="${error}", error_description="${result.message.replace(/["\\]/g, "'")}"`;
}

/** The sub-app; mount with `app.route('/', routes)`. Every route under /debug/ needs a token. */
export function createDebugRoutes(options: { verifier: TokenVerifier; decisions: DecisionLog; logger: Logger }): Hono {
  const { verifier, decisions, logger } = options;
  const app = new Hono();

  app.use('/debug/*', async (c, next) => {
    const result = await verifier.verify(c.req.header('authorization'));
    if (!result.ok) {
      logger.warn('debug request refused', { path: c.req.path, status: result.status, reason: result.reason, ...(result.identity ? { subject: result.identity.subject } : {}) });
      const headers: Record<string, string> = result.status === 503 ? { 'Retry-After': '10' } : { 'WWW-Authenticate': challenge(result) };
      return c.json({ error: result.message, reason: result.reason }, result.status, headers);
    }
    logger.info('debug request', { path: c.req.path, subject: result.identity.subject });
    await next();
  });

  app.get('/debug/decisions', (c: Context) => {
    const namespace = c.req.query('namespace');
    const limitText = c.req.query('limit');
    let limit: number | undefined;
    if (limitText !== undefined) {
      limit = Number(limitText);
      if (!/^[0-9]+$/.test(limitText) || limit < 1 || limit > decisions.capacity) {
        return c.json({ error: `limit must be a whole number 1..${decisions.capacity}, got "${limitText.slice(0, 20)}"` }, 400);
      }
    }
    const items = decisions.list({ ...(namespace ? { namespace } : {}), ...(limit !== undefined ? { limit } : {}) });
    return c.json({ capacity: decisions.capacity, recorded: decisions.total, items });
  });

  return app;
}
