/**
 * The ReplicaSet controller, and the ReplicationController controller (the same logic over the
 * core/v1 kind, whose selector is a plain label map): keeps `spec.replicas` active pods that
 * match the selector and are controlled by the set, adopting orphans that match and releasing
 * owned pods that no longer match; creates pods from the template in slow-start batches and
 * deletes the least valuable pods first; reports replicas, fullyLabeledReplicas, readyReplicas,
 * availableReplicas (minReadySeconds) and observedGeneration, and a ReplicaFailure condition when
 * pods cannot be created. Expectations (upstream's UIDTrackingControllerExpectations) keep a
 * stale cache from causing double creates or deletes: the set is not managed while its own
 * writes are not yet all seen, and the workers start only once the caches have synced. A sync
 * whose creates or deletes failed is retried with the queue's rate-limited backoff.
 *
 * Cost, as upstream's: a sync reads only the set's own pods and the orphans of its namespace,
 * through the pod cache's controller-UID index (upstream FilterPodsByOwner over
 * PodControllerUIDIndex), never every pod of the namespace, and walks them once; created pods
 * share the set's cached template spec (the client serializes it, nothing mutates it).
 */
import type { Pod, PodSpec, ReplicaSet, ReplicaSetCondition, ReplicaSetStatus, ReplicationController } from '../api/index.ts';
import { labelSelectorFromObject, type LabelSelectorMatcher } from '../api/selectors.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { IndexNamespace, clientset, resources, type ResourceDescriptor } from '../client/index.ts';
import { IndexControllerUid, controllerUidIndex, orphanIndexValue } from '../client/store.ts';
import type { ControllerContext } from './context.ts';
import { UIDTrackingExpectations, slowStartBatch, slowStartInitialBatchSize } from './expectations.ts';
import {
  cachedLabelSelector,
  controllerRef,
  isPodActive,
  keyOf,
  newControllerRef,
  podsToDelete,
  readyCondition,
  nowRfc3339,
  splitKey,
  startQueue,
  jsonEqual,
  type ReconcileResult,
} from './controller-utils.ts';

/** Most pods one sync creates or deletes (upstream's BurstReplicas). */
export const burstReplicas = 500;
/**
 * How long pod events that cannot call for creating or deleting pods (see `wake`) may wait
 * before the set syncs: its status lags the pods by at most this much. Bosun's (upstream syncs
 * per event; its Job controller batches pod events by 1 s).
 */
export const podEventBatchMs = 500;

/** The kinds this controller keeps: their spec and status differ only in the selector's form. */
type ReplicatedSet = ReplicaSet | ReplicationController;

interface Kind<T extends ReplicatedSet> {
  res: ResourceDescriptor;
  apiVersion: string;
  kind: string;
  component: string;
  selector(set: T): LabelSelectorMatcher;
}

const replicaSetKind: Kind<ReplicaSet> = {
  res: resources.replicaSets,
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  component: 'replicaset-controller',
  selector: (rs) => cachedLabelSelector(rs.spec?.selector ?? null),
};

const replicationControllerKind: Kind<ReplicationController> = {
  res: resources.replicationControllers,
  apiVersion: 'v1',
  kind: 'ReplicationController',
  component: 'replication-controller',
  selector: (rc) => {
    const sel = rc.spec?.selector;
    return labelSelectorFromObject(sel && Object.keys(sel).length ? { matchLabels: sel } : null);
  },
};

export function startReplicaSetController(ctx: ControllerContext): void {
  startSetController(ctx, replicaSetKind);
}

export function startReplicationControllerController(ctx: ControllerContext): void {
  startSetController(ctx, replicationControllerKind);
}

