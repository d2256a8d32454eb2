/**
 * VolumeBinding, the scheduler's storage plugin, as upstream's
 * pkg/scheduler/framework/plugins/volumebinding (volume_binding.go, binder.go):
 *
 * PreFilter (`check`): every claim the pod uses (its `persistentVolumeClaim` volumes and the
 * `<pod>-<volume>` claims of its generic ephemeral volumes) must exist ("persistentvolumeclaim
 * "x" not found"; for an ephemeral volume "waiting for ephemeral volume controller to create the
 * persistentvolumeclaim "x""), not be Lost ("... bound to non-existent persistentvolume ...") or
 * being deleted, and an ephemeral one must be controlled by the pod ("PVC ns/x was not created
 * for pod ns/p (pod is not owner)"). A claim not fully bound (volumeName and
 * `pv.kubernetes.io/bind-completed`) that is not an unbound WaitForFirstConsumer claim makes
 * the pod wait: "pod has unbound immediate PersistentVolumeClaims". All unresolvable.
 *
 * Filter, per node, with upstream's reasons (unresolvable, the first one given):
 * - a bound claim's volume must exist ("node(s) unavailable due to one or more pvc(s) bound to
 *   non-existent pv(s)") and admit the node by its nodeAffinity ("node(s) didn't match
 *   PersistentVolume's node affinity", the 1.33 wording);
 * - an unbound WaitForFirstConsumer claim already given a node (`volume.kubernetes.io/selected-node`)
 *   fits only that node; otherwise the smallest Available volume of its class that admits the
 *   node (claims taken by increasing request, each volume used once; pvbinder-match.ts), else
 *   dynamic provisioning when the class has a provisioner other than `kubernetes.io/no-provisioner`
 *   and its allowedTopologies admit the node; else "node(s) didn't find available persistent
 *   volumes to bind".
 *
 * PreBind, on the chosen node: first, synchronously (the scheduler calls it from assuming the
 * pod, before anything else can run — upstream's Reserve), the decisions are made again for that
 * node and assumed: the chosen volumes count as bound and the claims as placed in this plugin's
 * view, so the next pods do not take them. Then the volumes are bound as upstream's binder does
 * (the volume's claimRef with the claim's uid and `pv.kubernetes.io/bound-by-controller`), the
 * claims to provision get `volume.kubernetes.io/selected-node`, and PreBind waits until every
 * claim is fully bound by the PV controller — woken by claim and volume events, not by a fast
 * poll — for at most bindTimeoutSeconds (upstream 600 s). It fails, and the scheduler retries
 * the pod after a backoff, with upstream's errors: "binding volumes: context deadline exceeded",
 * "binding volumes: provisioning failed for PVC "x"" (the provisioner removed the selected
 * node), "binding volumes: ClaimRef got reset for pv "x"", "binding volumes: pod does not exist
 * any more: ...", a volume whose node affinity no longer admits the node.
 * With a handle lacking the binder's members (unit tests, benchmarks) PreBind only records the
 * selected node on claims to provision, through `patchClaim`, and does not wait.
 *
 * The matching rules are ../controllers/pvbinder-match.ts, shared with the PV binder as
 * upstream's component-helpers are shared by both binaries: a pure module, the one thing the
 * scheduler takes from the controllers' folder.
 *
 * Not covered (upstream's gaps here too, or features Bosun lacks): CSIStorageCapacity checks
 * ("node(s) did not have enough free storage"), CSI migration translation of in-tree volumes,
 * the StorageCapacityScoring score, several reasons reported on one node.
 */
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, StorageClass, TopologySelectorTerm } from '../api/index.ts';
import {
  annSelectedNode,
  bindVolumeToClaim,
  claimClass,
  findMatchingVolume,
  isClaimFullyBound,
  notSupportedProvisioner,
  requestedBytes,
  versionOf,
} from '../controllers/pvbinder-match.ts';
import { emptyHandle, matchTerm, type FilterResult, type NodeInfo, type Plugin, type PluginHandle } from './plugins.ts';

export const selectedNodeAnnotation = annSelectedNode;
/** Upstream VolumeBindingArgs.bindTimeoutSeconds default. */
export const defaultBindTimeoutSeconds = 600;
/** Without an event, the binding is looked at again this often (upstream polls every second). */
const fallbackPollMs = 5_000;

export const reasons = {
  bindConflict: "node(s) didn't find available persistent volumes to bind",
  nodeConflict: "node(s) didn't match PersistentVolume's node affinity",
  pvNotExist: 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)',
  unboundImmediate: 'pod has unbound immediate PersistentVolumeClaims',
} as const;

