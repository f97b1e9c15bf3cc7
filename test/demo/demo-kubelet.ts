// A "kubelet" just big enough for the demo and e2e tests: it runs the containers of a pod that
// the real webhook mutated as local processes, exactly as their spec says — volumes become
// local folders (ConfigMaps are written out, emptyDirs start empty), container paths in args
// are mapped onto them, env comes from values and the downward API. What runs is the pod
// spec the API server stored, so the demo proves the injected spec, not a hand-made copy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CoreV1Api, V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';

export interface LocalPod {
  pod: V1Pod;
  /** volume name → local folder */
  volumes: Map<string, string>;
}

/** Materialises the pod's volumes under `root` (configMap: files from the API; emptyDir: empty). */
export async function prepareVolumes(core: CoreV1Api, pod: V1Pod, root: string): Promise<LocalPod> {
  const volumes = new Map<string, string>();
  const namespace = pod.metadata?.namespace ?? 'default';
  for (const volume of pod.spec?.volumes ?? []) {
    const dir = join(root, volume.name);
    mkdirSync(dir, { recursive: true });
    if (volume.configMap?.name) {
      const configMap = await core.readNamespacedConfigMap({ name: volume.configMap.name, namespace });
      const items = volume.configMap.items ?? Object.keys(configMap.data ?? {}).map((key) => ({ key, path: key }));
      for (const item of items) writeFileSync(join(dir, item.path), configMap.data?.[item.key] ?? '');
    } else if (!volume.emptyDir) {
      throw new Error(`volume ${volume.name}: only configMap and emptyDir volumes can run locally`);
    }
    volumes.set(volume.name, dir);
  }
  return { pod, volumes };
}

export function findContainer(pod: V1Pod, name: string): V1Container {
  const container = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === name);
  if (!container) throw new Error(`pod ${pod.metadata?.name} has no container ${name}`);
  return container;
}

/**
 * The edot-ta CLI arguments of a container of our image, with every mount path replaced by its
 * local folder (longest first). `command[0]` (or the image's entrypoint when there is no
 * command) is the edot-ta executable; the rest of command, then args, are its arguments.
 */
export function localArgs(local: LocalPod, container: V1Container): string[] {
  const argv = container.command ? [...container.command.slice(1), ...(container.args ?? [])] : (container.args ?? []);
  const mounts = (container.volumeMounts ?? [])
    .map((mount) => ({ from: mount.mountPath.replace(/\/$/, ''), to: local.volumes.get(mount.name) }))
    .filter((m): m is { from: string; to: string } => m.to !== undefined)
    .sort((a, b) => b.from.length - a.from.length);
  return argv.map((arg) => {
    for (const { from, to } of mounts) {
      const at = arg.indexOf(`${from}/`);
      if (at >= 0) return arg.slice(0, at) + to + arg.slice(at + from.length);
    }
    return arg;
  });
}

/** Env as the kubelet would set it: literal values and downward-API fields of the pod. */
export function containerEnv(pod: V1Pod, container: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const value = resolveEnv(pod, variable);
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

function resolveEnv(pod: V1Pod, variable: V1EnvVar): string | undefined {
  if (variable.value !== undefined) return variable.value;
  const path = variable.valueFrom?.fieldRef?.fieldPath;
  if (!path) return undefined;
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name,
    'metadata.namespace': pod.metadata?.namespace,
    'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': pod.status?.podIP,
    'status.hostIP': pod.status?.hostIP,
  };
  if (path in fields) return fields[path];
  const keyed = /^metadata\.(annotations|labels)\['(.+)'\]$/.exec(path);
  if (keyed) return (keyed[1] === 'annotations' ? pod.metadata?.annotations : pod.metadata?.labels)?.[keyed[2] ?? ''];
  throw new Error(`env ${variable.name}: downward API field ${path} is not supported locally`);
}
