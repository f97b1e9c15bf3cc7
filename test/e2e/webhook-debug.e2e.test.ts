// The webhook's authenticated debug endpoint against the real v1.20 apiserver: ServiceAccount
// tokens come from the TokenRequest API (`kubectl create token --audience edot-ta`), the signing
// keys from the apiserver's /openid/v1/jwks (fetched with the kubeconfig's credentials and CA),
// the issuer from /.well-known/openid-configuration. First the verifier in-process, then the
// built CLI (plain node) as a real process with --debug-allow: one AdmissionReview goes in, the
// decision comes out of GET /debug/decisions for an allowed token only.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clusterKeySet, discoverIssuer, getJson, kubeconfigConnection } from '../../webhook/debug/cluster-jwks.js';
import type { AdmissionDecision } from '../../webhook/debug/decisions.js';
import { createTokenVerifier } from '../../webhook/debug/token-auth.js';
import { writeKubeconfig } from '../harness/cluster.js';
import { clients, clusterEndpoints, createTestNamespace, kubectl } from '../harness/context.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../harness/processes.js';
import { webhookServiceAccount } from './support/service-accounts.js';
import { ensureBuilt } from './support/webhook.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const mainJs = join(root, 'dist/cli/main.js');


function edotTa(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mainJs, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? Number((err as { code?: number }).code ?? 1) : 0 }));
  });
}

/** A TokenRequest token for a ServiceAccount, as a user would get one. */
async function saToken(namespace: string, serviceAccount: string, audience?: string): Promise<string> {
  const args = ['create', 'token', serviceAccount, '-n', namespace, '--duration', '10m', ...(audience !== undefined ? ['--audience', audience] : [])];
  return (await kubectl(args)).trim();
}

interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, ca: string, method: string, path: string, options: { token?: string; body?: string } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(options.body)) });
    const req = httpsRequest({ host: '127.0.0.1', port, path, method, ca, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

let namespace = '';
beforeAll(async () => {
  ensureBuilt();
  namespace = await createTestNamespace('debug');
  const { core } = clients();
  for (const name of ['debug-reader', 'intruder']) await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
});

describe('the apiserver serves what the verifier needs', () => {
  it('exposes its issuer and signing keys to the webhook\'s credentials', async () => {
    const connection = kubeconfigConnection(clusterEndpoints().kubeconfigPath);
    expect(await discoverIssuer(connection)).toBe('https://kubernetes.default.svc');
    const jwks = (await getJson(connection, '/openid/v1/jwks')) as { keys: { kid?: string; alg?: string }[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).toMatchObject({ alg: 'RS256', kid: expect.any(String) });
  });

  it('lets the webhook read the keys with its own ServiceAccount token (default binding for system:serviceaccounts)', async () => {
    const { core, rbac } = clients();
    const binding = await rbac.readClusterRoleBinding({ name: 'system:service-account-issuer-discovery' });
    expect(binding.roleRef.name).toBe('system:service-account-issuer-discovery');
    expect(binding.subjects).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'Group', name: 'system:serviceaccounts' })]));
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'webhook' } } });
    // The webhook's own credentials: a kubeconfig with its ServiceAccount token (as in-cluster).
    const kubeconfigPath = join(mkdtempSync(join(tmpdir(), 'edot-ta-sa-kubeconfig-')), 'kubeconfig');
    writeKubeconfig(kubeconfigPath, clusterEndpoints().server, clusterEndpoints().caFile, await saToken(namespace, 'webhook'), 'webhook');
    const keys = await clusterKeySet(kubeconfigConnection(kubeconfigPath)).current();
    expect(keys.keys.length).toBeGreaterThan(0);
    rmSync(dirname(kubeconfigPath), { recursive: true, force: true });
  });
});

describe('token verification in-process against the real apiserver', () => {
  const connection = () => kubeconfigConnection(clusterEndpoints().kubeconfigPath);
  const verifier = () =>
    createTokenVerifier({ jwks: clusterKeySet(connection()), issuer: () => discoverIssuer(connection()), audience: 'edot-ta', allowedSubjects: [`${namespace}:debug-reader`] });

  it('accepts a TokenRequest token for audience edot-ta of an allowed ServiceAccount', async () => {
    const result = await verifier().verify(`Bearer ${await saToken(namespace, 'debug-reader', 'edot-ta')}`);
    expect(result).toEqual({ ok: true, identity: { subject: `system:serviceaccount:${namespace}:debug-reader`, namespace, serviceAccount: 'debug-reader' } });
  });

  it('rejects the same ServiceAccount\'s token for the apiserver\'s own audience (a token meant for the API is not one for us)', async () => {
    const result = await verifier().verify(`Bearer ${await saToken(namespace, 'debug-reader')}`);
    expect(result).toMatchObject({ ok: false, status: 401, reason: 'wrong_audience' });
  });

  it('answers 403 for another ServiceAccount\'s valid token', async () => {
    const result = await verifier().verify(`Bearer ${await saToken(namespace, 'intruder', 'edot-ta')}`);
    expect(result).toMatchObject({ ok: false, status: 403, reason: 'subject_not_allowed' });
  });
});

