/**
 * The decisions of the PersistentVolume binder, as upstream's pv_controller.go (syncClaim,
 * syncUnboundClaim, syncBoundClaim, syncVolume, bind, unbindVolume, reclaimVolume,
 * provisionClaim), with upstream's annotations, phases, events and messages:
 *
 * Claims
 * - Unbound, no volume named: the best volume (pvbinder-match.ts findBestMatch) is bound: the
 *   volume's claimRef and `pv.kubernetes.io/bound-by-controller` first, its phase Bound, then the
 *   claim's volumeName with `pv.kubernetes.io/bind-completed` (and bound-by-controller), then its
 *   status (Bound, the volume's access modes and capacity). Without a volume: a claim without
 *   any class gets the default class (retroactively, once); a WaitForFirstConsumer claim the
 *   scheduler has not placed waits (events WaitForFirstConsumer, or WaitForPodScheduled naming
 *   its pods); a claim of a class is handed to the provisioner (below); one of class "" stays
 *   Pending (FailedBinding "no persistent volumes available for this claim and no storage class
 *   is set").
 * - Unbound, a volume named (`spec.volumeName`): bound when the volume is free and fits
 *   (VolumeMismatch "Cannot bind to requested volume ...: <reason>" otherwise), the binding
 *   finished when the volume already names the claim, Pending (FailedBinding "volume ... already
 *   bound to a different claim.") when it names another.
 * - Bound: Lost when its volume is gone ("Bound claim has lost its PersistentVolume. Data on the
 *   volume is lost!") or its volumeName was cleared, Lost (ClaimMisbound) when the volume names
 *   another claim, else the binding is re-asserted (idempotent: nothing is written when whole).
 *
 * Volumes
 * - No claimRef, or a claimRef without uid (pre-bound by the user): Available.
 * - The claim is gone (checked in the cache, then the informer, then the API server) or
 *   replaced by one with another uid: Released, then the reclaim policy: Retain keeps it;
 *   Delete leaves dynamically provisioned volumes of an external provisioner (any name not under
 *   `kubernetes.io/`, e.g. Bosun's `bosun.dev/local-path`) and CSI volumes to it, and marks
 *   others Failed (VolumeFailedDelete): Bosun has no in-tree deleter; Recycle is refused as
 *   upstream does for volumes without a recycler (Failed, VolumeFailedRecycle "No recycler
 *   plugin found for the volume!"), or reported while pods still use the claim.
 * - The claim is not bound yet: the claim is queued (a provisioner's new volume is bound by the
 *   claim's sync); a volumeMode mismatch is a VolumeMismatch event on both.
 * - The claim is bound to it: Bound. Bound elsewhere: a provisioned Delete volume is released
 *   and reclaimed, one bound by the controller is unbound (Available again), one pre-bound by
 *   the user keeps its claimRef without uid.
 *
 * Dynamic provisioning is always external here, as upstream's for CSI drivers: the claim gets
 * `volume.kubernetes.io/storage-provisioner` and the beta `volume.beta.kubernetes.io/storage-provisioner`
 * (the CSI driver's name for migrated in-tree provisioners, e.g. `pd.csi.storage.gke.io` for
 * `kubernetes.io/gce-pd`) and the event ExternalProvisioning "Waiting for a volume to be created
 * either by the external provisioner '<name>' or manually by the system administrator. If volume
 * creation is delayed, please verify that the provisioner is running and correctly registered."
 * on every sync while it waits (as upstream, every resync). Other `kubernetes.io/` provisioners
 * have no plugin: ProvisioningFailed "no volume plugin matched name: <name>"; a missing class:
 * ProvisioningFailed `storageclass.storage.k8s.io "<name>" not found`.
 *
 * Every write is an update of the cached object (optimistic concurrency); its result goes back
 * into the binder's caches. A failed write throws: the caller's queue retries with backoff, and
 * the next sync completes the work (each step is idempotent, as upstream's).
 */
