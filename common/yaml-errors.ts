// YAML errors without the YAML: the yaml package's messages quote the offending lines, which in
// a collector or scrape config can be a password or token. Logs, Events, admission warnings and
// render messages say what is wrong and where (line, column), never the text.
import { YAMLError } from 'yaml';

/**
 * "Nested mappings are not allowed in compact mappings (line 1, column 4)": no config text.
 * `source` gives the position when the error was collected without prettyErrors.
 */
export function describeYamlError(error: unknown, source?: string): string {
  if (!(error instanceof YAMLError)) return error instanceof Error ? error.message : String(error);
  const what = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const where = error.linePos?.[0] ?? (source !== undefined ? linePos(source, error.pos[0]) : undefined);
  return where ? `${what} (line ${where.line}, column ${where.col})` : what;
}

function linePos(source: string, offset: number): { line: number; col: number } {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}
