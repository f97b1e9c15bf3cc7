import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { containerEnv, findContainer, localArgs } from './demo-kubelet.js';

const pod: V1Pod = {
  metadata: { name: 'daemon-a', namespace: 'observability', uid: 'uid-1', annotations: { 'edot-ta.io/prometheus-cr': '{"enabled":true}' } },
  spec: {
    nodeName: 'node-a',
    volumes: [{ name: 'otc-internal', configMap: { name: 'cfg' } }, { name: 'edot-ta-config', emptyDir: {} }],
    initContainers: [
      {
        name: 'edot-ta-render',
        command: ['edot-ta', 'sidecar', 'render'],
        args: ['--in', '/conf/collector.yaml', '--out', '/edot-ta/0-collector.yaml', '--endpoint', 'http://127.0.0.1:27390'],
        volumeMounts: [{ name: 'otc-internal', mountPath: '/conf' }, { name: 'edot-ta-config', mountPath: '/edot-ta' }],
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'CR', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['edot-ta.io/prometheus-cr']" } } },
          { name: 'EDOT_TA_GROUP', value: 'daemon' },
        ],
      },
    ],
    containers: [{ name: 'otc-container', image: 'x' }],
  },
};

describe('demo kubelet', () => {
  const local = { pod, volumes: new Map([['otc-internal', '/tmp/p/otc-internal'], ['edot-ta-config', '/tmp/p/edot-ta-config']]) };

  it('turns command and args into CLI arguments with container paths mapped onto local folders', () => {
    expect(localArgs(local, findContainer(pod, 'edot-ta-render'))).toEqual([
      'sidecar', 'render', '--in', '/tmp/p/otc-internal/collector.yaml', '--out', '/tmp/p/edot-ta-config/0-collector.yaml', '--endpoint', 'http://127.0.0.1:27390',
    ]);
  });

  it('resolves literal and downward-API env like the kubelet', () => {
    expect(containerEnv(pod, findContainer(pod, 'edot-ta-render'))).toEqual({
      POD_NAME: 'daemon-a', NODE_NAME: 'node-a', CR: '{"enabled":true}', EDOT_TA_GROUP: 'daemon',
    });
  });

  it('names the missing container', () => {
    expect(() => findContainer(pod, 'edot-ta')).toThrow('pod daemon-a has no container edot-ta');
  });
});
