import type { V1Lease, V1MicroTime, V1MutatingWebhookConfiguration, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { diagnose, formatFindings, type ClusterSnapshot } from './doctor-checks.js';
import { narrowToCollector } from './doctor.js';

const nowMs = Date.parse('2026-11-25T10:00:00.000Z');

function healthyWebhook(): V1MutatingWebhookConfiguration {
  return {
    metadata: { name: 'edot-ta' },
    webhooks: [
      {
        name: 'pods.edot-ta.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        namespaceSelector: { matchLabels: { 'edot-ta.io/inject': 'enabled' } },
        clientConfig: { caBundle: 'LS0tLS1CRUdJTg==', service: { name: 'edot-ta-webhook', namespace: 'edot-ta-system' } },
      },
    ],
  };
}

function injectedPod(name: string, ready = true): V1Pod {
  return {
    metadata: { name, namespace: 'observability', annotations: { 'edot-ta.io/status': '{"version":"0.1.0"}' } },
    spec: { containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.2.0' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'edot-ta', ready, restartCount: ready ? 0 : 3, image: 'x', imageID: 'x' }] },
  };
}

function lease(name: string, renewTime: string): V1Lease {
  return {
    metadata: { name, namespace: 'observability', labels: { 'edot-ta.io/group': 'daemon' } },
    spec: { holderIdentity: 'uid', leaseDurationSeconds: 40, // Read back from the API server, MicroTime arrives as a string.
    renewTime: renewTime as unknown as V1MicroTime },
  };
}

function snapshot(overrides: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    webhookConfigName: 'edot-ta',
    webhookConfig: healthyWebhook(),
    webhookServiceReadyAddresses: 2,
    optedInNamespaces: ['observability'],
    collectorPods: [injectedPod('daemon-a')],
    leases: [lease('edot-ta-daemon-a', '2026-11-25T09:59:55.000000Z')],
    crds: { podmonitors: true, servicemonitors: true, opentelemetrycollectors: true },
    access: [{ serviceAccount: 'observability/collector', verb: 'watch', resource: '/pods', allowed: true }],
    nowMs,
    ...overrides,
  };
}

describe('doctor checks', () => {
  it('reports only OK findings for a healthy installation', () => {
    const findings = diagnose(snapshot());
    expect(findings.filter((f) => f.level !== 'ok')).toEqual([]);
    expect(findings.map((f) => f.check)).toEqual(['webhook', 'namespaces', 'pods', 'membership', 'crds', 'rbac']);
  });

  it('fails when the webhook configuration is missing or has no caBundle', () => {
    expect(diagnose(snapshot({ webhookConfig: undefined }))[0]).toMatchObject({ level: 'fail', check: 'webhook' });
    const noCa = healthyWebhook();
    noCa.webhooks![0]!.clientConfig.caBundle = undefined;
    expect(diagnose(snapshot({ webhookConfig: noCa })).find((f) => f.check === 'webhook')?.message).toContain('no caBundle');
  });

  it('warns when failurePolicy is Fail, since a webhook outage would block pods', () => {
    const failing = healthyWebhook();
    failing.webhooks![0]!.failurePolicy = 'Fail';
    const finding = diagnose(snapshot({ webhookConfig: failing })).find((f) => f.check === 'webhook');
    expect(finding).toMatchObject({ level: 'warn' });
    expect(finding?.message).toContain('blocks pod creation');
  });

  it('fails when the webhook Service has no ready endpoints', () => {
    const finding = diagnose(snapshot({ webhookServiceReadyAddresses: 0 })).find((f) => f.level === 'fail');
    expect(finding?.message).toContain('no ready endpoints');
  });

  it('warns about collector pods created without injection and suggests a rollout restart', () => {
    const plain = injectedPod('daemon-b');
    delete plain.metadata!.annotations!['edot-ta.io/status'];
    const finding = diagnose(snapshot({ collectorPods: [plain] })).find((f) => f.check === 'pods');
    expect(finding).toMatchObject({ level: 'warn', message: 'collector pod observability/daemon-b was not injected' });
    expect(finding?.hint).toContain('rollout restart');
  });

  it('skips pods that opted out', () => {
    const optedOut = injectedPod('daemon-c');
    optedOut.metadata!.annotations = { 'edot-ta.io/inject': 'false' };
    expect(diagnose(snapshot({ collectorPods: [optedOut] })).filter((f) => f.check === 'pods')).toEqual([]);
  });

  it('points at the sidecar logs when the sidecar is not ready', () => {
    const finding = diagnose(snapshot({ collectorPods: [injectedPod('daemon-d', false)] })).find((f) => f.check === 'pods');
    expect(finding?.hint).toBe('kubectl logs daemon-d -n observability -c edot-ta');
  });

  it('compares the views the live members act on (their Leases\' edot-ta.io/view)', () => {
    const viewing = (name: string, view: string) => {
      const l = lease(name, '2026-11-25T09:59:55.000000Z');
      l.metadata!.annotations = { 'edot-ta.io/view': view };
      return l;
    };
    const agreeing = diagnose(snapshot({ leases: [viewing('edot-ta-a', 'v1'), viewing('edot-ta-b', 'v1')] }));
    expect(agreeing.filter((f) => f.check === 'membership').map((f) => f.message)).toEqual(['group observability/daemon: 2 live member(s), all acting on one view']);
    const split = diagnose(snapshot({ leases: [viewing('edot-ta-a', 'v1'), viewing('edot-ta-b', 'v2'), viewing('edot-ta-c', 'v1')] }));
    expect(split.find((f) => f.check === 'membership' && f.level === 'warn')?.message).toBe('group observability/daemon: members act on 2 different views (v1: edot-ta-a, edot-ta-c; v2: edot-ta-b)');
  });

  it('separates live and stale members per group', () => {
    const findings = diagnose(snapshot({ leases: [lease('edot-ta-a', '2026-11-25T09:59:50.000000Z'), lease('edot-ta-b', '2026-11-25T09:00:00.000000Z')] }));
    expect(findings.find((f) => f.check === 'membership')).toMatchObject({ level: 'warn', message: 'group observability/daemon: 1 live, stale leases: edot-ta-b' });
  });

  it('names each missing permission of a sidecar service account', () => {
    const findings = diagnose(snapshot({ access: [{ serviceAccount: 'observability/collector', verb: 'update', resource: 'coordination.k8s.io/leases', namespace: 'observability', allowed: false }] }));
    expect(findings.find((f) => f.check === 'rbac')).toMatchObject({ level: 'fail', message: 'observability/collector cannot update coordination.k8s.io/leases in observability' });
  });

  it('formats a summary first, then one line per finding (failures first) with an indented hint', () => {
    const text = formatFindings([{ level: 'ok', check: 'crds', message: 'installed' }, { level: 'fail', check: 'webhook', message: 'missing', hint: 'apply it' }]);
    expect(text).toBe('edot-ta doctor: 1 failing, 0 to look at, 1 fine\n\nFAIL [webhook] missing\n       → apply it\nOK   [crds] installed');
  });

  it('a service account denied cluster-wide but allowed in every namespace its monitors discover in (Roles) is fine; a namespace missing is named', () => {
    const sa = 'observability/collector';
    const clusterWide = { serviceAccount: sa, verb: 'watch', resource: '/pods', allowed: false };
    const inNs = (namespace: string, allowed: boolean) => ({ serviceAccount: sa, verb: 'watch', resource: '/pods', namespace, covers: 'monitors of observability/daemon discover there', allowed });
    const ok = diagnose(snapshot({ access: [clusterWide, inNs('apps', true), inNs('istio-system', true)] })).filter((f) => f.check === 'rbac');
    expect(ok).toEqual([expect.objectContaining({ level: 'ok' })]);
    const missing = diagnose(snapshot({ access: [clusterWide, inNs('apps', true), inNs('istio-system', false)] })).filter((f) => f.level === 'fail').map((f) => f.message);
    expect(missing).toEqual([`${sa} cannot watch /pods cluster-wide`, `${sa} cannot watch /pods in istio-system (monitors of observability/daemon discover there)`]);
  });

  it('names what the webhook\'s service account may not do, with its own fix', () => {
    const findings = diagnose(snapshot({ access: [{ who: 'webhook', serviceAccount: 'edot-ta-system/edot-ta-webhook', verb: 'update', resource: '/secrets', resourceName: 'edot-ta-webhook-tls', namespace: 'edot-ta-system', allowed: false }] }));
    expect(findings.find((f) => f.check === 'rbac')).toMatchObject({ level: 'fail', message: 'edot-ta-system/edot-ta-webhook cannot update /secrets edot-ta-webhook-tls in edot-ta-system', hint: expect.stringContaining('manifests/base/webhook.yaml') });
  });

  it('--collector keeps one group, named by a pod, namespace/group or the group alone', () => {
    const member = (pod: string, group: string) => {
      const p = injectedPod(pod);
      p.spec!.serviceAccountName = group;
      p.spec!.containers.push({ name: 'edot-ta', image: 'edot-ta', env: [{ name: 'EDOT_TA_GROUP', value: group }] });
      return p;
    };
    const groupLease = (name: string, group: string) => {
      const l = lease(name, '2026-11-25T09:59:55.000000Z');
      l.metadata!.annotations = { 'edot-ta.io/group': group, 'edot-ta.io/pod': name.replace(/^edot-ta-/, '') };
      return l;
    };
    const all = snapshot({
      collectorPods: [member('daemon-a', 'daemon'), member('daemon-b', 'daemon'), member('gateway-a', 'gateway')],
      leases: [groupLease('edot-ta-daemon-a', 'daemon'), groupLease('edot-ta-gateway-a', 'gateway')],
      access: [{ serviceAccount: 'observability/daemon', verb: 'watch', resource: '/pods', allowed: true }, { serviceAccount: 'observability/gateway', verb: 'watch', resource: '/pods', allowed: false }],
    });
    for (const wanted of ['daemon-b', 'observability/daemon', 'daemon']) {
      const narrowed = narrowToCollector(all, wanted)!;
      expect(narrowed.collectorPods.map((p) => p.metadata?.name), wanted).toEqual(['daemon-a', 'daemon-b']);
      expect(narrowed.leases.map((l) => l.metadata?.name)).toEqual(['edot-ta-daemon-a']);
      expect(narrowed.access.map((a) => a.serviceAccount)).toEqual(['observability/daemon']);
      expect(narrowed.onlyGroups).toEqual(['observability/daemon']);
    }
    expect(narrowToCollector(all, 'nope')).toBeUndefined();
  });
});
