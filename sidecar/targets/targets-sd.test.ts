import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { podTargetGroup } from '../discovery/kubernetes-sd.js';
import { transformFor, trimPod } from './targets-sd.js';

const gatewayPod = parse(readFileSync(new URL('../../test/fixtures/sidecar/istio-gateway-pod.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

describe('the pod informer cache of a role-pod scope', () => {
  it('holds the same target group, labels in the same order, as building it from the pod', () => {
    const pod = { ...structuredClone(gatewayPod), status: { phase: 'Running', podIP: '10.1.0.1', hostIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] } };
    const expected = podTargetGroup(trimPod(structuredClone(pod)) as Parameters<typeof podTargetGroup>[0]);
    const cached = transformFor({ resource: 'pods', form: 'targetGroup' })(structuredClone(pod)) as typeof expected;
    expect(cached).toEqual(expected);
    expect(Object.keys(cached.labels)).toEqual(Object.keys(expected.labels));
    expect(cached.targets.map((t) => Object.keys(t))).toEqual(expected.targets.map((t) => Object.keys(t)));
    expect(cached.targets.length).toBeGreaterThan(1);
  });
});
