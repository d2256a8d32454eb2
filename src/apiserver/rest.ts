/**
 * Generic object storage for one resource (upstream's registry/generic Store): the create,
 * update, delete, get, list and watch semantics every kind shares, over the Store and the
 * resource's watch cache. Kind-specific behaviour comes only from the ResourceDef hooks.
 *
 * Objects here are in the storage version. Stored values are JSON without resourceVersion;
 * the resourceVersion is the key's modRevision, set when reading.
 * Concurrency: writes use compare-and-swap on the modRevision; "guaranteed updates" retry on a
 * lost race unless the caller pinned a resourceVersion (then 409 Conflict).
 */
import { copyJson, jsonCopy } from '../util/freeze.ts';
import { sameBytes } from '../util/compare.ts';
import { sharedParts } from './intern.ts';
import type { AuditRecorder } from './audit/index.ts';
import { isStale } from '../storage/encryption.ts';
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import type { Store, KeyValue, WriteResult } from '../storage/types.ts';
import type { ResourceDef } from '../api/resource.ts';
import type { KubeObject, StatusCause, UserInfo } from '../api/types.ts';
import {
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  staleConflict,
  statusError,
} from '../api/errors.ts';
import { validateObjectMeta, validateObjectMetaUpdate, nameFromGenerateName } from '../api/meta.ts';
import { jsonEqual } from '../api/validation.ts';
import { parseFieldSelector, parseLabelSelector } from '../api/selectors.ts';
import { WatchCache, type CachedObject, type CacheWatch } from './watchcache.ts';
import type { AdmissionChain, AdmissionAttributes } from './admission/types.ts';
import { isCode } from '../util/errors.ts';
import { keepManagedFields, updateManagedFields } from '../api/apply/index.ts';
import { typeForKind } from '../api/schema/index.ts';
import { canonical, canonicalOnce, setCanonicalResourceVersion } from '../api/schema/canonical.ts';
import { normalizeObjectTimes } from '../api/times.ts';
import { goJsonKind, goJsonSyntaxError } from '../api/jsonscan.ts';
import { int64Error } from './params.ts';

export interface WriteContext {
  user: UserInfo;
  dryRun: boolean;
  /** The version of the request, for admission. */
  version: string;
  /** The field manager this write is recorded under in managedFields; absent: not recorded. */
  manager?: string;
  /** A server-side apply: managedFields were already computed with the merge. */
  applied?: boolean;
  /** Admission warnings for the response (Warning headers); plugins append. */
  warnings?: string[];
  /** Admission audit annotations; plugins add. */
  auditAnnotations?: Record<string, string>;
  /** The request's audit recorder: admission annotations are recorded on it. */
  audit?: AuditRecorder;
}

export interface ListParams {
  namespace: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: readonly CachedObject[];
  resourceVersion: number;
  continue?: string;
  remainingItemCount?: number;
}

