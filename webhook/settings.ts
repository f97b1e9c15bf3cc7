// Webhook settings: defaults, the flags that set them, and their env equivalents.
// Precedence: flag > env > default. Parsing is pure (env is passed in), errors are UsageError
// naming the flag, so `edot-ta webhook` and `edot-ta inject` report bad values the same way.
import { UsageError } from '../common/args.js';
import { edotTaVersion } from '../common/version.js';
import { type CRSettings, type CollectorMode, type InjectSettings, type LabelRequirement, type NativeSidecarsMode } from './types.js';
import { isPodScope, podScopes } from '../contract/sidecar.js';
import { parsePrometheusCREnv } from '../contract/prometheus-cr.js';
import { defaultSidecarPort } from '../contract/names.js';

/** Spread into parseFlags options: `parseFlags(argv, { ...injectSettingsFlagOptions, port: ... })`. */
export const injectSettingsFlagOptions = {
  'sidecar-image': { type: 'string' },
  'sidecar-image-pull-policy': { type: 'string' },
  'sidecar-command': { type: 'string' },
  'sidecar-node': { type: 'string' },
  'sidecar-port': { type: 'string' },
  'sidecar-pod-scope': { type: 'string' },
  'sidecar-run-as-user': { type: 'string' },
  'sidecar-cpu-request': { type: 'string' },
  'sidecar-memory-request': { type: 'string' },
  'sidecar-cpu-limit': { type: 'string' },
  'sidecar-memory-limit': { type: 'string' },
  'native-sidecars': { type: 'string' },
  'ready-timeout-seconds': { type: 'string' },
  'handover-seconds': { type: 'string' },
  'collector-image': { type: 'string', multiple: true },
  'elastic-agent-image': { type: 'string', multiple: true },
  'collector-selector': { type: 'string' },
  'collector-container': { type: 'string', multiple: true },
  'ta-interval': { type: 'string' },
  'sd-refresh-interval': { type: 'string' },
  'default-prometheus-cr': { type: 'string' },
  'default-mode': { type: 'string' },
} as const;

export type InjectSettingsFlag = keyof typeof injectSettingsFlagOptions;
export type InjectSettingsFlagValues = Partial<Record<InjectSettingsFlag, string | string[] | boolean | undefined>>;

