// mutatePod: the pure pod mutation. A pod and settings in; an injected copy (sharing what it did not change) plus
// admission warnings out. Never calls the API server; dryRun changes nothing (no side effects).
import { posix } from 'node:path';
import type { V1Container, V1Pod, V1VolumeMount } from '@kubernetes/client-node';
import { edotTaVersion } from '../../common/version.js';
import { findCollectorContainer } from './collector-detect.js';
import { parseCollectorArgs, renderedConfigPath, replaceTokens, rewrittenToken, type ConfigSource } from './config-args.js';
import { podNameEnv, renderInitContainer, sidecarContainer } from './sidecar-containers.js';
import { mountHolding, sharedConfigMapMounts, uniqueByMountPath, unreadableReason } from './config-volumes.js';
import { applyPlannedLeave } from './planned-leave.js';
import { formatPodStatus } from '../status.js';
import { type InjectSettings, type PodInjectionStatus, type PodMutationContext, type PodMutationResult } from '../types.js';
import { isPodScope, podScopes, type PodScope } from '../../contract/sidecar.js';
import { parsePrometheusCREnv } from '../../contract/prometheus-cr.js';
import { annotations, renderInitContainerName, renderedConfigMountPath, renderedConfigVolumeName, sidecarContainerName } from '../../contract/names.js';
import { isObject } from '../../common/json.js';

const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';

