import { describe, expect, it } from 'vitest';
import { compileRelabelConfigs, hashMod, relabel, RelabelConfigError, type Labels } from './relabel.js';

// The shape of Prometheus's model/relabel tests: input, configs, expected output (null = dropped).
interface Case {
  name: string;
  input: Labels;
  configs: unknown[];
  output: Labels | null;
  options?: { dotMatchesNewline?: boolean; nameValidation?: 'legacy' | 'utf8' };
}

const cases: Case[] = [
  {
    name: 'replace with a capture group into a new label',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    configs: [{ source_labels: ['a'], regex: 'f(.*)', target_label: 'd', replacement: 'ch${1}-ch${1}' }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: 'choo-choo' },
  },
  {
    name: 'replace joins source labels with the separator',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    configs: [{ source_labels: ['a', 'b'], separator: ';', regex: '(f).*;(.*)', target_label: 'a', replacement: '${1}${2}' }],
    output: { a: 'fbar', b: 'bar', c: 'baz' },
  },
  {
    name: 'the regex is anchored: a partial match does not replace',
    input: { a: 'foo' },
    configs: [{ source_labels: ['a'], regex: 'o', target_label: 'b', replacement: 'x' }],
    output: { a: 'foo' },
  },
  {
    name: 'alternation is anchored as a whole',
    input: { a: 'foobar' },
    configs: [{ source_labels: ['a'], regex: 'foo|bar', action: 'drop' }],
    output: { a: 'foobar' },
  },
  {
    name: 'missing source labels join as empty strings',
    input: { a: 'foo' },
    configs: [{ source_labels: ['x', 'y'], regex: ';', target_label: 'z', replacement: 'empty' }],
    output: { a: 'foo', z: 'empty' },
  },
  {
    name: 'an empty replacement deletes the target label',
    input: { a: 'foo', b: 'bar' },
    configs: [{ source_labels: ['a'], regex: 'foo', target_label: 'b', replacement: '' }],
    output: { a: 'foo' },
  },
  {
    name: '$1x names group "1x" which does not exist: empty, label deleted',
    input: { a: 'foo', b: 'bar' },
    configs: [{ source_labels: ['a'], regex: '(f)oo', target_label: 'b', replacement: '$1x' }],
    output: { a: 'foo' },
  },
  {
    name: '${1}x appends to the group',
    input: { a: 'foo' },
    configs: [{ source_labels: ['a'], regex: '(f)oo', target_label: 'b', replacement: '${1}x' }],
    output: { a: 'foo', b: 'fx' },
  },
  {
    name: 'named groups and $$ and malformed $ stay literal',
    input: { a: 'foo' },
    configs: [{ source_labels: ['a'], regex: '(?P<first>f)(?P<rest>.*)', target_label: 'b', replacement: '$rest-$$-${first}-$-${' }],
    output: { a: 'foo', b: 'oo-$-f-$-${' },
  },
  {
    name: 'target label from a capture group',
    input: { a: 'some-name-value' },
    configs: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}' }],
    output: { a: 'some-name-value', name: 'value' },
  },
  {
    name: 'an expanded target that is not a valid legacy label name is ignored (Prometheus 2)',
    input: { a: 'some-0-value' },
    configs: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}' }],
    output: { a: 'some-0-value' },
    options: { nameValidation: 'legacy' },
  },
  {
    name: 'under UTF-8 name validation (Prometheus 3) any non-empty expanded target is a label',
    input: { a: 'service.name=checkout' },
    configs: [{ source_labels: ['a'], regex: '([^=]+)=(.*)', target_label: '${1}', replacement: '${2}' }],
    output: { a: 'service.name=checkout', 'service.name': 'checkout' },
  },
  {
    name: 'default regex (.*) does not match a newline without (?s) (Prometheus 2)',
    input: { a: 'line1\nline2' },
    configs: [{ source_labels: ['a'], target_label: 'b' }],
    output: { a: 'line1\nline2' },
    options: { dotMatchesNewline: false },
  },
  {
    name: 'default regex (.*) matches a newline under Prometheus 3 anchoring',
    input: { a: 'line1\nline2' },
    configs: [{ source_labels: ['a'], target_label: 'b' }],
    output: { a: 'line1\nline2', b: 'line1\nline2' },
  },
  {
    name: '(?i) makes the match case-insensitive',
    input: { a: 'FOO' },
    configs: [{ source_labels: ['a'], regex: '(?i)foo', action: 'keep' }],
    output: { a: 'FOO' },
  },
  {
    name: 'keep drops a non-matching set',
    input: { a: 'foo' },
    configs: [{ source_labels: ['a'], regex: 'bar', action: 'keep' }],
    output: null,
  },
  {
    name: 'keep on a missing label matches the empty regex',
    input: { a: 'foo' },
    configs: [{ source_labels: ['b'], regex: '', action: 'keep' }],
    output: { a: 'foo' },
  },
  {
    name: 'drop drops a matching set',
    input: { a: 'foo' },
    configs: [{ source_labels: ['a'], regex: 'f.*', action: 'drop' }],
    output: null,
  },
  {
    name: 'keepequal keeps when the target equals the source',
    input: { a: 'foo', b: 'foo' },
    configs: [{ source_labels: ['a'], target_label: 'b', action: 'keepequal' }],
    output: { a: 'foo', b: 'foo' },
  },
  {
    name: 'keepequal drops when they differ',
    input: { a: 'foo', b: 'bar' },
    configs: [{ source_labels: ['a'], target_label: 'b', action: 'keepequal' }],
    output: null,
  },
  {
    name: 'dropequal drops when equal, missing equals empty',
    input: { a: 'foo' },
    configs: [{ source_labels: ['x'], target_label: 'y', action: 'dropequal' }],
    output: null,
  },
  {
    name: 'hashmod: md5, last 8 bytes big-endian, modulo',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    configs: [{ source_labels: ['c'], target_label: 'd', modulus: 1000, action: 'hashmod' }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: '976' },
  },
  {
    name: 'labelmap copies matching labels under new names',
    input: { __meta_kubernetes_pod_label_app: 'gw', __meta_kubernetes_pod_label_tier: 'edge', a: 'x' },
    configs: [{ regex: '__meta_kubernetes_pod_label_(.+)', action: 'labelmap' }],
    output: { __meta_kubernetes_pod_label_app: 'gw', __meta_kubernetes_pod_label_tier: 'edge', a: 'x', app: 'gw', tier: 'edge' },
  },
  {
    name: 'labelmap: the later source name (sorted) wins a clash',
    input: { b_x: '1', a_x: '2' },
    configs: [{ regex: '[ab]_(x)', action: 'labelmap' }],
    output: { b_x: '1', a_x: '2', x: '1' },
  },
  {
    name: 'labeldrop removes matching names',
    input: { __meta_a: '1', __meta_b: '2', keep: 'y' },
    configs: [{ regex: '__meta_.*', action: 'labeldrop' }],
    output: { keep: 'y' },
  },
  {
    name: 'labelkeep removes names that do not match',
    input: { a: '1', b: '2', c: '3' },
    configs: [{ regex: 'a|c', action: 'labelkeep' }],
    output: { a: '1', c: '3' },
  },
  {
    name: 'lowercase and uppercase (Go simple case mapping)',
    input: { a: 'FooÄİ', b: 'barß' },
    configs: [
      { source_labels: ['a'], target_label: 'lower', action: 'lowercase' },
      { source_labels: ['b'], target_label: 'upper', action: 'uppercase' },
    ],
    output: { a: 'FooÄİ', b: 'barß', lower: 'fooäi', upper: 'BARß' },
  },
  {
    name: 'action names are case-insensitive',
    input: { a: 'foo' },
    configs: [{ source_labels: ['a'], regex: 'foo', action: 'Drop' }],
    output: null,
  },
  {
    name: 'explicit YAML null zeroes a field (empty separator), as Go YAML decoding does',
    input: { a: 'x', b: 'y' },
    configs: [{ source_labels: ['a', 'b'], separator: null, target_label: 'c' }],
    output: { a: 'x', b: 'y', c: 'xy' },
  },
  {
    name: 'rules chain: a later rule sees the earlier result',
    input: { a: 'foo' },
    configs: [
      { source_labels: ['a'], target_label: 'b', replacement: 'bar' },
      { source_labels: ['b'], regex: 'bar', action: 'drop' },
    ],
    output: null,
  },
];

