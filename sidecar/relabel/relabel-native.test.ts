import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { relabelCases } from '../../test/fixtures/relabel/cases.js';
import { translateToNative } from './relabel-native.js';
import { compileAnchored } from './relabel-regex.js';
import { compileRelabelConfigs, relabel } from './relabel.js';

/** re2js, anchored as Prometheus anchors: the reference. */
const re2Cache = new Map<string, RE2JS>();
function re2Groups(source: string, dotAll: boolean, value: string): string[] | null {
  const anchored = `^(?${dotAll ? 's' : ''}:${source})$`;
  let compiled = re2Cache.get(anchored);
  if (!compiled) re2Cache.set(anchored, (compiled = RE2JS.compile(anchored)));
  const matcher = compiled.matcher(value);
  if (!matcher.matches()) return null;
  return Array.from({ length: compiled.groupCount() + 1 }, (_, i) => matcher.group(i) ?? '');
}

function nativeGroups(regex: RegExp, value: string): string[] | null {
  const result = regex.exec(value);
  return result ? Array.from(result, (g) => g ?? '') : null;
}

/** Disagreements as readable lines: the tests expect none (one expect per test keeps them fast). */
const mismatches: string[] = [];
function compare(what: string, actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) mismatches.push(`${what}: got ${JSON.stringify(actual)}, re2js ${JSON.stringify(expected)}`);
}

/** Records where the fast path, when it takes `source`, disagrees with re2js; returns whether it took it. */
function expectSameAsRe2(source: string, inputs: string[]): boolean {
  let translated = false;
  for (const dotAll of [true, false]) {
    const native = translateToNative(source, dotAll);
    if (!native) continue;
    translated = true;
    for (const value of inputs) compare(`${JSON.stringify(source)} (dotAll ${dotAll}) on ${JSON.stringify(value)}`, nativeGroups(native.regex, value), re2Groups(source, dotAll, value));
  }
  return translated;
}

// mulberry32: a small seeded PRNG, so a failure is reproducible.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Includes what JavaScript's own `.` and `$` treat specially (\r, \u2028) and a lone surrogate.
const alphabet = ['a', 'b', 'c', '-', '.', ';', ':', '0', '7', 'é', '日', '🙂', '\n', '\r', '\u2028', ' ', '\uD800'];
const pick = <T,>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

function randomString(random: () => number, maxLength: number): string {
  let out = '';
  const length = Math.floor(random() * (maxLength + 1));
  for (let i = 0; i < length; i++) out += pick(random, alphabet);
  return out;
}

/** A random pattern of the subset grammar (and a little beyond it), with strings built to match it often. */
function randomPattern(random: () => number, depth = 0): { source: string; sample: () => string } {
  const atoms: Array<() => { source: string; sample: () => string }> = [
    () => { const ch = pick(random, ['a', 'b', 'c', '0', 'é', '日', '🙂', ' ']); return { source: ch, sample: () => ch }; },
    () => { const ch = pick(random, ['.', '-', ';', ':', '$', '(', '[', '|', '{', '*']); return { source: `\\${ch}`, sample: () => ch }; },
    () => ({ source: '.', sample: () => pick(random, alphabet) }),
    () => ({ source: '\\d', sample: () => pick(random, ['0', '7']) }),
    () => ({ source: '\\D', sample: () => pick(random, ['a', '.', '日']) }),
    () => ({ source: '[a-c]', sample: () => pick(random, ['a', 'b', 'c']) }),
    () => ({ source: '[^a:]', sample: () => pick(random, ['b', '.', '\n', '🙂']) }),
    () => ({ source: '[\\d.]', sample: () => pick(random, ['0', '.']) }),
    () => ({ source: '[-é🙂]', sample: () => pick(random, ['-', 'é', '🙂']) }),
    () => ({ source: '[]a]', sample: () => pick(random, [']', 'a']) }),
    () => ({ source: pick(random, ['^', '$']), sample: () => '' }),
  ];
  const atom = (): { source: string; sample: () => string } => {
    if (depth < 3 && random() < 0.3) {
      const inner = randomAlternation(random, depth + 1);
      const open = pick(random, ['(', '(?:', `(?P<n${Math.floor(random() * 1000)}>`]);
      return { source: `${open}${inner.source})`, sample: inner.sample };
    }
    return pick(random, atoms)();
  };
  const items: Array<{ source: string; sample: () => string }> = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    const a = atom();
    if (random() < 0.45 && a.source !== '^' && a.source !== '$') {
      const [quantifier, min, max] = pick(random, [['*', 0, 3], ['+', 1, 3], ['?', 0, 1], ['{2}', 2, 2], ['{1,3}', 1, 3], ['{0,2}', 0, 2], ['{2,}', 2, 4]] as const);
      const lazy = random() < 0.3 ? '?' : '';
      items.push({ source: `${a.source}${quantifier}${lazy}`, sample: () => { let s = ''; const n = min + Math.floor(random() * (max - min + 1)); for (let k = 0; k < n; k++) s += a.sample(); return s; } });
    } else items.push(a);
  }
  return { source: items.map((i) => i.source).join(''), sample: () => items.map((i) => i.sample()).join('') };
}

