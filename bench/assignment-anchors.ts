// Anchors for bench/assignment.bench.ts, written for the comparison (not used by the product):
//  - consistentHashing: the OpenTelemetry Target Allocator's consistent-hashing strategy as
//    configured in the operator (buraksezer/consistent: PartitionCount 1061, ReplicationFactor 5,
//    Load 1.1). Members get ReplicationFactor points on a ring; each of the 1061 partitions goes
//    to the first member clockwise whose partition count is below ceil((partitions / members) ·
//    load) (integer division first, as the library does); a target goes to its partition's owner
//    (hash(key) mod 1061). The TA hashes with xxhash64; this uses the same 64-bit string hash as
//    our assignment (only the distribution matters here).
//  - hashmod: owner = sorted members[hash(key) mod N] (Prometheus's hashmod sharding).
import { hash64 } from '../sidecar/sharding/hash.js';

export interface Owners {
  ownerOf(key: string): string | undefined;
}

/** 64-bit hash as a BigInt-free comparable number pair: hi * 2^32 + lo (exact up to 2^53 is enough for ordering here). */
function ringPoint(text: string): number {
  const { hi, lo } = hash64(text);
  return hi * 4294967296 + lo;
}

export function consistentHashing(members: string[], keys: string[], partitionCount = 1061, replicationFactor = 5, load = 1.1): Owners {
  const sorted = [...members].sort();
  const ring: Array<{ point: number; member: string }> = [];
  for (const member of sorted) for (let i = 0; i < replicationFactor; i++) ring.push({ point: ringPoint(`${member}${i}`), member });
  ring.sort((a, b) => a.point - b.point);
  const average = Math.ceil(Math.floor(partitionCount / sorted.length) * load);
  const loads = new Map(sorted.map((m) => [m, 0]));
  const partitions: string[] = new Array<string>(partitionCount);
  for (let part = 0; part < partitionCount; part++) {
    const key = ringPoint(`partition-${part}`);
    let index = lowerBound(ring, key);
    for (let tries = 0; tries < ring.length; tries++, index++) {
      const { member } = ring[index % ring.length] as { member: string };
      const current = loads.get(member) ?? 0;
      if (current + 1 <= average) {
        partitions[part] = member;
        loads.set(member, current + 1);
        break;
      }
    }
  }
  const owners = new Map<string, string>();
  for (const key of keys) {
    const { lo } = hash64(key);
    owners.set(key, partitions[lo % partitionCount] ?? '');
  }
  return { ownerOf: (key) => owners.get(key) };
}

export function hashmod(members: string[], keys: string[]): Owners {
  const sorted = [...members].sort();
  const owners = new Map<string, string>();
  for (const key of keys) owners.set(key, sorted[hash64(key).lo % sorted.length] ?? '');
  return { ownerOf: (key) => owners.get(key) };
}

function lowerBound(ring: Array<{ point: number }>, point: number): number {
  let low = 0;
  let high = ring.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((ring[mid] as { point: number }).point < point) low = mid + 1;
    else high = mid;
  }
  return low % ring.length;
}
