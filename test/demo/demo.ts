// `npm run demo`: the product end to end on the embedded real cluster (etcd + kube-apiserver).
// A development tool beside the test harness it runs on, not part of the image: the webhook,
// render steps and sidecars it starts are the built CLI (dist/cli/main.js) in plain node.
// The real webhook injects an unchanged EDOT DaemonSet's pods; their render steps and sidecars
// run as local processes from the stored pod specs, and beside each a real OpenTelemetry
// collector (the contrib prometheus receiver EDOT ships, built by `npm run setup`) on the
// rendered receiver config; the demo then shows, from the collectors' own output, who scrapes
// which Istio gateway.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { createWebhookCertificates } from '../../certs/ca.js';
import { shippedWebhookConfiguration } from '../e2e/support/webhook.js';
import { Cluster } from '../harness/cluster.js';
import { Collector, prometheusOnlyConfig, scrapedBy } from '../harness/collector.js';
import { installCrds } from '../harness/crds.js';
import { freePort, waitFor } from '../harness/processes.js';
import { parseFlags, UsageError } from '../../common/args.js';
import { containerEnv, findContainer, localArgs, prepareVolumes } from './demo-kubelet.js';
import * as scenario from './demo-scenario.js';
import { packageRoot } from '../../common/version.js';
import { registerNode } from '../harness/nodes.js';

const help = `Usage: npm run demo [-- --no-wait]

Runs edot-ta on an embedded real cluster (etcd + kube-apiserver built by \`npm run setup\`):
the webhook injects an EDOT DaemonSet's pods, their sidecars share out Istio gateway targets,
and each collector's prometheus receiver (a real collector) scrapes its share.
  --no-wait   exit after showing the result (default when not on a terminal or CI=true)`;

interface Running {
  cluster?: Cluster;
  processes: ChildProcess[];
  collectors: Collector[];
  servers: Array<{ close(): void }>;
  dir: string;
}

const say = (msg: string) => console.log(`\x1b[1m▸\x1b[0m ${msg}`);

export async function run(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, { 'no-wait': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }).values;
  } catch (err) {
    if (err instanceof UsageError) return console.error(`edot-ta demo: ${err.message}\n\n${help}`), 2;
    throw err;
  }
  if (flags.help) return console.log(help), 0;
  const wait = !flags['no-wait'] && process.stdout.isTTY && !process.env.CI;
  const running: Running = { processes: [], collectors: [], servers: [], dir: mkdtempSync(join(tmpdir(), 'edot-ta-demo-')) };
  const stop = () => cleanup(running).then(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const ok = await demo(running);
    if (wait) {
      say('Running. Try the commands above; Ctrl-C stops everything.');
      await new Promise(() => {});
    }
    return ok ? 0 : 1;
  } finally {
    await cleanup(running);
  }
}

