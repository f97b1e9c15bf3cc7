// Vitest global setup for the e2e project: one real cluster for every e2e file.
// Tests reach it through `inject('cluster')` (see ./context.ts); they stop and restart the
// apiserver for outage tests through a small loopback control endpoint served from here,
// because the Cluster object lives in this process, not in the test workers.
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { Cluster, type ClusterEndpoints } from './cluster.js';
import { installCrds } from './crds.js';

export interface ProvidedCluster extends ClusterEndpoints {
  /** POST {controlUrl}/apiserver/stop | /apiserver/start */
  controlUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ProvidedCluster;
  }
}

export default async function setup(project: TestProject) {
  const startedAt = Date.now();
  const cluster = await Cluster.start({ log: (msg) => console.log(`[harness] ${msg}`) });
  // Every e2e file finds the PodMonitor, ServiceMonitor and OpenTelemetryCollector CRDs installed.
  await installCrds(cluster.endpoints.kubeconfigPath, fileURLToPath(new URL('../fixtures/crds/', import.meta.url)));
  console.log(`[harness] cluster up with CRDs in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  const control = await serveControl(cluster);
  const address = control.address();
  const controlUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  project.provide('cluster', { ...cluster.endpoints, controlUrl });
  return async () => {
    control.close();
    await cluster.stop();
  };
}

function serveControl(cluster: Cluster): Promise<Server> {
  const server = createServer((req, res) => {
    const done = (status: number, body: string) => res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    const action =
      req.method === 'POST' && req.url === '/apiserver/stop'
        ? cluster.stopApiServer()
        : req.method === 'POST' && req.url === '/apiserver/start'
          ? cluster.startApiServer()
          : undefined;
    if (!action) return done(404, 'unknown control action');
    action.then(
      () => done(200, `apiserver pid ${cluster.endpoints.apiserverPid} running=${cluster.apiServerRunning}`),
      (err: unknown) => done(500, err instanceof Error ? err.message : String(err)),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
