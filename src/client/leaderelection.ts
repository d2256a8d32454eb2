/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's LeaderElector does it.
 *
 * - Acquire: every `retryPeriodMs` (jittered ×1.2) read the Lease; create it if absent; take it
 *   over when it has no holder or when its record has not changed for its leaseDurationSeconds
 *   as observed by this process's own clock (never by comparing renewTime with our clock).
 *   Taking over bumps leaseTransitions and sets acquireTime; every write is an update with the
 *   Lease's resourceVersion, so of two contenders exactly one wins (the other gets a conflict).
 * - Lead: `onStartedLeading(signal)` is called (not awaited); the lease is renewed every
 *   `retryPeriodMs`; when renewing keeps failing for `renewDeadlineMs`, leadership is lost: the
 *   signal given to `onStartedLeading` aborts and `run` returns.
 * - Stop: when `run`'s signal aborts while leading and `releaseOnCancel` is set (default true),
 *   the Lease is released (holder cleared, leaseDurationSeconds 1) so a follower takes over on
 *   its next try instead of waiting for expiry.
 * - `onStoppedLeading()` is called whenever `run` returns, as upstream does (also when this
 *   process never led). `onNewLeader(identity)` is called when the observed holder changes
 *   (an empty holder after a release is not reported).
 * Lease times are MicroTime (RFC 3339 with microseconds, UTC).
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../api/types.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { realClock, sleepUnlessAborted, type Clock } from './clock.ts';
import type { Reader, Writer } from './rest.ts';
import { resources } from './resources.ts';

export interface LeaderElectionCallbacks {
  /** Called once leadership is acquired; `signal` aborts when it is lost or the elector stops. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  onNewLeader?(identity: string): void;
}

export interface LeaderElectionOptions extends LeaderElectionCallbacks {
  client: Pick<Reader, 'get'> & Pick<Writer, 'create' | 'update'>;
  /** The Lease's namespace and name, e.g. kube-system / kube-controller-manager. */
  namespace: string;
  name: string;
  /** Default `<hostname>_<uuid>`. */
  identity?: string;
  /** Default 15 000. */
  leaseDurationMs?: number;
  /** Default 10 000; must exceed 1.2 × retryPeriodMs. */
  renewDeadlineMs?: number;
  /** Default 2 000. */
  retryPeriodMs?: number;
  /** Give the lease up when stopped while leading. Default true. */
  releaseOnCancel?: boolean;
  /** Labels put on the Lease. */
  labels?: Record<string, string>;
  clock?: Clock;
  log?: (msg: string) => void;
}

/** The election-relevant part of a Lease's spec. */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string | null;
  renewTime: string | null;
  leaseTransitions: number;
}

const jitterFactor = 1.2;

/** RFC 3339 with six fractional digits in UTC, as metav1.MicroTime serializes. */
export function microTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2025-01-01T00:00:00.123Z
  return `${iso.slice(0, 23)}000Z`;
}

export function defaultIdentity(): string {
  return `${os.hostname()}_${randomUUID()}`;
}

function recordOf(lease: KubeObject | undefined): LeaderElectionRecord {
  const s = (lease?.['spec'] ?? {}) as Record<string, unknown>;
  return {
    holderIdentity: typeof s['holderIdentity'] === 'string' ? s['holderIdentity'] : '',
    leaseDurationSeconds: typeof s['leaseDurationSeconds'] === 'number' ? s['leaseDurationSeconds'] : 0,
    acquireTime: typeof s['acquireTime'] === 'string' ? s['acquireTime'] : null,
    renewTime: typeof s['renewTime'] === 'string' ? s['renewTime'] : null,
    leaseTransitions: typeof s['leaseTransitions'] === 'number' ? s['leaseTransitions'] : 0,
  };
}

export class LeaderElector {
  readonly identity: string;
  #o: LeaderElectionOptions;
  #clock: Clock;
  #log: (msg: string) => void;
  #leaseDurationMs: number;
  #renewDeadlineMs: number;
  #retryPeriodMs: number;
  /** The Lease as last read or written (for its resourceVersion). */
  #lease: KubeObject | undefined;
  #observed: LeaderElectionRecord | undefined;
  #observedRaw = '';
  #observedAt = 0;
  #reported = '';
  #running = false;

