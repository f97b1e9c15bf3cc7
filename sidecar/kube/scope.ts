// What one informer watches: a resource, optionally one namespace, label and field selectors.
// The scope is the unit of watch cost (issue 6 narrows pods to the own node with a fieldSelector),
// so it is explicit, comparable (`scopeKey`) and shared between every job that needs it.
import { KubeApiError, type KubeClient } from './client.js';
import { GoneError, type ListPage, type ListWatchSource, type WatchLine } from './informer.js';

export type WatchedResource = 'pods' | 'services' | 'endpoints' | 'endpointslices' | 'ingresses' | 'nodes' | 'namespaces' | 'secrets' | 'podmonitors' | 'servicemonitors' | 'scrapeconfigs' | 'probes';

export interface WatchScope {
  resource: WatchedResource;
  /** Undefined: all namespaces (or a cluster-scoped resource). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * What the cache keeps per object: the object (trimmed), or for pods watched only by role pod
   * the target group kubernetes_sd derives from it (smaller, and shared with the kept targets).
   */
  form?: 'object' | 'targetGroup';
  /**
   * Pods only: watched per node (a `spec.nodeName=` field selector each), on the nodes this
   * member covers (pod scope `node`); the set changes with the membership view.
   */
  nodes?: 'covered';
  /** Only metadata (PartialObjectMetadata): names and labels, not the objects (Nodes for coverage). */
  metadataOnly?: boolean;
}

const groupVersion: Record<WatchedResource, string> = {
  pods: 'api/v1',
  services: 'api/v1',
  endpoints: 'api/v1',
  endpointslices: 'apis/discovery.k8s.io/v1',
  ingresses: 'apis/networking.k8s.io/v1',
  nodes: 'api/v1',
  namespaces: 'api/v1',
  secrets: 'api/v1',
  podmonitors: 'apis/monitoring.coreos.com/v1',
  servicemonitors: 'apis/monitoring.coreos.com/v1',
  scrapeconfigs: 'apis/monitoring.coreos.com/v1alpha1',
  probes: 'apis/monitoring.coreos.com/v1',
};

export function scopeKey(scope: WatchScope): string {
  return [scope.resource, scope.namespace ?? '*', scope.labelSelector ?? '', scope.fieldSelector ?? '', scope.form ?? 'object', scope.nodes ?? '', scope.metadataOnly ? 'metadata' : ''].join('|');
}

export function describeScope(scope: WatchScope): string {
  const parts = [scope.resource, scope.namespace ? `namespace=${scope.namespace}` : 'all namespaces'];
  if (scope.labelSelector) parts.push(`labels=${scope.labelSelector}`);
  if (scope.fieldSelector) parts.push(`fields=${scope.fieldSelector}`);
  if (scope.nodes) parts.push('on covered nodes');
  return parts.join(' ');
}

export function scopePath(scope: WatchScope): string {
  const namespaced = scope.namespace && scope.resource !== 'nodes' && scope.resource !== 'namespaces';
  return `/${groupVersion[scope.resource]}/${namespaced ? `namespaces/${encodeURIComponent(scope.namespace ?? '')}/` : ''}${scope.resource}`;
}

/** Joins two selectors (comma = AND in Kubernetes selector syntax). */
export function andSelectors(...selectors: Array<string | undefined>): string | undefined {
  const parts = selectors.filter((s): s is string => !!s && s.trim() !== '');
  return parts.length ? parts.join(',') : undefined;
}

/** The media type for metadata-only lists and watches (the server falls back to full objects). */
const partialMetadata = 'application/json;as=PartialObjectMetadata';

export interface ScopeSourceOptions {
  pageSize?: number;
  /** Server-side watch timeout range, randomised so that watches do not all restart together. */
  watchTimeoutSeconds?: () => number;
}

export function scopeSource(client: KubeClient, scope: WatchScope, options: ScopeSourceOptions = {}): ListWatchSource {
  const path = scopePath(scope);
  const selectors = { labelSelector: scope.labelSelector, fieldSelector: scope.fieldSelector };
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? (() => 240 + Math.floor(Math.random() * 120));
  return {
    description: describeScope(scope),
    async list(continueToken): Promise<ListPage> {
      const answer = (await client.requestJson('GET', path, {
        query: { ...selectors, limit: String(options.pageSize ?? 500), continue: continueToken },
        ...(scope.metadataOnly ? { accept: `${partialMetadata}List;g=meta.k8s.io;v=v1, application/json` } : {}),
      })) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
      return {
        items: answer.items ?? [],
        resourceVersion: answer.metadata?.resourceVersion ?? '',
        continueToken: answer.metadata?.continue || undefined,
      };
    },
    async watch(resourceVersion, onLine, signal) {
      try {
        await client.watch(
          path,
          { ...selectors, resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(watchTimeoutSeconds()) },
          (line) => onLine(line as WatchLine),
          signal,
          scope.metadataOnly ? `${partialMetadata};g=meta.k8s.io;v=v1, application/json` : undefined,
        );
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 410) throw new GoneError(err.message);
        throw err;
      }
    },
  };
}
