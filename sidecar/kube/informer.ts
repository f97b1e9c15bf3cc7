// A list+watch cache that survives the API server: it lists, then watches from the list's
// resourceVersion; a watch that ends or fails is restarted with exponential backoff and jitter,
// a 410 Gone (history compacted) triggers a fresh list that is diffed against the cache, and a
// watchdog restarts a watch that stayed silent longer than a bound (half-open connections).
// The cache is never cleared on errors: while the API server is away, the last good state stays.
import type { Logger } from '../../common/log.js';

export interface KubeObjectMeta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  continueToken?: string;
}

export interface WatchLine {
  type: string;
  object: unknown;
}

/** Where an informer gets its data: the API server in production, a test double in unit tests. */
export interface ListWatchSource {
  readonly description: string;
  list(continueToken: string | undefined): Promise<ListPage>;
  watch(resourceVersion: string, onLine: (line: WatchLine) => void, signal: AbortSignal): Promise<void>;
}

export type InformerEvent<T> =
  | { type: 'upsert'; key: string; object: T; previous: T | undefined }
  | { type: 'delete'; key: string; object: T };

export interface InformerOptions<T> {
  transform: (raw: unknown) => T;
  onEvent: (event: InformerEvent<T>) => void;
  onSynced?: () => void;
  /** A list failed with another status than the previous failure (see listErrorCode). */
  onListError?: (error: unknown) => void;
  logger: Logger;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A watch that delivers nothing (not even a bookmark) for this long is restarted. */
  watchdogMs?: number;
  random?: () => number;
}

export interface InformerStats {
  watchRestarts: number;
  relists: number;
  errors: number;
  events: number;
  watchdogFires: number;
  connected: boolean;
}

export class GoneError extends Error {}

interface Stored<T> {
  object: T;
  resourceVersion: string;
}

