// A fast path for relabel regexes: translate an RE2 pattern into a native (V8) RegExp only when
// it lies in a subset where both engines give the same match and the same capture groups, and
// compute how long an input may be before backtracking could cost more than a fixed step budget.
// Anything outside the subset (flags, \pL, POSIX classes, \s \w \b, unbounded repeats of groups,
// captures that may skip an iteration) returns undefined and stays on re2js.
import { Parser, Unsupported, type Node, type Ranges } from './relabel-native-parse.js';

export interface NativeRegex {
  /** `^(?:…)$` with the `u` flag: per code point like Go is per rune. */
  regex: RegExp;
  /** Longest input for which the backtracking bound stays under the step budget. */
  maxInputLength: number;
}

const stepBudget = 2 ** 22;
const lengthCeiling = 1 << 20;

/**
 * Translates `source` (already accepted by RE2) anchored as Prometheus anchors it, or returns
 * undefined when the pattern is outside the subset where both engines provably agree.
 */
export function translateToNative(source: string, dotMatchesNewline: boolean): NativeRegex | undefined {
  let ast: Node;
  try {
    const parser = new Parser(source, dotMatchesNewline);
    ast = parser.parseAlt();
    if (parser.pos !== source.length) return undefined; // a stray ')'
    checkRepeats(ast);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  const size = nodeCount(ast);
  const stepsFor = (length: number) => pathBound(ast, { set: [], end: true }, length) * (length + 1) * size;
  if (stepsFor(0) > stepBudget) return undefined;
  let low = 0; // the longest length known to fit the budget
  let high = lengthCeiling;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (stepsFor(mid) <= stepBudget) low = mid;
    else high = mid - 1;
  }
  return { regex: new RegExp(`^(?:${emit(ast)})$`, 'u'), maxInputLength: low };
}

function intersects(a: Ranges, b: Ranges): boolean {
  return a.some(([lo, hi]) => b.some(([lo2, hi2]) => lo <= hi2 && lo2 <= hi));
}

/**
 * Where the engines could differ on repeats of anything but a single character: JavaScript
 * clears the captures inside a repeated group at each iteration and refuses empty iterations,
 * Go keeps the last values and allows them. Both are equal when the body never matches empty
 * and every capture inside takes part in every iteration. Unbounded repeats of groups are
 * refused (backtracking into them is where the exponential cases live).
 */
function checkRepeats(node: Node): void {
  switch (node.kind) {
    case 'group': return checkRepeats(node.body);
    case 'alt': return node.branches.forEach(checkRepeats);
    case 'seq': return node.items.forEach(checkRepeats);
    case 'repeat':
      if (node.body.kind !== 'char') {
        if (node.max === Infinity || first(node.body).nullable || !capturesMandatory(node.body)) throw new Unsupported();
        checkRepeats(node.body);
      }
      return;
    default:
  }
}

/** Every capture group below `node` takes part in every match of `node`. */
function capturesMandatory(node: Node): boolean {
  switch (node.kind) {
    case 'char':
    case 'assert': return true;
    case 'group': return capturesMandatory(node.body);
    case 'seq': return node.items.every(capturesMandatory);
    case 'alt': return node.branches.every((b) => !hasCapture(b));
    case 'repeat': return node.min > 0 ? capturesMandatory(node.body) : !hasCapture(node.body);
  }
}

function hasCapture(node: Node): boolean {
  switch (node.kind) {
    case 'char':
    case 'assert': return false;
    case 'group': return node.capture || hasCapture(node.body);
    case 'seq': return node.items.some(hasCapture);
    case 'alt': return node.branches.some(hasCapture);
    case 'repeat': return hasCapture(node.body);
  }
}

/**
 * The characters a match of `node` can start with (end: the end of input may come first), whether
 * it can be empty, and whether what follows it can come first (empty, and not ending in `$`).
 */
interface First { set: Ranges; end: boolean; nullable: boolean; transparent: boolean }

