/**
 * Structural sharing in the watch cache: the parts of objects that many objects repeat
 * verbatim — a ReplicaSet's pods carry the same containers, tolerations, labels, owner
 * reference and managedFields field sets — are kept once and shared by every cached object
 * that has them. Cached objects are deep-frozen, so sharing is invisible to readers.
 *
 * Which parts: `metadata.labels`, `metadata.annotations`, `metadata.ownerReferences`, each
 * managedFields entry's `fieldsV1`, and in a spec (a pod's, or a pod template's) `containers`,
 * `initContainers`, `tolerations`, `affinity`, `topologySpreadConstraints`, `nodeSelector`,
 * `securityContext`. A part is identified by its JSON (a long one by the JSON's SHA-256, so
 * that a part only one object has, like a pod's status field set with its IP, does not keep a
 * second copy of itself as text); the table holds parts through weak references, so a part no
 * cached object uses any more is collected with its entry.
 *
 * Below those parts, `freeze` shares what JSON.parse makes anew each time: short strings
 * (names, images, manager names, timestamps) through a bounded table, and empty objects — the
 * leaves of every managedFields field set — as one frozen `{}`. At 1,000 nodes and 10,000 pods
 * those were about 40 MB of a 160 MB heap.
 */
import crypto from 'node:crypto';

/** Parts smaller than this (JSON characters) are not worth a table entry. */
export const minInternChars = 24;

/** Keys longer than this (JSON characters) are kept as their SHA-256. */
const maxKeyChars = 128;
/** Strings up to this length go through the string table. */
export const maxSharedStringChars = 64;
/** The string table is emptied when it reaches this many strings (most are shared again at once). */
export const stringTableSize = 1 << 16;

/** The one empty object every cached object's empty objects become. */
export const emptyObject: Readonly<Record<string, never>> = Object.freeze({});

const specParts = ['containers', 'initContainers', 'tolerations', 'affinity', 'topologySpreadConstraints', 'nodeSelector', 'securityContext'] as const;

export class Interner {
  #table = new Map<string, WeakRef<object>>();
  #registry = new FinalizationRegistry<string>((key) => {
    const ref = this.#table.get(key);
    if (ref && ref.deref() === undefined) this.#table.delete(key);
  });

  /** Distinct parts held (for tests and figures). */
  get size(): number {
    return this.#table.size;
  }

  #strings = new Map<string, string>();

  /** Strings the string table holds (for tests: never more than stringTableSize). */
  get strings(): number {
    return this.#strings.size;
  }

  /** The shared copy of `v` (v itself the first time); `v` must not be changed afterwards. */
  part<T>(v: T): T {
    if (!v || typeof v !== 'object') return v;
    let key = JSON.stringify(v);
    if (key.length < minInternChars) return v;
    if (key.length > maxKeyChars) key = crypto.hash('sha256', key, 'binary');
    const have = this.#table.get(key)?.deref();
    if (have) return have as T;
    this.#table.set(key, new WeakRef(v as object));
    this.#registry.register(v as object, key);
    return v;
  }

  /** The shared copy of a short string (s itself the first time). */
  string(s: string): string {
    if (s.length > maxSharedStringChars) return s;
    const have = this.#strings.get(s);
    if (have !== undefined) return have;
    if (this.#strings.size >= stringTableSize) this.#strings.clear();
    this.#strings.set(s, s);
    return s;
  }

  /**
   * Shares the repeated parts of a freshly decoded object (see `object`), then deep-freezes it,
   * sharing its short strings and empty objects on the way. Frozen parts are taken as they are.
   */
  freeze<T extends object>(obj: T): T {
    this.object(obj as unknown as Record<string, unknown>);
    this.#freeze(obj);
    return obj;
  }

  #freeze(v: object): void {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x === 'string') v[i] = this.string(x);
        else if (x !== null && typeof x === 'object') v[i] = this.#child(x);
      }
    } else {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const x = o[k];
        if (typeof x === 'string') o[k] = this.string(x);
        else if (x !== null && typeof x === 'object') o[k] = this.#child(x);
      }
    }
    Object.freeze(v);
  }

  #child(x: object): object {
    if (Object.isFrozen(x)) return x;
    if (!Array.isArray(x) && isEmptyPlainObject(x)) return emptyObject;
    this.#freeze(x);
    return x;
  }

  /** Replaces the repeated parts of a freshly decoded object (not yet shared) by their shared copies. */
  object(obj: Record<string, unknown>): void {
    const meta = obj['metadata'] as Record<string, unknown> | undefined;
    if (meta) {
      for (const k of ['labels', 'annotations', 'ownerReferences']) if (meta[k]) meta[k] = this.part(meta[k]);
      const mf = meta['managedFields'];
      if (Array.isArray(mf)) for (const e of mf as Record<string, unknown>[]) if (e && e['fieldsV1']) e['fieldsV1'] = this.part(e['fieldsV1']);
    }
    const spec = obj['spec'] as Record<string, unknown> | undefined;
    if (spec && typeof spec === 'object') {
      this.#spec(spec);
      // Pod templates (ReplicaSets, Deployments, Jobs, …) repeat their pods' parts.
      const tpl = spec['template'] as Record<string, unknown> | undefined;
      const tspec = tpl?.['spec'] as Record<string, unknown> | undefined;
      if (tspec && typeof tspec === 'object') this.#spec(tspec);
    }
  }

  #spec(spec: Record<string, unknown>): void {
    for (const k of specParts) if (spec[k]) spec[k] = this.part(spec[k]);
  }
}

function isEmptyPlainObject(x: object): boolean {
  for (const _ in x) return false;
  return Object.getPrototypeOf(x) === Object.prototype;
}

/** The API server's table: every resource's watch cache shares it (pods share parts with their ReplicaSets' templates). */
export const sharedParts = new Interner();
