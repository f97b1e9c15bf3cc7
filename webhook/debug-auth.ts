// Bearer authentication for the webhook's inspection endpoint (GET /debug/settings), which is
// reachable over the network like /mutate: the caller presents a projected ServiceAccount token
// bound to our audience; we verify its signature against the cluster's JWKS (the API server's
// service account issuer discovery), its issuer, audience and expiry, with jose.
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet } from 'jose';

export class DebugAuthError extends Error {}

export interface IssuerKeys {
  issuer: string;
  jwks: JSONWebKeySet;
}

export interface TokenVerifierOptions {
  audience: string;
  /** Reads the cluster's issuer and JWKS (in the webhook: a cluster-tasks child). */
  loadKeys: () => Promise<IssuerKeys>;
  /** A token signed by an unknown key reloads the JWKS at most this often (key rotation). */
  minReloadIntervalMs?: number;
  now?: () => number;
}

export interface VerifiedCaller {
  subject: string;
}

export interface TokenVerifier {
  /** Verifies `Authorization: Bearer <jwt>`; throws DebugAuthError with a reason fit for a 401. */
  verify(authorization: string | undefined): Promise<VerifiedCaller>;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now;
  const minReloadIntervalMs = options.minReloadIntervalMs ?? 30_000;
  let keys: Promise<{ issuer: string; keySet: ReturnType<typeof createLocalJWKSet> }> | undefined;
  let loadedAtMs = -Infinity;
  const load = () => {
    loadedAtMs = now();
    keys = options.loadKeys().then(({ issuer, jwks }) => ({ issuer, keySet: createLocalJWKSet(jwks) }));
    keys.catch(() => (keys = undefined)); // retry on the next request
    return keys;
  };

  const verifyWith = async (token: string, current: Awaited<NonNullable<typeof keys>>) => {
    const { payload } = await jwtVerify(token, current.keySet, { issuer: current.issuer, audience: options.audience, algorithms: ['RS256', 'ES256'] });
    if (typeof payload.sub !== 'string') throw new DebugAuthError('token has no subject');
    return { subject: payload.sub };
  };

  return {
    async verify(authorization) {
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization ?? '');
      if (!match) throw new DebugAuthError('missing bearer token (Authorization: Bearer <projected ServiceAccount token>)');
      const token = match[1]!;
      let current;
      try {
        current = await (keys ?? load());
      } catch (err) {
        throw new DebugAuthError(`cannot load the cluster's signing keys: ${err instanceof Error ? err.message : String(err)}`);
      }
      try {
        return await verifyWith(token, current);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey && now() - loadedAtMs >= minReloadIntervalMs) {
          try {
            return await verifyWith(token, await load()); // the cluster may have rotated its keys
          } catch (retryErr) {
            throw toAuthError(retryErr);
          }
        }
        throw toAuthError(err);
      }
    },
  };
}

function toAuthError(err: unknown): DebugAuthError {
  if (err instanceof DebugAuthError) return err;
  if (err instanceof errors.JWTClaimValidationFailed) return new DebugAuthError(`token rejected: ${err.claim} ${err.reason}`);
  if (err instanceof errors.JWTExpired) return new DebugAuthError('token expired');
  if (err instanceof errors.JOSEError) return new DebugAuthError(`token rejected: ${err.code}`);
  return new DebugAuthError(`token rejected: ${err instanceof Error ? err.message : String(err)}`);
}
