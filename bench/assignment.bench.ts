// Assignment: time for 10k/100k targets × 10/100/1,000 members, share of targets moved on a join
// and on a leave ÷ the ideal 1/N, and max/mean load — for our rendezvous hashing with bounded
// loads, side by side with two anchors measured in the same run: the OpenTelemetry Target
// Allocator's consistent hashing (1061 partitions, replication 5, load 1.1) and hashmod (the
// time baseline: the least any sharding does per target). All targets node-less (the hashed
// path: node-local targets cost one map lookup). Run with `npm run bench -- assignment`.
import { assign } from '../sidecar/sharding/assignment.js';
import { consistentHashing, hashmod, type Owners } from './assignment-anchors.js';

type Strategy = 'rendezvous+bounded (ours)' | 'consistent hashing (TA)' | 'hashmod (baseline)';

interface Row {
  targets: number;
  members: number;
  strategy: Strategy;
  ms: number;
  joinRatio: number;
  leaveRatio: number;
  maxOverMean: number;
}

function run(strategy: Strategy, members: string[], keys: string[]): Owners {
  if (strategy === 'hashmod (baseline)') return hashmod(members, keys);
  if (strategy === 'consistent hashing (TA)') return consistentHashing(members, keys);
  const result = assign(members.map((name) => ({ name, nodeName: `node-of-${name}` })), keys.map((key) => ({ key })));
  return { ownerOf: (key) => result.ownerOf(key) };
}

function timeMs(fn: () => unknown, repeats: number): number {
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    fn();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}

function moved(before: Owners, after: Owners, keys: string[]): number {
  let count = 0;
  for (const key of keys) if (before.ownerOf(key) !== after.ownerOf(key)) count++;
  return count / keys.length;
}

function maxOverMean(owners: Owners, members: string[], keys: string[]): number {
  const loads = new Map(members.map((m) => [m, 0]));
  for (const key of keys) {
    const owner = owners.ownerOf(key) ?? '';
    loads.set(owner, (loads.get(owner) ?? 0) + 1);
  }
  return Math.max(...loads.values()) / (keys.length / members.length);
}

const rows: Row[] = [];
const started = performance.now();
for (const targetCount of [10_000, 100_000]) {
  const keys = Array.from({ length: targetCount }, (_, i) => `podMonitor/ns-${i % 50}/envoy/0|http|10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:15090|/stats/prometheus`);
  for (const memberCount of [10, 100, 1000]) {
    const members = Array.from({ length: memberCount }, (_, i) => `edot-daemon-${(i * 7919).toString(36)}-${i}`);
    const trials = memberCount === 1000 && targetCount === 100_000 ? 2 : 3;
    for (const strategy of ['hashmod (baseline)', 'consistent hashing (TA)', 'rendezvous+bounded (ours)'] as const) {
      const repeats = strategy === 'rendezvous+bounded (ours)' && targetCount * memberCount >= 1e7 ? 2 : 5;
      run(strategy, members, keys); // warm-up
      const ms = timeMs(() => run(strategy, members, keys), repeats);
      const base = run(strategy, members, keys);
      let join = 0;
      let leave = 0;
      for (let t = 0; t < trials; t++) {
        const joined = run(strategy, [...members, `edot-daemon-joiner-${t}`], keys);
        join += moved(base, joined, keys) / (1 / (memberCount + 1));
        const left = run(strategy, members.filter((_, i) => i !== (t * 37) % memberCount), keys);
        leave += moved(base, left, keys) / (1 / memberCount);
      }
      rows.push({ targets: targetCount, members: memberCount, strategy, ms, joinRatio: join / trials, leaveRatio: leave / trials, maxOverMean: maxOverMean(base, members, keys) });
    }
  }
}

console.log('| targets | members | strategy | assign ms | × hashmod time | moved on join ÷ ideal 1/(N+1) | moved on leave ÷ ideal 1/N | max/mean load |');
console.log('|---:|---:|---|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const baseline = rows.find((r) => r.targets === row.targets && r.members === row.members && r.strategy === 'hashmod (baseline)') as Row;
  console.log(
    `| ${row.targets.toLocaleString('en')} | ${row.members} | ${row.strategy} | ${row.ms.toFixed(1)} | ${(row.ms / baseline.ms).toFixed(1)}× | ${row.joinRatio.toFixed(2)} | ${row.leaveRatio.toFixed(2)} | ${row.maxOverMean.toFixed(3)} |`,
  );
}
console.log(`\nGoals: moved ÷ ideal ≤ 1.05, max/mean ≤ 1.10. Ideal = 1/(N+1) of the targets move to a joiner, 1/N leave with a leaver.`);
console.log(`Total bench time ${((performance.now() - started) / 1000).toFixed(1)} s.`);
