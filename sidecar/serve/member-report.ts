// What a member publishes about itself on its Lease (annotation edot-ta.io/report), for
// `edot-ta doctor` and `kubectl get lease -o yaml`: per job the targets it serves, those
// relabeling kept for the group and those it dropped, by rule; the jobs render left in the
// collector or removed; the monitors and scrape configs it skipped. Bounded in size (a Lease
// write reaches every member of the group): long lists are cut and say so.
import type { JobStats } from '../targets/targets.js';
import type { JobNotTaken } from '../render/render.js';
import type { SkippedConfig } from './serve-runtime.js';

export interface MemberReport {
  served: number;
  jobs: JobStats[];
  leftInCollector: Array<{ job: string; reason: string }>;
  removed: Array<{ job: string; reason: string }>;
  skipped: SkippedConfig[];
  /** Set when lists were cut to stay under maxReportBytes. */
  truncated?: true;
}

export const maxReportBytes = 4096;
const maxReasonChars = 240;

const cut = (text: string) => (text.length > maxReasonChars ? `${text.slice(0, maxReasonChars - 1)}…` : text);

export function buildMemberReport(input: { jobs: JobStats[]; notTaken: readonly JobNotTaken[]; skipped: readonly SkippedConfig[] }): MemberReport {
  return {
    served: input.jobs.reduce((n, job) => n + job.served, 0),
    jobs: input.jobs,
    leftInCollector: input.notTaken.filter((j) => j.action === 'keep').map((j) => ({ job: j.job, reason: cut(j.reason) })),
    removed: input.notTaken.filter((j) => j.action === 'drop').map((j) => ({ job: j.job, reason: cut(j.reason) })),
    skipped: input.skipped.map((s) => ({ ...s, message: cut(s.message) })),
  };
}

/** The report as annotation text, at most maxReportBytes: jobs serving the most first, lists cut as needed. */
export function formatMemberReport(report: MemberReport): string {
  const jobs = [...report.jobs].sort((a, b) => b.served - a.served || b.kept - a.kept || (a.job < b.job ? -1 : 1));
  for (const limit of [Infinity, 50, 20, 5, 1, 0]) {
    const shown: MemberReport = {
      served: report.served,
      jobs: jobs.slice(0, limit),
      leftInCollector: report.leftInCollector.slice(0, limit),
      removed: report.removed.slice(0, limit),
      skipped: report.skipped.slice(0, limit),
    };
    const whole = shown.jobs.length === jobs.length && shown.leftInCollector.length === report.leftInCollector.length && shown.removed.length === report.removed.length && shown.skipped.length === report.skipped.length;
    const text = JSON.stringify(whole ? shown : { ...shown, truncated: true });
    if (Buffer.byteLength(text) <= maxReportBytes) return text;
  }
  return JSON.stringify({ served: report.served, jobs: [], leftInCollector: [], removed: [], skipped: [], truncated: true });
}

/** A member's report from its annotation; undefined when absent or not a report. */
export function parseMemberReport(text: string | undefined): MemberReport | undefined {
  if (!text) return undefined;
  try {
    const doc = JSON.parse(text) as Partial<MemberReport>;
    if (typeof doc?.served !== 'number' || !Array.isArray(doc.jobs)) return undefined;
    return { served: doc.served, jobs: doc.jobs, leftInCollector: doc.leftInCollector ?? [], removed: doc.removed ?? [], skipped: doc.skipped ?? [], ...(doc.truncated ? { truncated: true } : {}) };
  } catch {
    return undefined;
  }
}
