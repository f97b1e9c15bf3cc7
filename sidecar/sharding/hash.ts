// Fast, non-cryptographic hashing for assignment: a 64-bit string hash kept as two 32-bit lanes
// (so it stays in V8's small-integer fast path) and a 32-bit mixer for rendezvous scores.
// Every sidecar must compute the same numbers: only Math.imul and 32-bit shifts, no locale, no floats.

/** Two independent 32-bit lanes of a 64-bit hash of a string (cyrb53-style lane mixing). */
export function hash64(text: string, seed = 0): { hi: number; lo: number } {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return { hi: h2 >>> 0, lo: h1 >>> 0 };
}

/**
 * Rendezvous score of (target, member): both 64-bit hashes combined and finalised with
 * murmur3's fmix32, so that one target's scores over members behave like independent draws.
 */
export function score(targetHi: number, targetLo: number, seedHi: number, seedLo: number): number {
  let h = targetLo ^ seedLo;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= targetHi ^ seedHi;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Seeded PRNG (mulberry32) for tests, benchmarks and simulations: reproducible random sets. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
