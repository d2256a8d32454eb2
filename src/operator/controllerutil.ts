/**
 * Helpers every reconciler needs, as controller-runtime's `controllerutil`: owner references,
 * finalizers, and create-or-update / create-or-patch of owned objects.
 *
 * - The reference helpers and finalizer helpers change the object they are given: pass your own
 *   copy, never an object from a cache (`structuredClone` it first).
 * - An owner needs `apiVersion`, `kind`, `name` and `uid` (informer objects carry all four).
 *   A namespaced owner may own only objects of its namespace: "cross-namespace owner references
 *   are disallowed, ..." and "cluster-scoped resource must not have a namespace-scoped owner, ..."
 *   as upstream.
 * - `setControllerReference` throws `AlreadyOwnedError` when another object is the controller.
 *   References are matched by group, kind and name (not uid), as upstream.
 * - `createOrUpdate` / `createOrPatch` read the object by name, let `mutate` change it (or the
 *   fresh object to create), and write only when something changed; they answer what happened
 *   with upstream's words: created, updated, updatedStatus, updatedStatusOnly, unchanged.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ApiObject } from '../api/index.ts';
import type { OwnerReference } from '../api/types.ts';
import { isNotFound } from '../api/errors.ts';
import type { Client, ResourceDescriptor } from '../client/index.ts';
import { groupOf } from './handler.ts';
import { isJsonObject } from '../util/json.ts';

type Owner = { apiVersion?: string; kind?: string; metadata: { name?: string; namespace?: string; uid?: string } };
type Owned = { metadata: { name?: string; namespace?: string; ownerReferences?: OwnerReference[]; finalizers?: string[] } };

/** Another object already is the controller of this one. */
export class AlreadyOwnedError extends Error {
  readonly owner: OwnerReference;
  constructor(obj: Owned, owner: OwnerReference) {
    super(`Object ${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''} is already owned by another ${owner.kind} controller ${owner.name}`);
    this.name = 'AlreadyOwnedError';
    this.owner = owner;
  }
}

function refTo(owner: Owner): OwnerReference {
  const { apiVersion, kind } = owner;
  const { name, uid } = owner.metadata;
  if (!apiVersion || !kind || !name || !uid) throw new TypeError('an owner needs apiVersion, kind, metadata.name and metadata.uid');
  return { apiVersion, kind, name, uid };
}

function validateOwner(owner: Owner, obj: Owned): void {
  const ownerNs = owner.metadata.namespace ?? '';
  if (!ownerNs) return;
  const objNs = obj.metadata.namespace ?? '';
  if (!objNs) throw new Error(`cluster-scoped resource must not have a namespace-scoped owner, owner's namespace ${ownerNs}`);
  if (ownerNs !== objNs) throw new Error(`cross-namespace owner references are disallowed, owner's namespace ${ownerNs}, obj's namespace ${objNs}`);
}

const sameObject = (a: OwnerReference, b: OwnerReference) => groupOf(a.apiVersion) === groupOf(b.apiVersion) && a.kind === b.kind && a.name === b.name;

function upsert(obj: Owned, ref: OwnerReference): void {
  const refs = (obj.metadata.ownerReferences ??= []);
  const i = refs.findIndex((r) => sameObject(r, ref));
  if (i < 0) refs.push(ref);
  else refs[i] = ref;
}

/** The owner reference with `controller: true`, if any. */
export function getControllerOf(obj: Owned): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/**
 * Makes `owner` the controller of `obj` (controller and blockOwnerDeletion true, so the garbage
 * collector deletes `obj` with its owner, foreground deletion waiting for it). Idempotent.
 */
export function setControllerReference(owner: Owner, obj: Owned, opts: { blockOwnerDeletion?: boolean } = {}): void {
  const ref: OwnerReference = { ...refTo(owner), blockOwnerDeletion: opts.blockOwnerDeletion ?? true, controller: true };
  validateOwner(owner, obj);
  const existing = getControllerOf(obj);
  if (existing && !sameObject(existing, ref)) throw new AlreadyOwnedError(obj, existing);
  upsert(obj, ref);
}

/** Adds (or refreshes) a plain owner reference to `owner` on `obj`. */
export function setOwnerReference(owner: Owner, obj: Owned): void {
  const ref = refTo(owner);
  validateOwner(owner, obj);
  upsert(obj, ref);
}

/** Removes the reference to `owner`; false when there was none. */
export function removeOwnerReference(owner: Owner, obj: Owned): boolean {
  const ref = refTo(owner);
  const refs = obj.metadata.ownerReferences ?? [];
  const i = refs.findIndex((r) => sameObject(r, ref));
  if (i < 0) return false;
  refs.splice(i, 1);
  return true;
}

/** Whether `owner` (by uid) is the controller of `obj`. */
export function isControlledBy(obj: Owned, owner: Owner): boolean {
  const c = getControllerOf(obj);
  return !!c && c.uid === owner.metadata.uid;
}

