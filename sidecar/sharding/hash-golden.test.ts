// Pinned outputs of the hash and the assignment. Every sidecar of a group must compute the same
// owners from the same view; a change here (a new hash, seed or tie-break) would make old and new
// sidecars disagree during a rolling upgrade: targets scraped twice or by nobody until the
// rollout ends. Change these values only together with a note in the release on how to roll out.
import { describe, expect, it } from 'vitest';
import { assign } from './assignment.js';
import { hash64, score } from './hash.js';

describe('hash and assignment are stable across versions', () => {
  it('hash64 gives the pinned values (unseeded and with the member seed)', () => {
    const cases: Array<[string, [number, number], [number, number]]> = [
      ['', [1217125560, 451841411], [2790310697, 1480260667]],
      ['a', [1344023463, 2194241793], [390345268, 452852952]],
      ['podMonitor/istio-system/envoy-stats-monitor/0|__address__=10.1.0.5:15090', [707386127, 3768996567], [459750513, 2712860422]],
      ['edot-collector-node-a', [3086937348, 221329861], [2948956900, 279730934]],
    ];
    for (const [text, plain, seeded] of cases) {
      expect(hash64(text), text).toEqual({ hi: plain[0], lo: plain[1] });
      expect(hash64(text, 0x9e3779b9), text).toEqual({ hi: seeded[0], lo: seeded[1] });
    }
    expect(score(1, 2, 3, 4)).toBe(3615843068);
    expect(score(0xdeadbeef, 0x12345678, 0x9e3779b9, 0x7f4a7c15)).toBe(3518772592);
  });

  it('assigns the pinned owners: node-local where the node has a member, the rest by rendezvous hashing with bounded loads', () => {
    const members = ['collector-a', 'collector-b', 'collector-c'].map((name, i) => ({ name, nodeName: `node-${'abc'[i]}` }));
    const targets = Array.from({ length: 12 }, (_, i) => ({ key: `job|__address__=10.0.0.${i}:9100`, ...(i < 3 ? { nodeName: `node-${'abx'[i]}` } : {}) }));
    const owners = Object.fromEntries([...assign(members, targets).entries()].map((e) => [e.key.replace('job|__address__=', ''), `${e.owner} ${e.reason}`]));
    expect(owners).toEqual({
      '10.0.0.0:9100': 'collector-a node-local',
      '10.0.0.1:9100': 'collector-b node-local',
      '10.0.0.2:9100': 'collector-b hashed', // node-x has no member
      '10.0.0.3:9100': 'collector-a hashed',
      '10.0.0.4:9100': 'collector-c hashed',
      '10.0.0.5:9100': 'collector-b hashed',
      '10.0.0.6:9100': 'collector-c hashed',
      '10.0.0.7:9100': 'collector-b hashed',
      '10.0.0.8:9100': 'collector-b hashed',
      '10.0.0.9:9100': 'collector-c hashed',
      '10.0.0.10:9100': 'collector-c hashed',
      '10.0.0.11:9100': 'collector-a hashed',
    });
  });
});
