// The serve engine: scrape configs + discovered objects -> jobs and their kept targets.
// Per job it keeps, per target group (one per discovered object or static_configs entry), the
// targets relabeling kept (sharing the group's labels) and how many it dropped; /debug/targets
// rebuilds the details from the caches. An object event recomputes
// only the groups it affects (one pod: one group), so updates stay cheap at 100k targets; the
// per-job answer is rebuilt lazily when asked for, at most once per change, and kept gzipped
// in chunks of groups (100k targets are ~200 MiB of JSON labels but ~7 MiB compressed; one
// changed pod re-compresses its chunk only, see targets-answer.ts).
import type { Logger } from '../../common/log.js';
import { compileRelabelConfigs, instantiateShard, type Labels, type RelabelRule } from '../relabel/relabel.js';
import { scrapeConfigProblems } from './validate.js';
import type { TargetGroup } from '../discovery/types.js';
import type { WatchScope, WatchedResource } from '../kube/scope.js';
import { gzipTargets, identityLabelNames, jobDefaults, serializeTargets, ServedLabels, targetsFromGroup, noAddress, type DropCause, type GroupResult, type KeptTarget, type ScrapeConfig, type ServedTarget, type ShardFilter, ownsEverything } from './targets-group.js';
import { AnswerChunks } from './targets-answer.js';
import { affectedGroupKeys, groupFor, mainResource, nodeMetadataScope, parseSdConfig, type ObjectStores, type SdSpec, type WatchOptions } from './targets-sd.js';
import { parseRefreshSds, refreshSdFields, type RefreshSdSpec } from '../discovery/refresh-sd.js';

export * from './targets-group.js';

interface Job {
  name: string;
  /** The config as given (canonical JSON used to tell whether it changed). */
  fingerprint: string;
  /** What /scrape_configs serves: the config without discovery sections. */
  served: Record<string, unknown>;
  rules: RelabelRule[];
  /** Labels that decide keep/drop and identity under `rules` (undefined: relabel all). */
  identityNames: string[] | undefined;
  /** The discovered labels its answer carries. */
  servedLabels: ServedLabels;
  defaults: Labels;
  specs: SdSpec[];
  /** dns_sd, http_sd and file_sd entries: their groups are pushed in by refresh loops. */
  refreshSpecs: RefreshSdSpec[];
  /** The last groups each refresh entry pushed, by entry index then source. */
  refreshed: Map<number, ReadonlyMap<string, TargetGroup>>;
  staticGroups: TargetGroup[];
  groups: Map<string, GroupResult>;
  keptCount: number;
  droppedCount: number;
  /** The gzipped answer in per-chunk members (a change re-compresses one chunk). */
  chunks: AnswerChunks;
  answer?: Promise<Buffer>;
}

export interface JobStats {
  job: string;
  served: number;
  kept: number;
  dropped: number;
  droppedBy: Record<string, number>;
}

export interface JobProblem {
  job: string;
  message: string;
}

const discoveryFields = ['static_configs', 'kubernetes_sd_configs', ...Object.values(refreshSdFields)];

/** One refresh-driven discovery entry of a job, for the loop that runs it. */
export interface RefreshEntry {
  job: string;
  /** Changes whenever the job's config does: a loop belongs to one version of the job. */
  fingerprint: string;
  index: number;
  spec: RefreshSdSpec;
}

export class TargetEngine {
  private jobs = new Map<string, Job>();
  private shardFilter: ShardFilter = ownsEverything;
  /** Node name → its labels and annotations as last seen (attach_metadata). */
  private readonly nodeMetadata = new Map<string, string>();

