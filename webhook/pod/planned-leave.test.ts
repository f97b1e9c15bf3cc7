import { readFileSync } from 'node:fs';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { shardingSettingsFromEnv } from '../../contract/sharding-settings.js';
import { containerEnv } from '../../test/demo/demo-kubelet.js';
import { diffPatch } from '../admission/patch.js';
import { mutatePod } from './pod-mutation.js';
import { defaultInjectSettings, parseInjectSettings } from '../settings.js';
import { parsePodStatus } from '../status.js';
import type { InjectSettings } from '../types.js';

const fixture = (name: string): V1Pod => parse(readFileSync(new URL(`../../test/fixtures/pods/${name}`, import.meta.url), 'utf8')) as V1Pod;
const settings = (overrides: Partial<InjectSettings> = {}): InjectSettings => ({ ...defaultInjectSettings(), sidecarImage: 'registry.example/edot-ta:test', ...overrides });
const container = (pod: V1Pod, name: string): V1Container | undefined => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === name);
const leaveEnv = (pod: V1Pod) => container(pod, 'edot-ta')?.env?.find((e) => e.name === 'EDOT_TA_LEAVE_TIMEOUT_SECONDS');
const status = (pod: V1Pod) => parsePodStatus(pod.metadata?.annotations?.['edot-ta.io/status']);

/** The operator-rendered EDOT daemon pod with its collector container (otc-container) edited. */
function daemonPod(edit: (pod: V1Pod, collector: V1Container) => void = () => {}): V1Pod {
  const pod = fixture('edot-daemon-operator.yaml');
  edit(pod, pod.spec!.containers.find((c) => c.name === 'otc-container')!);
  return pod;
}

