import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { fileConnection, inClusterConnection, loadKubeConnection, type KubeConnection } from './kubeconfig.js';

async function applied(connection: KubeConnection): Promise<RequestOptions & { headers: Record<string, string> }> {
  const options: RequestOptions & { headers: Record<string, string> } = { headers: {} };
  await connection.apply(options);
  return options;
}

function kubeconfig(dir: string, cluster: Record<string, unknown>, user: Record<string, unknown>, name = 'config'): string {
  const path = join(dir, name);
  writeFileSync(path, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'other', cluster: { server: 'https://wrong:1' } }, { name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  }));
  return path;
}

describe('kubeconfig without client-node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-kubeconfig-'));
  mkdirSync(join(dir, 'pki'));
  writeFileSync(join(dir, 'pki', 'ca.crt'), 'CA-PEM');
  writeFileSync(join(dir, 'pki', 'token'), 'file-token\n');

  it('reads the current context: server, CA relative to the file, a token', async () => {
    const path = kubeconfig(dir, { server: 'https://api.example:6443/', 'certificate-authority': 'pki/ca.crt' }, { token: 'abc' });
    const connection = fileConnection(path)!;
    expect(connection.server).toBe('https://api.example:6443');
    const options = await applied(connection);
    expect(String(options.ca)).toBe('CA-PEM');
    expect(options.headers.Authorization).toBe('Bearer abc');
  });

  it('reads inline data, client certificates, a token file and insecure-skip-tls-verify', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const path = kubeconfig(dir, { server: 'https://10.0.0.1', 'certificate-authority-data': b64('INLINE-CA'), 'insecure-skip-tls-verify': true }, { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), tokenFile: join(dir, 'pki', 'token') }, 'inline');
    const options = await applied(fileConnection(path)!);
    expect(String(options.ca)).toBe('INLINE-CA');
    expect(String(options.cert)).toBe('CERT');
    expect(String(options.key)).toBe('KEY');
    expect(options.rejectUnauthorized).toBe(false);
    expect(options.headers.Authorization).toBe('Bearer file-token');
  });

  it('leaves exec plugins and basic auth to client-node (undefined here), which loadKubeConnection then uses', async () => {
    const exec = kubeconfig(dir, { server: 'https://10.0.0.2' }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } }, 'exec');
    expect(fileConnection(exec)).toBeUndefined();
    expect(fileConnection(kubeconfig(dir, { server: 'https://10.0.0.2' }, { username: 'a', password: 'b' }, 'basic'))).toBeUndefined();
    const viaClientNode = await loadKubeConnection(exec, {});
    expect(viaClientNode.server).toBe('https://10.0.0.2');
  });

  it('says what is missing in a broken file', () => {
    const noContext = join(dir, 'no-context');
    writeFileSync(noContext, stringify({ clusters: [] }));
    expect(() => fileConnection(noContext)).toThrow(/no current-context/);
    const noServer = kubeconfig(dir, { 'certificate-authority': 'pki/ca.crt' }, { token: 'x' }, 'no-server');
    expect(() => fileConnection(noServer)).toThrow(/cluster has no server/);
  });

  it('in a pod: the ServiceAccount token (re-read when rotated) and CA, the service host and port', async () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'ca.crt'), 'SA-CA');
    writeFileSync(join(sa, 'token'), 'token-1');
    const connection = inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect(connection.server).toBe('https://[fd00::1]:443');
    const options = await applied(connection);
    expect(String(options.ca)).toBe('SA-CA');
    expect(options.headers.Authorization).toBe('Bearer token-1');
  });

  it('without any credentials: a clear error', async () => {
    await expect(loadKubeConnection(undefined, {})).rejects.toThrow(/no Kubernetes credentials/);
  });
});
