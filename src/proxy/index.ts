/**
 * Bosun's service proxy, run inside the node agent: kube-proxy's iptables mode (default) or its
 * nftables mode (`--proxy-mode nftables`, nft.ts). Informers on Services and EndpointSlices
 * (`kubernetes.io/service-name`) trigger syncs; each sync turns the caches into rules with pure
 * functions and applies only what changed: `iptables-restore --noflush` of the chains that
 * changed (rules.ts), or one `nft -f` transaction of the chains and map elements that changed
 * (nft.ts); a full sync at start, after a failure and hourly. Each service port's rules are
 * generated again only when it changed (incremental.ts, NftRuleCache). At 1,000 Services × 10
 * endpoints the iptables mode in upstream's shape restores in ~6 s on nf_tables (iptables-nft
 * walks every chain for each jump rule), the nftables mode in ~0.3 s. UDP flows to vanished
 * endpoints are deleted from conntrack. Rules survive the proxy's stop (as upstream's);
 * `removeProxyRules` and `removeNftProxyRules` remove them, and each mode removes the other's
 * at start.
 */
import type { EndpointSlice, Service } from '../api/index.ts';
import { InformerFactory, realClock, resources, type Clock, type RestClient, type TimerHandle } from '../client/index.ts';
import { deleteConntrack, inspectHost, nftApply, nftInspect, removeNftProxyRules, removeProxyRules, restore } from './host.ts';
import { nftDeleteChains, NftRuleCache, type NftWritten } from './nft.ts';
import { ProxyRuleCache } from './incremental.ts';
import { conntrackCleanup, SERVICE_NAME_LABEL, ServicePortTracker, type ProxyNodeInfo, type ProxyServicePort, type WrittenChains } from './rules.ts';

export { nftApply, removeNftProxyRules, removeProxyRules } from './host.ts';
export * from './nft.ts';
export * from './rules.ts';
export { ProxyRuleCache } from './incremental.ts';

/** Upstream's `--iptables-min-sync-period` default: bursts coalesce into one sync per second. */
export const DEFAULT_MIN_SYNC_INTERVAL_MS = 1_000;
/** Upstream's `--iptables-sync-period` default: a periodic (partial) sync. */
export const DEFAULT_SYNC_PERIOD_MS = 30_000;
/** nftables mode: a chain flushed as stale is deleted by a sync at least this much later (upstream's wait). */
export const STALE_CHAIN_DELETE_AFTER_MS = 1_000;
/** A full sync (every chain rewritten, stale chains found in the kernel) at least this often. */
export const FULL_SYNC_PERIOD_MS = 3_600_000;
/** Wait after a failed sync before the next (full) attempt. */
export const RETRY_AFTER_FAILURE_MS = 5_000;

export type ProxyMode = 'iptables' | 'nftables';
export const PROXY_MODES: readonly ProxyMode[] = ['iptables', 'nftables'];

export interface ServiceProxyOptions {
  client: RestClient;
  /** Default iptables (upstream's and k3s's default). */
  mode?: ProxyMode;
  /** The agent's informer factory, shared so that one watch per kind serves every component (default: a new one). */
  informers?: InformerFactory;
  nodeName: string;
  /** The node's addresses (NodePorts answer on these). */
  nodeIPs: string[];
  /** The cluster's pod range (`--cluster-cidr`): traffic from outside it to a cluster IP is masqueraded. */
  clusterCidr?: string;
  /** DNAT targets allowed; default clusterCidr + nodeIPs (see rules.ts). */
  endpointCidrs?: string[];
  /** This node's pod range (the nftables mode's hairpin set, see nft.ts). */
  podCidr?: string;
  /**
   * Default true: upstream's rule shape, one KUBE-SEP chain per endpoint (what users and tools
   * read with `iptables -t nat -S`). false: the compact shape (rules.ts inlineEndpointChains),
   * ~10× faster to restore on nf_tables at 10 endpoints per Service, but it masquerades every
   * endpoint that reaches its own Service, so such an endpoint's peers see the node's address,
   * which NetworkPolicy lets through: kept for measurements, not the default.
   */
  endpointChains?: boolean;
  /** true: rewrite every top-level chain on each sync, as upstream. Default false: only changed ones (rules.ts skipUnchangedTopLevel). */
  rewriteTopLevelChains?: boolean;
  minSyncIntervalMs?: number;
  syncPeriodMs?: number;
  clock?: Clock;
  log?: (msg: string) => void;
  /** Applies a restore script; default `iptables-restore --noflush`. For tests. */
  apply?: (script: string) => Promise<void>;
  /** Full-sync host inspection; default reads the nat and filter tables. For tests. */
  inspect?: typeof inspectHost;
  /** conntrack deletions; default runs `conntrack`. For tests. */
  conntrack?: (calls: string[][]) => Promise<void>;
  /** nftables mode: applies a transaction; default `nft -f -`. For tests. */
  nftApply?: (script: string) => Promise<void>;
  /** nftables mode: full-sync inspection of the table; default lists its chains and sets. For tests. */
  nftInspect?: typeof nftInspect;
  /**
   * Removes the other mode's rules, once, before the first full sync. Default: the real removal,
   * unless `apply` or `nftApply` is given (tests), then nothing.
   */
  removeOtherMode?: () => Promise<void>;
}