  constructor(opts: LeaderElectionOptions) {
    this.#o = opts;
    this.identity = opts.identity ?? defaultIdentity();
    this.#clock = opts.clock ?? realClock;
    const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
    this.#log = (msg) => log(`leader election ${opts.namespace}/${opts.name}: ${msg}`);
    this.#leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (this.#leaseDurationMs <= this.#renewDeadlineMs) throw new RangeError('leaseDurationMs must be greater than renewDeadlineMs');
    if (this.#renewDeadlineMs <= jitterFactor * this.#retryPeriodMs) throw new RangeError('renewDeadlineMs must be greater than retryPeriodMs × 1.2');
    if (this.#retryPeriodMs < 1) throw new RangeError('retryPeriodMs must be positive');
    if (!this.identity) throw new RangeError('identity must not be empty');
  }

  /** True when the last observed record names this elector as holder. */
  isLeader(): boolean {
    return this.#observed?.holderIdentity === this.identity;
  }

  /** The last observed holder ('' when none). */
  getLeader(): string {
    return this.#observed?.holderIdentity ?? '';
  }

  /**
   * Campaigns until leader, leads until leadership is lost or `signal` aborts, then returns.
   * Call once per elector.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error('leader elector is already running');
    this.#running = true;
    try {
      if (!(await this.#acquire(signal))) return;
      const leading = new AbortController();
      const stop = () => leading.abort();
      signal.addEventListener('abort', stop, { once: true });
      try {
        Promise.resolve()
          .then(() => this.#o.onStartedLeading(leading.signal))
          .catch((err) => this.#log(`onStartedLeading failed: ${(err as Error)?.message ?? err}`));
        await this.#renew(leading.signal);
      } finally {
        signal.removeEventListener('abort', stop);
        leading.abort();
      }
      if (this.#o.releaseOnCancel ?? true) await this.#release();
    } finally {
      this.#running = false;
      try {
        this.#o.onStoppedLeading?.();
      } catch (err) {
        this.#log(`onStoppedLeading failed: ${(err as Error)?.message ?? err}`);
      }
    }
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    this.#log(`${this.identity} attempting to acquire the lease`);
    while (!signal.aborted) {
      const ok = await this.#tryAcquireOrRenew(signal);
      this.#reportTransition();
      if (ok) {
        this.#log(`${this.identity} acquired the lease`);
        return true;
      }
      const wait = this.#retryPeriodMs * (1 + Math.random() * jitterFactor);
      if (!(await sleepUnlessAborted(wait, { clock: this.#clock, signal }))) break;
    }
    return false;
  }

  /** Renews every retry period; returns when renewing failed for renewDeadline or `signal` aborted. */
  async #renew(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const deadline = this.#clock.now() + this.#renewDeadlineMs;
      let ok = false;
      while (!signal.aborted) {
        const left = deadline - this.#clock.now();
        if (left <= 0) break;
        const attempt = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, left))]);
        ok = await this.#tryAcquireOrRenew(attempt);
        if (ok || signal.aborted) break;
        const wait = Math.min(this.#retryPeriodMs, deadline - this.#clock.now());
        if (wait <= 0) break;
        await sleepUnlessAborted(wait, { clock: this.#clock, signal });
      }
      this.#reportTransition();
      if (signal.aborted) return;
      if (!ok) {
        this.#log(`${this.identity} failed to renew the lease within ${this.#renewDeadlineMs} ms; leadership lost`);
        return;
      }
      await sleepUnlessAborted(this.#retryPeriodMs, { clock: this.#clock, signal });
    }
  }

  #record(now: number, prev: LeaderElectionRecord | undefined): LeaderElectionRecord {
    const leader = this.isLeader() && prev?.holderIdentity === this.identity;
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.max(1, Math.floor(this.#leaseDurationMs / 1000)),
      acquireTime: leader ? prev!.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: prev ? (leader ? prev.leaseTransitions : prev.leaseTransitions + 1) : 0,
    };
  }

  #leaseValid(now: number): boolean {
    const secs = this.#observed?.leaseDurationSeconds ?? 0;
    return this.#observedAt + secs * 1000 > now;
  }

  #setObserved(rec: LeaderElectionRecord): void {
    this.#observed = rec;
    this.#observedAt = this.#clock.now();
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const c = this.#o.client;
    const now = this.#clock.now();
    // Fast path: the leader renews on top of the Lease it last wrote.
    if (this.isLeader() && this.#leaseValid(now) && this.#lease) {
      const rec = this.#record(now, this.#observed);
      try {
        this.#lease = await c.update<KubeObject>(resources.leases, this.#leaseWith(this.#lease, rec), { signal });
        this.#setObserved(rec);
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        this.#log(`optimistic renew failed (${(err as Error).message}); reading the lease`);
      }
    }
    let current: KubeObject;
    try {
      current = await c.get<KubeObject>(resources.leases, this.#o.name, { namespace: this.#o.namespace, signal });
    } catch (err) {
      if (!isNotFound(err)) {
        if (!signal.aborted) this.#log(`cannot read the lease: ${(err as Error).message}`);
        return false;
      }
      const rec = this.#record(now, undefined);
      try {
        this.#lease = await c.create<KubeObject>(resources.leases, this.#leaseWith(undefined, rec), { signal });
        this.#setObserved(rec);
        this.#observedRaw = JSON.stringify(rec);
        return true;
      } catch (e) {
        if (!signal.aborted) this.#log(`cannot create the lease: ${(e as Error).message}`);
        return false;
      }
    }
    this.#lease = current;
    const old = recordOf(current);
    const raw = JSON.stringify(old);
    if (raw !== this.#observedRaw) {
      this.#setObserved(old);
      this.#observedRaw = raw;
    }
    if (old.holderIdentity && this.#leaseValid(now) && !this.isLeader()) return false;
    const rec = this.#record(now, old);
    try {
      this.#lease = await c.update<KubeObject>(resources.leases, this.#leaseWith(current, rec), { signal });
      this.#setObserved(rec);
      return true;
    } catch (err) {
      if (!signal.aborted && !isConflict(err)) this.#log(`cannot update the lease: ${(err as Error).message}`);
      return false;
    }
  }

  /** Clears the holder (duration 1 s) if this elector still holds the lease. */
  async #release(): Promise<void> {
    const c = this.#o.client;
    const signal = AbortSignal.timeout(this.#renewDeadlineMs);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!this.isLeader()) return;
      let current: KubeObject;
      try {
        current = await c.get<KubeObject>(resources.leases, this.#o.name, { namespace: this.#o.namespace, signal });
      } catch (err) {
        this.#log(`cannot read the lease to release it: ${(err as Error).message}`);
        return;
      }
      const old = recordOf(current);
      if (old.holderIdentity !== this.identity) return;
      const now = this.#clock.now();
      const rec: LeaderElectionRecord = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: old.leaseTransitions,
      };
      try {
        this.#lease = await c.update<KubeObject>(resources.leases, this.#leaseWith(current, rec), { signal });
        this.#setObserved(rec);
        this.#log(`${this.identity} released the lease`);
        return;
      } catch (err) {
        if (!isConflict(err)) {
          this.#log(`cannot release the lease: ${(err as Error).message}`);
          return;
        }
      }
    }
  }

  #leaseWith(base: KubeObject | undefined, rec: LeaderElectionRecord): KubeObject {
    const labels = { ...(base?.metadata.labels ?? {}), ...(this.#o.labels ?? {}) };
    const metadata = base
      ? { ...base.metadata, labels: Object.keys(labels).length ? labels : undefined }
      : { name: this.#o.name, namespace: this.#o.namespace, ...(this.#o.labels ? { labels: { ...this.#o.labels } } : {}) };
    if (!metadata.labels) delete metadata.labels;
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec: { ...rec } };
  }

  #reportTransition(): void {
    const holder = this.#observed?.holderIdentity ?? '';
    if (!holder || holder === this.#reported) return;
    this.#reported = holder;
    const cb = this.#o.onNewLeader;
    if (cb) {
      queueMicrotask(() => {
        try {
          cb(holder);
        } catch (err) {
          this.#log(`onNewLeader failed: ${(err as Error)?.message ?? err}`);
        }
      });
    }
  }
}
