#!/usr/bin/env node
// The one `edot-ta` CLI. Each subcommand lives beside the code it drives and is loaded lazily,
// so `edot-ta version` does not pay for loading the Kubernetes client.
import type { CommandRunner } from '../common/args.js';
import { edotTaVersion } from '../common/version.js';

interface Command {
  summary: string;
  load: () => Promise<CommandRunner>;
}

const commands: Record<string, Command> = {
  version: { summary: 'print the version', load: async () => async () => (console.log(edotTaVersion()), 0) },
  webhook: { summary: 'run the mutating admission webhook (HTTPS)', load: async () => (await import('../webhook/cli.js')).run },
  sidecar: { summary: 'sidecar: `render` a collector config, `serve` the target_allocator API', load: async () => (await import('../sidecar/cli.js')).run },
  certs: { summary: 'create the webhook CA and serving certificate (directory or Secret)', load: async () => (await import('../certs/cli.js')).run },
  inject: { summary: 'apply the pod mutation offline to YAML (-f FILE, - for stdin)', load: async () => (await import('../webhook/inject-cli.js')).run },
  doctor: { summary: 'check a cluster and a collector group for common problems', load: async () => (await import('./doctor.js')).run },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, cmd]) => `  ${name.padEnd(width)}  ${cmd.summary}`);
  return [
    `edot-ta ${edotTaVersion()} — Prometheus target allocation for EDOT collectors, no central allocator`,
    '',
    'Usage: edot-ta <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `edot-ta <command> --help` for the flags of a command.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') return main(['version']);
  const command = commands[name];
  if (!command) {
    console.error(`edot-ta: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const runner = await command.load();
  return runner(rest);
}

// Run only when executed, not when imported by tests.
const invokedPath = process.argv[1] ?? '';
if (invokedPath.endsWith('/cli/main.js') || invokedPath.endsWith('/cli/main.ts') || invokedPath.endsWith('/edot-ta')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`edot-ta: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
