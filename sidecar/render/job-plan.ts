// Which of a receiver's jobs the sidecar takes over. The rule: with edot-ta a collector scrapes
// every target it scraped before, once across collectors. A job moves to the sidecar only if
// the sidecar can discover exactly its targets and share them; anything else stays in the
// collector's config unchanged (it scrapes it itself, as before), with a message:
// - a job that reads a per-pod variable (node name, host or pod IP, pod name: a fieldRef in the
//   collector's env) is node-local by construction: each collector has its own version;
// - a discovery the sidecar does not run (consul, ec2, … or kubernetes_sd with another cluster
//   or an unsupported role, http_sd with oauth2 or a proxy);
// - a file_sd (or an http_sd credential or CA file) outside the paths the sidecar reads as the
//   collector does (--shared-paths: the collector's ConfigMap volumes, mounted into the sidecar
//   by the webhook): a hostPath or emptyDir file may differ per node, or not be there at all;
// A job Prometheus' loader would reject is neither moved nor kept: the receiver validates the
// whole config, so one bad job would stop all of them.
import { parseSdConfig, SdConfigError } from '../targets/targets-sd.js';
import { scrapeConfigProblems } from '../targets/validate.js';
import { durationMs, expandTree, referencedVariables } from './render-expand.js';
import { httpClientFields, parseRefreshSds, referencedFiles, refreshSdFields, RefreshSdConfigError } from '../discovery/refresh-sd.js';

export type JobPlan = { action: 'move'; job: Record<string, unknown> } | { action: 'keep'; reason: string } | { action: 'drop'; reason: string };

/** Per-pod variables when the webhook did not say (conventional names in collector charts). */
export const conventionalPodLocalEnv = ['POD_NAME', 'NODE_NAME', 'OTEL_K8S_NODE_NAME', 'OTEL_K8S_NODE_IP', 'OTEL_K8S_POD_NAME', 'OTEL_K8S_POD_IP', 'OTEL_K8S_POD_UID', 'K8S_NODE_NAME', 'K8S_NODE_IP', 'K8S_POD_NAME', 'K8S_POD_IP', 'HOST_IP', 'MY_POD_IP'];

const takenDiscovery = new Set(['static_configs', 'kubernetes_sd_configs', ...Object.values(refreshSdFields)]);

export interface PlanOptions {
  podLocalEnv: readonly string[];
  env: Record<string, string | undefined>;
  global?: Record<string, unknown>;
  /** Directories the sidecar reads exactly as every collector of the group does (shared volumes). */
  sharedPaths?: readonly string[];
}

const under = (file: string, dir: string) => file === dir || file.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** A scrape config's job_name, when it has a non-empty one. */
export function jobNameOf(raw: unknown): string | undefined {
  const name = raw && typeof raw === 'object' ? (raw as { job_name?: unknown }).job_name : undefined;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

export function planJob(raw: unknown, options: PlanOptions, messages: string[], where: string): JobPlan {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { action: 'keep', reason: `${where} is not a mapping` };
  const original = raw as Record<string, unknown>;
  const name = jobNameOf(original);
  if (!name) return { action: 'keep', reason: `${where} has no job_name` };

  const perPod = [...referencedVariables(original)].filter((variable) => options.podLocalEnv.includes(variable));
  if (perPod.length > 0) return { action: 'keep', reason: `job ${name} reads the per-pod variable${perPod.length > 1 ? 's' : ''} ${perPod.join(', ')}: node-local by construction, it stays in the collector` };

  const otherDiscovery = Object.keys(original).filter((key) => key.endsWith('_sd_configs') && !takenDiscovery.has(key));
  if (otherDiscovery.length > 0) return { action: 'keep', reason: `job ${name} uses ${otherDiscovery.join(', ')}, which the sidecar does not run: it stays in the collector` };

  const expanded = expandTree(original, options.env);
  for (const ref of new Set(expanded.unresolved)) messages.push(`job ${name}: ${ref} is not resolvable in the render step; left as written`);
  const job = withGlobalDefaults(expanded.value as Record<string, unknown>, options.global);
  const sds = job.kubernetes_sd_configs;
  if (sds !== undefined && sds !== null) {
    if (!Array.isArray(sds)) return { action: 'drop', reason: `job ${name}: kubernetes_sd_configs is not a list; Prometheus would reject it` };
    for (const sd of sds) {
      try {
        parseSdConfig(sd, { ownNamespace: '' });
      } catch (err) {
        if (err instanceof SdConfigError) return { action: 'keep', reason: `job ${name}: ${err.message}; it stays in the collector` };
        throw err;
      }
    }
  }
  const problems = scrapeConfigProblems(job);
  if (problems.length > 0) return { action: 'drop', reason: `job ${name} is not valid (${problems.join('; ')}): removed, Prometheus would reject it and with it every other job` };
  const notShared = refreshSdNotShared(job, options.sharedPaths ?? []);
  if (notShared) return { action: 'keep', reason: `job ${name}: ${notShared}; it stays in the collector` };
  return { action: 'move', job };
}

/** Why the sidecar cannot run this job's dns/http/file discovery as every collector would; undefined if it can. */
function refreshSdNotShared(job: Record<string, unknown>, sharedPaths: readonly string[]): string | undefined {
  let specs;
  try {
    specs = parseRefreshSds(job);
  } catch (err) {
    if (err instanceof RefreshSdConfigError) return undefined; // scrapeConfigProblems said so already
    throw err;
  }
  for (const spec of specs) {
    if (spec.kind === 'http') {
      const unsupported = Object.keys(spec.client).filter((key) => !httpClientFields.has(key));
      if (unsupported.length > 0) return `http_sd_configs uses ${unsupported.join(', ')}, which the sidecar's http_sd client does not support`;
    }
    for (const file of referencedFiles(spec)) {
      if (!file.startsWith('/')) return `${refreshSdFields[spec.kind]} reads ${file}, a relative path`;
      if (!sharedPaths.some((dir) => under(file, dir))) {
        return `${refreshSdFields[spec.kind]} reads ${file}, which is not on a ConfigMap volume the sidecar shares with the collector${sharedPaths.length ? ` (${sharedPaths.join(', ')})` : ''}`;
      }
    }
  }
  return undefined;
}

/** Prometheus fills scrape_interval/scrape_timeout from `global`; the sidecar only sees the job, so inline them. */
export function withGlobalDefaults(job: Record<string, unknown>, global: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!global) return job;
  const out = { ...job };
  if (out.scrape_interval === undefined && typeof global.scrape_interval === 'string') out.scrape_interval = global.scrape_interval;
  if (out.scrape_timeout === undefined && typeof global.scrape_timeout === 'string') {
    const interval = durationMs(out.scrape_interval);
    const timeout = durationMs(global.scrape_timeout);
    out.scrape_timeout = interval !== undefined && timeout !== undefined && timeout > interval ? out.scrape_interval : global.scrape_timeout;
  }
  return out;
}
