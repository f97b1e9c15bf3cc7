// Who scrapes what: a pure function of (live members, kept targets) that every sidecar computes
// alone and gets the same answer. Rules, in order:
//   1. node-local: a target whose pod runs on node N goes to the member on N (several members on
//      N: rendezvous hashing among them) — no cross-node scraping, what a DaemonSet user expects;
//   2. node-covered (pod scope `node`): a target on a node without a member goes to the member
//      that covers that node, chosen by rendezvous hashing of the node's name over all members
//      (`coveringMember`). That member is the only one watching the node's pods, so a whole node
//      moves at once;
//   3. hashed: every other target (node-less; with pod scope `cluster` also those on a node without
//      a member) goes by rendezvous (HRW) hashing with bounded loads over all members: the
//      best-scoring member whose load is below ceil(loadFactor · hashed / members).
// The hashed pool is balanced on its own (node-local and covered counts do not enter the cap),
// so a sidecar that only sees its own and its covered nodes' pods still agrees with the others
// on every hashed target.
// Input order never matters: members are sorted by name, hashed targets by (hash, key).
import { hash64, score } from './hash.js';
import { defaultLoadFactor } from '../../contract/sharding-settings.js';

export interface Member {
  /** The collector id: the pod's name. */
  name: string;
  nodeName: string;
}

export interface AssignableTarget {
  key: string;
  nodeName?: string;
}

export type OwnerReason = 'node-local' | 'node-covered' | 'hashed';
const reasons: readonly OwnerReason[] = ['hashed', 'node-local', 'node-covered'];

export interface AssignmentOptions {
  /** Bounded-loads factor c: no member gets more than ceil(c · mean) hashed targets. */
  loadFactor?: number;
  /** Pod scope `node`: a target on a node without a member goes to that node's covering member. */
  coverNodes?: boolean;
}

export class Assignment {
  constructor(
    /** Members sorted by name; owner indices point into this list. */
    readonly members: readonly Member[],
    /** target key -> memberIndex * 4 + index of its reason in `reasons` */
    private readonly owners: ReadonlyMap<string, number>,
    /** Cap on hashed targets per member. */
    readonly hashedCap: number,
  ) {}

  get size(): number {
    return this.owners.size;
  }

  ownerOf(key: string): string | undefined {
    const code = this.owners.get(key);
    return code === undefined ? undefined : this.members[code >> 2]?.name;
  }

  reasonOf(key: string): OwnerReason | undefined {
    const code = this.owners.get(key);
    return code === undefined ? undefined : reasons[code & 3];
  }

  *entries(): IterableIterator<{ key: string; owner: string; reason: OwnerReason }> {
    for (const [key, code] of this.owners) {
      yield { key, owner: this.members[code >> 2]?.name ?? '', reason: reasons[code & 3] as OwnerReason };
    }
  }

  /** Keys owned by one member (index built once per assignment, shared by every caller). */
  keysOwnedBy(name: string): readonly string[] {
    if (!this.byOwner) {
      const byOwner = new Map<string, string[]>(this.members.map((m) => [m.name, []]));
      for (const [key, code] of this.owners) byOwner.get(this.members[code >> 2]?.name ?? '')?.push(key);
      this.byOwner = byOwner;
    }
    return this.byOwner.get(name) ?? [];
  }

  private byOwner: Map<string, string[]> | undefined;

  /** Targets per member (every kind), by member name. */
  loads(): Map<string, { nodeLocal: number; nodeCovered: number; hashed: number }> {
    const loads = new Map(this.members.map((m) => [m.name, { nodeLocal: 0, nodeCovered: 0, hashed: 0 }]));
    const field = ['hashed', 'nodeLocal', 'nodeCovered'] as const;
    for (const code of this.owners.values()) {
      const load = loads.get(this.members[code >> 2]?.name ?? '');
      if (load) load[field[code & 3] as (typeof field)[number]]++;
    }
    return loads;
  }
}

interface HashedTarget {
  key: string;
  hi: number;
  lo: number;
}

