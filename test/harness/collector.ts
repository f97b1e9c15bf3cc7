// A real OpenTelemetry collector for tests: the binary setup.sh builds (contrib prometheus
// receiver + file exporter, test/harness/build/collector), started on a config that
// `edot-ta sidecar render` rewrote, so it is the sidecar's real client over the
// target_allocator protocol. What it scraped is read back from its own output: every `up`
// sample the receiver produced, per target (resource attributes service.name = job,
// service.instance.id = instance).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startProcess, waitFor, type ManagedProcess } from './processes.js';
import { tool } from './tools.js';

/** One successful or failed scrape as the collector recorded it. */
export interface Scrape {
  job: string;
  instance: string;
  /** Milliseconds since the epoch (the sample's timestamp). */
  at: number;
  up: boolean;
}

/**
 * The collector config a test starts from, as a user would write it: one prometheus receiver
 * with the given scrape configs, and the file exporter writing to `output`. Internal telemetry
 * is off so several collectors share one machine without port clashes.
 */
export function collectorConfig(scrapeConfigs: object[], output: string, extra: { global?: object } = {}): string {
  return fileExportingConfig({ prometheus: { config: { ...(extra.global ? { global: extra.global } : {}), scrape_configs: scrapeConfigs } } }, output);
}

/**
 * A config for the test collector from a config `edot-ta sidecar render` rewrote for a full
 * EDOT collector: its prometheus receivers exactly as rendered (target_allocator on the
 * sidecar), the rest of its pipelines (OTLP, filelog, hostmetrics, …) replaced by the file
 * exporter, which is all the test collector is built with.
 */
export function prometheusOnlyConfig(renderedText: string, output: string): string {
  const rendered = parse(renderedText) as { receivers?: Record<string, unknown> };
  const receivers = Object.fromEntries(Object.entries(rendered.receivers ?? {}).filter(([id]) => id === 'prometheus' || id.startsWith('prometheus/')));
  if (Object.keys(receivers).length === 0) throw new Error('the rendered config has no prometheus receiver');
  return fileExportingConfig(receivers, output);
}

function fileExportingConfig(receivers: Record<string, unknown>, output: string): string {
  return stringify({
    receivers,
    exporters: { file: { path: output, flush_interval: '200ms' } },
    service: {
      pipelines: { metrics: { receivers: Object.keys(receivers), exporters: ['file'] } },
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info', encoding: 'json' } },
    },
  });
}

export class Collector {
  private constructor(
    readonly name: string,
    readonly output: string,
    private readonly process: ManagedProcess,
  ) {}

  /**
   * Starts the collector on `configPath` (already rendered) with `env` added (POD_NAME for the
   * receiver's collector_id). Resolves once the process runs its pipelines.
   */
  static async start(name: string, configPath: string, output: string, options: { dir: string; env?: Record<string, string> }): Promise<Collector> {
    mkdirSync(options.dir, { recursive: true });
    const logFile = join(options.dir, `${name}.collector.log`);
    const proc = startProcess(`collector-${name}`, tool('otelcol'), [`--config=${configPath}`], {
      logFile,
      env: { ...process.env, ...options.env },
    });
    await waitFor(`collector ${name} started`, () => readLog(logFile).includes('Everything is ready'), {
      timeoutMs: 60_000,
      abortIf: proc.exited,
      describe: () => proc.tail(30),
    });
    return new Collector(name, output, proc);
  }

  /** Every scrape recorded so far (the file exporter flushes every 200 ms). */
  scrapes(): Scrape[] {
    if (!existsSync(this.output)) return [];
    const out: Scrape[] = [];
    for (const line of readFileSync(this.output, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let request: ExportRequest;
      try {
        request = JSON.parse(line) as ExportRequest;
      } catch {
        continue; // a line still being written
      }
      for (const rm of request.resourceMetrics ?? []) {
        const attrs = Object.fromEntries((rm.resource?.attributes ?? []).map((a) => [a.key, a.value?.stringValue ?? '']));
        const job = attrs['service.name'] ?? '';
        const instance = attrs['service.instance.id'] ?? '';
        for (const sm of rm.scopeMetrics ?? []) {
          for (const metric of sm.metrics ?? []) {
            if (metric.name !== 'up') continue;
            for (const point of metric.gauge?.dataPoints ?? []) {
              const value = point.asDouble ?? Number(point.asInt ?? 0);
              out.push({ job, instance, at: Number(BigInt(point.timeUnixNano ?? '0') / 1_000_000n), up: value === 1 });
            }
          }
        }
      }
    }
    return out;
  }

  get pid(): number {
    return this.process.pid;
  }

  get exited(): Promise<number | null> {
    return this.process.exited;
  }

  logTail(lines = 30): string {
    return this.process.tail(lines);
  }

  stop(graceMs?: number): Promise<void> {
    return this.process.stop(graceMs);
  }
}

/** job|instance -> names of the collectors that scraped it successfully within [from, to] (ms). */
export function scrapedBy(collectors: Collector[], from: number, to = Date.now()): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const collector of collectors) {
    const seen = new Set<string>();
    for (const s of collector.scrapes()) {
      if (s.up && s.at >= from && s.at <= to) seen.add(`${s.job}|${s.instance}`);
    }
    for (const key of seen) result.set(key, [...(result.get(key) ?? []), collector.name].sort());
  }
  return result;
}

/** job|instance -> largest gap (s) between successful scrapes, merged over the collectors, within [from, to]. */
export function largestGaps(collectors: Collector[], from: number, to = Date.now()): Map<string, number> {
  const times = new Map<string, number[]>();
  for (const collector of collectors) {
    for (const s of collector.scrapes()) {
      if (!s.up || s.at < from || s.at > to) continue;
      const key = `${s.job}|${s.instance}`;
      times.set(key, [...(times.get(key) ?? []), s.at / 1000]);
    }
  }
  return largestGapsOf(times);
}

/** key -> largest gap between its (unsorted) sample times, in the unit of the times. */
export function largestGapsOf(times: Map<string, number[]>): Map<string, number> {
  const gaps = new Map<string, number>();
  for (const [key, list] of times) {
    const sorted = [...list].sort((a, b) => a - b);
    let largest = 0;
    for (let i = 1; i < sorted.length; i++) largest = Math.max(largest, sorted[i]! - sorted[i - 1]!);
    gaps.set(key, largest);
  }
  return gaps;
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

interface ExportRequest {
  resourceMetrics?: Array<{
    resource?: { attributes?: Array<{ key: string; value?: { stringValue?: string } }> };
    scopeMetrics?: Array<{
      metrics?: Array<{ name: string; gauge?: { dataPoints?: Array<{ timeUnixNano?: string; asDouble?: number; asInt?: string }> } }>;
    }>;
  }>;
}
