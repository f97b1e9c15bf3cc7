// What the members cost the API server, read from its own /metrics (apiserver_watch_events_total,
// apiserver_request_total): 8 sidecars (as injected, under the collector's ServiceAccount) on 8
// of 40 nodes, 800 pod targets on all 40 nodes. Pod scope `cluster` (every member watches every
// pod) beside `node` (each member watches its own node and the member-less nodes it covers) in
// the same run: watch events sent per pod update, and per Lease write. Then, with pod scope
// `node`: every target served exactly once, through a crash and a join, never unserved during
// the join (make-before-break of a covered node).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { apiserverMetrics, clients, clusterEndpoints, createTestNamespace, sumMetric } from '../harness/context.js';
import { freePort, waitFor, type ManagedProcess } from '../harness/processes.js';
import { sidecarServiceAccount } from './support/service-accounts.js';
import { startSidecarProcess } from './support/sidecar.js';

const nodeCount = 40;
const memberCount = 8;
const podsPerNode = 20;
const job = 'scale-pods';
const lease = { renewSeconds: 1, durationSeconds: 4, holdSeconds: 4 };

interface Cost {
  perPodUpdate: number;
  perLeaseWrite: number;
  /** Pod watches across the group, and how many of them (and how many distinct) are on this test's nodes. */
  podWatches: number;
  nodeWatches: number;
  nodesWatched: number;
}

interface Member {
  name: string;
  node: string;
  endpoint: string;
  sidecar: ManagedProcess;
}

