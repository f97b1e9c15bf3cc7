// Prometheus relabeling (model/relabel): compile snake_case relabel configs into rules, then
// apply them to a label set. A small total function: same input, same output, input untouched.
import { createHash } from 'node:crypto';
import { RE2JS } from 're2js';
import type { Labels } from '../discovery/types.js';
import { compileAnchored, expandTemplate, parseTemplate, templateHasReference, type AnchoredRegex, type Template } from './relabel-regex.js';

export type { Labels } from '../discovery/types.js';

export const relabelActions = [
  'replace', 'keep', 'drop', 'keepequal', 'dropequal', 'hashmod',
  'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase',
] as const;
export type RelabelAction = (typeof relabelActions)[number];

export interface RelabelRule {
  action: RelabelAction;
  sourceLabels: string[];
  separator: string;
  targetLabel: string;
  regex: AnchoredRegex;
  replacement: string;
  modulus: bigint;
  /** Parsed forms of target_label and replacement (Go Expand templates). */
  targetTemplate: Template;
  replacementTemplate: Template;
  /** How expanded target label names are validated at relabel time. */
  nameValidation: NameValidation;
}

/** Prometheus's label name validation schemes: `legacy` [a-zA-Z_][a-zA-Z0-9_]*, `utf8` any non-empty UTF-8. */
export type NameValidation = 'legacy' | 'utf8';

export interface RelabelOptions {
  /**
   * `.` matches `\n` (regex anchored as `^(?s:…)$`): Prometheus ≥ 3 and the collector's
   * prometheus receiver built on it. false: Prometheus 2.x (`^(?:…)$`). Default true.
   */
  dotMatchesNewline?: boolean;
  /**
   * Label name validation (a scrape config's `metric_name_validation_scheme`): `utf8` is the
   * Prometheus 3 default, `legacy` is Prometheus 2.x. Default `utf8`.
   */
  nameValidation?: NameValidation;
  /**
   * Run regexes that sidecar/relabel/relabel-native.ts proves equal on a native RegExp (default true);
   * false keeps every regex on re2js (the bench's before/after, and a switch if ever needed).
   */
  nativeFastPath?: boolean;
}

export class RelabelConfigError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    detail: string,
  ) {
    super(`relabel_configs[${index}].${field}: ${detail}`);
    this.name = 'RelabelConfigError';
  }
}

const knownFields = new Set(['source_labels', 'separator', 'target_label', 'regex', 'modulus', 'replacement', 'action']);
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// A JavaScript string is valid UTF-8 unless it holds an unpaired surrogate.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Prometheus's relabelTarget: a label name that may contain $var / ${var} references.
const relabelTarget = RE2JS.compile('^(?:(?:[a-zA-Z_]|\\$(?:\\{\\w+\\}|\\w+))+\\w*)+$');

export function isValidLabelName(name: string, scheme: NameValidation = 'legacy'): boolean {
  if (scheme === 'utf8') return name.length > 0 && !loneSurrogate.test(name);
  return labelNamePattern.test(name);
}

/** A target_label / labelmap replacement that may hold $var references (Prometheus's isValidLabelNameWithRegexVar). */
function isValidTemplateName(name: string, scheme: NameValidation): boolean {
  return scheme === 'utf8' ? isValidLabelName(name, 'utf8') : relabelTarget.matches(name);
}

/** A scalar as Go YAML decodes it into a string field (booleans and numbers by their text); undefined for maps and lists. */
function yamlScalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

/**
 * `$(SHARD)` in relabel configs, as the collector's receiver instantiates it (the SHARD env, which
 * the collector never has, else "0") and the Target Allocator filters with it: prometheus-operator
 * writes `keep` on `__tmp_hash` with `regex: $(SHARD)` for sharded jobs.
 */
export function instantiateShard(raw: unknown): unknown {
  if (typeof raw === 'string') return raw.replaceAll('$(SHARD)', '0');
  if (Array.isArray(raw)) return raw.map(instantiateShard);
  if (raw && typeof raw === 'object') return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, instantiateShard(v)]));
  return raw;
}

/** Parses and validates a list of relabel configs as Prometheus's config loader does. */
export function compileRelabelConfigs(raw: unknown, options: RelabelOptions = {}): RelabelRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new RelabelConfigError(0, '', 'relabel configs must be a list');
  return raw.map((entry, index) => compileRule(entry, index, options.dotMatchesNewline ?? true, options.nameValidation ?? 'utf8', options.nativeFastPath ?? true));
}

