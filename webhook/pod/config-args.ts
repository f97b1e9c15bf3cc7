// The collector's `--config` arguments, in every form the collector (cobra/pflag) accepts:
// `--config=x`, `--config x`, repeated, and config URIs (`file:`, `env:`, `yaml:`, `http(s):`).
// Only file sources can be rendered; the rest are reported so the caller can warn.
import { posix } from 'node:path';

export type ConfigScheme = 'path' | 'file' | 'env' | 'yaml' | 'http' | 'https' | 'other';

export interface ConfigSource {
  /** Which array holds the value token (the flag and its value may sit in command or args). */
  array: 'command' | 'args';
  /** Index of the token holding the value. */
  index: number;
  /** `--config=x` (value is in the same token) or `--config x`. */
  form: 'equals' | 'separate';
  value: string;
  scheme: ConfigScheme;
  /** The file path for `path` and `file` sources (absolute or as written). */
  path?: string;
}

export interface SetFlag {
  array: 'command' | 'args';
  index: number;
  value: string;
}

export interface CollectorArgs {
  configs: ConfigSource[];
  sets: SetFlag[];
}

export function classifyConfigValue(value: string): { scheme: ConfigScheme; path?: string } {
  const uri = value.match(/^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s);
  if (!uri) return { scheme: 'path', path: value };
  const scheme = uri[1]!.toLowerCase();
  const rest = uri[2]!;
  if (scheme === 'file') return { scheme: 'file', path: rest.startsWith('///') ? rest.slice(2) : rest };
  if (scheme === 'env' || scheme === 'yaml' || scheme === 'http' || scheme === 'https') return { scheme };
  return { scheme: 'other' };
}

/** Finds every --config and --set in command + args (a flag's value may be the next token, even across the two arrays). */
export function parseCollectorArgs(command: string[] = [], args: string[] = []): CollectorArgs {
  const tokens = [
    ...command.map((token, index) => ({ token, array: 'command' as const, index })),
    ...args.map((token, index) => ({ token, array: 'args' as const, index })),
  ];
  const result: CollectorArgs = { configs: [], sets: [] };
  for (let i = 0; i < tokens.length; i++) {
    const { token, array, index } = tokens[i]!;
    if (token === '--') break; // everything after is positional
    const flag = token.match(/^--(config|set)(=(.*))?$/s);
    if (!flag) continue;
    let value: string;
    let at = { array, index };
    let form: ConfigSource['form'] = 'equals';
    if (flag[2] !== undefined) value = flag[3]!;
    else {
      const next = tokens[i + 1];
      if (!next) continue;
      value = next.token;
      at = { array: next.array, index: next.index };
      form = 'separate';
      i++;
    }
    if (flag[1] === 'set') result.sets.push({ ...at, value });
    else result.configs.push({ ...at, form, value, ...classifyConfigValue(value) });
  }
  return result;
}

/** The new token for a rewritten config source, keeping its form (`file:` URIs stay URIs). */
export function rewrittenToken(source: ConfigSource, renderedPath: string): string {
  const value = source.scheme === 'file' ? `file:${renderedPath}` : renderedPath;
  return source.form === 'equals' ? `--config=${value}` : value;
}

/** Applies token replacements; token count never changes, so command and args keep their shape. */
export function replaceTokens(
  command: string[] | undefined,
  args: string[] | undefined,
  replacements: Array<{ array: 'command' | 'args'; index: number; token: string }>,
): { command: string[] | undefined; args: string[] | undefined } {
  const nextCommand = command ? [...command] : undefined;
  const nextArgs = args ? [...args] : undefined;
  for (const r of replacements) {
    const target = r.array === 'command' ? nextCommand : nextArgs;
    if (target && r.index < target.length) target[r.index] = r.token;
  }
  return { command: nextCommand, args: nextArgs };
}

/** `/edot-ta/<n>-<basename>`; the basename keeps the extension the collector expects. */
export function renderedConfigPath(mountPath: string, index: number, sourcePath: string): string {
  const base = posix.basename(sourcePath).replace(/[^A-Za-z0-9._-]/g, '_') || 'config.yaml';
  return `${mountPath}/${index}-${base}`;
}