function first(node: Node): First {
  switch (node.kind) {
    case 'char': return { set: node.set, end: false, nullable: false, transparent: false };
    case 'assert': return { set: [], end: node.end, nullable: true, transparent: !node.end };
    case 'group': return first(node.body);
    case 'alt': {
      const parts = node.branches.map(first);
      return { set: parts.flatMap((p) => p.set), end: parts.some((p) => p.end), nullable: parts.some((p) => p.nullable), transparent: parts.some((p) => p.transparent) };
    }
    case 'seq': {
      const out: First = { set: [], end: false, nullable: true, transparent: true };
      for (const item of node.items) {
        const f = first(item);
        out.nullable &&= f.nullable;
        if (out.transparent) {
          out.set = [...out.set, ...f.set];
          out.end ||= f.end;
          out.transparent = f.transparent;
        }
      }
      return out;
    }
    case 'repeat': {
      const f = first(node.body);
      return { ...f, nullable: node.min === 0 || f.nullable, transparent: node.min === 0 || f.transparent };
    }
  }
}

/** What may follow a node: characters, and whether the end of input may. */
interface Follow { set: Ranges; end: boolean }

/**
 * An upper bound on the number of ways a backtracking matcher can split an input of `length`
 * code units among the choices of `node`. A repeat of one character class whose follow set is
 * disjoint from the class is deterministic (giving back characters fails at once): factor 1.
 */
function pathBound(node: Node, follow: Follow, length: number): number {
  switch (node.kind) {
    case 'char':
    case 'assert': return 1;
    case 'group': return pathBound(node.body, follow, length);
    case 'alt': return node.branches.reduce((sum, b) => sum + pathBound(b, follow, length), 0);
    case 'seq': {
      let product = 1;
      node.items.forEach((item, i) => {
        product *= pathBound(item, followOf(node.items.slice(i + 1), follow), length);
      });
      return product;
    }
    case 'repeat': {
      const choices = node.max === Infinity ? length + 1 : node.max - node.min + 1;
      if (node.body.kind === 'char') {
        if (node.min === node.max) return 1;
        // Giving back a character leaves one of the class in front of the rest, which must then fail at once.
        return intersects(node.body.set, follow.set) ? choices : 1;
      }
      const f = first(node.body);
      const bodyFollow: Follow = { set: [...f.set, ...follow.set], end: f.end || follow.end };
      return choices * pathBound(node.body, bodyFollow, length) ** node.max;
    }
  }
}

function followOf(rest: Node[], outer: Follow): Follow {
  const f = first({ kind: 'seq', items: rest });
  return f.transparent ? { set: [...f.set, ...outer.set], end: f.end || outer.end } : { set: f.set, end: f.end };
}

function nodeCount(node: Node): number {
  switch (node.kind) {
    case 'char':
    case 'assert': return 1;
    case 'group':
    case 'repeat': return 1 + nodeCount(node.body);
    case 'alt': return 1 + node.branches.reduce((sum, b) => sum + nodeCount(b), 0);
    case 'seq': return 1 + node.items.reduce((sum, b) => sum + nodeCount(b), 0);
  }
}

/** JavaScript source for a node; every character is written as \u{…} so no escape rule can bite. */
function emit(node: Node): string {
  switch (node.kind) {
    case 'char': {
      const [only] = node.set;
      if (node.set.length === 1 && only && only[0] === only[1]) return codePoint(only[0]);
      return `[${node.set.map(([lo, hi]) => (lo === hi ? codePoint(lo) : `${codePoint(lo)}-${codePoint(hi)}`)).join('')}]`;
    }
    case 'assert': return node.end ? '$' : '^';
    case 'group': return `(${node.capture ? '' : '?:'}${emit(node.body)})`;
    case 'alt': return node.branches.map(emit).join('|');
    case 'seq': return node.items.map(emit).join('');
    case 'repeat': {
      const max = node.max === Infinity ? '' : String(node.max);
      const body = node.body.kind === 'seq' || node.body.kind === 'alt' ? `(?:${emit(node.body)})` : emit(node.body);
      return `${body}{${node.min},${max}}${node.lazy ? '?' : ''}`;
    }
  }
}

function codePoint(code: number): string {
  return /[0-9A-Za-z]/.test(String.fromCodePoint(code)) ? String.fromCodePoint(code) : `\\u{${code.toString(16)}}`;
}