export interface DeleteParams {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ObjectFilter {
  (obj: KubeObject): boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Written objects kept for decoding their own values (ResourceStore.#written), per resource. */
export const writtenMax = 4096;

/** RFC 3339 with second precision, as metav1.Time serializes. */
export function nowRfc3339(clock: () => number = Date.now): string {
  return new Date(Math.floor(clock() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A mutable deep copy of an API object (cached objects are frozen and shared). */
export function clone<T>(v: T): T {
  return copyJson(v);
}

/** Attempts at a free name for a create with generateName (upstream maxNameGenerationCreateAttempts). */
export const maxNameGenerationAttempts = 8;

export interface ResourceStoreOptions {
  admission: AdmissionChain;
  clock?: () => number;
  /**
   * Assigns cluster-wide resources (service IPs and node ports) after defaulting and before
   * validation, on create and update; returns field errors. Calls are serialized per resource.
   */
  allocate?: (obj: KubeObject, old: KubeObject | undefined, ctx: { dryRun: boolean }) => StatusCause[] | Promise<StatusCause[]>;
  /**
   * The highest revision this server wrote under each storage prefix, shared by the stores of
   * one server so that kinds stored under one prefix (core and events.k8s.io Events) read each
   * other's writes.
   */
  writeMarks?: Map<string, number>;
  /** Called once an object is deleted from the store (a Service's addresses are released). */
  afterDelete?: (obj: KubeObject) => Promise<void>;
  /** Objects expire this long after their last write (upstream's --event-ttl for Events); absent: never. */
  ttlSeconds?: number;
}

export class ResourceStore {
  readonly def: ResourceDef;
  readonly cache: WatchCache;
  readonly gr: { group: string; resource: string };
  readonly gk: { group: string; kind: string };
  #store: Store;
  #opts: ResourceStoreOptions;
  #clock: () => number;
  #prefix: string;
  #writeOptions: { ttlSeconds: number } | undefined;
  /** Highest revision written under this prefix (shared per server): lists wait for the cache to reach it. */
  #marks: Map<string, number>;
  /**
   * The objects this server's writes encoded, by key, with the bytes they were encoded to: a
   * value that is those very bytes (the write's watch event, from SQLite the same array, from
   * etcd a copy) decodes to that object, given its resourceVersion, instead of being parsed back
   * and walked for Go's order. Equal bytes make it the same object whoever wrote them. An entry
   * goes when it is used, when its write fails, or when the key's next write replaces it; at
   * most writtenMax are kept (the oldest go first: a write whose value was never decoded).
   */
  #written: Map<string, { bytes: Uint8Array; obj: KubeObject }> | null;

  constructor(def: ResourceDef, store: Store, opts: ResourceStoreOptions) {
    this.def = def;
    this.#store = store;
    this.#opts = opts;
    this.#clock = opts.clock ?? Date.now;
    this.#marks = opts.writeMarks ?? new Map();
    this.#writeOptions = opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : undefined;
    this.gr = { group: def.group, resource: def.plural };
    this.gk = { group: def.group, kind: def.kind };
    this.#prefix = `/registry/${def.storagePrefix ?? def.plural}/`;
    this.#written = !def.storedAs && !def.custom?.onRead ? new Map() : null;
    this.cache = new WatchCache(store, this.#prefix, { decode: (value, rv, key) => this.#decodeValue(value, rv, key), interner: sharedParts });
  }

  get prefix(): string {
    return this.#prefix;
  }

  key(namespace: string, name: string): string {
    return this.def.namespaced ? `${this.#prefix}${namespace}/${name}` : `${this.#prefix}${name}`;
  }

  #decode(kv: KeyValue): KubeObject {
    return this.#decodeValue(kv.value, kv.modRevision, kv.key);
  }

  /** A stored value as the API object (the watch cache decodes with this too). */
  #decodeValue(value: Uint8Array, rv: number, key: string): KubeObject {
    const written = this.#written?.get(key);
    if (written && sameBytes(written.bytes, value)) {
      this.#written!.delete(key);
      if (setCanonicalResourceVersion(written.obj, String(rv))) return written.obj;
    }
    const obj = JSON.parse(decoder.decode(value)) as KubeObject;
    const out = this.def.storedAs ? this.def.storedAs.fromStorage(obj) : obj;
    out.metadata.resourceVersion = String(rv);
    this.def.custom?.onRead?.(out);
    return canonicalOnce(out); // Go's JSON form (also for values stored before it was written so)
  }

  #encode(obj: KubeObject, key: string): Uint8Array {
    const stored = this.def.storedAs ? this.def.storedAs.toStorage(obj) : obj;
    const rv = stored.metadata.resourceVersion;
    delete stored.metadata.resourceVersion;
    const canon = canonical(stored);
    const bytes = encoder.encode(JSON.stringify(canon)); // stored in Go's JSON form
    // What parsing the bytes back gives (a JSON round trip), taken before `obj` changes again.
    const written = this.#written;
    if (written) {
      written.delete(key); // re-inserted last: the oldest entry is the first
      if (written.size >= writtenMax) written.delete(written.keys().next().value!);
      written.set(key, { bytes, obj: jsonCopy(canon) });
    }
    if (rv !== undefined && stored === obj) obj.metadata.resourceVersion = rv;
    return bytes;
  }

  /** A write of `bytes` at `key` did not happen: its object is not kept for decoding. */
  #unwritten(key: string, bytes: Uint8Array): void {
    if (this.#written?.get(key)?.bytes === bytes) this.#written.delete(key);
  }

  #noteWrite(rev: number): void {
    if (rev > (this.#marks.get(this.#prefix) ?? 0)) this.#marks.set(this.#prefix, rev);
  }

  /** Waits until the cache reflects this server's own writes (read-your-writes for lists). */
  async consistent(): Promise<void> {
    await this.cache.waitFor(this.#marks.get(this.#prefix) ?? 0);
  }

  // ---- reads -----------------------------------------------------------------------------

  /** Get: from the cache when it has seen our writes (resourceVersion "" or "0"), else from the store. */
  async get(namespace: string, name: string, resourceVersion?: string): Promise<KubeObject> {
    const key = this.key(namespace, name);
    if (resourceVersion && resourceVersion !== '0') {
      const rv = parseRv(resourceVersion);
      await this.cache.waitFor(rv);
    } else if (!resourceVersion) {
      await this.consistent();
    } else {
      await this.cache.ready();
    }
    const c = this.cache.get(key);
    if (!c) throw notFound(this.gr, name);
    return c.obj;
  }

  /** Reads the current stored value with its modRevision, bypassing the cache. */
  async getFromStore(namespace: string, name: string): Promise<{ obj: KubeObject; kv: KeyValue } | null> {
    const kv = await this.#store.get(this.key(namespace, name));
    return kv ? { obj: this.#decode(kv), kv } : null;
  }

  /** Fields available to field selectors for this kind. */
  fieldGetter(obj: KubeObject): (field: string) => string | undefined {
    const extra = this.def.fieldSelectors;
    return (field) => {
      if (field === 'metadata.name') return obj.metadata.name ?? '';
      if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
      const f = extra?.[field];
      return f ? (f(obj) ?? '') : undefined;
    };
  }

  /** Builds a predicate from label and field selector strings; throws BadRequest on bad input. */
  filter(labelSelector?: string, fieldSelector?: string): ObjectFilter | null {
    const ls = labelSelector ? parseLabelSelector(labelSelector) : null;
    const fs = fieldSelector ? parseFieldSelector(fieldSelector) : null;
    if (fs) {
      for (const f of fs.fields()) {
        if (f !== 'metadata.name' && f !== 'metadata.namespace' && !this.def.fieldSelectors?.[f]) {
          throw badRequest(`field label not supported: ${f}`);
        }
      }
    }
    const lsActive = ls && !ls.empty ? ls : null;
    const fsActive = fs && !fs.empty ? fs : null;
    if (!lsActive && !fsActive) return null;
    return (obj) => {
      if (lsActive && !lsActive.matches(obj.metadata.labels)) return false;
      if (fsActive && !fsActive.matches(this.fieldGetter(obj))) return false;
      return true;
    };
  }

  async list(p: ListParams): Promise<ListResult> {
    const filter = this.filter(p.labelSelector, p.fieldSelector);
    const prefix = p.namespace && this.def.namespaced ? `${this.#prefix}${p.namespace}/` : this.#prefix;
    const limit = p.limit && p.limit > 0 ? Math.min(Math.floor(p.limit), maxListLimit) : 0;
    const rvParam = p.resourceVersion ?? '';
    if (p.continue) {
      const from = decodeContinue(p.continue, prefix);
      if (rvParam && rvParam !== '0') throw badRequest('specifying resource version is not allowed when using continue');
      return this.#listFromStore(prefix, filter, limit, from);
    }
    const match = p.resourceVersionMatch ?? '';
    if (match && !rvParam) throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (match && match !== 'Exact' && match !== 'NotOlderThan') {
      throw badRequest(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
    }
    if (match === 'Exact') {
      const rv = parseRv(rvParam);
      return this.#listFromStore(prefix, filter, limit, { revision: rv, after: '' });
    }
    if (limit && rvParam === '') {
      // Paginated consistent list: read the store so later pages continue at the same revision.
      return this.#listFromStore(prefix, filter, limit, { revision: 0, after: '' });
    }
    // Served from the cache: "" (consistent), "0" (any), or NotOlderThan N.
    if (rvParam === '') await this.consistent();
    else if (rvParam === '0') await this.cache.ready();
    else await this.cache.waitFor(parseRv(rvParam));
    const rv = this.cache.rv;
    const all = this.cache.listPrefix(prefix);
    let items: readonly CachedObject[] = filter ? all.filter((c) => filter(c.obj)) : all;
    // limit with a resourceVersion: served from the cache without pagination (as upstream does for rv=0).
    return { items, resourceVersion: rv };
  }

  async #listFromStore(
    prefix: string,
    filter: ObjectFilter | null,
    limit: number,
    from: { revision: number; after: string },
  ): Promise<ListResult> {
    const items: CachedObject[] = [];
    let revision = from.revision;
    let after = from.after;
    let more = false;
    let count = 0;
    let lastKey = '';
    try {
      for (;;) {
        const want = limit ? Math.max(limit - items.length, filter ? 256 : 0) : 0;
        const page = await this.#store.list(prefix, { revision, after: after || undefined, limit: want || undefined });
        revision = page.revision;
        for (const kv of page.items) {
          lastKey = kv.key;
          const obj = this.#decode(kv);
          if (filter && !filter(obj)) continue;
          items.push({ key: kv.key, obj, get json() { return JSON.stringify(obj); }, rv: kv.modRevision });
          if (limit && items.length >= limit) break;
        }
        count = page.count;
        if (limit && items.length >= limit) {
          const idx = page.items.findIndex((kv) => kv.key === lastKey);
          more = page.more || idx < page.items.length - 1;
          break;
        }
        if (!page.more) break;
        after = lastKey;
      }
    } catch (err) {
      if (isCode(err, 'ERR_STORE_COMPACTED')) {
        throw statusError(
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
      }
      if (isCode(err, 'ERR_STORE_FUTURE_REVISION')) throw statusError('Timeout', `Too large resource version: ${revision}`);
      throw err;
    }
    const res: ListResult = { items, resourceVersion: revision };
    if (more) {
      res.continue = encodeContinue(revision, lastKey.slice(prefix.length));
      if (!filter) {
        const returnedInPage = items.length;
        const remaining = count - returnedInPage;
        if (remaining > 0) res.remainingItemCount = remaining;
      }
    }
    return res;
  }

  /**
   * Opens a cache watch. `fromRv` 0 means "now". Returns the initial objects too when asked
   * (snapshot and watch are taken atomically).
   */
  async watch(opts: { fromRv: number; initial: boolean; consistent: boolean }): Promise<{ initial: readonly CachedObject[]; watch: CacheWatch; rv: number }> {
    if (opts.consistent) await this.consistent();
    else if (opts.fromRv > 0) {
      if (opts.fromRv > this.cache.rv) await this.cache.waitFor(opts.fromRv);
    } else await this.cache.ready();
    const rv = opts.initial || opts.fromRv === 0 ? this.cache.rv : opts.fromRv;
    const initial = opts.initial ? this.cache.list() : [];
    const watch = this.cache.watch(rv);
    return { initial, watch, rv };
  }

  // ---- writes ----------------------------------------------------------------------------

  /** One admission phase; the plugins' audit annotations go to the request's audit event, also when they refuse. */
  async #admission(phase: 'admit' | 'validate', attrs: AdmissionAttributes, ctx: WriteContext): Promise<void> {
    try {
      await this.#opts.admission[phase](attrs);
    } finally {
      if (ctx.audit && attrs.auditAnnotations) ctx.audit.annotateAll(attrs.auditAnnotations);
    }
  }

  #attrs(op: AdmissionAttributes['operation'], namespace: string, name: string, ctx: WriteContext, object?: KubeObject, oldObject?: KubeObject, subresource = ''): AdmissionAttributes {
    return { operation: op, def: this.def, version: ctx.version, namespace, name, subresource, object, oldObject, user: ctx.user, dryRun: ctx.dryRun, warnings: ctx.warnings, auditAnnotations: ctx.auditAnnotations };
  }

  /**
   * Admission of a create on a subresource that stores nothing itself (serviceaccounts/token):
   * both phases, as CREATE of `subresource` with `obj`.
   */
  async admitSubresourceCreate(namespace: string, name: string, subresource: string, obj: KubeObject, ctx: WriteContext): Promise<void> {
    const attrs = this.#attrs('CREATE', namespace, name, ctx, obj, undefined, subresource);
    await this.#admission('admit', attrs, ctx);
    await this.#admission('validate', attrs, ctx);
  }

  #validateCreate(obj: KubeObject, namespace: string): void {
    // Review kinds are never stored: their metadata (usually empty) is not validated.
    const causes: StatusCause[] = this.def.review ? [] : validateObjectMeta(obj.metadata, {
      namespaced: this.def.namespaced,
      nameRule: this.def.nameRule ?? 'subdomain',
      requestNamespace: namespace,
    });
    if (this.def.validate) causes.push(...this.def.validate(obj, { subresource: '' }));
    if (causes.length) throw invalid(this.gk, obj.metadata.name ?? obj.metadata.generateName ?? '', causes);
  }

  /** Creates `obj` (already converted to the storage version) in `namespace`. */
  async create(namespace: string, obj: KubeObject, ctx: WriteContext): Promise<KubeObject> {
    const meta = (obj.metadata ??= {});
    normalizeObjectTimes(obj, this.def);
    if (this.def.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    const generated = !meta.name && Boolean(meta.generateName);
    if (generated) meta.name = nameFromGenerateName(meta.generateName!);
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRfc3339(this.#clock);
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (this.def.generation) meta.generation = 1;
    else delete meta.generation;
    this.def.prepareForCreate?.(obj, { user: ctx.user });
    this.def.default?.(obj);
    this.#track(undefined, obj, ctx, '');
    await this.#admission('admit', this.#attrs('CREATE', namespace, meta.name ?? '', ctx, obj), ctx);
    return this.#serialized(async () => {
      await this.#allocate(obj, undefined, ctx);
      this.#validateCreate(obj, namespace);
      await this.#admission('validate', this.#attrs('CREATE', namespace, meta.name ?? '', ctx, obj), ctx);
      if (this.def.review) return obj;
      const key = this.key(namespace, meta.name!);
      if (ctx.dryRun) {
        if (await this.#store.get(key)) throw alreadyExists(this.gr, meta.name!);
        return obj;
      }
      let bytes = this.#encode(obj, key);
      let res = await this.#store.create(key, bytes, this.#writeOptions);
      if (!res.ok) this.#unwritten(key, bytes);
      // A generated name that collides is generated again, as upstream's RetryGenerateName does.
      for (let attempt = 1; !res.ok && generated && attempt < maxNameGenerationAttempts; attempt++) {
        meta.name = nameFromGenerateName(meta.generateName!);
        const retryKey = this.key(namespace, meta.name);
        bytes = this.#encode(obj, retryKey);
        res = await this.#store.create(retryKey, bytes, this.#writeOptions);
        if (!res.ok) this.#unwritten(retryKey, bytes);
      }
      if (!res.ok) throw alreadyExists(this.gr, meta.name!);
      this.#noteWrite(res.kv.modRevision);
      obj.metadata.resourceVersion = String(res.kv.modRevision);
      return obj;
    });
  }

  /** The schema type of the stored kind, for managedFields (null: the kind has none). */
  #typeName: string | null | undefined;

  /** Records a non-apply write in managedFields (in place on `obj`). */
  #track(old: KubeObject | undefined, obj: KubeObject, ctx: WriteContext, sub: string): void {
    if (ctx.applied || this.def.review) return;
    if (this.def.custom) this.#typeName = this.def.custom.schemaType ?? null; // may change with its CRD
    else if (this.#typeName === undefined) this.#typeName = typeForKind(this.def.group, this.def.version, this.def.kind)?.name ?? null;
    if (!this.#typeName) return;
    if (!ctx.manager) {
      keepManagedFields(old, obj, { subresource: sub || undefined, gk: this.gk });
      return;
    }
    updateManagedFields(old, obj, {
      manager: ctx.manager,
      apiVersion: this.def.group ? `${this.def.group}/${ctx.version}` : ctx.version,
      typeName: this.#typeName,
      subresource: sub || undefined,
      statusSplit: Boolean(this.def.subresources?.status),
      now: nowRfc3339(this.#clock),
      gk: this.gk,
    });
  }

  /** With an allocator, writes of this resource run one at a time (allocation reads the cache). */
  #queue: Promise<unknown> = Promise.resolve();
  #serialized<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#opts.allocate) return fn();
    const run = this.#queue.then(async () => {
      await this.consistent();
      return fn();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #allocate(obj: KubeObject, old: KubeObject | undefined, ctx: { dryRun: boolean }): Promise<void> {
    if (!this.#opts.allocate) return;
    const causes = await this.#opts.allocate(obj, old, { dryRun: ctx.dryRun });
    if (causes.length) throw invalid(this.gk, obj.metadata.name ?? '', causes);
  }

  /**
   * Update with retries: `mutate(current)` returns the desired object (a new object or the
   * mutated clone it was given), a fresh one on every call: it is called once per attempt, and
   * an attempt may change what it returned (as upstream's UpdatedObject hands out a deep copy
   * each call). If the desired object pins a resourceVersion that is not
   * current, the update fails with 409 Conflict. Returns the stored object and whether it was
   * created (create-on-update).
   */
  async update(
    namespace: string,
    name: string,
    mutate: (current: KubeObject | null) => KubeObject | Promise<KubeObject>,
    ctx: WriteContext,
    opts: {
      subresource?: string;
      forceAllowCreate?: boolean;
      /**
       * False when `mutate` never changes the object it is given and returns one of its own
       * (nothing of the given one shared: a deep copy, or a new object): it is then handed the
       * current object itself, frozen when it is the watch cache's, instead of a deep copy.
       */
      mutatesCurrent?: boolean;
    } = {},
  ): Promise<{ obj: KubeObject; created: boolean }> {
    const key = this.key(namespace, name);
    const sub = opts.subresource ?? '';
    const given = opts.mutatesCurrent === false ? (o: KubeObject) => o : clone;
    // As upstream's GuaranteedUpdate: the watch cache's object is the first guess at the current
    // one (no store read, no decode); the compare-and-swap on its revision catches a stale guess,
    // and anything that would answer without writing (no change, an error) is decided again on
    // the stored object. A dry run reads the store.
    let guess = ctx.dryRun ? undefined : this.cache.get(key);
    for (let attempt = 0; ; attempt++) {
      if (guess) {
        const c = guess;
        guess = undefined;
        const r = await this.#updateFrom(key, namespace, name, c.obj, c.rv, (o) => mutate(given(o)), ctx, sub);
        if (r) return r;
        continue;
      }
      const cur = await this.#store.get(key);
      if (!cur) {
        if (sub || !(this.def.createOnUpdate || opts.forceAllowCreate)) throw notFound(this.gr, name);
        const desired = await mutate(null);
        const rv = desired.metadata?.resourceVersion;
        if (rv && rv !== '0') throw notFound(this.gr, name);
        desired.metadata.name = name;
        try {
          return { obj: await this.create(namespace, desired, ctx), created: true };
        } catch (err) {
          if (attempt < 3 && err instanceof Error && 'status' in err && (err as { status: { reason?: string } }).status.reason === 'AlreadyExists') continue;
          throw err;
        }
      }
      const old = this.#decode(cur);
      const desired = await mutate(given(old));
      this.#checkResourceVersion(desired, old, sub);
      const next = await this.#serialized(() => this.#prepareUpdate(desired, old, namespace, name, ctx, sub));
      // A value read through a provider other than the first (encryption key rotation) is written again.
      if (jsonEqualIgnoringRv(next, old) && !isStale(cur)) return { obj: old, created: false };
      // An object being deleted whose last finalizer is gone is removed, not updated.
      if (
        next.metadata.deletionTimestamp &&
        !next.metadata.finalizers?.length &&
        !(old.metadata.deletionGracePeriodSeconds ?? 0) &&
        !this.def.finalizing?.(clone(next))
      ) {
        if (ctx.dryRun) return { obj: next, created: false };
        const del = await this.#store.delete(key, cur.modRevision);
        if (!del.ok) continue; // re-read: a pinned resourceVersion is then a Conflict
        this.#noteWrite(del.revision);
        await this.#opts.afterDelete?.(old);
        next.metadata.resourceVersion = String(del.revision);
        return { obj: next, created: false };
      }
      if (ctx.dryRun) return { obj: next, created: false };
      const res = await this.#replace(key, next, cur.modRevision);
      if (!res.ok) {
        if (!res.current) throw notFound(this.gr, name);
        continue; // re-read: a pinned resourceVersion is then a Conflict
      }
      return { obj: next, created: false };
    }
  }

  /** Restores the response's admission warnings and audit annotations to what they are now. */
  #undoPoint(ctx: WriteContext): () => undefined {
    const warnings = ctx.warnings?.length ?? 0;
    const annotations = ctx.auditAnnotations ? { ...ctx.auditAnnotations } : undefined;
    return () => {
      if (ctx.warnings) ctx.warnings.length = warnings;
      if (ctx.auditAnnotations) {
        for (const k of Object.keys(ctx.auditAnnotations)) delete ctx.auditAnnotations[k];
        Object.assign(ctx.auditAnnotations, annotations);
      }
      return undefined;
    };
  }

  /**
   * One update attempt from the watch cache's (frozen) object at revision `rev`, which `mutate`
   * is given as it is (update() wraps it in a copy unless told not to): the stored object
   * written, or undefined when the caller must decide again from the store (the guess was stale,
   * the update changes nothing, or it failed: any of these may be an artefact of a stale guess).
   */
  async #updateFrom(
    key: string,
    namespace: string,
    name: string,
    old: KubeObject,
    rev: number,
    mutate: (current: KubeObject) => KubeObject | Promise<KubeObject>,
    ctx: WriteContext,
    sub: string,
  ): Promise<{ obj: KubeObject; created: boolean } | undefined> {
    // What admission adds for the response is kept only if this attempt is the answer.
    const undo = this.#undoPoint(ctx);
    let next: KubeObject;
    try {
      const desired = await mutate(old);
      this.#checkResourceVersion(desired, old, sub);
      next = await this.#serialized(() => this.#prepareUpdate(desired, old, namespace, name, ctx, sub));
    } catch {
      return undo();
    }
    if (jsonEqualIgnoringRv(next, old) || next.metadata.deletionTimestamp) return undo();
    const res = await this.#replace(key, next, rev);
    if (!res.ok) return undo();
    return { obj: next, created: false };
  }

  /** Writes `next` over revision `rev`; once written, notes the write and gives `next` its resourceVersion. */
  async #replace(key: string, next: KubeObject, rev: number): Promise<WriteResult> {
    const bytes = this.#encode(next, key);
    const res = await this.#store.update(key, bytes, rev, this.#writeOptions);
    if (res.ok) {
      this.#noteWrite(res.kv.modRevision);
      next.metadata.resourceVersion = String(res.kv.modRevision);
    } else this.#unwritten(key, bytes);
    return res;
  }

  /**
   * The resourceVersion rule of upstream's store: a resourceVersion in the desired object (a PUT's
   * body, or what a patch left of the current one) must be the current one, else 409 Conflict;
   * none (or "0") is an unconditional update, unless the kind requires one for updates of the
   * object or its status (then 422, as upstream's "must be specified for an update").
   * Internal writes through other subresources (binding, scale, finalize) are always allowed.
   */
  #checkResourceVersion(desired: KubeObject, old: KubeObject, sub: string): void {
    const pinned = (desired.metadata ??= {}).resourceVersion;
    if (pinned && pinned !== '0') {
      if (pinned !== old.metadata.resourceVersion) throw staleConflict(this.gr, old.metadata.name ?? '');
      return;
    }
    if (this.def.allowUnconditionalUpdate === false && (sub === '' || sub === 'status')) {
      throw invalid({ group: this.def.group, kind: this.def.plural }, old.metadata.name ?? '', [
        { reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0: must be specified for an update' },
      ]);
    }
  }

  async #prepareUpdate(obj: KubeObject, old: KubeObject, namespace: string, name: string, ctx: WriteContext, sub: string): Promise<KubeObject> {
    const meta = (obj.metadata ??= {});
    if (meta.name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    if (this.def.namespaced && meta.namespace && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.name = name;
    if (this.def.namespaced) meta.namespace = namespace;
    normalizeObjectTimes(obj, this.def);
    // The scale subresource writes the main object's spec: it is an update of the main resource.
    const main = sub === '' || sub === 'scale';
    // System-managed metadata is carried over as upstream's BeforeUpdate does: the stored
    // creationTimestamp and pending deletion win over whatever the request says; a uid or
    // grace period the request does not give is the stored one (a different one is Invalid).
    const om = old.metadata;
    if (!meta.uid) meta.uid = om.uid;
    if (om.creationTimestamp) meta.creationTimestamp = om.creationTimestamp;
    if (om.deletionTimestamp || !main) {
      if (om.deletionTimestamp) meta.deletionTimestamp = om.deletionTimestamp;
      else delete meta.deletionTimestamp;
    }
    if (om.deletionGracePeriodSeconds !== undefined && (meta.deletionGracePeriodSeconds === undefined || !main)) {
      meta.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    } else if (!main) delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (sub === 'status') {
      if (this.def.prepareForStatusUpdate) this.def.prepareForStatusUpdate(obj, old);
      else defaultStatusUpdate(obj, old);
    } else if (sub === 'ephemeralcontainers') {
      ephemeralContainersUpdate(obj, old, this.def.kind);
    } else if (sub === 'approval') {
      if (this.def.prepareForApprovalUpdate) this.def.prepareForApprovalUpdate(obj, old);
      else defaultStatusUpdate(obj, old);
    } else if (main) {
      this.def.prepareForUpdate?.(obj, old);
    }
    if (this.def.generation) {
      meta.generation = old.metadata.generation ?? 1;
      const extra = typeof this.def.generation === 'function' ? this.def.generation : undefined;
      if (main && (specChanged(obj, old) || extra?.(obj, old))) meta.generation += 1;
    } else delete meta.generation;
    this.def.default?.(obj);
    this.#track(old, obj, ctx, sub);
    const attrs = this.#attrs('UPDATE', namespace, name, ctx, obj, old, sub);
    await this.#admission('admit', attrs, ctx);
    if (main) await this.#allocate(obj, old, ctx);
    const causes: StatusCause[] = [
      ...validateObjectMeta(meta, { namespaced: this.def.namespaced, nameRule: this.def.nameRule ?? 'subdomain', requestNamespace: namespace }),
      ...validateObjectMetaUpdate(meta, old.metadata),
    ];
    if (this.def.validate) causes.push(...this.def.validate(obj, { old, subresource: sub }));
    if (causes.length) throw invalid(this.gk, name, causes);
    await this.#admission('validate', attrs, ctx);
    return obj;
  }

  /**
   * Deletes an object: objects with finalizers, or with a grace period, get a deletionTimestamp
   * and stay until their finalizers are removed (or the grace period is cut to 0).
   * Returns the object and whether it is gone from storage.
   */
  async delete(namespace: string, name: string, p: DeleteParams, ctx: WriteContext): Promise<{ obj: KubeObject; deleted: boolean }> {
    const key = this.key(namespace, name);
    // As update: the watch cache's object is the first guess (see #deleteFrom), then the store's.
    let guess = ctx.dryRun ? undefined : this.cache.get(key);
    for (;;) {
      if (guess) {
        const c = guess;
        guess = undefined;
        const undo = this.#undoPoint(ctx);
        try {
          // The cached object itself (frozen): a delete attempt only reads `old` and copies it.
          const r = await this.#deleteFrom(key, namespace, name, c.obj, c.rv, p, ctx, true);
          if (r) return r;
        } catch {}
        undo();
        continue;
      }
      const cur = await this.#store.get(key);
      if (!cur) throw notFound(this.gr, name);
      const r = await this.#deleteFrom(key, namespace, name, this.#decode(cur), cur.modRevision, p, ctx, false);
      if (r) return r;
    }
  }

  /**
   * One delete attempt on `old` at revision `rev` (never changed here: it may be the watch
   * cache's frozen object): the answer, or undefined to read again. With a guess (the watch
   * cache's object), only an attempt that wrote is the answer: one that
   * would answer without writing, or fail, is decided again on the stored object.
   */
  async #deleteFrom(key: string, namespace: string, name: string, old: KubeObject, rev: number, p: DeleteParams, ctx: WriteContext, guessed: boolean): Promise<{ obj: KubeObject; deleted: boolean } | undefined> {
    const pre = p.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) {
      throw conflict(this.gr, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(this.gr, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${old.metadata.resourceVersion ?? ''}`);
    }
    let grace = this.def.deleteGracePeriod ? this.def.deleteGracePeriod(old, p.gracePeriodSeconds) : 0;
    const pending = old.metadata.deletionTimestamp !== undefined;
    // Both admission phases, as upstream's AdmissionToValidateObjectDeleteFunc: no object, the
    // stored one as oldObject, and the DeleteOptions (the grace period a graceful kind settles on).
    // Plugins only read oldObject: it is `old` itself (the watch cache's frozen object on a guess).
    const attrs: AdmissionAttributes = this.#attrs('DELETE', namespace, name, ctx, undefined, old);
    attrs.options = deleteOptionsFor(p, this.def.deleteGracePeriod && !pending ? grace : p.gracePeriodSeconds, ctx.dryRun);
    await this.#admission('admit', attrs, ctx);
    await this.#admission('validate', attrs, ctx);
    if (pending && grace > 0) {
      const cur = old.metadata.deletionGracePeriodSeconds ?? 0;
      if (grace >= cur) return guessed ? undefined : { obj: old, deleted: false };
    }
    const next = clone(old);
    const gcFinalizers = deletionFinalizers(old.metadata.finalizers, p, this.def.defaultPropagation);
    if (gcFinalizers) next.metadata.finalizers = gcFinalizers;
    const finalizers = next.metadata.finalizers ?? [];
    const held = this.def.finalizing ? this.def.finalizing(next) : false;
    if (finalizers.length || grace > 0 || held) {
      const nowMs = this.#clock();
      if (!pending || grace > 0) {
        next.metadata.deletionTimestamp = nowRfc3339(() => nowMs + grace * 1000);
        next.metadata.deletionGracePeriodSeconds = grace;
      }
      if (!finalizers.length && grace === 0 && !held) {
        // fallthrough to real deletion below
      } else {
        if (ctx.dryRun) return { obj: next, deleted: false };
        if (jsonEqualIgnoringRv(next, old)) return guessed ? undefined : { obj: old, deleted: false };
        const res = await this.#replace(key, next, rev);
        if (!res.ok) return undefined;
        return { obj: next, deleted: false };
      }
    }
    if (ctx.dryRun) return { obj: old, deleted: true };
    const res = await this.#store.delete(key, rev);
    if (!res.ok) {
      if (!res.current && !guessed) throw notFound(this.gr, name);
      return undefined;
    }
    this.#noteWrite(res.revision);
    await this.#opts.afterDelete?.(old);
    return { obj: old, deleted: true };
  }
}

/** The meta.k8s.io/v1 DeleteOptions a delete is admitted with, in Go's field order. */
function deleteOptionsFor(p: DeleteParams, gracePeriodSeconds: number | undefined, dryRun: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1' };
  if (gracePeriodSeconds !== undefined) out['gracePeriodSeconds'] = gracePeriodSeconds;
  if (p.preconditions) out['preconditions'] = p.preconditions;
  if (p.propagationPolicy) out['propagationPolicy'] = p.propagationPolicy;
  if (dryRun) out['dryRun'] = ['All'];
  return out;
}

const orphanFinalizer = 'orphan';
const foregroundFinalizer = 'foregroundDeletion';

/**
 * The garbage collector's finalizers a delete asks for, as upstream's store sets them: `orphan`
 * (dependents lose their owner reference) or `foregroundDeletion` (dependents go first); the
 * request's policy wins over finalizers already present, which win over the kind's default.
 * Returns the new finalizer list, or undefined when it does not change.
 */
export function deletionFinalizers(current: readonly string[] | undefined, p: DeleteParams, kindDefault?: 'orphan'): string[] | undefined {
  const has = (f: string) => current?.includes(f) ?? false;
  let orphan: boolean;
  let foreground: boolean;
  switch (p.propagationPolicy) {
    case 'Orphan':
      orphan = true;
      foreground = false;
      break;
    case 'Background':
      orphan = false;
      foreground = false;
      break;
    case 'Foreground':
      orphan = false;
      foreground = true;
      break;
    default:
      orphan = has(orphanFinalizer) || (!has(foregroundFinalizer) && kindDefault === 'orphan');
      foreground = has(foregroundFinalizer);
  }
  const next = (current ?? []).filter((f) => f !== orphanFinalizer && f !== foregroundFinalizer);
  if (orphan) next.push(orphanFinalizer);
  if (foreground) next.push(foregroundFinalizer);
  const same = next.length === (current?.length ?? 0) && next.every((f) => has(f));
  return same ? undefined : next;
}

/**
 * pods/ephemeralcontainers (upstream's EphemeralContainersStrategy): only spec.ephemeralContainers
 * changes, and only by adding; existing ones may be neither removed nor changed.
 */
function ephemeralContainersUpdate(obj: KubeObject, old: KubeObject, kind: string): void {
  const spec = (obj['spec'] ?? {}) as { ephemeralContainers?: Array<Record<string, unknown>> };
  const oldSpec = (old['spec'] ?? {}) as { ephemeralContainers?: Array<Record<string, unknown>> };
  const next = spec.ephemeralContainers ?? [];
  const prev = oldSpec.ephemeralContainers ?? [];
  const causes: StatusCause[] = [];
  for (const [i, p] of prev.entries()) {
    const n = next.find((c) => c['name'] === p['name']);
    if (!n) causes.push({ reason: 'FieldValueForbidden', field: 'spec.ephemeralContainers', message: 'Forbidden: existing ephemeral containers "' + String(p['name']) + '" may not be removed\n' });
    else if (!jsonEqual(n, p)) causes.push({ reason: 'FieldValueForbidden', field: `spec.ephemeralContainers[${i}]`, message: 'Forbidden: may not be changed' });
  }
  if (causes.length) throw invalid({ group: '', kind }, old.metadata.name ?? '', causes);
  for (const k of Object.keys(obj)) if (k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') delete obj[k];
  for (const k of Object.keys(old)) if (k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') obj[k] = structuredClone(old[k]);
  (obj['spec'] as { ephemeralContainers?: unknown[] }).ephemeralContainers = next;
  const m = obj.metadata;
  const om = old.metadata;
  for (const f of ['labels', 'annotations', 'ownerReferences', 'finalizers'] as const) {
    if (om[f] !== undefined) (m as Record<string, unknown>)[f] = om[f];
    else delete (m as Record<string, unknown>)[f];
  }
}

/** Without a custom hook, a status update changes only status (and metadata labels/annotations). */
function defaultStatusUpdate(obj: KubeObject, old: KubeObject): void {
  for (const k of Object.keys(obj)) if (k !== 'status' && k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') delete obj[k];
  for (const k of Object.keys(old)) if (k !== 'status' && k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') obj[k] = old[k];
  const m = obj.metadata;
  const om = old.metadata;
  m.ownerReferences = om.ownerReferences;
  m.finalizers = om.finalizers;
  if (!m.ownerReferences) delete m.ownerReferences;
  if (!m.finalizers) delete m.finalizers;
}

/** Whether anything outside metadata and status changed (what bumps generation). */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (k === 'metadata' || k === 'status' || k === 'apiVersion' || k === 'kind') continue;
    if (!jsonEqual(a[k], b[k])) return true;
  }
  return false;
}

function jsonEqualIgnoringRv(a: KubeObject, b: KubeObject): boolean {
  const ra = a.metadata.resourceVersion;
  const rb = b.metadata.resourceVersion;
  a.metadata.resourceVersion = rb;
  // Compared as stored (Go's JSON form): `paused: false` sent to an object stored without it is no change.
  const eq = jsonEqual(canonical(a), b);
  a.metadata.resourceVersion = ra;
  return eq;
}

export function parseRv(rv: string): number {
  const n = Number(rv);
  if (!/^\d+$/.test(rv) || !Number.isSafeInteger(n)) throw badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
  return n;
}

/**
 * The largest page a list asks the store for. Upstream accepts any int64 limit; limits beyond
 * 2^53 (which a JavaScript number cannot count to) mean "everything" all the same.
 */
export const maxListLimit = Number.MAX_SAFE_INTEGER;

/**
 * Continue tokens as upstream's storage encodes them: unpadded base64url of
 * `{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<key after the list prefix>\u0000"}`.
 */
export function encodeContinue(rv: number, lastKeySuffix: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${lastKeySuffix}\u0000` })).toString('base64url');
}

const invalidContinue = 'continue key is not valid';

/**
 * Decodes a continue token for a list under `prefix` as upstream's storage.DecodeContinue does,
 * with its errors as 400 `invalid continue token: ...`: not base64url, not JSON, fields of the
 * wrong type (rv must be an int64), an unknown version, rv 0, an empty start key, or a start key
 * that path cleaning would change (`..`, `//`, a trailing `/`: a key escaping the prefix).
 * A negative rv means "continue at the latest revision" (revision 0 to the store).
 */
export function decodeContinue(token: string, prefix: string): { revision: number; after: string } {
  const fail = (detail: string) => badRequest(`invalid continue token: ${detail}`);
  const bytes = decodeRawBase64Url(token);
  if (typeof bytes === 'number') throw fail(`${invalidContinue}: illegal base64 data at input byte ${bytes}`);
  const text = bytes.toString('utf8');
  const fields: { v: string; rv: number; start: string } = { v: '', rv: 0, start: '' };
  // The literal text of each number, per holding object (rv 1.5 or 1e3 is reported as written).
  const sources = new WeakMap<object, Map<string, string>>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, function (this: object, key: string, value: unknown, context?: { source?: string }) {
      if (context?.source !== undefined) {
        let m = sources.get(this);
        if (!m) sources.set(this, (m = new Map()));
        m.set(key, context.source);
      }
      return value;
    });
  } catch {
    // Go scans the bytes: one character per byte.
    throw fail(`${invalidContinue}: ${goJsonSyntaxError(bytes.toString('latin1')) ?? 'unexpected end of JSON input'}`);
  }
  if (parsed !== null) {
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw fail(`${invalidContinue}: json: cannot unmarshal ${goJsonKind(parsed)} into Go value of type storage.continueToken`);
    }
    // encoding/json matches keys case-insensitively; the last one wins; a null leaves the field alone.
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      const f = (['v', 'rv', 'start'] as const).find((n) => n === k.toLowerCase());
      if (!f || v === null) continue;
      const where = `Go struct field continueToken.${f}`;
      if (f === 'rv') {
        const src = sources.get(parsed as object)?.get(k) ?? String(v);
        if (typeof v !== 'number') throw fail(`${invalidContinue}: json: cannot unmarshal ${goJsonKind(v)} into ${where} of type int64`);
        if (int64Error(src)) throw fail(`${invalidContinue}: json: cannot unmarshal number ${src} into ${where} of type int64`);
        fields.rv = v;
      } else {
        if (typeof v !== 'string') throw fail(`${invalidContinue}: json: cannot unmarshal ${goJsonKind(v)} into ${where} of type string`);
        fields[f] = v;
      }
    }
  }
  if (fields.v !== 'meta.k8s.io/v1') throw fail(`${invalidContinue}: server does not recognize this encoded version ${fields.v}`);
  if (fields.rv === 0) throw fail(`${invalidContinue}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)`);
  if (!fields.start) throw fail(`${invalidContinue}: encoded start key empty (version meta.k8s.io/v1)`);
  const key = fields.start.startsWith('/') ? fields.start : `/${fields.start}`;
  if (posix.normalize(key) !== key || (key.length > 1 && key.endsWith('/'))) throw fail(`${invalidContinue}: ${fields.start}`);
  return { revision: fields.rv > 0 ? fields.rv : 0, after: prefix + key.slice(1) };
}

const base64UrlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Go's base64.RawURLEncoding.DecodeString: the bytes, or the offset of the first illegal byte. */
function decodeRawBase64Url(s: string): Buffer | number {
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\r' || c === '\n') continue;
    if (!base64UrlAlphabet.includes(c)) return i;
    count++;
  }
  if (count % 4 === 1) return s.length - 1;
  return Buffer.from(s.replace(/[\r\n]/g, ''), 'base64url');
}

