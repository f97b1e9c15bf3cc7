import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AdmissionReviewError, defaultMutators, jsonDeeperThan, parseAdmissionReview, review, type AdmissionSettings } from './admission.js';
import { applyPatch } from './patch.js';
import { defaultCRSettings, defaultInjectSettings } from '../settings.js';
import type { CollectorCR, Operation } from '../types.js';

const fixture = (name: string): string => readFileSync(new URL(`../../test/fixtures/admission/${name}`, import.meta.url), 'utf8');
const settings: AdmissionSettings = { inject: defaultInjectSettings(), cr: defaultCRSettings() };
const decodePatch = (patch: string | undefined): Operation[] => (patch ? (JSON.parse(Buffer.from(patch, 'base64').toString()) as Operation[]) : []);

describe('parseAdmissionReview', () => {
  it('reads a real pod CREATE review into typed values', () => {
    const request = parseAdmissionReview(fixture('pod-create-edot-daemon.json'));
    expect(request).toMatchObject({
      uid: '3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: 'opentelemetry-operator-system',
      dryRun: false,
    });
    expect(request.oldObject).toBeUndefined();
    expect(parseAdmissionReview(fixture('pod-create-edot-daemon-dryrun.json')).dryRun).toBe(true);
  });

  it.each([
    ['a non-JSON body', 'not json{', /body is not JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['a v1beta1 review', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }), /admission.k8s.io\/v1beta1.*want admission.k8s.io\/v1/],
    ['another kind', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }), /kind "Pod" is not AdmissionReview/],
    ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), /request is missing/],
    ['a missing uid', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' } }), /request.uid is missing/],
    ['a bad operation', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'PATCH' } }), /operation "PATCH"/],
    ['1.5 million nested arrays (a 3 MB body)', `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${'['.repeat(1_500_000)}${']'.repeat(1_500_000)}}`, /body nests deeper than 200 levels/],
  ])('rejects %s with a clear message', (_name, body, message) => {
    expect(() => parseAdmissionReview(body)).toThrow(AdmissionReviewError);
    expect(() => parseAdmissionReview(body)).toThrow(message);
  });
});

describe('jsonDeeperThan', () => {
  it('measures nesting outside strings, escapes included', () => {
    expect(jsonDeeperThan('{"a":[{"b":"[[[[\\"[["}]}', 3)).toBe(false);
    expect(jsonDeeperThan('[[[[]]]]', 3)).toBe(true);
    expect(jsonDeeperThan(fixture('pod-create-edot-daemon.json'), 30)).toBe(false);
  });
});

