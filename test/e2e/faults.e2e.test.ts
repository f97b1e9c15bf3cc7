// Faults between the sidecars and the real API server, injected by an HTTPS proxy in front of
// each member (test/harness/fault-proxy.ts): 429 with Retry-After, 500s on Lease writes,
// requests that never get an answer, watches that go silent, watches that end in 410 Gone, and
// Lease write conflicts for one member. During each fault no target is served by nobody; after
// it, every target is served by exactly one member again.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { clients, clusterEndpoints, createTestNamespace, setPodRunning } from '../harness/context.js';
import { FaultProxy, type FaultRule } from '../harness/fault-proxy.js';
import { freePort, waitFor, type ManagedProcess } from '../harness/processes.js';
import { sidecarServiceAccount } from './support/service-accounts.js';
import { startSidecarProcess } from './support/sidecar.js';
import { serveEnvoyStats } from '../harness/targets.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const lease = { renew: 1, duration: 4, hold: 4 };
const watchdogSeconds = 3;

interface Member {
  name: string;
  endpoint: string;
  proxy: FaultProxy;
  sidecar: ManagedProcess;
}

describe('faults between the sidecars and the API server: nothing unserved, exactly-once after', () => {
  const { core, custom } = clients();
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-faults-e2e-'));
  const servers: Server[] = [];
  const members: Member[] = [];
  const expected = new Set<string>();
  let namespace = '';
  const podJob = () => `podMonitor/${namespace}/envoy-stats-monitor/0`;

  beforeAll(async () => {
    namespace = await createTestNamespace('faults');
    const pod = parse(readFileSync(new URL('sidecar/istio-gateway-pod.yaml', fixtures), 'utf8')) as k8s.V1Pod & { metadata: { name: string }; spec: { nodeName: string } };
    for (const [i, node] of ['node-0', 'node-1', 'node-2', 'node-x'].entries()) {
      const body = structuredClone(pod);
      body.metadata.name = `gateway-${i}`;
      body.spec.nodeName = node;
      await core.createNamespacedPod({ namespace, body });
      const ip = `127.0.10.${i + 1}`;
      await setPodRunning(namespace, body.metadata.name, ip);
      servers.push(await serveEnvoyStats(ip));
      expected.add(`${podJob()}|${ip}:15090`);
    }
    const monitor = parse(readFileSync(new URL('sidecar/envoy-stats-monitor.yaml', fixtures), 'utf8')) as { metadata: { namespace?: string }; spec: { namespaceSelector?: unknown } };
    monitor.metadata.namespace = namespace;
    monitor.spec.namespaceSelector = { matchNames: [namespace] };
    await custom.createNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural: 'podmonitors', body: monitor });
    const staticTargets = ['127.0.10.50', '127.0.10.51', '127.0.10.52', '127.0.10.53', '127.0.10.54', '127.0.10.55'].map((ip) => `${ip}:15090`);
    for (const address of staticTargets) expected.add(`static|${address}`);
    writeFileSync(join(dir, 'scrape-configs.yaml'), stringify({ scrape_configs: [{ job_name: 'static', static_configs: [{ targets: staticTargets }] }] }));
    const { server, caFile } = clusterEndpoints();
    for (let i = 0; i < 3; i++) {
      const name = `collector-${i}`;
      const created = await core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { nodeName: `node-${i}`, containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } } });
      // The proxy passes on the sidecar's own ServiceAccount token (shipped RBAC, not admin).
      const proxy = await FaultProxy.start({ server, caFile });
      writeFileSync(join(dir, `${name}.proxy-ca.crt`), proxy.caPem);
      const kubeconfig = await sidecarServiceAccount({ adminKubeconfig: clusterEndpoints().kubeconfigPath, namespace, dir, file: `${name}.kubeconfig`, server: proxy.url, caFile: join(dir, `${name}.proxy-ca.crt`) });
      const port = await freePort();
      const sidecar = startSidecarProcess({
        name,
        logFile: join(dir, `${name}.log`),
        port,
        args: ['--scrape-configs', join(dir, 'scrape-configs.yaml'), '--watchdog-seconds', String(watchdogSeconds)],
        kubeconfig,
        pod: { name, uid: created.metadata?.uid ?? '', namespace, node: `node-${i}` },
        group: `${namespace}/edot`,
        env: {
          EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, podMonitorSelector: {}, allowNamespaces: [namespace] }),
          EDOT_TA_LEASE_RENEW_SECONDS: String(lease.renew),
          EDOT_TA_LEASE_DURATION_SECONDS: String(lease.duration),
          EDOT_TA_HANDOVER_HOLD_SECONDS: String(lease.hold),
        },
      });
      members.push({ name, endpoint: `http://127.0.0.1:${port}`, proxy, sidecar });
    }
    for (const member of members) {
      await waitFor(`${member.name} /readyz`, async () => (await fetch(`${member.endpoint}/readyz`)).ok, { timeoutMs: 60_000, abortIf: member.sidecar.exited, describe: () => member.sidecar.tail() });
    }
  }, 120_000);

  afterAll(async () => {
    for (const member of members) {
      await member.sidecar.stop(2_000);
      await member.proxy.stop();
    }
    for (const server of servers) server.close();
  });

  async function servedNow(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const member of members) {
      const keys: string[] = [];
      for (const [job, label] of [[podJob(), podJob()], ['static', 'static']] as const) {
        const res = await fetch(`${member.endpoint}/jobs/${encodeURIComponent(job)}/targets?collector_id=${member.name}`);
        for (const group of (await res.json()) as Array<{ targets: string[] }>) keys.push(`${label}|${group.targets[0]}`);
      }
      out[member.name] = keys.sort();
    }
    return out;
  }

  const exactlyOnce = (served: Record<string, string[]>) => JSON.stringify(Object.values(served).flat().sort()) === JSON.stringify([...expected].sort());

  /** Applies the rules for two lease durations; nobody may drop a target meanwhile; then exactly-once again. */
  async function survive(what: string, rules: (member: Member, index: number) => FaultRule[]): Promise<void> {
    await waitFor(`settled before: ${what}`, async () => exactlyOnce(await servedNow()), { timeoutMs: 60_000, intervalMs: 250 });
    const before = members.map((m) => ({ ...m.proxy.injected }));
    members.forEach((member, i) => member.proxy.set(rules(member, i)));
    const startedAt = Date.now();
    try {
      while (Date.now() - startedAt < 2 * lease.duration * 1000) {
        const all = new Set(Object.values(await servedNow()).flat());
        expect([...expected].filter((key) => !all.has(key)), `served by nobody during: ${what}`).toEqual([]);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      for (const member of members) member.proxy.clear();
    }
    const injected = members.reduce((sum, m, i) => sum + Object.entries(m.proxy.injected).reduce((s, [k, v]) => s + v - (before[i]![k] ?? 0), 0), 0);
    expect(injected, `the proxy injected the fault: ${what}`).toBeGreaterThan(0);
    const clearedAt = Date.now();
    // Recovery: backoff (capped at the renew interval) + a renewal + the handover hold, 2x slack; watches: + watchdog.
    await waitFor(`exactly-once after: ${what}`, async () => exactlyOnce(await servedNow()), { timeoutMs: 2 * (lease.renew + lease.duration + lease.hold + watchdogSeconds) * 1000 + 10_000, intervalMs: 250 });
    console.log(`${what}: ${injected} requests faulted over ${2 * lease.duration} s; nothing unserved; exactly-once ${((Date.now() - clearedAt) / 1000).toFixed(1)} s after`);
    for (const member of members) expect(member.sidecar.tail(5)).not.toMatch(/"level":"error".*uncaught/i);
  }

  it('429 with Retry-After on every request', async () => {
    await survive('429 everywhere', () => [{ path: /.*/, fault: { kind: 'status', code: 429, retryAfterSeconds: 1 } }]);
  });

  it('500 on every Lease write', async () => {
    await survive('500 on Lease writes', () => [{ method: 'PUT', path: /\/leases\//, fault: { kind: 'status', code: 500 } }]);
  });

  it('requests that never get an answer (timeouts)', async () => {
    await survive('no answers', () => [{ path: /.*/, fault: { kind: 'hang' } }]);
  });

  it('watches that go silent after their headers', async () => {
    await survive('silent watches', () => [{ path: /.*/, fault: { kind: 'silent-watch' } }]);
  });

  it('watches that end in 410 Gone (history expired): relist, no hot loop', async () => {
    const relistsBefore = await relists();
    await survive('410 Gone on watches', () => [{ path: /.*/, fault: { kind: 'gone-watch' } }]);
    const relisted = (await relists()) - relistsBefore;
    console.log(`410 Gone: ${relisted} relists across ${members.length} members in ${2 * lease.duration} s`);
    expect(relisted).toBeGreaterThan(0);
    // Backed off (0.5 s doubling to the cap) after the first immediate relist: per watch at most
    // ~1 + log2(8 s / 0.25 s) relists in the window, never one per round trip (which was ~18/s per member).
    const watchesPerMember = (await (await fetch(`${members[0]!.endpoint}/metrics`)).text()).match(/^edot_ta_watch_relists_total\{/gm)?.length ?? 1;
    expect(relisted).toBeLessThanOrEqual(members.length * watchesPerMember * 8);
  });

  it('409 conflicts on the Lease writes of one member', async () => {
    await survive('409 on one member\'s Lease writes', (_member, i) => (i === 0 ? [{ method: 'PUT', path: /\/leases\//, fault: { kind: 'status', code: 409 } }] : []));
  });

  async function relists(): Promise<number> {
    let total = 0;
    for (const member of members) {
      const text = await (await fetch(`${member.endpoint}/metrics`)).text();
      for (const m of text.matchAll(/^edot_ta_watch_relists_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
    }
    return total;
  }
});
