/**
 * Event handlers, as controller-runtime's `pkg/handler`: a handler turns an informer event into
 * requests for the controller's queue. Handlers only enqueue; they never read the API or do work.
 *
 * - `enqueueForObject()`: the object itself (`EnqueueRequestForObject`).
 * - `enqueueForOwner(owner, {onlyController})`: the owners of the object whose group and kind are
 *   the owner resource's (`EnqueueRequestForOwner`; `onlyController` is `OnlyControllerOwner()`).
 *   For an update, the owners of the old and of the new object, so an adoption or release
 *   reaches both.
 * - `enqueueFromMap(fn)`: whatever `fn` maps the object to (`EnqueueRequestsFromMapFunc`); for an
 *   update, the requests of the old and of the new object.
 * The queue de-duplicates, so a request enqueued twice is reconciled once.
 */
import type { ApiObject } from '../api/index.ts';
import type { ResourceDescriptor } from '../client/index.ts';
import type { Request } from './reconcile.ts';

/** Adds a request to the controller's queue. */
export type Enqueue = (req: Request) => void;

export interface EventHandler<T extends ApiObject = ApiObject> {
  create(obj: T, enqueue: Enqueue): void;
  update(oldObj: T, newObj: T, enqueue: Enqueue): void;
  delete(obj: T, enqueue: Enqueue): void;
}

/** The object itself. */
export function enqueueForObject<T extends ApiObject = ApiObject>(): EventHandler<T> {
  const one = (obj: T, enqueue: Enqueue) => enqueue({ namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '' });
  return { create: one, update: (_o, n, enqueue) => one(n, enqueue), delete: one };
}

/** The group of an apiVersion ('' for core). */
export function groupOf(apiVersion: string | undefined): string {
  if (!apiVersion) return '';
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** The owners of the object that are of `owner`'s group and kind (only its controller with `onlyController`). */
export function enqueueForOwner<T extends ApiObject = ApiObject>(owner: Pick<ResourceDescriptor, 'group' | 'kind' | 'namespaced'>, opts: { onlyController?: boolean } = {}): EventHandler<T> {
  const owners = (obj: T, enqueue: Enqueue) => {
    for (const ref of obj.metadata.ownerReferences ?? []) {
      if (ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) continue;
      if (opts.onlyController && !ref.controller) continue;
      enqueue({ namespace: owner.namespaced ? (obj.metadata.namespace ?? '') : '', name: ref.name });
    }
  };
  return {
    create: owners,
    update: (o, n, enqueue) => {
      owners(o, enqueue);
      owners(n, enqueue);
    },
    delete: owners,
  };
}

/** The requests `fn` maps the object to. */
export function enqueueFromMap<T extends ApiObject = ApiObject>(fn: (obj: T) => readonly Request[]): EventHandler<T> {
  const mapped = (obj: T, enqueue: Enqueue) => {
    for (const r of fn(obj)) enqueue(r);
  };
  return {
    create: mapped,
    update: (o, n, enqueue) => {
      mapped(o, enqueue);
      mapped(n, enqueue);
    },
    delete: mapped,
  };
}
