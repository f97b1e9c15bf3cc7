import { readFileSync } from 'node:fs';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../common/args.js';
import { createLogger } from '../../common/log.js';
import { debugClusterConnection, createDebugRoutes, parseDebugSettings } from './debug-routes.js';
import { DecisionLog, decisionFromReview, type AdmissionDecision } from './decisions.js';
import { createWebhookMetrics } from '../admission/metrics.js';
import { createWebhookApp } from '../server.js';
import { defaultCRSettings, defaultInjectSettings } from '../settings.js';
import { createTokenVerifier } from './token-auth.js';

const issuer = 'https://kubernetes.default.svc';
let privateKey: CryptoKey;
let jwks: JSONWebKeySet;
const logLines: string[] = [];
const logger = createLogger({}, (line) => logLines.push(line));

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' }] };
});

const token = (sa: string, aud = 'edot-ta') =>
  new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setAudience(aud).setSubject(`system:serviceaccount:${sa}`).setIssuedAt().setExpirationTime('10m').sign(privateKey);

const decision = (uid: string, namespace: string): AdmissionDecision => ({
  time: '2026-11-25T10:00:00.000Z', uid, kind: 'v1/Pod', namespace, generateName: 'edot-', operation: 'CREATE', dryRun: false, result: 'mutated', changed: true, warnings: [], patchBytes: 1200, latencyMs: 0.8,
});

function app() {
  const decisions = new DecisionLog(50);
  decisions.record(decision('u1', 'team-a'));
  decisions.record(decision('u2', 'team-b'));
  decisions.record(decision('u3', 'team-a'));
  const verifier = createTokenVerifier({ jwks, issuer, audience: 'edot-ta', allowedSubjects: ['observability:debug-reader'] });
  return createDebugRoutes({ verifier, decisions, logger });
}

