// `edot-ta sidecar serve` as a real process with the environment the webhook gives the sidecar
// of a pod (downward-API identity, group), for the e2e files that run sidecars.
import { startProcess, type ManagedProcess } from '../../harness/processes.js';
import { ensureBuilt } from './webhook.js';

const repoRoot = new URL('../../../', import.meta.url).pathname;

export interface SidecarProcessOptions {
  /** Process name for logs (`sidecar-<name>`). */
  name: string;
  logFile: string;
  port: number;
  /** Flags after `--listen`. */
  args: string[];
  kubeconfig: string;
  pod: { name: string; uid: string; namespace: string; node: string };
  group: string;
  /** Further env (EDOT_TA_PROMETHEUS_CR, lease timings). */
  env?: Record<string, string>;
  /** A resolv.conf of its own (dns_sd against the test's DNS server). */
  resolvConf?: string;
  /** Run the built image entry (dist/cli/main.js, as in the pod) instead of the sources through tsx: less CPU for many members. */
  built?: boolean;
}

export function startSidecarProcess(options: SidecarProcessOptions): ManagedProcess {
  const { pod } = options;
  if (options.built) ensureBuilt();
  const entry = options.built ? ['dist/cli/main.js'] : ['--import', 'tsx', 'cli/main.ts'];
  return startProcess(`sidecar-${options.name}`, process.execPath, [...entry, 'sidecar', 'serve', '--listen', `127.0.0.1:${options.port}`, ...options.args], {
    cwd: repoRoot,
    logFile: options.logFile,
    ...(options.resolvConf ? { resolvConf: options.resolvConf } : {}),
    env: {
      ...process.env,
      KUBECONFIG: options.kubeconfig,
      POD_NAME: pod.name,
      POD_UID: pod.uid,
      POD_NAMESPACE: pod.namespace,
      NODE_NAME: pod.node,
      EDOT_TA_GROUP: options.group,
      ...options.env,
    },
  });
}
