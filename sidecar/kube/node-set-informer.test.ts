import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { Informer, type InformerEvent, type ListPage, type ListWatchSource, type WatchLine } from './informer.js';
import { NodeSetInformer } from './node-set-informer.js';

const logger = createLogger({}, () => {});
const pod = (name: string, node: string) => ({ metadata: { name, namespace: 'ns', resourceVersion: '1' }, spec: { nodeName: node } });

/** Lists the pods of one node (after `gate` resolves); its watch idles until stopped. */
function nodeSource(node: string, pods: string[], gate: Promise<void> = Promise.resolve()): ListWatchSource {
  return {
    description: `pods on ${node}`,
    async list(): Promise<ListPage> {
      await gate;
      return { items: pods.map((name) => pod(name, node)), resourceVersion: '5' };
    },
    watch: (_rv: string, _onLine: (line: WatchLine) => void, signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error('condition not reached');
}

describe('NodeSetInformer', () => {
  const podsByNode: Record<string, string[]> = { 'node-a': ['a1', 'a2'], 'node-b': ['b1'], 'node-c': ['c1', 'c2', 'c3'] };

  function setUp(retainMs: number, gates: Record<string, Promise<void>> = {}) {
    const events: Array<InformerEvent<unknown>> = [];
    const made: string[] = [];
    const nodeSet = new NodeSetInformer<unknown>(
      (node) => {
        made.push(node);
        return new Informer<unknown>(nodeSource(node, podsByNode[node] ?? [], gates[node]), { transform: (raw) => raw, onEvent: (e) => events.push(e), logger });
      },
      (e) => events.push(e),
      retainMs,
      ['node-a'],
    );
    return { nodeSet, events, made };
  }

  it('is one store over the informers of the covered nodes', async () => {
    const { nodeSet, made } = setUp(1_000);
    nodeSet.start();
    await until(() => nodeSet.hasSynced);
    nodeSet.setNodes(new Set(['node-a', 'node-b']));
    await until(() => nodeSet.hasSynced && nodeSet.get('ns/b1') !== undefined);
    expect(made).toEqual(['node-a', 'node-b']);
    expect([...nodeSet.entries()].map(([key]) => key).sort()).toEqual(['ns/a1', 'ns/a2', 'ns/b1']);
    expect(nodeSet.nodes()).toEqual(['node-a', 'node-b']);
    await nodeSet.stop();
  });

  it('a node no longer covered stays watched for retainMs, then its pods go with a delete event each; covered again in time, it is kept', async () => {
    const { nodeSet, events } = setUp(60);
    nodeSet.start();
    nodeSet.setNodes(new Set(['node-a', 'node-c']));
    await until(() => nodeSet.hasSynced && nodeSet.get('ns/c3') !== undefined);
    nodeSet.setNodes(new Set(['node-a']));
    expect(nodeSet.get('ns/c1')).toBeDefined(); // retained: a handover may still serve them
    nodeSet.setNodes(new Set(['node-a', 'node-c'])); // back before retainMs: nothing dropped
    await new Promise((r) => setTimeout(r, 120));
    expect(nodeSet.get('ns/c1')).toBeDefined();
    nodeSet.setNodes(new Set(['node-a']));
    await until(() => nodeSet.get('ns/c1') === undefined);
    expect(events.filter((e) => e.type === 'delete').map((e) => e.key).sort()).toEqual(['ns/c1', 'ns/c2', 'ns/c3']);
    expect(nodeSet.nodes()).toEqual(['node-a']);
    await nodeSet.stop();
  });

  it('prepared() waits for the newly covered nodes to be listed, not for retiring ones', async () => {
    let open = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { nodeSet } = setUp(10_000, { 'node-b': gate });
    nodeSet.start();
    await until(() => nodeSet.prepared());
    nodeSet.setNodes(new Set(['node-a', 'node-b']));
    expect(nodeSet.prepared()).toBe(false);
    open();
    await until(() => nodeSet.prepared());
    nodeSet.setNodes(new Set(['node-b'])); // node-a retiring: still prepared
    expect(nodeSet.prepared()).toBe(true);
    await nodeSet.stop();
  });
});
