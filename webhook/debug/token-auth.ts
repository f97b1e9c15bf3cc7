// Verifies projected ServiceAccount tokens (Authorization: Bearer <JWT>) for endpoints that are
// not loopback-only: signature against the cluster's JWKS, issuer, audience (the token must be
// requested for us, e.g. `kubectl create token SA --audience edot-ta`), expiry, then the subject
// against an allow list. Every rejection has a reason code and a message; the token is never
// logged or echoed. No API server call per request (no TokenReview): a token bound to a deleted
// pod stays valid until it expires, which is why tokens should be short-lived.
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { KeySetUnavailableError, type KeySetSource } from './cluster-jwks.js';

export interface ServiceAccountIdentity {
  /** system:serviceaccount:<namespace>:<name> */
  subject: string;
  namespace: string;
  serviceAccount: string;
  /** Present when the token is bound to a pod. */
  podName?: string;
}

export type TokenRejectionReason =
  | 'missing_token'
  | 'malformed_token'
  | 'unsupported_algorithm'
  | 'unknown_signing_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'not_a_service_account'
  | 'subject_not_allowed'
  | 'keys_unavailable';

export type TokenVerification =
  | { ok: true; identity: ServiceAccountIdentity }
  | { ok: false; status: 401 | 403 | 503; reason: TokenRejectionReason; message: string; identity?: ServiceAccountIdentity };

export interface TokenVerifier {
  /** Takes the raw Authorization header (or undefined). Never throws. */
  verify(authorizationHeader: string | undefined): Promise<TokenVerification>;
  readonly audience: string;
}

export interface TokenVerifierOptions {
  /** A fixed key set, or a source that fetches (and refetches on unknown kid) the cluster's. */
  jwks: JSONWebKeySet | KeySetSource;
  /** The cluster's --service-account-issuer, or a function that discovers it (cached once it succeeds). */
  issuer: string | (() => Promise<string>);
  audience: string;
  /** Subject patterns (see parseSubjectPattern). Absent: any ServiceAccount of the cluster. */
  allowedSubjects?: string[];
  clockToleranceSeconds?: number;
}

/** Algorithms the API server signs ServiceAccount tokens with (RSA or EC signing keys). */
export const serviceAccountTokenAlgorithms = ['RS256', 'ES256', 'ES384', 'ES512'];
const maxHeaderChars = 16 * 1024;
const serviceAccountPrefix = 'system:serviceaccount:';
// Namespace and ServiceAccount names are DNS-1123 subdomains (a namespace is even a label).
const dnsName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export class SubjectPatternError extends Error {}

export interface SubjectPattern {
  namespace: string;
  /** ServiceAccount name, or '*' for every ServiceAccount of the namespace. */
  serviceAccount: string;
}

/** `system:serviceaccount:NS:NAME`, `system:serviceaccount:NS:*`, or the short forms `NS:NAME`, `NS:*`. */
export function parseSubjectPattern(text: string): SubjectPattern {
  const rest = text.startsWith(serviceAccountPrefix) ? text.slice(serviceAccountPrefix.length) : text;
  const parts = rest.split(':');
  const [namespace, serviceAccount] = parts;
  if (parts.length !== 2 || namespace === undefined || serviceAccount === undefined || !dnsName.test(namespace) || (serviceAccount !== '*' && !dnsName.test(serviceAccount))) {
    throw new SubjectPatternError(`"${text}" is not a ServiceAccount subject: want system:serviceaccount:NAMESPACE:NAME (or NAMESPACE:NAME; NAME may be *)`);
  }
  return { namespace, serviceAccount };
}

export function subjectAllowed(identity: ServiceAccountIdentity, patterns: readonly SubjectPattern[]): boolean {
  return patterns.some((p) => p.namespace === identity.namespace && (p.serviceAccount === '*' || p.serviceAccount === identity.serviceAccount));
}

type Rejection = Extract<TokenVerification, { ok: false }>;
const reject = (status: Rejection['status'], reason: TokenRejectionReason, message: string): Rejection => ({ ok: false, status, reason, message });

/** The compact JWT from `Bearer <token>`, or a rejection that says what is wrong with the header. */
export function bearerToken(header: string | undefined): string | Rejection {
  if (header === undefined || header.trim() === '') return reject(401, 'missing_token', 'no Authorization header: send "Authorization: Bearer <ServiceAccount token>"');
  if (header.length > maxHeaderChars) return reject(401, 'malformed_token', `Authorization header longer than ${maxHeaderChars} characters`);
  const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+) *$/i.exec(header);
  if (!match?.[1]) return reject(401, 'malformed_token', 'Authorization header is not "Bearer <JWT>" (three base64url parts separated by dots)');
  return match[1];
}

