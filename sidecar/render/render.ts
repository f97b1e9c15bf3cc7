// The render step: rewrite collector configs so one prometheus receiver gets its jobs from the
// local sidecar (target_allocator protocol), and hand its static scrape_configs to the sidecar.
// Pure: config texts in, config texts + scrape configs + messages out. Uses the yaml Document
// API so comments, quoting and `${env:...}` references in everything else survive as written.
// Never throws on bad input: a file it cannot handle passes through byte for byte.
import { isAlias, isMap, isScalar, isSeq, parseDocument, stringify, YAMLMap, type Document } from 'yaml';
import { isPrometheusReceiverId } from '../../contract/names.js';
import { conventionalPodLocalEnv, jobNameOf, planJob } from './job-plan.js';
import { describeYamlError } from '../../common/yaml-errors.js';

export interface RenderOptions {
  /** http://127.0.0.1:<port> of the sidecar. */
  endpoint: string;
  /** target_allocator.interval (how often the receiver polls /scrape_configs). */
  interval: string;
  /** target_allocator.http_sd_config.refresh_interval (how often it polls each job's targets). */
  refreshInterval: string;
  /** target_allocator.collector_id; the sidecar serves targets to its own POD_NAME. */
  collectorId?: string;
  /** Environment for `${env:...}` inside moved scrape configs (the collector's env in the render container). */
  env?: Record<string, string | undefined>;
  /** Variables that differ per pod (fieldRef env of the collector): jobs reading them stay in the collector. */
  podLocalEnv?: readonly string[];
  /** Directories the sidecar reads as the collector does (file_sd files, credential files there move with their job). */
  sharedPaths?: readonly string[];
  /** The sidecar API's bearer token: the receiver sends it on /scrape_configs and every http_sd request. */
  token?: string;
}

export interface RenderInput {
  /** For messages (the file path). */
  name: string;
  text: string;
}

export interface RenderedConfig {
  name: string;
  text: string;
  changed: boolean;
}

export type ScrapeConfig = Record<string, unknown> & { job_name: string };

/** A job the sidecar did not take: left in the collector (keep) or removed as invalid (drop), and why. */
export interface JobNotTaken {
  job: string;
  action: 'keep' | 'drop';
  reason: string;
}

export interface RenderResult {
  configs: RenderedConfig[];
  scrapeConfigs: ScrapeConfig[];
  /** The primary receiver's jobs the sidecar did not take (from the file whose scrape_configs win). */
  notTaken: JobNotTaken[];
  /** The receiver that now talks to the sidecar, if any. */
  receiver?: string;
  messages: string[];
}


interface Parsed {
  input: RenderInput;
  doc?: Document.Parsed;
}

export function renderConfigs(inputs: RenderInput[], options: RenderOptions): RenderResult {
  const messages: string[] = [];
  const parsed: Parsed[] = inputs.map((input) => {
    // merge: `<<: *defaults` is read as YAML 1.1 readers (the collector's) read it; written back as is.
    const doc = parseDocument(input.text, { prettyErrors: false, merge: true });
    if (doc.errors.length > 0) {
      messages.push(`${input.name}: cannot parse as YAML (${describeYamlError(doc.errors[0], input.text)}); passed through unchanged, its prometheus receivers (if any) keep scraping by themselves`);
      return { input };
    }
    if (doc.contents !== null && !isMap(doc.contents)) {
      messages.push(`${input.name}: not a YAML mapping; passed through unchanged`);
      return { input };
    }
    return { input, doc };
  });

  const primary = choosePrimaryReceiver(parsed, messages);
  if (!primary) {
    messages.push('no prometheus receiver (prometheus or prometheus/<name>) found; configs passed through unchanged');
    return { configs: inputs.map((i) => ({ name: i.name, text: i.text, changed: false })), scrapeConfigs: [], notTaken: [], messages };
  }

  // Lists are replaced, not merged, when the collector merges several --config files: the last
  // file that sets the primary receiver's scrape_configs wins, exactly as in the collector.
  let moved: { from: string; jobs: Record<string, unknown>[]; notTaken: JobNotTaken[] } | undefined;
  const configs: RenderedConfig[] = parsed.map(({ input, doc }) => {
    const receiver = doc && receiverNode(doc, primary);
    if (!doc || receiver === undefined) return { name: input.name, text: input.text, changed: false };
    try {
      const taken = rewriteReceiver(doc, primary, options, input.name, messages, options.podLocalEnv ?? conventionalPodLocalEnv);
      if (taken) {
        if (moved) messages.push(`${input.name}: ${primary} scrape_configs replace the ones from ${moved.from} (later --config files win)`);
        moved = { from: input.name, ...taken };
      }
      return { name: input.name, text: doc.toString({ lineWidth: 0 }), changed: true };
    } catch (err) {
      messages.push(`${input.name}: cannot rewrite (${err instanceof Error ? err.message : String(err)}); passed through unchanged`);
      return { name: input.name, text: input.text, changed: false };
    }
  });

  if (!configs.some((config) => config.changed)) {
    messages.push(`${primary} was not rewritten; configs passed through unchanged`);
    return { configs, scrapeConfigs: [], notTaken: [], messages };
  }
  const scrapeConfigs = moved ? uniqueJobNames(moved.jobs, primary, messages) : [];
  messages.push(`${primary} now gets its targets from ${options.endpoint}; ${scrapeConfigs.length} static scrape config(s) moved to the sidecar`);
  return { configs, scrapeConfigs, notTaken: moved?.notTaken ?? [], receiver: primary, messages };
}

