import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { PodEvents, summaryText } from './events.js';
import type { KubeClient } from '../kube/client.js';

/** Records the requests the writer makes (a test double of our own client interface). */
function recordingClient(fail = false) {
  const calls: Array<{ method: string; path: string; body: unknown; contentType?: string }> = [];
  const client: KubeClient = {
    server: 'https://test',
    async requestJson(method, path, options = {}) {
      calls.push({ method, path, body: options.body, contentType: options.contentType });
      if (fail) throw new Error('connection refused');
      return {};
    },
    async watch() {},
  };
  return { client, calls };
}

const pod = { name: 'collector-0', namespace: 'otel', uid: 'uid-1' };
const logger = createLogger({}, () => {});

describe('PodEvents', () => {
  it('records a Warning event on its own pod, once per window for the same text', async () => {
    let now = 1_000_000;
    const { client, calls } = recordingClient();
    const events = new PodEvents(client, pod, logger, { repeatWindowMs: 60_000, now: () => now });
    expect(await events.record('Warning', 'InvalidMonitor', 'skipped monitor ns/bad: regex')).toBe(true);
    expect(await events.record('Warning', 'InvalidMonitor', 'skipped monitor ns/bad: regex')).toBe(false);
    now += 61_000;
    expect(await events.record('Warning', 'InvalidMonitor', 'skipped monitor ns/bad: regex')).toBe(true);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({
      method: 'POST',
      path: '/api/v1/namespaces/otel/events',
      body: { involvedObject: { kind: 'Pod', name: 'collector-0', namespace: 'otel', uid: 'uid-1' }, reason: 'InvalidMonitor', type: 'Warning', message: 'skipped monitor ns/bad: regex' },
    });
  });

  it('retries an event that could not be written instead of swallowing it for the window', async () => {
    const failing = recordingClient(true);
    const events = new PodEvents(failing.client, pod, logger);
    expect(await events.record('Warning', 'InvalidMonitor', 'x')).toBe(false);
    expect(await events.record('Warning', 'InvalidMonitor', 'x')).toBe(false);
    expect(failing.calls).toHaveLength(2);
  });

  it('words the summary', () => {
    expect(summaryText(42, 3)).toBe('serving 42 targets in 3 jobs');
    expect(summaryText(1, 1)).toBe('serving 1 target in 1 job');
  });
});
