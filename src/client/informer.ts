/**
 * Shared informers (client-go's Reflector + SharedIndexInformer, in one class per resource):
 * list the resource (paged, 500 a page; resourceVersion "0" first, the last one seen on later
 * lists, "" after a 410 — as the reflector does), then watch from the list's resourceVersion
 * with bookmarks, keeping a local cache (`store`) and telling registered handlers what changed.
 *
 * Contract:
 * - Each change is applied to the store first, then handed to every handler, synchronously and
 *   in arrival order: `onAdd(obj)`, `onUpdate(old, new)`, `onDelete(lastKnown)`. Handlers should
 *   only enqueue keys; one that throws is logged and does not disturb the others.
 * - A watch that ends (timeout, server restart, network error) resumes from the last
 *   resourceVersion seen (bookmarks included). When the server answers 410 (the version is too
 *   old) the informer lists again and delivers the differences: adds, updates for objects whose
 *   resourceVersion changed, and deletes (with the last known object) for objects gone — the
 *   DeltaFIFO Replace semantics, with DeletedFinalStateUnknown simplified to a delete.
 * - Other failures back off exponentially (800 ms doubling to 30 s, jittered) and retry: a
 *   network failure or a 504 by watching again, another refusal by listing again. The informer
 *   never gives up until its signal aborts.
 * - `resyncMs` > 0 re-delivers every cached object as `onUpdate(obj, obj)` that often.
 * - `hasSynced()` turns true once the first list has been delivered. A handler added later first
 *   receives `onAdd` for every cached object.
 * - Objects handed out (store and handlers) are shared: never mutate them. With `freeze: true`
 *   they are deep-frozen, so a mutation throws (use in tests).
 *
 * `InformerFactory` shares one informer per (resource, namespace, selectors) in the process.
 */
import type { ApiObject } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { realClock, sleepUnlessAborted, type Clock, type TimerHandle } from './clock.ts';
import { isResourceExpired, statusErrorFromWatchObject } from './errors.ts';
import { apiVersionOf, type Reader, type ResourceDescriptor } from './rest.ts';
import type { ObjectFor } from './typed.ts';
import {
  CacheStore,
  deepFreeze,
  IndexNamespace,
  IndexNodeName,
  IndexOwnerUid,
  namespaceIndex,
  objectKey,
  ownerUidIndex,
  podNodeNameIndex,
  type Indexer,
  type Indexers,
} from './store.ts';
import { StatusError } from '../api/errors.ts';

export interface ResourceEventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

export interface HandlerRegistration {
  /** Stops deliveries to the handler. */
  remove(): void;
  /** True once the handler has received the initial objects. */
  hasSynced(): boolean;
}

/** What an informer needs from a client. */
export type ListerWatcher = Pick<Reader, 'list' | 'watch'>;

export interface InformerOptions<T> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver all objects as updates this often (ms); 0 or absent: never. */
  resyncMs?: number;
  /** List page size. Default 500. */
  pageSize?: number;
  /** Extra indexes besides the built-in ones. */
  indexers?: Indexers<T>;
  /** Deep-freeze cached objects. Default false. */
  freeze?: boolean;
  /** Watch timeout: random in [n, 2n] seconds. Default 300. */
  watchTimeoutSeconds?: number;
  /** Retry delays after failures (ms). Default 800 doubling to 30 000. */
  backoff?: { initialMs?: number; maxMs?: number };
  clock?: Clock;
  log?: (msg: string) => void;
}

interface Listener<T> {
  handler: ResourceEventHandler<T>;
  synced: boolean;
}

function builtinIndexers(res: ResourceDescriptor): Indexers<ApiObject> {
  const ix: Indexers<ApiObject> = { [IndexNamespace]: namespaceIndex, [IndexOwnerUid]: ownerUidIndex };
  if (res.group === '' && res.resource === 'pods') ix[IndexNodeName] = podNodeNameIndex;
  return ix;
}

export class SharedInformer<T extends ApiObject = KubeObject> {
  readonly resource: ResourceDescriptor;
  #client: ListerWatcher;
  #opts: InformerOptions<T>;
  #store: CacheStore<T>;
  #listeners = new Set<Listener<T>>();
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #rv = '';
  /** Set by a 410: the next list must not name a resourceVersion. */
  #rvUnavailable = false;
  #running = false;
  #clock: Clock;
  #log: (msg: string) => void;
  #apiVersion: string;

