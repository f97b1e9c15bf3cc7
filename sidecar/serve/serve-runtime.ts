// Wires discovery together for `sidecar serve`: monitor and namespace informers produce scrape
// configs, the engine says which scopes those configs watch, one informer per scope feeds object
// events to the engine. Readiness = every informer listed once and the configs were applied.
// Monitors are watched only for the kinds the API server serves (most EDOT users run no
// prometheus-operator): without the CRDs the sidecar is ready with its static jobs and asks
// the discovery API again every crdPollMs, so monitors start to count once the CRDs appear.
import type { Logger } from '../../common/log.js';
import type { PrometheusCRSettings } from './identity.js';
import type { ServiceDiscoveryRole } from '../../contract/prometheus-cr.js';
import { Informer, type InformerEvent } from '../kube/informer.js';
import { NodeSetInformer, type InformerStore } from '../kube/node-set-informer.js';
import type { KubeClient } from '../kube/client.js';
import { andSelectors, scopeKey, scopeSource, describeScope, type WatchScope, type WatchedResource } from '../kube/scope.js';
import type { SidecarMetrics } from './metrics.js';
import { needsNamespaceLabels } from '../discovery/selectors.js';
import { buildMonitorScrapeConfigs, type MonitorProblem, type SecretSource } from '../discovery/monitor-configs.js';
import { transformFor, type ObjectStores, type WatchOptions } from '../targets/targets-sd.js';
import { TargetEngine, type JobProblem, type ScrapeConfig } from '../targets/targets.js';
import { RefreshLoop, type RefreshSdSpec, type Refresh } from '../discovery/refresh-sd.js';
import { dnsSdRefresh } from '../discovery/dns-sd.js';
import { httpSdRefresh } from '../discovery/http-sd.js';
import { fileSdRefresh, watchFileSdDirectories } from '../discovery/file-sd.js';

export interface RuntimeOptions {
  client: KubeClient;
  staticConfigs: ScrapeConfig[];
  prometheusCR: PrometheusCRSettings;
  watch: WatchOptions;
  watchdogMs: number;
  logger: Logger;
  metrics?: SidecarMetrics;
  /** Invalid monitors and scrape configs (for Events). */
  onProblem?: (problem: SkippedConfig) => void;
  /** Called after targets changed (debounced by the caller if needed). */
  onTargetsChanged?: () => void;
  /** Debounce for regenerating monitor configs after monitor/namespace events. */
  monitorDebounceMs?: number;
  /** How often to look again for the monitor CRDs while one is missing (default 30 s). */
  crdPollMs?: number;
  /**
   * Pod scope `node` (with `watch.podNodes`): which nodes this member covers, given every node's
   * name (the runtime watches Nodes for them), and how long a node no longer covered stays
   * watched (the longest handover hold). Coverage starts as the own node.
   */
  coverage?: { ownNode: string; nodesFor: (nodeNames: Iterable<string>) => ReadonlySet<string>; retainMs: number };
}

/** A monitor or scrape config not served, and why. */
export interface SkippedConfig {
  kind: 'monitor' | 'scrape_config';
  name: string;
  message: string;
}

type MonitorResource = 'podmonitors' | 'servicemonitors' | 'scrapeconfigs' | 'probes';
const monitorGroupVersionOf: Record<MonitorResource, string> = {
  podmonitors: 'apis/monitoring.coreos.com/v1',
  servicemonitors: 'apis/monitoring.coreos.com/v1',
  scrapeconfigs: 'apis/monitoring.coreos.com/v1alpha1',
  probes: 'apis/monitoring.coreos.com/v1',
};
const monitorGroupVersions = [...new Set(Object.values(monitorGroupVersionOf))];

interface ScopeInformer {
  scope: WatchScope;
  informer: InformerStore<unknown>;
}