function randomAlternation(random: () => number, depth: number): { source: string; sample: () => string } {
  const branches = Array.from({ length: random() < 0.3 ? 2 + Math.floor(random() * 2) : 1 }, () => randomPattern(random, depth));
  return { source: branches.map((b) => b.source).join('|'), sample: () => pick(random, branches).sample() };
}

// The regexes of the relabel unit tests and of the operator/Istio rule chains (bench, monitors).
const knownRegexes = [
  'f(.*)', '(f).*;(.*)', 'o', 'foo|bar', ';', 'foo', '(f)oo', '(?P<first>f)(?P<rest>.*)', 'some-([^-]+)-([^,]+)', '([^=]+)=(.*)',
  '(?i)foo', 'bar', '', 'f.*', '__meta_kubernetes_pod_label_(.+)', '[ab]_(x)', '__meta_.*', 'a|c', '(\\d+)-(x|y)', '(.*)', 'x', 'a', 'zzz', '.*',
  '(Failed|Succeeded)', 'true', '(.+)', 'istio-proxy', '(istio-ingressgateway);true', 'http-envoy-prom',
  '(\\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})', '(\\d+);((([0-9]+?)(\\.|$)){4})', '([^:]+)(?::\\d+)?;(\\d+)',
];
const caseRegexes = relabelCases.flatMap((c) => c.relabel_configs.map((r) => r.regex ?? '(.*)'));
const caseValues = relabelCases.flatMap((c) => [...Object.keys(c.input), ...Object.values(c.input)]);
const fixedInputs = [
  ...caseValues, '', 'foo', 'f', 'foo;bar', 'foo-bar', 'a=b=c', '15020;10.0.1.2', '15020;10.0.1', '15020;10.0.1.2.3', '15020;1.2.3.', '9090;2001:db8::1', '9090;fe80::a:b:c:d',
  '9090;1:2:3:4:5:6:7:8', '9090;1:2:3:4:5:6:7:8:9', '127.0.0.1:8080;15020', 'host;15020', 'Failed', 'Succeeded', 'Running', 'line1\nline2', 'a\rb', 'a\u2028b',
  '__meta_kubernetes_pod_label_app', '__meta_kubernetes_pod_label_', 'istio-proxy', 'istio-ingressgateway;true', '日本語', 'café☕🙂', '\uD800', 'a\uDC00b',
];

