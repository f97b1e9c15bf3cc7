// `edot-ta sidecar <render|serve>`: the two jobs of the injected sidecar image.
import type { CommandRunner } from '../common/args.js';

const subcommands: Record<string, { summary: string; load: () => Promise<CommandRunner> }> = {
  render: {
    summary: 'rewrite a collector config so its prometheus receivers use the local target_allocator',
    load: async () => (await import('./render/render-cli.js')).run,
  },
  serve: {
    summary: 'discover targets and serve the target_allocator API on loopback',
    load: async () => (await import('./serve/serve-cli.js')).run,
  },
};

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const sub = name === undefined ? undefined : subcommands[name];
  if (!sub) {
    const help = Object.entries(subcommands).map(([n, s]) => `  ${n.padEnd(7)} ${s.summary}`).join('\n');
    const wantsHelp = name === '--help' || name === '-h';
    (wantsHelp ? console.log : console.error)(`Usage: edot-ta sidecar <command> [flags]\n\nCommands:\n${help}`);
    return wantsHelp ? 0 : 2;
  }
  return (await sub.load())(rest);
}