describe('planned leave: the collector keeps scraping while its sidecar hands over', () => {
  const { pod, warnings } = mutatePod(daemonPod(), settings());

  it('gives the collector a `sleep 60` preStop hook (the default handoverSeconds)', () => {
    expect(container(pod, 'otc-container')?.lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '60'] } } });
    expect(container(pod, 'edot-ta')?.lifecycle?.preStop).toBeUndefined();
    expect(warnings.join('\n')).not.toMatch(/preStop/);
  });

  it('gives the sidecar EDOT_TA_LEAVE_TIMEOUT_SECONDS = handoverSeconds - 5, which the sidecar\'s own parser accepts', () => {
    expect(leaveEnv(pod)).toEqual({ name: 'EDOT_TA_LEAVE_TIMEOUT_SECONDS', value: '55' });
    // The env as the kubelet (and the demo's local kubelet) resolves it, fed to the sidecar's parser.
    const env = containerEnv({ ...pod, metadata: { ...pod.metadata, name: 'p', uid: 'u', namespace: 'n' }, spec: { ...pod.spec!, nodeName: 'node-a' } }, container(pod, 'edot-ta')!);
    expect(env.EDOT_TA_LEAVE_TIMEOUT_SECONDS).toBe('55');
    expect(shardingSettingsFromEnv(env).leaveTimeoutMs).toBe(55_000);
    // The smallest accepted handoverSeconds still gives the sidecar a valid value.
    const smallest = mutatePod(daemonPod(), settings({ handoverSeconds: parseInjectSettings({ 'handover-seconds': '6' }).handoverSeconds })).pod;
    expect(shardingSettingsFromEnv({ EDOT_TA_LEAVE_TIMEOUT_SECONDS: leaveEnv(smallest)?.value }).leaveTimeoutMs).toBe(1_000);
  });

  it('raises terminationGracePeriodSeconds from the default 30 to handoverSeconds + 10 and records it all in the status', () => {
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(70);
    expect(status(pod)).toMatchObject({ preStop: true, leaveTimeoutSeconds: 55, terminationGracePeriodSeconds: 70 });
  });

  it('raises a shorter grace period but never lowers a longer one', () => {
    const shorter = mutatePod(daemonPod((p) => (p.spec!.terminationGracePeriodSeconds = 45)), settings()).pod;
    expect(shorter.spec?.terminationGracePeriodSeconds).toBe(70);
    const longer = mutatePod(daemonPod((p) => (p.spec!.terminationGracePeriodSeconds = 300)), settings()).pod;
    expect(longer.spec?.terminationGracePeriodSeconds).toBe(300);
    expect(status(longer)?.terminationGracePeriodSeconds).toBeUndefined();
    expect(status(longer)?.preStop).toBe(true);
    const custom = mutatePod(daemonPod(), settings({ handoverSeconds: 90 })).pod;
    expect(custom.spec?.terminationGracePeriodSeconds).toBe(100);
    expect(container(custom, 'otc-container')?.lifecycle?.preStop?.exec?.command).toEqual(['sleep', '90']);
    expect(leaveEnv(custom)?.value).toBe('85');
  });

  it('keeps the user\'s own preStop hook (and postStart) untouched and warns that the guarantee depends on it', () => {
    const own = { postStart: { exec: { command: ['touch', '/tmp/started'] } }, preStop: { httpGet: { path: '/shutdown', port: 13133 } } };
    const result = mutatePod(daemonPod((_, c) => (c.lifecycle = structuredClone(own))), settings());
    expect(container(result.pod, 'otc-container')?.lifecycle).toEqual(own);
    const warning = result.warnings.find((w) => w.includes('preStop'));
    expect(warning).toMatch(/otc-container has its own preStop hook, kept as is; a planned leave misses no scrape only if it keeps the collector running for about 60 s/);
    expect(status(result.pod)).toMatchObject({ preStop: false, leaveTimeoutSeconds: 55, terminationGracePeriodSeconds: 70 });
    expect(status(result.pod)?.warnings).toContain(warning);
  });

  it('adds the hook beside a user postStart hook', () => {
    const result = mutatePod(daemonPod((_, c) => (c.lifecycle = { postStart: { exec: { command: ['true'] } } })), settings());
    expect(container(result.pod, 'otc-container')?.lifecycle).toEqual({ postStart: { exec: { command: ['true'] } }, preStop: { exec: { command: ['sleep', '60'] } } });
  });

  it('changes nothing of it with handoverSeconds 0 (off)', () => {
    const original = daemonPod();
    const off = mutatePod(original, settings({ handoverSeconds: 0 })).pod;
    expect(container(off, 'otc-container')?.lifecycle).toBeUndefined();
    expect(off.spec?.terminationGracePeriodSeconds).toBeUndefined();
    expect(leaveEnv(off)).toBeUndefined();
    expect(status(off)).toMatchObject({ preStop: false });
    expect(status(off)).not.toHaveProperty('terminationGracePeriodSeconds');
    expect(diffPatch(original, off).filter((op) => /lifecycle|terminationGrace/.test(op.path))).toEqual([]);
  });

  it('leaves native sidecar pods alone (the kubelet stops a native sidecar only after the collector exits)', () => {
    const native = mutatePod(daemonPod(), settings({ nativeSidecars: true })).pod;
    expect(container(native, 'otc-container')?.lifecycle).toBeUndefined();
    expect(native.spec?.terminationGracePeriodSeconds).toBeUndefined();
    expect(leaveEnv(native)).toBeUndefined();
    expect(status(native)?.preStop).toBe(false);
  });

  it('takes EDOT_TA_LEAVE_TIMEOUT_SECONDS set on the collector container, and covers it with the grace period', () => {
    const set = (value: string) => daemonPod((_, c) => (c.env = [...(c.env ?? []), { name: 'EDOT_TA_LEAVE_TIMEOUT_SECONDS', value }]));
    const own = mutatePod(set('100'), settings());
    expect(leaveEnv(own.pod)?.value).toBe('100');
    expect(own.pod.spec?.terminationGracePeriodSeconds).toBe(115); // 100 + 5 for the sidecar to exit + 10
    expect(status(own.pod)).toMatchObject({ leaveTimeoutSeconds: 100, terminationGracePeriodSeconds: 115 });
    const bad = mutatePod(set('soon'), settings());
    expect(leaveEnv(bad.pod)?.value).toBe('55');
    expect(bad.warnings.join('\n')).toMatch(/EDOT_TA_LEAVE_TIMEOUT_SECONDS on container otc-container is not usable .*must be a positive number/);
  });

  it('is idempotent: a second pass changes nothing (hook, grace period and env included)', () => {
    const again = mutatePod(pod, settings());
    expect(again.injected).toBe(false);
    expect(diffPatch(pod, again.pod)).toEqual([]);
  });

  it('applies to the Helm EDOT DaemonSet pod and the upstream collector pod too', () => {
    for (const name of ['edot-daemonset-helm-pod.yaml', 'upstream-collector-deployment-pod.yaml']) {
      const result = mutatePod(fixture(name), settings());
      expect(result.injected, name).toBe(true);
      const collectorName = status(result.pod)?.collectorContainer ?? '';
      expect(container(result.pod, collectorName)?.lifecycle?.preStop?.exec?.command, name).toEqual(['sleep', '60']);
    }
  });
});