export function mutatePod(pod: V1Pod, settings: InjectSettings, context: PodMutationContext = {}): PodMutationResult {
  const copy = copyForMutation(pod);
  const skip = (reason: string, warnings: string[] = []): PodMutationResult => ({ pod: copy, warnings: boundedWarnings(warnings), injected: false, reason });
  const spec = copy.spec;
  if (!spec || !Array.isArray(spec.containers)) return skip('pod has no spec.containers');
  // Mutating webhooks run before validation: a malformed pod is the API server's to reject.
  const malformed = podShapeProblem(copy);
  if (malformed) return skip(`not injected: ${malformed} (the API server will say more)`);
  const podAnnotations = copy.metadata?.annotations ?? {};

  const all = [...(spec.initContainers ?? []), ...spec.containers];
  if (all.some((c) => c.name === sidecarContainerName || c.name === renderInitContainerName)) return skip('already injected');
  if (podAnnotations[annotations.inject]?.toLowerCase() === 'false') return skip(`opted out by annotation ${annotations.inject}: "false"`);

  const match = findCollectorContainer(copy, settings);
  if (!match.found) return skip(match.reason);
  const collector = match.container;
  const malformedCollector = collectorShapeProblem(collector);
  if (malformedCollector) return skip(`not injected: ${malformedCollector} (the API server will say more)`);
  const warnings = [...match.warnings];

  if ((spec.volumes ?? []).some((v) => v.name === renderedConfigVolumeName)) return skip(`pod already has a volume named ${renderedConfigVolumeName}`);
  if ((collector.volumeMounts ?? []).some((m) => m.mountPath === renderedConfigMountPath || m.mountPath.startsWith(renderedConfigMountPath + '/'))) {
    return skip(`container ${collector.name} already mounts something at ${renderedConfigMountPath}`);
  }

  const port = sidecarPort(podAnnotations[annotations.port], settings.sidecarPort, warnings);
  const podScope = podScopeFor(podAnnotations[annotations.podScope], settings.sidecarPodScope === 'auto' ? autoPodScope(copy, context) : settings.sidecarPodScope, warnings);
  const clash = all.flatMap((c) => (c.ports ?? []).map((p) => ({ c: c.name, p }))).find(({ p }) => p.containerPort === port || p.hostPort === port);
  if (clash) warnings.push(`edot-ta: port ${port} is also declared by container ${clash.c}; set annotation ${annotations.port} to a free port`);

  // --config sources: rewrite the file ones whose file the render step can read (a mounted volume).
  const parsed = parseCollectorArgs(collector.command, collector.args);
  const rewrites: Array<{ source: ConfigSource; path: string; out: string; mount: V1VolumeMount }> = [];
  for (const source of parsed.configs) {
    if (source.path === undefined) {
      if (source.scheme === 'yaml') {
        if (/prometheus/.test(source.value)) warnings.push(`edot-ta: --config yaml:... mentions prometheus; inline yaml: sources are not rewritten`);
      } else warnings.push(`edot-ta: --config ${source.value.split(':')[0]}: source is not a file and is not rewritten; a prometheus receiver in it keeps scraping by itself`);
      continue;
    }
    const absolute = resolvePath(source.path, collector.workingDir);
    if (absolute === undefined) {
      warnings.push(`edot-ta: --config ${source.path} is not an absolute path (or uses $(VAR) expansion); left unchanged`);
      continue;
    }
    const mount = mountHolding(collector.volumeMounts ?? [], absolute);
    if (!mount) {
      warnings.push(`edot-ta: --config ${absolute} is not on a mounted volume (baked into the image?); the render step cannot read it, left unchanged`);
      continue;
    }
    const unreadable = unreadableReason(spec.volumes?.find((v) => v.name === mount.name), absolute, mount, spec.securityContext);
    if (unreadable) {
      warnings.push(`edot-ta: --config ${absolute}: ${unreadable}; left unchanged`);
      continue;
    }
    rewrites.push({ source, path: absolute, mount, out: renderedConfigPath(renderedConfigMountPath, rewrites.length, absolute) });
  }
  for (const set of parsed.sets) {
    if (/prometheus/.test(set.value)) warnings.push(`edot-ta: --set ${set.value.split('=')[0]} changes a prometheus receiver after the render step; check that it does not undo target_allocator`);
  }
  if (rewrites.length === 0) return skip(`container ${collector.name} has no --config file on a mounted volume to render`, warnings);

  const group = groupName(copy, context);
  const prometheusCR = prometheusCRFor(podAnnotations[annotations.prometheusCR], settings.defaultPrometheusCR, warnings);

  // The collector: --config → rendered files, the rendered-config mount, POD_NAME for collector_id.
  const replaced = replaceTokens(
    collector.command,
    collector.args,
    rewrites.map((r) => ({ array: r.source.array, index: r.source.index, token: rewrittenToken(r.source, r.out) })),
  );
  if (replaced.command) collector.command = replaced.command;
  if (replaced.args) collector.args = replaced.args;
  collector.volumeMounts = [...(collector.volumeMounts ?? []), { name: renderedConfigVolumeName, mountPath: renderedConfigMountPath, readOnly: true }];
  if (!(collector.env ?? []).some((e) => e.name === 'POD_NAME')) collector.env = [...(collector.env ?? []), podNameEnv()];

  // Planned leave: the collector keeps scraping while the sidecar hands its targets over.
  const leave = applyPlannedLeave(spec, collector, settings, warnings);

  const sourceMounts = uniqueByMountPath(rewrites.map((r) => r.mount));
  const serviceAccountMount = (collector.volumeMounts ?? []).find((m) => m.mountPath === serviceAccountMountPath);
  const sharedMounts = sharedConfigMapMounts(collector.volumeMounts ?? [], spec.volumes ?? []).filter((m) => m.mountPath !== renderedConfigMountPath && m.mountPath !== serviceAccountMount?.mountPath);
  const render = renderInitContainer(settings, port, {
    inputs: rewrites.map((r) => ({ in: r.path, out: r.out })),
    sourceMounts,
    env: collector.env,
    envFrom: collector.envFrom,
    workingDir: collector.workingDir,
    sharedPaths: sharedMounts.map((m) => m.mountPath),
  });
  const sidecar = sidecarContainer(settings, {
    port,
    group,
    podScope,
    prometheusCR,
    ...(leave.leaveTimeoutSeconds !== undefined ? { leaveTimeoutSeconds: String(leave.leaveTimeoutSeconds) } : {}),
    serviceAccountMount,
    sharedMounts,
  });

  spec.volumes = [...(spec.volumes ?? []), { name: renderedConfigVolumeName, emptyDir: {} }];
  if (settings.nativeSidecars) {
    spec.initContainers = [...(spec.initContainers ?? []), render, sidecar];
  } else {
    spec.initContainers = [...(spec.initContainers ?? []), render];
    spec.containers = [sidecar, ...spec.containers];
  }

  const status: PodInjectionStatus = {
    version: edotTaVersion(),
    sidecarImage: settings.sidecarImage,
    sidecarPort: port,
    nativeSidecar: settings.nativeSidecars,
    group,
    podScope,
    collectorContainer: collector.name,
    initContainers: settings.nativeSidecars ? [renderInitContainerName, sidecarContainerName] : [renderInitContainerName],
    containers: settings.nativeSidecars ? [] : [sidecarContainerName],
    volumes: [renderedConfigVolumeName],
    configs: rewrites.map((r) => ({ from: r.source.value, to: r.out })),
    argsChanged: true,
    preStop: leave.preStop,
    ...(leave.leaveTimeoutSeconds !== undefined ? { leaveTimeoutSeconds: leave.leaveTimeoutSeconds } : {}),
    ...(leave.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: leave.terminationGracePeriodSeconds } : {}),
    warnings: boundedWarnings(warnings),
  };
  copy.metadata = copy.metadata ?? {};
  copy.metadata.annotations = { ...podAnnotations, [annotations.status]: formatPodStatus(status) };
  // The sidecar is the first container without native sidecars; keep `kubectl logs/exec` on the collector.
  if (!settings.nativeSidecars && !podAnnotations['kubectl.kubernetes.io/default-container']) {
    copy.metadata.annotations['kubectl.kubernetes.io/default-container'] = collector.name;
  }
  const size = JSON.stringify(copy).length;
  if (size > maxInjectedPodBytes) {
    return { pod: copyForMutation(pod), warnings: boundedWarnings([...warnings, `edot-ta: not injected: the injected pod would be ${size} bytes, above the ${maxInjectedPodBytes} the API server accepts (the render container copies the collector's env)`]), injected: false, reason: 'injected pod too large' };
  }
  return { pod: copy, warnings: status.warnings, injected: true };
}