describe('relabel (table of Prometheus model/relabel shaped cases)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const input = structuredClone(c.input);
      const result = relabel(input, compileRelabelConfigs(c.configs, c.options));
      expect(result).toEqual(c.output);
      expect(input).toEqual(c.input); // never mutates its input
    });
  }

  it('hashmod handles a modulus above 2^53 exactly (BigInt)', () => {
    const modulus = 2n ** 63n + 5n;
    expect(hashMod('baz', 1000n)).toBe('976');
    const big = BigInt(hashMod('baz', modulus));
    expect(big < modulus).toBe(true);
  });

  it('gives the same answers for repeated and for unique values (result memo on and switched off)', () => {
    const rules = compileRelabelConfigs([{ source_labels: ['a'], regex: '(\\d+)-(x|y)', target_label: 'b', replacement: '$2$1' }]);
    for (let i = 0; i < 5000; i++) {
      const value = i % 2 === 0 ? '7-x' : `${i}-y`; // half repeated, half unique
      expect(relabel({ a: value }, rules)?.b).toBe(i % 2 === 0 ? 'x7' : `y${i}`);
    }
    expect(relabel({ a: 'nope' }, rules)).toEqual({ a: 'nope' });
  });

  it('keeps a label named __proto__ as a label (valid in Prometheus), never as a prototype', () => {
    const input = JSON.parse('{"__proto__":"p","a":"1"}') as Record<string, string>;
    const out = relabel(input, compileRelabelConfigs([{ source_labels: ['__proto__'], target_label: 'copy' }]));
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe('p');
    expect(out?.copy).toBe('p');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('an empty rule list returns an equal copy', () => {
    const input = { a: '1' };
    const out = relabel(input, []);
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
  });
});