export function assign(members: readonly Member[], targets: Iterable<AssignableTarget>, options: AssignmentOptions = {}): Assignment {
  const loadFactor = options.loadFactor ?? defaultLoadFactor;
  const sorted = [...new Map(members.map((m) => [m.name, m])).values()].sort((a, b) => compare(a.name, b.name));
  const count = sorted.length;
  const seedHi = new Uint32Array(count);
  const seedLo = new Uint32Array(count);
  const membersByNode = new Map<string, number[]>();
  sorted.forEach((member, index) => {
    const seed = hash64(member.name, 0x9e3779b9);
    seedHi[index] = seed.hi;
    seedLo[index] = seed.lo;
    const onNode = membersByNode.get(member.nodeName);
    if (onNode) onNode.push(index);
    else membersByNode.set(member.nodeName, [index]);
  });

  const nodeByKey = uniqueTargets(targets);
  const owners = new Map<string, number>();
  if (count === 0) return new Assignment(sorted, owners, 0);

  const hashed: HashedTarget[] = [];
  const coverer = new Map<string, number>();
  for (const [key, nodeName] of nodeByKey) {
    const local = nodeName === undefined ? undefined : membersByNode.get(nodeName);
    if (!local && nodeName !== undefined && options.coverNodes) {
      let index = coverer.get(nodeName);
      if (index === undefined) coverer.set(nodeName, (index = bestScoring(hash64(nodeName), seedHi, seedLo)));
      owners.set(key, index * 4 + 2);
      continue;
    }
    const { hi, lo } = hash64(key);
    if (!local) {
      hashed.push({ key, hi, lo });
      continue;
    }
    let best = local[0] as number;
    if (local.length > 1) {
      let bestScore = -1;
      for (const index of local) {
        const s = score(hi, lo, seedHi[index] as number, seedLo[index] as number);
        if (s > bestScore) {
          bestScore = s;
          best = index;
        }
      }
    }
    owners.set(key, best * 4 + 1);
  }

  const capacities = memberCapacities(hashed.length, seedLo, loadFactor);
  const ownerByTarget = placeWithBoundedLoads(hashed, seedHi, seedLo, capacities);
  hashed.forEach((target, i) => owners.set(target.key, (ownerByTarget[i] as number) * 4));
  return new Assignment(sorted, owners, Math.max(0, ...capacities));
}

/** The member (index into seeds) with the highest rendezvous score for `id`. */
function bestScoring(id: { hi: number; lo: number }, seedHi: Uint32Array, seedLo: Uint32Array): number {
  let best = 0;
  let bestScore = -1;
  for (let index = 0; index < seedHi.length; index++) {
    const s = score(id.hi, id.lo, seedHi[index] as number, seedLo[index] as number);
    if (s > bestScore) {
      bestScore = s;
      best = index;
    }
  }
  return best;
}

/**
 * Pod scope `node`: the nodes whose pods `self` watches for the live `members` — its own node,
 * and each node of `nodeNames` without a member whose rendezvous winner (the node's name hashed
 * over every member, as rule 2 of `assign`) is `self`.
 */
export function coveredNodes(self: Member, members: readonly Member[], nodeNames: Iterable<string>): Set<string> {
  const covered = new Set<string>([self.nodeName]);
  // Not in the view (leaving, or not yet judged live): the others cover every other node.
  if (!members.some((m) => m.name === self.name)) return covered;
  for (const [node, coverer] of nodeCoverers(members, nodeNames)) if (coverer === self.name) covered.add(node);
  return covered;
}

/** Pod scope `node`: each of `nodeNames` without a member → the name of the member that covers it. */
export function nodeCoverers(members: readonly Member[], nodeNames: Iterable<string>): Map<string, string> {
  const sorted = [...new Map(members.map((m) => [m.name, m])).values()].sort((a, b) => compare(a.name, b.name));
  const coverers = new Map<string, string>();
  if (sorted.length === 0) return coverers;
  const seedHi = new Uint32Array(sorted.length);
  const seedLo = new Uint32Array(sorted.length);
  sorted.forEach((member, index) => {
    const seed = hash64(member.name, 0x9e3779b9);
    seedHi[index] = seed.hi;
    seedLo[index] = seed.lo;
  });
  const memberNodes = new Set(sorted.map((m) => m.nodeName));
  for (const node of nodeNames) {
    if (!memberNodes.has(node)) coverers.set(node, sorted[bestScoring(hash64(node), seedHi, seedLo)]!.name);
  }
  return coverers;
}

/** One entry per key; when duplicates disagree on the node, the smallest node name wins. */
function uniqueTargets(targets: Iterable<AssignableTarget>): Map<string, string | undefined> {
  const nodeByKey = new Map<string, string | undefined>();
  for (const { key, nodeName } of targets) {
    if (!nodeByKey.has(key)) {
      nodeByKey.set(key, nodeName || undefined);
      continue;
    }
    const existing = nodeByKey.get(key);
    if (nodeName && (existing === undefined || nodeName < existing)) nodeByKey.set(key, nodeName);
  }
  return nodeByKey;
}

