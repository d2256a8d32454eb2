/**
 * The StatefulSet update algorithm, as upstream's defaultStatefulSetControl.updateStatefulSet
 * (pkg/controller/statefulset/stateful_set_control.go), over a small interface for the writes
 * (`StatefulPodControl`) so the algorithm is tested without an API server.
 *
 * Given the set, its pods and its current and update revisions, one call:
 * 1. places each pod by ordinal: in range (`spec.ordinals.start` … + replicas - 1) or condemned
 *    (beyond it); a missing ordinal gets a new pod at the revision it should have;
 * 2. processes the in-range replicas in ordinal order: finished pods (Failed or Succeeded) are
 *    deleted to be recreated; missing ones created (claims first; not while a claim is stale);
 *    a Pending pod's missing claims created; identity, storage and claim ownership repaired.
 *    OrderedReady (monotonic) stops at the first pod it creates, or that is terminating, not
 *    Running and Ready, or not available (minReadySeconds); Parallel (burst) works on all at
 *    once, in slow-start batches (1, 2, 4, … at most 500), stopping only on an error;
 * 3. condemned pods (highest ordinal first): their claims' ownership set for the policy
 *    (whenScaled Delete: owned by the pod), then deleted — OrderedReady one at a time, only
 *    once every predecessor is healthy (the first unhealthy pod may go), waiting while one
 *    terminates;
 * 4. OnDelete stops there. RollingUpdate deletes, from the highest ordinal down to the partition,
 *    the first pod not at the update revision, waiting while the one above is unavailable; with
 *    `rollingUpdate.maxUnavailable` set (MaxUnavailableStatefulSet; Bosun's API server, as 1.33's,
 *    drops the field, so this path runs only for sets that carry it) up to that many at once.
 *
 * Returns the status to record and the first error, if any (the status is recorded even then,
 * as upstream). Decisions are made on the given pods only; nothing is re-read.
 */
import type { ControllerRevision, Pod, StatefulSet, StatefulSetStatus } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import {
  allowsBurst,
  applyRevision,
  claimsMatchRetentionPolicy,
  countReplicas,
  endOrdinal,
  identityMatches,
  isCreated,
  isFailed,
  isPending,
  isRunningAndAvailable,
  isRunningAndReady,
  isSucceeded,
  isTerminating,
  isUnavailable,
  maxUnavailableOf,
  newVersionedStatefulSetPod,
  ordinalOf,
  podClaimIsStale,
  podRevision,
  replicasOf,
  startOrdinal,
  storageMatches,
  type ClaimLookup,
} from './statefulset-utils.ts';

/** Upstream MaxBatchSize: most concurrent writes of a Parallel set. */
export const maxBatchSize = 500;

/** The writes the algorithm makes (upstream StatefulPodControl); each records its own events. */
export interface StatefulPodControl {
  /** Creates the pod's claims, then the pod, then sets its claims' ownership. */
  createPod(set: StatefulSet, pod: Pod): Promise<void>;
  /** Repairs identity, storage and claim ownership of an existing pod (`pod` is a private copy). */
  updatePod(set: StatefulSet, pod: Pod): Promise<void>;
  deletePod(set: StatefulSet, pod: Pod): Promise<void>;
  /** Creates the pod's claims that do not exist, then sets their ownership. */
  createMissingClaims(set: StatefulSet, pod: Pod): Promise<void>;
  /** Sets the ownership of the pod's claims for the set's retention policy. */
  updateClaimsForRetentionPolicy(set: StatefulSet, pod: Pod): Promise<void>;
  /** The claim cache. */
  claim: ClaimLookup;
}

export interface UpdateInput {
  set: StatefulSet;
  /** The set's pods (claimed: controlled by it and named as its members). */
  pods: readonly Pod[];
  current: ControllerRevision;
  update: ControllerRevision;
  collisionCount: number;
  now: number;
}

export interface UpdateResult {
  status: StatefulSetStatus;
  error?: unknown;
}

/**
 * Runs `fn` over indexes 0..n-1: monotonic, one after another until one asks to stop (returns
 * true) or fails; otherwise in slow-start batches, stopping after a batch with a failure.
 * Returns whether to stop, and the error.
 */
async function runForAll(n: number, fn: (i: number) => Promise<boolean>, monotonic: boolean): Promise<{ stop: boolean; error?: unknown }> {
  if (monotonic) {
    for (let i = 0; i < n; i++) {
      try {
        if (await fn(i)) return { stop: true };
      } catch (error) {
        return { stop: true, error };
      }
    }
    return { stop: false };
  }
  let next = 0;
  for (let batch = Math.min(n, 1); batch > 0; batch = Math.min(2 * batch, n - next, maxBatchSize)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, k) => fn(next + k)));
    next += batch;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) return { stop: true, error: failed.reason };
  }
  return { stop: false };
}

