/**
 * The PV binder's own caches of volumes and claims (upstream pv_controller's `volumes` and
 * `claims` stores with storeObjectUpdate): fed both by informer events and by the objects the
 * binder's own writes return, so a sync sees what it just wrote even before the watch brings it.
 * An object replaces the cached one only when its resourceVersion is not older (the same
 * version passes, for periodic resyncs); an older one is refused and its sync skipped.
 *
 * Volumes are indexed by storage class and by the claim their claimRef names, so matching a
 * claim reads only the volumes of its class and those pre-bound to it, not every volume.
 * Entries are removed when the object is deleted: memory is one reference per live object.
 */
import type { PersistentVolume, PersistentVolumeClaim } from '../api/index.ts';
import { claimKey, claimRefKey, versionOf, volumeClass } from './pvbinder-match.ts';

/** Whether `next` may replace `cur` (upstream storeObjectUpdate: only an older version is refused). */
export function isNotOlder(cur: { metadata: { resourceVersion?: string } } | undefined, next: { metadata: { resourceVersion?: string } }): boolean {
  if (!cur) return true;
  const a = versionOf(cur);
  const b = versionOf(next);
  if (Number.isNaN(a) || Number.isNaN(b)) return true;
  return b >= a;
}

function addTo<K>(m: Map<K, Set<string>>, k: K, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K>(m: Map<K, Set<string>>, k: K, v: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (!s.size) m.delete(k);
}

export class VolumeCache {
  #byName = new Map<string, PersistentVolume>();
  #byClass = new Map<string, Set<string>>();
  #byClaim = new Map<string, Set<string>>();

  get(name: string): PersistentVolume | undefined {
    return this.#byName.get(name);
  }

  get size(): number {
    return this.#byName.size;
  }

  /** Stores `pv` unless the cached one is newer; true when stored. */
  store(pv: PersistentVolume): boolean {
    const name = pv.metadata.name ?? '';
    const cur = this.#byName.get(name);
    if (!isNotOlder(cur, pv)) return false;
    if (cur) this.#unindex(name, cur);
    this.#byName.set(name, pv);
    addTo(this.#byClass, volumeClass(pv), name);
    const ref = claimRefKey(pv);
    if (ref) addTo(this.#byClaim, ref, name);
    return true;
  }

  delete(name: string): PersistentVolume | undefined {
    const cur = this.#byName.get(name);
    if (!cur) return undefined;
    this.#unindex(name, cur);
    this.#byName.delete(name);
    return cur;
  }

  /** The volumes a claim of `className` and key `claim` could match: its class's and those pre-bound to it. */
  candidates(className: string, claim: string): PersistentVolume[] {
    const names = new Set<string>([...(this.#byClass.get(className) ?? []), ...(this.#byClaim.get(claim) ?? [])]);
    const out: PersistentVolume[] = [];
    for (const n of names) {
      const pv = this.#byName.get(n);
      if (pv) out.push(pv);
    }
    return out;
  }

  #unindex(name: string, pv: PersistentVolume): void {
    removeFrom(this.#byClass, volumeClass(pv), name);
    const ref = claimRefKey(pv);
    if (ref) removeFrom(this.#byClaim, ref, name);
  }
}

export class ClaimCache {
  #byKey = new Map<string, PersistentVolumeClaim>();

  get(key: string): PersistentVolumeClaim | undefined {
    return this.#byKey.get(key);
  }

  /** Stores `claim` unless the cached one is newer; true when stored. */
  store(claim: PersistentVolumeClaim): boolean {
    const key = claimKey(claim);
    if (!isNotOlder(this.#byKey.get(key), claim)) return false;
    this.#byKey.set(key, claim);
    return true;
  }

  delete(key: string): PersistentVolumeClaim | undefined {
    const cur = this.#byKey.get(key);
    this.#byKey.delete(key);
    return cur;
  }

  values(): IterableIterator<PersistentVolumeClaim> {
    return this.#byKey.values();
  }
}
