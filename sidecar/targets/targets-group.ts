// One target group through a job's relabeling, the pure half of the serve engine: the labels
// Prometheus adds before relabeling, kept targets with their identity (job + final non-meta labels),
// final labels for /debug/targets, and the http_sd answer (plain and gzipped).
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import type { TargetGroup } from '../discovery/types.js';
import { relabel, relabelOrDropIndex, type Labels, type RelabelRule } from '../relabel/relabel.js';

/** A target that relabeling kept (the contract with sharding and the API). */
export interface KeptTarget {
  job: string;
  /** job and every non-meta label after relabeling: the target's identity (see targetKey). */
  key: string;
  /** Node of the pod (or node) behind the target, if any. */
  nodeName?: string;
  /** Raw discovered labels (all of them; the answer serves the subset ServedLabels picks). */
  labels: Labels;
}

/** Sharding's hook: which kept targets this sidecar serves to its collector. */
export interface ShardFilter {
  owns(target: KeptTarget): boolean;
}

export const ownsEverything: ShardFilter = { owns: () => true };

export type ScrapeConfig = Record<string, unknown> & { job_name: string };

export interface GroupResult {
  kept: ServedTarget[];
  droppedCount: number;
  /**
   * Why the dropped were dropped: the index of the relabel_configs rule, or noAddress. A group
   * whose targets fell to different rules carries a count per cause instead (rare: kept lean).
   */
  droppedBy?: DropCause | Map<DropCause, number>;
}

/** A relabel_configs index, or noAddress: relabeling left no __address__. */
export type DropCause = number;
export const noAddress: DropCause = -1;

/**
 * A kept target, stored lean: its own per-target labels plus a reference to the labels its
 * group shares (a pod's meta labels are held once, not once per container port).
 */
export class ServedTarget implements KeptTarget {
  constructor(
    readonly job: string,
    readonly key: string,
    readonly nodeName: string | undefined,
    private readonly groupLabels: Labels,
    private readonly ownLabels: Labels,
    /** Which discovered labels the answer carries; undefined: all of them. */
    private readonly served?: ServedLabels,
  ) {}

  /** Merged discovered labels (target labels win, as in Prometheus); built on each call. */
  get labels(): Labels {
    return { ...this.groupLabels, ...this.ownLabels };
  }

  get address(): string {
    return this.ownLabels.__address__ ?? this.groupLabels.__address__ ?? '';
  }

  /**
   * This target's http_sd entry, the same text as JSON.stringify({ targets, labels }) but
   * without building the merged label object: group and own labels are stringified apart and
   * spliced (kubernetes_sd never repeats a group label on a target; if one does, merge).
   */
  json(): string {
    const own = this.ownLabels;
    const group = this.groupLabels;
    if (this.served) return `{"targets":[${JSON.stringify(this.address)}],"labels":{${this.served.select(group, own)}}}`;
    for (const name in own) if (Object.hasOwn(group, name)) return JSON.stringify({ targets: [this.address], labels: this.labels });
    const groupText = JSON.stringify(group);
    const ownText = JSON.stringify(own);
    const labels = groupText.length === 2 ? ownText : ownText.length === 2 ? groupText : `${groupText.slice(0, -1)},${ownText.slice(1)}`;
    return `{"targets":[${JSON.stringify(this.address)}],"labels":${labels}}`;
  }
}

/** Labels Prometheus adds to every target before relabeling (scrape/target.go PopulateLabels). */
export function jobDefaults(config: ScrapeConfig): Labels {
  const defaults: Labels = {
    job: config.job_name,
    __scheme__: typeof config.scheme === 'string' ? config.scheme : 'http',
    __metrics_path__: typeof config.metrics_path === 'string' ? config.metrics_path : '/metrics',
    __scrape_interval__: typeof config.scrape_interval === 'string' ? config.scrape_interval : '1m',
    __scrape_timeout__: typeof config.scrape_timeout === 'string' ? config.scrape_timeout : '10s',
  };
  const params = (config.params ?? {}) as Record<string, unknown>;
  for (const [name, values] of Object.entries(params)) {
    if (Array.isArray(values) && typeof values[0] === 'string') defaults[`__param_${name}`] = values[0];
  }
  return defaults;
}

