import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier, DebugAuthError } from './debug-auth.js';

const issuer = 'https://kubernetes.default.svc';
const subject = 'system:serviceaccount:observability:inspector';

async function signingKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const sign = (claims: { aud?: string; iss?: string; expiresIn?: string }) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject(subject)
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? 'edot-ta-webhook')
      .setIssuedAt()
      .setExpirationTime(claims.expiresIn ?? '10m')
      .sign(privateKey);
  return { jwk, sign };
}

describe('debug endpoint token verification', () => {
  it('accepts a token of the cluster issuer bound to our audience, and names the caller', async () => {
    const key = await signingKey('k1');
    const verifier = createTokenVerifier({ audience: 'edot-ta-webhook', loadKeys: async () => ({ issuer, jwks: { keys: [key.jwk] } }) });
    expect(await verifier.verify(`Bearer ${await key.sign({})}`)).toEqual({ subject });
  });

  it.each([
    ['no header', async () => undefined, /missing bearer token/],
    ['another audience', async (sign: (c: object) => Promise<string>) => `Bearer ${await sign({ aud: 'https://kubernetes.default.svc' })}`, /aud/],
    ['another issuer', async (sign: (c: object) => Promise<string>) => `Bearer ${await sign({ iss: 'https://evil.example' })}`, /iss/],
    ['an expired token', async (sign: (c: object) => Promise<string>) => `Bearer ${await sign({ expiresIn: '-1m' })}`, /expired/],
  ])('rejects %s', async (_name, header, reason) => {
    const key = await signingKey('k1');
    const verifier = createTokenVerifier({ audience: 'edot-ta-webhook', loadKeys: async () => ({ issuer, jwks: { keys: [key.jwk] } }) });
    const attempt = verifier.verify(await header(key.sign));
    await expect(attempt).rejects.toThrow(DebugAuthError);
    await expect(verifier.verify(await header(key.sign))).rejects.toThrow(reason);
  });

  it('rejects a token signed by a key outside the cluster JWKS', async () => {
    const cluster = await signingKey('k1');
    const forged = await signingKey('k1'); // same kid, different key
    const verifier = createTokenVerifier({ audience: 'edot-ta-webhook', loadKeys: async () => ({ issuer, jwks: { keys: [cluster.jwk] } }) });
    await expect(verifier.verify(`Bearer ${await forged.sign({})}`)).rejects.toThrow(/token rejected/);
  });

  it('reloads the JWKS when the cluster rotated its signing key (rate limited)', async () => {
    const before = await signingKey('old');
    const after = await signingKey('new');
    let jwks = { keys: [before.jwk] };
    let loads = 0;
    let clock = 0;
    const verifier = createTokenVerifier({ audience: 'edot-ta-webhook', loadKeys: async () => (loads++, { issuer, jwks }), minReloadIntervalMs: 30_000, now: () => clock });
    expect(await verifier.verify(`Bearer ${await before.sign({})}`)).toEqual({ subject });
    jwks = { keys: [after.jwk] };
    clock = 10_000; // too soon to reload
    await expect(verifier.verify(`Bearer ${await after.sign({})}`)).rejects.toThrow(DebugAuthError);
    clock = 40_000;
    expect(await verifier.verify(`Bearer ${await after.sign({})}`)).toEqual({ subject });
    expect(loads).toBe(2);
  });
});