  constructor(client: ListerWatcher, resource: ResourceDescriptor, opts: InformerOptions<T> = {}) {
    this.#client = client;
    this.resource = resource;
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    const label = `informer ${resource.group ? `${resource.resource}.${resource.group}` : resource.resource}`;
    const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
    this.#log = (msg) => log(`${label}: ${msg}`);
    this.#apiVersion = apiVersionOf(resource);
    this.#store = new CacheStore<T>({ ...(builtinIndexers(resource) as Indexers<T>), ...(opts.indexers ?? {}) });
  }

  /** The cache. Objects are shared: never mutate them. */
  get store(): Indexer<T> {
    return this.#store;
  }

  /** The resourceVersion the cache reflects. */
  get lastSyncResourceVersion(): string {
    return this.#rv;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true once synced, false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  addEventHandler(handler: ResourceEventHandler<T>): HandlerRegistration {
    const l: Listener<T> = { handler, synced: false };
    this.#listeners.add(l);
    if (this.#synced) {
      for (const obj of this.#store.list()) this.#call(l, 'onAdd', obj);
      l.synced = true;
    }
    return {
      remove: () => void this.#listeners.delete(l),
      hasSynced: () => l.synced,
    };
  }

  /** Adds indexes (see CacheStore.addIndexers). */
  addIndexers(indexers: Indexers<T>): void {
    this.#store.addIndexers(indexers);
  }

  /** Events the current watch has carried (a failed watch that carried some resets the backoff). */
  #seen = 0;

  /** Lists and watches until `signal` aborts. Call once. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error('informer is already running');
    this.#running = true;
    const initialMs = this.#opts.backoff?.initialMs ?? 800;
    const maxMs = this.#opts.backoff?.maxMs ?? 30_000;
    let delay = initialMs;
    const backoff = async () => {
      const d = delay * (1 + Math.random());
      delay = Math.min(maxMs, delay * 2);
      await sleepUnlessAborted(Math.min(d, maxMs), { clock: this.#clock, signal });
    };
    let resync: TimerHandle | null = null;
    const resyncMs = this.#opts.resyncMs ?? 0;
    const armResync = () => {
      if (resyncMs <= 0 || signal.aborted) return;
      resync = this.#clock.setTimeout(() => {
        if (this.#synced) this.#resync();
        armResync();
      }, resyncMs);
    };
    armResync();
    let needList = true;
    try {
      while (!signal.aborted) {
        try {
          if (needList) {
            await this.#listAndReplace(signal);
            needList = false;
            delay = initialMs;
          }
          const started = this.#clock.now();
          this.#seen = 0;
          const n = await this.#watchOnce(signal);
          if (n > 0) delay = initialMs;
          else if (this.#clock.now() - started < 1000 && !signal.aborted) await backoff();
        } catch (err) {
          if (signal.aborted) break;
          if (isResourceExpired(err)) {
            this.#log(`resource version ${this.#rv} is too old; listing again`);
            this.#rvUnavailable = true;
            needList = true;
            continue;
          }
          // The server said no (other than 410 or a timeout): start over from a list. The network
          // failed or the server timed out waiting to catch up: watch again from where we are.
          if (err instanceof StatusError && err.code !== 504) needList = true;
          // A watch that carried events before it broke (e.g. closed as unresponsive under a burst)
          // was healthy: retry soon rather than after a backoff grown by older failures.
          if (this.#seen > 0) delay = initialMs;
          this.#log(`${needList ? 'list/watch' : 'watch'} failed: ${err instanceof Error ? err.message : String(err)}`);
          await backoff();
        }
      }
    } finally {
      if (resync !== null) this.#clock.clearTimeout(resync);
      this.#running = false;
    }
  }

  // ---- internals ----

  #prepare(obj: T): T {
    // A shared object (in-process transport) is frozen: a copy gets the type.
    if (obj.apiVersion === undefined || obj.kind === undefined) obj = { ...obj, apiVersion: obj.apiVersion ?? this.#apiVersion, kind: obj.kind ?? this.resource.kind };
    return this.#opts.freeze ? deepFreeze(obj) : obj;
  }

  /**
   * Lists everything, page by page. As client-go's reflector: the first list asks for
   * resourceVersion "0" (whatever the server's cache holds, cheap), later ones for the last
   * version seen (not older than that), and a list after a 410 for "" (the latest).
   */
  async #listAndReplace(signal: AbortSignal): Promise<void> {
    const base = {
      namespace: this.#opts.namespace,
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      signal,
      shared: true,
    };
    const limit = this.#opts.pageSize ?? 500;
    let listRv = this.#rvUnavailable ? '' : this.#rv || '0';
    let items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    for (;;) {
      let page;
      try {
        page = await this.#client.list<T>(this.resource, { ...base, limit, continue: cont, resourceVersion: cont ? undefined : listRv || undefined });
      } catch (err) {
        if (!isResourceExpired(err)) throw err;
        if (!cont && !listRv) throw err;
        // The version asked for, or the continue token, expired: one unpaged list of the latest.
        this.#rvUnavailable = true;
        listRv = '';
        page = await this.#client.list<T>(this.resource, base);
        items = [];
        cont = undefined;
      }
      for (const it of page.items) items.push(it);
      rv = page.metadata.resourceVersion ?? rv;
      cont = page.metadata.continue || undefined;
      if (!cont) break;
    }
    if (signal.aborted) return;
    this.#rvUnavailable = false;
    this.#replace(items, rv);
  }

