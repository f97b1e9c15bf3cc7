// The membership loop (after client-go's leaderelection, for many holders instead of one):
// our Lease is written by LeaseWriter (create, renew with optimistic concurrency, announce);
// here we observe the group's Leases (fed in by a watch) and judge who is alive on OUR monotonic
// clock: a member is
// alive while we saw its renewTime change within its lease duration. Another node's wall clock
// is never compared with ours.
// Failure rules: a failed write (409, 429, 5xx, timeout) never changes the view; while we cannot
// reach the API (writes failing or no Lease news) time is frozen for liveness, so an outage never
// drops members; when it ends everybody gets a fresh full lease duration.
import type { Logger } from '../../common/log.js';
import type { Clock } from './clock.js';
import { hash64 } from './hash.js';
import { parseMemberLease, type AnnouncedView, type MemberLease, type PodIdentity } from './lease-record.js';
import { codeOf, LeaseWriter, messageOf, type LeaseApi } from './lease-writer.js';

export { codeOf, type LeaseApi };

export interface MembershipOptions {
  pod: PodIdentity;
  group: string;
  api: LeaseApi;
  clock: Clock;
  logger: Logger;
  renewIntervalMs?: number;
  leaseDurationSeconds?: number;
  /** Something the view depends on changed (a member came, went, or announced a view). */
  onChange?: () => void;
  /** After each write attempt: latency and outcome (for metrics). */
  onRenew?: (result: { ok: boolean; latencyMs: number; code?: number }) => void;
  random?: () => number;
}

interface Observed {
  lease: MemberLease;
  /** hash64 lanes of `podName/podUid`, for the order-free fingerprint of the live set. */
  idHi: number;
  idLo: number;
  /**
   * Monotonic ms when we last saw its renewTime (or holder) change; undefined while we have only
   * seen it in our first list (a Lease left by a dead pod looks the same until it fails to renew).
   */
  changedAt: number | undefined;
  /** It was live the last time we judged (an outage only extends those). */
  wasLive: boolean;
  /** Monotonic ms when we first saw it announce its current view hash. */
  viewSeenAt: number;
}

export class Membership {
  readonly renewIntervalMs: number;
  readonly leaseDurationMs: number;
  private readonly observed = new Map<string, Observed>();
  private readonly writer: LeaseWriter;
  private synced = false;
  private syncedAt = 0;
  private lastNewsAt = -Infinity;
  private wasHealthy = false;
  private sweeps = 0;
  private readonly ownId: { hi: number; lo: number };
  private liveCache: { members: MemberLease[]; fingerprint: string; healthy: boolean; validUntil: number } | undefined;

  constructor(private readonly options: MembershipOptions) {
    this.renewIntervalMs = options.renewIntervalMs ?? 10_000;
    this.leaseDurationMs = (options.leaseDurationSeconds ?? 40) * 1000;
    this.ownId = hash64(`${options.pod.name}/${options.pod.uid}`);
    this.writer = new LeaseWriter({
      pod: options.pod,
      group: options.group,
      api: options.api,
      clock: options.clock,
      logger: options.logger,
      renewIntervalMs: this.renewIntervalMs,
      leaseDurationMs: this.leaseDurationMs,
      ...(options.onRenew ? { onRenew: options.onRenew } : {}),
      ...(options.random ? { random: options.random } : {}),
      onWritten: () => {
        if (!this.wasHealthy) this.liveCache = undefined;
      },
    });
  }

  get stats(): { renewals: number; renewFailures: number; conflicts: number; sweeps: number } {
    return { ...this.writer.stats, sweeps: this.sweeps };
  }

  get self(): PodIdentity {
    return this.options.pod;
  }

  get ownLeaseName(): string {
    return this.writer.name;
  }

  /**
   * Our Lease exists, we listed the group's Leases, and watched them for 1.5 renew intervals:
   * long enough for every live member to renew once, so our first view holds only live members.
   */
  ready(): boolean {
    return this.writer.created && this.synced && this.options.clock.now() - this.syncedAt >= 1.5 * this.renewIntervalMs;
  }

