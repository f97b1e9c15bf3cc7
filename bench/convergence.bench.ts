// Convergence on simulated time: N members running the real Membership + Handover + Sharding code
// against the in-memory Lease store (SIMULATED apiserver: same protocol, no network), at the
// production settings (renew 10 s, lease 40 s, hold 45 s, check every 1 s). Measures:
//   - crash: time until every target of a SIGKILLed member is served again (bound: lease
//     duration + one check interval);
//   - join: time until the joiner serves its share (make) and until no target is served twice
//     (break; bound: the joiner's warm-up of 1.5 renew intervals + hold + checks);
//   - graceful leave: time until the leaver handed everything over;
//   - API load at the (simulated) apiserver in steady state: requests/s and watch events/s,
//     against the protocol's formula (N/renew writes; every write delivered to N watchers).
// The baseline is the bound each number should meet; ratios are measured ÷ bound.
// Run with `npm run bench -- convergence`.
import type { AssignableTarget } from '../sidecar/sharding/assignment.js';
import { SimulatedClock } from '../sidecar/sharding/clock.js';
import { SimulatedLeaseStore } from '../test/sharding/simulated-api.js';
import { memoisedAssign, startSimulatedMember, type SimulatedMember } from '../test/sharding/simulation.js';

const renewIntervalMs = 10_000;
const leaseDurationSeconds = 40;
const holdMs = 45_000;
const checkIntervalMs = 1_000;
const stepMs = 1_000; // = the check interval: finer steps cannot see anything new

interface Result {
  members: number;
  targets: number;
  startupMs: number;
  crashPickupMs: number;
  joinServingMs: number;
  joinBalancedMs: number;
  leaveMs: number;
  requestsPerSecond: number;
  watchEventsPerSecond: number;
  wallSeconds: number;
}

function coverage(members: SimulatedMember[], targets: AssignableTarget[]): { missing: number; doubled: number } {
  const count = new Map<string, number>();
  for (const member of members) for (const [key] of member.sharding.handover.entries()) count.set(key, (count.get(key) ?? 0) + 1);
  let missing = 0;
  let doubled = 0;
  for (const { key } of targets) {
    const n = count.get(key) ?? 0;
    if (n === 0) missing++;
    if (n > 1) doubled++;
  }
  return { missing, doubled };
}

async function until(clock: SimulatedClock, condition: () => boolean, limitMs: number): Promise<number> {
  const start = clock.now();
  while (!condition()) {
    if (clock.now() - start > limitMs) return Number.NaN;
    await clock.advance(stepMs);
  }
  return clock.now() - start;
}

async function scenario(memberCount: number, targetCount: number): Promise<Result> {
  const wallStart = performance.now();
  const clock = new SimulatedClock();
  const store = new SimulatedLeaseStore();
  const assignFn = memoisedAssign();
  const targets = Array.from({ length: targetCount }, (_, i) => ({ key: `job|http|10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9090|/metrics` }));
  const start = (name: string) =>
    startSimulatedMember({ name, nodeName: `node-${name}`, store, clock, targets: () => targets, renewIntervalMs, leaseDurationSeconds, holdMs, checkIntervalMs, assignFn });
  const members: SimulatedMember[] = Array.from({ length: memberCount }, (_, i) => start(`collector-${i}`));
  const settled = () => {
    const { missing, doubled } = coverage(members, targets);
    return missing === 0 && doubled === 0;
  };
  const startupMs = await until(clock, settled, 300_000);

  // Crash: a member vanishes; also the steady-state window for API load.
  const victim = members[Math.floor(memberCount / 2)] as SimulatedMember;
  const orphaned = victim.owned();
  victim.crash();
  members.splice(members.indexOf(victim), 1);
  const before = { requests: store.counts.requests, events: store.counts.watchEvents, at: clock.now() };
  const crashPickupMs = await until(clock, () => {
    const served = new Set(members.flatMap((m) => m.owned()));
    return orphaned.every((key) => served.has(key));
  }, 120_000);
  const windowSeconds = (clock.now() - before.at) / 1000;
  const requestsPerSecond = (store.counts.requests - before.requests) / windowSeconds;
  const watchEventsPerSecond = (store.counts.watchEvents - before.events) / windowSeconds;

  // Join.
  const joiner = start('collector-joiner');
  members.push(joiner);
  const joinStart = clock.now();
  const joinServingMs = await until(clock, () => {
    const assignment = joiner.sharding.currentAssignment();
    return !!assignment && joiner.sharding.currentView().members.length === members.length && joiner.owned().length > 0;
  }, 120_000);
  await until(clock, settled, 180_000);
  const joinBalancedMs = clock.now() - joinStart;

  // Graceful leave.
  const leaver = members[0] as SimulatedMember;
  const leaveStart = clock.now();
  let left = false;
  void leaver.sharding.leave(120_000).then(() => (left = true));
  await until(clock, () => left, 180_000);
  const leaveMs = clock.now() - leaveStart;
  for (const member of members) member.crash();
  return { members: memberCount, targets: targetCount, startupMs, crashPickupMs, joinServingMs, joinBalancedMs, leaveMs, requestsPerSecond, watchEventsPerSecond, wallSeconds: (performance.now() - wallStart) / 1000 };
}

const results: Result[] = [];
const sizes = (process.env.CONVERGENCE_SIZES ?? "10:2000,100:10000,1000:20000").split(",").map((p) => p.split(":").map(Number) as [number, number]);
for (const [memberCount, targetCount] of sizes) results.push(await scenario(memberCount, targetCount));

const s = (ms: number) => (Number.isNaN(ms) ? 'not reached' : `${(ms / 1000).toFixed(1)} s`);
const crashBoundMs = leaseDurationSeconds * 1000 + checkIntervalMs;
const joinBoundMs = 1.5 * renewIntervalMs + holdMs + 2 * checkIntervalMs; // warm-up + hold + checks
console.log(`Simulated time; renew ${renewIntervalMs / 1000} s, lease ${leaseDurationSeconds} s, hold ${holdMs / 1000} s, check ${checkIntervalMs / 1000} s.\n`);
console.log('| members | targets | crash → all served | ÷ bound (lease + check) | join → joiner serving | join → no duplicates | ÷ bound (warm-up 1.5 renew + hold + 2 checks) | graceful leave done | startup settled | wall s |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.members} | ${r.targets.toLocaleString('en')} | ${s(r.crashPickupMs)} | ${(r.crashPickupMs / crashBoundMs).toFixed(2)} | ${s(r.joinServingMs)} | ${s(r.joinBalancedMs)} | ${(r.joinBalancedMs / joinBoundMs).toFixed(2)} | ${s(r.leaveMs)} | ${s(r.startupMs)} | ${r.wallSeconds.toFixed(1)} |`);
}
console.log('\nAPI load at the apiserver in steady state (SIMULATED store, counted per protocol message):\n');
console.log('| members | requests/s measured | formula N/renew | ratio | watch events/s measured | formula N²/renew | ratio |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  const requestsFormula = r.members / (renewIntervalMs / 1000);
  const eventsFormula = (r.members * r.members) / (renewIntervalMs / 1000);
  console.log(`| ${r.members} | ${r.requestsPerSecond.toFixed(1)} | ${requestsFormula.toFixed(1)} | ${(r.requestsPerSecond / requestsFormula).toFixed(2)} | ${r.watchEventsPerSecond.toFixed(0)} | ${eventsFormula.toFixed(0)} | ${(r.watchEventsPerSecond / eventsFormula).toFixed(2)} |`);
}
