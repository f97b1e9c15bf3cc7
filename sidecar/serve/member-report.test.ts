import { describe, expect, it } from 'vitest';
import { buildMemberReport, formatMemberReport, maxReportBytes, parseMemberReport } from './member-report.js';
import { renderReportEvents } from './serve-cli.js';

const job = (name: string, served: number) => ({ job: name, served, kept: served, dropped: 0, droppedBy: {} });

describe('member report', () => {
  it('sums what the member serves and splits what render did not take into left and removed', () => {
    const report = buildMemberReport({
      jobs: [job('a', 3), { job: 'b', served: 1, kept: 2, dropped: 5, droppedBy: { 'relabel_configs[1]': 5 } }],
      notTaken: [
        { job: 'node-local', action: 'keep', reason: 'job node-local reads the per-pod variable NODE_NAME: node-local by construction, it stays in the collector' },
        { job: 'bad', action: 'drop', reason: 'job bad is not valid (scrape_interval 0s)' },
      ],
      skipped: [{ kind: 'monitor', name: 'ns/m', message: 'podMetricsEndpoints[0]: bad regex' }],
    });
    expect(report.served).toBe(4);
    expect(report.leftInCollector).toEqual([{ job: 'node-local', reason: expect.stringContaining('stays in the collector') }]);
    expect(report.removed).toEqual([{ job: 'bad', reason: 'job bad is not valid (scrape_interval 0s)' }]);
    expect(parseMemberReport(formatMemberReport(report))).toEqual(report);
  });

  it('stays under its size bound with many jobs and long reasons, busiest jobs first, and says it was cut', () => {
    const jobs = Array.from({ length: 500 }, (_, i) => job(`podMonitor/some-namespace/some-monitor-${i}/0`, i));
    const notTaken = Array.from({ length: 100 }, (_, i) => ({ job: `j${i}`, action: 'keep' as const, reason: 'x'.repeat(1000) }));
    const text = formatMemberReport(buildMemberReport({ jobs, notTaken, skipped: [] }));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(maxReportBytes);
    const parsed = parseMemberReport(text)!;
    expect(parsed.truncated).toBe(true);
    expect(parsed.served).toBe((499 * 500) / 2);
    expect(parsed.jobs[0]?.job).toBe('podMonitor/some-namespace/some-monitor-499/0');
    expect(parsed.leftInCollector[0]?.reason.length).toBeLessThanOrEqual(240);
  });

  it('ignores what is not a report', () => {
    expect(parseMemberReport(undefined)).toBeUndefined();
    expect(parseMemberReport('serving 3 targets')).toBeUndefined();
    expect(parseMemberReport('{"jobs":[]}')).toBeUndefined();
  });

  it('turns the render report into one Event per kind for kubectl describe', () => {
    expect(renderReportEvents(undefined)).toEqual([]);
    expect(renderReportEvents({ moved: 2, notTaken: [{ job: 'k', action: 'keep', reason: 'job k uses consul_sd_configs, which the sidecar does not run: it stays in the collector' }] })).toEqual([
      ['Normal', 'JobsLeftInCollector', '1 job(s) stay in the collector, scraped there as before: job k uses consul_sd_configs, which the sidecar does not run: it stays in the collector'],
    ]);
    expect(renderReportEvents({ moved: 0, notTaken: [{ job: 'b', action: 'drop', reason: 'job b is not valid' }] })[0]?.slice(0, 2)).toEqual(['Warning', 'InvalidJobsRemoved']);
  });
});
