import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { podTargetGroup } from '../discovery/kubernetes-sd.js';
import { relabelCases } from '../../test/fixtures/relabel/cases.js';
import { compileRelabelConfigs, type Labels } from '../relabel/relabel.js';
import { finalLabels, identityLabelNames, jobDefaults, ServedLabels, targetsFromGroup, type ScrapeConfig } from './targets-group.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/sidecar/${name}`, import.meta.url), 'utf8');
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
    expect(all.flatMap((r) => r.keys).some((key) => key.startsWith('mixed|__address__=10.1.0.1:15090,__metrics_path__=/shop/metrics,'))).toBe(true);
    expect(identityOnly).toEqual(all);
  });

  it('relabels every label when a labelmap rule or a templated target label could copy any label into the identity', () => {
    const labelmap = compileRelabelConfigs([{ action: 'labelmap', regex: '__meta_kubernetes_pod_annotation_(.+)', replacement: '__$1' }]);
    const templated = compileRelabelConfigs([{ source_labels: ['__meta_kubernetes_namespace'], regex: '(.*)', target_label: '__tmp_${1}', replacement: 'x' }]);
    expect(identityLabelNames(labelmap)).toBeUndefined();
    expect(identityLabelNames(templated)).toBeUndefined();
  });
});

describe('serving only the labels the receiver needs', () => {
  const served = (labels: Labels, selection: ServedLabels): Labels => JSON.parse(`{${selection.select(labels, {})}}`) as Labels;
  const monitorConfigs = ['envoy-stats-monitor', 'app-podmonitor', 'gateway-servicemonitor'].flatMap(
    (name) => (parse(readFileSync(new URL(`../../test/fixtures/monitors/${name}.expected.yaml`, import.meta.url), 'utf8')) as { scrape_configs: ScrapeConfig[] }).scrape_configs,
  );

  it('relabels every conformance case to the same result from the served labels as from all of them', () => {
    let trimmedCases = 0;
    for (const testCase of relabelCases) {
      const rules = compileRelabelConfigs(testCase.relabel_configs);
      const input: Labels = { __address__: '127.0.0.9:15090', ...testCase.input, __meta_unread_annotation: 'big', __meta_kubernetes_pod_uid: 'u-1' };
      const trimmed = served(input, new ServedLabels(rules));
      if (Object.keys(trimmed).length < Object.keys(input).length) trimmedCases++;
      const defaults = jobDefaults({ job_name: 'conformance' });
      expect(finalLabels(trimmed, rules, defaults), testCase.name).toEqual(finalLabels(input, rules, defaults));
    }
    expect(trimmedCases).toBeGreaterThan(relabelCases.length / 2);
  });

  it('gives the prometheus-operator monitor configs the same targets and labels from a fraction of the gateway pods labels', () => {
    let before = 0;
    let after = 0;
    for (const config of monitorConfigs) {
      const rules = compileRelabelConfigs(config.relabel_configs ?? []);
      const selection = new ServedLabels(rules);
      const defaults = jobDefaults(config);
      for (const pod of pods()) {
        const group = podTargetGroup(pod);
        for (const target of group.targets) {
          const all: Labels = { ...group.labels, ...target };
          const trimmed = JSON.parse(`{${selection.select(group.labels, target)}}`) as Labels;
          before += Object.keys(all).length;
          after += Object.keys(trimmed).length;
          expect(finalLabels(trimmed, rules, defaults)).toEqual(finalLabels(all, rules, defaults));
        }
      }
    }
    expect(after / before).toBeLessThan(0.6);
  });

  it('keeps labels outside __meta_, the meta labels rules read or write, and those a labelmap regex matches', () => {
    const rules = compileRelabelConfigs([
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_ip'], target_label: '__meta_rewritten' },
      { action: 'keepequal', source_labels: ['__meta_a'], target_label: '__meta_b' },
      { action: 'labelmap', regex: '__meta_kubernetes_pod_label_(.+)' },
    ]);
    const selection = new ServedLabels(rules);
    const labels: Labels = {
      __address__: 'x:1', zone: 'a', __tmp_keep: 't', __meta_kubernetes_namespace: 'ns', __meta_rewritten: 'old', __meta_a: '1', __meta_b: '1',
      __meta_kubernetes_pod_label_app: 'gw', __meta_kubernetes_pod_labelpresent_app: 'true', __meta_kubernetes_pod_annotation_sidecar_istio_io_status: '{"big":"json"}',
    };
    expect(Object.keys(served(labels, selection)).sort()).toEqual(
      ['__address__', '__meta_a', '__meta_b', '__meta_kubernetes_namespace', '__meta_kubernetes_pod_label_app', '__meta_rewritten', '__tmp_keep', 'zone'].sort(),
    );
    // own labels win over the group's, and values are JSON-escaped
    expect(JSON.parse(`{${selection.select({ zone: 'a', quoted: 'x' }, { zone: 'b"c' })}}`)).toEqual({ quoted: 'x', zone: 'b"c' });
  });
});

describe('target identity (the sharding key)', () => {
  it('tells probe targets apart: the same exporter address with another __param_target is another target, as the Target Allocator hashes every final label', () => {
    // Prometheus' blackbox pattern: the probed URL moves to __param_target, every target ends on the exporter.
    const config: ScrapeConfig = {
      job_name: 'blackbox',
      metrics_path: '/probe',
      params: { module: ['http_2xx'] },
      static_configs: [{ targets: ['https://shop.example', 'https://api.example', 'https://docs.example'] }],
      relabel_configs: [
        { source_labels: ['__address__'], target_label: '__param_target' },
        { source_labels: ['__param_target'], target_label: 'instance' },
        { target_label: '__address__', replacement: 'blackbox-exporter:9115' },
      ],
    };
    const rules = compileRelabelConfigs(config.relabel_configs);
    const group = { source: '0', targets: (config.static_configs as Array<{ targets: string[] }>)[0]!.targets.map((address) => ({ __address__: address })), labels: {} };
    const { kept } = targetsFromGroup('blackbox', group, rules, jobDefaults(config), identityLabelNames(rules));
    expect(kept.map((t) => t.key)).toHaveLength(3);
    expect(new Set(kept.map((t) => t.key)).size).toBe(3);
    for (const target of kept) expect(target.key).toMatch(/__address__=blackbox-exporter:9115,.*__param_module=http_2xx,__param_target=https:\/\/\w+\.example/);
  });
});
