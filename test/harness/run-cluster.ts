// Starts the embedded real cluster (and optionally a Prometheus) and keeps it up until
// SIGINT/SIGTERM: `npx tsx test/harness/run-cluster.ts [--with-prometheus]`.
// Prints one JSON line with the endpoints and child pids first, so tests and scripts can use it.
import { Cluster } from './cluster.js';
import { Prometheus } from './prometheus.js';

const withPrometheus = process.argv.includes('--with-prometheus');
const cluster = await Cluster.start({ log: (msg) => console.error(`[cluster] ${msg}`) });
const prometheus = withPrometheus ? await Prometheus.start({ global: { scrape_interval: '15s' }, scrape_configs: [] }) : undefined;
console.log(
  JSON.stringify({
    kubeconfig: cluster.endpoints.kubeconfigPath,
    server: cluster.endpoints.server,
    prometheus: prometheus?.url,
    pids: { apiserver: cluster.endpoints.apiserverPid, ...cluster.childPids(), ...(prometheus ? { prometheus: prometheus.pid } : {}) },
  }),
);
console.error(`[cluster] ready: kubectl --kubeconfig ${cluster.endpoints.kubeconfigPath} get ns  (Ctrl-C stops everything)`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await prometheus?.stop();
  await cluster.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
