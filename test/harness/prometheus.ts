// A real Prometheus (Debian's `prometheus` 2.42) for tests: started with a given config on a
// free loopback port, queried through its HTTP API, stopped with the test. It stands in for the
// collector's prometheus receiver, which embeds the same scrape manager and http_sd client.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, startProcess, waitFor, type ManagedProcess } from './processes.js';

export interface PromTarget {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export interface PromDroppedTarget {
  discoveredLabels: Record<string, string>;
}

export interface TargetsAnswer {
  activeTargets: PromTarget[];
  droppedTargets: PromDroppedTarget[];
}

export class Prometheus {
  private constructor(
    readonly url: string,
    readonly configPath: string,
    private readonly process: ManagedProcess,
    private readonly dir: string,
  ) {}

  /** `config` is the prometheus.yml content as an object (or YAML text). */
  static async start(config: object | string, options: { dir?: string; resolvConf?: string } = {}): Promise<Prometheus> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'edot-ta-prom-'));
    mkdirSync(dir, { recursive: true });
    const configPath = join(dir, 'prometheus.yml');
    writeFileSync(configPath, typeof config === 'string' ? config : stringify(config));
    const port = await freePort();
    const proc = startProcess(
      'prometheus',
      'prometheus',
      [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--log.level=warn',
      ],
      { logFile: join(dir, 'prometheus.log'), ...(options.resolvConf ? { resolvConf: options.resolvConf } : {}) },
    );
    const url = `http://127.0.0.1:${port}`;
    await waitFor('prometheus /-/ready', async () => (await fetch(`${url}/-/ready`)).ok, {
      timeoutMs: 30_000,
      abortIf: proc.exited,
      describe: () => proc.tail(),
    });
    return new Prometheus(url, configPath, proc, dir);
  }

  /** Replaces the config and asks Prometheus to reload it (no restart). */
  async reload(config: object | string): Promise<void> {
    writeFileSync(this.configPath, typeof config === 'string' ? config : stringify(config));
    const res = await fetch(`${this.url}/-/reload`, { method: 'POST' });
    if (!res.ok) throw new Error(`prometheus reload failed: ${res.status} ${await res.text()}`);
  }

  async targets(state: 'any' | 'active' | 'dropped' = 'any'): Promise<TargetsAnswer> {
    return (await this.api(`/api/v1/targets?state=${state}`)) as TargetsAnswer;
  }

  /** Instant query; returns the vector result. */
  async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const data = (await this.api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as {
      resultType: string;
      result: Array<{ metric: Record<string, string>; value: [number, string] }>;
    };
    return data.result;
  }

  /** Range query over the last `seconds`, for scrape-gap checks. */
  async queryRange(expr: string, startSec: number, endSec: number, stepSec: number) {
    const qs = `query=${encodeURIComponent(expr)}&start=${startSec}&end=${endSec}&step=${stepSec}`;
    const data = (await this.api(`/api/v1/query_range?${qs}`)) as {
      result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
    };
    return data.result;
  }

  private async api(path: string): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`);
    const body = (await res.json()) as { status: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  }

  get pid(): number {
    return this.process.pid;
  }

  logTail(lines = 20): string {
    return this.process.tail(lines);
  }

  async stop(): Promise<void> {
    await this.process.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