async function demo(running: Running): Promise<boolean> {
  const root = packageRoot();
  say('Starting etcd and a real kube-apiserver…');
  const cluster = (running.cluster = await Cluster.start());
  const kubeconfig = cluster.endpoints.kubeconfigPath;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  await installCrds(kubeconfig, join(root, 'test/fixtures/crds'));

  say('Starting the edot-ta webhook over HTTPS with a fresh CA…');
  const certs = createWebhookCertificates({ service: 'edot-ta-webhook', namespace: 'edot-ta-system', ips: ['127.0.0.1'], validityDays: 7 });
  const certDir = join(running.dir, 'webhook-certs');
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, 'tls.crt'), certs.serving.certPem);
  writeFileSync(join(certDir, 'tls.key'), certs.serving.keyPem, { mode: 0o600 });
  const webhookPort = await freePort();
  running.processes.push(
    startCli(running, 'webhook', ['webhook', `--port=${webhookPort}`, '--listen-address=127.0.0.1', `--cert-dir=${certDir}`, '--sidecar-image=edot-ta:demo', '--native-sidecars=false'], {}),
  );
  const agent = new Agent({ ca: certs.ca.certPem });
  await waitFor('the webhook /readyz', () => httpsOk(`https://127.0.0.1:${webhookPort}/readyz`, agent), { timeoutMs: 20_000 });
  // The shipped MutatingWebhookConfiguration, pointed at the local webhook by URL.
  await kc.makeApiClient(k8s.AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: shippedWebhookConfiguration({
      name: 'edot-ta',
      namespaceSelector: { 'edot-ta.io/inject': 'enabled' },
      clientConfig: { url: `https://127.0.0.1:${webhookPort}/mutate`, caBundle: Buffer.from(certs.ca.certPem).toString('base64') },
      timeoutSeconds: 5,
    }),
  });

  say('Deploying an Istio-like mesh: 8 ingress gateways on node-a..node-d, Istio\'s envoy-stats-monitor PodMonitor…');
  running.servers.push(...(await scenario.startTargetServers()));
  await core.createNamespace({ body: { metadata: { name: scenario.meshNamespace } } });
  for (const gateway of scenario.gateways()) {
    await core.createNamespacedPod({ namespace: scenario.meshNamespace, body: scenario.gatewayPod(gateway) });
    await setRunning(core, scenario.meshNamespace, gateway.name, gateway.ip);
  }
  await custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace: scenario.meshNamespace, plural: 'podmonitors', body: scenario.envoyStatsMonitor });

  say(`Opting in namespace ${scenario.collectorNamespace} (label edot-ta.io/inject=enabled) and deploying an unchanged EDOT DaemonSet on node-a..node-c…`);
  await core.createNamespace({ body: { metadata: { name: scenario.collectorNamespace, labels: { 'edot-ta.io/inject': 'enabled' } } } });
  await core.createNamespacedConfigMap({ namespace: scenario.collectorNamespace, body: scenario.collectorConfigMap });
  const daemonSet = await apps.createNamespacedDaemonSet({ namespace: scenario.collectorNamespace, body: scenario.collectorDaemonSet });
  const pods: k8s.V1Pod[] = [];
  for (const [index, node] of scenario.collectorNodes.entries()) {
    const created = await core.createNamespacedPod({ namespace: scenario.collectorNamespace, body: scenario.collectorPod(daemonSet, node, index) });
    pods.push(created);
  }
  const status = JSON.parse(pods[0]?.metadata?.annotations?.['edot-ta.io/status'] ?? 'null') as Record<string, unknown> | null;
  if (!status) {
    console.error('The webhook did not inject the collector pods: see the webhook log in ' + running.dir);
    return false;
  }
  say(`Injected (kubectl describe pod shows annotation edot-ta.io/status):\n${indent(JSON.stringify(status, null, 2))}`);

  say('Running each collector pod\'s render step and sidecar from the stored pod spec…');
  const endpoints: Array<{ pod: string; node: string; url: string; config: string }> = [];
  for (const pod of pods) {
    const name = pod.metadata!.name!;
    await setRunning(core, scenario.collectorNamespace, name, '127.0.0.1');
    const local = await prepareVolumes(core, pod, join(running.dir, name));
    const render = findContainer(pod, 'edot-ta-render');
    const renderExit = await exitCode(startCli(running, `${name}-render`, localArgs(local, render), containerEnv(pod, render)));
    if (renderExit !== 0) throw new Error(`render step of ${name} exited with ${renderExit}`);
    const sidecar = findContainer(pod, 'edot-ta');
    running.processes.push(startCli(running, `${name}-sidecar`, [...localArgs(local, sidecar), `--kubeconfig=${kubeconfig}`], containerEnv(pod, sidecar)));
    const renderedDir = local.volumes.get('edot-ta-config') ?? join(running.dir, name, 'edot-ta-config');
    const rendered = readdirSync(renderedDir).find((f) => f.endsWith('collector.yaml'));
    if (!rendered) throw new Error(`render step of ${name} wrote no collector config`);
    endpoints.push({ pod: name, node: pod.spec!.nodeName!, url: `http://127.0.0.1:${pod.metadata!.annotations!['edot-ta.io/port']}`, config: join(renderedDir, rendered) });
  }
  const firstConfig = readFileSync(endpoints[0]!.config, 'utf8');
  say(`Rendered collector config, prometheus receiver now:\n${indent(JSON.stringify((parse(firstConfig) as { receivers: Record<string, unknown> }).receivers.prometheus, null, 2))}`);
  for (const endpoint of endpoints) {
    await waitFor(`sidecar of ${endpoint.pod} ready`, async () => (await fetch(`${endpoint.url}/readyz`)).ok, { timeoutMs: 60_000, intervalMs: 250 });
  }

  say('Starting a real collector per pod on its rendered prometheus receiver (target_allocator → its sidecar), exporting to a file…');
  for (const endpoint of endpoints) {
    const dir = join(running.dir, endpoint.pod);
    const output = join(dir, 'scraped.jsonl');
    const config = join(dir, 'collector-prometheus-only.yaml');
    writeFileSync(config, prometheusOnlyConfig(readFileSync(endpoint.config, 'utf8'), output));
    running.collectors.push(await Collector.start(endpoint.pod, config, output, { dir, env: { POD_NAME: endpoint.pod } }));
  }

  const expected = [...scenario.gateways().map((g) => `${g.ip}:15090`), `${scenario.staticTarget.ip}:${scenario.staticTarget.port}`];
  say(`Waiting until each of the ${expected.length} targets is scraped…`);
  let owners = new Map<string, string[]>();
  try {
    await waitFor('every target scraped by exactly one collector', () => {
      owners = instancesScrapedBy(running.collectors);
      return expected.every((target) => owners.get(target)?.length === 1);
    }, { timeoutMs: 90_000, intervalMs: 1_000 });
  } catch {
    // Fall through: the table below shows what is missing or doubled.
  }
  const nodeOf = new Map(scenario.gateways().map((g) => [`${g.ip}:15090`, g.node]));
  console.log(`\n  ${'target'.padEnd(20)} ${'pod on'.padEnd(8)} scraped by`);
  for (const target of expected) {
    const by = owners.get(target) ?? [];
    console.log(`  ${target.padEnd(20)} ${(nodeOf.get(target) ?? '-').padEnd(8)} ${by.length ? by.join(', ') : 'NOBODY'}${by.length > 1 ? '   ← scraped twice' : ''}`);
  }
  const exactlyOnce = expected.every((target) => owners.get(target)?.length === 1);
  console.log('');
  say(exactlyOnce ? `Every target is scraped by exactly one collector; gateways on node-a..c by their node's collector.` : 'Not every target is scraped exactly once (see above).');
  say(`Explore: kubectl --kubeconfig ${kubeconfig} describe pod -n ${scenario.collectorNamespace} ${endpoints[0]?.pod}`);
  for (const [i, endpoint] of endpoints.entries()) {
    say(`  ${endpoint.pod}: curl -H "Authorization: Bearer $(cat ${join(dirname(endpoint.config), 'token')})" ${endpoint.url}/debug/targets  ·  scraped samples ${running.collectors[i]?.output}`);
  }
  return exactlyOnce;
}

