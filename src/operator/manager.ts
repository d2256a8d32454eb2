/**
 * The manager, as controller-runtime's `pkg/manager`: one client, shared informers (the cache),
 * leader election, health endpoints, and the runnables (controllers) it starts and stops.
 *
 *   const mgr = await createManager({ kubeconfig, leaderElection: { namespace: 'default', name: 'db-operator' } });
 *   controllerFor(mgr, databases).owns(resources.statefulSets).complete(reconcile);
 *   await mgr.start(signal);   // resolves after a graceful stop
 *
 * Contract of `start(signal)`:
 * - The informers start at once (a follower keeps warm caches, as upstream). Runnables that
 *   need leader election (controllers, by default) start once this manager leads; the others
 *   at once. Without `leaderElection` every runnable starts at once.
 * - Stop, when `signal` aborts: runnables are told to stop and awaited for at most
 *   `gracefulShutdownTimeoutMs` (default 30 s; their reconciles' `ctx.signal` aborts at that
 *   deadline); then the Lease is released (a follower takes over at its next try instead of
 *   waiting for expiry), the informers and the health server stop, and `start` resolves.
 * - `start` rejects (after the same stop sequence) when leadership is lost ("leader election
 *   lost", as upstream exits), when a runnable fails, or when the grace period runs out
 *   ("failed waiting for all runnables to end within grace period of 30s").
 * - Health: with `healthProbe`, an HTTP server answers GET /healthz and /readyz (and
 *   /healthz/<check>): 200 "ok" when every check added passes, otherwise 500 listing
 *   `[+]name ok` / `[-]name failed: reason withheld` (`?verbose` lists them on success too).
 *   `/readyz` fails until the informers have synced.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiObject } from '../api/index.ts';
import {
  EventRecorder,
  InformerFactory,
  LeaderElector,
  createClient,
  realClock,
  type Clock,
  type InformerSelection,
  type Recorder,
  type ResourceDescriptor,
  type RestClient,
  type SharedInformer,
} from '../client/index.ts';
import type { Runnable } from './runnable.ts';

/** Upstream's default SyncPeriod: every cached object is re-delivered every 10 hours. */
export const defaultResyncMs = 10 * 60 * 60 * 1000;
/** Upstream's default GracefulShutdownTimeout. */
export const defaultGracefulShutdownTimeoutMs = 30_000;

export interface LeaderElectionConfig {
  /** The Lease's namespace and name. */
  namespace: string;
  name: string;
  /** Default `<hostname>_<uuid>`. */
  identity?: string;
  /** Upstream's defaults: 15 s, 10 s, 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ManagerOptions {
  /** A ready client (kept open by `close`), or a kubeconfig to make one from. */
  client?: RestClient;
  kubeconfig?: string;
  context?: string;
  /** User-Agent and event source. Default 'operator'. */
  component?: string;
  /** Cache (watch) only this namespace; default all. */
  namespace?: string;
  /** Default 10 h (0: never). */
  resyncMs?: number;
  leaderElection?: LeaderElectionConfig;
  /** Serve /healthz and /readyz on this port (0: a free one; see `healthProbePort`). */
  healthProbe?: { port: number; host?: string };
  gracefulShutdownTimeoutMs?: number;
  clock?: Clock;
  log?: (msg: string) => void;
}

/** A health check: resolves (or returns) when healthy, throws when not. */
export type Checker = () => void | Promise<void>;

/** Read access to the cache of one resource. Objects are shared: clone before mutating. */
export interface CacheReader<T extends ApiObject> {
  /** `get(namespace, name)`, or `get(name)` for a cluster-scoped resource. */
  get(namespaceOrName: string, name?: string): T | undefined;
  /** Every cached object, or those in `namespace`; optionally those `filter` keeps. */
  list(opts?: { namespace?: string; filter?: (obj: T) => boolean }): T[];
}

/** Makes a manager; with `kubeconfig` it opens a client (closed by `close`). */
export async function createManager(opts: ManagerOptions): Promise<Manager> {
  const own = !opts.client;
  const client = opts.client ?? (await createClient({ component: opts.component ?? 'operator', kubeconfig: opts.kubeconfig, context: opts.context, clock: opts.clock }));
  return new Manager(client, { ...opts, client }, own);
}