  /** Starts the loop: the first write creates (or takes over) our Lease. */
  start(): void {
    this.writer.start();
  }

  /** The group's Leases were listed once (the watch's first sync). */
  markSynced(): void {
    if (!this.synced) this.syncedAt = this.options.clock.now();
    this.synced = true;
    this.lastNewsAt = this.options.clock.now();
    this.options.onChange?.();
  }

  /** A Lease of the group was added or changed (watch or list). */
  observe(raw: unknown): void {
    const lease = parseMemberLease(raw, this.options.group);
    if (!lease) return;
    const now = this.options.clock.now();
    this.lastNewsAt = now;
    const previous = this.observed.get(lease.leaseName);
    if (previous && previous.lease.podUid === lease.podUid && previous.lease.podName === lease.podName) {
      // The common case, a renewal: update in place (every member sees every renewal).
      const viewChanged = previous.lease.view?.hash !== lease.view?.hash;
      const leavingChanged = previous.lease.leaving !== lease.leaving;
      if (previous.lease.renewTime !== lease.renewTime) previous.changedAt = now;
      if (viewChanged) previous.viewSeenAt = now;
      previous.lease = lease;
      if (leavingChanged || !previous.wasLive) this.liveCache = undefined;
      if (viewChanged || leavingChanged) this.options.onChange?.();
      return;
    }
    const id = hash64(`${lease.podName}/${lease.podUid}`);
    this.observed.set(lease.leaseName, {
      lease,
      idHi: id.hi,
      idLo: id.lo,
      // First sight in the initial list: unconfirmed. First sight later (watch, relist): just
      // written. A new holder (restarted pod) has just written it too.
      changedAt: previous || this.synced ? now : undefined,
      wasLive: false,
      viewSeenAt: now,
    });
    this.liveCache = undefined;
    this.options.onChange?.();
  }

  /** A Lease of the group was deleted. */
  forget(name: string): void {
    this.liveCache = undefined;
    if (this.observed.delete(name)) this.options.onChange?.();
  }

  /** True while our writes succeed and Lease news arrives; otherwise liveness is frozen. */
  apiHealthy(): boolean {
    const now = this.options.clock.now();
    const windowMs = 2 * this.renewIntervalMs;
    return now - this.writer.lastWriteOkAt <= windowMs && now - this.lastNewsAt <= windowMs;
  }

  /**
   * Judges who is live now (not leaving), ourselves included unless we are leaving: at `now`, or
   * at the moment the API was last healthy when it is not, so an outage never expires anybody.
   * Not a getter: it records the judgement (who was live, back-from-outage restarts) for the next.
   * `fingerprint` is order-free, a cheap "did the set change?".
   */
  judgeLiveMembers(): { members: MemberLease[]; fingerprint: string } {
    const now = this.options.clock.now();
    const healthy = this.apiHealthy();
    // Cached until the earliest expiry among the live (renewals only push expiries later).
    const cache = this.liveCache;
    if (cache && cache.healthy === healthy && healthy === this.wasHealthy && now < cache.validUntil) return { members: cache.members, fingerprint: cache.fingerprint };
    if (healthy && !this.wasHealthy) {
      // Back from an outage (or starting): nobody's renewals could be seen; start them afresh.
      for (const entry of this.observed.values()) if (entry.wasLive) entry.changedAt = Math.max(entry.changedAt ?? now, now);
    }
    this.wasHealthy = healthy;
    const judgedAt = healthy ? now : Math.min(now, Math.max(this.writer.lastWriteOkAt, this.lastNewsAt));
    const members: MemberLease[] = [];
    let sumLo = 0;
    let xorHi = 0;
    let validUntil = Infinity;
    for (const entry of this.observed.values()) {
      const { lease, changedAt, idHi, idLo } = entry;
      if (lease.podName === this.options.pod.name) continue; // ourselves: added below
      const live = changedAt !== undefined && judgedAt - changedAt <= lease.leaseDurationSeconds * 1000;
      if (healthy) entry.wasLive = live;
      if (live && healthy) validUntil = Math.min(validUntil, (changedAt as number) + lease.leaseDurationSeconds * 1000 + 1);
      if (!live || lease.leaving) continue;
      members.push(lease);
      sumLo = (sumLo + idLo) >>> 0;
      xorHi = (xorHi ^ idHi) >>> 0;
    }
    if (!this.writer.isLeaving) {
      members.push(this.ownRecord());
      sumLo = (sumLo + this.ownId.lo) >>> 0;
      xorHi = (xorHi ^ this.ownId.hi) >>> 0;
    }
    const fingerprint = `${members.length}:${sumLo}:${xorHi}`;
    // While unhealthy, judgement time only moves with news or writes, which clear the cache.
    this.liveCache = { members, fingerprint, healthy, validUntil };
    return { members, fingerprint };
  }

