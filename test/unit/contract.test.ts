// The webhook–sidecar contract, end to end without a cluster: the containers the webhook injects
// are run through the sidecar's own flag parsers and identity/sharding readers. A renamed flag
// or env variable on either side fails here instead of in a pod.
import { readFileSync } from 'node:fs';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { shardingSettingsFromEnv } from '../../contract/sharding-settings.js';
import { downwardApiFields, sidecarSubcommands } from '../../contract/sidecar.js';
import { parseRenderFlags } from '../../sidecar/render/render-cli.js';
import { readIdentity } from '../../sidecar/serve/identity.js';
import { parseServeFlags } from '../../sidecar/serve/serve-cli.js';
import { mutatePod } from '../../webhook/pod/pod-mutation.js';
import { defaultInjectSettings } from '../../webhook/settings.js';

const pod = (name: string): V1Pod => parse(readFileSync(new URL(`../fixtures/pods/${name}`, import.meta.url), 'utf8')) as V1Pod;

/** The argv the image's `edot-ta` gets: the container command after the configured sidecar command. */
function cliArgs(container: V1Container, sidecarCommand: string[]): string[] {
  const command = container.command ?? [];
  expect(command.slice(0, sidecarCommand.length)).toEqual(sidecarCommand);
  return command.slice(sidecarCommand.length);
}

/** The env a kubelet would give the container: literal values as written, downward API fields filled in. */
function podEnv(container: V1Container, injected: V1Pod): NodeJS.ProcessEnv {
  const fields: Record<string, string> = {
    'metadata.name': injected.metadata?.name ?? 'collector-abc12',
    'metadata.uid': 'a4c1f5e0-0000-4000-8000-000000000001',
    'metadata.namespace': injected.metadata?.namespace ?? 'observability',
    'spec.nodeName': injected.spec?.nodeName ?? 'node-a',
  };
  const env: NodeJS.ProcessEnv = {};
  for (const variable of container.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    env[variable.name] = fieldPath ? fields[fieldPath] : variable.value;
  }
  return env;
}

describe('what the webhook injects is what the sidecar reads', () => {
  for (const fixture of ['edot-daemon-operator.yaml', 'edot-daemonset-helm-pod.yaml']) {
    for (const [nativeSidecars, podScope] of [[false, 'cluster'], [true, 'node']] as const) {
      it(`${fixture}, native sidecars ${nativeSidecars}, pod scope ${podScope}: the sidecar's parsers accept the injected render and serve containers`, () => {
        const settings = { ...defaultInjectSettings(), nativeSidecars, sidecarPodScope: podScope };
        const { pod: injected, injected: didInject } = mutatePod(pod(fixture), settings);
        expect(didInject).toBe(true);
        const containers = [...(injected.spec?.initContainers ?? []), ...(injected.spec?.containers ?? [])];

        const render = containers.find((c) => c.name === 'edot-ta-render')!;
        const renderArgs = cliArgs(render, settings.sidecarCommand);
        expect(renderArgs.slice(0, 2)).toEqual([...sidecarSubcommands.render]);
        const renderFlags = parseRenderFlags(renderArgs.slice(2));
        expect(renderFlags.in?.length).toBeGreaterThan(0);
        expect(renderFlags['scrape-configs-out']).toBe('/edot-ta/scrape-configs.yaml');
        expect(renderFlags.interval).toBe(settings.targetAllocatorInterval);

        const sidecar = containers.find((c) => c.name === 'edot-ta')!;
        const serveArgs = cliArgs(sidecar, settings.sidecarCommand);
        expect(serveArgs.slice(0, 2)).toEqual([...sidecarSubcommands.serve]);
        const serveFlags = parseServeFlags(serveArgs.slice(2));
        expect(serveFlags['scrape-configs']).toBe(renderFlags['scrape-configs-out']);
        expect(serveFlags['pod-scope']).toBe(podScope);
        // The render step points the collector at the port the sidecar listens on.
        expect(renderFlags.endpoint).toBe(`http://${serveFlags.listen}`);

        const env = podEnv(sidecar, injected);
        for (const [name] of downwardApiFields) expect(env[name], name).toBeTruthy();
        const identity = readIdentity(env);
        expect(identity.group).toBe(JSON.parse(injected.metadata?.annotations?.['edot-ta.io/status'] ?? '{}').group);
        expect(identity.prometheusCR.enabled).toBe(true); // the default selection: every monitor
        expect(() => shardingSettingsFromEnv(env)).not.toThrow();
      });
    }
  }
});