  constructor(
    private readonly stores: ObjectStores,
    private readonly watchOptions: WatchOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Replaces the set of scrape configs. Unchanged jobs keep their targets; new or changed jobs
   * are recomputed from the caches. Returns the configs that were rejected (named, with why).
   */
  setScrapeConfigs(configs: ScrapeConfig[]): JobProblem[] {
    const problems: JobProblem[] = [];
    const next = new Map<string, Job>();
    for (const config of configs) {
      const name = config.job_name;
      if (next.has(name)) {
        problems.push({ job: name, message: 'duplicate job_name: only the first one is used' });
        continue;
      }
      const fingerprint = JSON.stringify(config);
      const existing = this.jobs.get(name);
      if (existing && existing.fingerprint === fingerprint) {
        next.set(name, existing);
        continue;
      }
      // Never serve a job the receiver's loader would reject: it validates the whole answer.
      const invalid = scrapeConfigProblems(config);
      if (invalid.length > 0) {
        problems.push({ job: name, message: `not served, Prometheus would reject it: ${invalid.join('; ')}` });
        continue;
      }
      try {
        const job = this.compileJob(config, fingerprint);
        this.recomputeJob(job);
        next.set(name, job);
      } catch (err) {
        problems.push({ job: name, message: err instanceof Error ? err.message : String(err) });
      }
    }
    this.jobs = next;
    return problems;
  }

  /** Every scope the current jobs watch. */
  scopes(): WatchScope[] {
    return [...this.jobs.values()].flatMap((job) => job.specs.flatMap((spec) => [...spec.scopes.values()].flat()));
  }

  /** Every dns_sd, http_sd and file_sd entry of the current jobs. */
  refreshEntries(): RefreshEntry[] {
    return [...this.jobs.values()].flatMap((job) => job.refreshSpecs.map((spec, index) => ({ job: job.name, fingerprint: job.fingerprint, index, spec })));
  }

  /**
   * A refresh loop's groups for one entry (every group it has now, by source): groups it no
   * longer has are removed. Ignored (false) when the job changed since the loop started.
   */
  setRefreshedGroups(entry: RefreshEntry, groups: ReadonlyMap<string, TargetGroup>): boolean {
    const job = this.jobs.get(entry.job);
    if (!job || job.fingerprint !== entry.fingerprint) return false;
    const before = job.refreshed.get(entry.index) ?? new Map<string, TargetGroup>();
    for (const source of before.keys()) if (!groups.has(source)) this.updateGroup(job, refreshedGroupKey(entry.index, source), undefined);
    for (const [source, group] of groups) if (before.get(source) !== group) this.updateGroup(job, refreshedGroupKey(entry.index, source), group);
    job.refreshed.set(entry.index, groups);
    return true;
  }

  /** Applies one informer event: recomputes the groups of every job that watches this object. */
  onObjectChanged(resource: WatchedResource, key: string): void {
    // A node event that changed neither labels nor annotations matters to role node only.
    const nodeMetadataSame = resource === 'nodes' && !this.nodeMetadataChanged(key);
    const namespace = resource === 'nodes' ? undefined : key.split('/')[0];
    for (const job of this.jobs.values()) {
      job.specs.forEach((spec, index) => {
        const scopes = spec.scopes.get(resource);
        if (!scopes?.some((s) => s.namespace === undefined || s.namespace === namespace)) return;
        if (nodeMetadataSame && spec.role !== 'node') return;
        for (const groupKey of affectedGroupKeys(spec, resource, key, this.stores)) {
          this.updateGroup(job, `${index}|${groupKey}`, groupFor(spec, groupKey, this.stores));
        }
      });
    }
  }

  /**
   * attach_metadata reads a node's labels and annotations only: its status updates (most node
   * events) change no target, and recomputing every group on the node for each would cost
   * O(pods) per event.
   */
  private nodeMetadataChanged(name: string): boolean {
    const node = this.stores.get(nodeMetadataScope, name) as { metadata?: { labels?: unknown; annotations?: unknown } } | undefined;
    const print = node === undefined ? undefined : JSON.stringify([node.metadata?.labels ?? {}, node.metadata?.annotations ?? {}]);
    if (this.nodeMetadata.has(name) && this.nodeMetadata.get(name) === print) return false;
    if (print === undefined) this.nodeMetadata.delete(name);
    else this.nodeMetadata.set(name, print);
    return true;
  }

  /** Recomputes every job from the caches (after informers (re)synced). */
  recomputeAll(): void {
    for (const job of this.jobs.values()) this.recomputeJob(job);
  }

  setShardFilter(filter: ShardFilter): void {
    this.shardFilter = filter;
    for (const job of this.jobs.values()) {
      job.chunks.invalidateAll();
      job.answer = undefined;
    }
  }

  /** Call when the shard filter's answers changed (membership or assignment moved). */
  ownershipChanged(): void {
    this.setShardFilter(this.shardFilter);
  }

  jobNames(): string[] {
    return [...this.jobs.keys()];
  }

  /** job name -> scrape config as served on /scrape_configs. */
  scrapeConfigs(): Record<string, Record<string, unknown>> {
    return Object.fromEntries([...this.jobs.values()].map((job) => [job.name, job.served]));
  }

  /** The http_sd answer for a job as JSON text, `[]` for an unknown one (not cached). */
  targetsAnswer(jobName: string): string {
    const job = this.jobs.get(jobName);
    return job ? serializeTargets(this.ownedTargets(job)) : '[]';
  }

  /** The same answer gzipped; cached until the job or the ownership changes. */
  targetsAnswerGzip(jobName: string): Promise<Buffer> {
    const job = this.jobs.get(jobName);
    if (!job) return gzipTargets([]);
    job.answer ??= job.chunks.gzip(job.groups, (t) => this.shardFilter.owns(t));
    return job.answer;
  }

  private ownedTargets(job: Job): ServedTarget[] {
    return this.keptTargets(job).filter((t) => this.shardFilter.owns(t));
  }

  *allKeptTargets(): IterableIterator<ServedTarget> {
    for (const job of this.jobs.values()) yield* this.keptTargets(job);
  }

  summary(): { jobs: number; kept: number; dropped: number; keptByJob: Record<string, number>; owned: number } {
    let kept = 0;
    let dropped = 0;
    let owned = 0;
    const keptByJob: Record<string, number> = {};
    for (const job of this.jobs.values()) {
      keptByJob[job.name] = job.keptCount;
      kept += job.keptCount;
      dropped += job.droppedCount;
      for (const group of job.groups.values()) {
        for (const t of group.kept) if (this.shardFilter.owns(t)) owned++;
      }
    }
    return { jobs: this.jobs.size, kept, dropped, keptByJob, owned };
  }

  /**
   * Per job: the targets this member serves, those relabeling kept (for the whole group) and
   * those it dropped, by cause (`relabel_configs[i]`, or no __address__). O(targets).
   */
  jobStats(): JobStats[] {
    const stats: JobStats[] = [];
    for (const job of this.jobs.values()) {
      let served = 0;
      const droppedBy: Record<string, number> = {};
      const count = (cause: DropCause, n: number) => {
        const name = cause === noAddress ? 'no __address__' : `relabel_configs[${cause}]`;
        droppedBy[name] = (droppedBy[name] ?? 0) + n;
      };
      for (const group of job.groups.values()) {
        for (const t of group.kept) if (this.shardFilter.owns(t)) served++;
        if (typeof group.droppedBy === 'number') count(group.droppedBy, group.droppedCount);
        else if (group.droppedBy) for (const [cause, n] of group.droppedBy) count(cause, n);
      }
      stats.push({ job: job.name, served, kept: job.keptCount, dropped: job.droppedCount, droppedBy });
    }
    return stats;
  }

  /**
   * For /debug/targets: every job's groups, rebuilt from the caches (nothing extra is kept per
   * target for debugging), with the job's rules and the relabel_configs they came from.
   */
  *debugGroups(): IterableIterator<{ job: string; rules: RelabelRule[]; rawRules: unknown[]; defaults: Labels; groupKey: string; group: TargetGroup }> {
    for (const job of this.jobs.values()) {
      const rawRules = Array.isArray(job.served.relabel_configs) ? (job.served.relabel_configs as unknown[]) : [];
      for (const groupKey of job.groups.keys()) {
        const [index, ...rest] = groupKey.split('|');
        const key = rest.join('|');
        const group = index === 'static' ? job.staticGroups[Number(key)] : index?.startsWith('r') ? job.refreshed.get(Number(index.slice(1)))?.get(key) : groupFor(job.specs[Number(index)] as SdSpec, key, this.stores);
        if (group) yield { job: job.name, rules: job.rules, rawRules, defaults: job.defaults, groupKey, group };
      }
    }
  }

  ownsTarget(target: KeptTarget): boolean {
    return this.shardFilter.owns(target);
  }

  private keptTargets(job: Job): ServedTarget[] {
    const all: ServedTarget[] = [];
    for (const group of job.groups.values()) for (const t of group.kept) all.push(t);
    return all;
  }

  private compileJob(config: ScrapeConfig, fingerprint: string): Job {
    const rules = compileRelabelConfigs(instantiateShard(config.relabel_configs ?? []));
    const rawSds = config.kubernetes_sd_configs ?? [];
    if (!Array.isArray(rawSds)) throw new Error('kubernetes_sd_configs must be a list');
    const specs = rawSds.map((raw) => parseSdConfig(raw, this.watchOptions));
    const rawStatic = config.static_configs ?? [];
    if (!Array.isArray(rawStatic)) throw new Error('static_configs must be a list');
    const staticGroups: TargetGroup[] = rawStatic.map((entry: unknown, i) => {
      const sc = (entry ?? {}) as { targets?: unknown; labels?: unknown };
      const targets = Array.isArray(sc.targets) ? sc.targets.filter((t): t is string => typeof t === 'string') : [];
      const labels = (typeof sc.labels === 'object' && sc.labels !== null ? sc.labels : {}) as Labels;
      return { source: String(i), targets: targets.map((address) => ({ __address__: address })), labels };
    });
    const refreshSpecs = parseRefreshSds(config);
    const served = Object.fromEntries(Object.entries(config).filter(([k]) => !discoveryFields.includes(k)));
    return { name: config.job_name, fingerprint, served, rules, identityNames: identityLabelNames(rules), servedLabels: new ServedLabels(rules), defaults: jobDefaults(config), specs, refreshSpecs, refreshed: new Map(), staticGroups, groups: new Map(), keptCount: 0, droppedCount: 0, chunks: new AnswerChunks() };
  }

  private recomputeJob(job: Job): void {
    job.groups.clear();
    job.chunks.clear();
    job.keptCount = 0;
    job.droppedCount = 0;
    job.answer = undefined;
    job.staticGroups.forEach((group, i) => this.updateGroup(job, `static|${i}`, group));
    for (const [index, groups] of job.refreshed) for (const [source, group] of groups) this.updateGroup(job, refreshedGroupKey(index, source), group);
    job.specs.forEach((spec, index) => {
      const main = spec.scopes.get(mainResource(spec.role)) ?? [];
      for (const scope of main) {
        for (const [key] of this.stores.entries(scope)) {
          this.updateGroup(job, `${index}|${key}`, groupFor(spec, key, this.stores));
        }
      }
    });
  }

  private updateGroup(job: Job, groupKey: string, group: TargetGroup | undefined): void {
    const previous = job.groups.get(groupKey);
    if (previous) {
      job.keptCount -= previous.kept.length;
      job.droppedCount -= previous.droppedCount;
    }
    job.answer = undefined;
    if (!group) {
      job.groups.delete(groupKey);
      job.chunks.removed(groupKey);
      return;
    }
    const result = targetsFromGroup(job.name, group, job.rules, job.defaults, job.identityNames, job.servedLabels);
    job.groups.set(groupKey, result);
    job.chunks.changed(groupKey);
    job.keptCount += result.kept.length;
    job.droppedCount += result.droppedCount;
  }
}

const refreshedGroupKey = (index: number, source: string) => `r${index}|${source}`;