function startSetController<T extends ReplicatedSet>(ctx: ControllerContext, k: Kind<T>): void {
  const sets = ctx.informers.informerFor<T>(k.res);
  const pods = ctx.informers.typedInformerFor(resources.pods, { indexers: { [IndexControllerUid]: controllerUidIndex } });
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder(k.component);
  const expectations = new UIDTrackingExpectations();
  const queue = startQueue(ctx, (key) => sync(key), { name: k.component, workers: 5, waitFor: [sets, pods] });

  const enqueue = (o: T) => queue.add(keyOf(o));
  sets.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: (o) => {
    expectations.delete(keyOf(o));
    enqueue(o);
  } });

  /** The sets a pod belongs to: its controller if it is one of ours, else every set in its namespace selecting it. */
  const setsForPod = (pod: Pod): string[] => {
    const ref = controllerRef(pod);
    if (ref) return ref.kind === k.kind ? [`${pod.metadata.namespace}/${ref.name}`] : [];
    if (!isPodActive(pod)) return [];
    return sets
      .store.byIndex(IndexNamespace, pod.metadata.namespace ?? '')
      .filter((s) => k.selector(s).matches(pod.metadata.labels))
      .map(keyOf);
  };
  /** The key of the set controlling `pod` when it is one of ours (same uid) in the cache. */
  const ownerKey = (pod: Pod): string | undefined => {
    const ref = controllerRef(pod);
    if (ref?.kind !== k.kind) return undefined;
    const key = `${pod.metadata.namespace}/${ref.name}`;
    return sets.store.get(key)?.metadata.uid === ref.uid ? key : undefined;
  };
  /**
   * Queues a set for a pod event. An event that may call for creating, deleting, adopting or
   * releasing pods (`urgent`) syncs at once when the set's expectations allow managing it; any
   * other (a readiness change, or a create or delete while more of the set's own are still
   * awaited) is batched within podEventBatchMs, as upstream's Job controller batches pod events
   * (syncJobBatchPeriod): a sync reads all the set's pods, so one per pod event would make a
   * rollout quadratic.
   */
  const wake = (key: string, urgent: boolean) => {
    if (urgent && expectations.satisfied(key)) queue.add(key);
    else queue.addAfter(key, podEventBatchMs);
  };
  // As upstream's addPod/updatePod/deletePod: a pod that shows up (or turns) terminating counts
  // as a deletion, never as a creation; each expected pod is counted once.
  const podDeleted = (pod: Pod) => {
    const key = ownerKey(pod);
    if (key) expectations.deletionObserved(key, keyOf(pod));
    for (const s of setsForPod(pod)) wake(s, true);
  };
  pods.addEventHandler({
    onAdd: (pod) => {
      if (pod.metadata.deletionTimestamp) return podDeleted(pod);
      const key = ownerKey(pod);
      if (key) expectations.creationObserved(key);
      for (const s of setsForPod(pod)) wake(s, true);
    },
    onUpdate: (old, pod) => {
      if (pod.metadata.deletionTimestamp) {
        podDeleted(pod);
        if (old.metadata.resourceVersion !== pod.metadata.resourceVersion) for (const s of setsForPod(old)) wake(s, true);
        return;
      }
      // Only a change of labels, controller or activeness can change which pods a set counts.
      const urgent = !sameLabels(old.metadata.labels, pod.metadata.labels) || controllerRef(old)?.uid !== controllerRef(pod)?.uid || isPodActive(old) !== isPodActive(pod);
      // The queue drops duplicates: no need to merge the two lists.
      for (const s of setsForPod(old)) wake(s, urgent);
      for (const s of setsForPod(pod)) wake(s, urgent);
    },
    onDelete: podDeleted,
  });

  async function sync(key: string): Promise<ReconcileResult | void> {
    const set = sets.store.get(key);
    if (!set) {
      expectations.delete(key);
      return;
    }
    const { namespace } = splitKey(key);
    const selector = k.selector(set);
    const uid = set.metadata.uid ?? '';
    // Claim (upstream ClaimPods over FilterPodsByOwner): pods this set controls that still match,
    // plus orphans of the namespace that match (adopted); release controlled ones that do not.
    // Only active pods count from here on.
    const active: Pod[] = [];
    for (const pod of pods.store.byIndex(IndexControllerUid, uid)) {
      if (selector.matches(pod.metadata.labels)) {
        if (isPodActive(pod)) active.push(pod);
      } else if (!pod.metadata.deletionTimestamp) await release(pod);
    }
    if (!set.metadata.deletionTimestamp) {
      for (const pod of pods.store.byIndex(IndexControllerUid, orphanIndexValue(namespace))) {
        if (!isPodActive(pod) || !selector.matches(pod.metadata.labels)) continue;
        if (await adopt(pod, set)) active.push(pod);
      }
    }
    let failure: { create: boolean; error: unknown } | undefined;
    if (expectations.satisfied(key) && !set.metadata.deletionTimestamp) {
      failure = await manage(key, set, active);
    }
    const result = await updateStatus(set, active, failure?.create ? errorMessage(failure.error) : undefined);
    // A failed create or delete is retried with the queue's backoff, as upstream returns it.
    if (failure) throw failure.error;
    return result;
  }

  async function adopt(pod: Pod, set: T): Promise<boolean> {
    try {
      await cs.pods.patch(pod.metadata.name!, {
        metadata: { ownerReferences: [newControllerRef(set, k.kind, k.apiVersion)], uid: pod.metadata.uid },
      }, { type: 'strategic', namespace: pod.metadata.namespace });
      return true;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false;
      throw err;
    }
  }

  async function release(pod: Pod): Promise<void> {
    const refs = (pod.metadata.ownerReferences ?? []).filter((r) => !r.controller || r.kind !== k.kind);
    try {
      await cs.pods.patch(pod.metadata.name!, { metadata: { ownerReferences: refs.length ? refs : null, uid: pod.metadata.uid } }, { type: 'merge', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Creates or deletes pods toward spec.replicas (upstream manageReplicas), at most
   * burstReplicas a sync. Every expected create or delete is either observed by the watch or
   * lowered here (failed or never attempted). Returns the first failure, if any.
   */
  async function manage(key: string, set: T, active: Pod[]): Promise<{ create: boolean; error: unknown } | undefined> {
    const want = set.spec?.replicas ?? 1;
    const diff = active.length - want;
    const namespace = set.metadata.namespace!;
    if (diff < 0) {
      const count = Math.min(-diff, burstReplicas);
      expectations.expectCreations(key, count);
      const { successes, error } = await slowStartBatch(count, slowStartInitialBatchSize, () => createPod(set, namespace));
      // Failed and skipped creates will never be observed.
      for (let i = successes; i < count; i++) expectations.creationObserved(key);
      if (error === undefined) return undefined;
      recorder.event(set, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(error)}`);
      return { create: true, error };
    }
    if (diff > 0) {
      const victims = podsToDelete(active, Math.min(diff, burstReplicas));
      expectations.expectDeletions(key, victims.map(keyOf));
      const errors: unknown[] = [];
      await Promise.all(
        victims.map(async (pod) => {
          try {
            await cs.pods.delete(pod.metadata.name!, { namespace, preconditions: { uid: pod.metadata.uid } });
            recorder.event(set, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
          } catch (err) {
            // This deletion will not be observed (or already was): stop expecting it.
            expectations.deletionObserved(key, keyOf(pod));
            if (!isNotFound(err)) {
              errors.push(err);
              recorder.event(set, 'Warning', 'FailedDelete', `Error deleting: ${errorMessage(err)}`);
            }
          }
        }),
      );
      if (errors.length) return { create: false, error: errors[0] };
    }
    return undefined;
  }

  async function createPod(set: T, namespace: string): Promise<void> {
    const template = set.spec?.template;
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${set.metadata.name}-`,
        namespace,
        labels: { ...template?.metadata?.labels },
        annotations: { ...template?.metadata?.annotations },
        ownerReferences: [newControllerRef(set, k.kind, k.apiVersion)],
      },
      // A template without a spec fails validation of the set; the API server rejects the pod too.
      // Shared with the cached set, not copied: the client only serializes it.
      spec: template?.spec ?? ({} as PodSpec),
    };
    if (!Object.keys(pod.metadata.annotations!).length) delete pod.metadata.annotations;
    // Any failure (AlreadyExists too: a generated name that collided) means no pod was made.
    const created = await cs.pods.create(pod, { namespace });
    recorder.event(set, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
  }

  async function updateStatus(set: T, active: Pod[], failure: string | undefined): Promise<ReconcileResult | void> {
    const minReady = set.spec?.minReadySeconds ?? 0;
    const now = Date.now();
    const templateLabels = Object.entries(set.spec?.template?.metadata?.labels ?? {});
    // One pass over the pods: labels, readiness, availability and the next pod to turn available.
    let fully = 0;
    let ready = 0;
    let available = 0;
    let wait = Infinity;
    for (const p of active) {
      const labels = p.metadata.labels;
      let all = true;
      for (const [lk, lv] of templateLabels) {
        if (labels?.[lk] !== lv) {
          all = false;
          break;
        }
      }
      if (all) fully++;
      const rc = readyCondition(p);
      if (rc?.status !== 'True') continue;
      ready++;
      if (minReady <= 0) {
        available++;
        continue;
      }
      const since = rc.lastTransitionTime ? Date.parse(rc.lastTransitionTime) : NaN;
      if (!Number.isFinite(since)) continue;
      const left = since + minReady * 1000 - now;
      if (left <= 0) available++;
      else if (left < wait) wait = left;
    }
    const old = set.status ?? {};
    const conditions: ReplicaSetCondition[] = (set.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
    if (failure) {
      conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: nowRfc3339(now), reason: 'FailedCreate', message: failure });
    }
    // A ReplicationController's status has the same fields (terminatingReplicas aside, never set here).
    const status: ReplicaSetStatus = {
      replicas: active.length,
      fullyLabeledReplicas: fully,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: set.metadata.generation,
    };
    if (conditions.length) status.conditions = conditions;
    if (!jsonEqual(normalizeStatus(old), normalizeStatus(status))) {
      try {
        await ctx.client.updateStatus<T>(k.res, { ...set, status }, { namespace: set.metadata.namespace });
      } catch (err) {
        // A conflict means a newer version of the set exists than the cache's (most often our
        // own last status write, not yet seen by the informer): its event queues the set again,
        // and that sync writes from it. Retrying sooner would only meet the same stale copy.
        if (isNotFound(err) || isConflict(err)) return;
        throw err;
      }
    }
    // Pods that are ready but not yet available: look again when they will be.
    if (wait !== Infinity) return { requeueAfter: wait + 50 };
  }
}

function sameLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  if (a === b) return true;
  const ka = a ? Object.keys(a) : [];
  if (ka.length !== (b ? Object.keys(b).length : 0)) return false;
  for (const k of ka) if (a![k] !== b?.[k]) return false;
  return true;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Status as stored (zero counts omitted), for change detection. */
function normalizeStatus(s: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== 0 && v !== undefined));
}
