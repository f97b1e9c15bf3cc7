// The thin I/O edge of membership: the LeaseApi and the group's Lease list+watch on the
// sidecar's KubeClient. Only the pod's own namespace, only the group's label.
import { KubeApiError, type KubeClient } from '../kube/client.js';
import { GoneError, type ListPage, type ListWatchSource, type WatchLine } from '../kube/informer.js';
import { groupSelector, type LeaseObject } from './lease-record.js';
import type { LeaseApi } from './membership.js';

const leasesPath = (namespace: string) => `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;

export function kubeLeaseApi(client: KubeClient, namespace: string, timeoutMs = 5_000): LeaseApi {
  const base = leasesPath(namespace);
  return {
    create: (lease: LeaseObject) => client.requestJson('POST', base, { body: lease, timeoutMs }),
    async get(name) {
      try {
        return await client.requestJson('GET', `${base}/${encodeURIComponent(name)}`, { timeoutMs });
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 404) return undefined;
        throw err;
      }
    },
    replace: (lease) => client.requestJson('PUT', `${base}/${encodeURIComponent(lease.metadata.name)}`, { body: lease, timeoutMs }),
    async delete(name, resourceVersion) {
      await client.requestJson('DELETE', `${base}/${encodeURIComponent(name)}`, {
        ...(resourceVersion ? { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } } } : {}),
        timeoutMs,
      });
    },
    async podMissing(podNamespace, name) {
      try {
        await client.requestJson('GET', `/api/v1/namespaces/${encodeURIComponent(podNamespace)}/pods/${encodeURIComponent(name)}`, { timeoutMs });
        return false;
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 404) return true;
        throw err;
      }
    },
  };
}

/** List+watch of the group's Leases, for the shared Informer (backoff, 410 relist, watchdog). */
export function groupLeaseSource(client: KubeClient, namespace: string, group: string): ListWatchSource {
  const path = leasesPath(namespace);
  const labelSelector = groupSelector(group);
  return {
    description: `leases namespace=${namespace} labels=${labelSelector}`,
    async list(continueToken): Promise<ListPage> {
      const answer = (await client.requestJson('GET', path, { query: { labelSelector, limit: '500', continue: continueToken }, timeoutMs: 30_000 })) as {
        items?: unknown[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      return { items: answer.items ?? [], resourceVersion: answer.metadata?.resourceVersion ?? '', continueToken: answer.metadata?.continue || undefined };
    },
    async watch(resourceVersion, onLine, signal) {
      try {
        await client.watch(
          path,
          { labelSelector, resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(240 + Math.floor(Math.random() * 120)) },
          (line) => onLine(line as WatchLine),
          signal,
        );
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 410) throw new GoneError(err.message);
        throw err;
      }
    },
  };
}
