// Make-before-break: which targets this member serves, given the assignment it computed for its
// view and what the other members announced. A target this member gained is served at once; a
// target it lost is held until its new owner has announced the same view (its Lease annotation)
// and `holdMs` (the receiver's http_sd refresh + Prometheus's 5 s discovery throttle + one scrape
// interval: until the new owner's collector surely scrapes it) has passed since we saw
// that announcement. A planned move therefore never leaves a gap, and overlaps by at most holdMs.
// A target whose new owner never announces our view (views that disagree for long) is released
// after maxHoldMs, so an overlap cannot last forever. A target that disappeared is dropped.
import type { Assignment, OwnerReason } from './assignment.js';

export type ServeReason = OwnerReason | 'held-for-handover';

export interface ServedTarget {
  reason: ServeReason;
  /** held-for-handover: the member taking it over, and since when (monotonic ms) we hold it. */
  newOwner?: string;
  heldSince?: number;
}

export interface HandoverInput {
  self: string;
  assignment: Assignment;
  viewHash: string;
  /** Per member: the view hash it announced, first seen at (monotonic ms, our clock). */
  announcements: ReadonlyMap<string, { hash: string; seenAt: number }>;
  now: number;
}

export interface HandoverResult {
  /** Whether the served set changed. */
  changed: boolean;
  gained: number;
  released: number;
  /** When a held target may be released next (monotonic ms), if any is held. */
  nextReleaseAt?: number;
}

export class Handover {
  private served = new Map<string, ServedTarget>();
  readonly totals = { gained: 0, released: 0 };

  constructor(private readonly options: { holdMs: number; maxHoldMs: number }) {}

  owns(key: string): boolean {
    return this.served.has(key);
  }

  get(key: string): ServedTarget | undefined {
    return this.served.get(key);
  }

  get size(): number {
    return this.served.size;
  }

  heldCount(): number {
    let held = 0;
    for (const s of this.served.values()) if (s.reason === 'held-for-handover') held++;
    return held;
  }

  entries(): IterableIterator<[string, ServedTarget]> {
    return this.served.entries();
  }

  update(input: HandoverInput): HandoverResult {
    const { self, assignment, viewHash, announcements, now } = input;
    // No members at all (we are leaving alone, or nothing is known): keep what we serve.
    if (assignment.members.length === 0) return { changed: false, gained: 0, released: 0 };
    const { holdMs, maxHoldMs } = this.options;
    const next = new Map<string, ServedTarget>();
    let gained = 0;
    let released = 0;
    let nextReleaseAt: number | undefined;
    let changed = false;
    // Cost is O(our share + what we serve), not O(all targets): this runs on every check.
    for (const key of assignment.keysOwnedBy(self)) {
      const reason = assignment.reasonOf(key) as OwnerReason;
      const previous = this.served.get(key);
      next.set(key, { reason });
      if (!previous) gained++;
      if (!previous || previous.reason !== reason) changed = true;
    }
    for (const [key, previous] of this.served) {
      if (next.has(key)) continue;
      const owner = assignment.ownerOf(key);
      if (owner === undefined) {
        changed = true; // no longer discovered: nothing to hand over
        continue;
      }
      const heldSince = previous.reason === 'held-for-handover' && previous.newOwner === owner ? (previous.heldSince ?? now) : now;
      const announced = announcements.get(owner);
      const readyAt = announced && announced.hash === viewHash ? announced.seenAt + holdMs : Infinity;
      const releaseAt = Math.min(readyAt, heldSince + maxHoldMs);
      if (now >= releaseAt) {
        released++;
        changed = true;
        continue;
      }
      next.set(key, { reason: 'held-for-handover', newOwner: owner, heldSince });
      if (previous.reason !== 'held-for-handover' || previous.newOwner !== owner) changed = true;
      nextReleaseAt = nextReleaseAt === undefined ? releaseAt : Math.min(nextReleaseAt, releaseAt);
    }
    this.served = next;
    this.totals.gained += gained;
    this.totals.released += released;
    return { changed, gained, released, ...(nextReleaseAt !== undefined ? { nextReleaseAt } : {}) };
  }
}
