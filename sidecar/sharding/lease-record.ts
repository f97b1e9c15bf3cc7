// The lock record: one coordination.k8s.io/v1 Lease per sidecar, `edot-ta-<pod name>` in the
// pod's namespace. Like client-go's resourcelock, this file only builds and parses the object;
// the loop that creates, renews and watches it lives in membership.ts.
//   holderIdentity        = pod UID (a restarted pod is a new incarnation)
//   renewTime             = MicroTime, exactly 6 fractional digits (what the apiserver parses)
//   ownerReferences       = the pod (garbage collected with it)
//   label edot-ta.io/group, annotations: group, node, pod, the view the member acts on, leaving,
//   and what it serves (a one-line summary and a JSON report).
import { hash64 } from './hash.js';

export const groupLabel = 'edot-ta.io/group';
export const groupAnnotation = 'edot-ta.io/group';
export const nodeAnnotation = 'edot-ta.io/node';
export const podAnnotation = 'edot-ta.io/pod';
/** Hash of the member set this member acts on (see viewHash). */
export const viewAnnotation = 'edot-ta.io/view';
/** When (this member's wall clock, informational only) it started acting on that view. */
export const viewSinceAnnotation = 'edot-ta.io/view-since';
export const viewMembersAnnotation = 'edot-ta.io/view-members';
/** "true" while the member hands its targets over before deleting its Lease (graceful leave). */
export const leavingAnnotation = 'edot-ta.io/leaving';
/** "serving 42 targets in 3 jobs": what the member serves, carried by its renewals (no writes of its own). */
export const summaryAnnotation = 'edot-ta.io/summary';
/** JSON (serve/member-report.ts): per job served/kept/dropped by rule, jobs left in the collector, skipped configs. */
export const reportAnnotation = 'edot-ta.io/report';

export const defaultLeaseDurationSeconds = 40;

export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
  nodeName: string;
}

export interface AnnouncedView {
  hash: string;
  members: number;
  /** RFC 3339, this member's wall clock: for humans only, never compared across nodes. */
  since: string;
}

/** The Lease as sent to the API server (plain JSON, camelCase as the API expects). */
export interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller: boolean; blockOwnerDeletion: boolean }>;
  };
  spec: {
    holderIdentity: string;
    leaseDurationSeconds: number;
    acquireTime?: string;
    renewTime: string;
  };
}

/** What a member learns from another member's Lease. */
export interface MemberLease {
  leaseName: string;
  podName: string;
  podUid: string;
  nodeName: string;
  group: string;
  renewTime: string;
  leaseDurationSeconds: number;
  resourceVersion: string;
  view?: AnnouncedView;
  leaving: boolean;
}

/** `edot-ta-<pod>`; names past the 253-character limit are cut and made unique with a hash. */
export function leaseName(podName: string): string {
  const name = `edot-ta-${podName}`;
  if (name.length <= 253) return name;
  return `${name.slice(0, 244).replace(/[-.]+$/, '')}-${shortHash(podName)}`;
}

/**
 * The group as a label value (63 characters of [A-Za-z0-9-_.], alphanumeric ends). Group names
 * such as `otel/daemon` are rewritten and suffixed with a hash of the original, so two groups
 * never share a value; the exact group is kept in an annotation and checked when parsing.
 */
export function groupLabelValue(group: string): string {
  if (/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(group) && group.length <= 63) return group;
  const cleaned = group.replace(/[^-A-Za-z0-9_.]/g, '.').slice(0, 54).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned ? `${cleaned}-${shortHash(group)}` : `g-${shortHash(group)}`;
}

export function groupSelector(group: string): string {
  return `${groupLabel}=${groupLabelValue(group)}`;
}

/** MicroTime text: RFC 3339 UTC with exactly six fractional digits. */
export function formatMicroTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function buildLease(options: {
  pod: PodIdentity;
  group: string;
  renewTime: Date;
  leaseDurationSeconds?: number;
  view?: AnnouncedView;
  leaving?: boolean;
  summary?: string;
  report?: string;
  resourceVersion?: string;
  acquireTime?: string;
}): LeaseObject {
  const { pod, group, view } = options;
  const annotations: Record<string, string> = {
    [groupAnnotation]: group,
    [nodeAnnotation]: pod.nodeName,
    [podAnnotation]: pod.name,
  };
  if (view) {
    annotations[viewAnnotation] = view.hash;
    annotations[viewMembersAnnotation] = String(view.members);
    annotations[viewSinceAnnotation] = view.since;
  }
  if (options.leaving) annotations[leavingAnnotation] = 'true';
  if (options.summary) annotations[summaryAnnotation] = options.summary;
  if (options.report) annotations[reportAnnotation] = options.report;
  const renewTime = formatMicroTime(options.renewTime);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: leaseName(pod.name),
      namespace: pod.namespace,
      ...(options.resourceVersion ? { resourceVersion: options.resourceVersion } : {}),
      labels: { [groupLabel]: groupLabelValue(group) },
      annotations,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid, controller: false, blockOwnerDeletion: false }],
    },
    spec: {
      holderIdentity: pod.uid,
      leaseDurationSeconds: options.leaseDurationSeconds ?? defaultLeaseDurationSeconds,
      acquireTime: options.acquireTime ?? renewTime,
      renewTime,
    },
  };
}

/**
 * Reads a Lease of the group into a MemberLease; anything else (another group that shares the
 * label value, a Lease without holder or node) is `undefined`: it is not a member.
 */
export function parseMemberLease(raw: unknown, group: string): MemberLease | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { metadata, spec } = raw as { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
  const annotations = (metadata?.annotations ?? {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  if (text(annotations[groupAnnotation]) !== group) return undefined;
  const leaseName = text(metadata?.name);
  const podUid = text(spec?.holderIdentity);
  const nodeName = text(annotations[nodeAnnotation]);
  const podName = text(annotations[podAnnotation]);
  if (!leaseName || !podUid || !nodeName || !podName) return undefined;
  // renewTime arrives as a string from the API (a Date when a client library parsed it).
  const renew = spec?.renewTime;
  const renewTime = renew instanceof Date ? formatMicroTime(renew) : (text(renew) ?? '');
  const viewHash = text(annotations[viewAnnotation]);
  const duration = Number(spec?.leaseDurationSeconds);
  return {
    leaseName,
    podName,
    podUid,
    nodeName,
    group,
    renewTime,
    leaseDurationSeconds: Number.isFinite(duration) && duration > 0 ? duration : defaultLeaseDurationSeconds,
    resourceVersion: text(metadata?.resourceVersion) ?? '',
    ...(viewHash
      ? { view: { hash: viewHash, members: Number(text(annotations[viewMembersAnnotation]) ?? 0) || 0, since: text(annotations[viewSinceAnnotation]) ?? '' } }
      : {}),
    leaving: text(annotations[leavingAnnotation]) === 'true',
  };
}

/** Identity of a member set: sorted `name/uid` pairs, hashed. Same set, same hash, on every node. */
export function viewHash(members: ReadonlyArray<{ podName: string; podUid: string }>): string {
  const text = members
    .map((m) => `${m.podName}/${m.podUid}`)
    .sort()
    .join(',');
  const { hi, lo } = hash64(text);
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

function shortHash(text: string): string {
  return hash64(text).lo.toString(16).padStart(8, '0');
}
