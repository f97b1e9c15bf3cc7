import { SignJWT, exportJWK, generateKeyPair, type JSONWebKeySet, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCachedKeySet } from './cluster-jwks.js';
import { bearerToken, createTokenVerifier, parseSubjectPattern, type TokenVerification } from './token-auth.js';

const issuer = 'https://kubernetes.default.svc';
const audience = 'edot-ta';
type Keys = Awaited<ReturnType<typeof generateKeyPair>>;
let signing: Keys;
let other: Keys;
let jwks: JSONWebKeySet;

async function jwkOf(keys: Keys, kid: string) {
  return { ...(await exportJWK(keys.publicKey)), kid, alg: 'RS256', use: 'sig' };
}

beforeAll(async () => {
  signing = await generateKeyPair('RS256');
  other = await generateKeyPair('RS256');
  jwks = { keys: [await jwkOf(signing, 'k1')] };
});

/** A token shaped like the API server's TokenRequest answer (kubectl create token). */
async function saToken(
  overrides: { namespace?: string; name?: string; aud?: string | string[]; iss?: string; expSeconds?: number; nbfSeconds?: number; kid?: string; key?: Keys; payload?: JWTPayload; pod?: string } = {},
): Promise<string> {
  const namespace = overrides.namespace ?? 'observability';
  const name = overrides.name ?? 'debug-reader';
  const now = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    'kubernetes.io': { namespace, serviceaccount: { name, uid: '2df401f9-f3b9-4e2c-b3d6-c2a05e289152' }, ...(overrides.pod ? { pod: { name: overrides.pod, uid: 'p-uid' } } : {}) },
    ...overrides.payload,
  };
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: overrides.kid ?? 'k1' })
    .setIssuer(overrides.iss ?? issuer)
    .setAudience(overrides.aud ?? [audience])
    .setSubject(`system:serviceaccount:${namespace}:${name}`)
    .setIssuedAt(now)
    .setNotBefore(now + (overrides.nbfSeconds ?? 0))
    .setExpirationTime(now + (overrides.expSeconds ?? 600));
  return jwt.sign((overrides.key ?? signing).privateKey);
}

const verifier = (allowedSubjects = ['system:serviceaccount:observability:debug-reader'], clockToleranceSeconds = 0) =>
  createTokenVerifier({ jwks, issuer, audience, allowedSubjects, clockToleranceSeconds });

function rejected(result: TokenVerification) {
  if (result.ok) throw new Error(`expected a rejection, got ${result.identity.subject}`);
  return result;
}

