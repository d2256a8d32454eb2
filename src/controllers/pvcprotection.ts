/**
 * The PVC protection controller, as upstream's pkg/controller/volume/pvcprotection: a claim that
 * is being deleted keeps its `kubernetes.io/pvc-protection` finalizer (added at creation by the
 * StorageObjectInUseProtection admission plugin) while a pod uses it, and loses it — so the
 * deletion completes — once none does. A claim not being deleted that lacks the finalizer gets
 * it (claims made before the plugin was on).
 *
 * How upstream decides "in use", followed here:
 * - Only pods bound to a node count (the kubelet refuses to start a pod on a claim being
 *   deleted, and the scheduler does not place pods with such claims).
 * - A `persistentVolumeClaim` volume naming the claim counts for as long as the pod object
 *   exists, finished (Succeeded/Failed) or not; a generic ephemeral volume (claim
 *   `<pod>-<volume>`) counts only while the claim is controlled by that pod and the pod is not
 *   shut down (deleted with grace period 0, or force-deleted).
 * - The pod informer's cache is asked first (an index from claim key to pods); when it finds no
 *   user, a live list of the namespace's pods from the API server decides, since a new pod may
 *   not be in the cache yet. Claims are handled in batches per namespace and a batch shares one
 *   live list (upstream's LazyLivePodList).
 * - Pod events only wake claims when they can free them: a pod deleted, finished, or not
 *   bound to a node. An update that replaces a pod (same name, new UID) also wakes the old
 *   pod's claims.
 *
 * Finalizers are changed with an update of the cached claim: a conflict (the claim changed
 * meanwhile) is retried with the queue's backoff, as every other failure. One worker, as
 * upstream runs it.
 */
import { isNotFound } from '../api/errors.ts';
import type { ApiObject, PersistentVolumeClaim, Pod, Volume } from '../api/index.ts';
import { clientset, resources, splitKey, WorkQueue, waitForCacheSync } from '../client/index.ts';
import type { ControllerContext } from './context.ts';

export const pvcProtectionFinalizer = 'kubernetes.io/pvc-protection';
/** The pod index from `namespace/claim` to the pods whose volumes name the claim (upstream common.PodPVCIndex). */
export const podPvcIndex = 'pod-pvc-index';

// ---- protection helpers (upstream protectionutil) ----------------------------------------------

/** Being deleted and still held by `finalizer`. */
export function isDeletionCandidate(o: ApiObject, finalizer: string): boolean {
  return !!o.metadata.deletionTimestamp && (o.metadata.finalizers ?? []).includes(finalizer);
}

/** Not being deleted and without `finalizer`. */
export function needToAddFinalizer(o: ApiObject, finalizer: string): boolean {
  return !o.metadata.deletionTimestamp && !(o.metadata.finalizers ?? []).includes(finalizer);
}

// ---- pods and claims ---------------------------------------------------------------------------

/** The claim of a generic ephemeral volume: `<pod name>-<volume name>` (upstream ephemeral.VolumeClaimName). */
export function ephemeralClaimName(pod: Pod, volume: Volume): string {
  return `${pod.metadata.name}-${volume.name}`;
}

/** `namespace/claim` for every claim a pod's volumes name, directly or as an ephemeral volume. */
export function podPvcIndexFunc(pod: Pod): string[] {
  const out: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    const claim = v.persistentVolumeClaim ? v.persistentVolumeClaim.claimName : v.ephemeral ? ephemeralClaimName(pod, v) : '';
    if (claim) out.push(`${pod.metadata.namespace}/${claim}`);
  }
  return out;
}

/** The kubelet is done with the pod or it was force-deleted: deleted with a grace period of 0. */
export function podIsShutDown(pod: Pod): boolean {
  return !!pod.metadata.deletionTimestamp && pod.metadata.deletionGracePeriodSeconds === 0;
}

/**
 * Upstream volumeutil.IsPodTerminated: the pod finished, or it is being deleted and none of its
 * containers runs (each is waiting or terminated).
 */
export function isPodTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') return true;
  if (!pod.metadata.deletionTimestamp) return false;
  const s = pod.status ?? {};
  const notRunning = (list: { state?: { waiting?: unknown; terminated?: unknown } }[] | undefined) => (list ?? []).every((c) => !!c.state?.terminated || !!c.state?.waiting);
  return notRunning(s.initContainerStatuses) && notRunning(s.containerStatuses) && notRunning(s.ephemeralContainerStatuses);
}

/** Whether `pod` keeps `pvc` from being removed (upstream podUsesPVC). */
export function podUsesClaim(pod: Pod, pvc: PersistentVolumeClaim): boolean {
  if (!pod.spec?.nodeName) return false;
  if (pod.metadata.namespace !== pvc.metadata.namespace) return false;
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim && v.persistentVolumeClaim.claimName === pvc.metadata.name) return true;
    if (v.ephemeral && !podIsShutDown(pod) && ephemeralClaimName(pod, v) === pvc.metadata.name && isControlledBy(pvc, pod)) return true;
  }
  return false;
}

function isControlledBy(o: ApiObject, owner: ApiObject): boolean {
  const ref = (o.metadata.ownerReferences ?? []).find((r) => r.controller);
  return !!ref && !!owner.metadata.uid && ref.uid === owner.metadata.uid;
}

/**
 * The claims a pod event should wake (upstream enqueuePVCs): none while the pod is live on a
 * node and not deleted; otherwise every claim its volumes name.
 */
export function claimsToWake(pod: Pod, deleted: boolean): string[] {
  if (!deleted && !isPodTerminated(pod) && pod.spec?.nodeName) return [];
  return podPvcIndexFunc(pod);
}

