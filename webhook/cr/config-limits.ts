// Bounds on a CR's spec.config string before it is parsed. The webhook parses it on its event
// loop, and every pod review waits behind that parse: a config far beyond any real collector's
// (thousands of receivers, nested flow collections, alias bombs) is not parsed at all. The CR is
// then admitted with a warning and only the changes that need no parse (mode, Target Allocator).
// Real configs (the kube-stack and EDOT ones) are 2–20 KiB with a few hundred keys.

export const configLimits = {
  /** Characters of spec.config. */
  maxChars: 256 * 1024,
  /** Mapping keys (`key: `), block or flow: the map-building cost. */
  maxKeys: 10_000,
  /** Anchors plus aliases (`&name`, `*name`). */
  maxAnchorsAndAliases: 1_000,
  /** Nesting of flow collections (`[`, `{`) and of block indentation (columns). */
  maxFlowDepth: 64,
  maxIndent: 256,
} as const;

const tokenStart = (previous: string | undefined) => previous === undefined || previous === ' ' || previous === '\t' || previous === '\n' || previous === '[' || previous === '{' || previous === ',' || previous === ':' || previous === '-';

/**
 * Why the config text is beyond the limits (one reason), or undefined when it may be parsed.
 * A lexical scan, linear and allocation-free: quoted scalars and comments are skipped, every
 * `key: ` indicator, anchor and alias is counted.
 */
export function configTextOverLimits(text: string, limits: Record<keyof typeof configLimits, number> = configLimits): string | undefined {
  if (text.length > limits.maxChars) return `it has ${text.length} characters (limit ${limits.maxChars})`;
  let keys = 0;
  let anchors = 0;
  let depth = 0;
  let quote: string | undefined;
  let indent = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '\n') {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      if (c === ' ') {
        if (++indent > limits.maxIndent) return `it is indented more than ${limits.maxIndent} columns`;
        continue;
      }
      lineStart = false;
    }
    const previous = i === 0 ? undefined : text[i - 1];
    if (c === '#' && tokenStart(previous)) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end - 1;
    } else if ((c === '"' || c === "'") && tokenStart(previous)) quote = c;
    else if (c === '[' || c === '{') {
      if (++depth > limits.maxFlowDepth) return `its flow collections nest deeper than ${limits.maxFlowDepth}`;
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    else if ((c === '&' || c === '*') && tokenStart(previous) && !/[\s,[\]{}]/.test(text[i + 1] ?? ' ')) {
      if (++anchors > limits.maxAnchorsAndAliases) return `it has more than ${limits.maxAnchorsAndAliases} anchors and aliases`;
    } else if (c === ':' && (i + 1 === text.length || text[i + 1] === ' ' || text[i + 1] === '\n')) {
      if (++keys > limits.maxKeys) return `it has more than ${limits.maxKeys} keys`;
    }
  }
  return undefined;
}
