// admission.k8s.io/v1 at the edge: parse and validate an AdmissionReview into typed values,
// dispatch on request.kind to the pure mutations, and answer with a JSON Patch (the diff between
// the object and its mutated copy). No HTTP here (server.ts) and no API server calls.
//
// Never deny for our own failures: a mutation that throws answers `allowed: true`, unchanged,
// with a warning. Only a body that is not an AdmissionReview at all is rejected (HTTP 400).
import type { V1Pod } from '@kubernetes/client-node';
import { CollectorCRParseError, collectorCRGroup, mutateCollectorCR, parseCollectorCR } from '../cr/cr-mutation.js';
import { diffPatch } from './patch.js';
import { mutatePod } from '../pod/pod-mutation.js';
import type { CRSettings, CollectorCR, InjectSettings, MutateCollectorCR, MutatePod, Operation } from '../types.js';
import { isObject } from '../../common/json.js';

export const admissionApiVersion = 'admission.k8s.io/v1';

/** The body is not a usable AdmissionReview: the server answers HTTP 400 with this message. */
export class AdmissionReviewError extends Error {}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  operation: AdmissionOperation;
  namespace?: string;
  name?: string;
  object: unknown;
  oldObject?: unknown;
  dryRun: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch (RFC 6902). */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof admissionApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export type ReviewedKind = 'Pod' | 'OpenTelemetryCollector' | 'other';
/** mutated: a patch was sent; unchanged: nothing to do; error: our mutation failed, admitted unchanged. */
export type ReviewResult = 'mutated' | 'unchanged' | 'error';

export interface ReviewOutcome {
  kind: ReviewedKind;
  result: ReviewResult;
  patchBytes: number;
  /** Why a pod was left alone (pod mutation's reason) or what failed. */
  reason?: string;
}

export interface AdmissionSettings {
  inject: InjectSettings;
  cr: CRSettings;
}

/** The pure functions the dispatcher calls; replaceable in tests (e.g. one that throws). */
export interface Mutators {
  mutatePod: MutatePod;
  mutateCollectorCR: MutateCollectorCR;
  parseCollectorCR: (raw: unknown) => CollectorCR;
  diffPatch: (original: unknown, mutated: unknown) => Operation[];
}

export const defaultMutators: Mutators = { mutatePod, mutateCollectorCR, parseCollectorCR, diffPatch };

const operations: readonly AdmissionOperation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** Parses the raw HTTP body; throws AdmissionReviewError with a message fit for the caller. */
/**
 * Deepest JSON nesting accepted: Kubernetes objects are ~20 levels deep (a v1beta1 collector
 * config inside a CR a few more); a body nested deeper is refused before JSON.parse builds it.
 */
export const maxJsonDepth = 200;

/** Whether the JSON text nests `[`/`{` deeper than `max` (strings skipped; linear, no allocation). */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

