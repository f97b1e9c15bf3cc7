// What the collector's confmap would do to a string before its prometheus receiver sees it:
// `$$` is an escaped `$` (Prometheus replacements are written `$$1` in collector configs) and
// `${env:VAR}` / `${VAR}` / `${env:VAR:-default}` expand from the environment. Scrape configs
// moved to the sidecar skip the collector's confmap, so the render step applies it for them.

export interface ExpandResult {
  value: unknown;
  /** `${...}` references the render step could not resolve (left as written). */
  unresolved: string[];
}

const reference = /\$\$|\$\{([^}]*)\}/g;

/** `VAR`, `env:VAR`, `env:VAR:-default` inside `${...}`; undefined for other confmap providers. */
const variable = /^(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

export function expandString(text: string, env: Record<string, string | undefined>, unresolved: string[]): string {
  return text.replace(reference, (whole, inner: string | undefined) => {
    if (whole === '$$') return '$';
    const body = inner ?? '';
    const match = body.match(variable);
    if (!match) {
      unresolved.push(whole); // ${file:...}, ${http:...}: other confmap providers
      return whole;
    }
    const value = env[match[1]!];
    if (value !== undefined && value !== '') return value;
    if (match[2] !== undefined) return match[2];
    if (value === undefined) unresolved.push(whole);
    return value ?? whole;
  });
}

/** Variable names a JSON-like tree's string values read through `${env:NAME}` / `${NAME}`, as the collector's confmap would (`$$` escapes). */
export function referencedVariables(node: unknown, into = new Set<string>()): Set<string> {
  if (typeof node === 'string') {
    for (const [whole, inner] of node.matchAll(reference)) {
      const name = whole === '$$' ? undefined : (inner ?? '').match(variable)?.[1];
      if (name) into.add(name);
    }
  } else if (Array.isArray(node)) for (const item of node) referencedVariables(item, into);
  else if (node && typeof node === 'object') for (const value of Object.values(node)) referencedVariables(value, into);
  return into;
}

/** Expands every string value (never keys) of a JSON-like tree. */
export function expandTree(value: unknown, env: Record<string, string | undefined>): ExpandResult {
  const unresolved: string[] = [];
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return expandString(node, env, unresolved);
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    return node;
  };
  return { value: walk(value), unresolved };
}

const unitMs: Record<string, number> = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Prometheus durations (`1m30s`, `500ms`, `1d`); undefined when not one. */
export function durationMs(text: unknown): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  if (text === '0') return 0;
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const part = rest.match(/^(\d+)(ms|y|w|d|h|m|s)/);
    if (!part) return undefined;
    total += Number(part[1]) * unitMs[part[2]!]!;
    rest = rest.slice(part[0].length);
  }
  return total;
}