export class Manager {
  readonly client: RestClient;
  readonly informers: InformerFactory;
  readonly component: string;
  #o: ManagerOptions;
  #ownClient: boolean;
  #runnables: Runnable[] = [];
  #healthz = new Map<string, Checker>();
  #readyz = new Map<string, Checker>();
  #recorders = new Map<string, EventRecorder>();
  #started = false;
  #leader = false;
  #elected: Promise<void>;
  #resolveElected!: () => void;
  #probePort: number | undefined;
  #log: (msg: string) => void;
  #clock: Clock;
  #elector: LeaderElector | undefined;
  /** Runnables added while running: started by this hook. */
  #startLate: ((r: Runnable) => void) | null = null;

  constructor(client: RestClient, opts: ManagerOptions = {}, ownClient = false) {
    this.client = client;
    this.#o = opts;
    this.#ownClient = ownClient;
    this.component = opts.component ?? 'operator';
    this.#clock = opts.clock ?? realClock;
    const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
    this.#log = log;
    this.informers = new InformerFactory(client, { namespace: opts.namespace, resyncMs: opts.resyncMs ?? defaultResyncMs, clock: opts.clock, log });
    this.#elected = new Promise((resolve) => (this.#resolveElected = resolve));
    this.#readyz.set('informers', async () => {
      if (!(await this.informers.waitForCacheSync(AbortSignal.timeout(1)))) throw new Error('informers not synced');
    });
  }

  /** The shared informer of a resource (started with the manager, or at once if it runs). */
  informer<T extends ApiObject>(res: ResourceDescriptor, sel?: InformerSelection<T>): SharedInformer<T> {
    return this.informers.informerFor<T>(res, sel);
  }

  /** Reads of a resource's cache (its informer is made here if needed). */
  cache<T extends ApiObject>(res: ResourceDescriptor): CacheReader<T> {
    const inf = this.informer<T>(res);
    return {
      get: (a, b) => inf.store.get(b === undefined ? a : a ? `${a}/${b}` : b),
      list: (o = {}) => {
        const items = o.namespace !== undefined ? inf.store.byIndex('namespace', o.namespace) : inf.store.list();
        return o.filter ? items.filter(o.filter) : items;
      },
    };
  }

  /** An event recorder with source `component` (default the manager's); flushed by `close`. */
  eventRecorder(component?: string): Recorder {
    const name = component ?? this.component;
    let r = this.#recorders.get(name);
    if (!r) this.#recorders.set(name, (r = new EventRecorder(this.client, { component: name, clock: this.#o.clock, log: this.#log })));
    return r;
  }

  /** Adds a runnable; started with the manager (or at once when it already runs). */
  add(r: Runnable): void {
    this.#runnables.push(r);
    this.#startLate?.(r);
  }

  addHealthzCheck(name: string, check: Checker): void {
    if (this.#healthz.has(name)) throw new Error(`healthz check ${name} already exists`);
    this.#healthz.set(name, check);
  }

  addReadyzCheck(name: string, check: Checker): void {
    if (this.#readyz.has(name)) throw new Error(`readyz check ${name} already exists`);
    this.#readyz.set(name, check);
  }

  /** The health server's port once `start` has bound it. */
  get healthProbePort(): number | undefined {
    return this.#probePort;
  }

  /** Whether this manager leads (always true without leader election, once started). */
  isLeader(): boolean {
    return this.#leader;
  }

  /** Resolves once this manager leads (at start without leader election). */
  elected(): Promise<void> {
    return this.#elected;
  }

  /** Runs until `signal` aborts, leadership is lost or a runnable fails (see the file's contract). Call once. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error('manager was already started');
    this.#started = true;
    const stopCtl = new AbortController();
    const hardCtl = new AbortController();
    const infCtl = new AbortController();
    const leCtl = new AbortController();
    let failure: Error | undefined;
    const fail = (err: Error) => {
      failure ??= err;
      stopCtl.abort();
    };
    const onAbort = () => stopCtl.abort();
    if (signal.aborted) stopCtl.abort();
    else signal.addEventListener('abort', onAbort, { once: true });

    const probe = this.#o.healthProbe ? await this.#serveProbes(this.#o.healthProbe) : undefined;
    this.informers.start(infCtl.signal);
    const leaderRuns: Promise<void>[] = [];
    const otherRuns: Promise<void>[] = [];
    let leading: AbortSignal | null = this.#o.leaderElection ? null : stopCtl.signal;
    const run = (r: Runnable, sig: AbortSignal, into: Promise<void>[]) => {
      into.push(Promise.resolve().then(() => r.start(sig, { hardSignal: hardCtl.signal })).catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err)))));
    };
    const startOne = (r: Runnable) => {
      if (stopCtl.signal.aborted) return;
      if (r.needLeaderElection === true) {
        if (leading) run(r, leading, leaderRuns);
      } else run(r, stopCtl.signal, otherRuns);
    };
    for (const r of this.#runnables) if (r.needLeaderElection !== true) startOne(r);
    this.#startLate = startOne;

    let electorRun: Promise<void> = Promise.resolve();
    if (this.#o.leaderElection) {
      const le = this.#o.leaderElection;
      this.#elector = new LeaderElector({
        client: this.client,
        namespace: le.namespace,
        name: le.name,
        identity: le.identity,
        leaseDurationMs: le.leaseDurationMs,
        renewDeadlineMs: le.renewDeadlineMs,
        retryPeriodMs: le.retryPeriodMs,
        clock: this.#o.clock,
        log: this.#log,
        onStartedLeading: (sig) => {
          if (stopCtl.signal.aborted) return;
          this.#leader = true;
          this.#resolveElected();
          leading = AbortSignal.any([stopCtl.signal, sig]);
          for (const r of this.#runnables) if (r.needLeaderElection === true) startOne(r);
        },
      });
      electorRun = this.#elector.run(leCtl.signal).then(() => {
        if (!leCtl.signal.aborted) fail(new Error('leader election lost'));
      });
    } else {
      this.#leader = true;
      this.#resolveElected();
      for (const r of this.#runnables) if (r.needLeaderElection === true) startOne(r);
    }

    await new Promise<void>((resolve) => {
      if (stopCtl.signal.aborted) return resolve();
      stopCtl.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    signal.removeEventListener('abort', onAbort);
    this.#startLate = null;
    // Graceful stop: runnables first (leader-elected ones, then the rest), within the grace period.
    const graceMs = this.#o.gracefulShutdownTimeoutMs ?? defaultGracefulShutdownTimeoutMs;
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = this.#clock.setTimeout(() => resolve('timeout'), graceMs)));
    const drained = Promise.all(leaderRuns).then(() => Promise.all(otherRuns)).then(() => 'done' as const);
    const outcome = await Promise.race([drained, deadline]);
    this.#clock.clearTimeout(timer!);
    hardCtl.abort();
    if (outcome === 'timeout') failure ??= new Error(`failed waiting for all runnables to end within grace period of ${graceMs / 1000}s: context deadline exceeded`);
    this.#leader = false;
    leCtl.abort();
    await electorRun;
    infCtl.abort();
    await this.informers.stopped();
    if (probe) await new Promise<void>((resolve) => probe.close(() => resolve()));
    for (const r of this.#recorders.values()) await r.flush();
    if (failure) throw failure;
  }

  /** Flushes event recorders and closes the client when the manager opened it. */
  async close(): Promise<void> {
    for (const r of this.#recorders.values()) await r.close();
    if (this.#ownClient) await this.client.transport.close();
  }

  async #serveProbes(cfg: { port: number; host?: string }): Promise<http.Server> {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://probe');
      const [, kind, only] = url.pathname.split('/');
      const checks = kind === 'healthz' ? this.#healthz : kind === 'readyz' ? this.#readyz : undefined;
      if (!checks || req.method !== 'GET' || (only && !checks.has(only))) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
        return;
      }
      void runChecks(only ? new Map([[only, checks.get(only)!]]) : checks).then((results) => {
        const ok = results.every((r) => r.ok);
        const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: reason withheld`));
        const body = ok && !url.searchParams.has('verbose') ? 'ok' : `${lines.join('\n')}\n${kind} check ${ok ? 'passed' : 'failed'}\n`;
        res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(body);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.port, cfg.host, () => resolve());
    });
    this.#probePort = (server.address() as AddressInfo).port;
    return server;
  }
}

async function runChecks(checks: Map<string, Checker>): Promise<{ name: string; ok: boolean }[]> {
  return Promise.all(
    [...checks].map(async ([name, check]) => {
      try {
        await check();
        return { name, ok: true };
      } catch {
        return { name, ok: false };
      }
    }),
  );
}
