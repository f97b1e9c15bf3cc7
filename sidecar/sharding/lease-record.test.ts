import { describe, expect, it } from 'vitest';
import { buildLease, formatMicroTime, groupLabelValue, leaseName, parseMemberLease, viewHash } from './lease-record.js';

const pod = { name: 'edot-daemon-x7k2p', namespace: 'observability', uid: '6f1c9a52-1111-2222-3333-444455556666', nodeName: 'node-a' };

describe('lease record', () => {
  it('builds the Lease the apiserver expects: name, group label, owner pod, holder = pod UID, MicroTime', () => {
    const lease = buildLease({ pod, group: 'daemon', renewTime: new Date(Date.UTC(2026, 10, 25, 9, 30, 0, 123)), view: { hash: 'abc', members: 3, since: '2026-11-25T09:29:59.000000Z' } });
    expect(lease.metadata).toMatchObject({
      name: 'edot-ta-edot-daemon-x7k2p',
      namespace: 'observability',
      labels: { 'edot-ta.io/group': 'daemon' },
      annotations: { 'edot-ta.io/view': 'abc', 'edot-ta.io/view-members': '3', 'edot-ta.io/node': 'node-a', 'edot-ta.io/pod': pod.name },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid, controller: false, blockOwnerDeletion: false }],
    });
    expect(lease.spec).toEqual({ holderIdentity: pod.uid, leaseDurationSeconds: 40, acquireTime: '2026-11-25T09:30:00.123000Z', renewTime: '2026-11-25T09:30:00.123000Z' });
    expect(lease.metadata.annotations['edot-ta.io/leaving']).toBeUndefined();
  });

  it('formats MicroTime with exactly six fractional digits', () => {
    expect(formatMicroTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe('2026-01-02T03:04:05.006000Z');
  });

  it('parses a Lease read back from the API (renewTime as a string) into a member', () => {
    const raw = JSON.parse(JSON.stringify(buildLease({ pod, group: 'otel/daemon', renewTime: new Date(0), leaving: true, resourceVersion: '42' })));
    expect(parseMemberLease(raw, 'otel/daemon')).toMatchObject({ podName: pod.name, podUid: pod.uid, nodeName: 'node-a', leaving: true, resourceVersion: '42', renewTime: '1970-01-01T00:00:00.000000Z' });
    expect(parseMemberLease(raw, 'otel.daemon')).toBeUndefined(); // another group with a similar label value
    expect(parseMemberLease({ metadata: { name: 'x' } }, 'otel/daemon')).toBeUndefined();
  });

  it('turns any group name into a valid, distinct label value', () => {
    const valid = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
    for (const group of ['daemon', 'otel/daemon', 'otel.daemon', '-x-', 'a'.repeat(100), 'ns/' + 'b'.repeat(80)]) {
      const value = groupLabelValue(group);
      expect(value).toMatch(valid);
      expect(value.length).toBeLessThanOrEqual(63);
    }
    expect(groupLabelValue('daemon')).toBe('daemon');
    expect(groupLabelValue('otel/daemon')).not.toBe(groupLabelValue('otel.daemon'));
  });

  it('keeps Lease names within 253 characters and unique', () => {
    expect(leaseName('a'.repeat(253)).length).toBeLessThanOrEqual(253);
    expect(leaseName('a'.repeat(253))).not.toBe(leaseName('a'.repeat(252) + 'b'));
  });

  it('hashes the same member set to the same view whatever the order, and a new incarnation to a new one', () => {
    const a = { podName: 'a', podUid: '1' };
    const b = { podName: 'b', podUid: '2' };
    expect(viewHash([a, b])).toBe(viewHash([b, a]));
    expect(viewHash([a, b])).not.toBe(viewHash([a, { podName: 'b', podUid: '3' }]));
  });
});
