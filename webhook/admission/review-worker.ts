// The worker side of isolated-review.ts: parses (when given the raw body) and reviews each
// request it is sent, and sends back the answer with the request's identity (no object bodies).
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { AdmissionReviewError, parseAdmissionReview, review, type AdmissionRequest, type AdmissionSettings } from './admission.js';

const { settings } = workerData as { settings: AdmissionSettings };

/** The request without its objects: what logs and the decision log need (generateName included). */
function identity(request: AdmissionRequest): AdmissionRequest {
  const generateName = (request.object as { metadata?: { generateName?: unknown } } | null)?.metadata?.generateName;
  const { oldObject: _old, ...rest } = request;
  return { ...rest, object: typeof generateName === 'string' ? { metadata: { generateName } } : {} };
}

// Pod reviews on the main thread come first: on Linux, setpriority(pid 0) from a thread changes
// that thread alone, so this worker (CR reviews, large bodies) yields the CPU to the event loop.
try {
  setPriority(0, 19);
} catch {
  // not permitted or not supported: run at the process's priority
}

const decoder = new TextDecoder();

parentPort?.on('message', ({ id, body, bytes, request }: { id: number; body?: string; bytes?: ArrayBuffer; request?: AdmissionRequest }) => {
  let parsed: AdmissionRequest;
  try {
    parsed = request ?? parseAdmissionReview(body ?? decoder.decode(bytes ?? new ArrayBuffer(0)));
  } catch (err) {
    if (!(err instanceof AdmissionReviewError)) throw err;
    parentPort?.postMessage({ id, badRequest: err.message });
    return;
  }
  parentPort?.postMessage({ id, result: review(parsed, settings), request: identity(parsed) });
});
