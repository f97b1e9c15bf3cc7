// The serve engine's ShardFilter, backed by membership + assignment + handover. It recomputes
// when the member set, an announcement or the targets change (debounced), and on a periodic
// check (expiries and hold times are judged on the monotonic clock, not on events).
import type { Logger } from '../../common/log.js';
import type { KeptTarget, ShardFilter } from '../targets/targets.js';
import { assign, type AssignableTarget, type Assignment, type AssignmentOptions, type Member } from './assignment.js';
import type { Clock, TimerHandle } from './clock.js';
import { Handover } from './handover.js';
import { formatMicroTime, viewHash } from './lease-record.js';
import type { Membership } from './membership.js';

export interface ShardingOptions {
  membership: Membership;
  /** Every kept target of every job (before sharding). */
  targets: () => Iterable<AssignableTarget>;
  clock: Clock;
  logger: Logger;
  /** http_sd refresh + Prometheus's 5 s discovery throttle + one scrape interval: the overlap of a planned move. */
  holdMs: number;
  /** Longest a target is held for a new owner that does not announce our view. */
  maxHoldMs?: number;
  loadFactor?: number;
  /** The served set changed: the engine must rebuild its answers. */
  onOwnershipChanged: () => void;
  /** Human-visible moments (pod Events): joined, took over, handed off. */
  onEvent?: (reason: 'Joined' | 'TookOverTargets' | 'HandedOffTargets' | 'Left', message: string) => void;
  /** Debounce after a member change (short: handovers wait on it). */
  recomputeDebounceMs?: number;
  /** Discovery has its first full target list; readiness waits for an assignment made after it. */
  discoveryReady?: () => boolean;
  /** Debounce after target changes (a full reassignment; pods churn). */
  targetsDebounceMs?: number;
  checkIntervalMs?: number;
  /** Pod scope `node`: targets on nodes without a member go to the node's covering member. */
  coverNodes?: boolean;
  /**
   * A new view was computed (pod scope `node`: start watching the nodes it makes ours). Its
   * announcement — which lets the previous owners release what we take over — waits until
   * `viewPrepared` says discovery has listed them, so a covered node's pods are never unserved.
   */
  onViewChanged?: (members: readonly Member[]) => void;
  viewPrepared?: () => boolean;
  /** The assignment function (a simulation may memoise it: it is pure). */
  assignFn?: (members: readonly Member[], targets: Iterable<AssignableTarget>, options: AssignmentOptions) => Assignment;
}

export interface ViewState {
  hash: string;
  epoch: number;
  members: Member[];
  /** Wall clock of this member when it started acting on the view (informational). */
  since: string;
}

export class Sharding implements ShardFilter {
  readonly handover: Handover;
  private assignment: Assignment | undefined;
  private view: ViewState = { hash: '', epoch: 0, members: [], since: '' };
  private targetsDirty = true;
  private recomputeTimer: TimerHandle | undefined;
  private checkTimer: TimerHandle | undefined;
  private releaseTimer: TimerHandle | undefined;
  private nextReleaseAt: number | undefined;
  private stopped = false;
  private joined = false;
  private readyOnce = false;
  private liveFingerprint = '';
  /** The view whose announcement waits for `viewPrepared`. */
  private unannounced: ViewState | undefined;

  constructor(private readonly options: ShardingOptions) {
    const maxHoldMs = options.maxHoldMs ?? options.membership.leaseDurationMs + 2 * options.holdMs;
    this.handover = new Handover({ holdMs: options.holdMs, maxHoldMs });
  }

  owns(target: KeptTarget): boolean {
    return this.handover.owns(target.key);
  }

  /**
   * Ready once our Lease exists, the group's Leases were listed, and the served set was computed
   * from discovery's first full list. Latched: later target churn never flips readiness back.
   */
  ready(): boolean {
    if (this.readyOnce) return true;
    const discoveryReady = this.options.discoveryReady?.() ?? true;
    this.readyOnce = discoveryReady && this.options.membership.ready() && this.assignment !== undefined && !this.targetsDirty;
    if (!this.readyOnce && discoveryReady && this.targetsDirty && !this.recomputeTimer) this.scheduleRecompute();
    return this.readyOnce;
  }

  currentView(): ViewState {
    return this.view;
  }

  apiHealthy(): boolean {
    return this.options.membership.apiHealthy();
  }

  currentAssignment(): Assignment | undefined {
    return this.assignment;
  }

  start(): void {
    this.options.membership.start();
    this.scheduleCheck();
  }

  /** The engine's targets changed. */
  targetsChanged(): void {
    this.targetsDirty = true;
    if (!this.recomputeTimer) this.scheduleRecompute(this.options.targetsDebounceMs ?? 1000);
  }

  /** Membership saw a member come, go, or announce a view. */
  membershipChanged(): void {
    this.scheduleRecompute();
  }

