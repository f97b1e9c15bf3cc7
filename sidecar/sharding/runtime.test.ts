import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from './clock.js';
import { createShardingMetrics } from './metrics.js';
import { assignmentDebug, shardingSettingsFromEnv, ShardingSettingsError } from './runtime.js';
import { coveredNodes } from './assignment.js';
import { SimulatedLeaseStore } from '../../test/sharding/simulated-api.js';
import { startSimulatedMember } from '../../test/sharding/simulation.js';

describe('sharding settings', () => {
  it('defaults to 10 s renew, 40 s lease, 45 s hold, 25 s leave timeout, load factor 1.10', () => {
    expect(shardingSettingsFromEnv({})).toEqual({ renewIntervalMs: 10_000, leaseDurationSeconds: 40, holdMs: 45_000, leaveTimeoutMs: 25_000, loadFactor: 1.1 });
  });

  it('reads short test settings and rejects values that would break liveness, naming the variable', () => {
    expect(shardingSettingsFromEnv({ EDOT_TA_LEASE_RENEW_SECONDS: '1', EDOT_TA_LEASE_DURATION_SECONDS: '4' })).toMatchObject({ renewIntervalMs: 1000, leaseDurationSeconds: 4 });
    expect(() => shardingSettingsFromEnv({ EDOT_TA_LEASE_RENEW_SECONDS: 'soon' })).toThrow(/EDOT_TA_LEASE_RENEW_SECONDS/);
    expect(() => shardingSettingsFromEnv({ EDOT_TA_LEASE_RENEW_SECONDS: '30' })).toThrow(ShardingSettingsError);
    expect(() => shardingSettingsFromEnv({ EDOT_TA_LOAD_FACTOR: '0.9' })).toThrow(/LOAD_FACTOR/);
  });
});

describe('/debug/assignment and metrics', () => {
  it('lists members, the view, and every target with its owner and why', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const targets = [{ key: 'a-pod', nodeName: 'node-0' }, { key: 'b-pod', nodeName: 'node-1' }, { key: 'orphan-pod', nodeName: 'node-x' }, { key: 'endpoint' }];
    const a = startSimulatedMember({ name: 'a', nodeName: 'node-0', store, clock, targets: () => targets });
    startSimulatedMember({ name: 'b', nodeName: 'node-1', store, clock, targets: () => targets });
    await clock.advance(16_000);
    const debug = assignmentDebug(a.sharding, a.membership, targets) as {
      view: { members: Array<{ name: string }>; epoch: number };
      leases: Array<{ pod: string; live: boolean }>;
      targets: Array<{ key: string; owner: string; why: string; servedHere: string | false }>;
    };
    expect(debug.view.members.map((m) => m.name)).toEqual(['a', 'b']);
    expect(debug.leases.map((l) => [l.pod, l.live])).toEqual([['a', true], ['b', true]]);
    const byKey = Object.fromEntries(debug.targets.map((t) => [t.key, t]));
    expect(byKey['a-pod']).toMatchObject({ owner: 'a', why: 'node-local', servedHere: 'node-local' });
    expect(byKey['b-pod']).toMatchObject({ owner: 'b', why: 'node-local', servedHere: false });
    expect(byKey['orphan-pod']?.why).toBe('hashed');
    expect(byKey.endpoint?.why).toBe('hashed');

    const registry = new Registry();
    const metrics = createShardingMetrics(registry);
    metrics.bind(a.sharding);
    const text = await registry.metrics();
    expect(text).toMatch(/^edot_ta_members 2$/m);
    expect(text).toMatch(/^edot_ta_targets_owned\{reason="node-local"\} 1$/m);
    expect(text).toMatch(/^edot_ta_api_healthy 1$/m);
  });
});

describe('pod scope node: a covered node changes hands make-before-break', () => {
  it('the old coverer serves the node\'s targets until the new one has listed them and announced its view (+ hold)', async () => {
    const store = new SimulatedLeaseStore();
    const clock = new SimulatedClock();
    const a = { name: 'a', nodeName: 'node-a' };
    const b = { name: 'b', nodeName: 'node-b' };
    const c = { name: 'c', nodeName: 'node-c' };
    // A member-less node that c will cover once it joins (and a or b covers before).
    const node = Array.from({ length: 100 }, (_, i) => `node-x${i}`).find((n) => coveredNodes(c, [a, b, c], [n]).has(n)) as string;
    const target = { key: `pod-on-${node}`, nodeName: node };
    const holdMs = 5_000;
    const member = (m: typeof a, targets: () => Array<typeof target>, viewPrepared?: () => boolean) =>
      startSimulatedMember({ ...m, store, clock, targets, holdMs, renewIntervalMs: 1_000, leaseDurationSeconds: 4, sharding: { coverNodes: true, ...(viewPrepared ? { viewPrepared } : {}) } });
    const coverersBefore = [a, b].filter((m) => coveredNodes(m, [a, b], [node]).has(node));
    expect(coverersBefore).toHaveLength(1);
    const before = coverersBefore[0]!;
    const members = [a, b].map((m) => member(m, () => (m === before ? [target] : [])));
    let listed = false;
    let joined: ReturnType<typeof member> | undefined;
    await clock.advance(3_000);
    const servers = () => [...members, ...(joined ? [joined] : [])].filter((s) => s.owned().includes(target.key)).map((s) => s.name);
    expect(servers()).toEqual([before.name]);

    // c joins; it sees the node's pods only once its informer for the node has listed them.
    joined = member(c, () => (listed ? [target] : []), () => listed);
    for (let i = 0; i < 10; i++) {
      await clock.advance(1_000);
      expect(servers()).toEqual([before.name]); // c has not announced: the old coverer holds
    }
    listed = true;
    joined.sharding.targetsChanged();
    await clock.advance(1_500);
    expect(servers().sort()).toEqual([before.name, 'c'].sort()); // overlap, never a gap
    await clock.advance(holdMs + 2_000);
    expect(servers()).toEqual(['c']);
  });
});
