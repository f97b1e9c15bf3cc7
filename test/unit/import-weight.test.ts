// The serving webhook and the sidecar keep @kubernetes/client-node out of their processes: the
// client alone costs ~60 MiB of RSS (its generated API), and the sidecar runs on every node.
// The webhook's API calls run in a short-lived child (cluster-tasks.ts); the sidecar reads
// kubeconfigs itself (sidecar/kube/kubeconfig.ts) and imports the client only for what only it
// implements (exec plugins). Neither may regress to loading it through some shared helper.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);

// A module resolve hook that fails any attempt to load the Kubernetes client.
const guard = `data:text/javascript,${encodeURIComponent(`
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(
  'export async function resolve(specifier, context, next) {' +
  '  if (specifier.startsWith("@kubernetes/client-node")) throw new Error("loaded @kubernetes/client-node from " + context.parentURL);' +
  '  return next(specifier, context);' +
  '}'));
`)}`;

async function importsWithoutClient(modulePath: string): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--import', guard, '-e', `import(${JSON.stringify(modulePath)}).then(() => console.log('ok'))`]);
  return stdout.trim();
}

describe('import weight of the long-running processes', () => {
  it('the webhook loads its serving modules without @kubernetes/client-node', async () => {
    expect(await importsWithoutClient('./webhook/cli.ts')).toBe('ok');
  });

  it('the sidecar loads `sidecar serve` (discovery, sharding, API) without @kubernetes/client-node', async () => {
    expect(await importsWithoutClient('./sidecar/serve/serve-cli.ts')).toBe('ok');
  });

  it('has a guard that would notice the client being loaded', async () => {
    await expect(importsWithoutClient('./cli/doctor.ts')).rejects.toThrow(/loaded @kubernetes\/client-node/);
  });
});
