import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { Informer, type InformerEvent, type ListPage, type ListWatchSource, type WatchLine } from './informer.js';

const logger = createLogger({}, () => {});

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}
const obj = (name: string, rv: string): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });

/** A scripted API server: each list answers from `lists`, each watch replays one script. */
class ScriptedSource implements ListWatchSource {
  readonly description = 'scripted';
  listCalls = 0;
  watchCalls: string[] = [];
  constructor(
    private readonly lists: Array<() => ListPage>,
    private readonly watches: Array<(emit: (line: WatchLine) => void, signal: AbortSignal) => Promise<void>>,
  ) {}
  async list(): Promise<ListPage> {
    const next = this.lists[Math.min(this.listCalls++, this.lists.length - 1)];
    if (!next) throw new Error('no list scripted');
    return next();
  }
  async watch(rv: string, onLine: (line: WatchLine) => void, signal: AbortSignal): Promise<void> {
    const script = this.watches[this.watchCalls.length];
    this.watchCalls.push(rv);
    if (!script) return new Promise((resolve) => signal.addEventListener('abort', () => resolve())); // idle until stopped
    return script(onLine, signal);
  }
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error('condition not reached');
}

function start(source: ListWatchSource, options: { watchdogMs?: number } = {}) {
  const events: Array<InformerEvent<Obj>> = [];
  let synced = 0;
  const informer = new Informer<Obj>(source, {
    transform: (raw) => raw as Obj,
    onEvent: (e) => events.push(e),
    onSynced: () => synced++,
    logger,
    initialBackoffMs: 1,
    maxBackoffMs: 4,
    ...options,
  });
  informer.start();
  return { informer, events, synced: () => synced };
}

describe('Informer', () => {
  it('lists, then watches from the list resourceVersion and applies added, modified and deleted objects', async () => {
    const source = new ScriptedSource(
      [() => ({ items: [obj('a', '1')], resourceVersion: '10' })],
      [async (emit) => {
        emit({ type: 'ADDED', object: obj('b', '11') });
        emit({ type: 'MODIFIED', object: obj('a', '12') });
        emit({ type: 'DELETED', object: obj('b', '13') });
      }],
    );
    const { informer, events, synced } = start(source);
    await until(() => events.length === 4);
    expect(source.watchCalls[0]).toBe('10');
    expect(events.map((e) => `${e.type}:${e.key}`)).toEqual(['upsert:ns/a', 'upsert:ns/b', 'upsert:ns/a', 'delete:ns/b']);
    expect(synced()).toBe(1);
    expect([...informer.values()].map((o) => o.metadata.resourceVersion)).toEqual(['12']);
    await until(() => source.watchCalls.length === 2);
    expect(source.watchCalls[1]).toBe('13'); // the restarted watch resumes, no relist
    expect(source.listCalls).toBe(1);
    await informer.stop();
  });

  it('relists on 410 Gone and turns the difference into events, keeping unchanged objects silent', async () => {
    const source = new ScriptedSource(
      [
        () => ({ items: [obj('a', '1'), obj('b', '2')], resourceVersion: '10' }),
        () => ({ items: [obj('a', '1'), obj('c', '30')], resourceVersion: '31' }),
      ],
      [async (emit) => emit({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } })],
    );
    const { informer, events } = start(source);
    await until(() => informer.stats.relists === 2);
    expect(events.slice(2).map((e) => `${e.type}:${e.key}`)).toEqual(['delete:ns/b', 'upsert:ns/c']);
    await until(() => source.watchCalls.length === 2);
    expect(source.watchCalls[1]).toBe('31');
    await informer.stop();
  });

  it('keeps the last good objects while the API server fails, retries with backoff, then recovers', async () => {
    let down = true;
    const source = new ScriptedSource(
      [
        () => ({ items: [obj('a', '1')], resourceVersion: '10' }),
        () => {
          if (down) throw new Error('connect ECONNREFUSED');
          return { items: [obj('a', '1'), obj('b', '5')], resourceVersion: '20' };
        },
      ],
      [
        async () => {
          throw new Error('connection reset');
        },
        async (emit) => emit({ type: 'ERROR', object: { code: 410 } }),
      ],
    );
    const { informer, events } = start(source);
    await until(() => informer.stats.errors >= 3); // the watch failed, then relists failed while down
    expect(informer.get('ns/a')).toBeDefined();
    expect(informer.size).toBe(1);
    down = false;
    await until(() => informer.get('ns/b') !== undefined);
    expect(informer.size).toBe(2);
    await informer.stop();
    expect(events.filter((e) => e.type === 'delete')).toEqual([]);
  });

  it('restarts a watch that stays silent longer than the watchdog bound', async () => {
    const source = new ScriptedSource(
      [() => ({ items: [], resourceVersion: '7' })],
      [(_emit, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve()))],
    );
    const { informer } = start(source, { watchdogMs: 40 });
    await until(() => informer.stats.watchdogFires >= 1 && source.watchCalls.length >= 2);
    expect(source.watchCalls.slice(0, 2)).toEqual(['7', '7']);
    expect(source.listCalls).toBe(1);
    await informer.stop();
  });
});
