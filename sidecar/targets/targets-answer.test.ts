import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AnswerChunks } from './targets-answer.js';
import { serializeTargets, ServedTarget, type GroupResult } from './targets-group.js';

const podGroupLabels = (name: string) => ({ __meta_kubernetes_namespace: 'shop', __meta_kubernetes_pod_name: name, __meta_kubernetes_pod_label_app: 'cart' });

function podGroup(name: string, ip: string): GroupResult {
  const labels = podGroupLabels(name);
  return {
    kept: [
      new ServedTarget('envoy', `envoy|http|${ip}:15090|/stats`, 'node-a', labels, { __address__: `${ip}:15090`, __meta_kubernetes_pod_container_name: 'istio-proxy' }),
      new ServedTarget('envoy', `envoy|http|${ip}:8080|/stats`, 'node-b', labels, { __address__: `${ip}:8080`, __meta_kubernetes_pod_container_name: 'app' }),
    ],
    droppedCount: 0,
  };
}

/** Groups and their answer chunks changed together, as the engine does. */
function fixture(groupsPerChunk: number) {
  const groups = new Map<string, GroupResult>();
  const chunks = new AnswerChunks(groupsPerChunk);
  const set = (key: string, ip: string) => {
    groups.set(key, podGroup(key, ip));
    chunks.changed(key);
  };
  const remove = (key: string) => {
    groups.delete(key);
    chunks.removed(key);
  };
  const all = () => [...groups.values()].flatMap((g) => g.kept);
  return { groups, chunks, set, remove, all };
}

const inflate = async (answer: Promise<Buffer>) => gunzipSync(await answer).toString();

describe('AnswerChunks', () => {
  it('inflates to exactly the plain answer, in group order, through adds, changes and removals', async () => {
    const { groups, chunks, set, remove, all } = fixture(2);
    for (let i = 0; i < 7; i++) set(`p${i}`, `10.0.0.${i}`);
    expect(await inflate(chunks.gzip(groups, () => true))).toBe(serializeTargets(all()));
    set('p3', '10.0.1.3'); // changed in place: keeps its position
    remove('p0');
    remove('p1'); // empties the first chunk
    set('p1', '10.0.1.1'); // back, now last
    set('p9', '10.0.0.9');
    const text = await inflate(chunks.gzip(groups, () => true));
    expect(text).toBe(serializeTargets(all()));
    expect((JSON.parse(text) as Array<{ labels: Record<string, string> }>).map((t) => t.labels.__meta_kubernetes_pod_name)).toEqual(['p2', 'p2', 'p3', 'p3', 'p4', 'p4', 'p5', 'p5', 'p6', 'p6', 'p1', 'p1', 'p9', 'p9']);
  });

  it('serves only owned targets, skips chunks that own none, and re-asks after invalidateAll', async () => {
    const { groups, chunks, set, all } = fixture(1);
    for (let i = 0; i < 3; i++) set(`p${i}`, `10.0.0.${i}`);
    const onNodeA = (t: ServedTarget) => t.nodeName === 'node-a' && t.key !== 'envoy|http|10.0.0.1:15090|/stats';
    expect(await inflate(chunks.gzip(groups, onNodeA))).toBe(serializeTargets(all().filter(onNodeA)));
    expect(await inflate(chunks.gzip(groups, () => false))).toBe(serializeTargets(all().filter(onNodeA))); // cached until told
    chunks.invalidateAll();
    expect(await inflate(chunks.gzip(groups, () => false))).toBe('[]');
  });

  it('re-serializes only the chunk of a changed group', async () => {
    const { groups, chunks, set } = fixture(2);
    for (let i = 0; i < 6; i++) set(`p${i}`, `10.0.0.${i}`);
    const seen: string[] = [];
    const recording = (t: ServedTarget) => {
      seen.push(t.key);
      return true;
    };
    await chunks.gzip(groups, recording);
    expect(seen).toHaveLength(12);
    seen.length = 0;
    set('p4', '10.0.2.4');
    await chunks.gzip(groups, recording);
    // p4 and p5 share the last chunk; the other four groups' members are reused.
    expect(seen).toEqual(['envoy|http|10.0.2.4:15090|/stats', 'envoy|http|10.0.2.4:8080|/stats', 'envoy|http|10.0.0.5:15090|/stats', 'envoy|http|10.0.0.5:8080|/stats']);
  });
});

describe('ServedTarget.json', () => {
  it('is the same text as stringifying the merged labels, also when a target repeats a group label', () => {
    const plain = new ServedTarget('j', 'k', undefined, { a: '1', b: '"quoted"' }, { __address__: 'x:1', c: 'é' });
    const overlapping = new ServedTarget('j', 'k', undefined, { a: '1', b: '2' }, { __address__: 'x:1', a: 'own' });
    const noGroup = new ServedTarget('j', 'k', undefined, {}, { __address__: 'x:1' });
    for (const t of [plain, overlapping, noGroup]) expect(t.json()).toBe(JSON.stringify({ targets: [t.address], labels: t.labels }));
    expect(JSON.parse(overlapping.json())).toEqual({ targets: ['x:1'], labels: { a: 'own', b: '2', __address__: 'x:1' } });
  });
});