  /** When each member was first seen announcing its current view (monotonic ms). */
  announcements(): Map<string, { hash: string; seenAt: number }> {
    const out = new Map<string, { hash: string; seenAt: number }>();
    for (const { lease, viewSeenAt } of this.observed.values()) {
      if (lease.view && lease.podName !== this.options.pod.name) out.set(lease.podName, { hash: lease.view.hash, seenAt: viewSeenAt });
    }
    return out;
  }

  /** Observed Leases with their age on our clock, for /debug/assignment. */
  observedLeases(): Array<{ lease: MemberLease; sinceChangeMs: number | null }> {
    const now = this.options.clock.now();
    return [...this.observed.values()].map(({ lease, changedAt }) => ({ lease, sinceChangeMs: changedAt === undefined ? null : Math.round(now - changedAt) }));
  }

  /** The one-line summary (and JSON report) on our Lease, updated with the next renewal. */
  setSummary(text: string, report?: string): void {
    this.writer.setSummary(text, report);
  }

  /** Announces the view we act on: written right away, not at the next renewal. */
  announce(view: AnnouncedView): void {
    this.writer.announce(view);
  }

  /** Graceful leave, step 1: tell the others to take our targets (we keep serving meanwhile). */
  startLeaving(): void {
    if (this.writer.isLeaving) return;
    this.writer.setLeaving();
    this.liveCache = undefined;
    this.options.onChange?.();
  }

  get isLeaving(): boolean {
    return this.writer.isLeaving;
  }

  /** Graceful leave, step 2: stop renewing and delete our Lease. */
  release(): Promise<void> {
    return this.writer.release();
  }

  /** Stops renewing without deleting (tests: a member that dies). */
  stop(): void {
    this.writer.stop();
  }

  /**
   * Deletes Leases that are stale on our clock and whose pod is gone (GET answers 404). The
   * ownerReference lets the garbage collector do this too; this covers clusters where it lags.
   */
  async sweep(): Promise<number> {
    if (!this.apiHealthy()) return 0;
    const now = this.options.clock.now();
    let deleted = 0;
    for (const { lease, changedAt } of [...this.observed.values()]) {
      if (lease.podName === this.options.pod.name) continue;
      if (changedAt !== undefined && now - changedAt <= lease.leaseDurationSeconds * 1000) continue;
      if (changedAt === undefined && now - this.syncedAt <= lease.leaseDurationSeconds * 1000) continue;
      try {
        if (!(await this.options.api.podMissing(this.options.pod.namespace, lease.podName))) continue;
        await this.options.api.delete(lease.leaseName, lease.resourceVersion);
        this.observed.delete(lease.leaseName);
        deleted++;
        this.sweeps++;
        this.options.logger.info('deleted the stale Lease of a pod that is gone', { lease: lease.leaseName });
      } catch (err) {
        if (codeOf(err) !== 404 && codeOf(err) !== 409) this.options.logger.warn('stale Lease sweep failed', { lease: lease.leaseName, error: messageOf(err) });
      }
    }
    if (deleted) this.options.onChange?.();
    return deleted;
  }

  private ownRecord(): MemberLease {
    const { pod, group } = this.options;
    return {
      leaseName: this.ownLeaseName,
      podName: pod.name,
      podUid: pod.uid,
      nodeName: pod.nodeName,
      group,
      renewTime: '',
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      resourceVersion: '',
      leaving: this.writer.isLeaving,
    };
  }
}
