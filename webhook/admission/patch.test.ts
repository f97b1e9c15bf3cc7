import { describe, expect, it } from 'vitest';
import { applyPatch, diffPatch } from './patch.js';

describe('diffPatch', () => {
  it('is empty for equal objects and ignores undefined fields', () => {
    expect(diffPatch({ a: 1, b: [1, 2] }, { a: 1, b: [1, 2], c: undefined })).toEqual([]);
  });

  it('produces RFC 6902 operations, escaping "/" in annotation keys as ~1', () => {
    const original = { metadata: { annotations: { x: '1' } }, spec: { containers: [{ name: 'c' }] } };
    const mutated = { metadata: { annotations: { x: '1', 'edot-ta.io/status': '{}' } }, spec: { containers: [{ name: 'edot-ta' }, { name: 'c' }] } };
    const patch = diffPatch(original, mutated);
    expect(patch).toContainEqual({ op: 'add', path: '/metadata/annotations/edot-ta.io~1status', value: '{}' });
    expect(patch.every((op) => op.op !== 'test')).toBe(true);
    expect(applyPatch(original, patch)).toEqual(mutated);
    expect(original.spec.containers).toHaveLength(1); // applyPatch works on a copy
  });

  it('adds a missing map (e.g. a pod without annotations)', () => {
    const patch = diffPatch({ metadata: { name: 'p' } }, { metadata: { name: 'p', annotations: { a: 'b' } } });
    expect(patch).toEqual([{ op: 'add', path: '/metadata/annotations', value: { a: 'b' } }]);
  });

  it('treats undefined like JSON does: a field set to undefined is removed, undefined inside added values is dropped', () => {
    const patch = diffPatch({ a: 1, b: 2 }, { a: 1, b: undefined, c: { d: 1, e: undefined } });
    expect(patch).toEqual([
      { op: 'remove', path: '/b' },
      { op: 'add', path: '/c', value: { d: 1 } },
    ]);
  });

  it('prepends a named element with one add and diffs the shifted elements at their new index', () => {
    const original = { containers: [{ name: 'collector', args: ['--config=/conf/c.yaml'] }] };
    const mutated = { containers: [{ name: 'edot-ta', image: 'x' }, { name: 'collector', args: ['--config=/edot-ta/0-c.yaml'] }] };
    const patch = diffPatch(original, mutated);
    expect(patch).toEqual([
      { op: 'add', path: '/containers/0', value: { name: 'edot-ta', image: 'x' } },
      { op: 'replace', path: '/containers/1/args/0', value: '--config=/edot-ta/0-c.yaml' },
    ]);
    expect(applyPatch(original, patch)).toEqual(mutated);
  });

  it('falls back to index-wise operations when named elements are removed or reordered', () => {
    const cases = [
      [{ l: [{ name: 'a' }, { name: 'b' }] }, { l: [{ name: 'b' }, { name: 'a' }, { name: 'c' }] }],
      [{ l: [{ name: 'a' }, { name: 'b' }] }, { l: [{ name: 'c' }, { name: 'a' }] }],
      [{ l: [1, 2] }, { l: [0, 1, 2] }],
      [{ l: [{ name: 'a' }] }, { l: 'scalar now' }],
      [{ a: null, b: { c: [1] } }, { a: { x: 1 }, b: { c: [1, { d: null }] } }],
    ] as const;
    for (const [before, after] of cases) expect(applyPatch(before, diffPatch(before, after))).toEqual(after);
  });

  it('refuses non-objects', () => {
    expect(() => diffPatch('a', {})).toThrow(TypeError);
  });
});
