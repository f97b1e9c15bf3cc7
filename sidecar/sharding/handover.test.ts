import { describe, expect, it } from 'vitest';
import { assign } from './assignment.js';
import { SimulatedClock } from './clock.js';
import { Handover } from './handover.js';
import { SimulatedLeaseStore } from '../../test/sharding/simulated-api.js';
import { startSimulatedMember, type SimulatedMember } from '../../test/sharding/simulation.js';

const holdMs = 5_000;
const renewIntervalMs = 10_000;
const leaseDurationSeconds = 40;
const targets = Array.from({ length: 300 }, (_, i) => ({ key: `job|http|10.0.${i >> 8}.${i & 255}:9090|/metrics` }));

describe('handover state machine', () => {
  const members = [{ name: 'a', nodeName: 'n1' }, { name: 'b', nodeName: 'n2' }];
  const before = assign(members.slice(0, 1), targets);
  const after = assign(members, targets);
  const movedToB = targets.filter((t) => after.ownerOf(t.key) === 'b').map((t) => t.key);

  it('keeps a target on its old owner until the new owner announces the view, plus the hold time', () => {
    const handover = new Handover({ holdMs, maxHoldMs: 60_000 });
    handover.update({ self: 'a', assignment: before, viewHash: 'v1', announcements: new Map(), now: 0 });
    expect(handover.size).toBe(targets.length);
    // b joined: a computes view v2 but b has not announced it yet.
    let result = handover.update({ self: 'a', assignment: after, viewHash: 'v2', announcements: new Map([['b', { hash: 'v1', seenAt: 0 }]]), now: 1_000 });
    expect(result.released).toBe(0);
    expect(movedToB.every((key) => handover.get(key)?.reason === 'held-for-handover')).toBe(true);
    // b announces v2 at t=2s: a still holds until 2s + holdMs.
    const announced = new Map([['b', { hash: 'v2', seenAt: 2_000 }]]);
    result = handover.update({ self: 'a', assignment: after, viewHash: 'v2', announcements: announced, now: 2_000 + holdMs - 1 });
    expect(result.released).toBe(0);
    expect(result.nextReleaseAt).toBe(2_000 + holdMs);
    result = handover.update({ self: 'a', assignment: after, viewHash: 'v2', announcements: announced, now: 2_000 + holdMs });
    expect(result.released).toBe(movedToB.length);
    expect(movedToB.some((key) => handover.owns(key))).toBe(false);
    expect(handover.size).toBe(targets.length - movedToB.length);
  });

  it('releases after maxHoldMs when the new owner never announces our view (no endless double scrape)', () => {
    const handover = new Handover({ holdMs, maxHoldMs: 20_000 });
    handover.update({ self: 'a', assignment: before, viewHash: 'v1', announcements: new Map(), now: 0 });
    handover.update({ self: 'a', assignment: after, viewHash: 'v2', announcements: new Map(), now: 1_000 });
    expect(handover.heldCount()).toBe(movedToB.length);
    handover.update({ self: 'a', assignment: after, viewHash: 'v2', announcements: new Map(), now: 21_000 });
    expect(handover.heldCount()).toBe(0);
  });

  it('gains targets at once, drops targets that are no longer discovered, and keeps everything with no members', () => {
    const handover = new Handover({ holdMs, maxHoldMs: 60_000 });
    handover.update({ self: 'b', assignment: after, viewHash: 'v2', announcements: new Map(), now: 0 });
    expect(handover.size).toBe(movedToB.length);
    const fewer = assign(members, targets.slice(0, 10));
    handover.update({ self: 'b', assignment: fewer, viewHash: 'v2', announcements: new Map(), now: 1 });
    expect([...handover.entries()].every(([key]) => fewer.ownerOf(key) === 'b')).toBe(true);
    const size = handover.size;
    expect(handover.update({ self: 'b', assignment: assign([], targets), viewHash: 'v0', announcements: new Map(), now: 2 }).changed).toBe(false);
    expect(handover.size).toBe(size);
  });
});

