// A small flag parser on top of node:util parseArgs, with one error type that names the flag,
// so every subcommand reports bad flags the same way.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What a subcommand of the `edot-ta` CLI is: its arguments in, an exit code out. */
export type CommandRunner = (argv: string[]) => Promise<number>;

export class UsageError extends Error {}

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
