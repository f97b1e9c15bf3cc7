import { describe, expect, it } from 'vitest';
import { UsageError } from '../common/args.js';
import { defaultInjectSettings, envNameForFlag, parseCRSettings, parseInjectSettings, parseLabelSelector, resolveNativeSidecars } from './settings.js';

describe('inject settings', () => {
  it('defaults to port 27390, non-native sidecars until resolved, and the operator label selector', () => {
    const s = defaultInjectSettings();
    expect(s.sidecarPort).toBe(27390);
    expect(s.nativeSidecars).toBe(false);
    expect(s.nativeSidecarsMode).toBe('auto');
    expect(s.sidecarCommand).toEqual(['edot-ta']);
    expect(s.collectorPodSelector).toEqual([
      { key: 'app.kubernetes.io/managed-by', operator: 'Equals', value: 'opentelemetry-operator' },
      { key: 'app.kubernetes.io/component', operator: 'Equals', value: 'opentelemetry-collector' },
    ]);
  });

  it('takes flags over env over defaults', () => {
    const env = { EDOT_TA_SIDECAR_PORT: '28001', EDOT_TA_SIDECAR_IMAGE: 'from-env:1', EDOT_TA_COLLECTOR_IMAGE: 'a/*, b/*' };
    const s = parseInjectSettings({ 'sidecar-image': 'from-flag:1' }, env);
    expect(s.sidecarImage).toBe('from-flag:1');
    expect(s.sidecarPort).toBe(28001);
    expect(s.collectorImagePatterns).toEqual(['a/*', 'b/*']);
    expect(parseInjectSettings({ 'collector-image': ['x/*', 'y/*,z/*'] }).collectorImagePatterns).toEqual(['x/*', 'y/*', 'z/*']);
    expect(envNameForFlag('sd-refresh-interval')).toBe('EDOT_TA_SD_REFRESH_INTERVAL');
  });

  it('parses every setting and rejects bad values with the flag name', () => {
    const s = parseInjectSettings({
      'sidecar-command': '/nodejs/bin/node /app/dist/cli/main.js',
      'native-sidecars': 'true',
      'ta-interval': '15s',
      'sd-refresh-interval': '5s',
      'sidecar-memory-limit': '',
      'sidecar-cpu-limit': '200m',
      'default-prometheus-cr': '',
      'collector-selector': 'app=otel,!skip',
    });
    expect(s.sidecarCommand).toEqual(['/nodejs/bin/node', '/app/dist/cli/main.js']);
    expect(s.nativeSidecars).toBe(true);
    expect(s.targetAllocatorInterval).toBe('15s');
    expect(s.httpSdRefreshInterval).toBe('5s');
    expect(s.sidecarResources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m' } });
    expect(s.defaultPrometheusCR).toBe('');
    expect(s.collectorPodSelector).toEqual([{ key: 'app', operator: 'Equals', value: 'otel' }, { key: 'skip', operator: 'DoesNotExist' }]);
    expect(() => parseInjectSettings({ 'sidecar-port': '70000' })).toThrow(/--sidecar-port/);
    expect(() => parseInjectSettings({ 'native-sidecars': 'yes' })).toThrow(UsageError);
    expect(() => parseInjectSettings({ 'ta-interval': 'soon' })).toThrow(/--ta-interval/);
    expect(() => parseInjectSettings({ 'default-prometheus-cr': '[1]' })).toThrow(/--default-prometheus-cr/);
    expect(() => parseInjectSettings({ 'sidecar-cpu-request': 'lots' })).toThrow(/--sidecar-cpu-request/);
  });

  it('takes --handover-seconds (EDOT_TA_HANDOVER_SECONDS), default 60, 0 = off, refusing 1..5 (the sidecar leave timeout is N - 5)', () => {
    expect(defaultInjectSettings().handoverSeconds).toBe(60);
    expect(envNameForFlag('handover-seconds')).toBe('EDOT_TA_HANDOVER_SECONDS');
    expect(parseInjectSettings({}, { EDOT_TA_HANDOVER_SECONDS: '90' }).handoverSeconds).toBe(90);
    expect(parseInjectSettings({ 'handover-seconds': '0' }, { EDOT_TA_HANDOVER_SECONDS: '90' }).handoverSeconds).toBe(0);
    expect(parseInjectSettings({ 'handover-seconds': '6' }).handoverSeconds).toBe(6);
    expect(() => parseInjectSettings({ 'handover-seconds': '5' })).toThrow(/--handover-seconds: want 0 \(off\) or at least 6/);
    expect(() => parseInjectSettings({ 'handover-seconds': '-1' })).toThrow(/--handover-seconds/);
    expect(() => parseInjectSettings({ 'handover-seconds': '1.5' })).toThrow(/--handover-seconds/);
  });

  it('takes --sidecar-pod-scope (EDOT_TA_SIDECAR_POD_SCOPE), default auto, and refuses other values', () => {
    expect(parseInjectSettings({}).sidecarPodScope).toBe('auto');
    expect(parseInjectSettings({ 'sidecar-pod-scope': 'node' }).sidecarPodScope).toBe('node');
    expect(parseInjectSettings({ 'sidecar-pod-scope': 'cluster' }).sidecarPodScope).toBe('cluster');
    expect(parseInjectSettings({}, { EDOT_TA_SIDECAR_POD_SCOPE: 'cluster' }).sidecarPodScope).toBe('cluster');
    expect(() => parseInjectSettings({ 'sidecar-pod-scope': 'zone' })).toThrow(/--sidecar-pod-scope: want auto, cluster or node, got "zone"/);
  });

  it('resolves native sidecars from the server version in auto mode', () => {
    expect(resolveNativeSidecars('auto', { major: 1, minor: 20 })).toBe(false);
    expect(resolveNativeSidecars('auto', { major: 1, minor: 29 })).toBe(true);
    expect(resolveNativeSidecars('auto')).toBe(false);
    expect(resolveNativeSidecars('false', { major: 1, minor: 31 })).toBe(false);
    expect(resolveNativeSidecars('true', { major: 1, minor: 20 })).toBe(true);
  });

  it('parses label selectors and refuses set-based ones', () => {
    expect(parseLabelSelector('a!=b, c')).toEqual([{ key: 'a', operator: 'NotEquals', value: 'b' }, { key: 'c', operator: 'Exists' }]);
    expect(() => parseLabelSelector('env in (prod)')).toThrow(/set-based/);
  });

  it('defaults CR mode to daemonset and validates --default-mode', () => {
    expect(parseCRSettings({}).defaultMode).toBe('daemonset');
    expect(parseCRSettings({}, { EDOT_TA_DEFAULT_MODE: 'statefulset' }).defaultMode).toBe('statefulset');
    expect(() => parseCRSettings({ 'default-mode': 'sidecar' })).toThrow(/--default-mode/);
  });
});
