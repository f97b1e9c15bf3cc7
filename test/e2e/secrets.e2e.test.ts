// The sidecar under its real RBAC (manifests/overlays/kube-stack/sidecar-rbac.yaml, applied as
// shipped, with the Secrets role bound in one namespace only, as that file recommends), with a
// ServiceAccount token on the real apiserver: it watches only the Secrets monitors reference,
// by name; a monitor whose Secret it may not read (403) is skipped with an Event while the
// others are served, and the sidecar is ready. Its ServiceAccount can write its group's member
// Leases and nothing else: not another Lease of its namespace, not a pod.
import { mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { writeKubeconfig } from '../harness/cluster.js';
import { clients, clusterEndpoints, createTestNamespace, kubectl, setPodRunning } from '../harness/context.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../harness/processes.js';
import { serveEnvoyStats } from '../harness/targets.js';

const repoRoot = new URL('../../', import.meta.url).pathname;
const fixtures = new URL('../fixtures/', import.meta.url);
const monitoring = { group: 'monitoring.coreos.com', version: 'v1' };
/** The ServiceAccount and namespace the shipped bindings name (Elastic's kube-stack daemon collector). */
const collectorNamespace = 'opentelemetry-operator-system';
const serviceAccount = 'opentelemetry-kube-stack-daemon-collector';

describe('the sidecar under its shipped RBAC: Secrets by name, a forbidden one skips only its monitor', () => {
  const { core, custom, rbac, coordination } = clients();
  let sidecarToken = '';
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-secrets-e2e-'));
  const servers: Server[] = [];
  let allowed = '';
  let locked = '';
  let sidecar: ManagedProcess | undefined;
  let endpoint = '';
  const collector = `edot-collector-${Math.random().toString(16).slice(2, 8)}`;

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: collectorNamespace } } }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    await core.createNamespacedServiceAccount({ namespace: collectorNamespace, body: { metadata: { name: serviceAccount } } }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    await kubectl(['apply', '-f', join(repoRoot, 'manifests/overlays/kube-stack/sidecar-rbac.yaml')]);
    allowed = await createTestNamespace('secrets-allowed');
    locked = await createTestNamespace('secrets-locked');
    // The Secrets role, bound where monitors may reference Secrets: only `allowed`.
    await rbac.createNamespacedRoleBinding({
      namespace: allowed,
      body: { metadata: { name: 'edot-ta-sidecar-secrets' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edot-ta-sidecar-secrets' }, subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: collectorNamespace }] },
    });
    for (const [i, namespace] of [allowed, locked].entries()) {
      await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'scrape-auth' }, stringData: { password: `secret-of-${namespace}` } } });
      await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'unrelated' }, stringData: { token: 'not for the sidecar' } } });
      const pod = parse(readFileSync(new URL('sidecar/istio-gateway-pod.yaml', fixtures), 'utf8')) as k8s.V1Pod & { metadata: { name: string } };
      pod.metadata.name = 'gateway';
      await core.createNamespacedPod({ namespace, body: pod });
      const ip = `127.0.8.${i + 1}`;
      await setPodRunning(namespace, 'gateway', ip);
      servers.push(await serveEnvoyStats(ip));
      const monitor = parse(readFileSync(new URL('sidecar/envoy-stats-monitor.yaml', fixtures), 'utf8')) as { metadata: { namespace?: string; name: string }; spec: { namespaceSelector?: unknown; podMetricsEndpoints: Array<Record<string, unknown>> } };
      monitor.metadata.namespace = namespace;
      monitor.spec.namespaceSelector = { matchNames: [namespace] };
      monitor.spec.podMetricsEndpoints[0]!.basicAuth = { username: { name: 'scrape-auth', key: 'password' }, password: { name: 'scrape-auth', key: 'password' } };
      await custom.createNamespacedCustomObject({ ...monitoring, namespace, plural: 'podmonitors', body: monitor });
    }
    await core.createNamespacedPod({ namespace: collectorNamespace, body: { metadata: { name: collector }, spec: { serviceAccountName: serviceAccount, nodeName: 'node-a', containers: [{ name: 'otc-container', image: 'docker.elastic.co/elastic-agent/elastic-agent:9.1.0' }] } } });
  });

  afterAll(async () => {
    await sidecar?.stop();
    for (const server of servers) server.close();
  });

  it('is ready, serves the monitor whose Secret it may read, skips the other with an Event, and never lists a namespace\'s Secrets', async () => {
    const { server, caFile } = clusterEndpoints();
    const token = (await core.createNamespacedServiceAccountToken({ name: serviceAccount, namespace: collectorNamespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status?.token ?? '';
    const kubeconfig = join(dir, 'sidecar.kubeconfig');
    writeKubeconfig(kubeconfig, server, caFile, token, serviceAccount);
    const created = await core.readNamespacedPod({ name: collector, namespace: collectorNamespace });
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    sidecar = startProcess('sidecar-rbac', process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sidecar', 'serve', '--listen', `127.0.0.1:${port}`, '--scrape-configs', join(dir, 'none.yaml')], {
      cwd: repoRoot,
      logFile: join(dir, 'sidecar.log'),
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        POD_NAME: collector,
        POD_UID: created.metadata?.uid ?? '',
        POD_NAMESPACE: collectorNamespace,
        NODE_NAME: 'node-a',
        EDOT_TA_GROUP: `${collectorNamespace}/${collector}`,
        EDOT_TA_PROMETHEUS_CR: JSON.stringify({ enabled: true, podMonitorSelector: {}, allowNamespaces: [allowed, locked] }),
        EDOT_TA_LEASE_RENEW_SECONDS: '1',
        EDOT_TA_LEASE_DURATION_SECONDS: '4',
      },
    });
    // Ready although one referenced Secret is forbidden (the watch of it never lists).
    await waitFor('sidecar ready under its ServiceAccount', async () => (await fetch(`${endpoint}/readyz`)).ok, { timeoutMs: 60_000, abortIf: sidecar.exited, describe: () => sidecar!.tail(30) });
    const configs = (await (await fetch(`${endpoint}/scrape_configs`)).json()) as Record<string, { basic_auth?: { password?: string } }>;
    expect(Object.keys(configs)).toEqual([`podMonitor/${allowed}/envoy-stats-monitor/0`]);
    expect(configs[`podMonitor/${allowed}/envoy-stats-monitor/0`]?.basic_auth?.password).toBe(`secret-of-${allowed}`);

    await waitFor('an InvalidMonitor Event naming the forbidden Secret', async () => {
      const events = await core.listNamespacedEvent({ namespace: collectorNamespace, fieldSelector: `involvedObject.name=${collector}` });
      return events.items.some((e) => e.reason === 'InvalidMonitor' && /envoy-stats-monitor/.test(e.message ?? '') && new RegExp(`cannot read Secret ${locked}/scrape-auth: forbidden \\(403\\)`).test(e.message ?? ''));
    }, { timeoutMs: 30_000 });

    // Secrets are watched by name: one watch per referenced Secret, none of a whole namespace.
    const metrics = await (await fetch(`${endpoint}/metrics`)).text();
    const secretScopes = [...metrics.matchAll(/edot_ta_watch_connected\{resource="secrets",scope="([^"]+)"\}/g)].map((m) => m[1]).sort();
    expect(secretScopes).toEqual([`secrets namespace=${allowed} fields=metadata.name=scrape-auth`, `secrets namespace=${locked} fields=metadata.name=scrape-auth`]);
    // No Secret value in the log.
    const log = readFileSync(join(dir, 'sidecar.log'), 'utf8');
    expect(log).not.toContain(`secret-of-${allowed}`);
    expect(log).not.toContain('not for the sidecar');
    sidecarToken = token;
  });

  it('its ServiceAccount writes its own member Lease, but not the operator\'s Lease of the same namespace, nor any pod', async () => {
    const { server, caFile } = clusterEndpoints();
    const kubeconfig = join(dir, 'as-sidecar.kubeconfig');
    writeKubeconfig(kubeconfig, server, caFile, sidecarToken, serviceAccount);
    const asSidecar = async (args: string[]) => kubectl(['--kubeconfig', kubeconfig, ...args]).then(() => 'allowed', (err: Error) => err.message);
    // Its own Lease exists (written under the policy) and carries the summary.
    await waitFor('its member Lease with the summary', async () => {
      const lease = await coordination.readNamespacedLease({ name: `edot-ta-${collector}`, namespace: collectorNamespace }).catch(() => undefined);
      return /^serving \d+ targets? in \d+ jobs?$/.test(lease?.metadata?.annotations?.['edot-ta.io/summary'] ?? '');
    }, { timeoutMs: 30_000 });
    const operatorLease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'opentelemetry-operator-lock', namespace: collectorNamespace }, spec: { holderIdentity: 'operator' } };
    await coordination.createNamespacedLease({ namespace: collectorNamespace, body: operatorLease }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    expect(await asSidecar(['delete', 'lease', '-n', collectorNamespace, 'opentelemetry-operator-lock'])).toMatch(/may only write the member Leases of its group/);
    expect(await asSidecar(['annotate', 'lease', '-n', collectorNamespace, 'opentelemetry-operator-lock', 'x=y'])).toMatch(/may only write the member Leases of its group/);
    expect(await asSidecar(['annotate', 'pod', '-n', collectorNamespace, collector, 'x=y'])).toMatch(/forbidden/i);
    expect(await asSidecar(['get', 'secret', '-n', locked, 'scrape-auth'])).toMatch(/forbidden/i);
  });

  it('stops watching a Secret once no monitor references it', async () => {
    await custom.deleteNamespacedCustomObject({ ...monitoring, namespace: allowed, plural: 'podmonitors', name: 'envoy-stats-monitor' });
    let scopes: string[] = [];
    await waitFor('the watch of the unreferenced Secret gone', async () => {
      const metrics = await (await fetch(`${endpoint}/metrics`)).text();
      scopes = [...metrics.matchAll(/edot_ta_watch_connected\{resource="secrets",scope="([^"]+)"\}/g)].map((m) => m[1]!).sort();
      return !scopes.some((scope) => scope.includes(`namespace=${allowed} `));
    }, { timeoutMs: 30_000, describe: () => JSON.stringify(scopes) });
    expect(scopes).toEqual([`secrets namespace=${locked} fields=metadata.name=scrape-auth`]);
  });
});