/** `{scrape_configs: [...]}` as YAML, the file the sidecar reads with --scrape-configs. */
export function formatScrapeConfigs(scrapeConfigs: ScrapeConfig[]): string {
  return stringify({ scrape_configs: scrapeConfigs }, { lineWidth: 0 });
}

function receiversMap(doc: Document.Parsed): YAMLMap | undefined {
  const receivers = doc.get('receivers', true);
  return isMap(receivers) ? receivers : undefined;
}

function receiverIds(doc: Document.Parsed): string[] {
  return (receiversMap(doc)?.items ?? []).map((pair) => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key))).filter(isPrometheusReceiverId);
}

function receiverNode(doc: Document.Parsed, id: string): unknown {
  const receivers = receiversMap(doc);
  return receivers?.has(id) ? (receivers.get(id, true) ?? null) : undefined;
}

/** Receivers used by metrics pipelines (`metrics`, `metrics/<name>`), in pipeline order. */
function metricsPipelineReceivers(doc: Document.Parsed): string[] {
  const pipelines = doc.getIn(['service', 'pipelines'], true);
  if (!isMap(pipelines)) return [];
  const used: string[] = [];
  for (const pair of pipelines.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (name !== 'metrics' && !name.startsWith('metrics/')) continue;
    const receivers = isMap(pair.value) ? pair.value.get('receivers', true) : undefined;
    if (isSeq(receivers)) for (const item of receivers.items) if (isScalar(item)) used.push(String(item.value));
  }
  return used;
}

/**
 * One receiver talks to the sidecar. Every receiver polling the same sidecar would get every job
 * and scrape it once per receiver, so other prometheus receivers keep their own scrape_configs.
 * Choice: `prometheus` if a metrics pipeline uses it, else the first used one, else the first one.
 */
function choosePrimaryReceiver(parsed: Parsed[], messages: string[]): string | undefined {
  const docs = parsed.flatMap((p) => (p.doc ? [p.doc] : []));
  const all = [...new Set(docs.flatMap(receiverIds))];
  if (all.length === 0) return undefined;
  const used = new Set(docs.flatMap(metricsPipelineReceivers));
  const usedReceivers = all.filter((id) => used.has(id));
  const primary = usedReceivers.includes('prometheus') ? 'prometheus' : (usedReceivers[0] ?? all[0]!);
  if (!used.has(primary)) messages.push(`${primary} is not used by any metrics pipeline: its targets will not be scraped until a metrics pipeline lists it`);
  for (const other of all.filter((id) => id !== primary)) {
    messages.push(`${other} keeps its own scrape_configs and scrapes them itself on every collector (only one receiver per collector can use the sidecar without scraping jobs twice); move its jobs into ${primary} to share them`);
  }
  return primary;
}

