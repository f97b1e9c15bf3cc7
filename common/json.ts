// Narrowing of parsed JSON/YAML values, shared by the parsers at the edges (admission, CRs, pods).

/** A plain object (a JSON/YAML mapping): not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