/**
 * The label names that decide whether a target is kept and its identity under `rules`: every
 * label a rule reads (sources, and the target of keepequal/dropequal/hashmod) or writes, plus
 * the identity's own labels. Relabeling only these gives the same keep/drop and identity as
 * relabeling all ~40 discovered labels: the other labels are never read, and labeldrop /
 * labelkeep only remove names. undefined when a labelmap rule is present (it can copy any
 * label to a name that matters), or a target label is a template: relabel everything then.
 */
export function identityLabelNames(rules: readonly RelabelRule[]): string[] | undefined {
  const names = new Set(['__address__', '__scheme__', '__metrics_path__']);
  for (const rule of rules) {
    if (rule.action === 'labelmap' || rule.targetLabel.includes('$')) return undefined;
    for (const name of rule.sourceLabels) names.add(name);
    if (rule.targetLabel !== '') names.add(rule.targetLabel);
  }
  return names.has('__proto__') ? undefined : [...names]; // a plain object can't hold that name as a key
}

/**
 * The labels of a target that decide its fate and identity, as relabeling would see them (target
 * over group over defaults): the names the rules use, and every label outside `__meta_`, which
 * passes through relabeling into the identity unless a rule drops it.
 */
function identityInput(names: readonly string[], defaults: Labels, groupLabels: Labels, target: Labels): Labels {
  const input: Labels = {};
  for (const labels of [defaults, groupLabels, target]) {
    for (const name in labels) if (!name.startsWith('__meta_')) input[name] = labels[name] as string;
  }
  for (const name of names) {
    const value = Object.hasOwn(target, name) ? target[name] : Object.hasOwn(groupLabels, name) ? groupLabels[name] : Object.hasOwn(defaults, name) ? defaults[name] : undefined;
    if (value !== undefined) input[name] = value;
  }
  return input;
}

/**
 * The discovered labels a job's answer has to carry so that the receiver, which relabels them
 * itself, ends with the same targets and labels: every label outside `__meta_` (they can become
 * target labels), and the `__meta_` labels a rule reads or writes or a labelmap regex matches.
 * Prometheus deletes every other `__meta_` label after relabeling without reading it (labeldrop
 * and labelkeep only remove names), so leaving them out changes nothing but the answer's size:
 * a pod's ~40 meta labels, annotations included, shrink to the dozen its job looks at.
 */
export class ServedLabels {
  private readonly read = new Set<string>();
  private readonly mappers: Array<{ test(name: string): boolean }> = [];
  /** label name -> its JSON key text (`"name":`), or '' when the answer leaves it out. */
  private readonly keyText = new Map<string, string>();

  constructor(rules: readonly RelabelRule[]) {
    for (const rule of rules) {
      for (const name of rule.sourceLabels) this.read.add(name);
      if (rule.targetLabel !== '') this.read.add(rule.targetLabel);
      if (rule.action === 'labelmap') this.mappers.push(rule.regex);
    }
  }

  serves(name: string): boolean {
    return !name.startsWith('__meta_') || this.read.has(name) || this.mappers.some((regex) => regex.test(name));
  }

  /** The served labels of a target as the inside of a JSON object (own labels win over the group's). */
  select(group: Labels, own: Labels): string {
    let text = '';
    for (const name in group) if (!Object.hasOwn(own, name)) text = this.append(text, name, group[name] as string);
    for (const name in own) text = this.append(text, name, own[name] as string);
    return text;
  }

  private append(text: string, name: string, value: string): string {
    let key = this.keyText.get(name);
    if (key === undefined) {
      key = this.serves(name) ? `${JSON.stringify(name)}:` : '';
      if (this.keyText.size < 100_000) this.keyText.set(name, key); // names repeat across targets; bounded anyway
    }
    if (key === '') return text;
    return `${text}${text === '' ? '' : ','}${key}${JSON.stringify(value)}`;
  }
}

/**
 * One group's targets through the job's relabeling: the kept ones with their identity, and a
 * count of the dropped. With `identityNames` (see identityLabelNames) only those labels are
 * relabeled; with `served` the answer carries only the labels the receiver needs.
 */
