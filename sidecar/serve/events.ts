// What `kubectl describe pod` shows about the sidecar: Kubernetes Events on its own pod (an
// invalid monitor or scrape config, named) and a one-line summary annotation
// (`edot-ta.io/summary: serving 42 targets in 3 jobs`). Both are rate-limited and best-effort:
// a failure to write them is logged, never fatal, and never blocks serving targets.
import type { Logger } from '../../common/log.js';
import type { KubeClient } from '../kube/client.js';

export const summaryAnnotation = 'edot-ta.io/summary';

export interface PodRef {
  name: string;
  namespace: string;
  uid: string;
}

export interface EventWriterOptions {
  /** The same reason+message is not repeated within this window. */
  repeatWindowMs?: number;
  /** The summary annotation is written at most this often (and only when it changed). */
  summaryIntervalMs?: number;
  now?: () => number;
}

export class PodEvents {
  private readonly lastSent = new Map<string, number>();
  private pendingSummary: string | undefined;
  private writtenSummary: string | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private lastSummaryAt = 0;
  private readonly repeatWindowMs: number;
  private readonly summaryIntervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: KubeClient,
    private readonly pod: PodRef,
    private readonly logger: Logger,
    options: EventWriterOptions = {},
  ) {
    this.repeatWindowMs = options.repeatWindowMs ?? 10 * 60_000;
    this.summaryIntervalMs = options.summaryIntervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Records a Warning/Normal event on the sidecar's pod, once per window for the same text. */
  async record(type: 'Normal' | 'Warning', reason: string, message: string): Promise<boolean> {
    const dedupKey = `${type}|${reason}|${message}`;
    const last = this.lastSent.get(dedupKey);
    if (last !== undefined && this.now() - last < this.repeatWindowMs) return false;
    this.lastSent.set(dedupKey, this.now());
    const timestamp = new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      await this.client.requestJson('POST', `/api/v1/namespaces/${encodeURIComponent(this.pod.namespace)}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${this.pod.name}.`, namespace: this.pod.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name: this.pod.name, namespace: this.pod.namespace, uid: this.pod.uid, fieldPath: 'spec.containers{edot-ta}' },
          reason,
          message: message.slice(0, 1024),
          type,
          source: { component: 'edot-ta' },
          reportingComponent: 'edot-ta',
          reportingInstance: this.pod.name,
          firstTimestamp: timestamp,
          lastTimestamp: timestamp,
          count: 1,
        },
      });
      return true;
    } catch (err) {
      this.lastSent.delete(dedupKey); // try again next time
      this.logger.warn('could not record an event on the sidecar pod', { reason, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /** Sets the summary annotation soon (coalesced, at most once per interval, only if changed). */
  setSummary(text: string): void {
    this.pendingSummary = text;
    if (this.summaryTimer || text === this.writtenSummary) return;
    const delayMs = Math.max(0, this.lastSummaryAt + this.summaryIntervalMs - this.now());
    this.summaryTimer = setTimeout(() => void this.flushSummary(), delayMs);
    this.summaryTimer.unref();
  }

  async flushSummary(): Promise<void> {
    this.summaryTimer = undefined;
    const text = this.pendingSummary;
    if (text === undefined || text === this.writtenSummary) return;
    this.lastSummaryAt = this.now();
    try {
      await this.client.requestJson('PATCH', `/api/v1/namespaces/${encodeURIComponent(this.pod.namespace)}/pods/${encodeURIComponent(this.pod.name)}`, {
        body: { metadata: { annotations: { [summaryAnnotation]: text } } },
        contentType: 'application/merge-patch+json',
      });
      this.writtenSummary = text;
    } catch (err) {
      this.logger.warn('could not update the summary annotation', { error: err instanceof Error ? err.message : String(err) });
    }
    if (this.pendingSummary !== this.writtenSummary) this.setSummary(this.pendingSummary ?? '');
  }

  stop(): void {
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
  }
}

export function summaryText(targets: number, jobs: number): string {
  return `serving ${targets} target${targets === 1 ? '' : 's'} in ${jobs} job${jobs === 1 ? '' : 's'}`;
}
