// Pod scope `node`: one logical pod store made of one informer per covered node (each with a
// `spec.nodeName=` field selector), so a pod event reaches the member on its node, or the one
// member covering a node without a collector — never the whole group. The node set follows the
// membership view; a node that stops being ours is kept watched for `retainMs` (the longest
// handover hold) so its targets are served until the new owner has them, then dropped with a
// delete event per pod.
import type { Informer, InformerEvent, InformerStats } from './informer.js';

/** What discovery reads of an informer; Informer and NodeSetInformer both provide it. */
export interface InformerStore<T> {
  readonly hasSynced: boolean;
  readonly listErrorCode: number | undefined;
  readonly stats: InformerStats;
  get(key: string): T | undefined;
  values(): IterableIterator<T>;
  entries(): IterableIterator<[string, T]>;
  start(): void;
  stop(): Promise<void>;
}

interface NodeWatch<T> {
  informer: Informer<T>;
  retireTimer?: NodeJS.Timeout;
}

export class NodeSetInformer<T> implements InformerStore<T> {
  private readonly watches = new Map<string, NodeWatch<T>>();
  private started = false;
  private stopped = false;

  constructor(
    /** A started-later informer for the pods on `node`; its events go to `onEvent`. */
    private readonly makeInformer: (node: string) => Informer<T>,
    private readonly onEvent: (event: InformerEvent<T>) => void,
    private readonly retainMs: number,
    initialNodes: Iterable<string>,
  ) {
    this.setNodes(new Set(initialNodes));
  }

  /** The nodes watched now (retiring ones included), for /metrics and debugging. */
  nodes(): string[] {
    return [...this.watches.keys()].sort();
  }

  /** Each node's informer (its own watch, for per-watch metrics). */
  parts(): Array<Informer<T>> {
    return [...this.watches.values()].map((watch) => watch.informer);
  }

  /** Watches `wanted` from now on; nodes no longer wanted retire after retainMs. */
  setNodes(wanted: ReadonlySet<string>): void {
    if (this.stopped) return;
    for (const node of wanted) {
      const watch = this.watches.get(node);
      if (watch) {
        if (watch.retireTimer) clearTimeout(watch.retireTimer);
        delete watch.retireTimer;
        continue;
      }
      const informer = this.makeInformer(node);
      this.watches.set(node, { informer });
      if (this.started) informer.start();
    }
    for (const [node, watch] of this.watches) {
      if (wanted.has(node) || watch.retireTimer) continue;
      watch.retireTimer = setTimeout(() => this.drop(node), this.retainMs);
      watch.retireTimer.unref();
    }
  }

  /** Every wanted (not retiring) node's pods were listed: what the current view gives us is known. */
  prepared(): boolean {
    return [...this.watches.values()].every((watch) => watch.retireTimer !== undefined || watch.informer.hasSynced);
  }

  private drop(node: string): void {
    const watch = this.watches.get(node);
    if (!watch) return;
    // Out of the store first: the engine re-reads it on each delete event.
    this.watches.delete(node);
    for (const [key, object] of watch.informer.entries()) if (this.get(key) === undefined) this.onEvent({ type: 'delete', key, object });
    void watch.informer.stop();
  }

  get hasSynced(): boolean {
    return [...this.watches.values()].every((watch) => watch.informer.hasSynced);
  }

  get listErrorCode(): number | undefined {
    for (const watch of this.watches.values()) if (watch.informer.listErrorCode !== undefined) return watch.informer.listErrorCode;
    return undefined;
  }

  get stats(): InformerStats {
    const total: InformerStats = { watchRestarts: 0, relists: 0, errors: 0, events: 0, watchdogFires: 0, connected: true };
    for (const { informer } of this.watches.values()) {
      const s = informer.stats;
      total.watchRestarts += s.watchRestarts;
      total.relists += s.relists;
      total.errors += s.errors;
      total.events += s.events;
      total.watchdogFires += s.watchdogFires;
      total.connected &&= s.connected;
    }
    return total;
  }

  get(key: string): T | undefined {
    for (const { informer } of this.watches.values()) {
      const object = informer.get(key);
      if (object !== undefined) return object;
    }
    return undefined;
  }

  *entries(): IterableIterator<[string, T]> {
    // A pod's node never changes; a name reused on another node may sit in two stores briefly.
    const seen = new Set<string>();
    for (const { informer } of this.watches.values()) {
      for (const entry of informer.entries()) {
        if (seen.has(entry[0])) continue;
        seen.add(entry[0]);
        yield entry;
      }
    }
  }

  *values(): IterableIterator<T> {
    for (const [, object] of this.entries()) yield object;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const { informer } of this.watches.values()) informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const watches = [...this.watches.values()];
    for (const watch of watches) if (watch.retireTimer) clearTimeout(watch.retireTimer);
    await Promise.all(watches.map((watch) => watch.informer.stop()));
  }
}
