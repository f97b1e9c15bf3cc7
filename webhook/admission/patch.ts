// One diff step: "mutate a copy" becomes an RFC 6902 JSON Patch (like controller-runtime's
// PatchResponseFromRaw). Default import: fast-json-patch is CommonJS, named imports break in Node ESM.
import jsonpatch from 'fast-json-patch';
import type { Operation } from '../types.js';

/**
 * The JSON Patch that turns `original` into `mutated`, compared as JSON (undefined = absent).
 * Arrays of named objects (containers, initContainers, volumes, env) that only gained elements
 * get `add` operations at the new positions, so prepending the sidecar reads as one `add
 * /spec/containers/0` instead of rewriting every container field by field. Other array changes
 * fall back to fast-json-patch's index-wise compare. No `test` operations are emitted.
 * Subtrees that `mutated` shares with `original` (the same object) are skipped at once. The
 * values of `add`/`replace` operations are `mutated`'s own subtrees, not copies: serialize the
 * patch (as the admission answer does) or copy it before changing `mutated`.
 */
export function diffPatch(original: unknown, mutated: unknown): Operation[] {
  if (typeof original !== 'object' || original === null || typeof mutated !== 'object' || mutated === null) {
    throw new TypeError('diffPatch: both sides must be JSON objects or arrays');
  }
  const operations: Operation[] = [];
  diffValue(original, mutated, '', operations);
  return operations;
}

/** Applies a patch to a deep copy (tests and `edot-ta inject` use it to check round trips). */
export function applyPatch<T>(document: T, patch: Operation[]): T {
  const copy = JSON.parse(JSON.stringify(document)) as T;
  return jsonpatch.applyPatch(copy, patch, true, true).newDocument;
}

type Json = unknown;

const isPlainObject = (value: Json): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);
const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function diffValue(before: Json, after: Json, path: string, operations: Operation[]): void {
  if (before === after) return;
  if (Array.isArray(before) && Array.isArray(after)) {
    const insertions = namedInsertions(before, after);
    if (!insertions) {
      for (const op of jsonpatch.compare(before, after, false)) operations.push({ ...op, path: path + op.path });
      return;
    }
    // In increasing new-index order: when an element's nested operations are emitted, every
    // insertion before it has been applied already, so its current index is its new index.
    after.forEach((element, index) => {
      const oldIndex = insertions[index];
      if (oldIndex === undefined) operations.push({ op: 'add', path: `${path}/${index}`, value: element });
      else diffValue(before[oldIndex], element, `${path}/${index}`, operations);
    });
    return;
  }
  if (isPlainObject(before) && isPlainObject(after)) {
    for (const key of Object.keys(before)) {
      if (after[key] === undefined) operations.push({ op: 'remove', path: `${path}/${escape(key)}` });
    }
    for (const [key, value] of Object.entries(after)) {
      if (value === undefined) continue;
      const childPath = `${path}/${escape(key)}`;
      if (before[key] === undefined) operations.push({ op: 'add', path: childPath, value });
      else if (sameKind(before[key], value)) diffValue(before[key], value, childPath, operations);
      else operations.push({ op: 'replace', path: childPath, value });
    }
    return;
  }
  operations.push({ op: 'replace', path, value: after });
}

function sameKind(a: Json, b: Json): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b);
  if (isPlainObject(a) || isPlainObject(b)) return isPlainObject(a) && isPlainObject(b);
  return a === b; // equal scalars need no operation; different ones are replaced
}

/**
 * For arrays of objects with unique `name`s where `after` keeps every old element in the same
 * order and only adds new names: new index → old index (undefined = inserted). Else undefined.
 */
function namedInsertions(before: Json[], after: Json[]): Array<number | undefined> | undefined {
  if (after.length <= before.length) return undefined;
  const names = (list: Json[]) => list.map((item) => (isPlainObject(item) && typeof item.name === 'string' ? item.name : undefined));
  const beforeNames = names(before);
  const afterNames = names(after);
  if (beforeNames.includes(undefined) || afterNames.includes(undefined)) return undefined;
  if (new Set(beforeNames).size !== before.length || new Set(afterNames).size !== after.length) return undefined;
  const oldIndexByName = new Map(beforeNames.map((name, index) => [name!, index]));
  const mapping = afterNames.map((name) => oldIndexByName.get(name!));
  const kept = mapping.filter((index): index is number => index !== undefined);
  if (kept.length !== before.length || kept.some((index, i) => index !== i)) return undefined; // removed or reordered
  return mapping;
}
