// The discoveries Prometheus runs on a refresh loop rather than from watches: dns_sd_configs,
// http_sd_configs and file_sd_configs. Each entry is parsed and checked as Prometheus' loader
// does (same defaults, same refusals), then a RefreshLoop asks it for its groups every
// refresh_interval. Prometheus' manager keeps a group by its source until a refresh says
// otherwise, so a failed lookup leaves the previous targets in place: the same here.
import type { Labels, TargetGroup } from './types.js';
import { durationMs } from '../render/render-expand.js';

export type RefreshKind = 'dns' | 'http' | 'file';
export const refreshSdFields: Record<RefreshKind, string> = { dns: 'dns_sd_configs', http: 'http_sd_configs', file: 'file_sd_configs' };

export interface DnsSdSpec {
  kind: 'dns';
  names: string[];
  type: 'SRV' | 'A' | 'AAAA';
  port: number;
  refreshMs: number;
}

export interface HttpSdSpec {
  kind: 'http';
  url: string;
  refreshMs: number;
  /** The HTTP client part of the entry (auth, TLS, redirects), as written. */
  client: Record<string, unknown>;
}

export interface FileSdSpec {
  kind: 'file';
  files: string[];
  refreshMs: number;
}

export type RefreshSdSpec = DnsSdSpec | HttpSdSpec | FileSdSpec;

export class RefreshSdConfigError extends Error {}

const defaultRefreshMs: Record<RefreshKind, number> = { dns: 30_000, http: 60_000, file: 300_000 };

/** Prometheus' own rule for file_sd patterns: `*` only in the last path element, a known extension. */
const filePattern = /^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$/;

/** The HTTP client settings http_sd runs with; anything else (oauth2, proxies, …) stays in the collector. */
export const httpClientFields = new Set(['basic_auth', 'authorization', 'bearer_token', 'bearer_token_file', 'tls_config', 'follow_redirects', 'enable_http2']);

/** The files an entry reads besides its targets (credentials, CAs): the sidecar must be able to read them too. */
export function referencedFiles(spec: RefreshSdSpec): string[] {
  if (spec.kind === 'file') return spec.files;
  if (spec.kind === 'dns') return [];
  const { basic_auth: basic, authorization, tls_config: tls } = spec.client as Record<string, Record<string, unknown> | undefined>;
  return [basic?.password_file, authorization?.credentials_file, spec.client.bearer_token_file, tls?.ca_file, tls?.cert_file, tls?.key_file].filter((f): f is string => typeof f === 'string' && f !== '');
}

function refreshInterval(entry: Record<string, unknown>, kind: RefreshKind): number {
  if (entry.refresh_interval === undefined || entry.refresh_interval === null) return defaultRefreshMs[kind];
  const ms = durationMs(entry.refresh_interval);
  if (ms === undefined) throw new RefreshSdConfigError(`${refreshSdFields[kind]}: refresh_interval "${String(entry.refresh_interval)}" is not a Prometheus duration`);
  // Prometheus accepts 0 and then refreshes once; a loop needs a period, so treat it as "rarely".
  return ms > 0 ? ms : 2 ** 31 - 1;
}

