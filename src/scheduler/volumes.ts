/**
 * VolumeBinding, the scheduler's hooks for storage: a pod's PersistentVolumeClaims (and the
 * claims of its generic ephemeral volumes) must exist and not be terminating; claims of an
 * Immediate-binding class must already be bound; a bound claim's PersistentVolume restricts the
 * pod to the nodes of its nodeAffinity. Unbound WaitForFirstConsumer claims wait for the pod:
 * PreBind records the chosen node on them (annotation `volume.kubernetes.io/selected-node`) for
 * the provisioner. (Upstream also binds matching static volumes in PreBind and waits for the
 * binding; that belongs to the persistent volume controller, still to come.)
 */
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../api/index.ts';
import { emptyHandle, matchTerm, type Plugin, type PluginHandle } from './plugins.ts';

export const selectedNodeAnnotation = 'volume.kubernetes.io/selected-node';

/** The claim names a pod uses, in volume order. */
export function claimNames(pod: Pod): string[] {
  const out: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (typeof claim === 'string' && claim) out.push(claim);
    else if (v.ephemeral !== undefined) out.push(`${pod.metadata.name}-${v.name}`);
  }
  return out;
}

interface VolumeState {
  /** The bound claims' volumes (undefined where the volume does not exist). */
  bound: (PersistentVolume | undefined)[];
}

export function volumeBindingPlugin(handle: PluginHandle = emptyHandle): Plugin {
  const claimsOf = (pod: Pod) => claimNames(pod).map((name) => ({ name, claim: handle.persistentVolumeClaim(pod.metadata.namespace ?? '', name) }));
  const waitsForConsumer = (claim: PersistentVolumeClaim) => {
    const cls = claim.spec?.storageClassName;
    const sc = typeof cls === 'string' && cls ? handle.storageClass(cls) : undefined;
    return sc?.volumeBindingMode === 'WaitForFirstConsumer';
  };
  const volumeName = (claim: PersistentVolumeClaim) => claim.spec?.volumeName ?? '';
  return {
    name: 'VolumeBinding',
    check(pod) {
      let unboundImmediate = false;
      for (const { name, claim } of claimsOf(pod)) {
        if (!claim) return `persistentvolumeclaim "${name}" not found`;
        if (claim.metadata.deletionTimestamp) return `persistentvolumeclaim "${name}" is being deleted`;
        if (!volumeName(claim) && !waitsForConsumer(claim)) unboundImmediate = true;
      }
      return unboundImmediate ? 'pod has unbound immediate PersistentVolumeClaims' : null;
    },
    preFilter(pod): VolumeState | null {
      const bound = claimsOf(pod)
        .filter((c) => c.claim && volumeName(c.claim))
        .map((c) => handle.persistentVolume(volumeName(c.claim!)));
      return bound.length ? { bound } : null;
    },
    unchangedWithout: () => true,
    filter(_pod, node, raw) {
      const state = raw as VolumeState | null;
      if (!state) return null;
      for (const pv of state.bound) {
        if (!pv) return { reason: 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)', unresolvable: true };
        const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? [];
        if (terms.length && !terms.some((t) => matchTerm(t, node.node))) return { reason: 'node(s) had volume node affinity conflict', unresolvable: true };
      }
      return null;
    },
    async preBind(pod, node) {
      for (const { name, claim } of claimsOf(pod)) {
        if (!claim || volumeName(claim) || !waitsForConsumer(claim)) continue;
        if (claim.metadata.annotations?.[selectedNodeAnnotation] === node) continue;
        await handle.patchClaim?.(pod.metadata.namespace ?? '', name, { [selectedNodeAnnotation]: node });
      }
    },
  };
}
