import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { podTargetGroup } from './discovery/kubernetes-sd.js';
import { compileRelabelConfigs } from './relabel.js';
import { identityLabelNames, jobDefaults, targetsFromGroup, type ScrapeConfig } from './targets-group.js';

const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/sidecar/${name}`, import.meta.url), 'utf8');
const envoyConfig = parse(fixture('envoy-stats-scrape-config.yaml')) as ScrapeConfig;
const gatewayPod = parse(fixture('istio-gateway-pod.yaml')) as Parameters<typeof podTargetGroup>[0];

/** Gateway pods in a few shapes: annotated port or not, other namespaces, no IP yet. */
function pods() {
  return [undefined, '15020', 'not-a-port'].flatMap((port, i) =>
    ['istio-system', 'shop'].map((namespace) => {
      const pod = structuredClone(gatewayPod);
      pod.metadata = { ...pod.metadata, name: `gw-${i}`, namespace, annotations: { ...pod.metadata?.annotations, ...(port ? { 'prometheus.io/port': port } : {}) } };
      pod.status = { phase: 'Running', podIP: `10.1.0.${i + 1}`, hostIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] };
      return pod;
    }),
  );
}

/** Keys and drop counts of every pod group, relabeling all labels vs only the identity labels. */
function bothWays(config: ScrapeConfig) {
  const rules = compileRelabelConfigs(config.relabel_configs ?? []);
  const names = identityLabelNames(rules);
  const defaults = jobDefaults(config);
  const run = (identity: readonly string[] | undefined) =>
    pods().map((pod) => {
      const result = targetsFromGroup(config.job_name, podTargetGroup(pod), rules, defaults, identity);
      return { keys: result.kept.map((t) => t.key), dropped: result.droppedCount };
    });
  return { names, all: run(undefined), identityOnly: names ? run(names) : undefined };
}

describe('relabeling only the identity labels', () => {
  it('keeps and drops the same targets with the same identities as relabeling every label (envoy-stats config)', () => {
    const { names, all, identityOnly } = bothWays(envoyConfig);
    expect(names).toContain('__meta_kubernetes_pod_annotation_prometheus_io_port');
    expect(names).not.toContain('__meta_kubernetes_pod_label_app');
    expect(all.some((r) => r.keys.length > 0) && all.some((r) => r.dropped > 0)).toBe(true);
    expect(identityOnly).toEqual(all);
  });

  it('agrees with labelkeep, keepequal and lowercase rules that touch the identity', () => {
    const config: ScrapeConfig = {
      job_name: 'mixed',
      relabel_configs: [
        { source_labels: ['__meta_kubernetes_namespace'], action: 'lowercase', target_label: '__tmp_ns' },
        { source_labels: ['__meta_kubernetes_namespace'], action: 'keepequal', target_label: '__tmp_ns' },
        { action: 'labelkeep', regex: '__address__|__scheme__|__metrics_path__|__tmp_ns|__meta_kubernetes_pod_container_port_number' },
        { source_labels: ['__meta_kubernetes_pod_container_port_number'], regex: '', action: 'drop' },
        { source_labels: ['__tmp_ns'], target_label: '__metrics_path__', replacement: '/$1/metrics' },
      ],
    };
    const { names, all, identityOnly } = bothWays(config);
    expect(names).toBeDefined();
    expect(all.flatMap((r) => r.keys)).toContain('mixed|http|10.1.0.1:15090|/shop/metrics');
    expect(identityOnly).toEqual(all);
  });

  it('relabels every label when a labelmap rule or a templated target label could copy any label into the identity', () => {
    const labelmap = compileRelabelConfigs([{ action: 'labelmap', regex: '__meta_kubernetes_pod_annotation_(.+)', replacement: '__$1' }]);
    const templated = compileRelabelConfigs([{ source_labels: ['__meta_kubernetes_namespace'], regex: '(.*)', target_label: '__tmp_${1}', replacement: 'x' }]);
    expect(identityLabelNames(labelmap)).toBeUndefined();
    expect(identityLabelNames(templated)).toBeUndefined();
  });
});