// ---- the controller ----------------------------------------------------------------------------

export function startPvcProtectionController(ctx: ControllerContext): void {
  const name = 'pvc-protection';
  const log = (m: string) => ctx.log(`${name}: ${m}`);
  const claims = ctx.informers.typedInformerFor(resources.persistentVolumeClaims);
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const cs = clientset(ctx.client);
  try {
    pods.addIndexers({ [podPvcIndex]: podPvcIndexFunc });
  } catch {
    // Another controller of this process indexed pods by claim already (upstream AddIndexerIfNotPresent).
  }

  /** Claim keys; a key stays in flight (no `done`) from `get` until its namespace batch handled it. */
  const queue = new WorkQueue<string>({ name: 'pvcprotection' });
  /** Namespaces with claims waiting, and the claims (upstream pvcProcessingStore). */
  const namespaceQueue = new WorkQueue<string>({ name: 'pvcprotection-namespaces' });
  const batches = new Map<string, string[]>();

  claims.addEventHandler({ onAdd: claimEvent, onUpdate: (_old, pvc) => claimEvent(pvc) });
  pods.addEventHandler({
    onAdd: (pod) => podEvent(undefined, pod, false),
    onUpdate: (old, pod) => podEvent(old, pod, false),
    onDelete: (pod) => podEvent(undefined, pod, true),
  });

  function claimEvent(pvc: PersistentVolumeClaim): void {
    if (needToAddFinalizer(pvc, pvcProtectionFinalizer) || isDeletionCandidate(pvc, pvcProtectionFinalizer)) queue.add(`${pvc.metadata.namespace}/${pvc.metadata.name}`);
  }

  function podEvent(old: Pod | undefined, pod: Pod, deleted: boolean): void {
    for (const key of claimsToWake(pod, deleted)) queue.add(key);
    // An update may hide the deletion of one pod and the creation of another of the same name.
    if (old && old.metadata.uid !== pod.metadata.uid) for (const key of claimsToWake(old, true)) queue.add(key);
  }

  /** The namespace's pods from the API server, listed at most once per batch. */
  interface LivePods {
    pods?: Pod[];
  }

  async function isBeingUsed(pvc: PersistentVolumeClaim, live: LivePods): Promise<boolean> {
    const key = `${pvc.metadata.namespace}/${pvc.metadata.name}`;
    if (pods.store.byIndex(podPvcIndex, key).some((p) => podUsesClaim(p, pvc))) return true;
    // Not in the cache does not mean no such pod: it may not have reached the cache yet.
    if (!live.pods) {
      try {
        live.pods = (await cs.pods.list({ namespace: pvc.metadata.namespace })).items ?? [];
      } catch (err) {
        throw new Error(`live list of pods failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    return live.pods.some((p) => podUsesClaim(p, pvc));
  }

  async function processClaim(namespace: string, claimName: string, live: LivePods): Promise<void> {
    const pvc = claims.store.get(`${namespace}/${claimName}`);
    if (!pvc) return;
    if (isDeletionCandidate(pvc, pvcProtectionFinalizer)) {
      if (!(await isBeingUsed(pvc, live))) return writeFinalizers(pvc, (pvc.metadata.finalizers ?? []).filter((f) => f !== pvcProtectionFinalizer), 'removed');
      log(`keeping claim ${namespace}/${claimName}: a pod uses it`);
    }
    if (needToAddFinalizer(pvc, pvcProtectionFinalizer)) return writeFinalizers(pvc, [...(pvc.metadata.finalizers ?? []), pvcProtectionFinalizer], 'added');
  }

  async function writeFinalizers(pvc: PersistentVolumeClaim, finalizers: string[], what: string): Promise<void> {
    const next = structuredClone(pvc);
    next.metadata.finalizers = finalizers;
    try {
      await cs.persistentVolumeClaims.update(next, { namespace: pvc.metadata.namespace });
    } catch (err) {
      // Gone meanwhile: nothing left to protect or release.
      if (isNotFound(err)) return;
      throw err;
    }
    log(`${what} protection finalizer on claim ${pvc.metadata.namespace}/${pvc.metadata.name}`);
  }

  /** Moves claim keys into their namespace's batch (upstream's main worker). */
  async function batchKeys(): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const { namespace } = splitKey(key);
      let batch = batches.get(namespace);
      if (!batch) {
        batches.set(namespace, (batch = []));
        namespaceQueue.add(namespace);
      }
      batch.push(key);
    }
  }

  /** Handles one namespace's batch at a time, sharing a live pod list (upstream's namespace worker). */
  async function processBatches(): Promise<void> {
    for (;;) {
      const namespace = await namespaceQueue.get();
      if (namespace === undefined) return;
      const batch = batches.get(namespace) ?? [];
      batches.delete(namespace);
      namespaceQueue.done(namespace);
      const live: LivePods = {};
      for (const key of batch) {
        try {
          await processClaim(namespace, splitKey(key).name, live);
          queue.forget(key);
        } catch (err) {
          queue.addRateLimited(key);
          log(`claim ${key} failed: ${err instanceof Error ? err.message : String(err)} (retry ${queue.numRequeues(key)})`);
        } finally {
          queue.done(key);
        }
      }
    }
  }

  const stop = () => {
    queue.shutDown();
    namespaceQueue.shutDown();
  };
  if (ctx.signal.aborted) stop();
  else ctx.signal.addEventListener('abort', stop, { once: true });
  void (async () => {
    if (!(await waitForCacheSync(ctx.signal, claims, pods))) return stop();
    log('caches synced');
    await Promise.all([batchKeys(), processBatches()]);
  })().catch((err: unknown) => log(`workers stopped: ${err instanceof Error ? err.message : String(err)}`));
}
