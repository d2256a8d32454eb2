/**
 * Storage admission plugins, as upstream's:
 * - StorageObjectInUseProtection (plugin/pkg/admission/storage/storageobjectinuseprotection),
 *   mutating, CREATE of the main resource: a new PersistentVolumeClaim gets the
 *   `kubernetes.io/pvc-protection` finalizer and a new PersistentVolume
 *   `kubernetes.io/pv-protection` (appended, once). The pvc-protection and pv-protection
 *   controllers remove them when the object is deleted and no longer in use.
 * - PersistentVolumeClaimResize (plugin/pkg/admission/storage/persistentvolume/resize),
 *   validating, UPDATE of the main resource: a claim whose `spec.resources.requests.storage`
 *   grows must have been Bound, and its class (beta annotation first, then
 *   `spec.storageClassName`; the same before and after, not empty) must be a StorageClass with
 *   `allowVolumeExpansion: true`; otherwise Forbidden with upstream's messages.
 */
import { forbidden } from '../../api/errors.ts';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../api/index.ts';
import { claimStorageClass, cmpAmount, parseAmount, zeroAmount } from './quotaeval.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

export const pvcProtectionFinalizer = 'kubernetes.io/pvc-protection';
export const pvProtectionFinalizer = 'kubernetes.io/pv-protection';

/** Upstream's refusals, word for word. */
export const onlyBoundMessage = 'Only bound persistent volume claims can be expanded';
export const resizeNotAllowedMessage = 'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize';

const isCore = (a: AdmissionAttributes, plural: string) => a.def.group === '' && a.def.plural === plural && a.subresource === '' && !!a.object;

function addFinalizer(o: { metadata: { finalizers?: string[] } }, finalizer: string): void {
  const list = o.metadata.finalizers ?? [];
  if (list.includes(finalizer)) return;
  o.metadata.finalizers = [...list, finalizer];
}

/** The StorageObjectInUseProtection admission plugin. Synchronous, no lookups. */
export function storageObjectInUseProtectionPlugin(): AdmissionPlugin {
  return {
    name: 'StorageObjectInUseProtection',
    admit(a) {
      if (a.operation !== 'CREATE') return;
      if (isCore(a, 'persistentvolumeclaims')) addFinalizer(a.object as unknown as PersistentVolumeClaim, pvcProtectionFinalizer);
      else if (isCore(a, 'persistentvolumes')) addFinalizer(a.object as unknown as PersistentVolume, pvProtectionFinalizer);
    },
  };
}

export interface PvcResizeDeps {
  /** A StorageClass by name, from a cache. */
  storageClass(name: string): StorageClass | undefined;
}

/** upstream admission.NewForbidden: the request's name, else the object's name or generateName, else `Unknown`. */
function forbid(a: AdmissionAttributes, message: string) {
  const name = a.name || a.object?.metadata.name || a.object?.metadata.generateName || 'Unknown';
  return forbidden({ group: a.def.group, resource: a.def.plural }, name, message);
}

/** The PersistentVolumeClaimResize admission plugin. Synchronous. */
export function persistentVolumeClaimResizePlugin(deps: PvcResizeDeps): AdmissionPlugin {
  const allowResize = (pvc: PersistentVolumeClaim, old: PersistentVolumeClaim): boolean => {
    const cls = claimStorageClass(pvc);
    const oldCls = claimStorageClass(old);
    if (!cls || !oldCls || cls !== oldCls) return false;
    return deps.storageClass(cls)?.allowVolumeExpansion === true;
  };
  return {
    name: 'PersistentVolumeClaimResize',
    validate(a) {
      if (a.operation !== 'UPDATE' || !isCore(a, 'persistentvolumeclaims') || !a.oldObject) return;
      const pvc = a.object as unknown as PersistentVolumeClaim;
      const old = a.oldObject as unknown as PersistentVolumeClaim;
      const size = (c: PersistentVolumeClaim) => parseAmount(c.spec?.resources?.requests?.['storage']) ?? zeroAmount;
      if (cmpAmount(size(pvc), size(old)) <= 0) return;
      if (old.status?.phase !== 'Bound') throw forbid(a, onlyBoundMessage);
      if (!allowResize(pvc, old)) throw forbid(a, resizeNotAllowedMessage);
    },
  };
}