/** Maps jose's errors to a reason; messages name the claim, never the token. */
function rejectionFor(err: unknown, audience: string, issuer: string): Rejection {
  if (err instanceof errors.JWTExpired) return reject(401, 'expired', 'token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return reject(401, 'wrong_audience', `token audience is not "${audience}" (request one with: kubectl create token SA --audience ${audience})`);
    if (err.claim === 'iss') return reject(401, 'wrong_issuer', `token issuer is not this cluster's (${issuer})`);
    if (err.claim === 'nbf') return reject(401, 'not_yet_valid', 'token is not valid yet (nbf in the future)');
    return reject(401, 'malformed_token', `token claim "${err.claim}" is ${err.reason === 'missing' ? 'missing' : 'invalid'}`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return reject(401, 'bad_signature', 'token signature does not verify against the cluster\'s signing keys');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return reject(401, 'unknown_signing_key', 'token is signed with a key (kid) the cluster\'s JWKS does not contain');
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return reject(401, 'unsupported_algorithm', `token algorithm is not one of ${serviceAccountTokenAlgorithms.join(', ')}`);
  }
  if (err instanceof KeySetUnavailableError) return reject(503, 'keys_unavailable', err.message);
  if (err instanceof errors.JOSEError) return reject(401, 'malformed_token', `token is not a valid JWT (${err.code})`);
  return reject(503, 'keys_unavailable', `cannot verify tokens right now: ${(err as Error).message}`);
}

/** The ServiceAccount a verified payload names; its `kubernetes.io` claim must agree with `sub`. */
function identityOf(payload: JWTPayload): ServiceAccountIdentity | Rejection {
  const subject = payload.sub ?? '';
  const parts = subject.startsWith(serviceAccountPrefix) ? subject.slice(serviceAccountPrefix.length).split(':') : [];
  const [namespace, serviceAccount] = parts;
  if (parts.length !== 2 || !namespace || !serviceAccount) return reject(401, 'not_a_service_account', `token subject "${subject.slice(0, 200)}" is not a ServiceAccount`);
  const claim = payload['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown }; pod?: { name?: unknown } } | undefined;
  if (claim !== undefined && (claim.namespace !== namespace || claim.serviceaccount?.name !== serviceAccount)) {
    return reject(401, 'malformed_token', 'token "kubernetes.io" claim does not match its subject');
  }
  const podName = typeof claim?.pod?.name === 'string' ? claim.pod.name : undefined;
  return { subject, namespace, serviceAccount, ...(podName !== undefined ? { podName } : {}) };
}

function isKeySetSource(jwks: TokenVerifierOptions['jwks']): jwks is KeySetSource {
  return typeof (jwks as Partial<KeySetSource>).current === 'function';
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const patterns = options.allowedSubjects?.map(parseSubjectPattern);
  const source: KeySetSource = isKeySetSource(options.jwks) ? options.jwks : { current: async () => options.jwks as JSONWebKeySet, refresh: async () => options.jwks as JSONWebKeySet };
  // One jose key set per fetched JWKS document (the source returns the same object until it refetches).
  let localSet: { keys: JSONWebKeySet; set: ReturnType<typeof createLocalJWKSet> } | undefined;
  const keySetFor = (keys: JSONWebKeySet) => {
    if (localSet?.keys !== keys) localSet = { keys, set: createLocalJWKSet(keys) };
    return localSet.set;
  };
  let issuer = typeof options.issuer === 'string' ? options.issuer : undefined;
  const resolveIssuer = async (): Promise<string> => {
    if (issuer !== undefined) return issuer;
    try {
      issuer = await (options.issuer as () => Promise<string>)();
      return issuer;
    } catch (err) {
      throw new KeySetUnavailableError(`cannot discover the cluster's token issuer: ${(err as Error).message}`);
    }
  };

  return {
    audience: options.audience,
    async verify(header) {
      const token = bearerToken(header);
      if (typeof token !== 'string') return token;
      let expectedIssuer = '';
      try {
        expectedIssuer = await resolveIssuer();
        const verifyWith = (keys: JSONWebKeySet) =>
          jwtVerify(token, keySetFor(keys), {
            issuer: expectedIssuer,
            audience: options.audience,
            algorithms: serviceAccountTokenAlgorithms,
            clockTolerance: options.clockToleranceSeconds ?? 0,
            requiredClaims: ['exp', 'sub'],
          });
        let verified;
        try {
          verified = await verifyWith(await source.current());
        } catch (err) {
          // A key the cached set does not know: the cluster may have rotated keys. Refetch (rate-limited) once.
          if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
          verified = await verifyWith(await source.refresh());
        }
        const identity = identityOf(verified.payload);
        if ('ok' in identity) return identity;
        if (patterns && !subjectAllowed(identity, patterns)) {
          return { ...reject(403, 'subject_not_allowed', `${identity.subject} is not allowed here (see --debug-allow)`), identity };
        }
        return { ok: true, identity };
      } catch (err) {
        return rejectionFor(err, options.audience, expectedIssuer);
      }
    },
  };
}