/** Parses one entry of `<kind>_sd_configs`; throws RefreshSdConfigError with Prometheus' reason. */
export function parseRefreshSd(kind: RefreshKind, raw: unknown): RefreshSdSpec {
  const field = refreshSdFields[kind];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RefreshSdConfigError(`${field}: each entry must be a mapping`);
  const entry = raw as Record<string, unknown>;
  const refreshMs = refreshInterval(entry, kind);
  if (kind === 'dns') {
    const names = entry.names;
    if (!Array.isArray(names) || names.length === 0) throw new RefreshSdConfigError('DNS-SD config must contain at least one SRV record name');
    if (!names.every((n) => typeof n === 'string' || typeof n === 'number' || typeof n === 'boolean')) throw new RefreshSdConfigError(`${field}: names must be strings`);
    const type = String(entry.type ?? 'SRV').toUpperCase();
    if (type !== 'SRV' && type !== 'A' && type !== 'AAAA') throw new RefreshSdConfigError(`invalid DNS-SD records type ${String(entry.type)}`);
    const port = entry.port === undefined || entry.port === null ? 0 : Number(entry.port);
    if (!Number.isInteger(port)) throw new RefreshSdConfigError(`${field}: port "${String(entry.port)}" is not an integer`);
    if (type !== 'SRV' && port === 0) throw new RefreshSdConfigError('a port is required in DNS-SD configs for all record types except SRV');
    return { kind, names: names.map(String), type, port, refreshMs };
  }
  if (kind === 'http') {
    const url = typeof entry.url === 'string' ? entry.url : '';
    if (url === '') throw new RefreshSdConfigError('URL is missing');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RefreshSdConfigError(`${field}: url "${url}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RefreshSdConfigError("URL scheme must be 'http' or 'https'");
    if (parsed.host === '') throw new RefreshSdConfigError('host is missing in URL');
    const client = Object.fromEntries(Object.entries(entry).filter(([k]) => k !== 'url' && k !== 'refresh_interval'));
    return { kind, url, refreshMs, client };
  }
  const files = entry.files;
  if (!Array.isArray(files) || files.length === 0) throw new RefreshSdConfigError('file service discovery config must contain at least one path name');
  for (const file of files) {
    if (typeof file !== 'string' || !filePattern.test(file)) throw new RefreshSdConfigError(`path name "${String(file)}" is not valid for file discovery`);
  }
  return { kind, files: files as string[], refreshMs };
}

/** What a job's refresh-driven discovery sections say: its specs, or why Prometheus would reject them. */
export function parseRefreshSds(job: Record<string, unknown>): RefreshSdSpec[] {
  const specs: RefreshSdSpec[] = [];
  for (const kind of Object.keys(refreshSdFields) as RefreshKind[]) {
    const entries = job[refreshSdFields[kind]];
    if (entries === undefined || entries === null) continue;
    if (!Array.isArray(entries)) throw new RefreshSdConfigError(`${refreshSdFields[kind]} must be a list`);
    for (const raw of entries) specs.push(parseRefreshSd(kind, raw));
  }
  return specs;
}

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Target groups as http_sd answers and file_sd files hold them: a list of
 * `{targets: [...], labels: {...}}`. Rejects what Prometheus' target group decoder rejects
 * (a null group, a non-string target, an invalid label name). `strict`: unknown keys are an
 * error (file_sd YAML is read strictly; JSON is not).
 */
export function decodeTargetGroups(value: unknown, source: (index: number) => string, metaLabels: Labels, strict: boolean): TargetGroup[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw new Error('expected a list of target groups');
  return value.map((item, index) => {
    if (item === null || item === undefined) throw new Error('nil target group item found');
    if (typeof item !== 'object' || Array.isArray(item)) throw new Error(`target group ${index} is not an object`);
    const group = item as Record<string, unknown>;
    if (strict) {
      const unknown = Object.keys(group).filter((k) => k !== 'targets' && k !== 'labels');
      if (unknown.length > 0) throw new Error(`target group ${index}: field ${unknown[0]} not found`);
    }
    const targets = group.targets ?? [];
    if (!Array.isArray(targets)) throw new Error(`target group ${index}: targets must be a list`);
    const addresses = targets.map((t) => {
      if (typeof t !== 'string') throw new Error(`target group ${index}: target ${JSON.stringify(t)} is not a string`);
      return { __address__: t };
    });
    const labels: Labels = {};
    const raw = group.labels ?? {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`target group ${index}: labels must be a mapping`);
    for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
      if (!labelName.test(name)) throw new Error(`"${name}" is not a valid label name`);
      if (typeof v !== 'string') throw new Error(`target group ${index}: label ${name} is not a string`);
      labels[name] = v;
    }
    return { source: source(index), targets: addresses, labels: { ...labels, ...metaLabels } };
  });
}

/**
 * One discovery entry's refresh: the groups by source, given the previous ones (a source whose
 * lookup failed keeps its previous group; `errors` says which failed). Throws when nothing
 * could be read at all: every previous group stays.
 */
export type Refresh = (previous: ReadonlyMap<string, TargetGroup>) => Promise<{ groups: Map<string, TargetGroup>; errors: string[] }>;

export interface RefreshLoopOptions {
  refreshMs: number;
  refresh: Refresh;
  onGroups: (groups: ReadonlyMap<string, TargetGroup>) => void;
  onError: (error: Error) => void;
  /** Starts a refresh before the period is over (file changes); returns a stop function. */
  watch?: (refreshNow: () => void) => () => void;
}

/**
 * Refreshes now, then every refreshMs (and when `watch` says so), one refresh at a time.
 * A refresh that throws keeps every previous group (Prometheus' manager does the same).
 */
export class RefreshLoop {
  private groups: ReadonlyMap<string, TargetGroup> = new Map();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private unwatch: (() => void) | undefined;
  /** The first refresh finished (with targets or an error). */
  attempted = false;

  constructor(private readonly options: RefreshLoopOptions) {}

  start(): void {
    this.unwatch = this.options.watch?.(() => this.refreshNow());
    this.refreshNow();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.unwatch?.();
  }

  current(): ReadonlyMap<string, TargetGroup> {
    return this.groups;
  }

  refreshNow(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.running = true;
    void this.options
      .refresh(this.groups)
      .then(
        ({ groups, errors }) => {
          if (this.stopped) return;
          for (const message of errors) this.options.onError(new Error(message));
          this.groups = groups;
          this.options.onGroups(groups);
        },
        (err: unknown) => {
          if (!this.stopped) this.options.onError(err instanceof Error ? err : new Error(String(err)));
        },
      )
      .finally(() => {
        this.running = false;
        this.attempted = true;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.refreshNow();
          return;
        }
        this.timer = setTimeout(() => this.refreshNow(), this.options.refreshMs);
        this.timer.unref?.();
      });
  }
}
