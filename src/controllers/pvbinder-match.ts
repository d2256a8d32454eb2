/**
 * Matching PersistentVolumes to PersistentVolumeClaims, as upstream's storage helpers
 * (k8s.io/component-helpers/storage/volume pv_helpers.go, and the PV controller's index.go):
 * the claim's and volume's class (the beta annotation first), access modes (the volume must
 * offer every mode the claim asks for), volumeMode (Filesystem when unset), the
 * volumeAttributesClassName, the claim's selector, and the smallest volume that is big enough.
 * A volume pre-bound to the claim (`spec.claimRef` naming it, uid empty or equal) wins whatever
 * its class, as upstream.
 *
 * Pure functions over plain objects, shared by the PV binder (pvbinder.ts) and the scheduler's
 * VolumeBinding plugin (scheduler/volumes.ts), as upstream's component-helpers are shared by
 * kube-controller-manager and kube-scheduler; the scheduler passes a node check, the controller
 * none. Nothing here reads a cache or writes.
 */
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/index.ts';
import { parseQuantity } from '../api/quantity.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';

// ---- annotations and names, as upstream's ------------------------------------------------------

export const annBindCompleted = 'pv.kubernetes.io/bind-completed';
export const annBoundByController = 'pv.kubernetes.io/bound-by-controller';
export const annDynamicallyProvisioned = 'pv.kubernetes.io/provisioned-by';
export const annSelectedNode = 'volume.kubernetes.io/selected-node';
export const annStorageProvisioner = 'volume.kubernetes.io/storage-provisioner';
export const annBetaStorageProvisioner = 'volume.beta.kubernetes.io/storage-provisioner';
export const annMigratedTo = 'pv.kubernetes.io/migrated-to';
/** Set by a resizer on a PV whose filesystem still has the old size (upstream util.AnnPreResizeCapacity). */
export const annPreResizeCapacity = 'volume.alpha.kubernetes.io/pre-resize-capacity';
export const betaStorageClassAnnotation = 'volume.beta.kubernetes.io/storage-class';
export const isDefaultClassAnnotation = 'storageclass.kubernetes.io/is-default-class';
export const betaIsDefaultClassAnnotation = 'storageclass.beta.kubernetes.io/is-default-class';
/** A class whose volumes are only made by hand (upstream NotSupportedProvisioner). */
export const notSupportedProvisioner = 'kubernetes.io/no-provisioner';
/** Bosun's own provisioner of local volumes (the node agents', kubelet/localpath.ts). */
export const localPathProvisionerName = 'bosun.dev/local-path';

/**
 * In-tree provisioners whose volumes CSI drivers serve (CSI migration, locked on in 1.33):
 * upstream names the driver in its events and annotations instead of the in-tree plugin.
 */
export const migratedProvisioners: Readonly<Record<string, string>> = {
  'kubernetes.io/aws-ebs': 'ebs.csi.aws.com',
  'kubernetes.io/gce-pd': 'pd.csi.storage.gke.io',
  'kubernetes.io/azure-disk': 'disk.csi.azure.com',
  'kubernetes.io/azure-file': 'file.csi.azure.com',
  'kubernetes.io/cinder': 'cinder.csi.openstack.org',
  'kubernetes.io/vsphere-volume': 'csi.vsphere.vmware.com',
  'kubernetes.io/portworx-volume': 'pxd.portworx.com',
};

const has = (o: { metadata: { annotations?: Record<string, string> } }, key: string) => o.metadata.annotations?.[key] !== undefined;
export const hasAnnotation = has;

/** Upstream GetPersistentVolumeClaimClass: the beta annotation, else spec.storageClassName, else "". */
export function claimClass(claim: PersistentVolumeClaim): string {
  const ann = claim.metadata.annotations?.[betaStorageClassAnnotation];
  if (ann !== undefined) return ann;
  return claim.spec?.storageClassName ?? '';
}

/** Whether the claim names a class at all ("" included), upstream PersistentVolumeClaimHasClass. */
export function claimHasClass(claim: PersistentVolumeClaim): boolean {
  if (has(claim, betaStorageClassAnnotation)) return true;
  const c = claim.spec?.storageClassName;
  return c !== undefined && c !== null;
}

/** Upstream GetPersistentVolumeClass. */
export function volumeClass(pv: PersistentVolume): string {
  const ann = pv.metadata.annotations?.[betaStorageClassAnnotation];
  if (ann !== undefined) return ann;
  return pv.spec?.storageClassName ?? '';
}

/** The storage request of a claim in bytes (0 when absent). */
export function requestedBytes(claim: PersistentVolumeClaim): number {
  return parseQuantity(claim.spec?.resources?.requests?.['storage']) ?? 0;
}