describe('review', () => {
  it('injects the EDOT daemon pod: same uid, allowed, a JSON Patch that yields the injected pod', () => {
    const raw = JSON.parse(fixture('pod-create-edot-daemon.json')) as { request: { object: V1Pod } };
    const { body, outcome } = review(parseAdmissionReview(fixture('pod-create-edot-daemon.json')), settings);
    expect(body).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c', allowed: true, patchType: 'JSONPatch' } });
    expect(outcome).toMatchObject({ kind: 'Pod', result: 'mutated' });
    expect(outcome.patchBytes).toBeGreaterThan(0);
    const patched = applyPatch(raw.request.object, decodePatch(body.response.patch));
    const names = [...(patched.spec?.initContainers ?? []), ...(patched.spec?.containers ?? [])].map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['edot-ta', 'edot-ta-render', 'otc-container']));
    expect(patched.metadata?.annotations?.['edot-ta.io/status']).toContain('"sidecarPort":27390');

    // Reinvocation on our own output changes nothing.
    const again = review({ ...parseAdmissionReview(fixture('pod-create-edot-daemon.json')), object: patched }, settings);
    expect(again.body.response.patch).toBeUndefined();
    expect(again.outcome.result).toBe('unchanged');
  });

  it('answers a dryRun review with the same patch (the mutation has no side effects to skip)', () => {
    const real = review(parseAdmissionReview(fixture('pod-create-edot-daemon.json')), settings);
    const dry = review(parseAdmissionReview(fixture('pod-create-edot-daemon-dryrun.json')), settings);
    expect(dry.body.response.patch).toBe(real.body.response.patch);
  });

  it('admits a pod that is not a collector without a patch', () => {
    const { body, outcome } = review(parseAdmissionReview(fixture('pod-create-nginx.json')), settings);
    expect(body.response).toEqual({ uid: '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e', allowed: true });
    expect(outcome.result).toBe('unchanged');
    expect(outcome.reason).toBeTruthy();
  });

  it('sets mode daemonset and turns the central TA off on a v1beta1 collector CREATE', () => {
    const raw = JSON.parse(fixture('collector-create-v1beta1.json')) as { request: { object: CollectorCR } };
    const { body, outcome } = review(parseAdmissionReview(fixture('collector-create-v1beta1.json')), settings);
    expect(outcome).toMatchObject({ kind: 'OpenTelemetryCollector', result: 'mutated' });
    const patched = applyPatch(raw.request.object, decodePatch(body.response.patch));
    expect(patched.spec.mode).toBe('daemonset');
    expect(patched.spec.targetAllocator?.enabled).toBe(false);
  });

  it('mutates a v1alpha1 collector (YAML string config) too', () => {
    const raw = JSON.parse(fixture('collector-create-v1alpha1.json')) as { request: { object: CollectorCR } };
    const { body } = review(parseAdmissionReview(fixture('collector-create-v1alpha1.json')), settings);
    const patched = applyPatch(raw.request.object, decodePatch(body.response.patch));
    expect(patched.spec.mode).toBe('daemonset');
    expect(typeof patched.spec.config).toBe('string');
  });

  it('explains the immutable mode on an UPDATE as an admission warning', () => {
    const { body } = review(parseAdmissionReview(fixture('collector-update-mode-v1beta1.json')), settings);
    expect(body.response.allowed).toBe(true);
    expect(body.response.warnings?.join('\n')).toMatch(/spec.mode cannot change after creation/);
  });

  it('admits an unparsable v1alpha1 config unchanged, with a warning', () => {
    const cr = parse(readFileSync(new URL('../../test/fixtures/collector-crs/v1alpha1-unparsable.yaml', import.meta.url), 'utf8')) as CollectorCR;
    const request = { ...parseAdmissionReview(fixture('collector-create-v1alpha1.json')), object: cr };
    const { body } = review(request, settings);
    expect(body.response.allowed).toBe(true);
    expect(body.response.patch).toBeUndefined();
    expect(body.response.warnings?.join('\n')).toMatch(/not valid YAML/);
  });

  it('admits a collector object that is not an OpenTelemetryCollector with a warning, never a denial', () => {
    const request = { ...parseAdmissionReview(fixture('collector-create-v1beta1.json')), object: { apiVersion: 'opentelemetry.io/v1beta1', kind: 'Other' } };
    const { body, outcome } = review(request, settings);
    expect(body.response).toMatchObject({ allowed: true, warnings: [expect.stringMatching(/cannot read the OpenTelemetryCollector/)] });
    expect(outcome.result).toBe('error');
  });

  it('lets other kinds and pod updates through unchanged', () => {
    const request = parseAdmissionReview(fixture('pod-create-edot-daemon.json'));
    expect(review({ ...request, kind: { group: 'apps', version: 'v1', kind: 'DaemonSet' } }, settings).body.response).toEqual({ uid: request.uid, allowed: true });
    expect(review({ ...request, operation: 'UPDATE' }, settings).body.response).toEqual({ uid: request.uid, allowed: true });
  });

  it('never denies a pod when the mutation throws: allowed, unchanged, with a warning', () => {
    const broken = { ...defaultMutators, mutatePod: () => { throw new Error('boom'); } };
    const { body, outcome } = review(parseAdmissionReview(fixture('pod-create-edot-daemon.json')), settings, broken);
    expect(body.response).toEqual({ uid: '3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c', allowed: true, warnings: ['edot-ta: mutation failed (boom); admitted unchanged'] });
    expect(outcome).toMatchObject({ kind: 'Pod', result: 'error', reason: 'boom' });
  });
});
