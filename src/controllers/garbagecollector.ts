/**
 * The garbage collector: keeps a graph of ownerReferences over every kind that can be listed,
 * watched and deleted, and
 *  - deletes an object once none of its owners exists (checked against the API, not only the
 *    cache, before deleting; deletion is preconditioned on the uid) — background deletion;
 *  - for an owner being deleted with the `foregroundDeletion` finalizer, deletes its dependents
 *    and removes the finalizer once no dependent with blockOwnerDeletion is left;
 *  - for an owner being deleted with the `orphan` finalizer, removes the owner's reference from
 *    every dependent, then the finalizer.
 * References to owners that do not exist are dangling and count as absent; a reference from a
 * namespaced object to a namespaced owner looks in the dependent's namespace, as upstream.
 *
 * Cost: as upstream's graph builder, an object is checked (attemptToDelete) when it appears or
 * its owner references change and one of its owners is absent from the graph or being deleted —
 * not on every update (a pod's status changes do not queue it); an owner's removal queues its
 * dependents. Owners a live read found absent are remembered (upstream's absentOwnerCache, 500
 * entries, least recently used out), so the thousands of pods of a deleted ReplicaSet cost one
 * read of it, not one each.
 */
import type { ApiObject, OwnerReference } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import type { ControllerContext } from './context.ts';
import { Discovery, type DiscoveredResource } from './discovery.ts';
import { startQueue } from './controller-utils.ts';

interface Node {
  uid: string;
  res: DiscoveredResource;
  namespace: string;
  name: string;
  owners: OwnerReference[];
  finalizers: string[];
  deleting: boolean;
  dependents: Set<string>;
}

/** Upstream's absentOwnerCache size: owners known to be gone, by uid. */
export const absentOwnerCacheSize = 500;