import { isNotFound } from '../api/errors.ts';
import type { PersistentVolume, PersistentVolumeClaim, Pod, StorageClass } from '../api/index.ts';
import type { Clientset, Recorder } from '../client/index.ts';
import type { ClaimCache, VolumeCache } from './pvbinder-cache.ts';
import {
  annBetaStorageProvisioner,
  annBindCompleted,
  annBoundByController,
  annDynamicallyProvisioned,
  annMigratedTo,
  annPreResizeCapacity,
  annSelectedNode,
  annStorageProvisioner,
  bindVolumeToClaim,
  claimClass,
  claimHasClass,
  claimKey,
  defaultClass,
  findBestMatch,
  hasAnnotation,
  isVolumeBoundToClaim,
  migratedProvisioners,
  provisionerName,
  volumeMismatchReason,
  volumeModeMismatch,
} from './pvbinder-match.ts';
import { isPodTerminated } from './pvcprotection.ts';

/** The event reasons the binder records (upstream pkg/controller/volume/events). */
export const reasons = {
  failedBinding: 'FailedBinding',
  volumeMismatch: 'VolumeMismatch',
  waitForFirstConsumer: 'WaitForFirstConsumer',
  waitForPodScheduled: 'WaitForPodScheduled',
  externalProvisioning: 'ExternalProvisioning',
  provisioningFailed: 'ProvisioningFailed',
  volumeFailedDelete: 'VolumeFailedDelete',
  volumeFailedRecycle: 'VolumeFailedRecycle',
  claimLost: 'ClaimLost',
  claimMisbound: 'ClaimMisbound',
  volumeUnknownReclaimPolicy: 'VolumeUnknownReclaimPolicy',
} as const;

export function externalProvisioningMessage(provisioner: string): string {
  return `Waiting for a volume to be created either by the external provisioner '${provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.`;
}

/** What the binder reads and writes with. */
export interface BinderDeps {
  volumes: VolumeCache;
  claims: ClaimCache;
  /** The informer's claim (upstream's claimLister), for the double check before releasing a volume. */
  informerClaim(key: string): PersistentVolumeClaim | undefined;
  storageClass(name: string): StorageClass | undefined;
  storageClasses(): StorageClass[];
  /** Pods whose volumes name the claim `namespace/name` (upstream's pod-PVC index). */
  podsOfClaim(key: string): Pod[];
  cs: Clientset;
  recorder: Recorder;
  /** Queues a claim's sync (upstream claimQueue.Add). */
  enqueueClaim(key: string): void;
  log(msg: string): void;
}

export class PvBinder {
  #d: BinderDeps;

  constructor(deps: BinderDeps) {
    this.#d = deps;
  }

  // ---- claims -----------------------------------------------------------------------------------

  async syncClaim(claim: PersistentVolumeClaim): Promise<void> {
    if (!hasAnnotation(claim, annBindCompleted)) return this.#syncUnboundClaim(claim);
    return this.#syncBoundClaim(claim);
  }

  /** Upstream IsDelayBindingMode: the claim's class exists and waits for the first consumer. */
  isDelayBinding(claim: PersistentVolumeClaim): boolean {
    const name = claimClass(claim);
    if (!name) return false;
    return this.#d.storageClass(name)?.volumeBindingMode === 'WaitForFirstConsumer';
  }