/** Env variable for each flag: EDOT_TA_ + upper snake case (lists: comma separated). */
export function envNameForFlag(flag: InjectSettingsFlag): string {
  return `EDOT_TA_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export const defaultCollectorImagePatterns = [
  '*elastic-otel-collector',
  'otel/opentelemetry-collector*',
  '*/otel/opentelemetry-collector*',
  'ghcr.io/open-telemetry/opentelemetry-collector-releases/*',
];
export const defaultElasticAgentImagePatterns = ['docker.elastic.co/elastic-agent/elastic-agent*', '*/elastic-agent/elastic-agent*', 'elastic/elastic-agent*'];
export const defaultCollectorSelector = 'app.kubernetes.io/managed-by=opentelemetry-operator,app.kubernetes.io/component=opentelemetry-collector';
/**
 * How long a terminating collector keeps scraping while its sidecar hands the targets over:
 * the sidecar's handover hold (45 s: 10 s http_sd refresh + 5 s discovery batching + 30 s
 * scrape interval) + 15 s margin. 0 turns the preStop hook and grace period changes off.
 */
export const defaultHandoverSeconds = 60;
/** The sidecar gets handoverSeconds - 5 as EDOT_TA_LEAVE_TIMEOUT_SECONDS, which must be positive. */
export const minimumHandoverSeconds = 6;
/** The sidecar discovers PodMonitors/ServiceMonitors everywhere unless a CR or flag narrows it. */
export const defaultPrometheusCRJson = '{"enabled":true,"podMonitorSelector":{},"serviceMonitorSelector":{}}';

export function defaultInjectSettings(): InjectSettings {
  return {
    sidecarImage: `ghcr.io/edot-ta/edot-ta:${edotTaVersion()}`,
    sidecarCommand: ['edot-ta'],
    nodeBinary: 'node',
    sidecarPort: defaultSidecarPort,
    nativeSidecars: false,
    nativeSidecarsMode: 'auto',
    readyTimeoutSeconds: 120,
    handoverSeconds: defaultHandoverSeconds,
    collectorImagePatterns: [...defaultCollectorImagePatterns],
    elasticAgentImagePatterns: [...defaultElasticAgentImagePatterns],
    collectorPodSelector: parseLabelSelector(defaultCollectorSelector),
    collectorContainerNames: ['otc-container'],
    targetAllocatorInterval: '30s',
    httpSdRefreshInterval: '10s',
    defaultPrometheusCR: defaultPrometheusCRJson,
    sidecarResources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    sidecarRunAsUser: 65532,
    sidecarPodScope: 'auto',
  };
}

export function defaultCRSettings(): CRSettings {
  return { defaultMode: 'daemonset' };
}

/** Native sidecars (KEP-753) are on by default from Kubernetes 1.29. */
export function resolveNativeSidecars(mode: NativeSidecarsMode, serverVersion?: { major: number; minor: number }): boolean {
  if (mode === 'true') return true;
  if (mode === 'false') return false;
  if (!serverVersion) return false;
  return serverVersion.major > 1 || (serverVersion.major === 1 && serverVersion.minor >= 29);
}

/** Parses `k=v,k!=v,k,!k` (also `k==v`). Set-based selectors are not supported: a clear error. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    if (/\s(in|notin)\s*\(/.test(part)) throw new UsageError(`label selector "${text}": set-based requirements (in/notin) are not supported`);
    let match: RegExpMatchArray | null;
    if ((match = part.match(/^([^=!]+)!=(.*)$/))) requirements.push({ key: match[1]!.trim(), operator: 'NotEquals', value: match[2]!.trim() });
    else if ((match = part.match(/^([^=!]+)==?(.*)$/))) requirements.push({ key: match[1]!.trim(), operator: 'Equals', value: match[2]!.trim() });
    else if ((match = part.match(/^!([^=!]+)$/))) requirements.push({ key: match[1]!.trim(), operator: 'DoesNotExist' });
    else if (/^[^=!]+$/.test(part)) requirements.push({ key: part, operator: 'Exists' });
    else throw new UsageError(`label selector "${text}": cannot parse "${part}"`);
  }
  return requirements;
}

export function parseInjectSettings(flags: InjectSettingsFlagValues, env: Record<string, string | undefined> = {}): InjectSettings {
  const settings = defaultInjectSettings();
  const text = (flag: InjectSettingsFlag): string | undefined => {
    const value = flags[flag];
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.join(',');
    return env[envNameForFlag(flag)];
  };
  const list = (flag: InjectSettingsFlag): string[] | undefined => {
    const value = flags[flag];
    const items = Array.isArray(value) ? value.flatMap((v) => v.split(',')) : text(flag)?.split(',');
    return items?.map((item) => item.trim()).filter((item) => item !== '');
  };
  const integer = (flag: InjectSettingsFlag, min: number, max: number): number | undefined => {
    const value = text(flag);
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new UsageError(`--${flag}: want an integer in ${min}..${max}, got "${value}"`);
    return parsed;
  };
  const duration = (flag: InjectSettingsFlag): string | undefined => {
    const value = text(flag);
    if (value !== undefined && !/^([0-9]+(ms|s|m|h))+$/.test(value)) throw new UsageError(`--${flag}: want a duration like 30s, got "${value}"`);
    return value;
  };

  settings.sidecarImage = text('sidecar-image') ?? settings.sidecarImage;
  const pullPolicy = text('sidecar-image-pull-policy');
  if (pullPolicy !== undefined) {
    if (pullPolicy !== 'Always' && pullPolicy !== 'IfNotPresent' && pullPolicy !== 'Never') throw new UsageError(`--sidecar-image-pull-policy: want Always, IfNotPresent or Never, got "${pullPolicy}"`);
    settings.imagePullPolicy = pullPolicy;
  }
  const command = text('sidecar-command');
  if (command !== undefined) {
    settings.sidecarCommand = command.split(/\s+/).filter((word) => word !== '');
    if (settings.sidecarCommand.length === 0) throw new UsageError('--sidecar-command: must not be empty');
  }
  settings.nodeBinary = text('sidecar-node') ?? settings.nodeBinary;
  settings.sidecarPort = integer('sidecar-port', 1, 65535) ?? settings.sidecarPort;
  const podScope = text('sidecar-pod-scope');
  if (podScope !== undefined) {
    if (!isPodScope(podScope) && podScope !== 'auto') throw new UsageError(`--sidecar-pod-scope: want auto, ${podScopes.join(' or ')}, got "${podScope}"`);
    settings.sidecarPodScope = podScope;
  }
  settings.sidecarRunAsUser = integer('sidecar-run-as-user', 1, 2147483647) ?? settings.sidecarRunAsUser;
  settings.readyTimeoutSeconds = integer('ready-timeout-seconds', 1, 3600) ?? settings.readyTimeoutSeconds;
  settings.handoverSeconds = integer('handover-seconds', 0, 3600) ?? settings.handoverSeconds;
  if (settings.handoverSeconds > 0 && settings.handoverSeconds < minimumHandoverSeconds) {
    // The sidecar's leave timeout is handoverSeconds - 5 and must be positive.
    throw new UsageError(`--handover-seconds: want 0 (off) or at least ${minimumHandoverSeconds}, got "${settings.handoverSeconds}"`);
  }
  const native = text('native-sidecars');
  if (native !== undefined) {
    if (native !== 'auto' && native !== 'true' && native !== 'false') throw new UsageError(`--native-sidecars: want auto, true or false, got "${native}"`);
    settings.nativeSidecarsMode = native;
    settings.nativeSidecars = resolveNativeSidecars(native);
  }
  settings.collectorImagePatterns = list('collector-image') ?? settings.collectorImagePatterns;
  settings.elasticAgentImagePatterns = list('elastic-agent-image') ?? settings.elasticAgentImagePatterns;
  const selector = text('collector-selector');
  if (selector !== undefined) settings.collectorPodSelector = parseLabelSelector(selector);
  settings.collectorContainerNames = list('collector-container') ?? settings.collectorContainerNames;
  settings.targetAllocatorInterval = duration('ta-interval') ?? settings.targetAllocatorInterval;
  settings.httpSdRefreshInterval = duration('sd-refresh-interval') ?? settings.httpSdRefreshInterval;
  const prometheusCR = text('default-prometheus-cr');
  if (prometheusCR !== undefined) {
    if (prometheusCR !== '') {
      try {
        parsePrometheusCREnv(prometheusCR); // the sidecar's own parser: refuse what would stop the sidecar
      } catch (err) {
        throw new UsageError(`--default-prometheus-cr: want a JSON object like ${defaultPrometheusCRJson}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    settings.defaultPrometheusCR = prometheusCR;
  }
  const requests = { ...settings.sidecarResources.requests };
  const limits = { ...settings.sidecarResources.limits };
  const quantity = (flag: InjectSettingsFlag, into: Record<string, string>, key: string) => {
    const value = text(flag);
    if (value === undefined) return;
    if (value === '') delete into[key];
    else if (!/^[0-9.]+(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(value)) throw new UsageError(`--${flag}: want a Kubernetes quantity like 100m or 64Mi, got "${value}"`);
    else into[key] = value;
  };
  quantity('sidecar-cpu-request', requests, 'cpu');
  quantity('sidecar-memory-request', requests, 'memory');
  quantity('sidecar-cpu-limit', limits, 'cpu');
  quantity('sidecar-memory-limit', limits, 'memory');
  settings.sidecarResources = { requests, limits };
  return settings;
}

export function parseCRSettings(flags: InjectSettingsFlagValues, env: Record<string, string | undefined> = {}): CRSettings {
  const settings = defaultCRSettings();
  const value = typeof flags['default-mode'] === 'string' ? flags['default-mode'] : env[envNameForFlag('default-mode')];
  if (value !== undefined) {
    const modes: CollectorMode[] = ['daemonset', 'statefulset', 'deployment'];
    if (!modes.includes(value as CollectorMode)) throw new UsageError(`--default-mode: want daemonset, statefulset or deployment, got "${value}"`);
    settings.defaultMode = value as CollectorMode;
  }
  return settings;
}