export function targetsFromGroup(
  job: string,
  group: TargetGroup,
  rules: RelabelRule[],
  defaults: Labels,
  identityNames?: readonly string[],
  served?: ServedLabels,
): GroupResult {
  const kept: ServedTarget[] = [];
  let droppedCount = 0;
  let firstCause: DropCause = noAddress;
  let causes: Map<DropCause, number> | undefined;
  group.targets.forEach((target, index) => {
    // Defaults first: discovered labels override them (PopulateLabels only sets absent ones).
    const input = identityNames ? identityInput(identityNames, defaults, group.labels, target) : Object.assign({}, defaults, group.labels, target);
    const out = relabelOrDropIndex(input, rules);
    const key = typeof out === 'number' ? undefined : targetKey(defaults.job ?? job, out);
    if (!key) {
      const cause = typeof out === 'number' ? out : noAddress;
      if (++droppedCount === 1) firstCause = cause;
      else if (causes || cause !== firstCause) {
        causes ??= new Map([[firstCause, droppedCount - 1]]);
        causes.set(cause, (causes.get(cause) ?? 0) + 1);
      }
      return;
    }
    const nodeName = group.nodeNames?.[index] ?? target.__meta_kubernetes_pod_node_name ?? nodeOf(group.labels);
    kept.push(new ServedTarget(job, key, nodeName || undefined, group.labels, target, served));
  });
  return droppedCount === 0 ? { kept, droppedCount } : { kept, droppedCount, droppedBy: causes ?? firstCause };
}

/**
 * Identity of a relabeled target, as the Target Allocator takes it: the job and every label after
 * relabeling outside `__meta_` and `__tmp` (sorted; empty values are no labels), so targets that
 * differ only in, say, `__param_target` (probes) are told apart. undefined without an address.
 */
function targetKey(job: string, out: Labels): string | undefined {
  if (!out.__address__) return undefined;
  const names = Object.keys(out).filter((name) => out[name] !== '' && !name.startsWith('__meta_') && !name.startsWith('__tmp')).sort();
  return `${job}|${names.map((name) => `${name}=${out[name]}`).join(',')}`;
}

/** The node behind a target, from kubernetes_sd meta labels (pod and node roles). */
export function nodeOf(discovered: Labels): string | undefined {
  return discovered.__meta_kubernetes_pod_node_name || discovered.__meta_kubernetes_node_name || undefined;
}

/** Relabels discovered labels as a scrape pool would; the final labels and identity, or why dropped. */
export function finalLabels(discovered: Labels, rules: RelabelRule[], defaults: Labels): { labels: Labels; key: string } | { reason: string } {
  const out = relabel(Object.assign({}, defaults, discovered), rules);
  if (out === null) return { reason: 'dropped by relabel_configs' };
  const key = targetKey(defaults.job ?? '', out);
  if (!key) return { reason: 'no __address__ after relabeling' };
  const labels: Labels = {};
  for (const [name, value] of Object.entries(out)) if (!name.startsWith('__meta_') && value !== '') labels[name] = value;
  labels.instance ??= out.__address__ ?? '';
  return { labels, key };
}

/** The http_sd answer as JSON text. */
export function serializeTargets(targets: ServedTarget[]): string {
  return `[${targets.map((t) => t.json()).join(',')}]`;
}

/**
 * The answer gzipped in slices, so the full JSON text never exists at once (a 100k-target
 * answer is ~200 MiB as text). Level 1: label sets are repetitive, speed matters more.
 */
export async function gzipTargets(targets: ServedTarget[], sliceSize = 500): Promise<Buffer> {
  const gzip = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(gzip, 'end');
  gzip.write('[');
  for (let start = 0; start < targets.length; start += sliceSize) {
    const slice = serializeTargets(targets.slice(start, start + sliceSize));
    if (!gzip.write((start === 0 ? '' : ',') + slice.slice(1, -1))) await once(gzip, 'drain');
  }
  gzip.end(']');
  await ended;
  return Buffer.concat(chunks);
}
