/**
 * Deep freezing of shared API objects. The API server's watch cache hands the same parsed object
 * to every in-process reader (its own handlers, and the controllers, scheduler and simulated
 * nodes through the in-process transport), so a cached object is frozen once, when it enters the
 * cache: a reader that would mutate it fails loudly instead of changing what everyone else sees.
 */

/** Freezes `v` and everything reachable from it (already frozen parts are not walked again). */
export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
