// Time as the sharding code sees it: a monotonic clock for every judgement (liveness, hold times)
// and the wall clock only for the renewTime it writes. Injected so a simulation can drive
// a thousand members on simulated time.

export type TimerHandle = { readonly id: number } | NodeJS.Timeout;

export interface Clock {
  /** Monotonic milliseconds (never compared with another process). */
  now(): number;
  /** Wall clock, only for timestamps written to the API (renewTime, view-since). */
  wallNow(): Date;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A clock for simulations and tests: time moves only when `advance` is called. */
export class SimulatedClock implements Clock {
  private time = 0;
  private seq = 0;
  /** Min-heap on (at, seq); cancelled timers are skipped when they surface. */
  private readonly heap: Array<{ at: number; seq: number; fn: () => void }> = [];
  private readonly cancelled = new Set<number>();

  constructor(private readonly wallStartMs = Date.UTC(2026, 10, 25, 10, 0, 0)) {}

  now(): number {
    return this.time;
  }

  wallNow(): Date {
    return new Date(this.wallStartMs + this.time);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as typeof timer;
      if (p.at < timer.at || (p.at === timer.at && p.seq < timer.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
    return { id: timer.seq };
  }

  clearTimeout(handle: TimerHandle): void {
    if ('id' in handle && typeof handle.id === 'number') this.cancelled.add(handle.id);
  }

  /** Runs every timer due within `ms`, in time order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const next = this.heap[0];
      if (!next || next.at > end) break;
      this.pop();
      if (this.cancelled.delete(next.seq)) continue;
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = end;
    await settle();
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const l = heap[left] as typeof last;
      const r = heap[right];
      const child = r && (r.at < l.at || (r.at === l.at && r.seq < l.seq)) ? right : left;
      const c = heap[child] as typeof last;
      if (last.at < c.at || (last.at === c.at && last.seq < c.seq)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
  }
}

/** Lets pending promise chains run (several macrotask-free turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
