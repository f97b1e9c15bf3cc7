// A small flag parser on top of node:util parseArgs, with one error type that names the flag,
// so every subcommand reports bad flags the same way.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What a subcommand of the `edot-ta` CLI is: its arguments in, an exit code out. */
export type CommandRunner = (argv: string[]) => Promise<number>;

export class UsageError extends Error {}

/**
 * A subcommand's flags, or the exit code to return right away: 0 after printing `usage` for
 * --help, 2 after printing the usage error. Other errors propagate.
 */
export function flagsOrExit<F extends { help?: boolean | undefined }>(command: string, usage: string, parse: () => F): F | number {
  try {
    const flags = parse();
    if (!flags.help) return flags;
    console.log(usage);
    return 0;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`edot-ta ${command}: ${err.message}\n\n${usage}`);
    return 2;
  }
}

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}