/** Counters of what the proxy did (for tests and logs). */
export interface ProxyStats {
  /** Informer events seen (Service and EndpointSlice adds, updates, deletes). */
  events: number;
  syncs: number;
  fullSyncs: number;
  failures: number;
  lastChanged: number;
  lastDeleted: number;
}

/**
 * A running service proxy. Syncs never overlap; a change arriving at least `minSyncIntervalMs`
 * after the previous sync is applied at once, changes within that interval are coalesced into
 * one sync at its end (upstream's BoundedFrequencyRunner).
 */
export class ServiceProxy {
  readonly #opts: ServiceProxyOptions;
  readonly #clock: Clock;
  readonly #log: (msg: string) => void;
  readonly #informers: InformerFactory;
  readonly #services;
  readonly #slices;
  readonly #node: ProxyNodeInfo;
  #timer: TimerHandle | undefined;
  #periodic: TimerHandle | undefined;
  #running = false;
  #pending = false;
  #lastSync = -Infinity;
  #lastFull = -Infinity;
  #needFull = true;
  #written: WrittenChains | undefined;
  #prevPorts: ProxyServicePort[] = [];
  /** Each service port's rendered chains, reused while the port is unchanged. */
  readonly #cache = new ProxyRuleCache();
  readonly #nftCache = new NftRuleCache();
  readonly #tracker = new ServicePortTracker();
  #nftWritten: NftWritten | undefined;
  /** nftables mode: chains flushed as stale → when (deleted STALE_CHAIN_DELETE_AFTER_MS later). */
  readonly #staleChains = new Map<string, number>();
  #otherModeRemoved = false;
  #stopped = false;
  #idle: Promise<void> = Promise.resolve();
  #firstSync: { promise: Promise<void>; resolve: () => void };
  readonly stats: ProxyStats = { events: 0, syncs: 0, fullSyncs: 0, failures: 0, lastChanged: 0, lastDeleted: 0 };
  /** Resolves once the proxy stopped (signal aborted) and no sync runs. */
  readonly done: Promise<void>;

