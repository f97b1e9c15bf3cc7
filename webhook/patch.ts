// One diff step: "mutate a copy" becomes an RFC 6902 JSON Patch (like controller-runtime's
// PatchResponseFromRaw). Default import: fast-json-patch is CommonJS, named imports break in Node ESM.
import jsonpatch from 'fast-json-patch';
import type { Operation } from './types.js';

/**
 * The JSON Patch that turns `original` into `mutated`. Both are compared as JSON (undefined
 * fields dropped, as the API server would see them). No `test` operations are emitted.
 */
export function diffPatch(original: unknown, mutated: unknown): Operation[] {
  if (typeof original !== 'object' || original === null || typeof mutated !== 'object' || mutated === null) {
    throw new TypeError('diffPatch: both sides must be JSON objects or arrays');
  }
  // compare() skips keys whose new value is undefined and JSON-clones the values it emits, so the
  // inputs need no JSON round trip first (that round trip was two thirds of the cost).
  return jsonpatch.compare(original, mutated, false);
}

/** Applies a patch to a deep copy (tests and `edot-ta inject` use it to check round trips). */
export function applyPatch<T>(document: T, patch: Operation[]): T {
  const copy = JSON.parse(JSON.stringify(document)) as T;
  return jsonpatch.applyPatch(copy, patch, true, true).newDocument;
}