export class DiscoveryRuntime {
  readonly engine: TargetEngine;
  private readonly scopeInformers = new Map<string, ScopeInformer>();
  private readonly monitorInformers: ScopeInformer[] = [];
  private readonly secretInformers = new Map<string, ScopeInformer>();
  private skipped: readonly SkippedConfig[] = [];
  /** dns_sd, http_sd and file_sd entries, by job version and index. */
  private readonly refreshLoops = new Map<string, RefreshLoop>();
  /** Monitor configs were built while a referenced namespace's Secrets were still listing. */
  private monitorConfigsStale = false;
  private configsApplied = false;
  private readyOnce = false;
  private monitorTimer: NodeJS.Timeout | undefined;
  private crdTimer: NodeJS.Timeout | undefined;
  /** ServiceMonitors' role when the selection does not say: EndpointSlice where served (asked once). */
  private defaultServiceRole: ServiceDiscoveryRole | undefined;
  /** Monitor kinds found served and watched; the rest are looked for every crdPollMs. */
  private readonly watchedMonitorKinds = new Set<MonitorResource>();
  private stopped = false;
  /** Pod scope `node`: every node's name, the pod stores per covered node, and the nodes covered now. */
  private readonly nodeNames: ScopeInformer | undefined;
  private readonly nodeSets = new Set<NodeSetInformer<unknown>>();
  private covered: ReadonlySet<string>;

  constructor(private readonly options: RuntimeOptions) {
    const { coverage } = options;
    this.covered = new Set(coverage ? [coverage.ownNode] : []);
    if (coverage) {
      // Only the names: metadata-only watch (a Node's status with its image list is large), nothing kept but `true`.
      const scope: WatchScope = { resource: 'nodes', metadataOnly: true };
      const informer = new Informer<unknown>(scopeSource(options.client, scope), {
        transform: () => true,
        onEvent: (event) => {
          if (event.type === 'delete' || event.previous === undefined) this.refreshCoverage();
        },
        onSynced: () => this.refreshCoverage(),
        onListError: () => {
          if (informer.listErrorCode === 403) options.logger.warn('cannot list Nodes (403): covering only this node; pods on nodes without a collector are not discovered here — grant nodes get/list/watch (manifests/overlays/kube-stack/sidecar-rbac.yaml)');
        },
        logger: options.logger,
        watchdogMs: options.watchdogMs,
      });
      this.nodeNames = { scope, informer };
    }
    const stores: ObjectStores = {
      get: (scope, key) => this.scopeInformers.get(scopeKey(scope))?.informer.get(key),
      entries: (scope) => this.scopeInformers.get(scopeKey(scope))?.informer.entries() ?? [],
    };
    this.engine = new TargetEngine(stores, options.watch, options.logger);
  }

  /**
   * Recomputes the covered nodes (the view or the node list changed) and updates every pod
   * store of pod scope `node`. Until Nodes are listed, only the own node is known.
   */
  refreshCoverage(): void {
    const { coverage } = this.options;
    if (!coverage || !this.nodeNames || this.stopped) return;
    const names = this.nodeNames.informer.hasSynced ? [...this.nodeNames.informer.entries()].map(([name]) => name) : [];
    const covered = coverage.nodesFor(names);
    const same = covered.size === this.covered.size && [...covered].every((node) => this.covered.has(node));
    if (same) return;
    this.covered = covered;
    this.options.logger.info('covering nodes', { nodes: [...covered].sort() });
    for (const nodeSet of this.nodeSets) nodeSet.setNodes(covered);
  }

  /** Pod scope `node`: the nodes of the current coverage are listed (the view may be announced). */
  coveragePrepared(): boolean {
    if (!this.options.coverage) return true;
    return (!this.nodeNames || DiscoveryRuntime.settled(this.nodeNames)) && [...this.nodeSets].every((nodeSet) => nodeSet.prepared());
  }

  /** The nodes whose pods this member watches now (retiring ones included). */
  podWatchNodes(): string[] {
    return [...new Set([...this.nodeSets].flatMap((nodeSet) => nodeSet.nodes()))].sort();
  }

  start(): void {
    this.nodeNames?.informer.start();
    const { prometheusCR } = this.options;
    if (!prometheusCR.enabled) {
      this.applyConfigs([]);
      return;
    }
    const wanted = this.wantedMonitorKinds();
    if (wanted.length === 0) {
      this.applyConfigs([]);
      return;
    }
    void this.watchServedMonitorKinds();
  }

  /** The monitor kinds the selection asks for (a nil selector selects none of that kind). */
  private wantedMonitorKinds(): MonitorResource[] {
    const { prometheusCR } = this.options;
    return [
      ...(prometheusCR.podMonitorSelector ? ['podmonitors' as const] : []),
      ...(prometheusCR.serviceMonitorSelector ? ['servicemonitors' as const] : []),
      ...(prometheusCR.scrapeConfigSelector ? ['scrapeconfigs' as const] : []),
      ...(prometheusCR.probeSelector ? ['probes' as const] : []),
    ];
  }

