// Where a collector's --config file lives (which mount, which volume) and whether the render
// init container, running as a non-root uid, can read it there.
import type { V1PodSecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';

/** The mount with the longest mountPath that contains the file. */
export function mountHolding(mounts: V1VolumeMount[], path: string): V1VolumeMount | undefined {
  let best: V1VolumeMount | undefined;
  for (const mount of mounts) {
    const root = mount.mountPath.replace(/\/$/, '');
    if ((path === root || path.startsWith(root + '/')) && (!best || root.length > best.mountPath.replace(/\/$/, '').length)) best = mount;
  }
  return best;
}

export function uniqueByMountPath(mounts: V1VolumeMount[]): V1VolumeMount[] {
  const seen = new Map<string, V1VolumeMount>();
  for (const mount of mounts) if (!seen.has(mount.mountPath)) seen.set(mount.mountPath, { ...mount });
  return [...seen.values()];
}

/** Paths the sidecar image itself needs: a collector mount there would shadow the sidecar's own files. */
const sidecarSystemPaths = ['/', '/app', '/bin', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var'];

/**
 * The collector's mounts whose files are the same in every pod of its group: ConfigMap volumes
 * (and projected volumes made of ConfigMaps only). The sidecar mounts them read-only at the same
 * paths, so file_sd jobs reading files there move to it (a hostPath file may differ per node).
 * Mounts on system paths (/etc, /usr, ...) are left out: they would shadow the sidecar's own files.
 */
export function sharedConfigMapMounts(mounts: V1VolumeMount[], volumes: V1Volume[]): V1VolumeMount[] {
  const clashes = (path: string) => sidecarSystemPaths.includes(path.replace(/\/+$/, '') || '/');
  const shared = (volume: V1Volume | undefined) =>
    volume?.configMap !== undefined || (volume?.projected !== undefined && (volume.projected.sources ?? []).length > 0 && (volume.projected.sources ?? []).every((source) => source.configMap && Object.keys(source).length === 1));
  return uniqueByMountPath(mounts.filter((mount) => !clashes(mount.mountPath) && shared(volumes.find((v) => v.name === mount.name)))).map((mount) => ({ name: mount.name, mountPath: mount.mountPath, ...(mount.subPath ? { subPath: mount.subPath } : {}), readOnly: true }));
}

/**
 * Why the render step (another uid than the collector) could not read the file, or undefined when
 * it can. ConfigMap/Secret/projected files get the volume's (or item's) mode, owned by root with
 * the pod's fsGroup as group: world-readable works, group-readable works with an fsGroup.
 */
export function unreadableReason(volume: V1Volume | undefined, filePath: string, mount: V1VolumeMount, podSecurity: V1PodSecurityContext | undefined): string | undefined {
  if (!volume) return `volume ${mount.name} is not in the pod`;
  const relative = mount.subPath ? mount.subPath : filePath.slice(mount.mountPath.replace(/\/$/, '').length + 1);
  const modeOf = (defaultMode: number | undefined, items: Array<{ path: string; mode?: number }> | undefined) =>
    items?.find((item) => item.path === relative)?.mode ?? defaultMode ?? 0o644;
  let mode: number | undefined;
  if (volume.configMap) mode = modeOf(volume.configMap.defaultMode, volume.configMap.items);
  else if (volume.secret) mode = modeOf(volume.secret.defaultMode, volume.secret.items);
  else if (volume.projected) {
    const items = (volume.projected.sources ?? []).flatMap((source) => [...(source.configMap?.items ?? []), ...(source.secret?.items ?? [])]);
    mode = modeOf(volume.projected.defaultMode, items);
  }
  if (mode === undefined) return undefined; // emptyDir, hostPath, CSI...: permissions unknown here, assume readable
  const worldReadable = (mode & 0o004) !== 0;
  const groupReadable = (mode & 0o040) !== 0 && podSecurity?.fsGroup !== undefined;
  if (worldReadable || groupReadable) return undefined;
  return `volume ${volume.name} gives the file mode 0${mode.toString(8)}, which the render step (non-root) cannot read`;
}