  async #syncUnboundClaim(claim: PersistentVolumeClaim): Promise<void> {
    const d = this.#d;
    const wanted = claim.spec?.volumeName ?? '';
    if (!wanted) {
      const delay = this.isDelayBinding(claim);
      const volume = findBestMatch(claim, d.volumes.candidates(claimClass(claim), claimKey(claim)), delay);
      if (volume) return this.bind(volume, claim);
      if (await this.#assignDefaultStorageClass(claim)) return;
      if (delay && !hasAnnotation(claim, annSelectedNode)) {
        this.#emitUnboundDelayBindingEvent(claim);
      } else if (claimClass(claim) !== '') {
        return this.#provisionClaim(claim);
      } else {
        d.recorder.event(claim, 'Normal', reasons.failedBinding, 'no persistent volumes available for this claim and no storage class is set');
      }
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    const volume = d.volumes.get(wanted);
    if (!volume) {
      // Asked for a volume that does not exist (yet): Pending, tried again on the next sync.
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    if (!volume.spec?.claimRef) {
      const why = volumeMismatchReason(volume, claim);
      if (why) {
        d.recorder.event(claim, 'Warning', reasons.volumeMismatch, `Cannot bind to requested volume "${volume.metadata.name}": ${why}`);
        await this.#updateClaimStatus(claim, 'Pending', undefined);
        return;
      }
      return this.bind(volume, claim);
    }
    if (isVolumeBoundToClaim(volume, claim)) return this.bind(volume, claim);
    d.recorder.event(claim, 'Warning', reasons.failedBinding, `volume "${volume.metadata.name}" already bound to a different claim.`);
    if (!hasAnnotation(claim, annBoundByController)) {
      await this.#updateClaimStatus(claim, 'Pending', undefined);
      return;
    }
    const ref = volume.spec.claimRef;
    throw new Error(`invalid binding of claim "${claimKey(claim)}" to volume "${wanted}": volume already claimed by "${ref.namespace}/${ref.name}"`);
  }

  async #syncBoundClaim(claim: PersistentVolumeClaim): Promise<void> {
    const d = this.#d;
    const name = claim.spec?.volumeName ?? '';
    if (!name) {
      await this.#updateClaimStatusWithEvent(claim, 'Lost', reasons.claimLost, 'Bound claim has lost reference to PersistentVolume. Data on the volume is lost!');
      return;
    }
    const volume = d.volumes.get(name);
    if (!volume) {
      await this.#updateClaimStatusWithEvent(claim, 'Lost', reasons.claimLost, 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      return;
    }
    const ref = volume.spec?.claimRef;
    if (!ref || ref.uid === claim.metadata.uid) return this.bind(volume, claim);
    await this.#updateClaimStatusWithEvent(claim, 'Lost', reasons.claimMisbound, 'Two claims are bound to the same volume, this one is bound incorrectly');
  }

  /** Upstream emitEventForUnboundDelayBindingClaim. */
  #emitUnboundDelayBindingEvent(claim: PersistentVolumeClaim): void {
    const pods = this.#d
      .podsOfClaim(claimKey(claim))
      .filter((p) => !isPodTerminated(p) && !p.spec?.nodeName)
      .map((p) => p.metadata.name ?? '');
    if (!pods.length) {
      this.#d.recorder.event(claim, 'Normal', reasons.waitForFirstConsumer, 'waiting for first consumer to be created before binding');
      return;
    }
    const message = pods.length > 1 ? `waiting for pods ${pods.join(',')} to be scheduled` : `waiting for pod ${pods[0]} to be scheduled`;
    this.#d.recorder.event(claim, 'Normal', reasons.waitForPodScheduled, message);
  }

  /** Upstream assignDefaultStorageClass: a claim without any class gets the default one. */
  async #assignDefaultStorageClass(claim: PersistentVolumeClaim): Promise<boolean> {
    if (claimHasClass(claim)) return false;
    const sc = defaultClass(this.#d.storageClasses());
    if (!sc) return false;
    const next = structuredClone(claim);
    next.spec = { ...next.spec, storageClassName: sc.metadata.name };
    this.#storeClaim(await this.#d.cs.persistentVolumeClaims.update(next, { namespace: claim.metadata.namespace }));
    this.#d.log(`assigned default StorageClass ${sc.metadata.name} to claim ${claimKey(claim)}`);
    return true;
  }