/** The storage capacity of a volume in bytes (0 when absent). */
export function capacityBytes(pv: PersistentVolume): number {
  return parseQuantity(pv.spec?.capacity?.['storage']) ?? 0;
}

/** Upstream CheckVolumeModeMismatches: true when the modes differ (unset means Filesystem). */
export function volumeModeMismatch(claim: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  return (claim.spec?.volumeMode || 'Filesystem') !== (pv.spec?.volumeMode || 'Filesystem');
}

/** Upstream CheckAccessModes: the volume offers every mode the claim asks for. */
export function checkAccessModes(claim: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  const offered = new Set(pv.spec?.accessModes ?? []);
  return (claim.spec?.accessModes ?? []).every((m) => offered.has(m));
}

/** The volumeAttributesClassName of both must be equal (unset and "" are the same). */
export function attributesClassMismatch(claim: PersistentVolumeClaim, pv: PersistentVolume): boolean {
  return (claim.spec?.volumeAttributesClassName ?? '') !== (pv.spec?.volumeAttributesClassName ?? '');
}

/**
 * Upstream IsVolumeBoundToClaim: the volume's claimRef names the claim (namespace and name), and
 * its uid, when set, is the claim's.
 */
export function isVolumeBoundToClaim(pv: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return false;
  return !ref.uid || ref.uid === claim.metadata.uid;
}

/** `namespace/name` of a claim. */
export function claimKey(claim: PersistentVolumeClaim): string {
  return `${claim.metadata.namespace}/${claim.metadata.name}`;
}

/** `namespace/name` a volume's claimRef points at, or '' when it has none. */
export function claimRefKey(pv: PersistentVolume): string {
  const ref = pv.spec?.claimRef;
  return ref ? `${ref.namespace ?? ''}/${ref.name ?? ''}` : '';
}

export interface MatchOptions {
  /**
   * Upstream's delayBinding (PV controller path, no node): only volumes pre-bound to the claim
   * are returned. The scheduler passes `nodeFits` instead and gets unbound volumes too.
   */
  delayBinding?: boolean;
  /** Scheduler path: whether the volume's node affinity admits the node being filtered. */
  nodeFits?: (pv: PersistentVolume) => boolean;
  /** Volumes already chosen for other claims of the same pod (scheduler path). */
  excluded?: ReadonlySet<string>;
}

/**
 * Upstream FindMatchingVolume over `volumes`: a volume pre-bound to the claim that is big
 * enough (or, with a node, none at all when that volume does not fit the node); else the
 * smallest Available, unclaimed volume of the claim's class matching its selector, modes and
 * size (access modes checked only on the scheduler path, as upstream; the controller groups by
 * them first, see findBestMatch).
 */
export function findMatchingVolume(claim: PersistentVolumeClaim, volumes: Iterable<PersistentVolume>, opts: MatchOptions = {}): PersistentVolume | undefined {
  const requested = requestedBytes(claim);
  const requestedClass = claimClass(claim);
  const selector = claim.spec?.selector ? labelSelectorFromObject(claim.spec.selector) : undefined;
  const scheduler = opts.nodeFits !== undefined;
  let best: PersistentVolume | undefined;
  let bestSize = Infinity;
  for (const pv of volumes) {
    if (opts.excluded?.has(pv.metadata.name ?? '')) continue;
    if (volumeModeMismatch(claim, pv)) continue;
    if (pv.metadata.deletionTimestamp) continue;
    const size = capacityBytes(pv);
    const fits = opts.nodeFits ? opts.nodeFits(pv) : true;
    if (isVolumeBoundToClaim(pv, claim)) {
      if (size < requested) continue;
      return fits ? pv : undefined;
    }
    if (!scheduler && opts.delayBinding) continue;
    if (pv.status?.phase !== 'Available') continue;
    if (pv.spec?.claimRef) continue;
    if (selector && !selector.matches(pv.metadata.labels ?? {})) continue;
    if (volumeClass(pv) !== requestedClass) continue;
    if (attributesClassMismatch(claim, pv)) continue;
    if (!fits) continue;
    if (scheduler && !checkAccessModes(claim, pv)) continue;
    if (size >= requested && size < bestSize) {
      best = pv;
      bestSize = size;
    }
  }
  return best;
}

/**
 * The PV controller's findBestMatchForClaim (index.go): the volumes are grouped by their set of
 * access modes; the groups offering every mode the claim asks for are tried from the fewest
 * modes up, and the first group with a match (findMatchingVolume) gives the volume.
 */
