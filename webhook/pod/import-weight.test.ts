// The serving webhook keeps @kubernetes/client-node out of its process (its API calls run in a
// short-lived child, see cluster-tasks.ts): the client alone costs ~60 MiB of RSS, and the
// admission path must not regress to loading it through some shared helper.
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

describe('webhook import weight', () => {
  it('loads the serving modules without @kubernetes/client-node', async () => {
    expect(await importsWithoutClient('./webhook/cli.ts')).toBe('ok');
  });

  it('has a guard that would notice the client being loaded', async () => {
    await expect(importsWithoutClient('./sidecar/sharding/runtime.ts')).rejects.toThrow(/loaded @kubernetes\/client-node/);
  });
});