export async function updateStatefulSet(input: UpdateInput, control: StatefulPodControl): Promise<UpdateResult> {
  const { set, pods, current, update, collisionCount, now } = input;
  const currentSet = applyRevision(set, current);
  const updateSet = applyRevision(set, update);
  const minReady = set.spec?.minReadySeconds ?? 0;
  const currentName = current.metadata.name ?? '';
  const updateName = update.metadata.name ?? '';
  const status: StatefulSetStatus = {
    observedGeneration: set.metadata.generation,
    replicas: 0,
    currentRevision: currentName,
    updateRevision: updateName,
    collisionCount,
  };
  if (set.status?.conditions?.length) status.conditions = set.status.conditions;
  const counting = { minReadySeconds: minReady, currentRevision: currentName, updateRevision: updateName, now };
  countReplicas(status, pods, counting);

  const versions = { currentSet, updateSet, currentRevision: currentName, updateRevision: updateName };
  const start = startOrdinal(set);
  const end = endOrdinal(set);
  const count = Math.max(0, replicasOf(set));
  const replicas: Pod[] = new Array<Pod>(count);
  const condemned: Pod[] = [];
  for (const pod of pods) {
    const ord = ordinalOf(pod);
    if (ord >= start && ord <= end) replicas[ord - start] = pod;
    else if (ord >= 0) condemned.push(pod);
  }
  for (let ord = start; ord <= end; ord++) {
    if (!replicas[ord - start]) replicas[ord - start] = newVersionedStatefulSetPod(ord, versions);
  }
  condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a));

  let firstUnavailable: Pod | undefined;
  for (const pod of replicas) if (!firstUnavailable && isUnavailable(pod, minReady, now)) firstUnavailable = pod;
  for (let i = condemned.length - 1; i >= 0 && !firstUnavailable; i--) if (isUnavailable(condemned[i]!, minReady, now)) firstUnavailable = condemned[i];

  // A set being deleted only reports its status.
  if (set.metadata.deletionTimestamp) return { status };

  const monotonic = !allowsBurst(set);
  const finish = (error?: unknown): UpdateResult => {
    countReplicas(status, [...replicas, ...condemned], counting);
    return error === undefined ? { status } : { status, error };
  };

  const processReplica = async (i: number): Promise<boolean> => {
    const pod = replicas[i]!;
    // Succeeded counts as finished too: a pod stopped from outside (evicted, node rebooted) ends
    // with its container's exit code, and must be replaced whatever it was.
    if (isFailed(pod) || isSucceeded(pod)) {
      if (!isTerminating(pod)) await control.deletePod(set, pod);
      return true;
    }
    if (!isCreated(pod)) {
      if (podClaimIsStale(set, pod, control.claim)) return true;
      await control.createPod(set, pod);
      if (monotonic) return true;
    }
    if (isPending(pod)) await control.createMissingClaims(set, pod);
    if (monotonic && (isTerminating(pod) || !isRunningAndReady(pod) || !isRunningAndAvailable(pod, minReady, now))) return true;
    if (identityMatches(set, pod) && storageMatches(set, pod) && claimsMatchRetentionPolicy(updateSet, pod, control.claim)) return false;
    await control.updatePod(updateSet, structuredClone(pod));
    return false;
  };
  let r = await runForAll(replicas.length, processReplica, monotonic);
  if (r.stop || r.error !== undefined) return finish(r.error);

  const fixClaims = async (i: number): Promise<boolean> => {
    const pod = condemned[i]!;
    if (!claimsMatchRetentionPolicy(updateSet, pod, control.claim)) await control.updateClaimsForRetentionPolicy(updateSet, pod);
    return false;
  };
  r = await runForAll(condemned.length, fixClaims, monotonic);
  if (r.stop || r.error !== undefined) return finish(r.error);

  const processCondemned = async (i: number): Promise<boolean> => {
    const pod = condemned[i]!;
    if (isTerminating(pod)) return monotonic;
    if (monotonic && pod !== firstUnavailable && (!isRunningAndReady(pod) || !isRunningAndAvailable(pod, minReady, now))) return true;
    await control.deletePod(set, pod);
    return true;
  };
  r = await runForAll(condemned.length, processCondemned, monotonic);
  if (r.stop || r.error !== undefined) return finish(r.error);

  finish();
  const strategy = set.spec?.updateStrategy;
  if (strategy?.type === 'OnDelete') return { status };
  const ru = strategy?.rollingUpdate;
  const updateMin = ru?.partition ?? 0;
  const deleteForUpdate = async (pod: Pod): Promise<void> => {
    try {
      await control.deletePod(set, pod);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    status.currentReplicas = (status.currentReplicas ?? 0) - 1;
  };

  try {
    if (ru?.maxUnavailable !== undefined && ru.maxUnavailable !== null) {
      const maxUnavailable = maxUnavailableOf(ru.maxUnavailable, count);
      let unavailable = 0;
      for (const pod of replicas) if (isUnavailable(pod, minReady, now)) unavailable++;
      if (unavailable > maxUnavailable) return { status };
      let budget = maxUnavailable - unavailable;
      for (let target = replicas.length - 1; target >= updateMin && budget > 0; target--) {
        const pod = replicas[target]!;
        if (podRevision(pod) !== updateName && !isTerminating(pod)) {
          await deleteForUpdate(pod);
          budget--;
        }
      }
      return { status };
    }
    // The highest ordinal not at the update revision goes; an unavailable one above it makes us wait.
    for (let target = replicas.length - 1; target >= updateMin; target--) {
      const pod = replicas[target]!;
      if (podRevision(pod) !== updateName && !isTerminating(pod)) {
        await deleteForUpdate(pod);
        return { status };
      }
      if (isUnavailable(pod, minReady, now)) return { status };
    }
  } catch (error) {
    return { status, error };
  }
  return { status };
}