describe('sharding a group on simulated time', () => {
  function startGroup(names: string[], store = new SimulatedLeaseStore(), clock = new SimulatedClock()) {
    const members = names.map((name, i) => startSimulatedMember({ name, nodeName: `node-${i}`, store, clock, targets: () => targets, renewIntervalMs, leaseDurationSeconds, holdMs }));
    return { store, clock, members };
  }

  /** key -> how many members serve it right now. */
  function coverage(members: SimulatedMember[]): Map<string, number> {
    const count = new Map(targets.map((t) => [t.key, 0]));
    for (const m of members) for (const key of m.owned()) count.set(key, (count.get(key) ?? 0) + 1);
    return count;
  }

  it('serves every target exactly once in steady state', async () => {
    const { clock, members } = startGroup(['a', 'b', 'c', 'd']);
    await clock.advance(3 * holdMs);
    expect([...coverage(members).values()].every((n) => n === 1)).toBe(true);
  });

  it('never leaves a target unserved during a join, and ends with exactly one owner each', async () => {
    const { store, clock, members } = startGroup(['a', 'b', 'c']);
    await clock.advance(3 * holdMs);
    const all = [...members, startSimulatedMember({ name: 'd', nodeName: 'node-9', store, clock, targets: () => targets, renewIntervalMs, leaseDurationSeconds, holdMs })];
    let doubled = 0;
    for (let t = 0; t < 4 * holdMs; t += 250) {
      await clock.advance(250);
      const counts = [...coverage(all).values()];
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
      doubled = Math.max(doubled, counts.filter((n) => n > 1).length);
    }
    expect(doubled).toBeGreaterThan(0); // make-before-break: the overlap existed
    expect([...coverage(all).values()].every((n) => n === 1)).toBe(true);
    expect(all[3]!.owned().length).toBeGreaterThan(0);
  });

  it('hands every target over before a graceful leave deletes the Lease', async () => {
    const { store, clock, members } = startGroup(['a', 'b', 'c']);
    await clock.advance(3 * holdMs);
    const leaving = members[2]!;
    const left = leaving.sharding.leave(60_000);
    for (let t = 0; t < 3 * holdMs; t += 250) {
      await clock.advance(250);
      expect(Math.min(...coverage(members).values())).toBeGreaterThanOrEqual(1);
    }
    expect(await left).toEqual({ handedOver: true });
    expect(store.leaseNames()).not.toContain('edot-ta-c');
    expect([...coverage(members.slice(0, 2)).values()].every((n) => n === 1)).toBe(true);
  });

  it('picks up a crashed member\'s targets within lease duration + one check interval', async () => {
    const { clock, members } = startGroup(['a', 'b', 'c']);
    await clock.advance(3 * holdMs);
    const crashed = members[1]!;
    const orphaned = crashed.owned();
    crashed.crash();
    const survivors = [members[0]!, members[2]!];
    let pickedUpAfterMs = -1;
    for (let t = 250; t <= leaseDurationSeconds * 1000 + 5_000; t += 250) {
      await clock.advance(250);
      const served = new Set(survivors.flatMap((m) => m.owned()));
      if (orphaned.every((key) => served.has(key))) {
        pickedUpAfterMs = t;
        break;
      }
    }
    expect(pickedUpAfterMs).toBeGreaterThan(0);
    expect(pickedUpAfterMs).toBeLessThanOrEqual(leaseDurationSeconds * 1000 + 1_000 + 250);
  });

  it('drops no target while Lease updates fail (409, 429, 500, timeout) or the API is down', async () => {
    const { store, clock, members } = startGroup(['a', 'b', 'c']);
    await clock.advance(3 * holdMs);
    const owned = members.map((m) => m.owned());
    for (const code of [409, 429, 500, 'timeout'] as const) {
      store.failNext('replace', code, 5);
      await clock.advance(renewIntervalMs);
      expect(members.map((m) => m.owned())).toEqual(owned);
    }
    store.setDown(true);
    for (let t = 0; t < 2 * leaseDurationSeconds * 1000; t += 1_000) {
      await clock.advance(1_000);
      expect(members.map((m) => m.owned())).toEqual(owned);
    }
    store.setDown(false);
    await clock.advance(leaseDurationSeconds * 1000);
    expect(members.map((m) => m.owned())).toEqual(owned);
  });
});
