// Installs CustomResourceDefinitions with kubectl. Not with @kubernetes/client-node: its 1.4.0
// serializer silently drops `enum` and every `x-kubernetes-*` key of a schema given as plain
// YAML, so `x-kubernetes-preserve-unknown-fields` would be lost and the apiserver would prune
// monitors' relabelings and collector configs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tool } from './tools.js';

const execFileAsync = promisify(execFile);

export async function installCrds(kubeconfigPath: string, dirOrFile: string): Promise<string[]> {
  const kubectl = (...args: string[]) => execFileAsync(tool('kubectl'), ['--kubeconfig', kubeconfigPath, ...args]);
  const { stdout } = await kubectl('apply', '-o', 'name', '-f', dirOrFile);
  const names = stdout.trim().split('\n').filter(Boolean);
  await kubectl('wait', '--for=condition=Established', '--timeout=60s', ...names);
  return names;
}
