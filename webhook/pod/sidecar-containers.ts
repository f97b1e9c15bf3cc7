// The two containers edot-ta adds to a collector pod: the render init container and the sidecar.
// Pure builders: settings and a few pod facts in, container specs out.
import type { V1Container, V1EnvVar, V1Probe, V1SecurityContext, V1VolumeMount } from '@kubernetes/client-node';
import { type InjectSettings } from '../types.js';
import { apiTokenPath, renderInitContainerName, renderedConfigMountPath, renderedConfigVolumeName, scrapeConfigsPath, sidecarContainerName } from '../../contract/names.js';
import { leaveTimeoutEnvName } from '../../contract/sharding-settings.js';
import { defaultPodScope, downwardApiFields, flag, perPodFieldPaths, renderFlags, serveFlags, sidecarEnv, sidecarSubcommands, type PodScope } from '../../contract/sidecar.js';

/**
 * Waits for the sidecar's /readyz with plain node (the image has node; no curl/wget needed).
 * argv: url, graceMs, mode. `wait` (postStart hook): poll until ready or graceMs passed, then
 * exit 0 either way — the collector must always start. `probe` (native sidecar startupProbe):
 * one check; exit 0 when ready, or when the container's PID 1 has been up longer than graceMs
 * (fail open); else 1. The hook never hangs: each request times out after 2 s.
 */
export const readinessScript = [
  "const [url, graceArg, mode] = process.argv.slice(1); const graceMs = Number(graceArg);",
  "const ready = () => fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);",
  "const upMs = () => { try { const fs = require('fs'); const stat = fs.readFileSync('/proc/1/stat', 'utf8'); const start = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19]) / 100; return (Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) - start) * 1000; } catch { return Infinity; } };",
  "(async () => {",
  "  if (mode === 'probe') { if (await ready()) process.exit(0); if (upMs() > graceMs) { console.log('edot-ta: not ready after ' + graceMs + ' ms, letting the collector start'); process.exit(0); } process.exit(1); }",
  "  const deadline = Date.now() + graceMs;",
  "  while (Date.now() < deadline) { if (await ready()) process.exit(0); await new Promise((r) => setTimeout(r, 500)); }",
  "  console.log('edot-ta: not ready after ' + graceMs + ' ms, letting the collector start'); process.exit(0);",
  "})();",
].join('\n');

export function readyUrl(port: number): string {
  return `http://127.0.0.1:${port}/readyz`;
}

/** Restricted (Pod Security "restricted" profile): non-root even in a uid-0 pod like the EDOT daemon. */
export function restrictedSecurityContext(settings: InjectSettings): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: settings.sidecarRunAsUser,
    runAsGroup: settings.sidecarRunAsUser,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

const fieldEnv = (name: string, fieldPath: string): V1EnvVar => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });

export function downwardApiEnv(): V1EnvVar[] {
  return downwardApiFields.map(([name, fieldPath]) => fieldEnv(name, fieldPath));
}

export function podNameEnv(): V1EnvVar {
  return fieldEnv(sidecarEnv.podName, 'metadata.name');
}

const renderedMount: V1VolumeMount = { name: renderedConfigVolumeName, mountPath: renderedConfigMountPath };

export interface RenderStep {
  inputs: Array<{ in: string; out: string }>;
  /** The collector's mounts that hold the inputs, mounted read-only at the same paths. */
  sourceMounts: V1VolumeMount[];
  /** The collector's env and envFrom, so `${env:...}` inside moved scrape configs resolves as in the collector. */
  env?: V1EnvVar[];
  envFrom?: V1Container['envFrom'];
  workingDir?: string;
  /** Mount paths of the collector's ConfigMap volumes, which the sidecar mounts too (--shared-paths). */
  sharedPaths?: string[];
}

