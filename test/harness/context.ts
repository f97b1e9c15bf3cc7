// What an e2e test uses: the shared cluster's endpoints, API clients, a fresh namespace per
// test, kubectl bound to the test kubeconfig, and apiserver stop/start for outage tests.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { ProvidedCluster } from './global-setup.js';
import { registerNode } from './nodes.js';
import { tool } from './tools.js';

const execFileAsync = promisify(execFile);

export function clusterEndpoints(): ProvidedCluster {
  const cluster = inject('cluster');
  if (!cluster) throw new Error('no cluster provided: run e2e tests through the vitest "e2e" project');
  return cluster;
}

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterEndpoints().kubeconfigPath);
  return kc;
}

export function clients() {
  const kc = kubeConfig();
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    apiextensions: kc.makeApiClient(k8s.ApiextensionsV1Api),
    admissionregistration: kc.makeApiClient(k8s.AdmissionregistrationV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}

/** Creates a namespace with a unique name (and the given labels) for one test. */
export async function createTestNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase().slice(0, 63);
  await clients().core.createNamespace({ body: { metadata: { name, labels } } });
  return name;
}

/** Runs kubectl against the test cluster; rejects with kubectl's stderr on failure. */
export async function kubectl(args: string[], options: { input?: string } = {}): Promise<string> {
  const full = ['--kubeconfig', clusterEndpoints().kubeconfigPath, ...args];
  if (options.input === undefined) {
    const { stdout } = await execFileAsync(tool('kubectl'), full, { maxBuffer: 16 << 20 });
    return stdout;
  }
  return new Promise((resolve, reject) => {
    const child = execFile(tool('kubectl'), full, { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
    );
    child.stdin?.end(options.input);
  });
}

async function control(action: 'stop' | 'start'): Promise<void> {
  const res = await fetch(`${clusterEndpoints().controlUrl}/apiserver/${action}`, { method: 'POST' });
  if (!res.ok) throw new Error(`apiserver ${action} failed: ${await res.text()}`);
}

/** Stops and restarts the shared apiserver (etcd keeps the state) for outage tests. */
export const apiServer = {
  stop: () => control('stop'),
  start: () => control('start'),
};

/** Sets a pod's IP (and phase Running, Ready) through the status subresource, as a kubelet would. */
export async function setPodRunning(namespace: string, name: string, podIP: string, hostIP = '127.0.0.1'): Promise<void> {
  const { core } = clients();
  await registerNode(core, (await core.readNamespacedPod({ name, namespace })).spec?.nodeName);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await kubectl([
    'patch', 'pod', name, '-n', namespace, '--subresource=status', '--type=merge',
    '-p', JSON.stringify({
      status: {
        phase: 'Running',
        podIP,
        podIPs: [{ ip: podIP }],
        hostIP,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
      },
    }),
  ]);
}

/** The apiserver's own /metrics text (what it served), read with the admin token. */
export async function apiserverMetrics(): Promise<string> {
  const { server, adminToken, caFile } = clusterEndpoints();
  return new Promise<string>((resolve, reject) => {
    const req = httpsRequest(`${server}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` }, ca: readFileSync(caFile) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    });
    req.once('error', reject).end();
  });
}

/** Sums the samples of `metric` whose label text matches every pattern. */
export function sumMetric(text: string, metric: string, ...patterns: RegExp[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labels = line.slice(metric.length, line.lastIndexOf('}') + 1);
    if (patterns.every((p) => p.test(labels))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