  /**
   * Asks the discovery API which monitor kinds are served, starts watching those not watched yet
   * and, while a wanted kind is missing, asks again later. The first answer makes the sidecar
   * ready even when no monitor kind is served.
   */
  private async watchServedMonitorKinds(): Promise<void> {
    if (this.stopped) return;
    const wanted = this.wantedMonitorKinds();
    const pollMs = this.options.crdPollMs ?? 30_000;
    let served: Set<string>;
    try {
      served = await this.servedMonitorKinds();
      if (wanted.includes('servicemonitors')) this.defaultServiceRole ??= await this.servedServiceRole();
    } catch (err) {
      // Unknown (API unreachable): not ready until the first answer, as with any first list.
      this.options.logger.warn('cannot read which monitor kinds the API server serves; retrying', { error: err instanceof Error ? err.message : String(err) });
      this.crdTimer = setTimeout(() => void this.watchServedMonitorKinds(), Math.min(pollMs, 5_000));
      return;
    }
    const found = wanted.filter((kind) => served.has(kind) && !this.watchedMonitorKinds.has(kind));
    const missing = wanted.filter((kind) => !served.has(kind));
    if (found.length > 0) this.startMonitorInformers(found);
    if (missing.length > 0) {
      if (!this.configsApplied) this.options.logger.info('monitor CRDs not installed; serving the other jobs and looking again later', { missing, everyMs: pollMs });
      this.crdTimer = setTimeout(() => void this.watchServedMonitorKinds(), pollMs);
    }
    if (this.monitorInformers.length === 0 && !this.configsApplied) this.applyConfigs([]);
  }