  constructor(opts: ServiceProxyOptions, signal: AbortSignal) {
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.log ?? (() => {});
    this.#node = { nodeName: opts.nodeName, nodeIPs: opts.nodeIPs, clusterCidr: opts.clusterCidr, endpointCidrs: opts.endpointCidrs, endpointChains: opts.endpointChains ?? true, ...(opts.mode === 'nftables' && opts.podCidr ? { podCidr: opts.podCidr } : {}) };
    let resolveFirst!: () => void;
    this.#firstSync = { promise: new Promise<void>((r) => (resolveFirst = r)), resolve: resolveFirst };
    this.#informers = opts.informers ?? new InformerFactory(opts.client, { log: this.#log });
    this.#services = this.#informers.typedInformerFor(resources.services);
    this.#slices = this.#informers.typedInformerFor(resources.endpointSlices, { labelSelector: SERVICE_NAME_LABEL });
    const trigger = () => {
      this.stats.events++;
      this.trigger();
    };
    this.#services.addEventHandler({ onAdd: trigger, onUpdate: trigger, onDelete: trigger });
    this.#slices.addEventHandler({ onAdd: trigger, onUpdate: trigger, onDelete: trigger });
    this.#informers.start(signal);
    // Empty lists deliver no event: the first sync follows the caches' sync.
    void this.#informers.waitForCacheSync(signal).then((ok) => ok && this.trigger());
    this.done = new Promise<void>((resolve) => {
      const stop = () => {
        this.#stopped = true;
        if (this.#timer) this.#clock.clearTimeout(this.#timer);
        if (this.#periodic) this.#clock.clearTimeout(this.#periodic);
        this.#firstSync.resolve();
        void Promise.all([this.#informers.stopped(), this.#idle]).then(() => resolve());
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
  }

  /** Resolves after the first successful sync (or when the proxy stops). */
  firstSync(): Promise<void> {
    return this.#firstSync.promise;
  }

  /** Asks for a sync: at once if the last one is older than the minimum interval, else at its end. */
  trigger(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#pending = true;
      return;
    }
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastSync + (this.#opts.minSyncIntervalMs ?? DEFAULT_MIN_SYNC_INTERVAL_MS) - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#idle = this.#run();
    }, wait);
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    if (!this.#services.hasSynced() || !this.#slices.hasSynced()) {
      this.#pending = false;
      return; // the informers' initial adds trigger again once both lists arrived
    }
    this.#running = true;
    this.#lastSync = this.#clock.now(); // the interval counts from the start of a sync, as upstream's runner
    let retryMs: number | undefined;
    try {
      await this.sync();
    } catch (err) {
      this.stats.failures++;
      this.#needFull = true;
      retryMs = RETRY_AFTER_FAILURE_MS;
      this.#log(`proxy: sync failed, full sync in ${retryMs} ms: ${(err as Error).message}`);
    } finally {
      this.#running = false;
    }
    if (this.#stopped) return;
    if (this.#periodic) this.#clock.clearTimeout(this.#periodic);
    this.#periodic = this.#clock.setTimeout(() => this.trigger(), retryMs ?? this.#opts.syncPeriodMs ?? DEFAULT_SYNC_PERIOD_MS);
    if (this.#pending) {
      this.#pending = false;
      this.trigger();
    }
  }

  /** One sync from the informer caches. Throws when the rules cannot be applied (then the next sync is full). */
  async sync(): Promise<void> {
    const ports = this.#tracker.ports(this.#services.store.list() as Service[], this.#slices.store.list() as EndpointSlice[], this.#node);
    const nft = this.#opts.mode === 'nftables';
    const full = this.#needFull || !(nft ? this.#nftWritten : this.#written) || this.#clock.now() - this.#lastFull >= FULL_SYNC_PERIOD_MS;
    if (full && !this.#otherModeRemoved) {
      const injected = this.#opts.apply !== undefined || this.#opts.nftApply !== undefined;
      await (this.#opts.removeOtherMode ?? (injected ? async () => {} : nft ? removeProxyRules : removeNftProxyRules))();
      this.#otherModeRemoved = true;
    }
    const out = nft ? await this.#syncNft(ports, full) : await this.#syncIptables(ports, full);
    this.#needFull = false;
    if (full) {
      this.#lastFull = this.#clock.now();
      this.stats.fullSyncs++;
      this.#log(`proxy: full sync (${nft ? 'nftables' : 'iptables'}): ${ports.length} service ports, ${out.changed} service chains written, ${out.deleted} stale deleted`);
    }
    this.stats.syncs++;
    this.stats.lastChanged = out.changed;
    this.stats.lastDeleted = out.deleted;
    const cleanup = conntrackCleanup(this.#prevPorts, ports);
    this.#prevPorts = ports;
    if (cleanup.length) await (this.#opts.conntrack ?? ((c) => deleteConntrack(c, this.#log)))(cleanup);
    this.#firstSync.resolve();
  }

  async #syncIptables(ports: ProxyServicePort[], full: boolean): Promise<{ changed: number; deleted: number }> {
    const host = full ? await (this.#opts.inspect ?? inspectHost)() : undefined;
    // A full sync deletes stale service chains found in the kernel or written by an earlier sync.
    const known = (t: 'filter' | 'nat') => [...(host?.existing[t] ?? []), ...(this.#written?.[t].keys() ?? [])];
    const existing = host ? { filter: known('filter'), nat: known('nat') } : undefined;
    const out = this.#cache.render(ports, this.#node, { previous: full ? undefined : this.#written, existing, jumps: host?.missingJumps, skipUnchangedTopLevel: !this.#opts.rewriteTopLevelChains });
    await (this.#opts.apply ?? restore)(out.text);
    this.#written = out.written;
    return out;
  }

  async #syncNft(ports: ProxyServicePort[], full: boolean): Promise<{ changed: number; deleted: number }> {
    const apply = this.#opts.nftApply ?? nftApply;
    const existing = full ? await (this.#opts.nftInspect ?? nftInspect)() : undefined;
    const out = this.#nftCache.render(ports, this.#node, { previous: full ? undefined : this.#nftWritten, existing });
    // Chains flushed by an earlier sync and still unwanted go first, in their own transaction
    // (a failure leaves them for a later sync).
    const now = this.#clock.now();
    const due = [...this.#staleChains].filter(([c, at]) => now - at >= STALE_CHAIN_DELETE_AFTER_MS && !out.written.chains.has(c)).map(([c]) => c);
    let deleted = 0;
    if (due.length) {
      for (const c of due) this.#staleChains.delete(c);
      await apply(nftDeleteChains(due)).then(
        () => (deleted = due.length),
        (err: unknown) => {
          for (const c of due) this.#staleChains.set(c, now);
          this.#log(`proxy: deleting ${due.length} stale chains failed (retried later): ${(err as Error).message}`);
        },
      );
    }
    await apply(out.text);
    this.#nftWritten = out.written;
    for (const c of out.stale) this.#staleChains.set(c, now);
    for (const c of this.#staleChains.keys()) if (out.written.chains.has(c)) this.#staleChains.delete(c);
    return { changed: out.changed, deleted };
  }

  /** nftables mode: chains flushed as stale and not yet deleted (for tests). */
  get pendingStaleChains(): string[] {
    return [...this.#staleChains.keys()];
  }
}

/**
 * Starts the service proxy of this node; it runs until `signal` aborts (its rules stay). Never
 * throws: sync failures are logged and retried with a full sync.
 */
export function startServiceProxy(opts: ServiceProxyOptions, signal: AbortSignal): ServiceProxy {
  return new ServiceProxy(opts, signal);
}
