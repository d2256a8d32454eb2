/**
 * The StatefulSet controller, as upstream's pkg/controller/statefulset (stateful_set.go and the
 * revision and status parts of stateful_set_control.go): a set keeps `spec.replicas` pods named
 * `<set>-<ordinal>`, each with its own claims `<template>-<set>-<ordinal>`, created in ordinal
 * order and removed in reverse (OrderedReady) or all at once (Parallel), and rolled to a new
 * template by RollingUpdate (partition, maxUnavailable) or OnDelete. The algorithm itself is in
 * statefulset-control.ts, the writes in statefulset-podcontrol.ts, the pure helpers in
 * statefulset-utils.ts.
 *
 * Per sync of a set (a key `namespace/name`; never two at once for one key):
 * 1. its ControllerRevisions — those matching the selector that it controls or nobody does — are
 *    listed, orphans adopted (after a live read confirms the set's uid);
 * 2. its pods are claimed as upstream's PodControllerRefManager does: controlled pods that match
 *    the selector and are named as members are kept, others released (unless the set is being
 *    deleted); orphans that match are adopted (after a live read shows the set is not being
 *    deleted);
 * 3. the update revision is the set's template as revision data: the newest revision if equal,
 *    an older equal one renumbered to the next revision (a rollback), or a new revision
 *    (collisions bump `status.collisionCount`); the current revision is `status.currentRevision`
 *    when it still exists, else the update revision;
 * 4. the algorithm runs; the status (replicas, ready, available, current and updated replicas,
 *    observedGeneration, current/update revision, collisionCount; conditions kept as they are) is
 *    written through the status subresource when it changed, a finished RollingUpdate making the
 *    update revision current;
 * 5. revisions beyond `revisionHistoryLimit` that no pod, nor the current or update revision,
 *    uses are deleted, oldest first.
 * With minReadySeconds, a set whose pods are ready but not yet available is looked at again
 * when the first becomes available. Failed writes are retried by the queue's rate-limited
 * backoff; a pod or claim that already exists (a cache behind the API) is seen by a later sync.
 */
import type { ControllerRevision, LabelSelector, PersistentVolumeClaim, Pod, StatefulSet, StatefulSetStatus } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { labelSelectorFromObject, type LabelSelectorMatcher } from '../api/selectors.ts';
import { IndexNamespace, clientset, resources } from '../client/index.ts';
import { IndexControllerUid, controllerUidIndex, orphanIndexValue } from '../client/store.ts';
import type { ControllerContext } from './context.ts';
import { controllerRef, keyOf, splitKey, startQueue, type ReconcileResult } from './controller-utils.ts';
import { createControllerRevision, equalRevision, findEqualRevisions, newControllerRevision, revisionsOf, sortRevisions } from './history.ts';
import { updateStatefulSet } from './statefulset-control.ts';
import { newStatefulPodControl } from './statefulset-podcontrol.ts';
import {
  completeRollingUpdate,
  inconsistentStatus,
  isClaimOfSet,
  isMemberOf,
  msUntilNextAvailable,
  newOwnerRef,
  nextRevision,
  podRevision,
  replicasOf,
  revisionData,
  statefulSetKind,
  type ClaimLookup,
} from './statefulset-utils.ts';