  /** Recomputes now: view, assignment (if its inputs changed), served set. */
  recompute(): void {
    if (this.recomputeTimer) this.options.clock.clearTimeout(this.recomputeTimer);
    this.recomputeTimer = undefined;
    const { membership, clock, logger } = this.options;
    if (!membership.ready() && !membership.isLeaving) return;
    const { members: live, fingerprint } = membership.judgeLiveMembers();
    // Periodic checks are the common case: skip sorting and hashing when the live set is unchanged.
    const sameSet = fingerprint === this.liveFingerprint;
    if (sameSet && !this.targetsDirty && this.assignment && this.handover.heldCount() === 0 && !this.unannounced) return;
    this.liveFingerprint = fingerprint;
    const hash = sameSet ? this.view.hash : viewHash(live);
    const viewChanged = hash !== this.view.hash;
    if (viewChanged) {
      const members = live.map((m) => ({ name: m.podName, nodeName: m.nodeName })).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      this.view = { hash, epoch: this.view.epoch + 1, members, since: formatMicroTime(clock.wallNow()) };
      this.unannounced = this.view;
      this.options.onViewChanged?.(members);
      logger.info('acting on a new view', { view: hash, epoch: this.view.epoch, members: members.length });
    }
    this.announceWhenPrepared();
    if (viewChanged || this.targetsDirty || !this.assignment) {
      this.targetsDirty = false;
      const assignFn = this.options.assignFn ?? assign;
      this.assignment = assignFn(this.view.members, this.options.targets(), {
        ...(this.options.loadFactor ? { loadFactor: this.options.loadFactor } : {}),
        ...(this.options.coverNodes ? { coverNodes: true } : {}),
      });
    } else if (this.handover.heldCount() === 0) {
      return; // nothing moved and nothing held: the served set cannot change
    }
    const result = this.handover.update({
      self: membership.self.name,
      assignment: this.assignment,
      viewHash: hash,
      announcements: membership.announcements(),
      now: clock.now(),
    });
    this.nextReleaseAt = result.nextReleaseAt;
    this.scheduleRelease(result.nextReleaseAt);
    if (!result.changed) return;
    this.options.onOwnershipChanged();
    if (!this.joined) {
      this.joined = true;
      this.options.onEvent?.('Joined', `joined collector group with ${this.view.members.length} member(s); serving ${this.handover.size} target(s)`);
    } else {
      if (result.gained) this.options.onEvent?.('TookOverTargets', `took over ${result.gained} target(s) (view ${hash}, ${this.view.members.length} member(s))`);
      if (result.released) this.options.onEvent?.('HandedOffTargets', `handed off ${result.released} target(s) (view ${hash}, ${this.view.members.length} member(s))`);
    }
  }

  /** Announces the current view once discovery has listed what it makes ours (checked again every recompute). */
  private announceWhenPrepared(): void {
    const view = this.unannounced;
    if (!view || !(this.options.viewPrepared?.() ?? true)) return;
    this.unannounced = undefined;
    this.options.membership.announce({ hash: view.hash, members: view.members.length, since: view.since });
  }

  /**
   * Graceful leave: announce that we are leaving, keep serving until every target we hold has
   * been announced by its new owner (+ hold time) or `timeoutMs` passed, then delete our Lease.
   */
  async leave(timeoutMs: number): Promise<{ handedOver: boolean }> {
    const { membership, clock } = this.options;
    membership.startLeaving();
    this.recompute();
    const deadline = clock.now() + timeoutMs;
    while (this.handover.size > 0 && clock.now() < deadline && this.view.members.length > 0) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(250, Math.max(1, deadline - clock.now()))));
      this.recompute();
    }
    const handedOver = this.handover.size === 0;
    this.options.onEvent?.('Left', handedOver ? 'left the collector group after handing over every target' : `left the collector group; ${this.handover.size} target(s) not confirmed by a new owner`);
    this.stop();
    await membership.release();
    return { handedOver };
  }

  stop(): void {
    this.stopped = true;
    if (this.recomputeTimer) this.options.clock.clearTimeout(this.recomputeTimer);
    if (this.checkTimer) this.options.clock.clearTimeout(this.checkTimer);
    if (this.releaseTimer) this.options.clock.clearTimeout(this.releaseTimer);
  }

  /** A held target becomes releasable at `at` (monotonic ms): recompute then. */
  private scheduleRelease(at: number | undefined): void {
    if (this.releaseTimer) this.options.clock.clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    if (at === undefined || this.stopped) return;
    this.releaseTimer = this.options.clock.setTimeout(() => this.recompute(), Math.max(0, at - this.options.clock.now()));
  }

  private scheduleRecompute(delayMs = this.options.recomputeDebounceMs ?? 100): void {
    if (this.stopped) return;
    if (this.recomputeTimer) this.options.clock.clearTimeout(this.recomputeTimer);
    this.recomputeTimer = this.options.clock.setTimeout(() => this.recompute(), delayMs);
  }

  /** Periodic: expiries happen without any event; so do sweeps of stale Leases. */
  private scheduleCheck(): void {
    if (this.stopped) return;
    const intervalMs = this.options.checkIntervalMs ?? 1000;
    let sinceSweepMs = 0;
    const tick = () => {
      if (this.stopped) return;
      this.recompute();
      sinceSweepMs += intervalMs;
      if (sinceSweepMs >= this.options.membership.leaseDurationMs) {
        sinceSweepMs = 0;
        void this.options.membership.sweep();
      }
      this.checkTimer = this.options.clock.setTimeout(tick, intervalMs);
    };
    this.checkTimer = this.options.clock.setTimeout(tick, intervalMs);
  }

  /** For /debug/assignment. */
  pendingReleaseAt(): number | undefined {
    return this.nextReleaseAt;
  }
}