export function parseAdmissionReview(body: string): AdmissionRequest {
  if (jsonDeeperThan(body, maxJsonDepth)) throw new AdmissionReviewError(`body nests deeper than ${maxJsonDepth} levels; no Kubernetes object does`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new AdmissionReviewError(`body is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(json)) throw new AdmissionReviewError('body is not a JSON object');
  if (json.apiVersion !== admissionApiVersion) {
    throw new AdmissionReviewError(`apiVersion ${JSON.stringify(json.apiVersion)} is not supported: want ${admissionApiVersion} (set admissionReviewVersions: [v1])`);
  }
  if (json.kind !== 'AdmissionReview') throw new AdmissionReviewError(`kind ${JSON.stringify(json.kind)} is not AdmissionReview`);
  const request = json.request;
  if (!isObject(request)) throw new AdmissionReviewError('request is missing or not an object');
  if (typeof request.uid !== 'string' || request.uid === '') throw new AdmissionReviewError('request.uid is missing or empty');
  const kind = request.kind;
  if (!isObject(kind) || typeof kind.kind !== 'string' || typeof kind.version !== 'string' || typeof (kind.group ?? '') !== 'string') {
    throw new AdmissionReviewError('request.kind must be {group, version, kind}');
  }
  const operation = request.operation;
  if (typeof operation !== 'string' || !operations.includes(operation as AdmissionOperation)) {
    throw new AdmissionReviewError(`request.operation ${JSON.stringify(operation)} is not one of ${operations.join(', ')}`);
  }
  const optionalString = (field: 'namespace' | 'name'): string | undefined => {
    const value = request[field];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new AdmissionReviewError(`request.${field} is not a string`);
    return value;
  };
  const namespace = optionalString('namespace');
  const name = optionalString('name');
  return {
    uid: request.uid,
    kind: { group: (kind.group as string | undefined) ?? '', version: kind.version, kind: kind.kind },
    operation: operation as AdmissionOperation,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    object: request.object,
    ...(request.oldObject !== undefined && request.oldObject !== null ? { oldObject: request.oldObject } : {}),
    dryRun: request.dryRun === true,
  };
}

export function admissionResponse(uid: string, patch: Operation[] = [], warnings: string[] = []): AdmissionReviewResponse {
  return admissionResponseWithSize(uid, patch, warnings).body;
}

function admissionResponseWithSize(uid: string, patch: Operation[], warnings: string[]): { body: AdmissionReviewResponse; patchBytes: number } {
  const response: AdmissionResponse = { uid, allowed: true };
  let patchBytes = 0;
  if (patch.length > 0) {
    const json = Buffer.from(JSON.stringify(patch));
    patchBytes = json.length;
    response.patchType = 'JSONPatch';
    response.patch = json.toString('base64');
  }
  if (warnings.length > 0) response.warnings = warnings;
  return { body: { apiVersion: admissionApiVersion, kind: 'AdmissionReview', response }, patchBytes };
}

export function isCollectorKind(kind: GroupVersionKind): boolean {
  return kind.group === collectorCRGroup && kind.kind === 'OpenTelemetryCollector' && (kind.version === 'v1alpha1' || kind.version === 'v1beta1');
}

export function isPodKind(kind: GroupVersionKind): boolean {
  return kind.group === '' && kind.version === 'v1' && kind.kind === 'Pod';
}

/** Decides the answer to one admission request. Total: never throws. */
export function review(
  request: AdmissionRequest,
  settings: AdmissionSettings,
  mutators: Mutators = defaultMutators,
): { body: AdmissionReviewResponse; outcome: ReviewOutcome } {
  const reviewedKind: ReviewedKind = isPodKind(request.kind) ? 'Pod' : isCollectorKind(request.kind) ? 'OpenTelemetryCollector' : 'other';
  const unchanged = (result: ReviewResult, reason: string, warnings: string[] = []) => ({
    body: admissionResponse(request.uid, [], warnings),
    outcome: { kind: reviewedKind, result, patchBytes: 0, reason },
  });
  try {
    let original: unknown;
    let mutated: unknown;
    let warnings: string[];
    let reason: string | undefined;
    if (reviewedKind === 'Pod') {
      if (request.operation !== 'CREATE') return unchanged('unchanged', `pod ${request.operation} is not mutated`);
      if (!isObject(request.object)) return unchanged('error', 'request.object is not a pod', ['edot-ta: request.object is not a pod object; admitted unchanged']);
      original = request.object;
      const context = { dryRun: request.dryRun, ...(request.namespace !== undefined ? { namespace: request.namespace } : {}) };
      const result = mutators.mutatePod(request.object as V1Pod, settings.inject, context);
      // Most pods in an opted-in namespace are not collectors: the contract says the pod is then
      // unchanged, so skip the diff (the costliest step after the mutation itself).
      if (!result.injected) return unchanged('unchanged', result.reason ?? 'not injected', result.warnings);
      mutated = result.pod;
      warnings = result.warnings;
      reason = result.reason;
    } else if (reviewedKind === 'OpenTelemetryCollector') {
      if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return unchanged('unchanged', `collector ${request.operation} is not mutated`);
      let cr: CollectorCR;
      try {
        cr = mutators.parseCollectorCR(request.object);
      } catch (err) {
        if (!(err instanceof CollectorCRParseError)) throw err;
        return unchanged('error', err.message, [`edot-ta: cannot read the OpenTelemetryCollector (${err.message}); admitted unchanged`]);
      }
      let oldObject: CollectorCR | undefined;
      try {
        oldObject = request.oldObject === undefined ? undefined : mutators.parseCollectorCR(request.oldObject);
      } catch {
        oldObject = undefined; // an unreadable old object only costs the immutable-mode check
      }
      original = request.object;
      const result = mutators.mutateCollectorCR(cr, settings.cr, { operation: request.operation, ...(oldObject ? { oldObject } : {}) });
      mutated = result.object;
      warnings = result.warnings;
    } else {
      return unchanged('unchanged', `kind ${request.kind.group}/${request.kind.version} ${request.kind.kind} is not handled`);
    }
    const patch = mutators.diffPatch(original, mutated);
    const { body, patchBytes } = admissionResponseWithSize(request.uid, patch, warnings);
    return { body, outcome: { kind: reviewedKind, result: patch.length > 0 ? 'mutated' : 'unchanged', patchBytes, ...(reason !== undefined ? { reason } : {}) } };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return unchanged('error', message, [`edot-ta: mutation failed (${message.slice(0, 200)}); admitted unchanged`]);
  }
}