describe('createTokenVerifier', () => {
  it('accepts a ServiceAccount token for our audience and returns who it is', async () => {
    const result = await verifier().verify(`Bearer ${await saToken({ pod: 'toolbox-0' })}`);
    expect(result).toEqual({ ok: true, identity: { subject: 'system:serviceaccount:observability:debug-reader', namespace: 'observability', serviceAccount: 'debug-reader', podName: 'toolbox-0' } });
  });

  it('accepts a token whose aud lists our audience among others, and the scheme in any case', async () => {
    const result = await verifier().verify(`bearer ${await saToken({ aud: ['https://kubernetes.default.svc', audience] })}`);
    expect(result.ok).toBe(true);
  });

  it('rejects a request without an Authorization header (401 missing_token)', async () => {
    expect(rejected(await verifier().verify(undefined))).toMatchObject({ status: 401, reason: 'missing_token' });
    expect(rejected(await verifier().verify('  '))).toMatchObject({ status: 401, reason: 'missing_token' });
  });

  it('rejects a header that is not "Bearer <JWT>" (401 malformed_token)', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer not-a-jwt', `Token ${await saToken()}`, `Bearer ${'a'.repeat(20_000)}.b.c`]) {
      expect(rejected(await verifier().verify(header))).toMatchObject({ status: 401, reason: 'malformed_token' });
    }
    // Three base64url parts that are not a JWT.
    expect(rejected(await verifier().verify('Bearer aaaa.bbbb.cccc'))).toMatchObject({ status: 401, reason: 'malformed_token' });
  });

  it('rejects a token signed by another key under a known kid (401 bad_signature)', async () => {
    const forged = await saToken({ key: other, kid: 'k1' });
    expect(rejected(await verifier().verify(`Bearer ${forged}`))).toMatchObject({ status: 401, reason: 'bad_signature' });
  });

  it('rejects a token whose signature was tampered with by changing a claim', async () => {
    const [header, , signature] = (await saToken()).split('.');
    const payload = Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:kube-system:admin', aud: [audience], iss: issuer, exp: 9_999_999_999 })).toString('base64url');
    expect(rejected(await verifier().verify(`Bearer ${header}.${payload}.${signature}`))).toMatchObject({ status: 401, reason: 'bad_signature' });
  });

  it('rejects a token requested for another audience, e.g. the API server\'s default (401 wrong_audience)', async () => {
    for (const aud of ['other', 'https://kubernetes.default.svc']) {
      const result = rejected(await verifier().verify(`Bearer ${await saToken({ aud })}`));
      expect(result).toMatchObject({ status: 401, reason: 'wrong_audience' });
      expect(result.message).toContain('--audience edot-ta');
    }
  });

  it('rejects a token from another issuer (401 wrong_issuer)', async () => {
    const result = rejected(await verifier().verify(`Bearer ${await saToken({ iss: 'https://other-cluster.example' })}`));
    expect(result).toMatchObject({ status: 401, reason: 'wrong_issuer' });
  });

  it('rejects an expired token, allowing the configured clock tolerance (401 expired)', async () => {
    const expiredTenSecondsAgo = await saToken({ expSeconds: -10 });
    expect(rejected(await verifier().verify(`Bearer ${expiredTenSecondsAgo}`))).toMatchObject({ status: 401, reason: 'expired' });
    expect((await verifier(undefined, 30).verify(`Bearer ${expiredTenSecondsAgo}`)).ok).toBe(true);
  });

  it('rejects a token that is not valid yet (401 not_yet_valid)', async () => {
    expect(rejected(await verifier().verify(`Bearer ${await saToken({ nbfSeconds: 120 })}`))).toMatchObject({ status: 401, reason: 'not_yet_valid' });
  });

  it('rejects a token without exp (legacy Secret-based tokens never expire)', async () => {
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setAudience(audience).setSubject('system:serviceaccount:observability:debug-reader').sign(signing.privateKey);
    const result = rejected(await verifier().verify(`Bearer ${noExp}`));
    expect(result).toMatchObject({ status: 401, reason: 'malformed_token' });
    expect(result.message).toContain('"exp" is missing');
  });

  it('rejects a token of a user rather than a ServiceAccount (401 not_a_service_account)', async () => {
    const userToken = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setAudience(audience).setSubject('alice@example.com').setExpirationTime('5m').sign(signing.privateKey);
    expect(rejected(await verifier().verify(`Bearer ${userToken}`))).toMatchObject({ status: 401, reason: 'not_a_service_account' });
  });

  it('rejects a token whose kubernetes.io claim names another ServiceAccount than its subject', async () => {
    const token = await saToken({ payload: { 'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'debug-reader' } } } });
    expect(rejected(await verifier().verify(`Bearer ${token}`))).toMatchObject({ status: 401, reason: 'malformed_token' });
  });

  it('rejects a token signed with an algorithm the API server does not use (HS256)', async () => {
    const hmac = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(issuer).setAudience(audience).setSubject('system:serviceaccount:observability:debug-reader').setExpirationTime('5m').sign(new Uint8Array(32));
    expect(rejected(await verifier().verify(`Bearer ${hmac}`))).toMatchObject({ status: 401, reason: 'unsupported_algorithm' });
  });

  it('answers 403 subject_not_allowed for a valid token of a ServiceAccount not on the allow list', async () => {
    const result = rejected(await verifier().verify(`Bearer ${await saToken({ name: 'someone-else' })}`));
    expect(result).toMatchObject({ status: 403, reason: 'subject_not_allowed', identity: { subject: 'system:serviceaccount:observability:someone-else' } });
  });

  it('matches NS:NAME and NS:* patterns, and without an allow list any ServiceAccount', async () => {
    expect((await verifier(['observability:debug-reader']).verify(`Bearer ${await saToken()}`)).ok).toBe(true);
    expect((await verifier(['observability:*']).verify(`Bearer ${await saToken({ name: 'anyone' })}`)).ok).toBe(true);
    expect((await verifier(['observability:*']).verify(`Bearer ${await saToken({ namespace: 'other-ns' })}`)).ok).toBe(false);
    expect((await createTokenVerifier({ jwks, issuer, audience }).verify(`Bearer ${await saToken({ namespace: 'other-ns' })}`)).ok).toBe(true);
  });

  it('never puts the token into a rejection message', async () => {
    const tokens = [await saToken({ aud: 'other' }), await saToken({ key: other }), await saToken({ expSeconds: -100 }), await saToken({ name: 'x' })];
    for (const token of tokens) {
      const result = rejected(await verifier().verify(`Bearer ${token}`));
      for (const part of token.split('.')) expect(result.message).not.toContain(part);
    }
  });
});

describe('key rotation and key availability', () => {
  it('refetches the keys once on an unknown kid and accepts a token signed with a rotated key', async () => {
    let served: JSONWebKeySet = jwks;
    let clock = 0;
    const keys = createCachedKeySet({ fetchKeys: async () => served, nowMs: () => clock, minRefreshIntervalMs: 10_000 });
    const verify = createTokenVerifier({ jwks: keys, issuer, audience }).verify;
    expect((await verify(`Bearer ${await saToken()}`)).ok).toBe(true);
    expect(keys.fetchCount()).toBe(1);

    served = { keys: [...jwks.keys, await jwkOf(other, 'k2')] };
    clock = 15_000;
    expect((await verify(`Bearer ${await saToken({ key: other, kid: 'k2' })}`)).ok).toBe(true);
    expect(keys.fetchCount()).toBe(2);
  });

  it('rate-limits refetching: a burst of unknown kids costs one fetch per interval', async () => {
    let clock = 0;
    const keys = createCachedKeySet({ fetchKeys: async () => jwks, nowMs: () => clock, minRefreshIntervalMs: 10_000 });
    const verify = createTokenVerifier({ jwks: keys, issuer, audience }).verify;
    const unknown = await saToken({ key: other, kid: 'nope' });
    for (let i = 0; i < 20; i++) expect(rejected(await verify(`Bearer ${unknown}`))).toMatchObject({ status: 401, reason: 'unknown_signing_key' });
    expect(keys.fetchCount()).toBe(1);
    clock = 10_001;
    await verify(`Bearer ${unknown}`);
    expect(keys.fetchCount()).toBe(2);
  });

  it('answers 503 keys_unavailable while the keys cannot be fetched, then recovers', async () => {
    let up = false;
    let clock = 0;
    const keys = createCachedKeySet({ fetchKeys: async () => (up ? jwks : Promise.reject(new Error('connect ECONNREFUSED'))), nowMs: () => clock, minRefreshIntervalMs: 1_000 });
    const verify = createTokenVerifier({ jwks: keys, issuer, audience }).verify;
    const result = rejected(await verify(`Bearer ${await saToken()}`));
    expect(result).toMatchObject({ status: 503, reason: 'keys_unavailable' });
    expect(result.message).toContain('ECONNREFUSED');
    up = true;
    clock = 2_000;
    expect((await verify(`Bearer ${await saToken()}`)).ok).toBe(true);
  });

  it('discovers the issuer once and retries discovery after a failure', async () => {
    let calls = 0;
    const verify = createTokenVerifier({
      jwks,
      issuer: async () => {
        calls++;
        if (calls === 1) throw new Error('HTTP 403');
        return issuer;
      },
      audience,
    }).verify;
    expect(rejected(await verify(`Bearer ${await saToken()}`))).toMatchObject({ status: 503, reason: 'keys_unavailable' });
    expect((await verify(`Bearer ${await saToken()}`)).ok).toBe(true);
    expect((await verify(`Bearer ${await saToken()}`)).ok).toBe(true);
    expect(calls).toBe(2);
  });
});

describe('parseSubjectPattern and bearerToken', () => {
  it('parses the long and short forms and refuses anything else', () => {
    expect(parseSubjectPattern('system:serviceaccount:ns:sa')).toEqual({ namespace: 'ns', serviceAccount: 'sa' });
    expect(parseSubjectPattern('ns:*')).toEqual({ namespace: 'ns', serviceAccount: '*' });
    for (const bad of ['*', '*:*', 'ns', 'system:serviceaccount:ns', 'NS:sa', 'ns:sa:extra', 'system:serviceaccounts:ns', 'alice@example.com']) {
      expect(() => parseSubjectPattern(bad), bad).toThrow(/is not a ServiceAccount subject/);
    }
  });

  it('extracts the JWT from the header', () => {
    expect(bearerToken('Bearer a.b.c')).toBe('a.b.c');
    expect(bearerToken('Bearer  a.b.c ')).toBe('a.b.c');
  });
});