describe('compileRelabelConfigs validation (errors name the index and field like Prometheus)', () => {
  const invalid: Array<[string, unknown, string, ('legacy' | 'utf8')?]> = [
    ['unknown action', { action: 'explode' }, 'relabel_configs[0].action: unknown relabel action "explode"'],
    ['hashmod without modulus', { action: 'hashmod', source_labels: ['a'], target_label: 'b' }, 'relabel_configs[0].modulus: relabel configuration for hashmod requires non-zero modulus'],
    ['replace without target_label', { source_labels: ['a'] }, "relabel_configs[0].target_label: relabel configuration for replace action requires 'target_label' value"],
    ['replace with an invalid target_label', { source_labels: ['a'], target_label: '1abc' }, `relabel_configs[0].target_label: "1abc" is invalid 'target_label' for replace action`, 'legacy'],
    ['replace with a bad template target', { source_labels: ['a'], target_label: '${1}-x' }, `"\${1}-x" is invalid 'target_label'`, 'legacy'],
    ['lowercase with a replacement', { action: 'lowercase', source_labels: ['a'], target_label: 'b', replacement: 'x' }, "'replacement' can not be set for lowercase action"],
    ['keepequal with a regex', { action: 'keepequal', source_labels: ['a'], target_label: 'b', regex: '(.*)' }, 'relabel_configs[0].regex: keepequal action requires only'],
    ['dropequal without target_label', { action: 'dropequal', source_labels: ['a'] }, "dropequal action requires 'target_label' value"],
    ['labeldrop with source_labels', { action: 'labeldrop', source_labels: ['a'], regex: 'a' }, 'relabel_configs[0].source_labels: labeldrop action requires only'],
    ['labelkeep with a target_label', { action: 'labelkeep', target_label: 'x', regex: 'a' }, 'relabel_configs[0].target_label: labelkeep action requires only'],
    ['labelmap with an invalid replacement', { action: 'labelmap', regex: '(.*)', replacement: 'a-b' }, `"a-b" is invalid 'replacement' for labelmap action`, 'legacy'],
    ['a regex RE2 rejects (look-ahead)', { action: 'keep', source_labels: ['a'], regex: 'a(?=b)' }, 'relabel_configs[0].regex: invalid regex'],
    ['an invalid source label name', { action: 'keep', source_labels: ['a-b'] }, 'relabel_configs[0].source_labels: "a-b" is not a valid label name', 'legacy'],
    ['an explicit null action', { action: null }, 'relabel_configs[0].action: relabel action cannot be empty'],
    ['an unknown field', { action: 'keep', source_label: ['a'] }, 'relabel_configs[0].source_label: unknown field'],
    ['a negative modulus', { action: 'hashmod', source_labels: ['a'], target_label: 'b', modulus: -1 }, 'relabel_configs[0].modulus'],
  ];
  for (const [what, config, message, nameValidation] of invalid) {
    it(`rejects ${what}${nameValidation ? ` (${nameValidation} names)` : ''}`, () => {
      let error: unknown;
      try {
        compileRelabelConfigs([config], { nameValidation });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RelabelConfigError);
      expect((error as Error).message).toContain(message);
    });
  }

  it('accepts UTF-8 label names by default (Prometheus 3) and still rejects empty names', () => {
    expect(() => compileRelabelConfigs([{ source_labels: ['a-b'], target_label: 'service.name' }, { action: 'labelmap', regex: '(.*)', replacement: 'k8s.$1' }])).not.toThrow();
    expect(() => compileRelabelConfigs([{ action: 'lowercase', source_labels: ['a'], target_label: '' }])).toThrow("requires 'target_label'");
  });

  it('names the index of the bad rule in a list', () => {
    expect(() => compileRelabelConfigs([{ source_labels: ['a'], target_label: 'b' }, { action: 'nope' }])).toThrow(/^relabel_configs\[1\]\.action/);
  });

  it('accepts every action with its minimal valid form', () => {
    const rules = compileRelabelConfigs([
      { source_labels: ['a'], target_label: 'b' },
      { action: 'keep', source_labels: ['a'] },
      { action: 'drop', source_labels: ['a'], regex: 'x' },
      { action: 'keepequal', source_labels: ['a'], target_label: 'a' },
      { action: 'dropequal', source_labels: ['a'], target_label: 'b2' },
      { action: 'hashmod', source_labels: ['a'], target_label: 'h', modulus: 3 },
      { action: 'labelmap', regex: 'a' },
      { action: 'labeldrop', regex: 'zzz' },
      { action: 'labelkeep', regex: '.*' },
      { action: 'lowercase', source_labels: ['a'], target_label: 'l' },
      { action: 'uppercase', source_labels: ['a'], target_label: 'u' },
    ]);
    expect(rules.map((r) => r.action)).toEqual(['replace', 'keep', 'drop', 'keepequal', 'dropequal', 'hashmod', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase']);
  });
});
