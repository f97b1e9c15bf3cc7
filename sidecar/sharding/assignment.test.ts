import { describe, expect, it } from 'vitest';
import { assign, coveredNodes, memberCapacities, type AssignableTarget, type Member } from './assignment.js';
import { seededRandom } from './hash.js';

interface Scenario {
  members: Member[];
  targets: AssignableTarget[];
}

/** Random members on random nodes; targets: pods on member nodes, on member-less nodes, node-less. */
function scenario(seed: number, memberCount: number, targetCount: number): Scenario {
  const random = seededRandom(seed);
  const nodes = Array.from({ length: Math.max(1, Math.ceil(memberCount * 0.8)) }, (_, i) => `node-${seed}-${i}`);
  const members = Array.from({ length: memberCount }, (_, i) => ({ name: `collector-${seed}-${i}-${Math.floor(random() * 1e6)}`, nodeName: nodes[Math.floor(random() * nodes.length)] as string }));
  const targets = Array.from({ length: targetCount }, (_, i) => {
    const kind = random();
    const key = `job-${i % 7}|http|10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9090|/metrics`;
    if (kind < 0.3) return { key, nodeName: nodes[Math.floor(random() * nodes.length)] as string };
    if (kind < 0.4) return { key, nodeName: `memberless-node-${Math.floor(random() * 5)}` };
    return { key };
  });
  return { members, targets };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function hashedOnly(count: number, prefix = 't'): AssignableTarget[] {
  return Array.from({ length: count }, (_, i) => ({ key: `${prefix}|http|10.0.${i >> 8}.${i & 255}:9090|/metrics` }));
}

function members(count: number, prefix = 'collector'): Member[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${i}`, nodeName: `node-${i}` }));
}

function movedShare(before: ReturnType<typeof assign>, after: ReturnType<typeof assign>): number {
  let moved = 0;
  for (const { key, owner } of before.entries()) if (after.ownerOf(key) !== owner) moved++;
  return moved / before.size;
}

describe('assignment', () => {
  it('gives every target exactly one owner, and that owner is a live member', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { members, targets } = scenario(seed, 1 + (seed % 13), 500 + seed * 37);
      const result = assign(members, targets);
      const names = new Set(members.map((m) => m.name));
      expect(result.size).toBe(new Set(targets.map((t) => t.key)).size);
      for (const target of targets) expect(names.has(result.ownerOf(target.key) ?? '')).toBe(true);
    }
  });

  it('sends a pod target to the member on its node (HRW among several members on that node)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { members, targets } = scenario(seed, 2 + (seed % 9), 800);
      const result = assign(members, targets);
      const nodeOf = new Map(members.map((m) => [m.name, m.nodeName]));
      const memberNodes = new Set(members.map((m) => m.nodeName));
      for (const target of targets) {
        const owner = result.ownerOf(target.key) ?? '';
        if (target.nodeName && memberNodes.has(target.nodeName)) {
          expect(nodeOf.get(owner)).toBe(target.nodeName);
          expect(result.reasonOf(target.key)).toBe('node-local');
        } else {
          expect(result.reasonOf(target.key)).toBe('hashed');
        }
      }
    }
    // Two members on one node split that node's pods between them.
    const two = assign([{ name: 'a', nodeName: 'n1' }, { name: 'b', nodeName: 'n1' }, { name: 'c', nodeName: 'n2' }], Array.from({ length: 400 }, (_, i) => ({ key: `k${i}`, nodeName: 'n1' })));
    const loads = two.loads();
    expect(loads.get('a')?.nodeLocal).toBeGreaterThan(120);
    expect(loads.get('b')?.nodeLocal).toBeGreaterThan(120);
    expect(loads.get('c')?.nodeLocal).toBe(0);
  });

  it('gives the same answer for shuffled members and targets (every sidecar computes it alone)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const random = seededRandom(seed * 7919);
      const { members, targets } = scenario(seed, 3 + seed, 1000);
      const reference = assign(members, targets);
      const shuffled = assign(shuffle(members, random), shuffle(targets, random));
      for (const { key, owner, reason } of reference.entries()) {
        expect(shuffled.ownerOf(key)).toBe(owner);
        expect(shuffled.reasonOf(key)).toBe(reason);
      }
    }
  });

  it('keeps max/mean of hashed targets at or below 1.10 (bounded loads)', () => {
    for (const [memberCount, targetCount] of [[10, 10_000], [50, 5_000], [100, 20_000], [7, 700]] as const) {
      const result = assign(members(memberCount), hashedOnly(targetCount));
      const hashed = [...result.loads().values()].map((l) => l.hashed);
      const mean = targetCount / memberCount;
      expect(Math.max(...hashed) / mean).toBeLessThanOrEqual(1.1 + 1e-9);
      expect(hashed.reduce((a, b) => a + b, 0)).toBe(targetCount);
    }
  });

  it('moves about the ideal share 1/N on a join and on a leave (averaged over random joins/leaves)', () => {
    const ratios: number[] = [];
    for (let trial = 0; trial < 8; trial++) {
      const n = 20 + trial * 5;
      const base = members(n, `m${trial}`);
      const targets = hashedOnly(20_000, `t${trial}`);
      const before = assign(base, targets);
      const joined = assign([...base, { name: `joiner-${trial}`, nodeName: 'node-new' }], targets);
      ratios.push(movedShare(before, joined) / (1 / (n + 1)));
      const left = assign(base.filter((_, i) => i !== trial), targets);
      ratios.push(movedShare(before, left) / (1 / n));
    }
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    expect(mean).toBeLessThanOrEqual(1.05);
    expect(Math.max(...ratios)).toBeLessThanOrEqual(1.25);
  });

  it('moves no node-local target when a member on another node joins or leaves', () => {
    const base = members(5);
    const targets = Array.from({ length: 500 }, (_, i) => ({ key: `p${i}`, nodeName: `node-${i % 5}` }));
    const before = assign(base, targets);
    const after = assign([...base.slice(1), { name: 'new', nodeName: 'node-9' }], targets);
    for (const { key, owner, reason } of before.entries()) {
      if (owner === 'collector-0') {
        expect(after.reasonOf(key)).toBe('hashed'); // its node lost its member
      } else {
        expect(reason).toBe('node-local');
        expect(after.ownerOf(key)).toBe(owner);
      }
    }
  });

  it('gives no owner when there are no members, and dedupes targets listed twice', () => {
    expect(assign([], hashedOnly(10)).size).toBe(0);
    const result = assign(members(3), [{ key: 'same' }, { key: 'same', nodeName: 'node-2' }, { key: 'same', nodeName: 'node-1' }]);
    expect(result.size).toBe(1);
    expect(result.ownerOf('same')).toBe('collector-1'); // smallest node name wins, whatever the order
  });

  it('caps leave room for every target and, when N changes by one, change by one for about c·mean/N of the members', () => {
    const seeds = new Uint32Array(Array.from({ length: 1000 }, (_, i) => (i * 2654435761) >>> 0));
    const before = memberCapacities(100_000, seeds, 1.1);
    const after = memberCapacities(100_000, seeds.subarray(0, 999), 1.1);
    expect(before.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(100_000);
    let changed = 0;
    for (let i = 0; i < 999; i++) {
      if (before[i] === after[i]) continue;
      changed++;
      expect(Math.abs((before[i] as number) - (after[i] as number))).toBe(1);
    }
    // c·mean moves from 110 to 110.11: about 11% of the members get one more slot, nobody loses one.
    expect(changed / 999).toBeGreaterThan(0.05);
    expect(changed / 999).toBeLessThan(0.17);
  });
});

describe('pod scope node: covering members', () => {
  it('a target on a node without a member goes to the member covering that node, which is the member coveredNodes() says watches it', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { members, targets } = scenario(seed, 6, 400);
      const nodes = [...new Set(targets.map((t) => t.nodeName).filter((n): n is string => n !== undefined))];
      const result = assign(members, targets, { coverNodes: true });
      const memberNodes = new Set(members.map((m) => m.nodeName));
      const coverage = new Map(members.map((m) => [m.name, coveredNodes(m, members, nodes)]));
      for (const target of targets) {
        if (target.nodeName === undefined) {
          expect(result.reasonOf(target.key)).toBe('hashed');
          continue;
        }
        const owner = result.ownerOf(target.key) as string;
        expect(result.reasonOf(target.key)).toBe(memberNodes.has(target.nodeName) ? 'node-local' : 'node-covered');
        // The owner watches the target's node, and nobody else covers a member-less node.
        expect(coverage.get(owner)?.has(target.nodeName)).toBe(true);
        if (!memberNodes.has(target.nodeName)) expect([...coverage.values()].filter((c) => c.has(target.nodeName as string))).toHaveLength(1);
      }
    }
  });

  it('members that each see only their covered nodes\' targets agree on every owner', () => {
    const { members, targets } = scenario(7, 5, 600);
    const nodes = [...new Set(targets.map((t) => t.nodeName).filter((n): n is string => n !== undefined))];
    const full = assign(members, targets, { coverNodes: true });
    for (const member of members) {
      const mine = coveredNodes(member, members, nodes);
      const seen = targets.filter((t) => t.nodeName === undefined || mine.has(t.nodeName));
      const partial = assign(members, seen, { coverNodes: true });
      for (const target of seen) expect(partial.ownerOf(target.key)).toBe(full.ownerOf(target.key));
    }
  });

  it('a leaving member (not in the view) covers only its own node; a member-less node moves whole on a membership change', () => {
    const members: Member[] = ['a', 'b', 'c', 'd'].map((name, i) => ({ name, nodeName: `node-${i}` }));
    const nodes = Array.from({ length: 40 }, (_, i) => `node-${i}`);
    expect([...coveredNodes({ name: 'z', nodeName: 'node-9' }, members, nodes)]).toEqual(['node-9']);
    const before = new Map(members.map((m) => [m.name, coveredNodes(m, members, nodes)]));
    const after = new Map(members.slice(1).map((m) => [m.name, coveredNodes(m, members.slice(1), nodes)]));
    // Rendezvous: only the nodes `a` covered (and its own) move; every other node keeps its coverer.
    for (const [name, nodesBefore] of before) {
      if (name === 'a') continue;
      for (const node of nodesBefore) expect(after.get(name)?.has(node)).toBe(true);
    }
    const covered = (coverage: Map<string, Set<string>>) => [...coverage.values()].flatMap((c) => [...c]).sort();
    expect(covered(before)).toEqual([...nodes].sort());
    expect(covered(after)).toEqual([...nodes].sort());
  });
});
