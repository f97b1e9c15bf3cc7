// `edot-ta sidecar serve`: discover targets like Prometheus and serve them to the pod's own
// collector over the target_allocator protocol, on loopback only.
import { readFileSync } from 'node:fs';
import { serve, type ServerType } from '@hono/node-server';
import { parse as parseYaml } from 'yaml';
import { flagsOrExit, parseFlags, UsageError } from '../../common/args.js';
import { createLogger, type Logger } from '../../common/log.js';
import { createApi, parseListenAddress } from './api.js';
import { debugTargets } from './debug.js';
import { PodEvents, summaryText } from './events.js';
import { buildMemberReport, formatMemberReport } from './member-report.js';
import { readRenderReport, renderReportPath, type RenderReport } from '../render/render-report.js';
import { IdentityError, readIdentity } from './identity.js';
import { createKubeClient, type KubeClient } from '../kube/client.js';
import { loadKubeConnection } from '../kube/kubeconfig.js';
import { createMetrics, type SidecarMetrics } from './metrics.js';
import { DiscoveryRuntime } from './serve-runtime.js';
import { shardingSettingsFromEnv, ShardingSettingsError, startSharding, type ShardingRuntime } from '../sharding/runtime.js';
import type { ScrapeConfig } from '../targets/targets.js';
import { defaultSidecarPort, scrapeConfigsPath } from '../../contract/names.js';
import { defaultPodScope, isPodScope, serveFlags } from '../../contract/sidecar.js';
import { coveredNodes } from '../sharding/assignment.js';
import { describeYamlError } from '../../common/yaml-errors.js';

const usage = `Usage: edot-ta sidecar serve [flags]

Discovers Prometheus targets (the moved static scrape_configs, PodMonitors, ServiceMonitors) and
serves them to this pod's collector with the target_allocator protocol.

Flags:
  --listen HOST:PORT         loopback address to serve on (default 127.0.0.1:27390)
  --scrape-configs FILE      YAML {scrape_configs: [...]} written by \`sidecar render\`
                             (default /edot-ta/scrape-configs.yaml; missing file = no static jobs)
  --kubeconfig FILE          kubeconfig (default: KUBECONFIG env, else in-cluster)
  --pod-scope node|cluster   node: watch the pods of NODE_NAME and of the nodes without a
                             collector that hash to this member (one watch per node, fieldSelector
                             spec.nodeName); cluster: watch every pod (default node)
  --watchdog-seconds N       restart a watch silent for longer than N seconds (default 90)
  --crd-poll-seconds N       while the PodMonitor/ServiceMonitor CRDs are missing, look for them
                             every N seconds; monitors count once they appear (default 30)
  --token-file FILE          the API token \`sidecar render --token-out\` wrote: every route but
                             /livez, /readyz and /metrics then requires Authorization: Bearer <token>

Environment: POD_NAME, POD_UID, POD_NAMESPACE, NODE_NAME, EDOT_TA_GROUP (required),
EDOT_TA_PROMETHEUS_CR (optional JSON, the operator's prometheusCR settings; absent = monitors off),
EDOT_TA_LOG_LEVEL (debug|info|warn|error, default info).
Sharding (optional): EDOT_TA_LEASE_RENEW_SECONDS (10), EDOT_TA_LEASE_DURATION_SECONDS (40),
EDOT_TA_HANDOVER_HOLD_SECONDS (45), EDOT_TA_LEAVE_TIMEOUT_SECONDS (25), EDOT_TA_LOAD_FACTOR (1.10).`;

