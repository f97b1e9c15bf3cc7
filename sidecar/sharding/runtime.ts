// Wires sharding for `sidecar serve`: settings from the environment, the Lease API and the
// group's Lease informer on the sidecar's KubeClient, metrics, and /debug/assignment.
import type { Registry } from 'prom-client';
import type { Logger } from '../../common/log.js';
import type { SidecarIdentity } from '../serve/identity.js';
import type { KubeClient } from '../kube/client.js';
import { Informer } from '../kube/informer.js';
import type { AssignableTarget } from './assignment.js';
import { systemClock, type Clock } from './clock.js';
import { groupLeaseSource, kubeLeaseApi } from './kube-leases.js';
import { leaseName } from './lease-record.js';
import { codeOf, Membership } from './membership.js';
import { createShardingMetrics } from './metrics.js';
import type { ShardingSettings } from '../../contract/sharding-settings.js';
import { Sharding } from './shard-filter.js';

export { shardingEnv, shardingSettingsFromEnv, ShardingSettingsError, type ShardingSettings } from '../../contract/sharding-settings.js';

export interface ShardingRuntimeOptions {
  client: KubeClient;
  identity: SidecarIdentity;
  logger: Logger;
  registry: Registry;
  settings: ShardingSettings;
  targets: () => Iterable<AssignableTarget>;
  onOwnershipChanged: () => void;
  onEvent?: (reason: string, message: string) => void;
  /** Discovery has its first full target list (readiness waits for an assignment of it). */
  discoveryReady?: () => boolean;
  /** Pod scope `node`: see ShardingOptions (covering members, view announced once its nodes are listed). */
  coverNodes?: boolean;
  onViewChanged?: () => void;
  viewPrepared?: () => boolean;
  clock?: Clock;
}

export interface ShardingRuntime {
  sharding: Sharding;
  ready(): boolean;
  notReadyReason(): string;
  /** The engine's targets changed. */
  targetsChanged(): void;
  /** "serving N targets in M jobs" on our Lease (with the next renewal). */
  setSummary(text: string, report?: string): void;
  /** SIGTERM: hand over, delete the Lease, stop watching. */
  leave(): Promise<void>;
  debug(targets: Iterable<AssignableTarget>): unknown;
}

export function startSharding(options: ShardingRuntimeOptions): ShardingRuntime {
  const { client, identity, logger, settings } = options;
  const clock = options.clock ?? systemClock;
  const log = logger.child({ component: 'sharding' });
  const metrics = createShardingMetrics(options.registry);
  let sharding: Sharding | undefined;
  const membership = new Membership({
    pod: { name: identity.podName, namespace: identity.podNamespace, uid: identity.podUid, nodeName: identity.nodeName },
    group: identity.group,
    api: kubeLeaseApi(client, identity.podNamespace),
    clock,
    logger: log,
    renewIntervalMs: settings.renewIntervalMs,
    leaseDurationSeconds: settings.leaseDurationSeconds,
    onChange: () => sharding?.membershipChanged(),
    onRenew: ({ ok, latencyMs, code }) => {
      metrics.renewDuration.observe({ outcome: ok ? 'ok' : 'failed' }, latencyMs / 1000);
      if (!ok) metrics.renewFailures.inc({ code: code === undefined ? 'error' : String(code) });
    },
  });
  sharding = new Sharding({
    membership,
    targets: options.targets,
    clock,
    logger: log,
    holdMs: settings.holdMs,
    loadFactor: settings.loadFactor,
    onOwnershipChanged: options.onOwnershipChanged,
    ...(options.discoveryReady ? { discoveryReady: options.discoveryReady } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.coverNodes ? { coverNodes: true } : {}),
    ...(options.onViewChanged ? { onViewChanged: options.onViewChanged } : {}),
    ...(options.viewPrepared ? { viewPrepared: options.viewPrepared } : {}),
  });
  const started = sharding;
  metrics.bind(started);
  const informer = new Informer<unknown>(groupLeaseSource(client, identity.podNamespace, identity.group), {
    transform: (raw) => raw,
    onEvent: (event) => (event.type === 'delete' ? membership.forget(objectName(event.object)) : membership.observe(event.object)),
    onSynced: () => membership.markSynced(),
    logger: log,
    // Lease news arrives every renew interval; a silent watch for three of them is broken.
    watchdogMs: Math.max(3 * settings.renewIntervalMs, 5_000),
    initialBackoffMs: 250,
    maxBackoffMs: Math.max(1_000, settings.renewIntervalMs),
  });
  informer.start();
  started.start();
  log.info('joining the collector group', { lease: leaseName(identity.podName), renewIntervalMs: settings.renewIntervalMs, leaseDurationSeconds: settings.leaseDurationSeconds, holdMs: settings.holdMs });

  return {
    sharding: started,
    ready: () => started.ready(),
    notReadyReason: () => (membership.ready() ? 'computing the first assignment' : 'waiting to create our Lease and list the group\'s Leases'),
    targetsChanged: () => started.targetsChanged(),
    setSummary: (text, report) => membership.setSummary(text, report),
    async leave() {
      try {
        const { handedOver } = await started.leave(settings.leaveTimeoutMs);
        log.info('left the collector group', { handedOver });
      } catch (err) {
        log.warn('graceful leave failed', { error: err instanceof Error ? err.message : String(err), code: codeOf(err) });
      } finally {
        void informer.stop(); // not awaited: an in-flight list must not hold up the exit
      }
    },
    debug: (targets) => assignmentDebug(started, membership, targets),
  };
}

/** /debug/assignment: members, view, and every target -> owner and why. */
export function assignmentDebug(sharding: Sharding, membership: Membership, targets: Iterable<AssignableTarget>): unknown {
  const view = sharding.currentView();
  const assignment = sharding.currentAssignment();
  const live = new Set(view.members.map((m) => m.name));
  const rows: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  for (const { key, nodeName } of targets) {
    if (seen.has(key)) continue;
    seen.add(key);
    const served = sharding.handover.get(key);
    rows.push({
      key,
      ...(nodeName ? { node: nodeName } : {}),
      owner: assignment?.ownerOf(key) ?? null,
      why: assignment?.reasonOf(key) ?? 'unassigned',
      servedHere: served ? served.reason : false,
      ...(served?.newOwner ? { handingOverTo: served.newOwner } : {}),
    });
  }
  return {
    self: membership.self.name,
    node: membership.self.nodeName,
    ready: sharding.ready(),
    apiHealthy: membership.apiHealthy(),
    leaving: membership.isLeaving,
    view: { hash: view.hash, epoch: view.epoch, since: view.since, members: view.members },
    leases: membership
      .observedLeases()
      .sort((x, y) => (x.lease.podName < y.lease.podName ? -1 : 1))
      .map(({ lease, sinceChangeMs }) => ({
      lease: lease.leaseName,
      pod: lease.podName,
      uid: lease.podUid,
      node: lease.nodeName,
      announcedView: lease.view?.hash ?? null,
      leaving: lease.leaving,
      sinceRenewSeenMs: sinceChangeMs,
      live: live.has(lease.podName),
    })),
    served: { total: sharding.handover.size, held: sharding.handover.heldCount(), gained: sharding.handover.totals.gained, released: sharding.handover.totals.released },
    targets: rows,
  };
}

function objectName(raw: unknown): string {
  const name = (raw as { metadata?: { name?: unknown } }).metadata?.name;
  return typeof name === 'string' ? name : '';
}