  /** Upstream provisionClaim for external provisioners (the only kind Bosun has). */
  async #provisionClaim(claim: PersistentVolumeClaim): Promise<void> {
    const d = this.#d;
    const name = claimClass(claim);
    const sc = d.storageClass(name);
    if (!sc) {
      d.recorder.event(claim, 'Warning', reasons.provisioningFailed, `storageclass.storage.k8s.io "${name}" not found`);
      return;
    }
    const migrated = migratedProvisioners[sc.provisioner];
    if (!migrated && sc.provisioner.startsWith('kubernetes.io/')) {
      d.recorder.event(claim, 'Warning', reasons.provisioningFailed, `no volume plugin matched name: ${sc.provisioner}`);
      return;
    }
    const provisioner = provisionerName(sc.provisioner);
    let current = claim;
    if (claim.metadata.annotations?.[annStorageProvisioner] !== provisioner) {
      const next = structuredClone(claim);
      next.metadata.annotations = { ...next.metadata.annotations, [annBetaStorageProvisioner]: provisioner, [annStorageProvisioner]: provisioner };
      try {
        current = await d.cs.persistentVolumeClaims.update(next, { namespace: claim.metadata.namespace });
      } catch (err) {
        d.recorder.event(claim, 'Warning', reasons.provisioningFailed, `Error saving claim: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
      this.#storeClaim(current);
    }
    d.recorder.event(current, 'Normal', reasons.externalProvisioning, externalProvisioningMessage(provisioner));
  }

  // ---- volumes ----------------------------------------------------------------------------------

  async syncVolume(volume: PersistentVolume): Promise<void> {
    const d = this.#d;
    const ref = volume.spec?.claimRef;
    if (!ref || !ref.uid) {
      await this.#updateVolumePhase(volume, 'Available', '');
      return;
    }
    const key = `${ref.namespace ?? ''}/${ref.name ?? ''}`;
    let claim: PersistentVolumeClaim | undefined = d.claims.get(key);
    const phase = volume.status?.phase;
    if (!claim && phase !== 'Released' && phase !== 'Failed') {
      // A provisioner or the scheduler may have written the volume before the claim reached this
      // cache: ask the informer, then the API server, before releasing anything.
      claim = d.informerClaim(key) ?? (await this.#liveClaim(ref.namespace ?? '', ref.name ?? ''));
    }
    if (claim && claim.metadata.uid !== ref.uid) {
      // The cached claim may be older than the claimRef: the API server decides.
      const live = await this.#liveClaim(ref.namespace ?? '', ref.name ?? '');
      claim = live && live.metadata.uid === ref.uid ? live : undefined;
    }
    if (!claim) {
      let v = volume;
      if (phase !== 'Released' && phase !== 'Failed') {
        d.log(`volume ${volume.metadata.name} is released (claim ${key} gone); reclaim policy ${volume.spec?.persistentVolumeReclaimPolicy}`);
        v = await this.#updateVolumePhase(volume, 'Released', '');
      }
      await this.#reclaimVolume(v);
      return;
    }
    const bound = claim.spec?.volumeName ?? '';
    if (!bound) {
      if (volumeModeMismatch(claim, volume)) {
        d.recorder.event(volume, 'Warning', reasons.volumeMismatch, `Cannot bind PersistentVolume to requested PersistentVolumeClaim "${claim.metadata.name}" due to incompatible volumeMode.`);
        d.recorder.event(claim, 'Warning', reasons.volumeMismatch, `Cannot bind PersistentVolume "${volume.metadata.name}" to requested PersistentVolumeClaim due to incompatible volumeMode.`);
        return;
      }
      // The claim's sync binds it (speeds up provisioned volumes: the provisioner only writes the PV).
      d.enqueueClaim(key);
      return;
    }
    if (bound === volume.metadata.name) {
      await this.#updateVolumePhase(volume, 'Bound', '');
      return;
    }
    // The claim is bound to another volume.
    if (hasAnnotation(volume, annDynamicallyProvisioned) && volume.spec?.persistentVolumeReclaimPolicy === 'Delete') {
      let v = volume;
      if (phase !== 'Released' && phase !== 'Failed') v = await this.#updateVolumePhase(volume, 'Released', '');
      await this.#reclaimVolume(v);
      return;
    }
    await this.unbindVolume(volume);
  }

  /** Upstream isVolumeReleased: bound (with uid) to a claim that is gone or bound elsewhere. */
  #isVolumeReleased(volume: PersistentVolume): boolean {
    const ref = volume.spec?.claimRef;
    if (!ref || !ref.uid) return false;
    const claim = this.#d.claims.get(`${ref.namespace ?? ''}/${ref.name ?? ''}`);
    if (claim && claim.metadata.uid === ref.uid) {
      const vn = claim.spec?.volumeName ?? '';
      return !!vn && vn !== volume.metadata.name;
    }
    return true;
  }

  async #reclaimVolume(volume: PersistentVolume): Promise<void> {
    const d = this.#d;
    if (volume.metadata.annotations?.[annMigratedTo]) return; // the CSI driver's side reclaims it
    const policy = volume.spec?.persistentVolumeReclaimPolicy;
    switch (policy) {
      case 'Retain':
        return;
      case 'Recycle': {
        if (!this.#isVolumeReleased(volume)) return;
        const ref = volume.spec?.claimRef;
        const key = ref ? `${ref.namespace ?? ''}/${ref.name ?? ''}` : '';
        const users = key
          ? d
              .podsOfClaim(key)
              .filter((p) => !isPodTerminated(p))
              .map((p) => `${p.metadata.namespace}/${p.metadata.name}`)
              .sort()
          : [];
        if (users.length && !d.claims.get(key)) {
          d.recorder.event(volume, 'Normal', reasons.volumeFailedRecycle, `Volume is used by pods: ${users.join(',')}`);
          return;
        }
        await this.#updateVolumePhaseWithEvent(volume, 'Failed', 'Warning', reasons.volumeFailedRecycle, 'No recycler plugin found for the volume!');
        return;
      }
      case 'Delete': {
        if (!this.#isVolumeReleased(volume)) return;
        const by = volume.metadata.annotations?.[annDynamicallyProvisioned] ?? '';
        // An external provisioner (or a CSI driver) deletes its own volumes.
        if (by && (!by.startsWith('kubernetes.io/') || migratedProvisioners[by])) return;
        if (volume.spec?.csi) return;
        const msg = `error getting deleter volume plugin for volume "${volume.metadata.name}": no deletable volume plugin matched`;
        await this.#updateVolumePhaseWithEvent(volume, 'Failed', 'Warning', reasons.volumeFailedDelete, msg);
        return;
      }
      default:
        await this.#updateVolumePhaseWithEvent(volume, 'Failed', 'Warning', reasons.volumeUnknownReclaimPolicy, 'Volume has unrecognized PersistentVolumeReclaimPolicy');
    }
  }

  // ---- binding ----------------------------------------------------------------------------------

  /** Upstream bind: the volume first (claimRef, then phase), then the claim (spec, then status). */
  async bind(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    const d = this.#d;
    let v = volume;
    const { volume: next, changed } = bindVolumeToClaim(volume, claim);
    if (changed) {
      v = await d.cs.persistentVolumes.update(next);
      this.#storeVolume(v);
      d.log(`claim ${claimKey(claim)} bound to volume ${v.metadata.name}`);
    }
    v = await this.#updateVolumePhase(v, 'Bound', '');
    const c = await this.#bindClaimToVolume(claim, v);
    await this.#updateClaimStatus(c, 'Bound', v);
  }

  async #bindClaimToVolume(claim: PersistentVolumeClaim, volume: PersistentVolume): Promise<PersistentVolumeClaim> {
    const rebind = claim.spec?.volumeName !== volume.metadata.name;
    if (!rebind && hasAnnotation(claim, annBindCompleted)) return claim;
    const next = structuredClone(claim);
    const ann = { ...next.metadata.annotations };
    if (rebind) {
      next.spec = { ...next.spec, volumeName: volume.metadata.name };
      if (ann[annBoundByController] === undefined) ann[annBoundByController] = 'yes';
    }
    if (ann[annBindCompleted] === undefined) ann[annBindCompleted] = 'yes';
    next.metadata.annotations = ann;
    const saved = await this.#d.cs.persistentVolumeClaims.update(next, { namespace: claim.metadata.namespace });
    this.#storeClaim(saved);
    this.#d.log(`volume ${volume.metadata.name} bound to claim ${claimKey(claim)}`);
    return saved;
  }

  /** Upstream unbindVolume: the controller's binding is removed, a user's pre-binding loses its uid. */
  async unbindVolume(volume: PersistentVolume): Promise<void> {
    const next = structuredClone(volume);
    if (hasAnnotation(volume, annBoundByController)) {
      delete next.spec!.claimRef;
      const ann = { ...next.metadata.annotations };
      delete ann[annBoundByController];
      next.metadata.annotations = Object.keys(ann).length ? ann : undefined;
    } else if (next.spec?.claimRef) {
      next.spec.claimRef = { ...next.spec.claimRef, uid: '' };
    }
    const saved = await this.#d.cs.persistentVolumes.update(next);
    this.#storeVolume(saved);
    this.#d.log(`volume ${volume.metadata.name} unbound`);
    await this.#updateVolumePhase(saved, 'Available', '');
  }

  // ---- status writes ----------------------------------------------------------------------------

  /** Upstream updateClaimStatus: phase, access modes and (when becoming bound) capacity; no write when nothing changes. */
  async #updateClaimStatus(claim: PersistentVolumeClaim, phase: string, volume: PersistentVolume | undefined): Promise<PersistentVolumeClaim> {
    const status = { ...claim.status };
    let dirty = false;
    if (claim.status?.phase !== phase) {
      status.phase = phase;
      dirty = true;
    }
    if (!volume) {
      if (status.accessModes !== undefined) {
        delete status.accessModes;
        dirty = true;
      }
      if (status.capacity !== undefined) {
        delete status.capacity;
        dirty = true;
      }
    } else {
      const modes = volume.spec?.accessModes ?? [];
      const have = status.accessModes;
      if (!have || have.length !== modes.length || have.some((m, i) => m !== modes[i])) {
        status.accessModes = [...modes];
        dirty = true;
      }
      // Capacity only as the claim becomes Bound: a later difference may be a resize in progress.
      if (claim.status?.phase !== phase) {
        const cap = volume.spec?.capacity?.['storage'];
        if (cap === undefined) throw new Error(`PersistentVolume "${volume.metadata.name}" is without a storage capacity`);
        const pre = volume.metadata.annotations?.[annPreResizeCapacity];
        if (pre !== undefined) {
          status.capacity = { ...status.capacity, storage: pre };
          dirty = true;
        } else if (status.capacity?.['storage'] !== cap) {
          status.capacity = { ...volume.spec!.capacity };
          dirty = true;
        }
      }
    }
    if (!dirty) return claim;
    const next = structuredClone(claim);
    next.status = status;
    const saved = await this.#d.cs.persistentVolumeClaims.updateStatus(next, { namespace: claim.metadata.namespace });
    this.#storeClaim(saved);
    this.#d.log(`claim ${claimKey(claim)} entered phase ${phase}`);
    return saved;
  }

  async #updateClaimStatusWithEvent(claim: PersistentVolumeClaim, phase: string, reason: string, message: string): Promise<void> {
    if (claim.status?.phase === phase) return;
    const saved = await this.#updateClaimStatus(claim, phase, undefined);
    this.#d.recorder.event(saved, 'Warning', reason, message);
  }

  /** Upstream updateVolumePhase (the API server moves lastPhaseTransitionTime with the phase). */
  async #updateVolumePhase(volume: PersistentVolume, phase: string, message: string): Promise<PersistentVolume> {
    if (volume.status?.phase === phase) return volume;
    const next = structuredClone(volume);
    next.status = { ...next.status, phase, message: message || undefined };
    if (!message) delete next.status.message;
    const saved = await this.#d.cs.persistentVolumes.updateStatus(next);
    this.#storeVolume(saved);
    this.#d.log(`volume ${volume.metadata.name} entered phase ${phase}`);
    return saved;
  }

  async #updateVolumePhaseWithEvent(volume: PersistentVolume, phase: string, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (volume.status?.phase === phase) return;
    const saved = await this.#updateVolumePhase(volume, phase, message);
    this.#d.recorder.event(saved, type, reason, message);
  }

  async #liveClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    try {
      return await this.#d.cs.persistentVolumeClaims.get(name, { namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  #storeClaim(c: PersistentVolumeClaim): void {
    this.#d.claims.store(c);
  }

  #storeVolume(v: PersistentVolume): void {
    this.#d.volumes.store(v);
  }
}