/**
 * A copy that shares every part the mutation never writes to. The mutation only assigns fields
 * of the pod, its metadata, its spec and its regular containers (new arrays and objects, never
 * writes inside existing ones), so copying those levels keeps the input unchanged (a test runs
 * every fixture on a deep-frozen pod) and lets the diff skip each shared subtree by identity
 * instead of walking a deep copy of the whole pod.
 */
function copyForMutation(pod: V1Pod): V1Pod {
  const copy: V1Pod = { ...pod };
  if (pod.metadata) copy.metadata = { ...pod.metadata };
  if (pod.spec) {
    copy.spec = { ...pod.spec };
    if (Array.isArray(pod.spec.containers)) {
      copy.spec.containers = pod.spec.containers.map((c) => (typeof c === 'object' && c !== null ? { ...c } : c));
    }
  }
  return copy;
}

const isString = (v: unknown): v is string => typeof v === 'string';
/** Omitted: the API server serializes unset optional fields by leaving them out, never as null. */
const absent = (v: unknown) => v === undefined;
const listOf = (value: unknown, ok: (item: unknown) => boolean) => absent(value) || (Array.isArray(value) && value.every(ok));
const stringMap = (value: unknown) => absent(value) || (isObject(value) && Object.values(value).every(isString));
const named = (extra: (o: Record<string, unknown>) => boolean = () => true) => (item: unknown) => isObject(item) && isString(item.name) && extra(item);

/** What in the pod-level fields the mutation reads has the wrong shape, if anything. */
function podShapeProblem(pod: V1Pod): string | undefined {
  const meta: unknown = pod.metadata;
  if (!absent(meta) && !isObject(meta)) return 'metadata is not an object';
  const optionalObject = (v: unknown) => absent(v) || isObject(v);
  const m = (meta ?? {}) as Record<string, unknown>;
  if (!stringMap(m.annotations) || !stringMap(m.labels)) return 'metadata.annotations/labels are not string maps';
  if (!absent(m.name) && !isString(m.name)) return 'metadata.name is not a string';
  if (!absent(m.generateName) && !isString(m.generateName)) return 'metadata.generateName is not a string';
  if (!listOf(m.ownerReferences, (r) => isObject(r) && isString(r.kind) && isString(r.name))) return 'an ownerReference has no kind or name';
  const spec = pod.spec as unknown as Record<string, unknown>;
  const container = named((c) => (absent(c.image) || isString(c.image)) && listOf(c.ports, isObject) && listOf(c.env, named((e) => (absent(e.value) || isString(e.value)) && optionalObject(e.valueFrom))) && optionalObject(c.lifecycle) && optionalObject(c.securityContext) && optionalObject(c.resources));
  if (!listOf(spec.containers, container) || !listOf(spec.initContainers, container)) return 'a container has no name, or a malformed image, ports, env, lifecycle or securityContext';
  const items = (source: unknown) => absent(source) || (isObject(source) && listOf(source.items, (i) => isObject(i) && isString(i.path)));
  const volume = named((v) => items(v.configMap) && items(v.secret) && optionalObject(v.emptyDir) && (absent(v.projected) || (isObject(v.projected) && listOf(v.projected.sources, (src) => isObject(src) && items(src.configMap) && items(src.secret)))));
  if (!listOf(spec.volumes, volume)) return 'a volume has no name or malformed items';
  if (!optionalObject(spec.securityContext)) return 'spec.securityContext is not an object';
  if (!absent(spec.terminationGracePeriodSeconds) && typeof spec.terminationGracePeriodSeconds !== 'number') return 'spec.terminationGracePeriodSeconds is not a number';
  return undefined;
}

