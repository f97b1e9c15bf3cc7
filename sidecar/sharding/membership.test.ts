// The membership loop against the in-memory Lease store on simulated time (the real apiserver
// is exercised by test/e2e/sharding.e2e.test.ts).
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from './clock.js';
import { leaseName, parseMemberLease } from './lease-record.js';
import { Membership } from './membership.js';
import { SimulatedLeaseStore } from '../../test/sharding/simulated-api.js';
import { silentLogger, startSimulatedMember } from '../../test/sharding/simulation.js';

const renewIntervalMs = 10_000;
const leaseDurationSeconds = 40;

function group(store: SimulatedLeaseStore, clock: SimulatedClock, names: string[], targets = () => [] as Array<{ key: string; nodeName?: string }>) {
  return names.map((name, i) => startSimulatedMember({ name, nodeName: `node-${i}`, store, clock, targets, renewIntervalMs, leaseDurationSeconds, holdMs: 5_000 }));
}

const liveNames = (m: Membership) => m.judgeLiveMembers().members.map((l) => l.podName).sort();

describe('membership', () => {
  it('creates its Lease (holder = pod UID) and renews it every interval with the resourceVersion', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a] = group(store, clock, ['a']);
    await clock.advance(1);
    const first = store.lease(leaseName('a'));
    expect(first?.spec.holderIdentity).toBe('uid-a');
    await clock.advance(renewIntervalMs);
    const second = store.lease(leaseName('a'));
    expect(second?.spec.renewTime).not.toBe(first?.spec.renewTime);
    expect(Number(second?.metadata.resourceVersion)).toBeGreaterThan(Number(first?.metadata.resourceVersion));
    expect(store.counts.byOp.replace).toBeGreaterThanOrEqual(1);
    expect(a?.membership.ready()).toBe(false); // watches the group for 1.5 renew intervals first
    await clock.advance(renewIntervalMs / 2);
    expect(a?.membership.ready()).toBe(true);
  });

  it('counts a Lease seen only in its first list as a member once it renews (a dead pod\'s Lease never does)', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [, b] = group(store, clock, ['a', 'b']);
    await clock.advance(2_000);
    b!.crash(); // its Lease stays behind
    const [c] = group(store, clock, ['c']);
    await clock.advance(1_000);
    expect(c!.membership.ready()).toBe(false);
    await clock.advance(1.5 * renewIntervalMs);
    expect(c!.membership.ready()).toBe(true);
    expect(liveNames(c!.membership)).toEqual(['a', 'c']);
  });

  it('sees the other members, and drops one that stops renewing after the lease duration on its own clock', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a, b, c] = group(store, clock, ['a', 'b', 'c']);
    await clock.advance(2_000);
    expect(liveNames(a!.membership)).toEqual(['a', 'b', 'c']);
    c!.crash();
    await clock.advance(leaseDurationSeconds * 1000 - 12_000);
    expect(liveNames(a!.membership)).toEqual(['a', 'b', 'c']); // not yet: within the duration
    await clock.advance(12_000 + 1_000);
    expect(liveNames(a!.membership)).toEqual(['a', 'b']);
    expect(liveNames(b!.membership)).toEqual(['a', 'b']);
  });

  it('judges liveness by observed renewTime changes, never by comparing the renewTime with its own wall clock', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a] = group(store, clock, ['a']);
    // A member whose wall clock is three hours behind, renewing on time.
    const skewed = new Membership({
      pod: { name: 'skewed', namespace: 'sim', uid: 'uid-s', nodeName: 'n' },
      group: 'sim',
      api: store.api(),
      clock: { ...clock, now: () => clock.now(), wallNow: () => new Date(clock.wallNow().getTime() - 3 * 3600_000), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h) },
      logger: silentLogger,
      renewIntervalMs,
      leaseDurationSeconds,
    });
    skewed.start();
    await clock.advance(5 * leaseDurationSeconds * 1000);
    expect(liveNames(a!.membership)).toEqual(['a', 'skewed']);
    skewed.stop();
  });

  it('treats a restarted pod (same name, new UID) as a new incarnation that takes the Lease over', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a, b] = group(store, clock, ['a', 'b']);
    await clock.advance(16_000);
    const before = a!.sharding.currentView().hash;
    b!.crash();
    startSimulatedMember({ name: 'b', uid: 'uid-b-2', nodeName: 'node-1', store, clock, targets: () => [], renewIntervalMs, leaseDurationSeconds });
    await clock.advance(2_000);
    expect(store.lease(leaseName('b'))?.spec.holderIdentity).toBe('uid-b-2');
    expect(a!.membership.judgeLiveMembers().members.find((m) => m.podName === 'b')?.podUid).toBe('uid-b-2');
    expect(a!.sharding.currentView().hash).not.toBe(before);
  });

  it('on 409 re-reads and retries at once; 429, 500 and timeouts are retried with backoff; no member is dropped', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a, b] = group(store, clock, ['a', 'b']);
    await clock.advance(2_000);
    store.failNext('replace', 409, 1);
    await clock.advance(renewIntervalMs);
    expect(a!.membership.stats.conflicts + b!.membership.stats.conflicts).toBe(1);
    expect(a!.membership.stats.renewFailures + b!.membership.stats.renewFailures).toBe(0);
    for (const code of [429, 500, 'timeout'] as const) {
      store.failNext('replace', code, 3);
      await clock.advance(renewIntervalMs);
    }
    expect(a!.membership.stats.renewFailures + b!.membership.stats.renewFailures).toBe(9);
    await clock.advance(leaseDurationSeconds * 1000);
    expect(liveNames(a!.membership)).toEqual(['a', 'b']);
    expect(liveNames(b!.membership)).toEqual(['a', 'b']);
  });

  it('keeps every member through an API outage of two lease durations, and converges after', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a, , c] = group(store, clock, ['a', 'b', 'c']);
    await clock.advance(2_000);
    store.setDown(true);
    await clock.advance(2 * leaseDurationSeconds * 1000);
    expect(liveNames(a!.membership)).toEqual(['a', 'b', 'c']);
    expect(a!.membership.apiHealthy()).toBe(false);
    c!.crash(); // dies during the outage: noticed one lease duration after the API is back
    store.setDown(false);
    await clock.advance(renewIntervalMs);
    expect(a!.membership.apiHealthy()).toBe(true);
    expect(liveNames(a!.membership)).toEqual(['a', 'b', 'c']);
    await clock.advance(leaseDurationSeconds * 1000);
    expect(liveNames(a!.membership)).toEqual(['a', 'b']);
  });

  it('sweeps a stale Lease only when its pod is gone (GET 404), not while the pod exists', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a, b, c] = group(store, clock, ['a', 'b', 'c']);
    await clock.advance(2_000);
    b!.crash(); // pod still exists (e.g. the node is unreachable)
    c!.crash();
    store.pods.delete('c'); // pod deleted, Lease left behind
    await clock.advance(3 * leaseDurationSeconds * 1000);
    expect(store.leaseNames()).toEqual([leaseName('a'), leaseName('b')]);
    expect(a!.membership.stats.sweeps).toBe(1);
  });

  it('leaves gracefully: announces leaving, then deletes its Lease', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const [a, b] = group(store, clock, ['a', 'b']);
    await clock.advance(2_000);
    b!.membership.startLeaving();
    await clock.advance(100);
    expect(parseMemberLease(store.lease(leaseName('b')), 'sim')?.leaving).toBe(true);
    expect(liveNames(a!.membership)).toEqual(['a']);
    await b!.membership.release();
    expect(store.leaseNames()).toEqual([leaseName('a')]);
  });
});