/**
 * Per-member caps summing to about c · targets: floor(c · mean), plus one for the members whose
 * seed falls below the fractional part. A join or leave nudges c · mean a little, so only the few
 * members whose seed sits in that sliver change cap (a uniform integer cap would drop by one for
 * everybody at once and shake every full member).
 */
export function memberCapacities(targets: number, seedLo: Uint32Array, loadFactor: number): Int32Array {
  const count = seedLo.length;
  const capacities = new Int32Array(count);
  if (count === 0) return capacities;
  const mean = targets / count;
  const ideal = Math.max(1, loadFactor) * mean;
  const whole = Math.floor(ideal);
  const fraction = ideal - whole;
  for (let i = 0; i < count; i++) {
    const extra = (seedLo[i] as number) / 4294967296 < fraction ? 1 : 0;
    capacities[i] = Math.max(1, Math.ceil(mean), whole + extra);
  }
  return capacities;
}

/**
 * Rendezvous hashing with bounded loads as a stable matching (deferred acceptance): each target
 * asks members in its rendezvous order; a full member keeps the targets it scores highest and
 * turns the weakest away, which then asks its next member. The result does not depend on the
 * order targets are processed in, and a join or leave only moves targets along short rejection
 * chains, so the moved share stays near the ideal 1/N even when caps bind.
 */
function placeWithBoundedLoads(targets: HashedTarget[], seedHi: Uint32Array, seedLo: Uint32Array, capacities: Int32Array): Int32Array {
  const count = seedHi.length;
  const owner = new Int32Array(targets.length).fill(-1);
  const ownerScore = new Float64Array(targets.length).fill(Infinity);
  const heaps: Array<number[]> = Array.from({ length: count }, () => []);
  // Member preference: higher score first; ties broken by the target's hash, then key.
  const weaker = (a: number, b: number): boolean => {
    const sa = ownerScore[a] as number;
    const sb = ownerScore[b] as number;
    if (sa !== sb) return sa < sb;
    const ta = targets[a] as HashedTarget;
    const tb = targets[b] as HashedTarget;
    return ta.hi !== tb.hi ? ta.hi < tb.hi : ta.lo !== tb.lo ? ta.lo < tb.lo : ta.key < tb.key;
  };
  const pending: number[] = [];
  for (let i = targets.length - 1; i >= 0; i--) pending.push(i);
  while (pending.length > 0) {
    const t = pending.pop() as number;
    const { hi, lo } = targets[t] as HashedTarget;
    // Next member in this target's rendezvous order after the last one it asked.
    const lastScore = ownerScore[t] as number;
    const lastIndex = owner[t] as number;
    let best = -1;
    let bestScore = -1;
    for (let index = 0; index < count; index++) {
      let h = lo ^ (seedLo[index] as number);
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h ^= hi ^ (seedHi[index] as number);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      h ^= h >>> 16;
      const s = h >>> 0; // inlined score(): this loop is the hot path (targets × members)
      if (s > lastScore || (s === lastScore && index <= lastIndex)) continue; // already asked
      if (s > bestScore) {
        bestScore = s;
        best = index;
      }
    }
    owner[t] = best;
    ownerScore[t] = bestScore;
    const heap = heaps[best] as number[];
    if (heap.length < (capacities[best] as number)) {
      heapPush(heap, t, weaker);
    } else if (weaker(heap[0] as number, t)) {
      pending.push(heapReplaceTop(heap, t, weaker));
    } else {
      pending.push(t);
    }
  }
  return owner;
}

function heapPush(heap: number[], item: number, weaker: (a: number, b: number) => boolean): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!weaker(item, heap[parent] as number)) break;
    heap[i] = heap[parent] as number;
    i = parent;
  }
  heap[i] = item;
}

/** Replaces the weakest item with `item`; returns the one it replaced. */
function heapReplaceTop(heap: number[], item: number, weaker: (a: number, b: number) => boolean): number {
  const top = heap[0] as number;
  let i = 0;
  const size = heap.length;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= size) break;
    const right = left + 1;
    const child = right < size && weaker(heap[right] as number, heap[left] as number) ? right : left;
    if (!weaker(heap[child] as number, item)) break;
    heap[i] = heap[child] as number;
    i = child;
  }
  heap[i] = item;
  return top;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
