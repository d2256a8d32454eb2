/**
 * The PersistentVolume binder controller (upstream `persistentvolume-binder`,
 * pkg/controller/volume/persistentvolume/pv_controller_base.go): binds claims to volumes,
 * hands claims of a class to its (external) provisioner, completes the binding of the volumes
 * provisioners create for claims (`claimRef` with the claim's uid), moves volumes through
 * Available / Bound / Released / Failed and claims through Pending / Bound / Lost, and applies
 * reclaim policies. The decisions are in pvbinder-sync.ts, the matching in pvbinder-match.ts.
 *
 * As upstream:
 * - two queues, claims (`namespace/name`) and volumes (`name`), one worker each; informer adds,
 *   updates and deletes only enqueue keys. A worker syncs the informer's object only when it is
 *   not older than the binder's own cache (pvbinder-cache.ts, which also holds the objects the
 *   binder's writes returned); an object gone from the informer is a deletion: a deleted claim
 *   wakes its volume, a deleted volume wakes its claim.
 * - every `resyncMs` (upstream --pvclaimbinder-sync-period, 15 s) every claim and volume is
 *   queued again: waiting claims are retried and repeat their event, as upstream's do.
 * - the pods informer, indexed by claim (upstream's pod-PVC index, shared with pvc-protection),
 *   names the pods a WaitForFirstConsumer claim waits for and the users of a volume to recycle.
 *
 * Unlike upstream, a failed sync is retried with the queue's per-item backoff (5 ms doubling to
 * 1000 s) instead of waiting for the next resync. The queues hold each key at most once, so
 * memory is bounded by the number of objects.
 */
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../api/index.ts';
import { clientset, resources, runWorkers, waitForCacheSync, WorkQueue } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { ClaimCache, VolumeCache } from './pvbinder-cache.ts';
import { claimKey, claimRefKey } from './pvbinder-match.ts';
import { PvBinder } from './pvbinder-sync.ts';
import { podPvcIndex, podPvcIndexFunc } from './pvcprotection.ts';

/** Upstream's default --pvclaimbinder-sync-period. */
export const defaultResyncMs = 15_000;
/** The recorder's component, as upstream's. */
export const pvBinderComponent = 'persistentvolume-controller';

export interface PvBinderOptions {
  /** How often every claim and volume is synced again (default 15 s). */
  resyncMs?: number;
}

export function startPersistentVolumeBinderController(ctx: ControllerContext, opts: PvBinderOptions = {}): void {
  const name = 'persistentvolume-binder';
  const log = (m: string) => ctx.log(`${name}: ${m}`);
  const claimsInf = ctx.informers.typedInformerFor(resources.persistentVolumeClaims);
  const volumesInf = ctx.informers.typedInformerFor(resources.persistentVolumes);
  const classesInf = ctx.informers.typedInformerFor(resources.storageClasses);
  const podsInf = ctx.informers.typedInformerFor(resources.pods, { indexers: { [podPvcIndex]: podPvcIndexFunc } });
  const volumes = new VolumeCache();
  const claims = new ClaimCache();
  const claimQueue = new WorkQueue<string>({ name: 'claims' });
  const volumeQueue = new WorkQueue<string>({ name: 'volumes' });

  const binder = new PvBinder({
    volumes,
    claims,
    informerClaim: (key) => claimsInf.store.get(key),
    storageClass: (n) => classesInf.store.get(n),
    storageClasses: () => classesInf.store.list(),
    podsOfClaim: (key) => podsInf.store.byIndex(podPvcIndex, key) as Pod[],
    cs: clientset(ctx.client),
    recorder: ctx.recorder(pvBinderComponent),
    enqueueClaim: (key) => claimQueue.add(key),
    log,
  });

  claimsInf.addEventHandler({
    onAdd: (c) => claimQueue.add(claimKey(c)),
    onUpdate: (_o, c) => claimQueue.add(claimKey(c)),
    onDelete: (c) => claimQueue.add(claimKey(c)),
  });
  volumesInf.addEventHandler({
    onAdd: (v) => volumeQueue.add(v.metadata.name ?? ''),
    onUpdate: (_o, v) => volumeQueue.add(v.metadata.name ?? ''),
    onDelete: (v) => volumeQueue.add(v.metadata.name ?? ''),
  });

  async function claimWorker(key: string): Promise<void> {
    const claim = claimsInf.store.get(key) as PersistentVolumeClaim | undefined;
    if (claim) {
      // Only a version not older than what the binder last saw or wrote.
      if (!claims.store(claim)) return;
      await binder.syncClaim(claim);
      return;
    }
    const gone = claims.delete(key);
    if (!gone) return;
    log(`claim ${key} deleted`);
    // The volume it was bound to is released (or freed); wake it.
    const vn = gone.spec?.volumeName;
    if (vn) volumeQueue.add(vn);
  }

  async function volumeWorker(key: string): Promise<void> {
    const volume = volumesInf.store.get(key) as PersistentVolume | undefined;
    if (volume) {
      if (!volumes.store(volume)) return;
      await binder.syncVolume(volume);
      return;
    }
    const gone = volumes.delete(key);
    if (!gone) return;
    log(`volume ${key} deleted`);
    // Its claim is Lost now (or was never bound); let its sync tell.
    const ref = claimRefKey(gone);
    if (ref) claimQueue.add(ref);
  }

  const resyncMs = opts.resyncMs ?? defaultResyncMs;
  const stop = () => {
    claimQueue.shutDown();
    volumeQueue.shutDown();
  };
  if (ctx.signal.aborted) stop();
  else ctx.signal.addEventListener('abort', stop, { once: true });

  void (async () => {
    if (!(await waitForCacheSync(ctx.signal, claimsInf, volumesInf, classesInf, podsInf))) return stop();
    // Upstream initializeCaches: fill the binder's caches before the first sync.
    for (const v of volumesInf.store.list()) volumes.store(v as PersistentVolume);
    for (const c of claimsInf.store.list()) claims.store(c as PersistentVolumeClaim);
    log('caches synced');
    const timer = setInterval(() => {
      for (const k of claimsInf.store.keys()) claimQueue.add(k);
      for (const k of volumesInf.store.keys()) volumeQueue.add(k);
    }, resyncMs);
    timer.unref();
    ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    const workerLog = (m: string) => log(m);
    await Promise.all([
      runWorkers(volumeQueue, 1, volumeWorker, { signal: ctx.signal, log: workerLog }),
      runWorkers(claimQueue, 1, claimWorker, { signal: ctx.signal, log: workerLog }),
    ]);
  })().catch((err: unknown) => log(`workers stopped: ${err instanceof Error ? err.message : String(err)}`));
}
