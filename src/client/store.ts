/**
 * The informer cache: objects by key (`namespace/name`, or `name` for cluster-scoped objects)
 * with secondary indexes (client-go's Indexer / ThreadSafeStore).
 *
 * Readers get the cached objects themselves, shared with every other reader and with the
 * informer: never mutate them — clone first (`structuredClone`). Informers can deep-freeze
 * what they store (`freeze: true`) to catch offenders in tests.
 *
 * Built-in index functions: `namespace` (metadata.namespace), `ownerUid` (every
 * ownerReferences[].uid) and `nodeName` (a pod's spec.nodeName). An index function returns the
 * values an object is filed under; `byIndex(name, value)` returns the objects filed under value.
 *
 * `controllerUidIndex` (registered by the controllers that need it, under `IndexControllerUid`)
 * is upstream's pod controller-UID index (pkg/controller `PodControllerUIDIndex` with
 * `OrphanPodIndexKeyForNamespace`): an object with a controller reference is filed under that
 * reference's uid, an object without one under `orphanIndexValue(namespace)`; so a controller
 * finds its own objects and the orphans it may adopt without scanning the namespace.
 *
 * Cost: `set`/`delete` run every index function once per object version (keep them cheap and
 * allocation-light); `byIndex` is proportional to what it returns.
 */
import type { ApiObject } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';

export type IndexFunc<T> = (obj: T) => string[];
export type Indexers<T> = Record<string, IndexFunc<T>>;

/** Read access to a cache. Returned objects are shared: do not mutate. */
export interface Store<T> {
  get(key: string): T | undefined;
  /** All objects, in no particular order. */
  list(): T[];
  keys(): string[];
  readonly size: number;
}

export interface Indexer<T> extends Store<T> {
  /** Objects filed under `value` by the index `name`; throws for an unknown index. */
  byIndex(name: string, value: string): T[];
  /** Keys of those objects. */
  indexKeys(name: string, value: string): string[];
  /** Adds index functions (existing objects are indexed at once); a name already in use throws. */
  addIndexers(indexers: Indexers<T>): void;
}

export const IndexNamespace = 'namespace';
export const IndexOwnerUid = 'ownerUid';
export const IndexNodeName = 'nodeName';
/** The controller-UID index's name (upstream ControllerUIDIndex). */
export const IndexControllerUid = 'controllerUID';
/** Upstream's OrphanPodIndexKey: the prefix of the values orphans are filed under. */
export const OrphanIndexKey = '_ORPHAN_POD';

// Generic, so that each serves as the IndexFunc of any object type.
export const namespaceIndex = <T extends ApiObject>(o: T): string[] => [o.metadata?.namespace ?? ''];
export const ownerUidIndex = <T extends ApiObject>(o: T): string[] => {
  const refs = o.metadata?.ownerReferences;
  if (!refs?.length) return [];
  if (refs.length === 1) return refs[0]!.uid ? [refs[0]!.uid] : [];
  return refs.map((r) => r.uid).filter(Boolean);
};
/** The value orphans (no controller reference) of `namespace` are filed under by `controllerUidIndex`. */
export const orphanIndexValue = (namespace: string): string => `${OrphanIndexKey}/${namespace}`;
/** Upstream's controller-UID index function: the controller reference's uid, else the namespace's orphan value. */
export const controllerUidIndex = <T extends ApiObject>(o: T): string[] => {
  const refs = o.metadata?.ownerReferences;
  if (refs) for (const r of refs) if (r.controller && r.uid) return [r.uid];
  return [orphanIndexValue(o.metadata?.namespace ?? '')];
};
export const podNodeNameIndex = <T extends ApiObject>(o: T): string[] => {
  const n = (o as { spec?: { nodeName?: unknown } }).spec?.nodeName;
  return typeof n === 'string' && n ? [n] : [];
};

/** `namespace/name`, or `name` when the object has no namespace. */
export function objectKey(obj: ApiObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/** The inverse of `objectKey`. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Freezes `v` and everything reachable from it; returns it. */
export { deepFreeze } from '../util/freeze.ts';

/** A cache with indexes. Mutated only by its owner (the informer); everyone else reads. */
export class CacheStore<T extends ApiObject = KubeObject> implements Indexer<T> {
  #items = new Map<string, T>();
  /** name → function and its index (value → keys), in registration order. */
  #indexes = new Map<string, { fn: IndexFunc<T>; idx: Map<string, Set<string>> }>();

  constructor(indexers: Indexers<T> = {}) {
    this.addIndexers(indexers);
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  list(): T[] {
    return [...this.#items.values()];
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }

  byIndex(name: string, value: string): T[] {
    const set = this.#index(name).get(value);
    if (!set) return [];
    const out = new Array<T>(set.size);
    let i = 0;
    for (const k of set) out[i++] = this.#items.get(k)!;
    return out;
  }

  indexKeys(name: string, value: string): string[] {
    const set = this.#index(name).get(value);
    return set ? [...set] : [];
  }

  /** How many objects are filed under `value` by the index `name`; throws for an unknown index. */
  countByIndex(name: string, value: string): number {
    return this.#index(name).get(value)?.size ?? 0;
  }

  /** Whether an index of that name exists. */
  hasIndex(name: string): boolean {
    return this.#indexes.has(name);
  }

  addIndexers(indexers: Indexers<T>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      if (this.#indexes.has(name)) throw new Error(`index ${JSON.stringify(name)} already exists`);
      const idx = new Map<string, Set<string>>();
      this.#indexes.set(name, { fn, idx });
      for (const [key, obj] of this.#items) for (const v of fn(obj)) add(idx, v, key);
    }
  }

  #index(name: string): Map<string, Set<string>> {
    const ix = this.#indexes.get(name);
    if (!ix) throw new Error(`index ${JSON.stringify(name)} does not exist`);
    return ix.idx;
  }

  /** Stores `obj` under `key`; returns the object it replaced. */
  set(key: string, obj: T): T | undefined {
    const old = this.#items.get(key);
    this.#items.set(key, obj);
    this.#reindex(key, old, obj);
    return old;
  }

  /** Removes `key`; returns the object removed. */
  delete(key: string): T | undefined {
    const old = this.#items.get(key);
    if (old === undefined) return undefined;
    this.#items.delete(key);
    this.#reindex(key, old, undefined);
    return old;
  }

  #reindex(key: string, old: T | undefined, cur: T | undefined): void {
    for (const { fn, idx } of this.#indexes.values()) {
      const before = old ? fn(old) : none;
      const after = cur ? fn(cur) : none;
      if (sameValues(before, after)) continue;
      for (const v of before) remove(idx, v, key);
      for (const v of after) add(idx, v, key);
    }
  }
}

const none: readonly string[] = [];

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function add(idx: Map<string, Set<string>>, value: string, key: string): void {
  let s = idx.get(value);
  if (!s) idx.set(value, (s = new Set()));
  s.add(key);
}

function remove(idx: Map<string, Set<string>>, value: string, key: string): void {
  const s = idx.get(value);
  if (!s) return;
  s.delete(key);
  if (!s.size) idx.delete(value);
}
