/**
 * The ephemeral volume controller (upstream `ephemeral-volume`, pkg/controller/volume/ephemeral):
 * for each generic ephemeral volume of a pod (`volumes[].ephemeral.volumeClaimTemplate`) it
 * creates the claim `<pod>-<volume>` in the pod's namespace, controlled by the pod (owner
 * reference with controller and blockOwnerDeletion), with the template's labels, annotations and
 * spec. The claim goes with the pod through the garbage collector.
 *
 * As upstream:
 * - pods are queued when added or updated and not being deleted, if they have an ephemeral
 *   volume; a deleted claim queues the pods whose volumes name it (the pod-PVC index shared with
 *   pvc-protection), so it is made again while its pod lives.
 * - an existing claim of that name not controlled by the pod is not touched: the pod gets a
 *   Warning FailedBinding event "ephemeral volume <volume>: PVC <ns>/<claim> was not created for
 *   pod <ns>/<pod> (pod is not owner)" and the pod is retried with backoff; a failed create is
 *   reported the same way ("ephemeral volume <volume>: create PVC <claim>: <error>").
 * - the claim is only looked up in the informer's cache; a create that meets an existing claim
 *   (AlreadyExists) is retried and then judged from the cache.
 * Workers: upstream's default --concurrent-ephemeralvolume-syncs, 5.
 */
import type { PersistentVolumeClaim, Pod, Volume } from '../api/index.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';
import { ephemeralClaimName, podPvcIndex, podPvcIndexFunc } from './pvcprotection.ts';

export const ephemeralVolumeComponent = 'ephemeral_volume';
const workers = 5;

/** Upstream ephemeral.VolumeIsForPod: the reason a claim cannot serve the pod's volume, or null. */
export function claimNotForPod(pod: Pod, pvc: PersistentVolumeClaim): string | null {
  const ref = (pvc.metadata.ownerReferences ?? []).find((r) => r.controller);
  if (pvc.metadata.namespace !== pod.metadata.namespace || !ref || !pod.metadata.uid || ref.uid !== pod.metadata.uid) {
    return `PVC ${pvc.metadata.namespace}/${pvc.metadata.name} was not created for pod ${pod.metadata.namespace}/${pod.metadata.name} (pod is not owner)`;
  }
  return null;
}

/** The claim a pod's ephemeral volume should have (upstream handleVolume's new PVC). */
export function claimForVolume(pod: Pod, volume: Volume): PersistentVolumeClaim {
  const tpl = volume.ephemeral?.volumeClaimTemplate;
  const meta = tpl?.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: ephemeralClaimName(pod, volume),
      namespace: pod.metadata.namespace,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name!, uid: pod.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      ...(meta.annotations ? { annotations: { ...meta.annotations } } : {}),
      ...(meta.labels ? { labels: { ...meta.labels } } : {}),
    },
    spec: structuredClone(tpl?.spec ?? {}),
  };
}

const hasEphemeral = (pod: Pod) => (pod.spec?.volumes ?? []).some((v) => !!v.ephemeral);

export function startEphemeralVolumeController(ctx: ControllerContext): void {
  const pods = ctx.informers.typedInformerFor(resources.pods, { indexers: { [podPvcIndex]: podPvcIndexFunc } });
  const claims = ctx.informers.typedInformerFor(resources.persistentVolumeClaims);
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder(ephemeralVolumeComponent);

  const queue = startQueue(ctx, sync, { name: 'ephemeral-volume', workers, waitFor: [pods, claims] });
  const enqueue = (pod: Pod) => {
    if (!pod.metadata.deletionTimestamp && hasEphemeral(pod)) queue.add(`${pod.metadata.namespace}/${pod.metadata.name}`);
  };
  pods.addEventHandler({ onAdd: enqueue, onUpdate: (_o, p) => enqueue(p) });
  claims.addEventHandler({
    onDelete: (pvc) => {
      for (const p of pods.store.byIndex(podPvcIndex, `${pvc.metadata.namespace}/${pvc.metadata.name}`)) enqueue(p);
    },
  });

  async function sync(key: string): Promise<void> {
    const pod = pods.store.get(key);
    if (!pod || pod.metadata.deletionTimestamp) return;
    for (const v of pod.spec?.volumes ?? []) {
      const err = await handleVolume(pod, v);
      if (err) {
        recorder.event(pod, 'Warning', 'FailedBinding', `ephemeral volume ${v.name}: ${err}`);
        throw new Error(`pod ${key}, ephemeral volume ${v.name}: ${err}`);
      }
    }
  }

  /** Null when the volume's claim exists (or is not needed), else the problem. */
  async function handleVolume(pod: Pod, v: Volume): Promise<string | null> {
    if (!v.ephemeral) return null;
    const name = ephemeralClaimName(pod, v);
    const existing = claims.store.get(`${pod.metadata.namespace}/${name}`);
    if (existing) return claimNotForPod(pod, existing);
    try {
      await cs.persistentVolumeClaims.create(claimForVolume(pod, v), { namespace: pod.metadata.namespace });
    } catch (err) {
      return `create PVC ${name}: ${err instanceof Error ? err.message : String(err)}`;
    }
    ctx.log(`ephemeral-volume: created claim ${pod.metadata.namespace}/${name} for pod ${pod.metadata.name}`);
    return null;
  }
}