/** What the binder needs besides the plugin handle's lookups (the scheduler's informers and client). */
export interface VolumeBinderHandle {
  /** The volumes of a storage class ("" included), from the scheduler's cache. */
  persistentVolumesOfClass(className: string): PersistentVolume[];
  node(name: string): Node | undefined;
  /** Whether this pod (same uid) is still in the scheduler's cache. */
  podExists(pod: Pod): boolean;
  updateVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  updateClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  /** Resolves at the next change of a claim, a volume or a pod deletion, after `ms`, or when `signal` aborts. */
  storageChanged(signal: AbortSignal, ms: number): Promise<void>;
}

export type VolumeBindingHandle = PluginHandle & Partial<VolumeBinderHandle>;

export interface VolumeBindingArgs {
  bindTimeoutSeconds?: number;
}

/** The claim names a pod uses, in volume order. */
export function claimNames(pod: Pod): string[] {
  return podClaims(pod).map((c) => c.name);
}

interface PodClaimRef {
  name: string;
  ephemeral: boolean;
}

function podClaims(pod: Pod): PodClaimRef[] {
  const out: PodClaimRef[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (typeof claim === 'string' && claim) out.push({ name: claim, ephemeral: false });
    else if (v.ephemeral !== undefined && v.ephemeral !== null) out.push({ name: `${pod.metadata.name}-${v.name}`, ephemeral: true });
  }
  return out;
}

/** Upstream ephemeral.VolumeIsForPod. */
function notForPod(pod: Pod, pvc: PersistentVolumeClaim): string | null {
  const ref = (pvc.metadata.ownerReferences ?? []).find((r) => r.controller);
  if (pvc.metadata.namespace !== pod.metadata.namespace || !ref || !pod.metadata.uid || ref.uid !== pod.metadata.uid) {
    return `PVC ${pvc.metadata.namespace}/${pvc.metadata.name} was not created for pod ${pod.metadata.namespace}/${pod.metadata.name} (pod is not owner)`;
  }
  return null;
}

/** Upstream CheckNodeAffinity: a volume with required node affinity admits only nodes matching one of its terms. */
export function volumeAdmitsNode(pv: PersistentVolume, node: Node): boolean {
  const required = pv.spec?.nodeAffinity?.required;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => matchTerm(t, node));
}

/** Upstream MatchTopologySelectorTerms: no terms admit every node; an empty term admits none. */
export function topologyAdmitsNode(terms: TopologySelectorTerm[] | undefined, node: Node): boolean {
  if (!terms?.length) return true;
  const labels = node.metadata.labels ?? {};
  return terms.some((t) => {
    const reqs = t.matchLabelExpressions ?? [];
    return reqs.length > 0 && reqs.every((r) => labels[r.key] !== undefined && r.values.includes(labels[r.key]!));
  });
}

/** The pod's claims sorted as upstream's GetPodVolumeClaims does. */
interface PodVolumeClaims {
  bound: { claim: PersistentVolumeClaim; pv: PersistentVolume | undefined }[];
  /** Unbound claims of WaitForFirstConsumer classes, without volumeName. */
  delayed: PersistentVolumeClaim[];
  /** Every unbound claim that should have been bound already. */
  immediate: PersistentVolumeClaim[];
  /** Volumes of the delayed claims' classes. */
  byClass: Map<string, PersistentVolume[]>;
}

/** The decisions for one node (upstream PodVolumes). */
interface PodVolumes {
  bindings: { claim: PersistentVolumeClaim; pv: PersistentVolume }[];
  provisions: PersistentVolumeClaim[];
}

