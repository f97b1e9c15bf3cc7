// One collector pod played by real processes, as the webhook injects it: `edot-ta sidecar
// render` on the user's collector config (with the collector's env), `edot-ta sidecar serve`
// with the pod's env, then the real collector on the rendered config. Shared by the e2e files
// that run real collectors against their sidecars.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type * as k8s from '@kubernetes/client-node';
import { Collector } from '../../harness/collector.js';
import { freePort, waitFor, type ManagedProcess } from '../../harness/processes.js';
import { startSidecarProcess } from './sidecar.js';

const execFileAsync = promisify(execFile);
const repoRoot = new URL('../../../', import.meta.url).pathname;

export interface Member {
  name: string;
  node: string;
  endpoint: string;
  /** The API token render wrote (the sidecar answers 401 without it). */
  token: string;
  sidecar: ManagedProcess;
  collector: Collector;
  /** What render said about each job (moved, kept in the collector, removed). */
  renderLog: string;
}

export interface MemberOptions {
  core: k8s.CoreV1Api;
  kubeconfig: string;
  namespace: string;
  name: string;
  node: string;
  dir: string;
  /** The user's collector config; its file exporter writes to `output`. */
  config: (output: string) => string;
  /** The collector container's env (render and collector see it). */
  collectorEnv?: Record<string, string>;
  /** --pod-local-env, as the webhook derives it from the collector's fieldRef env. */
  podLocalEnv?: string[];
  /** Extra sidecar env (prometheusCR, lease timings). */
  sidecarEnv?: Record<string, string>;
  sidecarArgs?: string[];
  /** target_allocator interval and http_sd refresh (short in tests). */
  pollInterval?: string;
  /** --shared-paths for render: directories the sidecar reads as the collector does (its ConfigMap mounts). */
  sharedPaths?: string[];
  /** A resolv.conf for the sidecar (dns_sd against the test's DNS server). */
  resolvConf?: string;
}

export async function startMember(options: MemberOptions): Promise<Member> {
  const { core, namespace, name, node, dir } = options;
  const created = await core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { nodeName: node, containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } } });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const original = join(dir, `${name}.config.yaml`);
  const rendered = join(dir, `${name}.rendered.yaml`);
  const scrapeConfigs = join(dir, `${name}.scrape-configs.yaml`);
  const output = join(dir, `${name}.metrics.jsonl`);
  const token = join(dir, `${name}.token`);
  writeFileSync(original, options.config(output));
  const interval = options.pollInterval ?? '1s';
  const podEnv = { POD_NAME: name, ...options.collectorEnv };
  const render = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', 'sidecar', 'render', '--in', original, '--out', rendered, '--scrape-configs-out', scrapeConfigs, '--endpoint', endpoint, '--interval', interval, '--refresh-interval', interval,
      ...(options.podLocalEnv ? [`--pod-local-env=${options.podLocalEnv.join(',')}`] : []),
      ...(options.sharedPaths ? [`--shared-paths=${options.sharedPaths.join(',')}`] : []),
      // As injected: a per-pod API token the receiver sends and the sidecar requires.
      '--token-out', token],
    { cwd: repoRoot, env: { ...process.env, ...podEnv } },
  );
  const sidecar = startSidecarProcess({
    name,
    logFile: join(dir, `${name}.sidecar.log`),
    port,
    args: ['--scrape-configs', scrapeConfigs, '--token-file', token, ...(options.sidecarArgs ?? [])],
    kubeconfig: options.kubeconfig,
    pod: { name, uid: created.metadata?.uid ?? '', namespace, node },
    group: `${namespace}/edot`,
    ...(options.sidecarEnv ? { env: options.sidecarEnv } : {}),
    ...(options.resolvConf ? { resolvConf: options.resolvConf } : {}),
  });
  await waitFor(`${name} sidecar /readyz`, async () => (await fetch(`${endpoint}/readyz`)).ok, { timeoutMs: 60_000, abortIf: sidecar.exited, describe: () => sidecar.tail() });
  // The receiver's collector_id is `${env:POD_NAME}` in the rendered config, as in a pod.
  const collector = await Collector.start(name, rendered, output, { dir, env: podEnv });
  return { name, node, endpoint, token: readFileSync(token, 'utf8'), sidecar, collector, renderLog: render.stderr };
}