describe('API-server cost of the members, per pod update and per Lease write (40 nodes, 8 members, 800 pods)', () => {
  const { core } = clients();
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-scale-e2e-'));
  const nodes = Array.from({ length: nodeCount }, (_, i) => `scale-${i.toString().padStart(2, '0')}`);
  const memberNodes = nodes.slice(0, memberCount * 5).filter((_, i) => i % 5 === 0); // 8 of 40
  const expected = new Set<string>();
  const members = new Map<string, Member>();
  let namespace = '';
  let kubeconfig = '';
  let scrapeConfigs = '';

  /** PATCH through the admin token (status subresource included), many at once. */
  function patch(path: string, body: unknown): Promise<void> {
    const { server, adminToken, caFile } = clusterEndpoints();
    return new Promise((resolve, reject) => {
      const req = httpsRequest(`${server}${path}`, { method: 'PATCH', headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/merge-patch+json' }, ca: readFileSync(caFile) }, (res) => {
        res.resume().on('end', () => ((res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`PATCH ${path}: ${res.statusCode}`))));
      });
      req.once('error', reject).end(JSON.stringify(body));
    });
  }

  async function inBatches<T>(items: T[], size: number, each: (item: T) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
  }

  const targetPods = () => nodes.flatMap((node, n) => Array.from({ length: podsPerNode }, (_, j) => ({ name: `t-${node}-${j}`, node, ip: `10.77.${n}.${j + 1}` })));

  beforeAll(async () => {
    namespace = await createTestNamespace('scale');
    kubeconfig = await sidecarServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir });
    // Nodes exist as objects (no kubelets): pod scope `node` learns the member-less ones from them.
    await inBatches(nodes, 20, (name) => core.createNode({ body: { metadata: { name, labels: { 'edot-ta.io/e2e': 'scale' } } } }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    }));
    await inBatches(targetPods(), 40, async ({ name, node, ip }) => {
      await core.createNamespacedPod({ namespace, body: { metadata: { name, labels: { app: 'scale-target' } }, spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', ports: [{ name: 'metrics', containerPort: 9100 }] }] } } });
      await patch(`/api/v1/namespaces/${namespace}/pods/${name}/status`, { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] } });
      expected.add(`${ip}:9100`);
    });
    scrapeConfigs = join(dir, 'scrape-configs.yaml');
    writeFileSync(scrapeConfigs, stringify({ scrape_configs: [{ job_name: job, kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] }, selectors: [{ role: 'pod', label: 'app=scale-target' }] }] }] }));
  }, 300_000);

  afterAll(async () => {
    await Promise.all([...members.values()].map((m) => m.sidecar.stop()));
    // Other tests' groups would cover these nodes too: remove them.
    await core.deleteCollectionNode({ labelSelector: 'edot-ta.io/e2e=scale' }).catch(() => undefined);
  });

  async function startMember(name: string, node: string, scope: 'node' | 'cluster'): Promise<Member> {
    const created = await core.createNamespacedPod({ namespace, body: { metadata: { name, labels: { app: 'collector' } }, spec: { nodeName: node, containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } } });
    const port = await freePort();
    const sidecar = startSidecarProcess({
      name,
      logFile: join(dir, `${name}.log`),
      port,
      built: true,
      args: ['--scrape-configs', scrapeConfigs, '--pod-scope', scope],
      kubeconfig,
      pod: { name, uid: created.metadata?.uid ?? '', namespace, node },
      group: `${namespace}/edot-${scope}`,
      env: {
        EDOT_TA_LEASE_RENEW_SECONDS: String(lease.renewSeconds),
        EDOT_TA_LEASE_DURATION_SECONDS: String(lease.durationSeconds),
        EDOT_TA_HANDOVER_HOLD_SECONDS: String(lease.holdSeconds),
        EDOT_TA_LEAVE_TIMEOUT_SECONDS: '10',
      },
    });
    const member = { name, node, endpoint: `http://127.0.0.1:${port}`, sidecar };
    members.set(name, member);
    return member;
  }

  async function startGroup(scope: 'node' | 'cluster'): Promise<Member[]> {
    const group = await Promise.all(memberNodes.map((node, i) => startMember(`collector-${scope}-${i}`, node, scope)));
    for (const member of group) {
      await waitFor(`${member.name} /readyz`, async () => (await fetch(`${member.endpoint}/readyz`)).ok, { timeoutMs: 90_000, abortIf: member.sidecar.exited, describe: () => member.sidecar.tail() });
    }
    return group;
  }

  async function stopGroup(group: Member[]): Promise<void> {
    await Promise.all(group.map(async (m) => {
      await m.sidecar.stop();
      members.delete(m.name);
      await core.deleteNamespacedPod({ name: m.name, namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
    }));
  }

  /** Target addresses each member serves to its collector now. */
  async function served(group: Iterable<Member>): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const member of group) {
      const res = await fetch(`${member.endpoint}/jobs/${job}/targets?collector_id=${member.name}`).catch(() => undefined);
      const groups = res?.ok ? ((await res.json()) as Array<{ targets: string[] }>) : [];
      out.set(member.name, groups.flatMap((g) => g.targets));
    }
    return out;
  }

  const counts = (by: Map<string, string[]>) => {
    const seen = new Map<string, number>();
    for (const targets of by.values()) for (const t of targets) seen.set(t, (seen.get(t) ?? 0) + 1);
    return { missing: [...expected].filter((t) => !seen.has(t)).length, twice: [...seen.values()].filter((n) => n > 1).length, extra: [...seen.keys()].filter((t) => !expected.has(t)).length };
  };
  const exactlyOnce = (by: Map<string, string[]>) => {
    const c = counts(by);
    return c.missing === 0 && c.twice === 0 && c.extra === 0;
  };

  /** Waits until what `group` serves satisfies `done`; a timeout names the last counts. */
  async function waitServed(what: string, group: Member[], done: (by: Map<string, string[]>) => boolean, timeoutMs: number): Promise<void> {
    let last = '';
    await waitFor(what, async () => {
      const by = await served(group);
      last = JSON.stringify(counts(by));
      return done(by);
    }, { timeoutMs, intervalMs: 250, describe: () => `last: ${last}` });
  }

  /** Watch events the apiserver sent per pod update and per Lease write, over a measured window. */
  async function measure(group: Member[]): Promise<Cost> {
    const metricsBefore = await apiserverMetrics();
    const updated = targetPods().filter((_, i) => i % 4 === 0); // 200 pod updates
    const tick = Date.now().toString(36);
    await inBatches(updated, 40, ({ name }) => patch(`/api/v1/namespaces/${namespace}/pods/${name}`, { metadata: { labels: { tick } } }));
    // Each member saw its updates once they are reflected in its answers; then let renewals run on.
    await new Promise((r) => setTimeout(r, 3_000));
    const metricsAfter = await apiserverMetrics();
    const watchEvents = (text: string, kind: RegExp) => sumMetric(text, 'apiserver_watch_events_total', kind);
    const leaseWrites = (text: string) => sumMetric(text, 'apiserver_request_total', /resource="leases"/, /verb="(PUT|POST|PATCH|DELETE)"/);
    const podEvents = watchEvents(metricsAfter, /kind="Pod"|resource="pods"/) - watchEvents(metricsBefore, /kind="Pod"|resource="pods"/);
    const leaseEvents = watchEvents(metricsAfter, /kind="Lease"|resource="leases"/) - watchEvents(metricsBefore, /kind="Lease"|resource="leases"/);
    const writes = leaseWrites(metricsAfter) - leaseWrites(metricsBefore);
    // One series per pod watch; with pod scope node each names its node (the shared cluster
    // also holds other tests' Nodes, which the group covers too: count this test's nodes).
    const scopes = (await Promise.all(group.map(async (m) => {
      const text = await (await fetch(`${m.endpoint}/metrics`)).text();
      return [...text.matchAll(/^edot_ta_watch_connected\{resource="pods",scope="([^"]+)"\}/gm)].map((match) => match[1]!);
    }))).flat();
    const onOurNodes = scopes.map((scope) => /spec\.nodeName=(scale-\d+)/.exec(scope)?.[1]).filter((node): node is string => node !== undefined);
    return { perPodUpdate: podEvents / updated.length, perLeaseWrite: leaseEvents / Math.max(1, writes), podWatches: scopes.length, nodesWatched: new Set(onOurNodes).size, nodeWatches: onOurNodes.length };
  }

  let clusterCost: Cost | undefined;
  /** Watch events per pod update with no member running (other watchers of the shared cluster). */
  let baseline = 0;

  it('pod scope cluster (before): every member watches every pod; each pod update reaches every member', async () => {
    baseline = (await measure([])).perPodUpdate;
    const group = await startGroup('cluster');
    await waitServed('cluster scope: every target served exactly once', group, exactlyOnce, 60_000);
    clusterCost = await measure(group);
    console.log(`pod scope cluster: ${(clusterCost.perPodUpdate - baseline).toFixed(2)} watch events per pod update to the members (${clusterCost.perPodUpdate.toFixed(2)} in all, ${baseline.toFixed(2)} with no member running), ${clusterCost.perLeaseWrite.toFixed(2)} per Lease write, ${clusterCost.podWatches} pod watches across ${memberCount} members`);
    await stopGroup(group);
    expect(clusterCost.perPodUpdate - baseline).toBeGreaterThan(memberCount - 1);
  }, 240_000);

  it('pod scope node (after): each pod update reaches at most one member; every target exactly once, through a crash and a join', async () => {
    const group = await startGroup('node');
    await waitServed('node scope: every target served exactly once', group, exactlyOnce, 60_000);
    const cost = await measure(group);
    const toMembers = cost.perPodUpdate - baseline;
    const clusterToMembers = (clusterCost?.perPodUpdate ?? NaN) - baseline;
    console.log(`pod scope node: ${toMembers.toFixed(2)} watch events per pod update to the members (cluster scope: ${clusterToMembers.toFixed(2)}; ${(toMembers / clusterToMembers).toFixed(3)}×), ${cost.perLeaseWrite.toFixed(2)} per Lease write, ${cost.nodeWatches} pod watches on the ${nodeCount} nodes across ${memberCount} members (one per node; ${cost.podWatches} in all with other tests' nodes)`);
    expect(toMembers).toBeLessThanOrEqual(2);
    expect(toMembers).toBeGreaterThan(0.5); // the updates did reach their one member
    expect(cost.nodesWatched).toBe(nodeCount); // every node watched ...
    expect(cost.nodeWatches).toBe(nodeCount); // ... by exactly one member

    // A crash: its node and the nodes it covered are picked up within lease duration + slack.
    // The member serving most: its own node and the member-less nodes it covers.
    const before = await served(group);
    const victim = group.reduce((best, m) => ((before.get(m.name)?.length ?? 0) > (before.get(best.name)?.length ?? 0) ? m : best));
    expect(before.get(victim.name)?.length ?? 0).toBeGreaterThan(podsPerNode);
    const killedAt = Date.now();
    process.kill(victim.sidecar.pid, 'SIGKILL');
    members.delete(victim.name);
    await core.deleteNamespacedPod({ name: victim.name, namespace, gracePeriodSeconds: 0 });
    const survivors = group.filter((m) => m !== victim);
    await waitServed('the survivors serve every target', survivors, (by) => counts(by).missing === 0, 2 * (lease.durationSeconds + lease.holdSeconds + 2) * 1000);
    const pickedUpAfter = (Date.now() - killedAt) / 1000;
    await waitServed('exactly once after the crash', survivors, exactlyOnce, 30_000);

    // A join on a member-less node: its pods move from their coverer to it; never unserved.
    const joinNode = nodes.find((n) => !memberNodes.includes(n)) as string;
    const joiner = await startMember('collector-node-join', joinNode, 'node');
    const all = [...survivors, joiner];
    let unservedSeen = 0;
    let settled = false;
    const watcher = (async () => {
      while (!settled) {
        unservedSeen = Math.max(unservedSeen, counts(await served(all)).missing);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await waitFor(`${joiner.name} /readyz`, async () => (await fetch(`${joiner.endpoint}/readyz`)).ok, { timeoutMs: 90_000, abortIf: joiner.sidecar.exited, describe: () => joiner.sidecar.tail() });
    await waitServed('exactly once with the new member, which serves its own node', all, (by) => exactlyOnce(by) && (by.get(joiner.name)?.length ?? 0) >= podsPerNode, 60_000);
    settled = true;
    await watcher;
    console.log(`pod scope node: crash picked up after ${pickedUpAfter.toFixed(1)} s (lease ${lease.durationSeconds} s); join: ${unservedSeen} targets ever unserved`);
    expect(unservedSeen).toBe(0);
  }, 300_000);
});
