// A bounded in-memory log of recent admission decisions, for GET /debug/decisions.
// It keeps what the webhook decided and why, never what it decided about: no object bodies, no
// patches, no config text. Messages are cut to their first line (YAML parse errors put an excerpt
// of the config, which may hold credentials, on the following lines) and to a few hundred chars.
import type { AdmissionRequest, ReviewOutcome, ReviewResult } from '../admission/admission.js';

export interface AdmissionDecision {
  /** RFC 3339 time the answer was produced. */
  time: string;
  uid: string;
  /** group/version/kind of the request, e.g. "v1/Pod", "opentelemetry.io/v1beta1/OpenTelemetryCollector". */
  kind: string;
  namespace?: string;
  name?: string;
  /** Pods created by a controller have no name yet at admission, only this prefix. */
  generateName?: string;
  operation: string;
  dryRun: boolean;
  /** mutated (a patch was sent), unchanged, error (our mutation failed; admitted unchanged). */
  result: ReviewResult;
  changed: boolean;
  reason?: string;
  warnings: string[];
  patchBytes: number;
  latencyMs: number;
}

export const defaultDecisionCapacity = 500;
export const defaultListLimit = 100;
const maxMessageChars = 300;
const maxWarnings = 10;

/** First line of a message, at most maxMessageChars: never a multi-line excerpt of user input. */
export function oneLine(message: string): string {
  const lines = message.trimEnd().split(/\r?\n/);
  const first = lines[0] ?? '';
  const cut = lines.length > 1 || first.length > maxMessageChars;
  return cut ? `${first.slice(0, maxMessageChars).trimEnd()} …` : first;
}

function generateNameOf(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const generateName = (metadata as { generateName?: unknown }).generateName;
  return typeof generateName === 'string' && generateName !== '' ? oneLine(generateName) : undefined;
}

/** The decision record for one answered review (pure; `now` for tests). */
export function decisionFromReview(
  request: AdmissionRequest,
  outcome: ReviewOutcome,
  answer: { warnings?: string[]; latencyMs: number },
  now: Date = new Date(),
): AdmissionDecision {
  const { group, version, kind } = request.kind;
  const generateName = request.name === undefined ? generateNameOf(request.object) : undefined;
  const warnings = answer.warnings ?? [];
  return {
    time: now.toISOString(),
    uid: request.uid,
    kind: group === '' ? `${version}/${kind}` : `${group}/${version}/${kind}`,
    ...(request.namespace !== undefined ? { namespace: request.namespace } : {}),
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(generateName !== undefined ? { generateName } : {}),
    operation: request.operation,
    dryRun: request.dryRun,
    result: outcome.result,
    changed: outcome.result === 'mutated',
    ...(outcome.reason !== undefined ? { reason: oneLine(outcome.reason) } : {}),
    warnings: warnings.slice(0, maxWarnings).map(oneLine).concat(warnings.length > maxWarnings ? [`… ${warnings.length - maxWarnings} more`] : []),
    patchBytes: outcome.patchBytes,
    latencyMs: Math.round(answer.latencyMs * 1000) / 1000,
  };
}

/** A fixed-capacity ring: record() is O(1) and never grows memory past `capacity` entries. */
export class DecisionLog {
  readonly capacity: number;
  private readonly entries: (AdmissionDecision | undefined)[];
  private next = 0;
  private count = 0;
  /** Decisions ever recorded (also those that fell out of the ring). */
  total = 0;

  constructor(capacity: number = defaultDecisionCapacity) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`decision log capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.entries = new Array<AdmissionDecision | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  record(decision: AdmissionDecision): void {
    this.entries[this.next] = decision;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    this.total++;
  }

  /** Newest first, optionally only one namespace, at most `limit` (default 100, capped at capacity). */
  list(options: { namespace?: string; limit?: number } = {}): AdmissionDecision[] {
    const limit = Math.min(options.limit ?? defaultListLimit, this.capacity);
    const out: AdmissionDecision[] = [];
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const entry = this.entries[(this.next - i + this.capacity) % this.capacity];
      if (entry && (options.namespace === undefined || entry.namespace === options.namespace)) out.push(entry);
    }
    return out;
  }
}