/** Upstream's --concurrent-statefulset-syncs default. */
export const statefulSetWorkers = 5;
/** Attempts of a write that meets conflicts before the sync fails and is retried by the queue. */
const conflictAttempts = 4;
/** Upstream's default spec.revisionHistoryLimit (the API server defaults it too). */
const defaultRevisionHistoryLimit = 10;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export function startStatefulSetController(ctx: ControllerContext): void {
  const sets = ctx.informers.typedInformerFor(resources.statefulSets);
  const pods = ctx.informers.typedInformerFor(resources.pods, { indexers: { [IndexControllerUid]: controllerUidIndex } });
  const claims = ctx.informers.typedInformerFor(resources.persistentVolumeClaims);
  const revisions = ctx.informers.typedInformerFor(resources.controllerRevisions);
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder('statefulset-controller');
  const lookup: ClaimLookup = (namespace, name) => claims.store.get(`${namespace}/${name}`);
  const control = newStatefulPodControl(cs, recorder, lookup);
  const queue = startQueue(ctx, (key) => sync(key), { name: 'statefulset-controller', workers: statefulSetWorkers, waitFor: [sets, pods, claims, revisions] });

  // Compiled selectors, per cached object (a new object per change; the selector is immutable).
  // An invalid selector (refused by validation, so only a stored relic) selects nothing.
  const selectors = new WeakMap<StatefulSet, LabelSelectorMatcher | null>();
  const selectorOf = (set: StatefulSet): LabelSelectorMatcher | null => {
    let m = selectors.get(set);
    if (m === undefined) {
      try {
        m = labelSelectorFromObject(set.spec?.selector ?? null);
      } catch (err) {
        ctx.log(`statefulset-controller: ${keyOf(set)}: invalid selector: ${message(err)}`);
        m = null;
      }
      selectors.set(set, m);
    }
    return m;
  };

  const enqueue = (set: StatefulSet) => queue.add(keyOf(set));
  sets.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });

  /** The set a controller reference names, when it is in the cache with that uid. */
  const resolve = (namespace: string, ref: { kind: string; name: string; uid: string } | undefined): StatefulSet | undefined => {
    if (ref?.kind !== statefulSetKind.kind) return undefined;
    const set = sets.store.get(`${namespace}/${ref.name}`);
    return set?.metadata.uid === ref.uid ? set : undefined;
  };
  /** Sets in the pod's namespace whose selector matches it (for orphans). */
  const setsSelecting = (pod: Pod): StatefulSet[] =>
    sets.store.byIndex(IndexNamespace, pod.metadata.namespace ?? '').filter((s) => {
      const sel = selectorOf(s);
      return !!sel && !sel.empty && sel.matches(pod.metadata.labels);
    });
  const podChanged = (pod: Pod) => {
    const set = resolve(pod.metadata.namespace ?? '', controllerRef(pod));
    if (set) enqueue(set);
  };
  pods.addEventHandler({
    onAdd: (pod) => {
      if (controllerRef(pod) || pod.metadata.deletionTimestamp) return podChanged(pod);
      for (const s of setsSelecting(pod)) enqueue(s);
    },
    onUpdate: (old, pod) => {
      if (old.metadata.resourceVersion === pod.metadata.resourceVersion) return;
      const oldRef = controllerRef(old);
      const ref = controllerRef(pod);
      const refChanged = oldRef?.uid !== ref?.uid;
      if (refChanged && oldRef) podChanged(old);
      if (ref) return podChanged(pod);
      const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(pod.metadata.labels ?? {});
      if (labelsChanged || refChanged) for (const s of setsSelecting(pod)) enqueue(s);
    },
    onDelete: podChanged,
  });
  // A pod waiting for a stale claim (left by its predecessor under whenScaled Delete) may go on
  // once the garbage collector has deleted that claim.
  const claimGone = (claim: PersistentVolumeClaim) => {
    for (const s of sets.store.byIndex(IndexNamespace, claim.metadata.namespace ?? '')) if (isClaimOfSet(s, claim.metadata.name ?? '')) enqueue(s);
  };
  claims.addEventHandler({ onDelete: claimGone });

  async function sync(key: string): Promise<ReconcileResult | void> {
    const set = sets.store.get(key);
    if (!set) return;
    const { namespace } = splitKey(key);
    const selector = selectorOf(set);
    // Not retried: the selector will not become valid (upstream drops the key too).
    if (!selector) return;
    const fresh = freshCheck(set);
    const revs = await adoptOrphanRevisions(set, revisionsOf(set, set.spec?.selector as LabelSelector | undefined, revisions.store.byIndex(IndexNamespace, namespace)), fresh);
    const owned = await claimPods(set, selector, namespace, fresh);
    return syncStatefulSet(set, owned, revs);
  }

  /** One live read of the set per sync, when something is to be adopted (upstream's recheck). */
  function freshCheck(set: StatefulSet): () => Promise<StatefulSet> {
    let got: Promise<StatefulSet> | undefined;
    return () =>
      (got ??= cs.statefulSets.get(set.metadata.name!, { namespace: set.metadata.namespace }).then((f) => {
        if (f.metadata.uid !== set.metadata.uid) throw new Error(`original StatefulSet ${keyOf(set)} is gone: got uid ${f.metadata.uid}, wanted ${set.metadata.uid}`);
        return f;
      }));
  }

  async function adoptOrphanRevisions(set: StatefulSet, revs: ControllerRevision[], fresh: () => Promise<StatefulSet>): Promise<ControllerRevision[]> {
    if (!revs.some((r) => !controllerRef(r))) return revs;
    await fresh();
    const out: ControllerRevision[] = [];
    for (const r of revs) {
      if (controllerRef(r)) {
        out.push(r);
        continue;
      }
      try {
        out.push(await cs.controllerRevisions.patch(r.metadata.name!, { metadata: { ownerReferences: [newOwnerRef(set, statefulSetKind)], uid: r.metadata.uid } }, { type: 'strategic', namespace: r.metadata.namespace }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  }

  /** Upstream ClaimPods with isMemberOf as the extra filter. Returns the set's pods. */
  async function claimPods(set: StatefulSet, selector: LabelSelectorMatcher, namespace: string, fresh: () => Promise<StatefulSet>): Promise<Pod[]> {
    const owned: Pod[] = [];
    const uid = set.metadata.uid ?? '';
    // The set's own pods and the namespace's orphans (upstream FilterPodsByOwner), not every pod of the namespace.
    const candidates = [...pods.store.byIndex(IndexControllerUid, uid), ...pods.store.byIndex(IndexControllerUid, orphanIndexValue(namespace))];
    for (const pod of candidates) {
      const ref = controllerRef(pod);
      const match = !selector.empty && selector.matches(pod.metadata.labels) && isMemberOf(set, pod);
      if (ref) {
        if (ref.uid !== uid) continue;
        if (match) owned.push(pod);
        else if (!set.metadata.deletionTimestamp) await releasePod(pod, uid!);
        continue;
      }
      if (set.metadata.deletionTimestamp || !match || pod.metadata.deletionTimestamp) continue;
      const live = await fresh();
      if (live.metadata.deletionTimestamp) throw new Error(`${keyOf(set)} has just been deleted at ${live.metadata.deletionTimestamp}`);
      try {
        owned.push(await cs.pods.patch(pod.metadata.name!, { metadata: { ownerReferences: [newOwnerRef(set, statefulSetKind)], uid: pod.metadata.uid } }, { type: 'strategic', namespace }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return owned;
  }

  async function releasePod(pod: Pod, setUid: string): Promise<void> {
    try {
      await cs.pods.patch(pod.metadata.name!, { metadata: { ownerReferences: [{ $patch: 'delete', uid: setUid }], uid: pod.metadata.uid } }, { type: 'strategic', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async function syncStatefulSet(set: StatefulSet, owned: Pod[], revs: ControllerRevision[]): Promise<ReconcileResult | void> {
    sortRevisions(revs);
    const { current, update, collisionCount } = await currentAndUpdateRevisions(set, revs);
    const now = Date.now();
    const result = await updateStatefulSet({ set, pods: owned, current, update, collisionCount, now }, control);
    let error = result.error;
    try {
      await writeStatus(set, result.status);
    } catch (err) {
      error ??= err;
    }
    try {
      await truncateHistory(set, owned, revs, current, update);
    } catch (err) {
      error ??= err;
    }
    if (error !== undefined) throw error;
    const minReady = set.spec?.minReadySeconds ?? 0;
    if (minReady > 0 && (result.status.availableReplicas ?? 0) !== replicasOf(set)) {
      const wait = msUntilNextAvailable(owned, minReady, now);
      return { requeueAfter: (wait ?? minReady * 1000) + 50 };
    }
  }

  /** Upstream getStatefulSetRevisions; `revs` sorted. May create or renumber a revision. */
  async function currentAndUpdateRevisions(set: StatefulSet, revs: ControllerRevision[]): Promise<{ current: ControllerRevision; update: ControllerRevision; collisionCount: number }> {
    let collisionCount = set.status?.collisionCount ?? 0;
    const candidate = newControllerRevision(set, statefulSetKind, set.spec?.template?.metadata?.labels, revisionData(set), nextRevision(revs), collisionCount);
    // The set's annotations (kubernetes.io/change-cause for `kubectl rollout history`), as upstream.
    if (set.metadata.annotations && Object.keys(set.metadata.annotations).length) candidate.metadata.annotations = { ...set.metadata.annotations };
    const equal = findEqualRevisions(revs, candidate);
    let update: ControllerRevision;
    if (equal.length && equalRevision(revs.at(-1), equal.at(-1))) {
      update = revs.at(-1)!;
    } else if (equal.length) {
      // An older revision's template again (a rollback): it becomes the newest revision.
      update = await renumberRevision(equal.at(-1)!, candidate.revision);
    } else {
      const count = { value: collisionCount };
      update = await createControllerRevision(cs.controllerRevisions, candidate, count);
      collisionCount = count.value;
    }
    const current = revs.find((r) => r.metadata.name === set.status?.currentRevision) ?? update;
    return { current, update, collisionCount };
  }

  /** Upstream UpdateControllerRevision: sets the revision number, re-reading on conflicts. */
  async function renumberRevision(rev: ControllerRevision, revision: number): Promise<ControllerRevision> {
    let cur = rev;
    for (let attempt = 1; ; attempt++) {
      if (cur.revision === revision) return cur;
      try {
        return await cs.controllerRevisions.update({ ...cur, revision }, { namespace: cur.metadata.namespace });
      } catch (err) {
        if (!isConflict(err) || attempt >= conflictAttempts) throw err;
        cur = await cs.controllerRevisions.get(cur.metadata.name!, { namespace: cur.metadata.namespace });
      }
    }
  }

  /** Records the status when it differs (upstream updateStatefulSetStatus and its status updater). */
  async function writeStatus(set: StatefulSet, status: StatefulSetStatus): Promise<void> {
    completeRollingUpdate(set, status);
    if (!inconsistentStatus(set, status)) return;
    let target = set;
    for (let attempt = 1; ; attempt++) {
      try {
        await cs.statefulSets.updateStatus({ ...target, status }, { namespace: set.metadata.namespace });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt >= conflictAttempts) throw new Error(`could not update status of StatefulSet ${keyOf(set)}: ${message(err)}`, { cause: err });
        target = await cs.statefulSets.get(set.metadata.name!, { namespace: set.metadata.namespace });
        if (target.metadata.uid !== set.metadata.uid) return;
      }
    }
  }

  /**
   * Deletes revisions no pod nor the current or update revision uses, oldest first, until at
   * most revisionHistoryLimit remain (upstream truncateHistory; `revs` sorted).
   */
  async function truncateHistory(set: StatefulSet, owned: Pod[], revs: ControllerRevision[], current: ControllerRevision, update: ControllerRevision): Promise<void> {
    const live = new Set<string>([current.metadata.name ?? '', update.metadata.name ?? '']);
    for (const p of owned) live.add(podRevision(p));
    const history = revs.filter((r) => !live.has(r.metadata.name ?? ''));
    const limit = set.spec?.revisionHistoryLimit ?? defaultRevisionHistoryLimit;
    if (limit < 0 || history.length <= limit) return;
    for (const r of history.slice(0, history.length - limit)) {
      try {
        await cs.controllerRevisions.delete(r.metadata.name!, { namespace: r.metadata.namespace, preconditions: { uid: r.metadata.uid } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  }
}