/** What in the collector container's fields has the wrong shape, if anything. */
function collectorShapeProblem(collector: V1Container): string | undefined {
  if (!listOf(collector.volumeMounts, named((m) => isString(m.mountPath) && (absent(m.subPath) || isString(m.subPath))))) return `container ${collector.name} has a volumeMount without a name or mountPath`;
    if (!listOf(collector.args, isString) || !listOf(collector.command, isString)) return `container ${collector.name} has command/args that are not strings`;
  if (!absent(collector.workingDir) && !isString(collector.workingDir)) return `container ${collector.name} has a workingDir that is not a string`;
  return undefined;
}

function sidecarPort(annotation: string | undefined, fallback: number, warnings: string[]): number {
  if (annotation === undefined) return fallback;
  // Digits only: Number() would also take " 80 ", "0x50" and "1e3".
  const port = /^[0-9]{1,5}$/.test(annotation) ? Number(annotation) : NaN;
  if (port >= 1 && port <= 65535) return port;
  warnings.push(`edot-ta: annotation ${annotations.port}="${quoted(annotation)}" is not a port number (digits, 1-65535); using ${fallback}`);
  return fallback;
}

/** A user value inside a warning, cut short: warnings land in the status annotation and in kubectl output. */
const quoted = (value: string) => (value.length > 64 ? `${value.slice(0, 64)}…` : value);

/** Warnings in an admission response and the status annotation: each at most 512 characters, at most 20. */
export function boundedWarnings(warnings: string[]): string[] {
  const cut = warnings.slice(0, 20).map((w) => (w.length > 512 ? `${w.slice(0, 511)}…` : w));
  if (warnings.length > 20) cut.push(`edot-ta: ${warnings.length - 20} more warnings not shown`);
  return cut;
}

/**
 * The API server refuses objects above ~1.5 MiB (etcd's request limit); the render container
 * copies the collector's env, so a pod with a huge env could cross it once injected.
 */
export const maxInjectedPodBytes = 1_400_000;

/** `--sidecar-pod-scope auto`: node for a DaemonSet's pods (a collector on every node), cluster for other workloads. */
function autoPodScope(pod: V1Pod, context: PodMutationContext): PodScope {
  const owner = context.workload?.kind ?? ((pod.metadata?.ownerReferences ?? []).find((ref) => ref.controller) ?? pod.metadata?.ownerReferences?.[0])?.kind;
  return owner === 'DaemonSet' ? 'node' : 'cluster';
}

function podScopeFor(annotation: string | undefined, fallback: PodScope, warnings: string[]): PodScope {
  if (annotation === undefined) return fallback;
  if (isPodScope(annotation)) return annotation;
  warnings.push(`edot-ta: annotation ${annotations.podScope}="${quoted(annotation)}" is not ${podScopes.join(' or ')}; using ${fallback}`);
  return fallback;
}

/** Checked with the sidecar's own parser: a value it would refuse must not reach the pod (it would stop the sidecar). */
function prometheusCRFor(annotation: string | undefined, fallback: string, warnings: string[]): string | undefined {
  if (annotation !== undefined) {
    try {
      parsePrometheusCREnv(annotation);
      return JSON.stringify(JSON.parse(annotation));
    } catch (err) {
      warnings.push(`edot-ta: annotation ${annotations.prometheusCR} is not usable (${err instanceof Error ? err.message : String(err)}); using the webhook default`);
    }
  }
  return fallback === '' ? undefined : fallback;
}

/** The absolute, normalized path (`..` resolved, so the mount that holds it is the real one). */
function resolvePath(path: string, workingDir: string | undefined): string | undefined {
  if (path.includes('$(')) return undefined;
  if (path.startsWith('/')) return posix.normalize(path);
  if (workingDir?.startsWith('/')) return posix.normalize(posix.join(workingDir, path));
  return undefined;
}

/** A valid label value (the sidecar labels its Lease with edot-ta.io/group=<group>). */
function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned || 'default';
}

/** The collector group: the workload that owns the pod (all its pods share one group). */
export function groupName(pod: V1Pod, context: PodMutationContext = {}): string {
  if (context.workload) return labelValue(context.workload.name);
  const owner = (pod.metadata?.ownerReferences ?? []).find((ref) => ref.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (owner) {
    if (owner.kind === 'ReplicaSet') {
      const hash = pod.metadata?.labels?.['pod-template-hash'];
      const name = hash && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner.name.replace(/-[a-z0-9]{1,10}$/, '');
      return labelValue(name);
    }
    return labelValue(owner.name);
  }
  const instance = pod.metadata?.labels?.['app.kubernetes.io/instance'];
  if (instance) return labelValue(instance);
  if (pod.metadata?.generateName) return labelValue(pod.metadata.generateName);
  return labelValue(pod.metadata?.name ?? 'default');
}