export function findBestMatch(claim: PersistentVolumeClaim, volumes: Iterable<PersistentVolume>, delayBinding: boolean): PersistentVolume | undefined {
  const wanted = claim.spec?.accessModes ?? [];
  const groups = new Map<string, { count: number; volumes: PersistentVolume[] }>();
  for (const pv of volumes) {
    const modes = [...new Set(pv.spec?.accessModes ?? [])].sort();
    if (!wanted.every((m) => modes.includes(m))) continue;
    const key = modes.join(',');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { count: modes.length, volumes: [] }));
    g.volumes.push(pv);
  }
  const ordered = [...groups.entries()].sort((a, b) => a[1].count - b[1].count || (a[0] < b[0] ? -1 : 1));
  for (const [, g] of ordered) {
    const pv = findMatchingVolume(claim, g.volumes, { delayBinding });
    if (pv) return pv;
  }
  return undefined;
}

/**
 * Upstream checkVolumeSatisfyClaim, for a claim asking for one volume by name: the reason it
 * cannot have it, or null.
 */
export function volumeMismatchReason(pv: PersistentVolume, claim: PersistentVolumeClaim): string | null {
  if (pv.metadata.deletionTimestamp) return `the volume is marked for deletion "${pv.metadata.name}"`;
  if (capacityBytes(pv) < requestedBytes(claim)) return 'requested PV is too small';
  if (volumeClass(pv) !== claimClass(claim)) return 'storageClassName does not match';
  if (attributesClassMismatch(claim, pv)) return 'volumeAttributesClassName does not match';
  if (volumeModeMismatch(claim, pv)) return 'incompatible volumeMode';
  if (!checkAccessModes(claim, pv)) return 'incompatible accessMode';
  return null;
}

/** The reference a volume keeps to its claim (upstream's reference.GetReference of the claim). */
export function claimReference(claim: PersistentVolumeClaim): NonNullable<NonNullable<PersistentVolume['spec']>['claimRef']> {
  return {
    kind: 'PersistentVolumeClaim',
    namespace: claim.metadata.namespace,
    name: claim.metadata.name,
    uid: claim.metadata.uid,
    apiVersion: 'v1',
    resourceVersion: claim.metadata.resourceVersion,
  };
}

/**
 * Upstream GetBindVolumeToClaim: the volume with its claimRef pointing at the claim (kind,
 * namespace, name, uid, apiVersion, resourceVersion) and, when the binding is the binder's own,
 * `pv.kubernetes.io/bound-by-controller: yes`; `changed` says whether anything differs. The
 * input is not modified.
 */
export function bindVolumeToClaim(pv: PersistentVolume, claim: PersistentVolumeClaim): { volume: PersistentVolume; changed: boolean } {
  const ref = pv.spec?.claimRef;
  const newRef = !ref || ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace || ref.uid !== claim.metadata.uid;
  const newAnn = !isVolumeBoundToClaim(pv, claim) && !has(pv, annBoundByController);
  // Nothing to change (every resync of a bound pair): no copy.
  if (!newRef && !newAnn) return { volume: pv, changed: false };
  const volume = structuredClone(pv);
  if (newRef) {
    volume.spec = {
      ...volume.spec,
      claimRef: claimReference(claim),
    };
  }
  if (newAnn) volume.metadata.annotations = { ...volume.metadata.annotations, [annBoundByController]: 'yes' };
  return { volume, changed: true };
}

/** The fully bound test of the scheduler (upstream isPVCFullyBound). */
export function isClaimFullyBound(claim: PersistentVolumeClaim): boolean {
  return !!claim.spec?.volumeName && has(claim, annBindCompleted);
}

/** Upstream's CSI name of a provisioner: the migrated driver for an in-tree name, else itself. */
export function provisionerName(provisioner: string): string {
  return migratedProvisioners[provisioner] ?? provisioner;
}

/** Whether a class is a default one (either annotation "true"). */
export function isDefaultClass(sc: StorageClass): boolean {
  return sc.metadata.annotations?.[isDefaultClassAnnotation] === 'true' || sc.metadata.annotations?.[betaIsDefaultClassAnnotation] === 'true';
}

/** Upstream GetDefaultClass: the newest default class (ties by name), or undefined. */
export function defaultClass(classes: Iterable<StorageClass>): StorageClass | undefined {
  let best: StorageClass | undefined;
  for (const sc of classes) {
    if (!isDefaultClass(sc)) continue;
    if (!best) {
      best = sc;
      continue;
    }
    const a = sc.metadata.creationTimestamp ?? '';
    const b = best.metadata.creationTimestamp ?? '';
    if (a > b || (a === b && (sc.metadata.name ?? '') < (best.metadata.name ?? ''))) best = sc;
  }
  return best;
}

/** A resourceVersion as a number for ordering (upstream's APIObjectVersioner); NaN when opaque. */
export function versionOf(o: { metadata: { resourceVersion?: string } }): number {
  const rv = o.metadata.resourceVersion;
  return rv ? Number(rv) : NaN;
}
