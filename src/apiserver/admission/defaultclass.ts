/**
 * The class defaulting admission plugins, as upstream's (both mutating, CREATE only, the main
 * resource only):
 * - DefaultStorageClass (plugin/pkg/admission/storage/storageclass/setdefault): a
 *   PersistentVolumeClaim that names no class (no `spec.storageClassName`, not even `""`, and no
 *   beta `volume.beta.kubernetes.io/storage-class` annotation) gets the default StorageClass:
 *   one annotated `storageclass.kubernetes.io/is-default-class: "true"` (or the beta
 *   `storageclass.beta.kubernetes.io/is-default-class`).
 * - DefaultIngressClass (plugin/pkg/admission/network/defaultingressclass): an Ingress without
 *   `spec.ingressClassName` and without the `kubernetes.io/ingress.class` annotation gets the
 *   IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"`.
 *
 * Several defaults: the newest wins (latest creationTimestamp; equal times, the lower name), as
 * upstream 1.33 does for both. No default: the object is left as it is.
 * The classes come from the API server's cache through the given lookups; never mutated here.
 */
import type { ApiObject, Ingress, IngressClass, PersistentVolumeClaim, StorageClass } from '../../api/index.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

export const defaultStorageClassAnnotation = 'storageclass.kubernetes.io/is-default-class';
export const betaDefaultStorageClassAnnotation = 'storageclass.beta.kubernetes.io/is-default-class';
export const betaStorageClassAnnotation = 'volume.beta.kubernetes.io/storage-class';
export const defaultIngressClassAnnotation = 'ingressclass.kubernetes.io/is-default-class';
export const ingressClassAnnotation = 'kubernetes.io/ingress.class';

function created(o: ApiObject): number {
  const t = o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : NaN;
  return Number.isFinite(t) ? t : 0;
}

/**
 * The newest of `objects` that `isDefault` accepts (latest creationTimestamp first, then the
 * lower name), or undefined when none is a default. Pure.
 */
export function newestDefault<T extends ApiObject>(objects: readonly T[], isDefault: (o: T) => boolean): T | undefined {
  let best: T | undefined;
  for (const o of objects) {
    if (!isDefault(o)) continue;
    if (!best) {
      best = o;
      continue;
    }
    const a = created(o);
    const b = created(best);
    if (a > b || (a === b && (o.metadata.name ?? '') < (best.metadata.name ?? ''))) best = o;
  }
  return best;
}

/** Whether a StorageClass is marked default (upstream IsDefaultAnnotation). */
export function isDefaultStorageClass(sc: StorageClass): boolean {
  const ann = sc.metadata.annotations ?? {};
  return ann[defaultStorageClassAnnotation] === 'true' || ann[betaDefaultStorageClassAnnotation] === 'true';
}

/** Whether an IngressClass is marked default. */
export function isDefaultIngressClass(ic: IngressClass): boolean {
  return ic.metadata.annotations?.[defaultIngressClassAnnotation] === 'true';
}

/** A create of the main resource `plural` in `group`, with an object. */
function isCreateOf(a: AdmissionAttributes, group: string, plural: string): boolean {
  return a.operation === 'CREATE' && a.def.group === group && a.def.plural === plural && a.subresource === '' && !!a.object;
}

export interface DefaultStorageClassDeps {
  /** Every StorageClass, from a cache. */
  storageClasses(): readonly StorageClass[];
}

/** The DefaultStorageClass admission plugin. Synchronous. */
export function defaultStorageClassPlugin(deps: DefaultStorageClassDeps): AdmissionPlugin {
  return {
    name: 'DefaultStorageClass',
    admit(a) {
      if (!isCreateOf(a, '', 'persistentvolumeclaims')) return;
      const pvc = a.object as unknown as PersistentVolumeClaim;
      // The user asked for a class (upstream PersistentVolumeClaimHasClass): `""` counts too.
      if (pvc.metadata.annotations && betaStorageClassAnnotation in pvc.metadata.annotations) return;
      if (pvc.spec?.storageClassName !== undefined && pvc.spec.storageClassName !== null) return;
      const def = newestDefault(deps.storageClasses(), isDefaultStorageClass);
      if (!def) return;
      (pvc.spec ??= {}).storageClassName = def.metadata.name!;
    },
  };
}

export interface DefaultIngressClassDeps {
  /** Every IngressClass, from a cache. */
  ingressClasses(): readonly IngressClass[];
}

/** The DefaultIngressClass admission plugin. Synchronous. */
export function defaultIngressClassPlugin(deps: DefaultIngressClassDeps): AdmissionPlugin {
  return {
    name: 'DefaultIngressClass',
    admit(a) {
      if (!isCreateOf(a, 'networking.k8s.io', 'ingresses')) return;
      const ing = a.object as unknown as Ingress;
      if (ing.spec?.ingressClassName !== undefined && ing.spec.ingressClassName !== null) return;
      if (ing.metadata.annotations && ingressClassAnnotation in ing.metadata.annotations) return;
      const def = newestDefault(deps.ingressClasses(), isDefaultIngressClass);
      if (!def) return;
      (ing.spec ??= {}).ingressClassName = def.metadata.name!;
    },
  };
}