export function renderInitContainer(settings: InjectSettings, port: number, step: RenderStep): V1Container {
  const io = step.inputs.flatMap((pair) => [flag(renderFlags.in), pair.in, flag(renderFlags.out), pair.out]);
  // Env from the downward API that differs per pod: jobs reading it are node-local and stay in the collector.
  const podLocalEnv = (step.env ?? []).filter((e) => perPodFieldPaths.includes(e.valueFrom?.fieldRef?.fieldPath ?? '')).map((e) => e.name);
  const container: V1Container = {
    name: renderInitContainerName,
    image: settings.sidecarImage,
    command: [
      ...settings.sidecarCommand,
      ...sidecarSubcommands.render,
      ...io,
      flag(renderFlags.scrapeConfigsOut),
      scrapeConfigsPath,
      flag(renderFlags.endpoint),
      `http://127.0.0.1:${port}`,
      flag(renderFlags.interval),
      settings.targetAllocatorInterval,
      flag(renderFlags.refreshInterval),
      settings.httpSdRefreshInterval,
      `${flag(renderFlags.podLocalEnv)}=${[...new Set([sidecarEnv.podName, ...podLocalEnv])].join(',')}`,
      ...(step.sharedPaths?.length ? [`${flag(renderFlags.sharedPaths)}=${step.sharedPaths.join(',')}`] : []),
      flag(renderFlags.tokenOut),
      apiTokenPath,
    ],
    resources: structuredClone(settings.sidecarResources),
    securityContext: restrictedSecurityContext(settings),
    volumeMounts: [...step.sourceMounts.map((mount) => ({ ...mount, readOnly: true })), { ...renderedMount }],
  };
  if (settings.imagePullPolicy) container.imagePullPolicy = settings.imagePullPolicy;
  // Copies: the returned pod must not share objects between containers (patches, YAML aliases).
  if (step.env && step.env.length > 0) container.env = structuredClone(step.env);
  if (step.envFrom && step.envFrom.length > 0) container.envFrom = structuredClone(step.envFrom);
  if (step.workingDir) container.workingDir = step.workingDir;
  return container;
}

export interface SidecarFacts {
  port: number;
  group: string;
  podScope: PodScope;
  /** EDOT_TA_PROMETHEUS_CR value; undefined = not set. */
  prometheusCR?: string;
  /** EDOT_TA_LEAVE_TIMEOUT_SECONDS value; undefined = not set (the sidecar's default). */
  leaveTimeoutSeconds?: string;
  /** The service account token mount of the collector (webhooks run after the ServiceAccount admission plugin). */
  serviceAccountMount?: V1VolumeMount;
  /** The collector's ConfigMap mounts, read-only: file_sd files there are read by the sidecar. */
  sharedMounts?: V1VolumeMount[];
}

export function sidecarContainer(settings: InjectSettings, facts: SidecarFacts): V1Container {
  const env = [...downwardApiEnv(), { name: sidecarEnv.group, value: facts.group }];
  if (facts.prometheusCR !== undefined) env.push({ name: sidecarEnv.prometheusCR, value: facts.prometheusCR });
  if (facts.leaveTimeoutSeconds !== undefined) env.push({ name: leaveTimeoutEnvName, value: facts.leaveTimeoutSeconds });
  const graceMs = String(settings.readyTimeoutSeconds * 1000);
  const check = (mode: 'wait' | 'probe') => [settings.nodeBinary, '-e', readinessScript, readyUrl(facts.port), graceMs, mode];
  const container: V1Container = {
    name: sidecarContainerName,
    image: settings.sidecarImage,
    command: [
      ...settings.sidecarCommand,
      ...sidecarSubcommands.serve,
      flag(serveFlags.listen),
      `127.0.0.1:${facts.port}`,
      flag(serveFlags.scrapeConfigs),
      scrapeConfigsPath,
      flag(serveFlags.tokenFile),
      apiTokenPath,
      // Only when it differs from the sidecar's own default (kubectl describe shows what is not default).
      ...(facts.podScope !== defaultPodScope ? [flag(serveFlags.podScope), facts.podScope] : []),
    ],
    env,
    resources: structuredClone(settings.sidecarResources),
    securityContext: restrictedSecurityContext(settings),
    volumeMounts: [{ ...renderedMount, readOnly: true }, ...(facts.serviceAccountMount ? [{ ...facts.serviceAccountMount }] : []), ...(facts.sharedMounts ?? []).map((mount) => ({ ...mount }))],
  };
  if (settings.imagePullPolicy) container.imagePullPolicy = settings.imagePullPolicy;
  if (settings.nativeSidecars) {
    // Native sidecar: the kubelet starts the collector only after this probe passes.
    // exec, not httpGet: the sidecar listens on the pod's loopback, which the kubelet cannot reach.
    const periodSeconds = 2;
    const probe: V1Probe = {
      exec: { command: check('probe') },
      periodSeconds,
      timeoutSeconds: 5,
      failureThreshold: Math.ceil(settings.readyTimeoutSeconds / periodSeconds) + 30,
    };
    container.restartPolicy = 'Always';
    container.startupProbe = probe;
  } else {
    // First regular container: the kubelet runs the next container after postStart returns.
    container.lifecycle = { postStart: { exec: { command: check('wait') } } };
  }
  return container;
}