export function containsFinalizer(obj: Owned, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

/** Adds the finalizer; true when it was not there (the object changed). */
export function addFinalizer(obj: Owned, finalizer: string): boolean {
  if (containsFinalizer(obj, finalizer)) return false;
  (obj.metadata.finalizers ??= []).push(finalizer);
  return true;
}

/** Removes every occurrence of the finalizer; true when one was there. */
export function removeFinalizer(obj: Owned, finalizer: string): boolean {
  const f = obj.metadata.finalizers;
  if (!f?.includes(finalizer)) return false;
  obj.metadata.finalizers = f.filter((x) => x !== finalizer);
  return true;
}

export type OperationResult = 'created' | 'updated' | 'updatedStatus' | 'updatedStatusOnly' | 'unchanged';

/** `mutate` sets the desired state on the object (existing, or new with only name and namespace). */
export type MutateFn<T> = (obj: T) => void | Promise<void>;

async function mutated<T extends ApiObject>(obj: T, mutate: MutateFn<T>): Promise<T> {
  const { name, namespace } = obj.metadata;
  await mutate(obj);
  if (obj.metadata.name !== name || obj.metadata.namespace !== namespace) throw new Error('MutateFn cannot mutate object name and/or object namespace');
  return obj;
}

async function fetch<T extends ApiObject>(client: Pick<Client, 'get'>, res: ResourceDescriptor, key: { name: string; namespace?: string }): Promise<T | undefined> {
  try {
    return await client.get<T>(res, key.name, { namespace: key.namespace });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function keyOf(obj: ApiObject): { name: string; namespace?: string } {
  const name = obj.metadata.name;
  if (!name) throw new TypeError('createOrUpdate needs metadata.name');
  return { name, namespace: obj.metadata.namespace || undefined };
}

/**
 * Reads `obj` by name; absent: `mutate` the given object and create it; present: `mutate` a copy
 * of the server's object and update it when it changed. Status changes are not written (use
 * status.ts). The object answered is the server's.
 */
export async function createOrUpdate<T extends ApiObject>(client: Pick<Client, 'get' | 'create' | 'update'>, res: ResourceDescriptor, obj: T, mutate: MutateFn<T>): Promise<{ result: OperationResult; object: T }> {
  const key = keyOf(obj);
  const current = await fetch<T>(client, res, key);
  if (!current) {
    const fresh = await mutated(structuredClone(obj), mutate);
    return { result: 'created', object: await client.create<T>(res, fresh) };
  }
  const desired = await mutated(structuredClone(current), mutate);
  if (isDeepStrictEqual(current, desired)) return { result: 'unchanged', object: current };
  return { result: 'updated', object: await client.update<T>(res, desired) };
}

/**
 * As `createOrUpdate`, but writes JSON merge patches of what `mutate` changed (no resourceVersion
 * precondition, so no conflicts): one for the object without status, then one of the status
 * (status/subresource) when it changed — only for an object that already existed.
 */
export async function createOrPatch<T extends ApiObject>(client: Pick<Client, 'get' | 'create' | 'patch'>, res: ResourceDescriptor, obj: T, mutate: MutateFn<T>): Promise<{ result: OperationResult; object: T }> {
  const key = keyOf(obj);
  const current = await fetch<T>(client, res, key);
  if (!current) {
    const fresh = await mutated(structuredClone(obj), mutate);
    return { result: 'created', object: await client.create<T>(res, fresh) };
  }
  const desired = await mutated(structuredClone(current), mutate);
  const { status: beforeStatus, ...before } = current as T & { status?: unknown };
  const { status: afterStatus, ...after } = desired as T & { status?: unknown };
  let result: OperationResult = 'unchanged';
  let object = current;
  const patch = mergePatch(before, after);
  if (patch !== undefined) {
    object = await client.patch<T>(res, key.name, patch, { type: 'merge', namespace: key.namespace });
    result = 'updated';
  }
  const statusPatch = mergePatch(beforeStatus ?? null, afterStatus ?? null);
  if ((beforeStatus !== undefined || afterStatus !== undefined) && statusPatch !== undefined) {
    object = await client.patch<T>(res, key.name, { status: statusPatch }, { type: 'merge', namespace: key.namespace, subresource: 'status' });
    result = result === 'updated' ? 'updatedStatus' : 'updatedStatusOnly';
  }
  return { result, object };
}

/**
 * The RFC 7386 merge patch that turns `from` into `to` (undefined when equal): objects recurse,
 * removed keys become null, anything else (arrays included) is replaced whole.
 */
export function mergePatch(from: unknown, to: unknown): unknown {
  if (isDeepStrictEqual(from, to)) return undefined;
  if (!isJsonObject(from) || !isJsonObject(to)) return to === undefined ? null : to;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to) || to[k] === undefined) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const d = mergePatch(from[k], v);
    if (d !== undefined) out[k] = d;
  }
  return out;
}
