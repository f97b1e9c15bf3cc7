// Shared by the webhook and certs e2e files: the built CLI (plain node, as in the image), the
// certificate a server presents, and the EDOT daemon pod fixture ready to create.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const mainJs = join(root, 'dist/cli/main.js');
export const fixture = (path: string) => join(root, 'test/fixtures', path);
export const optIn = { 'edot-ta.io/inject': 'enabled' };

export function edotTa(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mainJs, ...args], { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? Number((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

/** Builds dist/ when it is missing or older than the webhook and certs sources. */
export function ensureBuilt(): void {
  const sources = ['webhook', 'certs', 'cli'].flatMap((dir) => spawnSync('ls', [join(root, dir)]).stdout.toString().split('\n').filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(root, dir, f)));
  const target = join(root, 'dist/webhook/cli.js');
  if (existsSync(target) && existsSync(join(root, 'dist/certs/cli.js')) && statSync(target).mtimeMs >= Math.max(...sources.map((s) => statSync(s).mtimeMs))) return;
  // tsc emits even when another engineer's work in progress has type errors; our files must exist.
  spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'ignore' });
  if (!existsSync(target) || !existsSync(join(root, 'dist/certs/cli.js'))) throw new Error('build did not produce dist/webhook/cli.js and dist/certs/cli.js');
}

/** The serial number of the certificate the server presents to a new connection. */
export function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate().serialNumber.toLowerCase());
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** The EDOT daemon pod as the operator renders it, named, for a given namespace. */
export function daemonPod(name: string): V1Pod {
  const pod = parse(readFileSync(fixture('pods/edot-daemon-operator.yaml'), 'utf8')) as V1Pod;
  delete pod.metadata!.generateName;
  delete pod.metadata!.namespace;
  pod.metadata!.name = name;
  return pod;
}

export const containerNames = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
