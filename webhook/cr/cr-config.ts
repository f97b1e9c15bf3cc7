// Repairs the collector config inside an OpenTelemetryCollector CR so the pod-level render step
// has a prometheus receiver to point at the sidecar: one exists (`prometheus` or
// `prometheus/<name>`), has a `config:` block, and a metrics pipeline uses it. Works on a yaml
// Document so a v1alpha1 config string keeps its comments and `${env:...}` references.
import { isMap, isScalar, isSeq, YAMLMap, YAMLSeq, type Document } from 'yaml';
import { isPrometheusReceiverId } from '../../contract/names.js';

export interface ConfigRepair {
  changes: string[];
  warnings: string[];
  /** The prometheus receivers the config has after the repair. */
  receivers: string[];
}

const keyOf = (key: unknown): string => (isScalar(key) ? String(key.value) : String(key));

function ensureMap(parent: YAMLMap, key: string): YAMLMap {
  const existing: unknown = parent.get(key, true);
  if (isMap(existing)) return existing;
  const created = new YAMLMap();
  parent.set(key, created);
  return created;
}

/**
 * @param targetAllocatorWasEnabled the CR had the central TA on: the user expects scraping, so a
 *   missing prometheus receiver is added (the operator would have refused the CR anyway).
 */
export function repairPrometheusReceivers(doc: Document, targetAllocatorWasEnabled: boolean): ConfigRepair {
  const repair: ConfigRepair = { changes: [], warnings: [], receivers: [] };
  if (doc.contents !== null && !isMap(doc.contents)) {
    repair.warnings.push('edot-ta: spec.config is not a mapping; left unchanged');
    return repair;
  }
  const root: YAMLMap = isMap(doc.contents) ? doc.contents : new YAMLMap();
  if (root !== doc.contents) doc.contents = root as unknown as typeof doc.contents;
  const receiversNode: unknown = root.get('receivers', true);
  let ids = isMap(receiversNode) ? receiversNode.items.map((pair) => keyOf(pair.key)).filter(isPrometheusReceiverId) : [];

  if (ids.length === 0) {
    if (!targetAllocatorWasEnabled) return repair; // nothing to scrape: the render step will pass the config through
    ensureMap(root, 'receivers').set('prometheus', doc.createNode({ config: { scrape_configs: [] } }));
    ids = ['prometheus'];
    repair.changes.push('added receiver prometheus (config.scrape_configs: []) for the sidecar to fill');
    repair.warnings.push(
      'edot-ta: added an empty prometheus receiver: its targets come from PodMonitors/ServiceMonitors through the edot-ta sidecar, so the collector pods must be injected (namespace label edot-ta.io/inject=enabled)',
    );
  }

  repair.receivers = ids;
  const receivers = ensureMap(root, 'receivers');
  for (const id of ids) {
    const receiver: unknown = receivers.get(id, true);
    if (!isMap(receiver)) {
      receivers.set(id, doc.createNode({ config: { scrape_configs: [] } }));
      repair.changes.push(`gave receiver ${id} a config block`);
    } else if (!isMap(receiver.get('config', true))) {
      receiver.set('config', doc.createNode({ scrape_configs: [] }));
      repair.changes.push(`gave receiver ${id} a config block`);
    }
  }

  // Wire unused prometheus receivers into a metrics pipeline (a receiver no pipeline lists never starts).
  const pipelinesNode: unknown = doc.getIn(['service', 'pipelines'], true);
  const pipelines = isMap(pipelinesNode) ? pipelinesNode.items.map((pair) => ({ name: keyOf(pair.key), value: pair.value })) : [];
  const metrics = pipelines.filter((p) => p.name === 'metrics' || p.name.startsWith('metrics/'));
  const used = new Set(
    metrics.flatMap((p) => {
      const list: unknown = isMap(p.value) ? p.value.get('receivers', true) : undefined;
      return isSeq(list) ? list.items.map((item) => (isScalar(item) ? String(item.value) : '')) : [];
    }),
  );
  const unused = ids.filter((id) => !used.has(id));
  if (unused.length === 0) return repair;
  const target = metrics.find((p) => p.name === 'metrics') ?? metrics[0];
  if (!target || !isMap(target.value)) {
    repair.warnings.push(`edot-ta: receiver(s) ${unused.join(', ')} are not in any metrics pipeline and the config has none; add a metrics pipeline that lists them, or nothing is scraped`);
    return repair;
  }
  const existing: unknown = target.value.get('receivers', true);
  const list = isSeq(existing) ? existing : new YAMLSeq();
  if (list !== existing) target.value.set('receivers', list);
  for (const id of unused) list.add(doc.createNode(id));
  repair.changes.push(`added ${unused.join(', ')} to the receivers of pipeline ${target.name}`);
  return repair;
}
