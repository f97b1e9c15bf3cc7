import { readFileSync } from 'node:fs';

// Read once from package.json so the CLI, the status annotation and the image agree.
let cached: string | undefined;
export function edotTaVersion(): string {
  if (cached) return cached;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'edot-ta' && pkg.version) return (cached = pkg.version);
    } catch {
      // try the next location: sources run from cli/, the build from dist/cli/
    }
  }
  return (cached = '0.0.0-unknown');
}
