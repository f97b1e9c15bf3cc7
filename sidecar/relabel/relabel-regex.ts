// Go regexp semantics for relabeling: RE2 syntax through re2js, fully anchored the way
// Prometheus anchors (`^(?s:…)$` since Prometheus 3, `^(?:…)$` before), and Go's
// Regexp.Expand template rules for `$1`, `${1}`, `$name` and `$$`.
import { RE2JS } from 're2js';
import { translateToNative } from './relabel-native.js';

export interface AnchoredRegex {
  /** The regex as the user wrote it (unanchored). */
  readonly source: string;
  /** Whole-string match; the capture groups (index 0 = whole match, '' for groups that did not take part), or null. */
  match(value: string): string[] | null;
  /** Whole-string test without capture extraction. */
  test(value: string): boolean;
  /** Capture group index by name (Go's SubexpNames), undefined when there is none. */
  groupIndex(name: string): number | undefined;
}

const cache = new Map<string, AnchoredRegex>();
const cacheLimit = 10_000;

/**
 * Compiles `source` anchored as Prometheus does. Throws re2js's syntax error (message names the
 * problem) for patterns RE2 rejects, e.g. look-arounds or back-references.
 * `dotMatchesNewline` = Prometheus ≥ 3 (`(?s:`); false = Prometheus 2.x (`(?:`).
 */
export function compileAnchored(source: string, dotMatchesNewline: boolean, nativeFastPath = true): AnchoredRegex {
  const key = `${dotMatchesNewline ? 's' : '-'}${nativeFastPath ? 'n' : '-'}${source}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const regex = source === '(.*)' ? matchAllRegex(dotMatchesNewline) : literalPattern.test(source) ? literalRegex(source) : memoized(re2Regex(source, dotMatchesNewline, nativeFastPath));
  if (cache.size >= cacheLimit) cache.clear();
  cache.set(key, regex);
  return regex;
}

function re2Regex(source: string, dotMatchesNewline: boolean, nativeFastPath: boolean): AnchoredRegex {
  // re2js first: it validates the pattern and names the groups, and stays the fallback.
  const compiled = RE2JS.compile(`^(?${dotMatchesNewline ? 's' : ''}:${source})$`);
  const groupCount = compiled.groupCount();
  const named = compiled.namedGroups();
  const re2Match = (value: string): string[] | null => {
    const matcher = compiled.matcher(value);
    if (!matcher.matches()) return null;
    const groups: string[] = [];
    for (let i = 0; i <= groupCount; i++) groups.push(matcher.group(i) ?? '');
    return groups;
  };
  const re2Test = (value: string): boolean => compiled.matches(value);
  const native = nativeFastPath ? translateToNative(source, dotMatchesNewline) : undefined;
  if (!native) return { source, match: re2Match, test: re2Test, groupIndex: (name) => named[name] };
  const { regex, maxInputLength } = native;
  return {
    source,
    match(value) {
      if (value.length > maxInputLength) return re2Match(value);
      const result = regex.exec(value);
      if (!result) return null;
      const groups: string[] = new Array<string>(result.length);
      for (let i = 0; i < result.length; i++) groups[i] = result[i] ?? '';
      return groups;
    },
    test: (value) => (value.length > maxInputLength ? re2Test(value) : regex.test(value)),
    groupIndex: (name) => named[name],
  };
}

/** Whether `compileAnchored` runs this pattern on a native RegExp (for tests and the bench). */
export function usesNativeRegex(source: string, dotMatchesNewline: boolean): boolean {
  return translateToNative(source, dotMatchesNewline) !== undefined;
}

// No regex metacharacters at all: the anchored regex matches exactly this string.
const literalPattern = /^[A-Za-z0-9_\-/:,=@ ]*$/;

function literalRegex(source: string): AnchoredRegex {
  return { source, match: (value) => (value === source ? [value] : null), test: (value) => value === source, groupIndex: () => undefined };
}

const memoLimit = 4096;
const memoProbe = 2048;

/**
 * Remembers recent results per regex: label names and most label values repeat across targets
 * (container names, phases, annotation values), and a Map lookup is far cheaper than a match.
 * A regex that sees mostly unique values (addresses, pod names) stops memoizing after a probe.
 */
function memoized(regex: AnchoredRegex): AnchoredRegex {
  return { source: regex.source, match: memo(regex.match), test: memo(regex.test), groupIndex: regex.groupIndex };
}

function memo<T>(compute: (value: string) => T): (value: string) => T {
  const results = new Map<string, T>();
  let lookups = 0;
  let hits = 0;
  let enabled = true;
  return (value) => {
    if (!enabled) return compute(value);
    lookups++;
    const known = results.get(value); // results are never undefined: one lookup instead of has + get
    if (known !== undefined) {
      hits++;
      return known;
    }
    if (lookups === memoProbe && hits < memoProbe / 2) {
      enabled = false; // mostly unique inputs: the map only costs memory and GC
      results.clear();
      return compute(value);
    }
    const result = compute(value);
    if (results.size >= memoLimit) results.clear();
    results.set(value, result);
    return result;
  };
}

/** The default regex `(.*)`: matches everything (without (?s), everything without a newline). */
function matchAllRegex(dotMatchesNewline: boolean): AnchoredRegex {
  const test = (value: string) => dotMatchesNewline || !value.includes('\n');
  return {
    source: '(.*)',
    match: (value) => (test(value) ? [value, value] : null),
    test,
    groupIndex: () => undefined,
  };
}

/** A parsed replacement template: literal text and group references, in order. */
export type Template = Array<string | { group: number } | { name: string }>;

const nameChar = /[\p{L}\p{Nd}_]/u;

/** Parses a template with Go's Regexp.Expand rules (malformed `$` stays literal). */
export function parseTemplate(template: string): Template {
  const parts: Template = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) {
      literal += template.slice(i);
      break;
    }
    literal += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      literal += '$';
      i++;
      continue;
    }
    const ref = extractName(template, i);
    if (!ref) {
      literal += '$';
      continue;
    }
    if (literal) parts.push(literal);
    literal = '';
    parts.push(refFor(ref.name));
    i = ref.end;
  }
  if (literal) parts.push(literal);
  return parts;
}

function extractName(template: string, start: number): { name: string; end: number } | undefined {
  let i = start;
  const brace = template[i] === '{';
  if (brace) i++;
  const nameStart = i;
  for (const ch of template.slice(i)) {
    if (!nameChar.test(ch)) break;
    i += ch.length;
  }
  if (i === nameStart) return undefined;
  const name = template.slice(nameStart, i);
  if (brace) {
    if (template[i] !== '}') return undefined;
    i++;
  }
  return { name, end: i };
}

/** Go: a name of only ASCII digits without a leading zero (and < 1e8) is a group number. */
function refFor(name: string): { group: number } | { name: string } {
  if (/^(0|[1-9][0-9]{0,7})$/.test(name)) return { group: Number(name) };
  return { name };
}

/** Expands a parsed template against the capture groups of a match. */
export function expandTemplate(template: Template, groups: string[], regex: AnchoredRegex): string {
  let out = '';
  for (const part of template) {
    if (typeof part === 'string') out += part;
    else if ('group' in part) out += groups[part.group] ?? '';
    else {
      const index = regex.groupIndex(part.name);
      if (index !== undefined) out += groups[index] ?? '';
    }
  }
  return out;
}

export function templateHasReference(template: Template): boolean {
  return template.some((part) => typeof part !== 'string');
}
