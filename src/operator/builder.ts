/**
 * The controller builder, as controller-runtime's `pkg/builder`:
 *
 *   controllerFor(mgr, databases)                          // For: the reconciled resource
 *     .owns(resources.statefulSets)                        // Owns: objects it controls
 *     .watches(resources.configMaps, enqueueFromMap(fn))   // Watches: anything, mapped to requests
 *     .withEventFilter(generationChanged())                // predicates on every watch
 *     .complete(reconcile);                                // the Controller, added to the manager
 *
 * `owns(res)` enqueues the controller owner (an owner reference with `controller: true` of the
 * For resource's group and kind), as upstream's `Owns` does by default; `{ onlyController:
 * false }` enqueues every owner of that kind. Names default to the For kind in lower case and
 * must be unique per manager. The informers are the manager's shared ones.
 */
import type { ApiObject } from '../api/index.ts';
import type { ObjectFor, RateLimiter, ResourceDescriptor } from '../client/index.ts';
import { Controller } from './controller.ts';
import { enqueueForObject, enqueueForOwner, type EventHandler } from './handler.ts';
import type { Manager } from './manager.ts';
import type { Predicate } from './predicate.ts';
import type { Reconciler } from './reconcile.ts';

export interface BuilderOptions {
  maxConcurrentReconciles?: number;
  rateLimiter?: RateLimiter<string>;
  cacheSyncTimeoutMs?: number;
  /** Default true: the controller runs only while the manager leads. */
  needLeaderElection?: boolean;
}

interface PendingWatch {
  res: ResourceDescriptor;
  handler: EventHandler<ApiObject>;
  predicates: Predicate<ApiObject>[];
}

const names = new WeakMap<Manager, Set<string>>();

export class Builder<T extends ApiObject> {
  #mgr: Manager;
  #for: ResourceDescriptor;
  #forPredicates: Predicate<T>[];
  #name = '';
  #filters: Predicate<ApiObject>[] = [];
  #watches: PendingWatch[] = [];
  #opts: BuilderOptions = {};
  #done = false;

  constructor(mgr: Manager, res: ResourceDescriptor, opts: { predicates?: Predicate<T>[] } = {}) {
    this.#mgr = mgr;
    this.#for = res;
    this.#forPredicates = opts.predicates ?? [];
  }

  /** The controller's name (default: the For kind in lower case). */
  named(name: string): this {
    this.#name = name;
    return this;
  }

  /** Objects of `res` controlled by a For object: their events reconcile the owner. */
  owns<D extends ResourceDescriptor>(res: D, opts: { onlyController?: boolean; predicates?: Predicate<ObjectFor<D>>[] } = {}): this {
    this.#watches.push({
      res,
      handler: enqueueForOwner(this.#for, { onlyController: opts.onlyController ?? true }),
      predicates: (opts.predicates ?? []) as unknown as Predicate<ApiObject>[],
    });
    return this;
  }

  /** Any resource, through any handler (e.g. `enqueueFromMap`). */
  watches<D extends ResourceDescriptor>(res: D, handler: EventHandler<ObjectFor<D>>, opts: { predicates?: Predicate<ObjectFor<D>>[] } = {}): this {
    this.#watches.push({ res, handler: handler as unknown as EventHandler<ApiObject>, predicates: (opts.predicates ?? []) as unknown as Predicate<ApiObject>[] });
    return this;
  }

  /** Predicates applied to every watch (For, Owns and Watches). */
  withEventFilter(...preds: Predicate<ApiObject>[]): this {
    this.#filters.push(...preds);
    return this;
  }

  withOptions(opts: BuilderOptions): this {
    this.#opts = { ...this.#opts, ...opts };
    return this;
  }

  /** Builds the controller, adds it to the manager and returns it. Call once. */
  complete(reconciler: Reconciler): Controller {
    if (this.#done) throw new Error('complete was already called');
    this.#done = true;
    const name = this.#name || this.#for.kind.toLowerCase();
    let used = names.get(this.#mgr);
    if (!used) names.set(this.#mgr, (used = new Set()));
    if (used.has(name)) throw new Error(`controller with name ${name} already exists. Controller names must be unique to avoid multiple controllers reporting to the same metric`);
    used.add(name);
    const ctrl = new Controller({ name, reconciler, ...this.#opts });
    ctrl.watch(this.#mgr.informer<ApiObject>(this.#for), enqueueForObject(), ...this.#filters, ...(this.#forPredicates as unknown as Predicate<ApiObject>[]));
    for (const w of this.#watches) ctrl.watch(this.#mgr.informer<ApiObject>(w.res), w.handler, ...this.#filters, ...w.predicates);
    this.#mgr.add(ctrl);
    return ctrl;
  }
}

/**
 * Starts building a controller for `res` (upstream's `ControllerManagedBy(mgr).For(obj)`);
 * `predicates` filter the For resource's events only.
 */
export function controllerFor<D extends ResourceDescriptor, T extends ApiObject = ObjectFor<D>>(mgr: Manager, res: D, opts: { predicates?: Predicate<T>[] } = {}): Builder<T> {
  return new Builder<T>(mgr, res, opts);
}