  #replace(items: T[], rv: string): void {
    const fresh = new Map<string, T>();
    for (const it of items) fresh.set(objectKey(it), this.#prepare(it));
    const changes: (['add', T] | ['update', T, T] | ['delete', T])[] = [];
    for (const [key, obj] of fresh) {
      const old = this.#store.set(key, obj);
      if (!old) changes.push(['add', obj]);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) changes.push(['update', old, obj]);
    }
    for (const key of this.#store.keys()) {
      if (fresh.has(key)) continue;
      const old = this.#store.delete(key)!;
      changes.push(['delete', old]);
    }
    this.#rv = rv;
    for (const c of changes) {
      if (c[0] === 'add') this.#distribute('onAdd', c[1]);
      else if (c[0] === 'update') this.#distribute('onUpdate', c[1], c[2]);
      else this.#distribute('onDelete', c[1]);
    }
    if (!this.#synced) {
      this.#synced = true;
      for (const l of this.#listeners) l.synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  /** One watch, until it ends. Returns how many events it carried; throws on failure. */
  async #watchOnce(signal: AbortSignal): Promise<number> {
    const min = this.#opts.watchTimeoutSeconds ?? 300;
    const stream = await this.#client.watch<T>(this.resource, {
      namespace: this.#opts.namespace,
      labelSelector: this.#opts.labelSelector,
      fieldSelector: this.#opts.fieldSelector,
      resourceVersion: this.#rv,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(min + Math.random() * min),
      signal,
    });
    let n = 0;
    try {
      for await (const ev of stream) {
        if (signal.aborted) break;
        n++;
        this.#seen++;
        switch (ev.type) {
          case 'ERROR':
            throw statusErrorFromWatchObject(ev.object);
          case 'BOOKMARK':
            this.#rv = ev.object?.metadata?.resourceVersion ?? this.#rv;
            break;
          case 'ADDED':
          case 'MODIFIED': {
            const obj = this.#prepare(ev.object);
            const old = this.#store.set(objectKey(obj), obj);
            this.#rv = obj.metadata.resourceVersion ?? this.#rv;
            if (old) this.#distribute('onUpdate', old, obj);
            else this.#distribute('onAdd', obj);
            break;
          }
          case 'DELETED': {
            const obj = this.#prepare(ev.object);
            const old = this.#store.delete(objectKey(obj));
            this.#rv = obj.metadata.resourceVersion ?? this.#rv;
            if (old) this.#distribute('onDelete', obj);
            break;
          }
        }
      }
    } finally {
      stream.close();
    }
    return n;
  }

  #resync(): void {
    for (const obj of this.#store.list()) this.#distribute('onUpdate', obj, obj);
  }

  #distribute(kind: 'onAdd' | 'onDelete', obj: T): void;
  #distribute(kind: 'onUpdate', old: T, obj: T): void;
  #distribute(kind: keyof ResourceEventHandler<T>, a: T, b?: T): void {
    for (const l of this.#listeners) this.#call(l, kind, a, b);
  }

  #call(l: Listener<T>, kind: keyof ResourceEventHandler<T>, a: T, b?: T): void {
    try {
      if (kind === 'onUpdate') l.handler.onUpdate?.(a, b!);
      else l.handler[kind]?.(a);
    } catch (err) {
      this.#log(`${kind} handler failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Resolves true once every informer has synced; false if `signal` aborts first. */
export async function waitForCacheSync(signal: AbortSignal | undefined, ...informers: { waitForSync(signal?: AbortSignal): Promise<boolean> }[]): Promise<boolean> {
  const results = await Promise.all(informers.map((i) => i.waitForSync(signal)));
  return results.every(Boolean);
}

export interface InformerFactoryOptions {
  /** Default resync for informers made here (ms); 0: none. */
  resyncMs?: number;
  /** Watch only this namespace (default: all). */
  namespace?: string;
  freeze?: boolean;
  pageSize?: number;
  watchTimeoutSeconds?: number;
  backoff?: { initialMs?: number; maxMs?: number };
  clock?: Clock;
  log?: (msg: string) => void;
}

export interface InformerSelection<T> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Extra indexes; names already present on a shared informer are left as they are. */
  indexers?: Indexers<T>;
}

