/**
 * The PV protection controller, as upstream's pkg/controller/volume/pvprotection: a volume that
 * is being deleted keeps its `kubernetes.io/pv-protection` finalizer (added at creation by the
 * StorageObjectInUseProtection admission plugin) while its status phase is Bound, and loses it
 * — so the deletion completes — once it is not. A volume not being deleted that lacks the
 * finalizer gets it (volumes made before the plugin was on). Upstream decides on the phase the
 * persistent volume binder writes, not on claims: so does this.
 *
 * Finalizers are changed with an update of the cached volume; failures (a conflict included)
 * are retried with the queue's backoff. One worker, as upstream runs it.
 */
import { isNotFound } from '../api/errors.ts';
import type { PersistentVolume } from '../api/index.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';
import { isDeletionCandidate, needToAddFinalizer } from './pvcprotection.ts';

export const pvProtectionFinalizer = 'kubernetes.io/pv-protection';

/** Whether a volume is in use: its status says Bound (upstream isBeingUsed). */
export function isVolumeBeingUsed(pv: PersistentVolume): boolean {
  return pv.status?.phase === 'Bound';
}

export function startPvProtectionController(ctx: ControllerContext): void {
  const name = 'pv-protection';
  const log = (m: string) => ctx.log(`${name}: ${m}`);
  const volumes = ctx.informers.typedInformerFor(resources.persistentVolumes);
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'pvprotection', workers: 1, waitFor: [volumes] });
  const onVolume = (pv: PersistentVolume) => {
    if (needToAddFinalizer(pv, pvProtectionFinalizer) || isDeletionCandidate(pv, pvProtectionFinalizer)) queue.add(pv.metadata.name!);
  };
  volumes.addEventHandler({ onAdd: onVolume, onUpdate: (_old, pv) => onVolume(pv) });

  async function sync(volumeName: string): Promise<void> {
    const pv = volumes.store.get(volumeName);
    if (!pv) return;
    if (isDeletionCandidate(pv, pvProtectionFinalizer)) {
      if (!isVolumeBeingUsed(pv)) return writeFinalizers(pv, (pv.metadata.finalizers ?? []).filter((f) => f !== pvProtectionFinalizer), 'removed');
      log(`keeping volume ${volumeName}: it is bound`);
    }
    if (needToAddFinalizer(pv, pvProtectionFinalizer)) return writeFinalizers(pv, [...(pv.metadata.finalizers ?? []), pvProtectionFinalizer], 'added');
  }

  async function writeFinalizers(pv: PersistentVolume, finalizers: string[], what: string): Promise<void> {
    const next = structuredClone(pv);
    next.metadata.finalizers = finalizers;
    try {
      await cs.persistentVolumes.update(next);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    log(`${what} protection finalizer on volume ${pv.metadata.name}`);
  }
}