describe('edot-ta webhook --debug-allow as a real process', () => {
  const work = mkdtempSync(join(tmpdir(), 'edot-ta-webhook-debug-e2e-'));
  let webhook: ManagedProcess | undefined;
  let port = 0;
  let caPem = '';
  const uid = randomUUID();

  beforeAll(async () => {
    const issued = await edotTa(['certs', '--out-dir', join(work, 'certs'), '--service', 'edot-ta-webhook', '--namespace', 'edot-ta-system', '--ip', '127.0.0.1', '--days', '1']);
    expect(issued.code, issued.stderr).toBe(0);
    caPem = readFileSync(join(work, 'certs', 'ca.crt'), 'utf8');
    port = await freePort();
    // Under the webhook's ServiceAccount with the shipped rules (token auth), not as admin.
    const kubeconfig = await webhookServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir: work, configName: `edot-ta-debug-${uid.slice(0, 8)}` });
    webhook = startProcess('webhook-debug', process.execPath, [
      mainJs, 'webhook', '--port', String(port), '--listen-address', '127.0.0.1', '--cert-dir', join(work, 'certs'),
      '--sidecar-image', 'edot-ta:e2e', '--native-sidecars', 'false', '--shutdown-delay-seconds', '0',
      '--debug-allow', `system:serviceaccount:${namespace}:debug-reader`, '--kubeconfig', kubeconfig,
    ], { logFile: join(work, 'webhook.log'), env: { ...process.env, KUBECONFIG: '', EDOT_TA_LOG_LEVEL: 'debug' } });
    await waitFor('the webhook to be ready', async () => (await call(port, caPem, 'GET', '/readyz')).status === 200, { timeoutMs: 20_000, abortIf: webhook.exited, describe: () => webhook!.tail() });
    // At start it reads issuer and keys once, so a missing permission shows in the log right away.
    await waitFor('the webhook to load the issuer and signing keys', () => webhook!.tail(50).includes('"msg":"debug endpoint: token issuer and signing keys loaded","component":"webhook","issuer":"https://kubernetes.default.svc"'), { timeoutMs: 10_000, describe: () => webhook!.tail() });

    // One AdmissionReview, as the apiserver would send it for a DaemonSet's pod.
    const pod = parse(readFileSync(join(root, 'test/fixtures/pods/edot-daemon-operator.yaml'), 'utf8')) as { metadata: Record<string, unknown> };
    pod.metadata.namespace = namespace;
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace, object: pod, dryRun: false },
    };
    const answer = await call(port, caPem, 'POST', '/mutate', { body: JSON.stringify(review) });
    expect(answer.status, answer.body).toBe(200);
    expect((JSON.parse(answer.body) as { response: { patchType?: string } }).response.patchType).toBe('JSONPatch');
  });

  afterAll(async () => {
    await webhook?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('lists the decision for a token of an allowed ServiceAccount (audience edot-ta)', async () => {
    const token = await saToken(namespace, 'debug-reader', 'edot-ta');
    const answer = await call(port, caPem, 'GET', `/debug/decisions?namespace=${namespace}&limit=10`, { token });
    expect(answer.status, answer.body).toBe(200);
    const body = JSON.parse(answer.body) as { items: AdmissionDecision[] };
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({ uid, kind: 'v1/Pod', namespace, generateName: 'opentelemetry-kube-stack-daemon-collector-', operation: 'CREATE', dryRun: false, result: 'mutated', changed: true });
    expect(body.items[0]!.patchBytes).toBeGreaterThan(0);
    // No object bodies: nothing of the pod spec is in the answer.
    expect(answer.body).not.toContain('otc-container');
    // The token never reaches the log; the subject does.
    const log = readFileSync(webhook!.logFile, 'utf8');
    expect(log).not.toContain(token.split('.')[2]!);
    expect(log).toContain(`"subject":"system:serviceaccount:${namespace}:debug-reader"`);
  });

  it('answers 401 with a Bearer challenge for a token requested for another audience', async () => {
    const answer = await call(port, caPem, 'GET', '/debug/decisions', { token: await saToken(namespace, 'debug-reader', 'other') });
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="edot-ta", error="invalid_token"/);
    expect(JSON.parse(answer.body)).toMatchObject({ reason: 'wrong_audience' });
  });

  it('answers 403 for a valid token of a ServiceAccount that is not in --debug-allow', async () => {
    const answer = await call(port, caPem, 'GET', '/debug/decisions', { token: await saToken(namespace, 'intruder', 'edot-ta') });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ reason: 'subject_not_allowed' });
  });

  it('answers 401 without a token, and a forged token does not pass', async () => {
    const none = await call(port, caPem, 'GET', '/debug/decisions');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="edot-ta"');
    const [header, , signature] = (await saToken(namespace, 'intruder', 'edot-ta')).split('.');
    const claims = Buffer.from(JSON.stringify({ iss: 'https://kubernetes.default.svc', aud: ['edot-ta'], sub: `system:serviceaccount:${namespace}:debug-reader`, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    const forged = await call(port, caPem, 'GET', '/debug/decisions', { token: `${header}.${claims}.${signature}` });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body)).toMatchObject({ reason: 'bad_signature' });
  });
});