/**
 * One informer per (resource, namespace, selectors) in the process, shared by every caller.
 * `start(signal)` runs the informers made so far; informers asked for after `start` run at once.
 */
export class InformerFactory {
  #client: ListerWatcher;
  #opts: InformerFactoryOptions;
  #informers = new Map<string, SharedInformer<KubeObject>>();
  #signal: AbortSignal | null = null;
  #runs: Promise<void>[] = [];
  #started = new Set<SharedInformer<KubeObject>>();

  constructor(client: ListerWatcher, opts: InformerFactoryOptions = {}) {
    this.#client = client;
    this.#opts = opts;
  }

  informerFor<T extends ApiObject = KubeObject>(res: ResourceDescriptor, sel: InformerSelection<T> = {}): SharedInformer<T> {
    const namespace = sel.namespace ?? this.#opts.namespace ?? '';
    const key = [res.group, res.version, res.resource, namespace, sel.labelSelector ?? '', sel.fieldSelector ?? ''].join('|');
    let inf = this.#informers.get(key) as SharedInformer<T> | undefined;
    if (!inf) {
      const o = this.#opts;
      inf = new SharedInformer<T>(this.#client, res, {
        namespace: namespace || undefined,
        labelSelector: sel.labelSelector,
        fieldSelector: sel.fieldSelector,
        resyncMs: o.resyncMs,
        freeze: o.freeze,
        pageSize: o.pageSize,
        watchTimeoutSeconds: o.watchTimeoutSeconds,
        backoff: o.backoff,
        clock: o.clock,
        log: o.log,
      });
      this.#informers.set(key, inf as unknown as SharedInformer<KubeObject>);
      if (this.#signal) this.#start(inf as unknown as SharedInformer<KubeObject>);
    }
    if (sel.indexers) {
      const missing: Indexers<T> = {};
      for (const [name, fn] of Object.entries(sel.indexers)) {
        try {
          inf.store.indexKeys(name, '');
        } catch {
          missing[name] = fn;
        }
      }
      inf.addIndexers(missing);
    }
    return inf;
  }

  /**
   * `informerFor`, typed by the descriptor: `typedInformerFor(resources.pods)` is a
   * SharedInformer<Pod> (the same shared informer `informerFor(resources.pods)` returns).
   */
  typedInformerFor<D extends ResourceDescriptor>(res: D, sel: InformerSelection<ObjectFor<D>> = {}): SharedInformer<ObjectFor<D>> {
    return this.informerFor<ObjectFor<D>>(res, sel);
  }

  /** Runs every informer (now and later ones) until `signal` aborts. */
  start(signal: AbortSignal): void {
    this.#signal = signal;
    for (const inf of this.#informers.values()) this.#start(inf);
  }

  #start(inf: SharedInformer<KubeObject>): void {
    if (this.#started.has(inf) || !this.#signal) return;
    this.#started.add(inf);
    this.#runs.push(inf.run(this.#signal).catch(() => {}));
  }

  /** Resolves true once every informer made so far has synced. */
  waitForCacheSync(signal?: AbortSignal): Promise<boolean> {
    return waitForCacheSync(signal, ...this.#informers.values());
  }

  /** Resolves once every started informer has stopped (after the start signal aborts). */
  async stopped(): Promise<void> {
    await Promise.all(this.#runs);
  }
}