/** A bounded set that forgets its least recently used entry first (upstream's ReferenceCache). */
export class LruSet {
  readonly #max: number;
  #items = new Set<string>();
  constructor(max: number) {
    this.#max = max;
  }
  has(key: string): boolean {
    if (!this.#items.has(key)) return false;
    // Most recently used last.
    this.#items.delete(key);
    this.#items.add(key);
    return true;
  }
  add(key: string): void {
    this.#items.delete(key);
    this.#items.add(key);
    if (this.#items.size > this.#max) this.#items.delete(this.#items.values().next().value!);
  }
  get size(): number {
    return this.#items.size;
  }
}

/** Kinds whose objects never own or are owned in practice and churn a lot. */
const ignored = new Set(['events', 'events.events.k8s.io']);

/** Same owner references (uid, and the blockOwnerDeletion that foreground deletion waits on), in order. */
function sameOwners(a: readonly OwnerReference[], b: readonly OwnerReference[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.uid !== b[i]!.uid || !a[i]!.blockOwnerDeletion !== !b[i]!.blockOwnerDeletion) return false;
  return true;
}

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

export function startGarbageCollector(ctx: ControllerContext): void {
  // Cached for less than the 30 s resync so that every resync (and every rediscovery) reads the server.
  const discovery = new Discovery(ctx.client, 900);
  const graph = new Map<string, Node>();
  /** Dependents of owners not (yet) seen: owner uid → dependent uids. */
  const pendingDependents = new Map<string, Set<string>>();
  const watched = new Set<string>();
  const kinds = new Map<string, DiscoveredResource>();
  /** Owners (namespace/uid) a live read found absent (uids are never reused). */
  const absentOwners = new LruSet(absentOwnerCacheSize);
  // Workers start once discovery has succeeded and every informer it started has synced (upstream:
  // the graph builder's monitors must sync before the first attempt to delete).
  let discovered!: () => void;
  const firstDiscovery = new Promise<void>((resolve) => (discovered = resolve));
  const graphSynced = {
    waitForSync: async (signal?: AbortSignal): Promise<boolean> => {
      const aborted = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([firstDiscovery, aborted]);
      return !signal?.aborted && ctx.informers.waitForCacheSync(signal);
    },
  };
  const queue = startQueue(ctx, (item) => (item.startsWith('o:') ? orphan(item.slice(2)) : attemptToDelete(item.slice(2))), { name: 'garbage-collector', workers: 5, waitFor: [graphSynced] });
  const toDelete = (uid: string) => queue.add(`d:${uid}`);

  const label = (r: DiscoveredResource) => (r.group ? `${r.resource}.${r.group}` : r.resource);

  async function watchAll(): Promise<void> {
    const all = await discovery.resources();
    for (const r of all) {
      kinds.set(`${r.group}/${r.kind}`, r);
      if (!r.verbs.includes('list') || !r.verbs.includes('watch') || !r.verbs.includes('delete')) continue;
      if (ignored.has(label(r)) || watched.has(label(r))) continue;
      watched.add(label(r));
      const inf = ctx.informers.informerFor(r);
      inf.addEventHandler({ onAdd: (o) => upsert(r, o), onUpdate: (_o, n) => upsert(r, n), onDelete: (o) => remove(o) });
    }
    discovered();
  }

  function upsert(res: DiscoveredResource, o: ApiObject): void {
    const uid = o.metadata.uid;
    if (!uid) return;
    const before = graph.get(uid);
    const node: Node = {
      uid,
      res,
      namespace: o.metadata.namespace ?? '',
      name: o.metadata.name ?? '',
      owners: o.metadata.ownerReferences ?? [],
      finalizers: o.metadata.finalizers ?? [],
      deleting: Boolean(o.metadata.deletionTimestamp),
      dependents: before?.dependents ?? pendingDependents.get(uid) ?? new Set(),
    };
    pendingDependents.delete(uid);
    graph.set(uid, node);
    // Owner links: drop the old ones, add the new ones.
    const oldOwners = new Set((before?.owners ?? []).map((r) => r.uid));
    const newOwners = new Set(node.owners.map((r) => r.uid));
    for (const ou of oldOwners) if (!newOwners.has(ou)) dependentsOf(ou).delete(uid);
    for (const ou of newOwners) dependentsOf(ou).add(uid);
    if (node.owners.length && (!before || !sameOwners(before.owners, node.owners)) && node.owners.some((r) => !graph.get(r.uid) || graph.get(r.uid)!.deleting)) toDelete(uid);
    if (node.deleting && node.finalizers.includes('foregroundDeletion')) {
      toDelete(uid);
      for (const d of node.dependents) toDelete(d);
    }
    if (node.deleting && node.finalizers.includes('orphan')) queue.add(`o:${uid}`);
  }

  function dependentsOf(ownerUid: string): Set<string> {
    const owner = graph.get(ownerUid);
    if (owner) return owner.dependents;
    let s = pendingDependents.get(ownerUid);
    if (!s) pendingDependents.set(ownerUid, (s = new Set()));
    return s;
  }

  function remove(o: ApiObject): void {
    const uid = o.metadata.uid;
    const node = uid ? graph.get(uid) : undefined;
    if (!node || !uid) return;
    graph.delete(uid);
    for (const r of node.owners) {
      dependentsOf(r.uid).delete(uid);
      // An owner waiting for its dependents may be done now.
      if (graph.get(r.uid)?.deleting) toDelete(r.uid);
    }
    // Dependents of a vanished owner: check whether they lost their last owner.
    for (const d of node.dependents) toDelete(d);
    if (node.dependents.size) pendingDependents.set(uid, node.dependents);
  }

  /** Whether an owner exists: the graph first, then a live read (uid must match). */
  async function ownerState(dep: Node, ref: OwnerReference): Promise<'solid' | 'dangling' | 'waiting'> {
    const known = graph.get(ref.uid);
    if (known) return known.deleting && known.finalizers.includes('foregroundDeletion') ? 'waiting' : 'solid';
    const res = kinds.get(`${groupOf(ref.apiVersion)}/${ref.kind}`);
    if (!res) {
      // A kind discovery does not know (yet: a CRD just established) is not a dangling owner:
      // discover again and retry, as upstream fails on an unknown REST mapping instead of deleting.
      rediscover();
      throw new Error(`unable to get REST mapping for ${ref.apiVersion}, Kind=${ref.kind}`);
    }
    // A namespaced owner is looked for in the dependent's namespace: absent there is not absent everywhere.
    const absentKey = `${res.namespaced ? dep.namespace : ''}/${ref.uid}`;
    if (absentOwners.has(absentKey)) return 'dangling';
    try {
      const live = await ctx.client.get(res, ref.name, { namespace: res.namespaced ? dep.namespace : undefined });
      if (live.metadata.uid !== ref.uid) {
        absentOwners.add(absentKey);
        return 'dangling';
      }
      return live.metadata.deletionTimestamp && live.metadata.finalizers?.includes('foregroundDeletion') ? 'waiting' : 'solid';
    } catch (err) {
      if (isNotFound(err)) {
        absentOwners.add(absentKey);
        return 'dangling';
      }
      throw err;
    }
  }

  async function attemptToDelete(uid: string): Promise<void> {
    const node = graph.get(uid);
    if (!node) return;
    if (node.deleting) {
      if (node.finalizers.includes('foregroundDeletion')) await processForeground(node);
      return;
    }
    if (!node.owners.length) return;
    const states = await Promise.all(node.owners.map((r) => ownerState(node, r)));
    if (states.includes('solid')) {
      // Drop references to owners that are gone; keep the object.
      const dangling = node.owners.filter((_r, i) => states[i] === 'dangling');
      if (dangling.length) await dropOwnerReferences(node, new Set(dangling.map((r) => r.uid)));
      return;
    }
    const policy = states.includes('waiting') ? 'Foreground' : node.finalizers.includes('orphan') ? 'Orphan' : node.finalizers.includes('foregroundDeletion') ? 'Foreground' : 'Background';
    try {
      await ctx.client.delete(node.res, node.name, { namespace: node.namespace || undefined, propagationPolicy: policy, preconditions: { uid: node.uid } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  /** An owner deleting in the foreground: delete dependents; drop the finalizer when none blocks. */
  async function processForeground(owner: Node): Promise<void> {
    let blocking = 0;
    for (const du of owner.dependents) {
      const dep = graph.get(du);
      if (!dep) continue;
      const ref = dep.owners.find((r) => r.uid === owner.uid);
      if (ref?.blockOwnerDeletion) blocking++;
      if (!dep.deleting) toDelete(du);
    }
    if (blocking) return;
    await removeFinalizer(owner, 'foregroundDeletion');
  }

  /** An owner deleting with the orphan finalizer: dependents lose their reference to it, then it goes. */
  async function orphan(uid: string): Promise<void> {
    const owner = graph.get(uid);
    if (!owner || !owner.deleting || !owner.finalizers.includes('orphan')) return;
    for (const du of [...owner.dependents]) {
      const dep = graph.get(du);
      if (!dep) continue;
      await dropOwnerReferences(dep, new Set([uid]));
    }
    await removeFinalizer(owner, 'orphan');
  }

  /*
   * Writes are JSON merge patches of whole lists read from the live object (upstream's
   * deleteOwnerRefJSONMergePatch and removeFinalizer): custom resources take no strategic merge.
   */

  /** Removes owner references by uid (the uid of the object is a precondition). */
  async function dropOwnerReferences(node: Node, uids: ReadonlySet<string>): Promise<void> {
    await withLive(node, async (live) => {
      const refs = live.metadata.ownerReferences ?? [];
      const rest = refs.filter((r) => !uids.has(r.uid));
      if (rest.length === refs.length) return;
      await mergePatch(node, { metadata: { ownerReferences: rest.length ? rest : null, uid: node.uid } });
    });
  }

  /** Removes one finalizer (the resourceVersion read is a precondition; conflicts are retried). */
  async function removeFinalizer(node: Node, finalizer: string): Promise<void> {
    await withLive(node, async (live) => {
      const fins = live.metadata.finalizers ?? [];
      if (!fins.includes(finalizer)) return;
      const rest = fins.filter((f) => f !== finalizer);
      await mergePatch(node, { metadata: { finalizers: rest.length ? rest : null, resourceVersion: live.metadata.resourceVersion, uid: node.uid } });
    });
  }

  /** Runs `fn` on the live object, again on a conflict (client-go's DefaultBackoff: 4 tries); a gone object is done. */
  async function withLive(node: Node, fn: (live: ApiObject) => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const live = await ctx.client.get(node.res, node.name, { namespace: node.namespace || undefined });
        if (live.metadata.uid !== node.uid) return;
        await fn(live);
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 10 * 5 ** attempt));
      }
    }
  }

  async function mergePatch(node: Node, body: unknown): Promise<void> {
    await ctx.client.patch(node.res, node.name, body, { type: 'merge', namespace: node.namespace || undefined });
  }

  // Discover now and again, so kinds added later (custom resources) are collected too.
  const discover = () =>
    watchAll().catch((err: unknown) => ctx.log(`garbage-collector: discovery failed: ${(err as Error).message}`));
  let lastDiscovery = 0;
  /** Discovery again soon, at most once a second (an owner of an unknown kind asks for it). */
  const rediscover = () => {
    if (Date.now() - lastDiscovery < 1000) return;
    lastDiscovery = Date.now();
    void discover();
  };
  void discover();
  const timer = setInterval(discover, 30_000);
  timer.unref();
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
