/**
 * Volume expansion (upstream `persistentvolume-expander`, pkg/controller/volume/expand, plus the
 * part of kubernetes-csi/external-resizer that Bosun's own provisioner needs).
 *
 * The expand controller, as upstream: a Bound claim is queued when added, or when its storage
 * request or its status capacity grows. Its sync finds the bound volume (an error, retried, when
 * the volume is missing or its claimRef does not name this claim: "persistent Volume is not
 * bound to PVC being updated : <ns>/<name>"), and does nothing unless the request exceeds
 * `status.capacity` (or the volume still carries `volume.alpha.kubernetes.io/pre-resize-capacity`).
 * Bosun has no in-tree expandable plugin, so, as upstream for CSI volumes, it records the Normal
 * event ExternalExpanding "waiting for an external controller to expand this PVC" (for in-tree
 * sources served by a CSI driver under migration: "CSI migration enabled for <plugin>; waiting
 * for external resizer to expand the pvc").
 *
 * The resizer, for volumes of Bosun's local-path provisioner (`pv.kubernetes.io/provisioned-by:
 * bosun.dev/local-path`; directories without quota, so neither the controller nor the node has
 * anything to grow): as external-resizer with RecoverVolumeExpansionFailure (on in 1.33), under
 * the component `external-resizer bosun.dev/local-path`:
 *   1. claim status: condition Resizing=True, allocatedResources.storage = the request,
 *      allocatedResourceStatuses.storage = ControllerResizeInProgress; event Resizing
 *      "External resizer is resizing volume <pv>";
 *   2. the volume's capacity set to the request;
 *   3. no node expansion is needed: claim status capacity = the request, the Resizing and
 *      FileSystemResizePending conditions and the resize status removed; event
 *      VolumeResizeSuccessful "Resize volume succeeded".
 * Each step is idempotent; a failure is retried with the queue's backoff and resumes where the
 * objects say it stopped. Volumes of any other provisioner wait for their own resizer.
 */
import type { PersistentVolume, PersistentVolumeClaim } from '../api/index.ts';
import { compareQuantity } from '../api/quantity.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';
import { annDynamicallyProvisioned, annPreResizeCapacity, hasAnnotation, localPathProvisionerName } from './pvbinder-match.ts';

export const expandComponent = 'volume_expand';
export const resizerComponent = `external-resizer ${localPathProvisionerName}`;
/** Upstream's defaultWorkerCount. */
const workers = 10;

/** In-tree volume sources a CSI driver serves under migration, by upstream plugin name. */
const migratedSources: [keyof NonNullable<PersistentVolume['spec']>, string][] = [
  ['awsElasticBlockStore', 'kubernetes.io/aws-ebs'],
  ['gcePersistentDisk', 'kubernetes.io/gce-pd'],
  ['azureDisk', 'kubernetes.io/azure-disk'],
  ['azureFile', 'kubernetes.io/azure-file'],
  ['cinder', 'kubernetes.io/cinder'],
  ['vsphereVolume', 'kubernetes.io/vsphere-volume'],
  ['portworxVolume', 'kubernetes.io/portworx-volume'],
];

const request = (c: PersistentVolumeClaim) => c.spec?.resources?.requests?.['storage'];
const statusCapacity = (c: PersistentVolumeClaim) => c.status?.capacity?.['storage'];

/** Whether the claim asks for more than it has (upstream's expand condition). */
export function needsExpansion(pvc: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  const req = request(pvc);
  if (req === undefined) return false;
  return compareQuantity(req, statusCapacity(pvc) ?? 0) > 0 || hasAnnotation(pv, annPreResizeCapacity);
}

/** Whether Bosun resizes the volume itself (its local-path provisioner made it). */
export function resizedByBosun(pv: PersistentVolume): boolean {
  return pv.metadata.annotations?.[annDynamicallyProvisioned] === localPathProvisionerName;
}

/** The message upstream's expand controller records for a volume it leaves to an external resizer. */
export function externalExpandingMessage(pv: PersistentVolume): string {
  for (const [field, plugin] of migratedSources) {
    if (pv.spec?.[field]) return `CSI migration enabled for ${plugin}; waiting for external resizer to expand the pvc`;
  }
  return 'waiting for an external controller to expand this PVC';
}

