/**
 * Structural sharing in the watch cache: the parts of objects that many objects repeat
 * verbatim — a ReplicaSet's pods carry the same containers, tolerations, labels, owner
 * reference and managedFields field sets — are kept once and shared by every cached object
 * that has them. Cached objects are deep-frozen, so sharing is invisible to readers.
 *
 * Which parts: `metadata.labels`, `metadata.annotations`, `metadata.ownerReferences`, each
 * managedFields entry's `fieldsV1`, and in a spec (a pod's, or a pod template's) `containers`,
 * `initContainers`, `tolerations`, `affinity`, `topologySpreadConstraints`, `nodeSelector`,
 * `securityContext`. A part is identified by its JSON; the table holds parts through weak
 * references, so a part no cached object uses any more is collected with its entry.
 */

/** Parts smaller than this (JSON characters) are not worth a table entry. */
export const minInternChars = 24;

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

  /** The shared copy of `v` (v itself the first time); `v` must not be changed afterwards. */
  part<T>(v: T): T {
    if (!v || typeof v !== 'object') return v;
    const key = JSON.stringify(v);
    if (key.length < minInternChars) return v;
    const have = this.#table.get(key)?.deref();
    if (have) return have as T;
    this.#table.set(key, new WeakRef(v as object));
    this.#registry.register(v as object, key);
    return v;
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

/** The API server's table: every resource's watch cache shares it (pods share parts with their ReplicaSets' templates). */
export const sharedParts = new Interner();
