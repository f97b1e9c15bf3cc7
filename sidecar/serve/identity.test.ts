import { describe, expect, it } from 'vitest';
import { IdentityError, readIdentity } from './identity.js';
import { parsePrometheusCREnv } from '../../contract/prometheus-cr.js';

const env = { POD_NAME: 'daemon-abc', POD_UID: 'uid-1', POD_NAMESPACE: 'otel', NODE_NAME: 'node-a', EDOT_TA_GROUP: 'otel/daemon' };

describe('readIdentity', () => {
  it('reads the pod identity and leaves monitors off without EDOT_TA_PROMETHEUS_CR', () => {
    const identity = readIdentity(env);
    expect(identity).toMatchObject({ podName: 'daemon-abc', podUid: 'uid-1', podNamespace: 'otel', nodeName: 'node-a', group: 'otel/daemon' });
    expect(identity.prometheusCR.enabled).toBe(false);
  });

  it('names every missing variable in one clear error', () => {
    expect(() => readIdentity({ ...env, POD_UID: '', NODE_NAME: undefined })).toThrow(/missing environment variables POD_UID, NODE_NAME/);
    expect(() => readIdentity({})).toThrow(IdentityError);
  });
});

describe('parsePrometheusCR', () => {
  it('keeps a nil selector (selects nothing) apart from {} (selects everything)', () => {
    const settings = parsePrometheusCREnv(JSON.stringify({ enabled: true, podMonitorSelector: {}, serviceMonitorSelector: null }));
    expect(settings.podMonitorSelector).toEqual({});
    expect(settings.serviceMonitorSelector).toBeNull();
  });

  it('reads selectors, namespaces and the scrape interval', () => {
    const settings = parsePrometheusCREnv(
      JSON.stringify({
        enabled: true,
        scrapeInterval: '15s',
        podMonitorSelector: { matchLabels: { team: 'mesh' } },
        podMonitorNamespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'Exists' }] },
        allowNamespaces: ['istio-system'],
        denyNamespaces: ['kube-system'],
      }),
    );
    expect(settings).toMatchObject({
      enabled: true,
      scrapeInterval: '15s',
      podMonitorSelector: { matchLabels: { team: 'mesh' } },
      podMonitorNamespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'Exists' }] },
      allowNamespaces: ['istio-system'],
      denyNamespaces: ['kube-system'],
    });
  });

  it('rejects malformed settings naming the field', () => {
    expect(() => parsePrometheusCREnv('{not json')).toThrow(/EDOT_TA_PROMETHEUS_CR is not valid JSON/);
    expect(() => parsePrometheusCREnv('{"scrapeInterval":"soon"}')).toThrow(/scrapeInterval/);
    expect(() => parsePrometheusCREnv('{"podMonitorSelector":{"matchExpressions":[{"key":"a","operator":"Like"}]}}')).toThrow(/EDOT_TA_PROMETHEUS_CR: .*podMonitorSelector/);
  });
});
