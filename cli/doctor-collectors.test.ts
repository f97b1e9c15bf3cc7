import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { diagnoseCollectors, metricsPrometheusReceivers, type CollectorCRLike } from './doctor-collectors.js';

const fixture = (name: string) => parse(readFileSync(new URL(`../test/fixtures/collector-crs/${name}`, import.meta.url), 'utf8')) as CollectorCRLike;

describe('doctor: OpenTelemetryCollector CRs', () => {
  it('the immutable-mode trap: a CR whose collector runs as another kind than its mode, with the recreate command', () => {
    const cr = { ...fixture('kube-stack-daemon-v1beta1.yaml') };
    const { name, namespace } = cr.metadata as { name: string; namespace: string };
    const findings = diagnoseCollectors({ crs: [cr], workloads: new Map([[`${namespace}/${name}-collector`, { kind: 'Deployment' as const, managedBy: 'opentelemetry-operator' }]]) });
    expect(findings[0]).toMatchObject({ level: 'fail', check: 'collectors' });
    expect(findings[0]?.message).toBe(`OpenTelemetryCollector ${namespace}/${name} asks for mode daemonset, but its collector runs as a Deployment: the mode cannot change after creation ("mode is set to deployment, which does not support modification")`);
    expect(findings[0]?.hint).toContain(`kubectl delete opentelemetrycollector ${name} -n ${namespace} && kubectl apply -f`);
  });

  it('a CR without mode: defaulted to deployment by the operator (a warning, with the fix); the TA on with no prometheus receiver in a metrics pipeline fails', () => {
    const noMode = diagnoseCollectors({ crs: [fixture('v1beta1-no-mode-ta-on.yaml')], workloads: new Map() });
    expect(noMode[0]).toMatchObject({ level: 'warn' });
    expect(noMode[0]?.message).toMatch(/: mode deployment \(not set: the operator defaulted it, and it cannot change later\)$/);
    const noReceiver = diagnoseCollectors({ crs: [fixture('v1alpha1-ta-no-receiver.yaml')], workloads: new Map() });
    expect(noReceiver.find((f) => f.level === 'fail')?.message).toMatch(/the Target Allocator is enabled but no metrics pipeline has a prometheus receiver \(the operator: "no prometheus available as part of the configuration"\)/);
  });

  it('reads prometheus receivers of metrics pipelines from a v1alpha1 string or a v1beta1 object', () => {
    expect(metricsPrometheusReceivers('service:\n  pipelines:\n    metrics/a: {receivers: [otlp, prometheus/k8s]}\n    logs: {receivers: [prometheus]}\n')).toEqual(['prometheus/k8s']);
    expect(metricsPrometheusReceivers({ service: { pipelines: { metrics: { receivers: ['prometheus'] } } } })).toEqual(['prometheus']);
    expect(metricsPrometheusReceivers('a: [')).toBeUndefined();
  });

  it('two sources rendering one collector: its workload controlled by another object, or not made by the operator', () => {
    const cr = { ...fixture('kube-stack-daemon-v1beta1.yaml') };
    const { name, namespace } = cr.metadata as { name: string; namespace: string };
    const key = `${namespace}/${name}-collector`;
    const helm = diagnoseCollectors({ crs: [cr], workloads: new Map([[key, { kind: 'DaemonSet' as const, managedBy: 'Helm' }]]) });
    expect(helm[0]).toMatchObject({ level: 'fail', message: `OpenTelemetryCollector ${namespace}/${name} renders the DaemonSet ${key}, but it was not created by the operator (managed-by: Helm): two sources render one collector` });
    const other = diagnoseCollectors({ crs: [cr], workloads: new Map([[key, { kind: 'DaemonSet' as const, controller: { kind: 'OpenTelemetryCollector', name: 'other', uid: 'u2' } }]]) });
    expect(other[0]?.message).toContain('but OpenTelemetryCollector other controls it');
    const own = diagnoseCollectors({ crs: [cr], workloads: new Map([[key, { kind: 'DaemonSet' as const, controller: { kind: 'OpenTelemetryCollector', name, uid: 'u1' } }]]) });
    expect(own.filter((f) => f.level === 'fail')).toEqual([]);
  });

  it('what the webhook did to the CR on admission, from its status annotation: changes (ok) and warnings', () => {
    const cr = { ...fixture('v1beta1-no-mode-ta-on.yaml') };
    cr.metadata = { ...cr.metadata, annotations: { 'edot-ta.io/status': JSON.stringify({ version: '0.1.0', changes: ['turned off spec.targetAllocator (the edot-ta sidecar in each collector pod takes its place)', 'added receiver prometheus (config.scrape_configs: []) for the sidecar to fill'], warnings: ['edot-ta: receiver(s) prometheus/x are not in any metrics pipeline'] }) } };
    const findings = diagnoseCollectors({ crs: [cr], workloads: new Map() });
    expect(findings).toContainEqual(expect.objectContaining({ level: 'ok', message: expect.stringMatching(/: the edot-ta webhook changed it on admission: turned off spec.targetAllocator .*; added receiver prometheus/) }));
    expect(findings).toContainEqual(expect.objectContaining({ level: 'warn', message: expect.stringMatching(/: the edot-ta webhook warned on admission: receiver\(s\) prometheus\/x are not in any metrics pipeline$/) }));
  });
});