  /** EndpointSlice (the Target Allocator's choice) where discovery.k8s.io/v1 serves it; else Endpoints. */
  private async servedServiceRole(): Promise<ServiceDiscoveryRole> {
    if (this.options.prometheusCR.serviceDiscoveryRole) return this.options.prometheusCR.serviceDiscoveryRole;
    try {
      const list = (await this.options.client.requestJson('GET', '/apis/discovery.k8s.io/v1')) as { resources?: Array<{ name?: string }> };
      if ((list.resources ?? []).some((r) => r.name === 'endpointslices')) return 'EndpointSlice';
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    this.options.logger.info('the API server serves no discovery.k8s.io/v1 EndpointSlices: ServiceMonitors are discovered through Endpoints');
    return 'Endpoints';
  }

  /** The monitor kinds the API server serves (PodMonitor, ServiceMonitor in v1; ScrapeConfig in v1alpha1). */
  private async servedMonitorKinds(): Promise<Set<string>> {
    const served = new Set<string>();
    const wanted = this.wantedMonitorKinds();
    for (const groupVersion of monitorGroupVersions) {
      if (!wanted.some((kind) => monitorGroupVersionOf[kind] === groupVersion)) continue;
      try {
        const list = (await this.options.client.requestJson('GET', `/${groupVersion}`)) as { resources?: Array<{ name?: string }> };
        for (const r of list.resources ?? []) if (monitorGroupVersionOf[r.name as MonitorResource] === groupVersion) served.add(r.name ?? '');
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }
    return served;
  }

  private startMonitorInformers(kinds: MonitorResource[]): void {
    const { prometheusCR } = this.options;
    const allow = prometheusCR.allowNamespaces ?? [];
    const namespaces = allow.length ? allow : [undefined];
    const scopes: WatchScope[] = kinds.flatMap((resource) => namespaces.map((namespace) => ({ resource, namespace })));
    // Namespace labels only matter for a monitor namespace selector that is not {}.
    if (this.watchedMonitorKinds.size === 0 && needsNamespaceLabels(prometheusCR)) scopes.push({ resource: 'namespaces' });
    for (const kind of kinds) this.watchedMonitorKinds.add(kind);
    if (this.configsApplied) this.options.logger.info('monitor CRDs appeared; watching them', { kinds });
    for (const scope of scopes) {
      const informer = this.makeInformer(scope, () => this.scheduleMonitorConfigs());
      this.monitorInformers.push({ scope, informer });
      informer.start();
    }
  }

  /**
   * Secrets referenced by monitors (TLS, auth), each watched by name (a field selector) once
   * first referenced: the sidecar never lists or caches other Secrets of a namespace.
   */
  private readonly secrets: SecretSource = {
    secret: (namespace, name, key) => {
      const informer = this.secretInformer(namespace, name);
      const secret = informer.get(`${namespace}/${name}`) as { data?: Record<string, string>; stringData?: Record<string, string> } | undefined;
      const value = secret?.data?.[key];
      return value === undefined ? secret?.stringData?.[key] : Buffer.from(value, 'base64').toString('utf8');
    },
    synced: (namespace, name) => this.secretInformers.get(`${namespace}/${name}`)?.informer.hasSynced ?? false,
    problem: (namespace, name) => {
      const code = this.secretInformer(namespace, name).listErrorCode;
      return code === 403 ? 'forbidden (403): the sidecar\'s ServiceAccount may not get Secrets there' : code === 404 ? 'not found (404)' : undefined;
    },
  };

  /** Secrets the monitor configs being built read (the others are no longer watched afterwards). */
  private secretsReferenced: Set<string> | undefined;

  private secretInformer(namespace: string, name: string): InformerStore<unknown> {
    const key = `${namespace}/${name}`;
    this.secretsReferenced?.add(key);
    let entry = this.secretInformers.get(key);
    if (!entry) {
      const scope: WatchScope = { resource: 'secrets', namespace, fieldSelector: `metadata.name=${name}` };
      entry = { scope, informer: this.makeInformer(scope, () => this.scheduleMonitorConfigs(), () => this.scheduleMonitorConfigs()) };
      this.secretInformers.set(key, entry);
      this.monitorConfigsStale = true;
      entry.informer.start();
    }
    return entry.informer;
  }

  /**
   * Listed, or refused for good: a Secret the sidecar may not read (403/404) holds back only its
   * monitor; EndpointSlices on an API server without discovery.k8s.io/v1 (404, before 1.21)
   * leave only their jobs without targets; Nodes it may not list (403, RBAC older than pod scope
   * node) leave it covering its own node only. None holds back readiness.
   */
  private static settled(entry: ScopeInformer): boolean {
    const code = entry.informer.listErrorCode;
    const { resource } = entry.scope;
    return entry.informer.hasSynced || (resource === 'secrets' && (code === 403 || code === 404)) || (resource === 'endpointslices' && code === 404) || (resource === 'nodes' && code === 403);
  }

  ready(): boolean {
    if (this.readyOnce) return true;
    this.readyOnce = this.configsApplied && !this.monitorConfigsStale && this.allInformers().every(DiscoveryRuntime.settled) && [...this.refreshLoops.values()].every((loop) => loop.attempted);
    if (this.readyOnce) {
      const { jobs, kept, dropped } = this.engine.summary();
      this.options.logger.info('first full discovery complete', { jobs, kept, dropped });
    }
    return this.readyOnce;
  }

  notReadyReason(): string {
    if (!this.configsApplied) return 'waiting for the first list of PodMonitors/ServiceMonitors';
    const pending = this.allInformers().filter((s) => !DiscoveryRuntime.settled(s));
    if (pending.length) return `waiting for the first list of ${pending.map((s) => describeScope(s.scope)).join('; ')}`;
    const refreshing = [...this.refreshLoops.keys()].filter((key) => !this.refreshLoops.get(key)?.attempted);
    return refreshing.length ? `waiting for the first refresh of ${refreshing.map((key) => key.split('\n')[0]).join('; ')}` : 'starting';
  }

  informers(): Array<{ resource: string; scope: string; stats: Informer<unknown>['stats'] }> {
    // Pod scope `node`: one series per node watch.
    return this.allInformers().flatMap(({ scope, informer }) =>
      informer instanceof NodeSetInformer
        ? informer.parts().map((part) => ({ resource: scope.resource, scope: part.source.description, stats: part.stats }))
        : [{ resource: scope.resource, scope: describeScope(scope), stats: informer.stats }],
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.monitorTimer) clearTimeout(this.monitorTimer);
    if (this.crdTimer) clearTimeout(this.crdTimer);
    for (const loop of this.refreshLoops.values()) loop.stop();
    await Promise.all(this.allInformers().map((s) => s.informer.stop()));
  }

  private allInformers(): ScopeInformer[] {
    return [...(this.nodeNames ? [this.nodeNames] : []), ...this.monitorInformers, ...this.secretInformers.values(), ...this.scopeInformers.values()];
  }

  private scheduleMonitorConfigs(): void {
    if (this.monitorTimer || this.stopped) return;
    this.monitorTimer = setTimeout(() => {
      this.monitorTimer = undefined;
      if (!this.monitorInformers.every((s) => s.informer.hasSynced)) return; // their onSynced reschedules
      const store = (resource: WatchedResource) => this.monitorInformers.filter((s) => s.scope.resource === resource).flatMap((s) => [...s.informer.values()]);
      const secretsWereSynced = [...this.secretInformers.values()].every(DiscoveryRuntime.settled);
      this.secretsReferenced = new Set();
      const { configs, problems } = buildMonitorScrapeConfigs({
        podMonitors: store('podmonitors'),
        serviceMonitors: store('servicemonitors'),
        scrapeConfigs: store('scrapeconfigs'),
        probes: store('probes'),
        namespaces: store('namespaces'),
        settings: { ...this.options.prometheusCR, ...(this.defaultServiceRole ? { serviceDiscoveryRole: this.defaultServiceRole } : {}) },
        secrets: this.secrets,
      });
      // A Secret no monitor references any more is no longer watched (nor cached).
      for (const [key, entry] of this.secretInformers) {
        if (this.secretsReferenced.has(key)) continue;
        this.secretInformers.delete(key);
        void entry.informer.stop();
      }
      this.secretsReferenced = undefined;
      const skipped: SkippedConfig[] = [];
      for (const problem of problems) {
        if (problem.pending) this.options.logger.debug('monitor waits for its Secrets to be listed', { monitor: problem.name });
        else skipped.push(this.reportMonitorProblem(problem));
      }
      this.monitorConfigsStale = !secretsWereSynced || [...this.secretInformers.values()].some((s) => !DiscoveryRuntime.settled(s));
      this.applyConfigs(configs, skipped);
    }, this.options.monitorDebounceMs ?? 50);
  }

  private reportMonitorProblem(problem: MonitorProblem): SkippedConfig {
    this.options.metrics?.discoveryErrors.inc({ kind: 'monitor' });
    this.options.logger.warn('skipping invalid monitor', { monitor: problem.name, error: problem.message });
    const skipped: SkippedConfig = { kind: 'monitor', name: problem.name, message: problem.message };
    this.options.onProblem?.(skipped);
    return skipped;
  }

  /** The monitors and scrape configs the last configuration left out, and why. */
  skippedConfigs(): readonly SkippedConfig[] {
    return this.skipped;
  }

  private applyConfigs(monitorConfigs: ScrapeConfig[], skippedMonitors: SkippedConfig[] = []): void {
    const started = process.hrtime.bigint();
    const problems: JobProblem[] = this.engine.setScrapeConfigs([...this.options.staticConfigs, ...monitorConfigs]);
    const skipped = [...skippedMonitors];
    for (const problem of problems) {
      // A generated job that fails (e.g. its relabelings) is the monitor's fault: name the monitor.
      const monitor = /^(podMonitor|serviceMonitor|scrapeConfig|probe)\/([^/]+)\/([^/]+)(\/\d+)?$/.exec(problem.job);
      if (monitor) {
        const kind = ({ podMonitor: 'PodMonitor', serviceMonitor: 'ServiceMonitor', scrapeConfig: 'ScrapeConfig', probe: 'Probe' } as const)[monitor[1] as 'podMonitor' | 'serviceMonitor' | 'scrapeConfig' | 'probe'];
        skipped.push(this.reportMonitorProblem({ name: `${monitor[2]}/${monitor[3]}`, kind, message: `job ${problem.job}: ${problem.message}`, pending: false }));
        continue;
      }
      this.options.metrics?.discoveryErrors.inc({ kind: 'scrape_config' });
      this.options.logger.warn('skipping invalid scrape config', { job: problem.job, error: problem.message });
      const config: SkippedConfig = { kind: 'scrape_config', name: problem.job, message: problem.message };
      this.options.onProblem?.(config);
      skipped.push(config);
    }
    this.skipped = skipped;
    this.reconcileScopes();
    this.reconcileRefreshLoops();
    this.configsApplied = true;
    this.options.metrics?.recomputeDuration.observe({ kind: 'full' }, Number(process.hrtime.bigint() - started) / 1e9);
    this.options.onTargetsChanged?.();
  }

  /** Starts informers for new scopes, stops those no job needs any more. */
  private reconcileScopes(): void {
    const wanted = new Map(this.engine.scopes().map((scope) => [scopeKey(scope), scope]));
    for (const [key, scope] of wanted) {
      if (this.scopeInformers.has(key)) continue;
      const onEvent = (event: InformerEvent<unknown>) => this.onObjectEvent(scope.resource, event);
      const informer = scope.nodes === 'covered' ? this.makeNodeSetInformer(scope, onEvent) : this.makeInformer(scope, onEvent);
      this.scopeInformers.set(key, { scope, informer });
      informer.start();
    }
    for (const [key, entry] of this.scopeInformers) {
      if (wanted.has(key)) continue;
      this.scopeInformers.delete(key);
      if (entry.informer instanceof NodeSetInformer) this.nodeSets.delete(entry.informer);
      void entry.informer.stop();
    }
  }

  /** One pod informer per covered node (`spec.nodeName=` added to the scope's field selector). */
  private makeNodeSetInformer(scope: WatchScope, onEvent: (event: InformerEvent<unknown>) => void): NodeSetInformer<unknown> {
    const { nodes: _covered, ...perNode } = scope;
    const nodeSet = new NodeSetInformer<unknown>(
      (node) => this.makeInformer({ ...perNode, fieldSelector: andSelectors(scope.fieldSelector, `spec.nodeName=${node}`) }, onEvent),
      onEvent,
      this.options.coverage?.retainMs ?? 0,
      this.covered,
    );
    this.nodeSets.add(nodeSet);
    return nodeSet;
  }

  /** Starts a refresh loop for every new dns_sd/http_sd/file_sd entry, stops those of changed or removed jobs. */
  private reconcileRefreshLoops(): void {
    const wanted = new Map(this.engine.refreshEntries().map((entry) => [`${entry.spec.kind}_sd ${entry.index} of job ${entry.job}\n${entry.fingerprint}`, entry]));
    for (const [key, loop] of this.refreshLoops) {
      if (wanted.has(key)) continue;
      loop.stop();
      this.refreshLoops.delete(key);
    }
    for (const [key, entry] of wanted) {
      if (this.refreshLoops.has(key)) continue;
      const { spec } = entry;
      const loop = new RefreshLoop({
        refreshMs: spec.refreshMs,
        refresh: refreshFor(spec),
        onGroups: (groups) => {
          if (this.engine.setRefreshedGroups(entry, groups)) this.options.onTargetsChanged?.();
        },
        onError: (error) => {
          this.options.metrics?.discoveryErrors.inc({ kind: `${spec.kind}_sd` });
          this.options.logger.warn(`${spec.kind}_sd refresh failed; keeping the previous targets`, { job: entry.job, error: error.message });
          this.options.onTargetsChanged?.();
        },
        ...(spec.kind === 'file' ? { watch: (now: () => void) => watchFileSdDirectories(spec, now) } : {}),
      });
      this.refreshLoops.set(key, loop);
      loop.start();
    }
  }

  private onObjectEvent(resource: WatchedResource, event: InformerEvent<unknown>): void {
    const started = process.hrtime.bigint();
    this.engine.onObjectChanged(resource, event.key);
    this.options.metrics?.recomputeDuration.observe({ kind: 'incremental' }, Number(process.hrtime.bigint() - started) / 1e9);
    this.options.onTargetsChanged?.();
  }

  private makeInformer(scope: WatchScope, onEvent: (event: InformerEvent<unknown>) => void, onListError?: () => void): Informer<unknown> {
    return new Informer<unknown>(scopeSource(this.options.client, scope), {
      ...(onListError ? { onListError } : {}),
      transform: transformFor(scope),
      onEvent,
      onSynced: () => {
        if (['podmonitors', 'servicemonitors', 'scrapeconfigs', 'probes', 'namespaces', 'secrets'].includes(scope.resource)) this.scheduleMonitorConfigs();
        else this.options.onTargetsChanged?.();
      },
      logger: this.options.logger,
      watchdogMs: this.options.watchdogMs,
    });
  }
}

function refreshFor(spec: RefreshSdSpec): Refresh {
  if (spec.kind === 'dns') return dnsSdRefresh(spec);
  if (spec.kind === 'http') return httpSdRefresh(spec);
  return fileSdRefresh(spec);
}