const flagOptions = {
  [serveFlags.listen]: { type: 'string', default: `127.0.0.1:${defaultSidecarPort}` },
  [serveFlags.scrapeConfigs]: { type: 'string', default: scrapeConfigsPath },
  kubeconfig: { type: 'string' },
  [serveFlags.podScope]: { type: 'string', default: defaultPodScope },
  'watchdog-seconds': { type: 'string', default: '90' },
  'crd-poll-seconds': { type: 'string', default: '30' },
  [serveFlags.tokenFile]: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses and checks `sidecar serve` flags without side effects; throws UsageError. */
export function parseServeFlags(argv: string[]) {
  const flags = parseFlags(argv, flagOptions).values;
  if (!isPodScope(flags[serveFlags.podScope])) throw new UsageError(`--${serveFlags.podScope} must be "cluster" or "node"`);
  for (const name of ['watchdog-seconds', 'crd-poll-seconds'] as const) {
    if (!(Number(flags[name]) > 0)) throw new UsageError(`--${name} must be a positive number`);
  }
  return flags;
}

export async function run(argv: string[]): Promise<number> {
  const logger = createLogger({ component: 'sidecar-serve' });
  const flags = flagsOrExit('sidecar serve', usage, () => parseServeFlags(argv));
  if (typeof flags === 'number') return flags;

  let identity;
  let listen;
  let token: string | undefined;
  let client: KubeClient;
  let shardingSettings;
  try {
    identity = readIdentity(process.env);
    shardingSettings = shardingSettingsFromEnv(process.env);
    listen = parseListenAddress(flags.listen);
    token = flags['token-file'] === undefined ? undefined : readToken(flags['token-file']);
    client = createKubeClient(await loadKubeConnection(flags.kubeconfig));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.error('cannot start', { error: message });
    console.error(`edot-ta sidecar serve: ${message}`);
    return err instanceof IdentityError || err instanceof ShardingSettingsError ? 2 : 1;
  }
  const log = logger.child({ pod: `${identity.podNamespace}/${identity.podName}`, group: identity.group });
  const self = { name: identity.podName, nodeName: identity.nodeName };
  const coverNodes = flags['pod-scope'] === 'node';
  const staticConfigs = loadStaticConfigs(flags['scrape-configs'], log);
  const renderReport = loadRenderReport(flags['scrape-configs'], log);

  let runtime: DiscoveryRuntime | undefined;
  let sharding: ShardingRuntime | undefined;
  const metrics: SidecarMetrics = createMetrics({
    targets: () => runtime?.engine.summary() ?? { keptByJob: {}, dropped: 0, owned: 0 },
    informers: () => runtime?.informers() ?? [],
    ready: () => runtime?.ready() ?? false,
  });
  client = timedClient(client, metrics);
  const events = new PodEvents(client, { name: identity.podName, namespace: identity.podNamespace, uid: identity.podUid }, log);
  let summaryTimer: NodeJS.Timeout | undefined;
  const current = new DiscoveryRuntime({
    client,
    staticConfigs: staticConfigs.configs,
    prometheusCR: identity.prometheusCR,
    watch: { ownNamespace: identity.podNamespace, ...(coverNodes ? { podNodes: 'covered' as const } : {}) },
    ...(coverNodes
      ? {
          coverage: {
            ownNode: self.nodeName,
            nodesFor: (nodeNames: Iterable<string>) => coveredNodes(self, sharding?.sharding.currentView().members ?? [], nodeNames),
            // A node handed to another member stays watched while we may still hold its targets.
            retainMs: shardingSettings.leaseDurationSeconds * 1000 + 2 * shardingSettings.holdMs + shardingSettings.renewIntervalMs,
          },
        }
      : {}),
    watchdogMs: Number(flags['watchdog-seconds']) * 1000,
    crdPollMs: Number(flags['crd-poll-seconds']) * 1000,
    logger: log,
    metrics,
    onProblem: ({ kind, name, message }) =>
      void events.record('Warning', kind === 'monitor' ? 'InvalidMonitor' : 'InvalidScrapeConfig', `skipped ${kind === 'monitor' ? 'monitor' : 'scrape config'} ${name}: ${message}`),
    onTargetsChanged: () => {
      sharding?.targetsChanged();
      // Counting is O(targets): do it at most once a second, never per pod event.
      if (summaryTimer || !current.ready()) return;
      summaryTimer = setTimeout(() => {
        summaryTimer = undefined;
        if (sharding) publishSummary(sharding);
      }, 1_000);
      summaryTimer.unref();
    },
  });
  runtime = current;
  // The one-line summary and the report (per job, what render left in the collector, what was skipped) on our Lease.
  const publishSummary = (target: ShardingRuntime) => {
    const report = buildMemberReport({ jobs: current.engine.jobStats(), notTaken: renderReport?.notTaken ?? [], skipped: current.skippedConfigs() });
    target.setSummary(summaryText(report.served, report.jobs.length), formatMemberReport(report));
  };
  // Sharding: who serves which target (Lease membership, assignment, make-before-break handover).
  const shard = startSharding({
    client,
    identity,
    logger: log,
    registry: metrics.registry,
    settings: shardingSettings,
    targets: () => current.engine.allKeptTargets(),
    onOwnershipChanged: () => {
      current.engine.ownershipChanged();
      if (current.ready()) publishSummary(shard);
    },
    onEvent: (reason, message) => void events.record('Normal', reason, message),
    discoveryReady: () => current.ready(),
    ...(coverNodes ? { coverNodes: true, onViewChanged: () => current.refreshCoverage(), viewPrepared: () => current.coveragePrepared() } : {}),
  });
  sharding = shard;
  current.engine.setShardFilter(shard.sharding);
  if (staticConfigs.error) void events.record('Warning', 'InvalidScrapeConfigs', staticConfigs.error);
  for (const [type, reason, message] of renderReportEvents(renderReport)) void events.record(type, reason, message);

  const app = createApi(
    {
      ready: () => current.ready() && shard.ready(),
      notReadyReason: () => (current.ready() ? shard.notReadyReason() : current.notReadyReason()),
      collectorId: identity.podName,
      scrapeConfigs: () => current.engine.scrapeConfigs(),
      jobNames: () => current.engine.jobNames(),
      targetsAnswerGzip: (job) => current.engine.targetsAnswerGzip(job),
      debugTargets: () => ({ ready: current.ready(), collectorId: identity.podName, ...debugTargets(current.engine) }),
      ...(token ? { token } : {}),
    },
    metrics,
    log,
  );
  app.get('/debug/assignment', () => {
    const debug = { ...(shard.debug(current.engine.allKeptTargets()) as object), podScope: flags['pod-scope'], ...(coverNodes ? { podWatchNodes: current.podWatchNodes() } : {}) };
    return new Response(JSON.stringify(debug, null, 2), { headers: { 'Content-Type': 'application/json' } });
  });

  let server: ServerType;
  try {
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: listen.host, port: listen.port }, () => resolve(s));
      s.once('error', reject);
    });
  } catch (err) {
    log.error('cannot listen', { listen: flags.listen, error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
  log.info('serving the target_allocator API', {
    listen: flags.listen,
    staticJobs: staticConfigs.configs.length,
    monitors: identity.prometheusCR.enabled,
    podScope: flags['pod-scope'],
  });
  current.start();

  // Graceful stop: stop accepting, stop the watches, write nothing more.
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      log.info('stopping', { signal });
      // Keep serving while the targets are handed over (bounded by EDOT_TA_LEAVE_TIMEOUT_SECONDS).
      void shard.leave().finally(() => {
        server.close();
        void current.stop().then(() => resolve(0));
        setTimeout(() => resolve(0), 5_000).unref();
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

/** The moved static scrape configs. A missing file means none; a broken one is reported, not fatal. */
export function loadStaticConfigs(path: string, logger: Logger): { configs: ScrapeConfig[]; error?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      logger.warn('no static scrape configs file; serving monitors only', { path });
      return { configs: [] };
    }
    throw err;
  }
  try {
    return { configs: parseStaticConfigs(text) };
  } catch (err) {
    const error = `${path}: ${describeYamlError(err)}`;
    logger.error('cannot read the static scrape configs; serving monitors only', { error });
    return { configs: [], error };
  }
}

/** What render reported beside the scrape configs; a missing or unreadable report only costs the Events and doctor's view. */
function loadRenderReport(scrapeConfigs: string, logger: Logger): RenderReport | undefined {
  try {
    return readRenderReport(renderReportPath(scrapeConfigs));
  } catch (err) {
    logger.warn('cannot read the render report', { path: renderReportPath(scrapeConfigs), error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** `kubectl describe pod`: the jobs render left in the collector (Normal) and those it removed as invalid (Warning), one Event each kind. */
export function renderReportEvents(report: RenderReport | undefined): Array<['Normal' | 'Warning', string, string]> {
  const kept = report?.notTaken.filter((j) => j.action === 'keep') ?? [];
  const removed = report?.notTaken.filter((j) => j.action === 'drop') ?? [];
  const events: Array<['Normal' | 'Warning', string, string]> = [];
  if (kept.length > 0) events.push(['Normal', 'JobsLeftInCollector', `${kept.length} job(s) stay in the collector, scraped there as before: ${kept.map((j) => j.reason).join('; ')}`]);
  if (removed.length > 0) events.push(['Warning', 'InvalidJobsRemoved', `${removed.length} job(s) removed from the collector config: ${removed.map((j) => j.reason).join('; ')}`]);
  return events;
}

/** The API token file: one line, at least 32 characters (render writes 43). */
function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read the API token ${path} (written by the render init container): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text.length < 32 || /\s/.test(text)) throw new Error(`the API token in ${path} is not a token (want one word of at least 32 characters)`);
  return text;
}

export function parseStaticConfigs(text: string): ScrapeConfig[] {
  const doc = (parseYaml(text) ?? {}) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('expected a YAML mapping with scrape_configs');
  const list = (doc as { scrape_configs?: unknown }).scrape_configs ?? [];
  if (!Array.isArray(list)) throw new Error('scrape_configs must be a list');
  return list.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || typeof (entry as { job_name?: unknown }).job_name !== 'string') {
      throw new Error(`scrape_configs[${i}] needs a string job_name`);
    }
    return entry as ScrapeConfig;
  });
}

/** Observes Kubernetes API request latency (lists, events, patches) into /metrics. */
function timedClient(client: KubeClient, metrics: SidecarMetrics): KubeClient {
  return {
    server: client.server,
    watch: (...args) => client.watch(...args),
    async requestJson(method, path, options) {
      const started = process.hrtime.bigint();
      const parts = path.split('/').filter(Boolean);
      const resource = parts.includes('events') ? 'events' : parts.includes('pods') ? 'pods' : (parts[parts.length - 1] ?? 'other');
      let code = 'error';
      try {
        const answer = await client.requestJson(method, path, options);
        code = '2xx';
        return answer;
      } catch (err) {
        code = String((err as { code?: number }).code ?? 'error');
        throw err;
      } finally {
        metrics.kubeRequestDuration.observe({ verb: method, resource, code }, Number(process.hrtime.bigint() - started) / 1e9);
      }
    },
  };
}
