import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client.js';
import { scopeKey, scopeSource } from './scope.js';

/** A KubeClient that records what it was asked. */
function recordingClient() {
  const calls: Array<{ kind: 'list' | 'watch'; path: string; query: Record<string, string | undefined>; accept?: string }> = [];
  const client: KubeClient = {
    server: 'https://api',
    async requestJson(_method, path, options = {}) {
      calls.push({ kind: 'list', path, query: options.query ?? {}, ...(options.accept ? { accept: options.accept } : {}) });
      return { items: [], metadata: { resourceVersion: '7' } };
    },
    async watch(path, query, _onLine, _signal, accept) {
      calls.push({ kind: 'watch', path, query, ...(accept ? { accept } : {}) });
    },
  };
  return { client, calls };
}

describe('watch scopes', () => {
  it('a metadata-only scope asks for PartialObjectMetadata (list and watch), with full objects as the fallback', async () => {
    const { client, calls } = recordingClient();
    const source = scopeSource(client, { resource: 'nodes', metadataOnly: true });
    await source.list(undefined);
    await source.watch('7', () => {}, new AbortController().signal);
    expect(calls.map((c) => [c.kind, c.path, c.accept])).toEqual([
      ['list', '/api/v1/nodes', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json'],
      ['watch', '/api/v1/nodes', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json'],
    ]);
    expect(scopeKey({ resource: 'nodes', metadataOnly: true })).not.toBe(scopeKey({ resource: 'nodes' }));
  });

  it('per-node pod scopes and EndpointSlices: paths and selectors', async () => {
    const { client, calls } = recordingClient();
    await scopeSource(client, { resource: 'pods', namespace: 'shop', fieldSelector: 'spec.nodeName=node-a' }).list(undefined);
    await scopeSource(client, { resource: 'endpointslices', namespace: 'shop' }).list(undefined);
    expect(calls.map((c) => [c.path, c.query.fieldSelector, c.accept])).toEqual([
      ['/api/v1/namespaces/shop/pods', 'spec.nodeName=node-a', undefined],
      ['/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices', undefined, undefined],
    ]);
  });
});