describe('GET /debug/decisions', () => {
  it('lists recent decisions, newest first, for an allowed ServiceAccount', async () => {
    const res = await app().request('/debug/decisions', { headers: { authorization: `Bearer ${await token('observability:debug-reader')}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { capacity: number; recorded: number; items: AdmissionDecision[] };
    expect(body).toMatchObject({ capacity: 50, recorded: 3 });
    expect(body.items.map((d) => d.uid)).toEqual(['u3', 'u2', 'u1']);
    expect(logLines.at(-1)).toContain('"subject":"system:serviceaccount:observability:debug-reader"');
  });

  it('filters by ?namespace= and ?limit=', async () => {
    const res = await app().request('/debug/decisions?namespace=team-a&limit=1', { headers: { authorization: `Bearer ${await token('observability:debug-reader')}` } });
    const body = (await res.json()) as { items: AdmissionDecision[] };
    expect(body.items.map((d) => d.uid)).toEqual(['u3']);
  });

  it('answers 400 for a limit that is not 1..capacity', async () => {
    const auth = { authorization: `Bearer ${await token('observability:debug-reader')}` };
    for (const limit of ['0', '-1', 'ten', '51', '1.5']) {
      const res = await app().request(`/debug/decisions?limit=${limit}`, { headers: auth });
      expect(res.status, limit).toBe(400);
    }
  });

  it('answers 401 with a Bearer challenge and a JSON reason without a token', async () => {
    const res = await app().request('/debug/decisions');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="edot-ta"');
    expect(await res.json()).toMatchObject({ reason: 'missing_token', error: expect.stringContaining('Authorization: Bearer') });
  });

  it('answers 401 invalid_token for a token requested for another audience', async () => {
    const res = await app().request('/debug/decisions', { headers: { authorization: `Bearer ${await token('observability:debug-reader', 'other')}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="edot-ta", error="invalid_token", error_description="token audience is not 'edot-ta'/);
    expect(await res.json()).toMatchObject({ reason: 'wrong_audience' });
  });

  it('answers 403 for a valid token whose ServiceAccount is not allowed, and logs who it was (not the token)', async () => {
    const jwt = await token('observability:someone-else');
    const res = await app().request('/debug/decisions', { headers: { authorization: `Bearer ${jwt}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(await res.json()).toMatchObject({ reason: 'subject_not_allowed' });
    expect(logLines.at(-1)).toContain('system:serviceaccount:observability:someone-else');
    expect(logLines.join('\n')).not.toContain(jwt.split('.')[2]!);
  });

  it('guards every path under /debug/, also unknown ones', async () => {
    expect((await app().request('/debug/anything')).status).toBe(401);
  });
});

describe('parseDebugSettings', () => {
  it('is off without --debug-allow', () => {
    expect(parseDebugSettings({})).toBeUndefined();
  });

  it('stays off with --debug-audience alone (that flag only gates /debug/settings), refuses --kubeconfig without --debug-allow', () => {
    expect(parseDebugSettings({ 'debug-audience': 'x' })).toBeUndefined();
    expect(() => parseDebugSettings({ kubeconfig: '/k' })).toThrow(UsageError);
  });

  it('defaults the audience to edot-ta and validates each subject', () => {
    expect(parseDebugSettings({ 'debug-allow': ['ns:sa', 'system:serviceaccount:ops:*'] })).toEqual({ audience: 'edot-ta', allowedSubjects: ['ns:sa', 'system:serviceaccount:ops:*'] });
    expect(parseDebugSettings({ 'debug-allow': ['ns:sa'], 'debug-audience': 'aud', kubeconfig: '/k' })).toEqual({ audience: 'aud', allowedSubjects: ['ns:sa'], kubeconfig: '/k' });
    expect(() => parseDebugSettings({ 'debug-allow': ['*'] })).toThrow(/--debug-allow: "\*" is not a ServiceAccount subject/);
    expect(() => parseDebugSettings({ 'debug-allow': ['ns:sa'], 'debug-audience': ' ' })).toThrow(UsageError);
  });

  it('takes the JWKS connection from --kubeconfig, else in-cluster, else $KUBECONFIG', () => {
    expect(() => debugClusterConnection({ audience: 'a', allowedSubjects: [], kubeconfig: '/nonexistent/kubeconfig' })).toThrow(/cannot read kubeconfig \/nonexistent\/kubeconfig/);
    expect(() => debugClusterConnection({ audience: 'a', allowedSubjects: [] }, { KUBECONFIG: '/nonexistent/env-kubeconfig' })).toThrow(/env-kubeconfig/);
    expect(() => debugClusterConnection({ audience: 'a', allowedSubjects: [] }, {})).toThrow(/pass --kubeconfig/);
  });
});

describe('mounted in the webhook app (server.ts, as cli.ts wires it)', () => {
  const review = readFileSync(new URL('../../test/fixtures/admission/pod-create-edot-daemon.json', import.meta.url), 'utf8');
  const webhookApp = (decisions?: DecisionLog, routes?: ReturnType<typeof createDebugRoutes>) =>
    createWebhookApp({
      settings: { inject: defaultInjectSettings(), cr: defaultCRSettings() },
      metrics: createWebhookMetrics({ processMetrics: false }),
      logger,
      ...(decisions && routes ? { extraRoutes: routes, onDecision: (request, outcome, answer) => decisions.record(decisionFromReview(request, outcome, answer)) } : {}),
    });

  it('has no /debug/ routes at all without --debug-allow (never open by default)', async () => {
    expect((await webhookApp().request('/debug/decisions')).status).toBe(404);
  });

  it('records each answered review and serves it to an allowed token only, without the pod itself', async () => {
    const decisions = new DecisionLog(10);
    const verifier = createTokenVerifier({ jwks, issuer, audience: 'edot-ta', allowedSubjects: ['observability:debug-reader'] });
    const hono = webhookApp(decisions, createDebugRoutes({ verifier, decisions, logger }));
    expect((await hono.request('/mutate', { method: 'POST', body: review, headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect(decisions.list()).toEqual([expect.objectContaining({ uid: '3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c', kind: 'v1/Pod', result: 'mutated', changed: true })]);
    expect((await hono.request('/debug/decisions')).status).toBe(401);
    expect((await hono.request('/debug/decisions', { headers: { authorization: `Bearer ${await token('observability:someone-else')}` } })).status).toBe(403);
    const res = await hono.request('/debug/decisions', { headers: { authorization: `Bearer ${await token('observability:debug-reader')}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c');
    expect(text).not.toContain('elastic-secret-otel');
  });
});