describe('native RegExp fast path', () => {
  it('agrees with re2js on every regex of the relabel tests, the conformance cases and the rule chains', () => {
    mismatches.length = 0;
    const random = prng(1);
    const inputs = [...fixedInputs, ...Array.from({ length: 200 }, () => randomString(random, 12))];
    const regexes = [...new Set([...knownRegexes, ...caseRegexes])];
    const translated = regexes.filter((source) => expectSameAsRe2(source, inputs));
    // And through the engine's entry point (memo, literal shortcut, length cap) as relabeling uses it.
    for (const source of regexes) {
      for (const dotAll of [true, false]) {
        const regex = compileAnchored(source, dotAll);
        for (const value of [...inputs, '1'.repeat(3000), `15020;${'1.'.repeat(1500)}1`]) {
          const expected = re2Groups(source, dotAll, value);
          compare(`engine ${JSON.stringify(source)} (dotAll ${dotAll}) on ${JSON.stringify(value.slice(0, 40))}`, regex.match(value), expected);
          compare(`engine test ${JSON.stringify(source)} on ${JSON.stringify(value.slice(0, 40))}`, regex.test(value), expected !== null);
        }
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The hot regexes of the Istio chain do take the fast path.
    expect(translated).toEqual(expect.arrayContaining(['(Failed|Succeeded)', '(.+)', '__meta_kubernetes_pod_label_(.+)', '([^:]+)(?::\\d+)?;(\\d+)',
      '(\\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})', '(\\d+);((([0-9]+?)(\\.|$)){4})', '(?P<first>f)(?P<rest>.*)']));
  });

  it('agrees with re2js on 2000 random patterns of the subset grammar × random and near-matching inputs (seeded)', () => {
    mismatches.length = 0;
    const random = prng(42);
    let translated = 0;
    let matched = 0;
    for (let i = 0; i < 2000; i++) {
      const pattern = randomAlternation(random, 0);
      try {
        RE2JS.compile(pattern.source);
      } catch {
        continue; // not valid RE2 (e.g. a repeated empty-width assertion): never reaches the fast path
      }
      const samples = Array.from({ length: 12 }, () => pattern.sample());
      const mutated = samples.map((s) => (s.length > 0 && random() < 0.5 ? s.slice(0, -1) + pick(random, alphabet) : s + pick(random, alphabet)));
      const inputs = [...samples, ...mutated, ...Array.from({ length: 8 }, () => randomString(random, 6))];
      if (expectSameAsRe2(pattern.source, inputs)) {
        translated++;
        matched += samples.filter((s) => re2Groups(pattern.source, true, s)).length;
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The corpus must exercise the fast path, with many matches (not only rejections).
    expect(translated).toBeGreaterThan(1000);
    expect(matched).toBeGreaterThan(3000);
  });

  it.each([
    ['nested unbounded quantifiers', '(a+)+'],
    ['an unbounded repeat of a group', '(?:ab)*'],
    ['case-insensitive flag', '(?i)foo'],
    ['dot-all flag', '(?s).*'],
    ['multi-line flag', '(?m)^a$'],
    ['a POSIX class', '[[:alpha:]]+'],
    ['a Unicode class', '\\pL+'],
    ['a Unicode class with braces', 'zone-(\\p{Han}+)'],
    ['\\s (Go: ASCII space only)', 'a\\sb'],
    ['\\w', '\\w+'],
    ['\\b', '\\bfoo'],
    ['a capture that may skip an iteration', '(?:(a)|b){1,3}'],
    ['a repeated group that can match empty', '(a?){2}'],
    ['a literal brace', 'a{'],
    ['a hex escape', '\\x41'],
    ['a quoted literal', '\\Q.*\\E'],
    ['a lone surrogate in the pattern', 'a\uD800'],
  ])('leaves %s on re2js: %s', (_, source) => {
    expect(translateToNative(source, true)).toBeUndefined();
    expect(translateToNative(source, false)).toBeUndefined();
  });

  // Each of these differs between re2js and a naive `new RegExp(pattern)`: the fast path must refuse
  // the first kind and translate the second kind explicitly.
  it.each([
    ['an empty iteration of a repeated group', '(a?){1,3}', 'a'],
    ['a capture inside a repeated group that skips the last iteration', '(?:(a)|b){1,3}', 'ab'],
    ['\\s (JavaScript adds \\v and Unicode spaces)', '(\\s)', '\v'],
  ])('refuses %s: %s', (_, source, value) => {
    expect(nativeGroups(new RegExp(`^(?:${source})$`, 'su'), value)).not.toEqual(re2Groups(source, true, value));
    expect(translateToNative(source, true)).toBeUndefined();
  });

  it.each([
    ['. without (?s) on \\r (JavaScript\'s . skips it, Go\'s does not)', 'a(.)b', false, 'a\rb', 'u'],
    ['. without (?s) on U+2028', 'a(.)b', false, 'a\u2028b', 'u'],
    ['. on an astral code point (one rune in Go)', '(.)', true, '🙂', ''],
    ['a negated class on an astral code point', '([^a])', true, '🙂', ''],
  ])('translates %s explicitly: %s', (_, source, dotAll, value, naiveFlags) => {
    expect(nativeGroups(new RegExp(`^(?:${source})$`, naiveFlags), value)).not.toEqual(re2Groups(source, dotAll, value));
    const native = translateToNative(source, dotAll);
    expect(native).toBeDefined();
    expect(nativeGroups((native as { regex: RegExp }).regex, value)).toEqual(re2Groups(source, dotAll, value));
  });

  it('caps the input length so that polynomial backtracking stays bounded, and longer inputs go to re2js', () => {
    const nasty = '(.*)(.*)(.*)(.*)x';
    const native = translateToNative(nasty, true);
    expect(native?.maxInputLength).toBeLessThan(64);
    const long = 'a'.repeat(5000);
    expect(compileAnchored(nasty, true).match(long)).toEqual(re2Groups(nasty, true, long));
    // Deterministic repeats (the class cannot match what follows) keep a large cap; one
    // ambiguous repeat ([^:]+ can also eat the ';') still allows any realistic address.
    expect(translateToNative('(\\d+);((([0-9]+?)(\\.|$)){4})', true)?.maxInputLength).toBeGreaterThan(10_000);
    expect(translateToNative('(\\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})', true)?.maxInputLength).toBeGreaterThan(10_000);
    expect(translateToNative('([^:]+)(?::\\d+)?;(\\d+)', true)?.maxInputLength).toBeGreaterThan(256);
  });

  it('relabels every conformance case exactly as the re2js-only engine does', () => {
    for (const c of relabelCases) {
      for (const dotMatchesNewline of [true, false]) {
        const fast = relabel(c.input, compileRelabelConfigs(c.relabel_configs, { dotMatchesNewline }));
        const re2jsOnly = relabel(c.input, compileRelabelConfigs(c.relabel_configs, { dotMatchesNewline, nativeFastPath: false }));
        expect(fast, c.name).toEqual(re2jsOnly);
      }
    }
  });

  it('resolves named groups through the same numbering as re2js', () => {
    const regex = compileAnchored('(?P<first>[^.]+)\\.(?P<second>.+)', true);
    const groups = regex.match('foo.bar');
    expect(groups).toEqual(['foo.bar', 'foo', 'bar']);
    expect(regex.groupIndex('second')).toBe(2);
  });
});