function compileRule(raw: unknown, index: number, dotMatchesNewline: boolean, scheme: NameValidation, nativeFastPath: boolean): RelabelRule {
  const fail = (field: string, detail: string): never => {
    throw new RelabelConfigError(index, field, detail);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('', 'must be a mapping');
  const config = raw as Record<string, unknown>;
  for (const field of Object.keys(config)) if (!knownFields.has(field)) fail(field, 'unknown field');
  // Absent: Prometheus's default. Explicit null: Go YAML decodes it to the zero value ('').
  // Go YAML (v2) decodes any scalar into a string field as its text: `regex: true` is "true".
  const optionalString = (field: string): string | undefined => {
    const value = config[field];
    if (value === undefined) return undefined;
    if (value === null) return '';
    const text = yamlScalarText(value);
    if (text === undefined) return fail(field, `must be a string, got ${Array.isArray(value) ? 'a list' : typeof value}`);
    return text;
  };

  const actionText = optionalString('action');
  const action = (actionText ?? 'replace').toLowerCase() as RelabelAction;
  if (actionText === '') fail('action', 'relabel action cannot be empty');
  if (!relabelActions.includes(action)) fail('action', `unknown relabel action "${actionText}"`);

  let sourceLabels: string[] = [];
  const rawSources = config.source_labels;
  if (rawSources !== undefined && rawSources !== null) {
    if (!Array.isArray(rawSources)) fail('source_labels', 'must be a list of label names');
    sourceLabels = (rawSources as unknown[]).map((raw) => {
      const name = yamlScalarText(raw);
      if (name === undefined || !isValidLabelName(name, scheme)) fail('source_labels', `"${String(raw)}" is not a valid label name`);
      return name as string;
    });
  }
  const separator = optionalString('separator') ?? ';';
  const targetLabel = optionalString('target_label') ?? '';
  const replacement = optionalString('replacement') ?? '$1';
  const regexText = optionalString('regex');
  let modulus = 0n;
  if (config.modulus !== undefined && config.modulus !== null) {
    const m = config.modulus;
    if (typeof m === 'bigint' && m >= 0n) modulus = m;
    else if (typeof m === 'number' && Number.isSafeInteger(m) && m >= 0) modulus = BigInt(m);
    else fail('modulus', 'must be a non-negative integer');
  }
  let regex: AnchoredRegex;
  try {
    regex = compileAnchored(regexText ?? '(.*)', dotMatchesNewline, nativeFastPath);
  } catch (err) {
    return fail('regex', `invalid regex ${JSON.stringify(regexText)}: ${(err as Error).message}`);
  }

  // Validation, in the order of Prometheus's Config.Validate.
  if (action === 'hashmod' && modulus === 0n) fail('modulus', 'relabel configuration for hashmod requires non-zero modulus');
  const needsTarget = ['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal'];
  if (needsTarget.includes(action) && targetLabel === '') fail('target_label', `relabel configuration for ${action} action requires 'target_label' value`);
  const invalidTarget = () => fail('target_label', `"${targetLabel}" is invalid 'target_label' for ${action} action`);
  if (action === 'replace' && !targetLabel.includes('$') && !isValidLabelName(targetLabel, scheme)) invalidTarget();
  if (action === 'replace' && targetLabel.includes('$') && !isValidTemplateName(targetLabel, scheme)) invalidTarget();
  const simpleTarget = ['lowercase', 'uppercase', 'keepequal', 'dropequal'].includes(action);
  if (simpleTarget && !isValidLabelName(targetLabel, scheme)) invalidTarget();
  if (simpleTarget && replacement !== '$1') fail('replacement', `'replacement' can not be set for ${action} action`);
  if (action === 'labelmap' && !isValidTemplateName(replacement, scheme)) fail('replacement', `"${replacement}" is invalid 'replacement' for ${action} action`);
  if (action === 'hashmod' && !isValidLabelName(targetLabel, scheme)) invalidTarget();
  if (action === 'keepequal' || action === 'dropequal') {
    // Prometheus compares the regex by identity: any regex given at all is rejected.
    if (regexText !== undefined || modulus !== 0n || separator !== ';') {
      fail(regexText !== undefined ? 'regex' : modulus !== 0n ? 'modulus' : 'separator', `${action} action requires only 'source_labels' and \`target_label\`, and no other fields`);
    }
  }
  if (action === 'labeldrop' || action === 'labelkeep') {
    const extra = rawSources !== undefined && rawSources !== null ? 'source_labels'
      : targetLabel !== '' ? 'target_label' : modulus !== 0n ? 'modulus' : separator !== ';' ? 'separator' : replacement !== '$1' ? 'replacement' : undefined;
    if (extra) fail(extra, `${action} action requires only 'regex', and no other fields`);
  }
  return {
    action, sourceLabels, separator, targetLabel, regex, replacement, modulus,
    targetTemplate: parseTemplate(targetLabel),
    replacementTemplate: parseTemplate(replacement),
    nameValidation: scheme,
  };
}

/**
 * Applies `rules` in order to a copy of `labels`. Returns the new label set, or null when a
 * keep/drop rule dropped it. Setting a label to '' removes it, as in Prometheus.
 */
export function relabel(labels: Labels, rules: readonly RelabelRule[]): Labels | null {
  const out = relabelOrDropIndex(labels, rules);
  return typeof out === 'number' ? null : out;
}

/** As relabel, but a dropped target answers the index of the keep/drop rule that dropped it. */
export function relabelOrDropIndex(labels: Labels, rules: readonly RelabelRule[]): Labels | number {
  const state = new LabelState(labels);
  for (let index = 0; index < rules.length; index++) if (!applyRule(rules[index]!, state)) return index;
  return state.toLabels();
}

/**
 * The label set during relabeling: the caller's object, read-only, plus the changes made so far.
 * A dropped target never pays for a copy; a kept one is copied once at the end.
 */
class LabelState {
  /** name → new value, or null when deleted. */
  private readonly changes = new Map<string, string | null>();
  constructor(private readonly base: Labels) {}

  get(name: string): string | undefined {
    const changed = this.changes.get(name);
    if (changed !== undefined) return changed ?? undefined;
    return Object.prototype.hasOwnProperty.call(this.base, name) ? this.base[name] : undefined;
  }

  /** Setting '' deletes, as Prometheus's labels.Builder does. */
  set(name: string, value: string): void {
    this.changes.set(name, value === '' ? null : value);
  }

  delete(name: string): void {
    this.changes.set(name, null);
  }

  names(): string[] {
    const names: string[] = [];
    for (const name in this.base) if (!this.changes.has(name)) names.push(name);
    for (const [name, value] of this.changes) if (value !== null) names.push(name);
    return names;
  }

  /** Label names sorted by code point with their values, as Prometheus iterates a label set. */
  sortedEntries(): Array<[string, string]> {
    return this.names().sort().map((name) => [name, this.get(name) ?? '']);
  }

  toLabels(): Labels {
    const out: Labels = {};
    for (const name in this.base) if (!this.changes.has(name)) put(out, name, this.base[name] as string);
    for (const [name, value] of this.changes) if (value !== null) put(out, name, value);
    return out;
  }
}

/** `__proto__` is a valid label name: store it as an own property, not as the prototype. */
function put(out: Labels, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  else out[name] = value;
}

function applyRule(rule: RelabelRule, labels: LabelState): boolean {
  let value = '';
  const sources = rule.sourceLabels;
  for (let i = 0; i < sources.length; i++) value += (i > 0 ? rule.separator : '') + (labels.get(sources[i] as string) ?? '');
  switch (rule.action) {
    case 'drop':
      return !rule.regex.test(value);
    case 'keep':
      return rule.regex.test(value);
    case 'dropequal':
      return (labels.get(rule.targetLabel) ?? '') !== value;
    case 'keepequal':
      return (labels.get(rule.targetLabel) ?? '') === value;
    case 'replace': {
      const groups = rule.regex.match(value);
      if (!groups) return true; // no match: no replacement
      const target = templateHasReference(rule.targetTemplate) ? expandTemplate(rule.targetTemplate, groups, rule.regex) : rule.targetLabel;
      if (!isValidLabelName(target, rule.nameValidation)) return true;
      labels.set(target, expandTemplate(rule.replacementTemplate, groups, rule.regex));
      return true;
    }
    case 'lowercase':
      labels.set(rule.targetLabel, goCase(value, 'lower'));
      return true;
    case 'uppercase':
      labels.set(rule.targetLabel, goCase(value, 'upper'));
      return true;
    case 'hashmod':
      labels.set(rule.targetLabel, hashMod(value, rule.modulus));
      return true;
    case 'labelmap':
      for (const [name, labelValue] of labels.sortedEntries()) {
        const groups = rule.regex.match(name);
        if (groups) labels.set(expandTemplate(rule.replacementTemplate, groups, rule.regex), labelValue);
      }
      return true;
    case 'labeldrop':
      for (const name of labels.names()) if (rule.regex.test(name)) labels.delete(name);
      return true;
    case 'labelkeep':
      for (const name of labels.names()) if (!rule.regex.test(name)) labels.delete(name);
      return true;
  }
}

/** md5 of the value; the last 8 bytes as a big-endian uint64, modulo `modulus`. */
export function hashMod(value: string, modulus: bigint): string {
  const digest = createHash('md5').update(value, 'utf8').digest();
  return (digest.readBigUInt64BE(8) % modulus).toString();
}

const asciiOnly = /^[\x00-\x7f]*$/;

/** Go's strings.ToLower/ToUpper: per code point simple case mapping (no context, no expansion). */
function goCase(value: string, to: 'lower' | 'upper'): string {
  if (asciiOnly.test(value)) return to === 'lower' ? value.toLowerCase() : value.toUpperCase();
  let out = '';
  for (const ch of value) {
    if (ch === '\u0130' && to === 'lower') {
      out += 'i'; // Go maps İ to i; JavaScript's special casing would add a combining dot
      continue;
    }
    const mapped = to === 'lower' ? ch.toLowerCase() : ch.toUpperCase();
    out += [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}