export class Informer<T> {
  readonly stats: InformerStats = { watchRestarts: 0, relists: 0, errors: 0, events: 0, watchdogFires: 0, connected: false };
  /**
   * The HTTP status of the last failed list, until a list succeeds (e.g. 403: this informer
   * may never sync; callers decide whether to wait for it).
   */
  listErrorCode: number | undefined;
  private readonly store = new Map<string, Stored<T>>();
  private resourceVersion = '';
  private stopped = false;
  private synced = false;
  private abort: AbortController | undefined;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    readonly source: ListWatchSource,
    private readonly options: InformerOptions<T>,
  ) {}

  get hasSynced(): boolean {
    return this.synced;
  }

  get size(): number {
    return this.store.size;
  }

  get(key: string): T | undefined {
    return this.store.get(key)?.object;
  }

  *values(): IterableIterator<T> {
    for (const stored of this.store.values()) yield stored.object;
  }

  *entries(): IterableIterator<[string, T]> {
    for (const [key, stored] of this.store) yield [key, stored.object];
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    const initialBackoffMs = this.options.initialBackoffMs ?? 500;
    const maxBackoffMs = this.options.maxBackoffMs ?? 30_000;
    let failures = 0;
    let needList = true;
    /** 410s in a row with no watch event between: a server that keeps expiring us must not get a LIST per round trip. */
    let goneStreak = 0;
    while (!this.stopped) {
      try {
        if (needList) {
          try {
            await this.relist();
          } catch (err) {
            const code = (err as { code?: unknown }).code === undefined ? undefined : Number((err as { code?: unknown }).code);
            const changed = code !== this.listErrorCode;
            this.listErrorCode = code;
            if (changed) this.options.onListError?.(err);
            throw err;
          }
          this.listErrorCode = undefined;
          needList = false;
        }
        const eventsBefore = this.stats.events;
        try {
          await this.watchOnce();
        } finally {
          if (this.stats.events !== eventsBefore) goneStreak = 0;
        }
        failures = 0; // a watch that ended normally (server timeout) restarts at once
        goneStreak = 0;
        this.stats.watchRestarts++;
      } catch (err) {
        if (this.stopped) break;
        this.stats.connected = false;
        if (err instanceof GoneError) {
          needList = true;
          goneStreak++;
          if (goneStreak === 1) {
            logger.info('watch history expired (410), listing again', { source: this.source.description });
            continue; // the normal case: relist at once
          }
          // Expired again right after a fresh list: back off like any failure.
          const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(goneStreak - 2, 20));
          const delayMs = ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2);
          logger.warn('watch history expired (410) again right after a list; backing off', { source: this.source.description, times: goneStreak, retryInMs: Math.round(delayMs) });
          await this.sleep(delayMs);
          continue;
        }
        failures++;
        this.stats.errors++;
        this.stats.watchRestarts++;
        const ceiling = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(failures - 1, 20));
        const delayMs = ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2); // equal jitter
        logger.warn('list/watch failed, retrying', { source: this.source.description, error: errorMessage(err), failures, retryInMs: Math.round(delayMs) });
        await this.sleep(delayMs);
      }
    }
    this.stats.connected = false;
  }

  /** Lists everything (paged) and turns the difference with the cache into events. */
  private async relist(): Promise<void> {
    const fresh = new Map<string, Stored<T>>();
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.source.list(continueToken);
      for (const raw of page.items) {
        const key = objectKey(raw);
        fresh.set(key, { object: this.options.transform(raw), resourceVersion: resourceVersionOf(raw) });
      }
      continueToken = page.continueToken;
      resourceVersion = page.resourceVersion;
    } while (continueToken && !this.stopped);
    this.stats.relists++;
    for (const [key, stored] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit({ type: 'delete', key, object: stored.object });
      }
    }
    for (const [key, stored] of fresh) {
      const previous = this.store.get(key);
      if (previous && previous.resourceVersion === stored.resourceVersion) continue;
      this.store.set(key, stored);
      this.emit({ type: 'upsert', key, object: stored.object, previous: previous?.object });
    }
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      this.options.onSynced?.();
    }
  }

  private async watchOnce(): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const watchdogMs = this.options.watchdogMs ?? 90_000;
    let lastLineAt = Date.now();
    let watchdogFired = false;
    const watchdog = setInterval(() => {
      if (Date.now() - lastLineAt > watchdogMs) {
        watchdogFired = true;
        this.stats.watchdogFires++;
        this.options.logger.warn('watch silent for too long, restarting it', { source: this.source.description, silentMs: Date.now() - lastLineAt });
        abort.abort();
      }
    }, Math.max(10, Math.min(watchdogMs / 4, 5_000)));
    watchdog.unref();
    let gone = false;
    try {
      const watching = this.source.watch(this.resourceVersion, (line) => {
        lastLineAt = Date.now();
        this.stats.connected = true;
        if (this.handleLine(line) === 'gone') {
          gone = true;
          abort.abort();
        }
      }, abort.signal);
      await watching;
    } catch (err) {
      if (!(abort.signal.aborted && (gone || watchdogFired || this.stopped))) throw err;
    } finally {
      clearInterval(watchdog);
      if (this.abort === abort) this.abort = undefined;
    }
    if (gone) throw new GoneError('resourceVersion too old');
  }

  private handleLine(line: WatchLine): 'gone' | undefined {
    const { type, object } = line;
    if (type === 'ERROR') {
      const status = object as { code?: number; message?: string };
      if (status.code === 410) return 'gone';
      throw new Error(`watch error: ${status.code ?? '?'} ${status.message ?? ''}`);
    }
    const rv = resourceVersionOf(object);
    if (rv) this.resourceVersion = rv;
    if (type === 'BOOKMARK') return undefined;
    const key = objectKey(object);
    if (type === 'DELETED') {
      const stored = this.store.get(key);
      this.store.delete(key);
      if (stored) this.emit({ type: 'delete', key, object: stored.object });
    } else if (type === 'ADDED' || type === 'MODIFIED') {
      const previous = this.store.get(key);
      const stored = { object: this.options.transform(object), resourceVersion: rv };
      this.store.set(key, stored);
      this.emit({ type: 'upsert', key, object: stored.object, previous: previous?.object });
    }
    return undefined;
  }

  private emit(event: InformerEvent<T>): void {
    this.stats.events++;
    try {
      this.options.onEvent(event);
    } catch (err) {
      this.options.logger.error('handling a discovery event failed', { source: this.source.description, key: event.key, error: errorMessage(err) });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export function objectKey(raw: unknown): string {
  const meta = (raw as KubeObjectMeta).metadata;
  return meta?.namespace ? `${meta.namespace}/${meta.name ?? ''}` : (meta?.name ?? '');
}

function resourceVersionOf(raw: unknown): string {
  return (raw as KubeObjectMeta).metadata?.resourceVersion ?? '';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
