// A job's gzipped http_sd answer, cached in slices: consecutive target groups form chunks of up
// to `groupsPerChunk`, each chunk keeps its own gzip member, and the answer is the members joined
// by tiny '[', ',' and ']' members (concatenated gzip members inflate to the concatenated text).
// One pod changing re-serializes and re-compresses its chunk only, not 100k targets.
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import type { GroupResult, ServedTarget } from './targets-group.js';

interface Chunk {
  groupKeys: Set<string>;
  /** The chunk's owned targets as a gzip member (no brackets), null when it owns none. */
  member?: Promise<Buffer | null>;
}

const gzipAsync = promisify(gzip);
// Level 1: label sets are repetitive, speed matters more than the last few percent.
const gzipOptions = { level: 1 };
const openMember = gzipSync('[', gzipOptions);
const commaMember = gzipSync(',', gzipOptions);
const closeMember = gzipSync(']', gzipOptions);
// Compressions in flight at once while building: overlaps serialization with the zlib threads
// without holding the whole answer's text (~200 MiB at 100k targets) in memory.
const compressionsInFlight = 4;

export class AnswerChunks {
  // Both in insertion order; a new group always joins the last chunk, so chunk order followed by
  // key order within chunks is exactly the order of the job's groups Map.
  private chunks = new Set<Chunk>();
  private chunkOf = new Map<string, Chunk>();
  private last: Chunk | undefined;

  constructor(private readonly groupsPerChunk = 256) {}

  /** A group was added or its result changed. */
  changed(groupKey: string): void {
    let chunk = this.chunkOf.get(groupKey);
    if (!chunk) {
      if (!this.last || this.last.groupKeys.size >= this.groupsPerChunk || !this.chunks.has(this.last)) {
        this.last = { groupKeys: new Set() };
        this.chunks.add(this.last);
      }
      chunk = this.last;
      chunk.groupKeys.add(groupKey);
      this.chunkOf.set(groupKey, chunk);
    }
    chunk.member = undefined;
  }

  removed(groupKey: string): void {
    const chunk = this.chunkOf.get(groupKey);
    if (!chunk) return;
    this.chunkOf.delete(groupKey);
    chunk.groupKeys.delete(groupKey);
    chunk.member = undefined;
    if (chunk.groupKeys.size === 0) this.chunks.delete(chunk);
  }

  clear(): void {
    this.chunks = new Set();
    this.chunkOf = new Map();
    this.last = undefined;
  }

  /** Ownership moved: every chunk's owned targets may differ. */
  invalidateAll(): void {
    for (const chunk of this.chunks) chunk.member = undefined;
  }

  /**
   * The whole answer gzipped. A chunk's member is built synchronously from the groups as they
   * are at that moment and cached until the chunk changes, so a cached member never outlives
   * the state it was made from.
   */
  async gzip(groups: Map<string, GroupResult>, owns: (target: ServedTarget) => boolean): Promise<Buffer> {
    const members: Array<Promise<Buffer | null>> = [];
    const building: Array<Promise<Buffer | null>> = [];
    for (const chunk of [...this.chunks]) {
      if (!this.chunks.has(chunk)) continue; // emptied while an earlier chunk was compressing
      if (!chunk.member) {
        const text = chunkText(chunk, groups, owns);
        chunk.member = text === '' ? Promise.resolve(null) : gzipAsync(text, gzipOptions);
        building.push(chunk.member);
        if (building.length >= compressionsInFlight) await building.shift();
      }
      members.push(chunk.member);
    }
    const parts: Buffer[] = [openMember];
    for (const member of await Promise.all(members)) {
      if (!member) continue;
      if (parts.length > 1) parts.push(commaMember);
      parts.push(member);
    }
    parts.push(closeMember);
    return Buffer.concat(parts);
  }
}

function chunkText(chunk: Chunk, groups: Map<string, GroupResult>, owns: (target: ServedTarget) => boolean): string {
  const entries: string[] = [];
  for (const key of chunk.groupKeys) {
    for (const target of groups.get(key)?.kept ?? []) if (owns(target)) entries.push(target.json());
  }
  return entries.join(',');
}
