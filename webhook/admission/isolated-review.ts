// Expensive reviews run in a worker thread: every OpenTelemetryCollector review (a CR carries a
// whole collector config, which the review parses) and every large body (parsed there too). A
// hostile or absurd one (see cr/config-limits.ts) must not make pod reviews wait behind it on
// the event loop, nor grow the webhook past its memory limit. The worker has its own small heap;
// a review that runs past its deadline (or runs the worker out of memory) is answered "allowed,
// unchanged, with a warning" and the worker is replaced. Ordinary pod reviews stay on the main
// thread.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../common/log.js';
import { AdmissionReviewError, admissionResponse, type AdmissionRequest, type AdmissionReviewResponse, type AdmissionSettings, type ReviewOutcome } from './admission.js';

export interface IsolatedReviewOptions {
  settings: AdmissionSettings;
  logger: Logger;
  /** From arrival to answer, queueing included; the API server gives up after the webhook's timeoutSeconds (5 s). */
  deadlineMs?: number;
  /** The worker's old-generation heap (MiB): a parse that needs more fails alone. */
  heapMb?: number;
}

type Result = { body: AdmissionReviewResponse; outcome: ReviewOutcome };
/** The answer and the request it answered (objects left out). */
export type IsolatedResult = Result & { request: AdmissionRequest };

/** A parsed request, or a raw body the worker parses (a body that is not a review rejects with AdmissionReviewError). */
export type ReviewInput = { request: AdmissionRequest } | { body: string } | { bytes: ArrayBuffer };

interface Job {
  id: number;
  input: ReviewInput;
  deadline: number;
  resolve: (result: IsolatedResult) => void;
  reject: (error: Error) => void;
  /** The start of a body sent as bytes (moved to the worker): where an abandoned answer finds the uid. */
  uidHint?: string;
}

/** What the answer can say about a request the worker never got to parse. */
const unparsed = (): AdmissionRequest => ({ uid: '', kind: { group: '', version: '', kind: 'unknown' }, operation: 'CREATE', object: {}, dryRun: false });

const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSources ? './review-worker.ts' : './review-worker.js', import.meta.url);

/**
 * The worker's entry. Built (dist/, the image): the compiled worker file. From the TypeScript
 * sources (tests, `npm run demo`): a module that registers tsx in the worker first, since a
 * worker does not inherit the parent's loaders.
 */
function workerEntry(): URL {
  if (!fromSources) return workerUrl;
  // tsx's ESM API entry, as its package.json exports it for `import`.
  const packageJson = createRequire(import.meta.url).resolve('tsx/package.json');
  const exported = (JSON.parse(readFileSync(packageJson, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api']!.import.default;
  const tsx = pathToFileURL(join(dirname(packageJson), exported)).href;
  return new URL(`data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(workerUrl.href)});`)}`);
}

export class IsolatedReviewer {
  private worker: Worker | undefined;
  private readonly queue: Job[] = [];
  private running: { job: Job; timer: NodeJS.Timeout } | undefined;
  private nextId = 1;
  private closed = false;
  private readonly deadlineMs: number;

  constructor(private readonly options: IsolatedReviewOptions) {
    this.deadlineMs = options.deadlineMs ?? 4_000;
  }

  review(input: ReviewInput): Promise<IsolatedResult> {
    return new Promise((resolve, reject) => {
      const uidHint = 'bytes' in input ? Buffer.from(input.bytes, 0, Math.min(input.bytes.byteLength, 64 * 1024)).toString('utf8') : undefined;
      this.queue.push({ id: this.nextId++, input, deadline: Date.now() + this.deadlineMs, resolve, reject, ...(uidHint !== undefined ? { uidHint } : {}) });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(this.unchanged(job, 'the webhook is shutting down'));
    await this.worker?.terminate();
  }

  private pump(): void {
    if (this.running || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    const remaining = job.deadline - Date.now();
    if (remaining <= 0) {
      job.resolve(this.unchanged(job, `it waited ${this.deadlineMs} ms behind other collector reviews`));
      this.pump();
      return;
    }
    const worker = this.ensureWorker();
    const timer = setTimeout(() => this.fail(`reading it took longer than ${this.deadlineMs} ms`), remaining);
    this.running = { job, timer };
    // Bytes are moved to the worker, not copied (the main thread never decodes them).
    worker.postMessage({ id: job.id, ...job.input }, 'bytes' in job.input ? [job.input.bytes] : []);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const heapMb = this.options.heapMb ?? 48;
    const worker = new Worker(workerEntry(), {
      workerData: { settings: this.options.settings },
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 8 },
    });
    worker.on('message', (message: { id: number; result?: Result; request?: AdmissionRequest; badRequest?: string }) => {
      const running = this.running;
      if (!running || running.job.id !== message.id) return;
      clearTimeout(running.timer);
      this.running = undefined;
      if (message.badRequest !== undefined) running.job.reject(new AdmissionReviewError(message.badRequest));
      else running.job.resolve({ ...message.result!, request: message.request! });
      this.pump();
    });
    worker.on('error', (err) => this.fail(err.message.includes('out of memory') || (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'reading it needed more memory than the webhook allows' : `the review failed (${err.message})`));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      if (this.running) this.fail('the review worker stopped');
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** The running review failed: answer it, replace the worker, go on with the queue. */
  private fail(why: string): void {
    const running = this.running;
    if (!running) return;
    clearTimeout(running.timer);
    this.running = undefined;
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    const request = 'request' in running.job.input ? running.job.input.request : undefined;
    this.options.logger.warn('review abandoned; admitted unchanged', { uid: request?.uid, namespace: request?.namespace, name: request?.name, why });
    running.job.resolve(this.unchanged(running.job, why));
    this.pump();
  }

  /**
   * Allowed, unchanged, with a warning. A raw body the worker never parsed has no known uid, and
   * an answer must echo it: read it here with a bounded search instead of a full parse.
   */
  private unchanged(job: Job, why: string): IsolatedResult {
    const request = 'request' in job.input ? job.input.request : { ...unparsed(), uid: uidOf('body' in job.input ? job.input.body : job.uidHint ?? '') };
    const kind = request.kind.kind === 'OpenTelemetryCollector' ? 'OpenTelemetryCollector' : request.kind.kind === 'Pod' ? 'Pod' : 'other';
    return {
      body: admissionResponse(request.uid, [], [`edot-ta: the ${kind === 'other' ? 'object' : kind} was admitted unchanged: ${why}`]),
      outcome: { kind, result: 'error', patchBytes: 0, reason: why },
      request,
    };
  }
}

/** request.uid of a raw AdmissionReview body, found without parsing it (UIDs are short and plain). */
export function uidOf(body: string): string {
  const match = /"uid"\s*:\s*"([0-9A-Za-z-]{1,64})"/.exec(body.slice(0, 64 * 1024));
  return match?.[1] ?? '';
}