export function startVolumeExpandController(ctx: ControllerContext): void {
  const claims = ctx.informers.typedInformerFor(resources.persistentVolumeClaims);
  const volumes = ctx.informers.typedInformerFor(resources.persistentVolumes);
  const cs = clientset(ctx.client);
  const expandRecorder = ctx.recorder(expandComponent);
  const resizerRecorder = ctx.recorder(resizerComponent);
  const log = (m: string) => ctx.log(`persistentvolume-expander: ${m}`);

  const queue = startQueue(ctx, sync, { name: 'volume_expand', workers, waitFor: [claims, volumes] });
  const enqueue = (pvc: PersistentVolumeClaim) => {
    if (pvc.status?.phase === 'Bound') queue.add(`${pvc.metadata.namespace}/${pvc.metadata.name}`);
  };
  claims.addEventHandler({
    onAdd: enqueue,
    onUpdate: (old, pvc) => {
      const grew = compareQuantity(request(pvc) ?? 0, request(old) ?? 0) > 0 || compareQuantity(statusCapacity(pvc) ?? 0, statusCapacity(old) ?? 0) > 0;
      // A claim that just became Bound with a request above its capacity is also worth a look.
      const bound = old.status?.phase !== 'Bound' && pvc.status?.phase === 'Bound';
      if (grew || bound) enqueue(pvc);
    },
  });

  async function sync(key: string): Promise<void> {
    const pvc = claims.store.get(key);
    if (!pvc || pvc.status?.phase !== 'Bound') return;
    const name = pvc.spec?.volumeName ?? '';
    const pv = name ? volumes.store.get(name) : undefined;
    if (!pv) throw new Error(`failed to get PV "${name}": persistentvolume "${name}" not found`);
    const ref = pv.spec?.claimRef;
    if (!ref || ref.namespace !== pvc.metadata.namespace || ref.uid !== pvc.metadata.uid) throw new Error(`persistent Volume is not bound to PVC being updated : ${key}`);
    if (!needsExpansion(pvc, pv)) return;
    expandRecorder.event(pvc, 'Normal', 'ExternalExpanding', externalExpandingMessage(pv));
    if (!resizedByBosun(pv)) return;
    await resize(pvc, pv);
  }

  /** external-resizer's expandAndRecover for a volume with nothing to grow on the node. */
  async function resize(pvc: PersistentVolumeClaim, pv: PersistentVolume): Promise<void> {
    const size = request(pvc)!;
    const ns = pvc.metadata.namespace;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    let claim = pvc;
    if (claim.status?.allocatedResourceStatuses?.['storage'] !== 'ControllerResizeInProgress' || claim.status?.allocatedResources?.['storage'] !== size) {
      const next = structuredClone(claim);
      const conditions = (next.status?.conditions ?? []).filter((c) => c.type !== 'Resizing');
      conditions.push({ type: 'Resizing', status: 'True', lastProbeTime: null, lastTransitionTime: now });
      next.status = {
        ...next.status,
        conditions,
        allocatedResources: { ...next.status?.allocatedResources, storage: size },
        allocatedResourceStatuses: { ...next.status?.allocatedResourceStatuses, storage: 'ControllerResizeInProgress' },
      };
      claim = await cs.persistentVolumeClaims.updateStatus(next, { namespace: ns });
      resizerRecorder.event(claim, 'Normal', 'Resizing', `External resizer is resizing volume ${pv.metadata.name}`);
    }
    if (compareQuantity(pv.spec?.capacity?.['storage'] ?? 0, size) < 0) {
      const nextPv = structuredClone(pv);
      nextPv.spec = { ...nextPv.spec, capacity: { ...nextPv.spec?.capacity, storage: size } };
      await cs.persistentVolumes.update(nextPv);
      log(`volume ${pv.metadata.name} resized to ${size}`);
    }
    const done = structuredClone(claim);
    const statuses = { ...done.status?.allocatedResourceStatuses };
    delete statuses['storage'];
    const conditions = (done.status?.conditions ?? []).filter((c) => c.type !== 'Resizing' && c.type !== 'FileSystemResizePending');
    done.status = { ...done.status, capacity: { ...done.status?.capacity, storage: size }, conditions };
    if (Object.keys(statuses).length) done.status.allocatedResourceStatuses = statuses;
    else delete done.status.allocatedResourceStatuses;
    if (!conditions.length) delete done.status.conditions;
    await cs.persistentVolumeClaims.updateStatus(done, { namespace: ns });
    resizerRecorder.event(claim, 'Normal', 'VolumeResizeSuccessful', 'Resize volume succeeded');
    log(`claim ${ns}/${pvc.metadata.name} expanded to ${size}`);
  }
}
