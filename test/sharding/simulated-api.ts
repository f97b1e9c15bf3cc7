// An in-memory stand-in for the apiserver's Lease endpoints, for unit tests and the convergence
// simulation only (the e2e tests use the real apiserver). It keeps the semantics membership
// relies on: resourceVersion preconditions (409), 404s, watch fan-out of every write to every
// member, an outage switch, and injected failures (409/429/500/timeout) on chosen operations.
import type { LeaseObject } from '../../sidecar/sharding/lease-record.js';
import type { LeaseApi, Membership } from '../../sidecar/sharding/membership.js';

type Op = 'create' | 'get' | 'replace' | 'delete' | 'podMissing';

export class SimulatedApiError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

interface Watcher {
  membership: Membership;
}

export class SimulatedLeaseStore {
  private readonly leases = new Map<string, LeaseObject>();
  private readonly watchers = new Set<Watcher>();
  private revision = 1;
  private down = false;
  private readonly failures: Array<{ op: Op; code: number | 'timeout'; remaining: number }> = [];
  readonly pods = new Set<string>();
  readonly counts = { requests: 0, watchEvents: 0, byOp: { create: 0, get: 0, replace: 0, delete: 0, podMissing: 0 } as Record<Op, number> };

  /** The LeaseApi one member uses. */
  api(): LeaseApi {
    return {
      create: (lease) => this.call('create', () => this.create(lease)),
      get: (name) => this.call('get', () => this.copy(this.leases.get(name))),
      replace: (lease) => this.call('replace', () => this.replace(lease)),
      delete: (name, resourceVersion) => this.call('delete', () => this.remove(name, resourceVersion)),
      podMissing: (_namespace, name) => this.call('podMissing', () => !this.pods.has(name)),
    };
  }

  /** Connects a member's watch: a first list, then every change. */
  connect(membership: Membership): () => void {
    const watcher = { membership };
    this.watchers.add(watcher);
    if (!this.down) this.relist(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** The next `count` calls of `op` fail with `code` (an HTTP status, or 'timeout'). */
  failNext(op: Op, code: number | 'timeout', count = 1): void {
    this.failures.push({ op, code, remaining: count });
  }

  /** Outage: every call fails and no watch event is delivered, until `setDown(false)` (then watches relist). */
  setDown(down: boolean): void {
    this.down = down;
    if (!down) for (const watcher of this.watchers) this.relist(watcher);
  }

  lease(name: string): LeaseObject | undefined {
    return this.copy(this.leases.get(name));
  }

  leaseNames(): string[] {
    return [...this.leases.keys()].sort();
  }

  private relist(watcher: Watcher): void {
    this.counts.requests++;
    for (const lease of this.leases.values()) watcher.membership.observe(this.copy(lease));
    watcher.membership.markSynced();
  }

  private async call<T>(op: Op, run: () => T): Promise<T> {
    this.counts.requests++;
    this.counts.byOp[op]++;
    await Promise.resolve();
    if (this.down) throw new SimulatedApiError('connect ECONNREFUSED');
    const failure = this.failures.find((f) => f.op === op && f.remaining > 0);
    if (failure) {
      failure.remaining--;
      throw failure.code === 'timeout' ? new SimulatedApiError('request timed out') : new SimulatedApiError(`simulated ${failure.code}`, failure.code);
    }
    return run();
  }

  private create(lease: LeaseObject): LeaseObject {
    if (this.leases.has(lease.metadata.name)) throw new SimulatedApiError('already exists', 409);
    return this.store(lease, 'ADDED');
  }

  private replace(lease: LeaseObject): LeaseObject {
    const current = this.leases.get(lease.metadata.name);
    if (!current) throw new SimulatedApiError('not found', 404);
    if (lease.metadata.resourceVersion !== current.metadata.resourceVersion) throw new SimulatedApiError('conflict', 409);
    return this.store(lease, 'MODIFIED');
  }

  private remove(name: string, resourceVersion: string | undefined): void {
    const current = this.leases.get(name);
    if (!current) throw new SimulatedApiError('not found', 404);
    if (resourceVersion && resourceVersion !== current.metadata.resourceVersion) throw new SimulatedApiError('conflict', 409);
    this.leases.delete(name);
    this.fanOut((m) => m.forget(name));
  }

  private store(lease: LeaseObject, _type: 'ADDED' | 'MODIFIED'): LeaseObject {
    const stored = structuredClone(lease);
    stored.metadata.resourceVersion = String(++this.revision);
    this.leases.set(stored.metadata.name, stored);
    const event = this.copy(stored); // one copy shared by every watcher: members only read it
    this.fanOut((m) => m.observe(event));
    return this.copy(stored) as LeaseObject;
  }

  /** Delivers a watch event to every connected member, asynchronously (as a watch would). */
  private fanOut(deliver: (membership: Membership) => void): void {
    if (this.down) return;
    const watchers = [...this.watchers];
    this.counts.watchEvents += watchers.length;
    // One microtask per write (not per watcher): the same order, far less overhead at N = 1,000.
    queueMicrotask(() => {
      for (const watcher of watchers) if (this.watchers.has(watcher)) deliver(watcher.membership);
    });
  }

  private copy(lease: LeaseObject | undefined): LeaseObject | undefined {
    return lease === undefined ? undefined : (JSON.parse(JSON.stringify(lease)) as LeaseObject);
  }
}
