/**
 * The StatefulSet controller's writes to pods and claims, as upstream's StatefulPodControl
 * (pkg/controller/statefulset/stateful_pod_control.go), with its events:
 *   SuccessfulCreate "create Pod web-0 in StatefulSet web successful" (and Update, Delete),
 *   FailedCreate "create Pod web-0 in StatefulSet web failed error: <error>",
 *   SuccessfulCreate "create Claim www-web-0 Pod web-0 in StatefulSet web success",
 *   FailedCreate "create Claim www-web-0 for Pod web-0 in StatefulSet web failed error: <error>",
 *   ConflictingController when another controller owns a claim the policy would delete.
 *
 * Claims are created before their pod, already carrying the owner references the retention
 * policy wants (upstream creates them bare and updates them right after the pod; the end state
 * is the same, with one write fewer). A claim that already exists (a cache that had not seen it)
 * counts as created, where upstream fails the sync once. A pod is deleted with its uid as
 * precondition, so a stale cache never deletes a successor of the same name; a pod already gone
 * counts as deleted. Reads come from the informer caches (`claim`); writes go through the client.
 */
import type { PersistentVolumeClaim, Pod, StatefulSet } from '../api/index.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.ts';
import type { Clientset, Recorder } from '../client/index.ts';
import type { StatefulPodControl } from './statefulset-control.ts';
import {
  claimOwnerRefsFor,
  claimsMatchRetentionPolicy,
  hasUnexpectedController,
  identityMatches,
  isClaimOwnerUpToDate,
  podClaims,
  storageMatches,
  updateIdentity,
  updateStorage,
  type ClaimLookup,
} from './statefulset-utils.ts';

/** Attempts of a pod update that meets conflicts (client-go retry.DefaultBackoff's steps). */
const updateAttempts = 4;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const title = (verb: string) => verb.charAt(0).toUpperCase() + verb.slice(1);

export function newStatefulPodControl(cs: Clientset, recorder: Recorder, claim: ClaimLookup): StatefulPodControl {
  const podEvent = (verb: string, set: StatefulSet, pod: Pod, err?: unknown) => {
    if (err === undefined) recorder.event(set, 'Normal', `Successful${title(verb)}`, `${verb} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
    else recorder.event(set, 'Warning', `Failed${title(verb)}`, `${verb} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${message(err)}`);
  };
  const claimEvent = (verb: string, set: StatefulSet, pod: Pod, name: string, err?: unknown) => {
    if (err === undefined) recorder.event(set, 'Normal', `Successful${title(verb)}`, `${verb} Claim ${name} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} success`);
    else recorder.event(set, 'Warning', `Failed${title(verb)}`, `${verb} Claim ${name} for Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${message(err)}`);
  };

  /** Creates the pod's missing claims; fails (after trying them all) when one cannot be made or is being deleted. */
  async function createClaims(set: StatefulSet, pod: Pod): Promise<void> {
    const errors: string[] = [];
    for (const c of podClaims(set, pod).values()) {
      const name = c.metadata.name!;
      const live = claim(c.metadata.namespace ?? '', name);
      if (live) {
        if (live.metadata.deletionTimestamp) errors.push(`pvc ${name} is being deleted`);
        continue;
      }
      const refs = claimOwnerRefsFor(c, set, pod);
      if (refs.length) c.metadata.ownerReferences = refs;
      try {
        await cs.persistentVolumeClaims.create(c, { namespace: c.metadata.namespace });
        claimEvent('create', set, pod, name);
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        errors.push(`failed to create PVC ${name}: ${message(err)}`);
        claimEvent('create', set, pod, name, err);
      }
    }
    if (errors.length) throw new Error(errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`);
  }

  /** Sets the owner references of the pod's existing claims for the policy. */
  async function updateClaimsForRetentionPolicy(set: StatefulSet, pod: Pod): Promise<void> {
    for (const c of podClaims(set, pod).values()) {
      const name = c.metadata.name!;
      const live = claim(c.metadata.namespace ?? '', name);
      if (!live) continue; // picked up by a later sync once the cache has it
      if (hasUnexpectedController(live, set, pod)) {
        recorder.event(set, 'Warning', 'ConflictingController', `PersistentVolumeClaim ${name} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim`);
      }
      if (isClaimOwnerUpToDate(live, set, pod)) continue;
      const refs = claimOwnerRefsFor(live, set, pod);
      const next: PersistentVolumeClaim = { ...live, metadata: { ...live.metadata, ownerReferences: refs } };
      if (!refs.length) delete next.metadata.ownerReferences;
      try {
        await cs.persistentVolumeClaims.update(next, { namespace: live.metadata.namespace });
      } catch (err) {
        throw new Error(`could not update claim ${name} for delete policy ownerRefs: ${message(err)}`, { cause: err });
      }
    }
  }

  return {
    claim,

    async createPod(set, pod) {
      try {
        await createClaims(set, pod);
      } catch (err) {
        podEvent('create', set, pod, err);
        throw err;
      }
      let created: Pod;
      try {
        created = await cs.pods.create(pod, { namespace: pod.metadata.namespace });
      } catch (err) {
        // Already there: the cache is behind; the next sync sees it (no event, as upstream).
        if (!isAlreadyExists(err)) podEvent('create', set, pod, err);
        throw err;
      }
      try {
        await updateClaimsForRetentionPolicy(set, created);
      } catch (err) {
        podEvent('update', set, pod, err);
        throw err;
      }
      podEvent('create', set, pod);
    },

    async updatePod(set, pod) {
      let current = pod;
      let attempted = false;
      for (let attempt = 1; ; attempt++) {
        let podChanged = false;
        let claimsChanged = false;
        if (!identityMatches(set, current)) {
          updateIdentity(set, current);
          podChanged = true;
        }
        try {
          if (!storageMatches(set, current)) {
            updateStorage(set, current);
            podChanged = true;
            await createClaims(set, current);
          }
          if (!claimsMatchRetentionPolicy(set, current, claim)) {
            await updateClaimsForRetentionPolicy(set, current);
            claimsChanged = true;
          }
        } catch (err) {
          podEvent('update', set, current, err);
          throw err;
        }
        if (!podChanged && !claimsChanged) break;
        attempted = true;
        // Only the claims changed: upstream writes the pod unchanged; nothing to write here.
        if (!podChanged) break;
        try {
          await cs.pods.update(current, { namespace: current.metadata.namespace });
          break;
        } catch (err) {
          if (!isConflict(err) || attempt >= updateAttempts) {
            podEvent('update', set, current, err);
            throw err;
          }
          try {
            current = await cs.pods.get(current.metadata.name!, { namespace: current.metadata.namespace });
          } catch (getErr) {
            podEvent('update', set, current, getErr);
            throw getErr;
          }
        }
      }
      if (attempted) podEvent('update', set, current);
    },

    async deletePod(set, pod) {
      try {
        await cs.pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace, preconditions: { uid: pod.metadata.uid } });
      } catch (err) {
        // Gone, or already replaced by a pod of the same name: nothing of ours to delete.
        if (isNotFound(err) || isConflict(err)) return;
        podEvent('delete', set, pod, err);
        throw err;
      }
      podEvent('delete', set, pod);
    },

    async createMissingClaims(set, pod) {
      await createClaims(set, pod);
      try {
        await updateClaimsForRetentionPolicy(set, pod);
      } catch (err) {
        podEvent('update', set, pod, err);
        throw err;
      }
    },

    updateClaimsForRetentionPolicy,
  };
}
