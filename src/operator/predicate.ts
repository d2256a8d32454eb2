/**
 * Event filters, as controller-runtime's `pkg/predicate`: a predicate decides, per event, whether
 * the event reaches the controller's handler. A predicate is a plain object with optional
 * `create`, `update`, `delete` functions; a missing one lets the event through (upstream's
 * `predicate.Funcs`). Predicates are pure and cheap: they run on every informer event.
 */
import type { ApiObject } from '../api/index.ts';

export interface Predicate<T extends ApiObject = ApiObject> {
  create?(obj: T): boolean;
  update?(oldObj: T, newObj: T): boolean;
  delete?(obj: T): boolean;
}

/** Whether an event of this kind passes every predicate. */
export function passesCreate<T extends ApiObject>(preds: readonly Predicate<T>[], obj: T): boolean {
  for (const p of preds) if (p.create && !p.create(obj)) return false;
  return true;
}
export function passesUpdate<T extends ApiObject>(preds: readonly Predicate<T>[], oldObj: T, newObj: T): boolean {
  for (const p of preds) if (p.update && !p.update(oldObj, newObj)) return false;
  return true;
}
export function passesDelete<T extends ApiObject>(preds: readonly Predicate<T>[], obj: T): boolean {
  for (const p of preds) if (p.delete && !p.delete(obj)) return false;
  return true;
}

/**
 * Updates pass only when metadata.generation changed (spec changes; status-only and metadata-only
 * writes are dropped). Upstream's `GenerationChangedPredicate`. Creates and deletes pass.
 */
export function generationChanged<T extends ApiObject = ApiObject>(): Predicate<T> {
  return { update: (o, n) => o.metadata.generation !== n.metadata.generation };
}

/** Updates pass only when the labels changed. Upstream's `LabelChangedPredicate`. */
export function labelsChanged<T extends ApiObject = ApiObject>(): Predicate<T> {
  return { update: (o, n) => !sameRecord(o.metadata.labels, n.metadata.labels) };
}

/** Updates pass only when the annotations changed. Upstream's `AnnotationChangedPredicate`. */
export function annotationsChanged<T extends ApiObject = ApiObject>(): Predicate<T> {
  return { update: (o, n) => !sameRecord(o.metadata.annotations, n.metadata.annotations) };
}

/** Updates pass only when the resourceVersion changed (drops resyncs). Upstream's `ResourceVersionChangedPredicate`. */
export function resourceVersionChanged<T extends ApiObject = ApiObject>(): Predicate<T> {
  return { update: (o, n) => o.metadata.resourceVersion !== n.metadata.resourceVersion };
}

/** Every event whose object (the new one, for updates) satisfies `fn`. Upstream's `NewPredicateFuncs`. */
export function objectMatches<T extends ApiObject = ApiObject>(fn: (obj: T) => boolean): Predicate<T> {
  return { create: fn, update: (_o, n) => fn(n), delete: fn };
}

/** Passes when every predicate passes. */
export function and<T extends ApiObject>(...preds: Predicate<T>[]): Predicate<T> {
  return {
    create: (obj) => passesCreate(preds, obj),
    update: (o, n) => passesUpdate(preds, o, n),
    delete: (obj) => passesDelete(preds, obj),
  };
}

/** Passes when any predicate passes (a predicate without the event's function passes). */
export function or<T extends ApiObject>(...preds: Predicate<T>[]): Predicate<T> {
  return {
    create: (obj) => preds.some((p) => !p.create || p.create(obj)),
    update: (o, n) => preds.some((p) => !p.update || p.update(o, n)),
    delete: (obj) => preds.some((p) => !p.delete || p.delete(obj)),
  };
}

/** Passes when the predicate does not. */
export function not<T extends ApiObject>(pred: Predicate<T>): Predicate<T> {
  return {
    create: (obj) => !(pred.create?.(obj) ?? true),
    update: (o, n) => !(pred.update?.(o, n) ?? true),
    delete: (obj) => !(pred.delete?.(obj) ?? true),
  };
}

function sameRecord(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  if (a === b) return true;
  const ka = a ? Object.keys(a) : [];
  const kb = b ? Object.keys(b) : [];
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (a![k] !== b?.[k]) return false;
  return true;
}