/** instance -> collectors that scraped it over the last two scrape intervals (the demo's are 15 s). */
function instancesScrapedBy(collectors: Collector[]): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const [key, by] of scrapedBy(collectors, Date.now() - 31_000)) {
    const instance = key.slice(key.lastIndexOf('|') + 1);
    owners.set(instance, [...new Set([...(owners.get(instance) ?? []), ...by])]);
  }
  return owners;
}

function startCli(running: Running, name: string, args: string[], env: Record<string, string>): ChildProcess {
  const entry = join(packageRoot(), 'dist/cli/main.js');
  const log = createWriteStream(join(running.dir, `${name}.log`));
  const child = spawn('/usr/bin/setpriv', ['--pdeathsig', 'TERM', '--', process.execPath, entry, ...args], {
    env: { ...process.env, ...env, EDOT_TA_LOG_LEVEL: process.env.EDOT_TA_LOG_LEVEL ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function httpsOk(url: string, agent: Agent): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function setRunning(core: k8s.CoreV1Api, namespace: string, name: string, podIP: string): Promise<void> {
  const pod = await core.readNamespacedPod({ name, namespace });
  await registerNode(core, pod.spec?.nodeName); // as its kubelet would
  pod.status = { phase: 'Running', podIP, podIPs: [{ ip: podIP }], hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] };
  await core.replaceNamespacedPodStatus({ name, namespace, body: pod });
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}

async function cleanup(running: Running): Promise<void> {
  for (const child of running.processes) child.kill('SIGTERM');
  await Promise.all(running.collectors.map((c) => c.stop().catch(() => {})));
  for (const server of running.servers) server.close();
  await running.cluster?.stop().catch(() => {});
  running.cluster = undefined;
  running.processes = [];
  running.collectors = [];
  running.servers = [];
  if (!process.env.EDOT_TA_KEEP_CLUSTER_STATE) rmSync(running.dir, { recursive: true, force: true });
}