function rewriteReceiver(doc: Document.Parsed, id: string, options: RenderOptions, file: string, messages: string[], podLocalEnv: readonly string[]): { jobs: Record<string, unknown>[]; notTaken: JobNotTaken[] } | undefined {
  const receivers = receiversMap(doc)!;
  const existingReceiver: unknown = receivers.get(id, true);
  // Editing through an alias would also edit its anchor elsewhere in the config: leave it alone.
  if (isAlias(existingReceiver) || (isMap(existingReceiver) && isAlias(existingReceiver.get('config', true)))) throw new Error(`${id} is a YAML alias`);
  const receiverMap: YAMLMap = isMap(existingReceiver) ? existingReceiver : new YAMLMap();
  if (receiverMap !== existingReceiver) receivers.set(id, receiverMap);
  const existingConfig: unknown = receiverMap.get('config', true);
  const configMap: YAMLMap = isMap(existingConfig) ? existingConfig : new YAMLMap();
  if (configMap !== existingConfig) receiverMap.set('config', configMap);
  let taken: { jobs: Record<string, unknown>[]; notTaken: JobNotTaken[] } | undefined;
  const scrapeConfigs = configMap.get('scrape_configs', true);
  if (scrapeConfigs !== undefined) {
    const globalNode = configMap.get('global', true);
    const global = isMap(globalNode) ? (globalNode.toJS(doc) as Record<string, unknown>) : undefined;
    taken = { jobs: [], notTaken: [] };
    if (isSeq(scrapeConfigs)) {
      // Jobs the sidecar takes leave the list; the others stay in it exactly as written.
      for (let index = scrapeConfigs.items.length - 1; index >= 0; index--) {
        const item = scrapeConfigs.items[index];
        const raw: unknown = isMap(item) || isSeq(item) || isScalar(item) || isAlias(item) ? (item as { toJS(doc: Document): unknown }).toJS(doc) : item;
        const plan = planJob(raw, { podLocalEnv, env: options.env ?? {}, global, sharedPaths: options.sharedPaths ?? [] }, messages, `${id} scrape_configs[${index}]`);
        if (plan.action !== 'move') {
          messages.push(`${file}: ${plan.reason}`);
          taken.notTaken.unshift({ job: jobNameOf(raw) ?? `${id} scrape_configs[${index}]`, action: plan.action, reason: plan.reason });
          if (plan.action === 'keep') continue;
        } else taken.jobs.unshift(plan.job);
        scrapeConfigs.items.splice(index, 1);
      }
      if (scrapeConfigs.items.length === 0) configMap.delete('scrape_configs');
    } else if (!(isScalar(scrapeConfigs) && scrapeConfigs.value === null)) {
      messages.push(`${file}: ${id} config.scrape_configs is not a list; left as written`);
    } else configMap.delete('scrape_configs');
  }
  if (configMap.has('scrape_config_files')) messages.push(`${file}: ${id} config.scrape_config_files stay with the collector (the sidecar cannot read them); those jobs are scraped by every collector`);
  const existing = receiverMap.get('target_allocator', true);
  if (existing !== undefined) {
    const endpoint = isMap(existing) ? existing.get('endpoint') : undefined;
    messages.push(`${file}: ${id} had a target_allocator${endpoint ? ` (endpoint ${String(endpoint)})` : ''}; replaced by the local sidecar`);
  }
  receiverMap.set(
    'target_allocator',
    doc.createNode({
      endpoint: options.endpoint,
      interval: options.interval,
      collector_id: options.collectorId ?? '${env:POD_NAME}',
      ...(options.token ? { headers: { Authorization: `Bearer ${options.token}` } } : {}),
      http_sd_config: { refresh_interval: options.refreshInterval, ...(options.token ? { authorization: { credentials: options.token } } : {}) },
    }),
  );
  return taken;
}

/** Job names are the served map's keys: a repeated name gets a receiver-qualified one. */
function uniqueJobNames(jobs: Record<string, unknown>[], receiver: string, messages: string[]): ScrapeConfig[] {
  const names = new Set<string>();
  return jobs.map((job) => {
    const jobName = String(job.job_name);
    let name = jobName;
    for (let n = 2; names.has(name); n++) name = n === 2 ? `${receiver}/${jobName}` : `${receiver}/${jobName}/${n}`;
    if (name !== jobName) messages.push(`job name ${jobName} is used twice; the second is served as ${name}`);
    names.add(name);
    return { ...job, job_name: name };
  });
}
