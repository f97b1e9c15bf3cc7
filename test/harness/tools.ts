// The binaries `npm run setup` (test/harness/setup.sh) builds or installs for the harness, by
// name. Each is a link in ~/.cache/edot-ta/bin (EDOT_TA_CACHE) to a versioned build, so the
// tests never depend on whatever `kubectl` or `etcd` happens to be first on PATH.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Tool = 'kube-apiserver' | 'kube-apiserver-1.20' | 'kubectl' | 'etcd' | 'otelcol' | 'prometheus-sd';

export function cacheDir(): string {
  return process.env.EDOT_TA_CACHE ?? join(homedir(), '.cache', 'edot-ta');
}

/** Absolute path of a harness binary; a clear error when setup has not run. */
export function tool(name: Tool): string {
  const path = join(cacheDir(), 'bin', name);
  if (!existsSync(path)) throw new Error(`no ${name} at ${path}: run \`npm run setup\` (test/harness/setup.sh) first`);
  return path;
}
