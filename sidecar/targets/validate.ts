// A scrape config checked as Prometheus' loader checks it, before it is moved to or served by the
// sidecar: the receiver validates the whole /scrape_configs answer with that loader, so one job
// it rejects would stop every job of the collector.
import { durationMs } from '../render/render-expand.js';
import { compileRelabelConfigs, RelabelConfigError } from '../relabel/relabel.js';
import { parseRefreshSds, RefreshSdConfigError } from '../discovery/refresh-sd.js';

/** Why Prometheus would refuse this job; empty when it would load it. */
export function scrapeConfigProblems(job: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const name = typeof job.job_name === 'string' ? job.job_name : '';
  if (name === '') problems.push('job_name is empty or not a string');
  for (const field of ['scrape_interval', 'scrape_timeout'] as const) {
    const value = job[field];
    if (value !== undefined && value !== null && durationMs(value) === undefined) problems.push(`${field}: "${String(value)}" is not a Prometheus duration`);
  }
  const interval = durationMs(job.scrape_interval);
  const timeout = durationMs(job.scrape_timeout);
  if (interval !== undefined && timeout !== undefined && timeout > interval) problems.push(`scrape timeout greater than scrape interval for scrape config with job name "${name}"`);
  for (const field of ['relabel_configs', 'metric_relabel_configs'] as const) {
    try {
      compileRelabelConfigs(job[field]);
    } catch (err) {
      problems.push(err instanceof RelabelConfigError ? err.message.replace(/^relabel_configs/, field) : `${field}: ${String(err)}`);
    }
  }
  try {
    parseRefreshSds(job);
  } catch (err) {
    if (!(err instanceof RefreshSdConfigError)) throw err;
    problems.push(err.message);
  }
  return problems;
}