export function volumeBindingPlugin(handle: VolumeBindingHandle = emptyHandle, args: VolumeBindingArgs = {}): Plugin {
  const bindTimeoutMs = (args.bindTimeoutSeconds ?? defaultBindTimeoutSeconds) * 1000;
  /** Volumes bound in this plugin's view before the API says so: name → the bound copy (and the version written). */
  const assumedVolumes = new Map<string, { pv: PersistentVolume; written?: number }>();
  /** Claims given a node in this plugin's view: key → node (and the version written). */
  const assumedClaims = new Map<string, { node: string; written?: number }>();

  const classOf = (name: string): StorageClass | undefined => (name ? handle.storageClass(name) : undefined);
  const delayBinding = (claim: PersistentVolumeClaim) => classOf(claimClass(claim))?.volumeBindingMode === 'WaitForFirstConsumer';

  /** A claim as this plugin sees it: the cache's, with an assumed selected node. */
  function claimView(ns: string, name: string): PersistentVolumeClaim | undefined {
    const c = handle.persistentVolumeClaim(ns, name);
    const a = assumedClaims.get(`${ns}/${name}`);
    if (!c || !a) return c;
    if (a.written !== undefined && versionOf(c) >= a.written) {
      assumedClaims.delete(`${ns}/${name}`);
      return c;
    }
    if (c.metadata.annotations?.[annSelectedNode] === a.node) return c;
    return { ...c, metadata: { ...c.metadata, annotations: { ...c.metadata.annotations, [annSelectedNode]: a.node } } };
  }

  /** A volume as this plugin sees it: the assumed binding until the cache has caught up. */
  function volumeView(pv: PersistentVolume): PersistentVolume {
    const a = assumedVolumes.get(pv.metadata.name ?? '');
    if (!a) return pv;
    if (a.written !== undefined && versionOf(pv) >= a.written) {
      assumedVolumes.delete(pv.metadata.name ?? '');
      return pv;
    }
    return a.pv;
  }

  function volumesOfClass(cls: string): PersistentVolume[] {
    return (handle.persistentVolumesOfClass?.(cls) ?? []).map(volumeView);
  }

  /** PreFilter's claim checks: a message when the pod cannot be scheduled anywhere now. */
  function checkClaims(pod: Pod): string | null {
    const ns = pod.metadata.namespace ?? '';
    for (const ref of podClaims(pod)) {
      const claim = claimView(ns, ref.name);
      if (!claim) {
        return ref.ephemeral ? `waiting for ephemeral volume controller to create the persistentvolumeclaim "${ref.name}"` : `persistentvolumeclaim "${ref.name}" not found`;
      }
      if (claim.status?.phase === 'Lost') return `persistentvolumeclaim "${ref.name}" bound to non-existent persistentvolume "${claim.spec?.volumeName ?? ''}"`;
      if (claim.metadata.deletionTimestamp) return `persistentvolumeclaim "${ref.name}" is being deleted`;
      if (ref.ephemeral) {
        const why = notForPod(pod, claim);
        if (why) return why;
      }
    }
    return null;
  }

  function podVolumeClaims(pod: Pod): PodVolumeClaims {
    const ns = pod.metadata.namespace ?? '';
    const out: PodVolumeClaims = { bound: [], delayed: [], immediate: [], byClass: new Map() };
    for (const ref of podClaims(pod)) {
      const claim = claimView(ns, ref.name);
      if (!claim) continue;
      if (isClaimFullyBound(claim)) {
        const pv = handle.persistentVolume(claim.spec!.volumeName!);
        out.bound.push({ claim, pv: pv && volumeView(pv) });
      } else if (delayBinding(claim) && !claim.spec?.volumeName) out.delayed.push(claim);
      else out.immediate.push(claim);
    }
    for (const c of out.delayed) {
      const cls = claimClass(c);
      if (!out.byClass.has(cls)) out.byClass.set(cls, volumesOfClass(cls));
    }
    return out;
  }

  /** Upstream FindPodVolumes for one node: the decisions, or the reason the node does not fit. */
  function findPodVolumes(claims: PodVolumeClaims, node: Node): { volumes?: PodVolumes; reason?: string } {
    let nodeConflict = false;
    let pvMissing = false;
    for (const b of claims.bound) {
      if (!b.pv) {
        pvMissing = true;
        break;
      }
      if (!volumeAdmitsNode(b.pv, node)) {
        nodeConflict = true;
        break;
      }
    }
    const volumes: PodVolumes = { bindings: [], provisions: [] };
    let bindConflict = false;
    if (claims.delayed.length) {
      const toMatch: PersistentVolumeClaim[] = [];
      const toProvision: PersistentVolumeClaim[] = [];
      for (const c of claims.delayed) {
        const selected = c.metadata.annotations?.[annSelectedNode];
        if (selected !== undefined) {
          if (selected !== node.metadata.name) {
            bindConflict = true;
            break;
          }
          toProvision.push(c);
        } else toMatch.push(c);
      }
      if (!bindConflict) {
        const chosen = new Set<string>();
        for (const c of [...toMatch].sort((a, b) => requestedBytes(a) - requestedBytes(b))) {
          const pv = findMatchingVolume(c, claims.byClass.get(claimClass(c)) ?? [], { nodeFits: (v) => volumeAdmitsNode(v, node), excluded: chosen });
          if (!pv) {
            toProvision.push(c);
            bindConflict = true;
            continue;
          }
          chosen.add(pv.metadata.name ?? '');
          volumes.bindings.push({ claim: c, pv });
        }
        if (toProvision.length) {
          bindConflict = false;
          for (const c of toProvision) {
            const sc = classOf(claimClass(c));
            const provisioner = sc?.provisioner ?? '';
            if (!sc || !provisioner || provisioner === notSupportedProvisioner || !topologyAdmitsNode(sc.allowedTopologies, node)) {
              bindConflict = true;
              break;
            }
            volumes.provisions.push(c);
          }
        }
      }
    }
    const reason = nodeConflict ? reasons.nodeConflict : bindConflict ? reasons.bindConflict : pvMissing ? reasons.pvNotExist : undefined;
    return reason ? { reason } : { volumes };
  }

  /** The pod's claims fully bound now, with every volume written and admitting the node (upstream checkBindings). */
  function checkBindings(pod: Pod, nodeName: string, bindings: { pv: PersistentVolume; claim: PersistentVolumeClaim }[], provisions: PersistentVolumeClaim[]): boolean {
    const b = handle as VolumeBinderHandle;
    const node = b.node(nodeName);
    if (!node) throw new Error(`failed to get node "${nodeName}": node "${nodeName}" not found`);
    if (!b.podExists(pod)) throw new Error(`pod does not exist any more: pods "${pod.metadata.name}" not found`);
    const ns = pod.metadata.namespace ?? '';
    for (const { pv: written, claim } of bindings) {
      const pv = handle.persistentVolume(written.metadata.name ?? '');
      if (!pv) throw new Error(`failed to check binding: cannot find PV "${written.metadata.name}"`);
      const pvc = handle.persistentVolumeClaim(ns, claim.metadata.name ?? '');
      if (!pvc) throw new Error(`failed to check binding: cannot find PVC "${ns}/${claim.metadata.name}"`);
      if (versionOf(written) > versionOf(pv)) return false;
      if (!volumeAdmitsNode(pv, node)) throw new Error(`pv "${pv.metadata.name}" node affinity doesn't match node "${nodeName}": no matching NodeSelectorTerms`);
      if (!pv.spec?.claimRef?.uid) throw new Error(`ClaimRef got reset for pv "${pv.metadata.name}"`);
      if (!isClaimFullyBound(pvc)) return false;
    }
    for (const written of provisions) {
      const pvc = handle.persistentVolumeClaim(ns, written.metadata.name ?? '');
      if (!pvc) throw new Error(`failed to check provisioning pvc: cannot find PVC "${ns}/${written.metadata.name}"`);
      if (versionOf(written) > versionOf(pvc)) return false;
      if (!pvc.metadata.annotations) throw new Error(`selectedNode annotation reset for PVC "${pvc.metadata.name}"`);
      if (pvc.metadata.annotations[annSelectedNode] !== nodeName) throw new Error(`provisioning failed for PVC "${pvc.metadata.name}"`);
      const vn = pvc.spec?.volumeName;
      if (vn) {
        const pv = handle.persistentVolume(vn);
        if (!pv) return false;
        if (!volumeAdmitsNode(pv, node)) throw new Error(`pv "${pv.metadata.name}" node affinity doesn't match node "${nodeName}": no matching NodeSelectorTerms`);
      }
      if (!isClaimFullyBound(pvc)) return false;
    }
    return true;
  }

  /** Forgets assumptions the cache has caught up with, or whose object is gone (keeps the maps bounded). */
  function sweep(): void {
    for (const [name, a] of assumedVolumes) {
      if (a.written === undefined) continue;
      const pv = handle.persistentVolume(name);
      if (!pv || versionOf(pv) >= a.written) assumedVolumes.delete(name);
    }
    for (const [key, a] of assumedClaims) {
      if (a.written === undefined) continue;
      const i = key.indexOf('/');
      const c = handle.persistentVolumeClaim(key.slice(0, i), key.slice(i + 1));
      if (!c || versionOf(c) >= a.written) assumedClaims.delete(key);
    }
  }

  const binderReady = () => !!(handle.updateVolume && handle.updateClaim && handle.storageChanged && handle.node && handle.podExists);

  return {
    name: 'VolumeBinding',
    check(pod) {
      if (!podClaims(pod).length) return null;
      const why = checkClaims(pod);
      if (why) return why;
      return podVolumeClaims(pod).immediate.length ? reasons.unboundImmediate : null;
    },
    preFilter(pod): PodVolumeClaims | null {
      if (!podClaims(pod).length) return null;
      const claims = podVolumeClaims(pod);
      return claims.bound.length || claims.delayed.length ? claims : null;
    },
    unchangedWithout: () => true,
    filterNeeded: (_pod, raw) => raw !== null,
    filter(_pod, node: NodeInfo, raw): FilterResult | null {
      const claims = raw as PodVolumeClaims | null;
      if (!claims) return null;
      const found = findPodVolumes(claims, node.node);
      return found.reason ? { reason: found.reason, unresolvable: true } : null;
    },
    async preBind(pod, nodeName, signal) {
      // Reserve, synchronously: decide again for the chosen node and assume the decisions.
      if (!podClaims(pod).length) return;
      sweep();
      const claims = podVolumeClaims(pod);
      if (!claims.delayed.length) return; // all bound (immediate ones never get here)
      const node = handle.node?.(nodeName) ?? ({ metadata: { name: nodeName, labels: {} } } as Node);
      // The bound claims passed Filter on this node; only the unbound ones are decided again.
      const found = findPodVolumes({ ...claims, bound: [] }, node);
      if (!found.volumes) throw new Error(`binding volumes: node "${nodeName}" no longer fits: ${found.reason}`);
      const { bindings, provisions } = found.volumes;
      if (!binderReady()) {
        for (const c of provisions) {
          if (c.metadata.annotations?.[annSelectedNode] === nodeName) continue;
          await handle.patchClaim?.(c.metadata.namespace ?? '', c.metadata.name ?? '', { [annSelectedNode]: nodeName });
        }
        return;
      }
      const b = handle as VolumeBinderHandle;
      const toBind = bindings.map(({ claim, pv }) => ({ claim, pv: bindVolumeToClaim(pv, claim).volume }));
      for (const x of toBind) assumedVolumes.set(x.pv.metadata.name ?? '', { pv: x.pv });
      for (const c of provisions) assumedClaims.set(`${c.metadata.namespace}/${c.metadata.name}`, { node: nodeName });
      const written: { claim: PersistentVolumeClaim; pv: PersistentVolume }[] = [];
      const provisioned: PersistentVolumeClaim[] = [];
      let done = false;
      try {
        // Upstream bindAPIUpdate: the volumes, then the claims to provision; its errors as they are.
        for (const x of toBind) {
          const saved = await b.updateVolume(x.pv);
          written.push({ claim: x.claim, pv: saved });
          const a = assumedVolumes.get(saved.metadata.name ?? '');
          if (a) a.written = versionOf(saved);
        }
        for (const c of provisions) {
          const key = `${c.metadata.namespace}/${c.metadata.name}`;
          const live = handle.persistentVolumeClaim(c.metadata.namespace ?? '', c.metadata.name ?? '') ?? c;
          if (live.metadata.annotations?.[annSelectedNode] === nodeName) {
            provisioned.push(live);
            assumedClaims.delete(key);
            continue;
          }
          const next = structuredClone(live);
          next.metadata.annotations = { ...next.metadata.annotations, [annSelectedNode]: nodeName };
          const saved = await b.updateClaim(next);
          provisioned.push(saved);
          const a = assumedClaims.get(key);
          if (a) a.written = versionOf(saved);
        }
        // Wait for the PV controller (and provisioners) to finish, woken by storage events.
        const deadline = Date.now() + bindTimeoutMs;
        try {
          for (;;) {
            if (checkBindings(pod, nodeName, written, provisioned)) {
              done = true;
              return;
            }
            const left = deadline - Date.now();
            if (left <= 0) throw new Error('context deadline exceeded');
            if (signal.aborted) throw new Error('context canceled');
            await b.storageChanged(signal, Math.min(left, fallbackPollMs));
            if (signal.aborted) throw new Error('context canceled');
          }
        } catch (err) {
          throw new Error(`binding volumes: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
      } finally {
        // Bound: the cache has the API's objects now. Otherwise what was never written is
        // forgotten; what was written stays assumed until the cache catches up with it.
        for (const x of toBind) {
          const a = assumedVolumes.get(x.pv.metadata.name ?? '');
          if (a && (done || a.written === undefined)) assumedVolumes.delete(x.pv.metadata.name ?? '');
        }
        for (const c of provisions) {
          const key = `${c.metadata.namespace}/${c.metadata.name}`;
          const a = assumedClaims.get(key);
          if (a && (done || a.written === undefined)) assumedClaims.delete(key);
        }
      }
    },
  };
}
