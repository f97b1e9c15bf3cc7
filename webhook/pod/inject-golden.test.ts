// Golden files for the pod mutation, in the style of Istio's injection tests: each real pod
// fixture, injected with a named settings variant, must equal test/fixtures/inject/<case>.injected.yaml.
// A reviewer reads the whole effect of a change as a diff of real manifests.
// Refresh after an intended change: EDOT_TA_UPDATE_GOLDEN=1 npx vitest run webhook/pod/inject-golden
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { injectYaml } from '../inject-cli.js';
import { defaultInjectSettings } from '../settings.js';
import type { InjectSettings } from '../types.js';

const fixtures = new URL('../../test/fixtures/', import.meta.url);
const goldenDir = new URL('inject/', fixtures);
const update = process.env.EDOT_TA_UPDATE_GOLDEN === '1';

const cases: Array<{ name: string; input: string; settings: Partial<InjectSettings> }> = [
  { name: 'edot-daemon-operator', input: 'pods/edot-daemon-operator.yaml', settings: {} }, // operator-rendered, hostNetwork
  { name: 'edot-daemon-operator.native', input: 'pods/edot-daemon-operator.yaml', settings: { nativeSidecars: true } },
  { name: 'edot-daemonset-helm', input: 'pods/edot-daemonset-helm.yaml', settings: {} }, // plain DaemonSet (Helm), hostNetwork
  { name: 'edot-daemonset-helm.cluster-scope', input: 'pods/edot-daemonset-helm.yaml', settings: { sidecarPodScope: 'cluster' } },
  { name: 'upstream-collector-deployment-pod', input: 'pods/upstream-collector-deployment-pod.yaml', settings: {} },
];

describe('injection golden files', () => {
  for (const { name, input, settings } of cases) {
    it(`${input} (${name}) injects to ${name}.injected.yaml`, () => {
      const { text } = injectYaml(readFileSync(new URL(input, fixtures), 'utf8'), { ...defaultInjectSettings(), ...settings });
      const golden = new URL(`${name}.injected.yaml`, goldenDir);
      if (update || !existsSync(golden)) writeFileSync(golden, text);
      expect(text).toBe(readFileSync(golden, 'utf8'));
    });
  }

  it('has no stale golden file (each belongs to a case)', () => {
    const expected = cases.map((c) => `${c.name}.injected.yaml`).sort();
    expect(readdirSync(goldenDir).filter((f) => f.endsWith('.injected.yaml')).sort()).toEqual(expected);
  });
});
