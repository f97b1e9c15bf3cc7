// Collector reviews in a worker thread: the same answers as in-process, a deadline and a heap
// limit that end a hostile review with "admitted unchanged" (and a fresh worker for the next),
// and pod reviews answered while a collector review is still running.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { defaultCRSettings, defaultInjectSettings } from '../settings.js';
import { AdmissionReviewError, parseAdmissionReview, review, type AdmissionRequest } from './admission.js';
import { IsolatedReviewer } from './isolated-review.js';
import { createWebhookMetrics } from './metrics.js';
import { createWebhookApp } from '../server.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/admission/${name}`, import.meta.url), 'utf8');
const settings = { inject: defaultInjectSettings(), cr: defaultCRSettings() };
const logger = createLogger({}, () => {});
const keys = (n: number) => 'receivers:\n' + Array.from({ length: n }, (_, i) => `  k${i}: v`).join('\n') + '\nservice: { pipelines: {} }\n';
function crReview(config?: string): string {
  const body = JSON.parse(fixture('collector-create-v1alpha1.json')) as { request: { uid: string; object: { spec: { config: unknown } } } };
  if (config !== undefined) body.request.object.spec.config = config;
  return JSON.stringify(body);
}

describe('IsolatedReviewer', () => {
  const reviewers: IsolatedReviewer[] = [];
  afterEach(async () => Promise.all(reviewers.splice(0).map((r) => r.close())));
  const make = (options: { deadlineMs?: number; heapMb?: number } = {}) => {
    const reviewer = new IsolatedReviewer({ settings, logger, ...options });
    reviewers.push(reviewer);
    return reviewer;
  };

  it('answers as the in-process review does', async () => {
    const request = parseAdmissionReview(crReview());
    const isolated = await make().review({ request });
    const { request: identity, ...answer } = isolated;
    expect(answer).toEqual(review(request, settings));
    expect(identity).toMatchObject({ uid: request.uid, kind: request.kind, name: request.name });
    expect(isolated.outcome.result).toBe('mutated');
  });

  it('a review past its deadline is admitted unchanged with a warning; the next review gets a fresh worker', async () => {
    const reviewer = make({ deadlineMs: 30 });
    const slow = await reviewer.review({ request: parseAdmissionReview(crReview(keys(9_000))) });
    expect(slow.body.response).toEqual({ uid: expect.any(String), allowed: true, warnings: ['edot-ta: the OpenTelemetryCollector was admitted unchanged: reading it took longer than 30 ms'] });
    expect(slow.outcome).toMatchObject({ kind: 'OpenTelemetryCollector', result: 'error' });
    const generous = make({ deadlineMs: 10_000 });
    expect((await generous.review({ request: parseAdmissionReview(crReview()) })).outcome.result).toBe('mutated');
  });

  it('a review that needs more heap than the worker has is admitted unchanged; the next one works', async () => {
    // 12 MiB: enough for a real config (10 is), not for 9,990 keys (24 is).
    const reviewer = make({ heapMb: 12, deadlineMs: 20_000 });
    const big = await reviewer.review({ request: parseAdmissionReview(crReview(keys(9_990))) });
    expect(big.body.response.warnings).toEqual(['edot-ta: the OpenTelemetryCollector was admitted unchanged: reading it needed more memory than the webhook allows']);
    expect((await reviewer.review({ request: parseAdmissionReview(crReview()) })).outcome.result).toBe('mutated');
  });

  it('parses raw bodies in the worker: the same answer, and a body that is not a review is an AdmissionReviewError', async () => {
    const reviewer = make();
    const body = fixture('pod-create-edot-daemon.json');
    const { request: identity, ...answer } = await reviewer.review({ body });
    expect(answer).toEqual(review(parseAdmissionReview(body), settings));
    expect(identity.uid).toBe('3c1b5a2e-7f0d-4e8b-a9c6-1d2e3f4a5b6c');
    await expect(reviewer.review({ body: '{"kind":"Pod"}' })).rejects.toThrow(AdmissionReviewError);
    await expect(reviewer.review({ body: `{"request":${'['.repeat(10_000)}${']'.repeat(10_000)}}` })).rejects.toThrow(/nests deeper than 200/);
  });

  it('answers a raw body past its deadline with the uid found in the body', async () => {
    const reviewer = make({ deadlineMs: 30 });
    const { body } = await reviewer.review({ body: crReview(keys(9_000)) });
    expect(body.response).toEqual({ uid: JSON.parse(crReview()).request.uid, allowed: true, warnings: ['edot-ta: the object was admitted unchanged: reading it took longer than 30 ms'] });
  });

  it('queues reviews and answers each within its own deadline', async () => {
    const reviewer = make({ deadlineMs: 10_000 });
    const requests: AdmissionRequest[] = Array.from({ length: 5 }, () => parseAdmissionReview(crReview()));
    const answers = await Promise.all(requests.map((request) => reviewer.review({ request })));
    expect(answers.map((a) => a.body.response.uid)).toEqual(requests.map((r) => r.uid));
  });
});

describe('the webhook with collector reviews isolated', () => {
  it('reviews a body above 128 KiB in the worker (moved as bytes): the same answer; a large non-review is a 400', async () => {
    const app = createWebhookApp({ settings, metrics: createWebhookMetrics(), logger });
    const post = async (body: string) => app.request('/mutate', { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } });
    const review0 = JSON.parse(fixture('pod-create-edot-daemon.json')) as { request: { object: { metadata: { annotations?: Record<string, string> } } } };
    review0.request.object.metadata.annotations = { ...review0.request.object.metadata.annotations, 'example.com/padding': 'x'.repeat(200 * 1024) };
    const big = JSON.stringify(review0);
    expect(big.length).toBeGreaterThan(128 * 1024);
    const res = await post(big);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(review(parseAdmissionReview(big), settings).body);
    const bad = await post(JSON.stringify({ kind: 'Pod', padding: 'y'.repeat(200 * 1024) }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringMatching(/not an admission.k8s.io\/v1 AdmissionReview/) });
  });

  it('answers a pod review while a slow collector review is still running', async () => {
    const app = createWebhookApp({ settings, metrics: createWebhookMetrics(), logger });
    const post = async (body: string) => app.request('/mutate', { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } });
    // Warm the worker so its start-up is not what is measured.
    await post(crReview());
    const order: string[] = [];
    const cr = post(crReview(keys(9_000))).then(() => order.push('collector'));
    const pod = post(fixture('pod-create-edot-daemon.json')).then(() => order.push('pod'));
    await Promise.all([cr, pod]);
    expect(order).toEqual(['pod', 'collector']);
  });
});
