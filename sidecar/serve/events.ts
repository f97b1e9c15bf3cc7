// What `kubectl describe pod` shows about the sidecar: Kubernetes Events on its own pod (an
// invalid monitor or scrape config, named), rate-limited and best-effort: a failure to write
// one is logged, never fatal, and never blocks serving targets. The one-line summary ("serving
// 42 targets in 3 jobs") rides on the member's Lease (sharding/lease-record.ts), so the sidecar
// needs no write access to pods.
import type { Logger } from '../../common/log.js';
import type { KubeClient } from '../kube/client.js';

export interface PodRef {
  name: string;
  namespace: string;
  uid: string;
}

export interface EventWriterOptions {
  /** The same reason+message is not repeated within this window. */
  repeatWindowMs?: number;
  now?: () => number;
}

export class PodEvents {
  private readonly lastSent = new Map<string, number>();
  private readonly repeatWindowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: KubeClient,
    private readonly pod: PodRef,
    private readonly logger: Logger,
    options: EventWriterOptions = {},
  ) {
    this.repeatWindowMs = options.repeatWindowMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Records a Warning/Normal event on the sidecar's pod, once per window for the same text. */
  async record(type: 'Normal' | 'Warning', reason: string, message: string): Promise<boolean> {
    const dedupKey = `${type}|${reason}|${message}`;
    const last = this.lastSent.get(dedupKey);
    if (last !== undefined && this.now() - last < this.repeatWindowMs) return false;
    this.lastSent.set(dedupKey, this.now());
    const timestamp = new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      await this.client.requestJson('POST', `/api/v1/namespaces/${encodeURIComponent(this.pod.namespace)}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${this.pod.name}.`, namespace: this.pod.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name: this.pod.name, namespace: this.pod.namespace, uid: this.pod.uid, fieldPath: 'spec.containers{edot-ta}' },
          reason,
          message: message.slice(0, 1024),
          type,
          source: { component: 'edot-ta' },
          reportingComponent: 'edot-ta',
          reportingInstance: this.pod.name,
          firstTimestamp: timestamp,
          lastTimestamp: timestamp,
          count: 1,
        },
      });
      return true;
    } catch (err) {
      this.lastSent.delete(dedupKey); // try again next time
      this.logger.warn('could not record an event on the sidecar pod', { reason, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }
}

export function summaryText(targets: number, jobs: number): string {
  return `serving ${targets} target${targets === 1 ? '' : 's'} in ${jobs} job${jobs === 1 ? '' : 's'}`;
}
