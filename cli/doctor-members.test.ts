import type { V1Lease, V1MicroTime, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { buildMemberReport, formatMemberReport } from '../sidecar/serve/member-report.js';
import { nodeCoverers } from '../sidecar/sharding/assignment.js';
import { diagnoseMembers, type MembersSnapshot } from './doctor-members.js';

const nowMs = Date.parse('2026-11-25T10:00:00.000Z');
const namespace = 'observability';
const group = 'daemon-collector';

function member(pod: string, node: string, report?: Parameters<typeof buildMemberReport>[0]): V1Lease {
  return {
    metadata: {
      name: `edot-ta-${pod}`,
      namespace,
      labels: { 'edot-ta.io/group': group },
      annotations: { 'edot-ta.io/group': group, 'edot-ta.io/pod': pod, 'edot-ta.io/node': node, ...(report ? { 'edot-ta.io/report': formatMemberReport(buildMemberReport(report)) } : {}) },
    },
    spec: { holderIdentity: `uid-${pod}`, leaseDurationSeconds: 40, renewTime: '2026-11-25T09:59:55.000000Z' as unknown as V1MicroTime },
  };
}

function collectorPod(name: string, podScope?: string): V1Pod {
  return {
    metadata: { name, namespace, annotations: { 'edot-ta.io/status': '{}' } },
    spec: {
      containers: [
        { name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.2.0' },
        { name: 'edot-ta', image: 'edot-ta', args: ['sidecar', 'serve', ...(podScope ? ['--pod-scope', podScope] : [])], env: [{ name: 'EDOT_TA_GROUP', value: group }] },
      ],
    },
  };
}

const snapshot = (overrides: Partial<MembersSnapshot>): MembersSnapshot => ({ leases: [], collectorPods: [collectorPod('a'), collectorPod('b')], optedInNamespaces: [namespace], nowMs, ...overrides });
const job = (name: string, served: number, kept: number, dropped = 0, droppedBy: Record<string, number> = {}) => ({ job: name, served, kept, dropped, droppedBy });

describe('doctor: what the members publish on their Leases', () => {
  it('sums what the group serves, and names a job whose relabeling drops everything with the rules that drop it', () => {
    const findings = diagnoseMembers(snapshot({
      leases: [
        member('a', 'node-a', { jobs: [job('pods', 3, 3), job('envoy', 0, 0, 4, { 'relabel_configs[2]': 4 })], notTaken: [], skipped: [] }),
        member('b', 'node-b', { jobs: [job('pods', 2, 2), job('envoy', 0, 0, 6, { 'relabel_configs[2]': 5, 'no __address__': 1 })], notTaken: [], skipped: [] }),
      ],
    }));
    const messages = findings.map((f) => f.message);
    expect(messages).toContain(`group ${namespace}/${group}: 2 member(s) serve 5 target(s) in 2 job(s) (per member 2–3)`);
    expect(messages).toContain(`group ${namespace}/${group}: job pods: 5 target(s) served`);
    const envoy = findings.find((f) => f.message.includes('job envoy'));
    expect(envoy).toMatchObject({ level: 'warn', message: `group ${namespace}/${group}: job envoy serves nothing: relabeling drops every target it discovers (6 on b, by relabel_configs[2]: 5, no __address__: 1)` });
    expect(envoy?.hint).toContain('kubectl exec b -c edot-ta');
  });

  it('names the jobs left in the collector (a warning unless node-local by design), removed jobs and skipped monitors once per group', () => {
    const report = {
      jobs: [job('pods', 1, 1)],
      notTaken: [
        { job: 'kubelet', action: 'keep' as const, reason: 'job kubelet reads the per-pod variable NODE_NAME: node-local by construction, it stays in the collector' },
        { job: 'consul', action: 'keep' as const, reason: 'job consul uses consul_sd_configs, which the sidecar does not run: it stays in the collector' },
        { job: 'bad', action: 'drop' as const, reason: 'job bad is not valid (scrape_interval: "soon" is not a Prometheus duration)' },
      ],
      skipped: [{ kind: 'monitor' as const, name: 'apps/broken', message: 'podMetricsEndpoints[0]: invalid regex' }],
    };
    const findings = diagnoseMembers(snapshot({ leases: [member('a', 'node-a', report), member('b', 'node-b', report)] }));
    const about = (text: string) => findings.filter((f) => f.message.includes(text));
    expect(about('job kubelet stays in the collector')).toEqual([expect.objectContaining({ level: 'ok' })]);
    expect(about('job consul stays in the collector')).toEqual([expect.objectContaining({ level: 'warn' })]);
    expect(about('job bad was removed from the collector config')).toHaveLength(1);
    expect(about('monitor apps/broken is skipped: podMetricsEndpoints[0]: invalid regex')).toHaveLength(1);
  });

  it('flags a live Lease of a pod that does not exist', () => {
    const findings = diagnoseMembers(snapshot({ leases: [member('a', 'node-a'), member('ghost', 'node-g')] }));
    expect(findings.find((f) => f.message.includes('ghost'))).toMatchObject({ level: 'warn', message: `group ${namespace}/${group}: Lease edot-ta-ghost is renewed for pod ghost, which does not exist (on node node-g)` });
  });

  it('pod scope node: names the member that watches the pods of each node without a collector, as the sidecars choose it', () => {
    const nodes = ['node-a', 'node-b', ...Array.from({ length: 6 }, (_, i) => `bare-${i}`)];
    const leases = [member('a', 'node-a'), member('b', 'node-b')];
    const finding = diagnoseMembers(snapshot({ leases, nodes })).find((f) => f.message.includes('have no collector'));
    const coverers = nodeCoverers([{ name: 'a', nodeName: 'node-a' }, { name: 'b', nodeName: 'node-b' }], nodes);
    const forA = [...coverers].filter(([, m]) => m === 'a').map(([n]) => n).sort();
    expect(finding?.message).toContain(`6 of 8 node(s) have no collector; their pods are watched by `);
    if (forA.length > 0) expect(finding?.message).toContain(`a (${forA.length}: ${forA.join(', ')})`);
    // Pod scope cluster: every member watches every pod; nothing to say about coverage.
    const cluster = diagnoseMembers(snapshot({ leases, nodes, collectorPods: [collectorPod('a', 'cluster'), collectorPod('b', 'cluster')] }));
    expect(cluster.filter((f) => f.message.includes('have no collector'))).toEqual([]);
  });
});
