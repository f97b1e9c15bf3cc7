// No kubelets run in the test cluster, so nothing registers Node objects. Where a test "runs" a
// pod on a node (sets its status, as a kubelet would), the node is registered too, as its
// kubelet would have: pod scope `node` learns the nodes without a collector from Node objects.
import type { CoreV1Api } from '@kubernetes/client-node';

const registered = new WeakMap<CoreV1Api, Set<string>>();

/** Creates the Node object `name` once per API client (an existing one is fine). */
export async function registerNode(core: CoreV1Api, name: string | undefined): Promise<void> {
  if (!name) return;
  const known = registered.get(core) ?? new Set<string>();
  registered.set(core, known);
  if (known.has(name)) return;
  await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } } } }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
  known.add(name);
}
