// Writes our own Lease: create (or take over a previous incarnation's), renew every
// renewIntervalMs with the resourceVersion (optimistic concurrency), and write at once when the
// announced view or the leaving flag changes. One write at a time. A 409 re-reads and retries at
// once; 429, 5xx and timeouts retry with backoff and jitter, never past the renew interval. A
// failed write changes nothing else: the caller keeps its view.
import type { Logger } from '../../common/log.js';
import type { Clock, TimerHandle } from './clock.js';
import { buildLease, leaseName, type AnnouncedView, type LeaseObject, type PodIdentity } from './lease-record.js';

export interface LeaseApi {
  create(lease: LeaseObject): Promise<unknown>;
  /** The Lease, or undefined when it does not exist (404). */
  get(name: string): Promise<unknown>;
  /** PUT with metadata.resourceVersion: fails with code 409 when someone else wrote in between. */
  replace(lease: LeaseObject): Promise<unknown>;
  /** Deletes a Lease; with a resourceVersion precondition when given (409 if it changed). */
  delete(name: string, resourceVersion?: string): Promise<void>;
  /** GET of the pod: true only when it answers 404. */
  podMissing(namespace: string, name: string): Promise<boolean>;
}

export interface LeaseWriterOptions {
  pod: PodIdentity;
  group: string;
  api: LeaseApi;
  clock: Clock;
  logger: Logger;
  renewIntervalMs: number;
  leaseDurationMs: number;
  /** After each write attempt: latency and outcome (for metrics). */
  onRenew?: (result: { ok: boolean; latencyMs: number; code?: number }) => void;
  /** After a successful write. */
  onWritten?: () => void;
  random?: () => number;
}

export class LeaseWriter {
  readonly stats = { renewals: 0, renewFailures: 0, conflicts: 0 };
  /** Monotonic ms of the last successful write. */
  lastWriteOkAt = -Infinity;
  created = false;
  private resourceVersion: string | undefined;
  private announcement: AnnouncedView | undefined;
  private leaving = false;
  private summary: string | undefined;
  private report: string | undefined;
  private stopped = false;
  private writing: Promise<void> | undefined;
  private writeAgain = false;
  private failures = 0;
  private timer: TimerHandle | undefined;

  constructor(private readonly options: LeaseWriterOptions) {}

  get name(): string {
    return leaseName(this.options.pod.name);
  }

  get isLeaving(): boolean {
    return this.leaving;
  }

  start(): void {
    void this.write();
  }

  /** Announces the view we act on: written right away, not at the next renewal. */
  announce(view: AnnouncedView): void {
    if (this.announcement?.hash === view.hash) return;
    this.announcement = view;
    void this.write();
  }

  /** What the member serves: written with the next renewal (never a write of its own). */
  setSummary(text: string, report?: string): void {
    this.summary = text;
    this.report = report;
  }

  setLeaving(): void {
    if (this.leaving) return;
    this.leaving = true;
    void this.write();
  }

  /** Stops renewing and deletes our Lease. */
  async release(): Promise<void> {
    this.stop();
    await this.writing;
    try {
      await this.options.api.delete(this.name);
    } catch (err) {
      if (codeOf(err) !== 404) this.options.logger.warn('could not delete our Lease on leave; it expires by itself', { error: messageOf(err) });
    }
  }

  /** Stops renewing without deleting (a member that dies, in tests). */
  stop(): void {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
  }

  /** One write at a time; a request during a write runs once more right after it. */
  private write(): Promise<void> {
    if (this.writing) {
      this.writeAgain = true;
      return this.writing;
    }
    this.writing = (async () => {
      do {
        this.writeAgain = false;
        await this.writeOnce();
      } while (this.writeAgain && !this.stopped);
    })().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private async writeOnce(): Promise<void> {
    if (this.stopped) return;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    const { api, clock, logger } = this.options;
    const started = clock.now();
    try {
      for (let attempt = 0; ; attempt++) {
        const body = buildLease({
          pod: this.options.pod,
          group: this.options.group,
          renewTime: clock.wallNow(),
          leaseDurationSeconds: this.options.leaseDurationMs / 1000,
          ...(this.announcement ? { view: this.announcement } : {}),
          leaving: this.leaving,
          ...(this.summary ? { summary: this.summary } : {}),
          ...(this.report ? { report: this.report } : {}),
          ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
        });
        try {
          const answer = this.resourceVersion ? await api.replace(body) : await api.create(body);
          this.resourceVersion = resourceVersionOf(answer) ?? this.resourceVersion;
          break;
        } catch (err) {
          const code = codeOf(err);
          if (attempt >= 3 || (code !== 409 && code !== 404)) throw err;
          if (code === 409) this.stats.conflicts++;
          // 409: someone wrote in between (or create found our old Lease): re-read and retry on
          // its resourceVersion. 404 on replace: it was deleted; create it again.
          const current = code === 409 ? await api.get(body.metadata.name) : undefined;
          this.resourceVersion = current === undefined ? undefined : resourceVersionOf(current);
        }
      }
      this.created = true;
      this.failures = 0;
      this.lastWriteOkAt = clock.now();
      this.stats.renewals++;
      this.options.onRenew?.({ ok: true, latencyMs: clock.now() - started });
      this.options.onWritten?.();
      this.schedule(this.options.renewIntervalMs);
    } catch (err) {
      this.failures++;
      this.stats.renewFailures++;
      const code = codeOf(err);
      this.options.onRenew?.({ ok: false, latencyMs: clock.now() - started, ...(code !== undefined ? { code } : {}) });
      const ceiling = Math.min(this.options.renewIntervalMs, 250 * 2 ** Math.min(this.failures - 1, 10));
      const delayMs = ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2);
      logger.warn('Lease write failed; keeping the current view and retrying', { error: messageOf(err), code, failures: this.failures, retryInMs: Math.round(delayMs) });
      this.schedule(delayMs);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => void this.write(), delayMs);
  }
}

function resourceVersionOf(raw: unknown): string | undefined {
  const rv = (raw as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
  return typeof rv === 'string' && rv ? rv : undefined;
}

export function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
