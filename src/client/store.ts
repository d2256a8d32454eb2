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

// Generic, so that each serves as the IndexFunc of any object type.
export const namespaceIndex = <T extends ApiObject>(o: T): string[] => [o.metadata?.namespace ?? ''];
export const ownerUidIndex = <T extends ApiObject>(o: T): string[] => (o.metadata?.ownerReferences ?? []).map((r) => r.uid).filter(Boolean);
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
export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** A cache with indexes. Mutated only by its owner (the informer); everyone else reads. */
export class CacheStore<T extends ApiObject = KubeObject> implements Indexer<T> {
  #items = new Map<string, T>();
  #indexers: Indexers<T> = {};
  /** index name → value → keys */
  #indices = new Map<string, Map<string, Set<string>>>();

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
    return this.indexKeys(name, value).map((k) => this.#items.get(k)!);
  }

  indexKeys(name: string, value: string): string[] {
    const idx = this.#indices.get(name);
    if (!idx) throw new Error(`index ${JSON.stringify(name)} does not exist`);
    const set = idx.get(value);
    return set ? [...set] : [];
  }

  addIndexers(indexers: Indexers<T>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      if (this.#indexers[name]) throw new Error(`index ${JSON.stringify(name)} already exists`);
      this.#indexers[name] = fn;
      const idx = new Map<string, Set<string>>();
      this.#indices.set(name, idx);
      for (const [key, obj] of this.#items) for (const v of fn(obj)) add(idx, v, key);
    }
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
    for (const [name, fn] of Object.entries(this.#indexers)) {
      const idx = this.#indices.get(name)!;
      const before = old ? fn(old) : [];
      const after = cur ? fn(cur) : [];
      if (before.length === after.length && before.every((v, i) => v === after[i])) continue;
      for (const v of before) remove(idx, v, key);
      for (const v of after) add(idx, v, key);
    }
  }
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
