// Simulated members for unit tests and the convergence benchmark: the real Membership, Handover
// and Sharding code, wired to the in-memory Lease store and a simulated clock.
import { createLogger, type Logger } from '../../common/log.js';
import { assign, type AssignableTarget, type Assignment, type AssignmentOptions, type Member } from '../../sidecar/sharding/assignment.js';
import type { SimulatedClock } from '../../sidecar/sharding/clock.js';
import { Membership } from '../../sidecar/sharding/membership.js';
import { Sharding, type ShardingOptions } from '../../sidecar/sharding/shard-filter.js';
import type { SimulatedLeaseStore } from './simulated-api.js';

export interface SimulatedMemberOptions {
  name: string;
  nodeName: string;
  uid?: string;
  namespace?: string;
  group?: string;
  store: SimulatedLeaseStore;
  clock: SimulatedClock;
  targets: () => Iterable<AssignableTarget>;
  renewIntervalMs?: number;
  leaseDurationSeconds?: number;
  holdMs?: number;
  checkIntervalMs?: number;
  assignFn?: (members: readonly Member[], targets: Iterable<AssignableTarget>, options: AssignmentOptions) => Assignment;
  logger?: Logger;
  onOwnershipChanged?: () => void;
  /** Further Sharding options (pod scope node: coverNodes, viewPrepared). */
  sharding?: Pick<ShardingOptions, 'coverNodes' | 'viewPrepared' | 'onViewChanged'>;
}

export interface SimulatedMember {
  name: string;
  membership: Membership;
  sharding: Sharding;
  /** SIGKILL: no more writes, no more watching, no goodbye. */
  crash(): void;
  owned(): string[];
}

export const silentLogger: Logger = createLogger({}, () => undefined);

export function startSimulatedMember(options: SimulatedMemberOptions): SimulatedMember {
  const { store, clock } = options;
  const uid = options.uid ?? `uid-${options.name}`;
  store.pods.add(options.name);
  let sharding: Sharding | undefined;
  const membership = new Membership({
    pod: { name: options.name, namespace: options.namespace ?? 'sim', uid, nodeName: options.nodeName },
    group: options.group ?? 'sim',
    api: store.api(),
    clock,
    logger: options.logger ?? silentLogger,
    renewIntervalMs: options.renewIntervalMs ?? 10_000,
    leaseDurationSeconds: options.leaseDurationSeconds ?? 40,
    onChange: () => sharding?.membershipChanged(),
    random: () => 0.5,
  });
  sharding = new Sharding({
    membership,
    targets: options.targets,
    clock,
    logger: options.logger ?? silentLogger,
    holdMs: options.holdMs ?? 30_000,
    onOwnershipChanged: options.onOwnershipChanged ?? (() => undefined),
    checkIntervalMs: options.checkIntervalMs ?? 1000,
    ...(options.assignFn ? { assignFn: options.assignFn } : {}),
    ...options.sharding,
  });
  const disconnect = store.connect(membership);
  sharding.start();
  const started = sharding;
  return {
    name: options.name,
    membership,
    sharding: started,
    crash() {
      disconnect();
      membership.stop();
      started.stop();
    },
    owned() {
      return [...started.handover.entries()].map(([key]) => key).sort();
    },
  };
}

/**
 * A pure function may be memoised: members that compute the same view share one result. Only for
 * simulations with a fixed target set (the key is the member set alone).
 */
export function memoisedAssign(): (members: readonly Member[], targets: Iterable<AssignableTarget>, options: AssignmentOptions) => Assignment {
  const cache = new Map<string, Assignment>();
  return (members, targets, options) => {
    const key = members
      .map((m) => `${m.name}@${m.nodeName}`)
      .sort()
      .join(',');
    let result = cache.get(key);
    if (!result) {
      result = assign(members, targets, options);
      if (cache.size >= 16) cache.delete(cache.keys().next().value as string);
      cache.set(key, result);
    }
    return result;
  };
}
