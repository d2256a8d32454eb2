/**
 * The StatefulSet controller's pure pieces, as upstream's pkg/controller/statefulset
 * stateful_set_utils.go: pod names and ordinals (`<set>-<ordinal>`, `spec.ordinals.start`), the
 * pod built from a template (labels `statefulset.kubernetes.io/pod-name`,
 * `apps.kubernetes.io/pod-index`, `controller-revision-hash`; `spec.hostname` and
 * `spec.subdomain` for the headless Service's DNS names; a `persistentVolumeClaim` volume per
 * claim template), identity and storage checks, the claims of a pod
 * (`<template>-<set>-<ordinal>`) and their ownership under `persistentVolumeClaimRetentionPolicy`
 * (upstream's isClaimOwnerUpToDate / updateClaimOwnerRefForSetAndPod), revision data (upstream's
 * getPatch: the template under `$patch: replace`, so `kubectl rollout undo` can apply it as a
 * strategic merge patch) and its inverse, the replica counts of the status, and
 * completeRollingUpdate / inconsistentStatus.
 *
 * Everything here is a function of its arguments: no I/O, no clock (callers pass `now`). Objects
 * passed in are never mutated; functions named `with…`/`new…` return new objects.
 */
import type {
  ControllerRevision,
  IntOrString,
  OwnerReference,
  PersistentVolumeClaim,
  Pod,
  PodTemplateSpec,
  StatefulSet,
  StatefulSetPersistentVolumeClaimRetentionPolicy,
  StatefulSetStatus,
  Volume,
} from '../api/index.ts';
import { applyStrategicMergePatch } from '../api/patch/strategic.ts';
import { intOrPercent, isPodAvailable, isPodReady, msUntilAvailable, stableJson } from './controller-utils.ts';
import { isJsonObject } from '../util/json.ts';

/** apps.StatefulSetPodNameLabel. */
export const podNameLabel = 'statefulset.kubernetes.io/pod-name';
/** apps.PodIndexLabel (the PodIndexLabel feature, on since 1.28, GA in 1.32). */
export const podIndexLabel = 'apps.kubernetes.io/pod-index';
/** apps.StatefulSetRevisionLabel (= ControllerRevisionHashLabelKey). */
export const revisionLabel = 'controller-revision-hash';
/** The controller's kind, for owner references and revisions. */
export const statefulSetKind = { apiVersion: 'apps/v1', kind: 'StatefulSet' } as const;
const podKind = { apiVersion: 'v1', kind: 'Pod' } as const;

type Kind = { readonly apiVersion: string; readonly kind: string };

// ---- names and ordinals -------------------------------------------------------------------------

/** Upstream's statefulPodRegex: the parent's name, a dash, the ordinal at the end. */
const ordinalPattern = /^(.*)-([0-9]+)$/;
/** Ordinals are parsed as 32-bit integers, as upstream's strconv.ParseInt(s, 10, 32). */
const maxOrdinal = 2 ** 31 - 1;

/** The parent set's name and the ordinal of a pod name ('' and -1 when it has none). */
export function parentAndOrdinal(name: string): { parent: string; ordinal: number } {
  const m = ordinalPattern.exec(name);
  if (!m) return { parent: '', ordinal: -1 };
  const n = Number(m[2]);
  return { parent: m[1]!, ordinal: Number.isSafeInteger(n) && n <= maxOrdinal ? n : -1 };
}

export function ordinalOf(pod: Pod): number {
  return parentAndOrdinal(pod.metadata.name ?? '').ordinal;
}

/** spec.replicas (the API defaults it to 1). */
export function replicasOf(set: StatefulSet): number {
  return set.spec?.replicas ?? 1;
}

/** The first ordinal (spec.ordinals.start, else 0). */
export function startOrdinal(set: StatefulSet): number {
  return set.spec?.ordinals?.start ?? 0;
}

/** The last ordinal (inclusive); start - 1 for zero replicas. */
export function endOrdinal(set: StatefulSet): number {
  return startOrdinal(set) + replicasOf(set) - 1;
}

export function podInOrdinalRange(pod: Pod, set: StatefulSet): boolean {
  const o = ordinalOf(pod);
  return o >= startOrdinal(set) && o <= endOrdinal(set);
}

export function podName(set: StatefulSet, ordinal: number): string {
  return `${set.metadata.name}-${ordinal}`;
}

export function claimName(set: StatefulSet, template: PersistentVolumeClaim, ordinal: number): string {
  return `${template.metadata.name}-${set.metadata.name}-${ordinal}`;
}

/** Whether a pod's name makes it a member of the set (upstream isMemberOf). */
export function isMemberOf(set: StatefulSet, pod: Pod): boolean {
  return parentAndOrdinal(pod.metadata.name ?? '').parent === set.metadata.name;
}

/** Whether `name` is the claim of one of the set's templates for some ordinal. */
export function isClaimOfSet(set: StatefulSet, name: string): boolean {
  for (const t of set.spec?.volumeClaimTemplates ?? []) {
    const prefix = `${t.metadata.name}-${set.metadata.name}-`;
    if (name.startsWith(prefix) && /^[0-9]+$/.test(name.slice(prefix.length))) return true;
  }
  return false;
}

// ---- pod state ----------------------------------------------------------------------------------

const phaseOf = (pod: Pod) => pod.status?.phase ?? '';

/** Known to the API server (it sets the phase on creation); a pod built here has none. */
export const isCreated = (pod: Pod): boolean => phaseOf(pod) !== '';
export const isPending = (pod: Pod): boolean => phaseOf(pod) === 'Pending';
export const isFailed = (pod: Pod): boolean => phaseOf(pod) === 'Failed';
export const isSucceeded = (pod: Pod): boolean => phaseOf(pod) === 'Succeeded';
export const isTerminating = (pod: Pod): boolean => !!pod.metadata.deletionTimestamp;
export const isRunningAndReady = (pod: Pod): boolean => phaseOf(pod) === 'Running' && isPodReady(pod);
export const isRunningAndAvailable = (pod: Pod, minReadySeconds: number, now: number): boolean => isPodAvailable(pod, minReadySeconds, now);
export const isHealthy = (pod: Pod): boolean => isRunningAndReady(pod) && !isTerminating(pod);

/** Not (running, ready and available), or terminating: what a rolling update waits for. */
export function isUnavailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  return !isHealthy(pod) || !isRunningAndAvailable(pod, minReadySeconds, now);
}

export function podRevision(pod: Pod): string {
  return pod.metadata.labels?.[revisionLabel] ?? '';
}

export const allowsBurst = (set: StatefulSet): boolean => set.spec?.podManagementPolicy === 'Parallel';

// ---- identity and storage -----------------------------------------------------------------------

/** The pod's name, namespace and pod-name label are the set's for its ordinal. */
export function identityMatches(set: StatefulSet, pod: Pod): boolean {
  const { parent, ordinal } = parentAndOrdinal(pod.metadata.name ?? '');
  return (
    ordinal >= 0 &&
    parent === set.metadata.name &&
    pod.metadata.name === podName(set, ordinal) &&
    pod.metadata.namespace === set.metadata.namespace &&
    pod.metadata.labels?.[podNameLabel] === pod.metadata.name
  );
}

/** Every claim template has a volume of that name using the ordinal's claim. */
export function storageMatches(set: StatefulSet, pod: Pod): boolean {
  const ordinal = ordinalOf(pod);
  if (ordinal < 0) return false;
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  for (const t of set.spec?.volumeClaimTemplates ?? []) {
    const v = volumes.get(t.metadata.name ?? '');
    if (v?.persistentVolumeClaim?.claimName !== claimName(set, t, ordinal)) return false;
  }
  return true;
}

/**
 * The claims a pod of the set uses, keyed by template name: each template's metadata and spec,
 * named for the pod's ordinal, in the set's namespace, labelled with the template's labels and the
 * selector's matchLabels.
 */
export function podClaims(set: StatefulSet, pod: Pod): Map<string, PersistentVolumeClaim> {
  const ordinal = ordinalOf(pod);
  const out = new Map<string, PersistentVolumeClaim>();
  const matchLabels = set.spec?.selector?.matchLabels ?? {};
  for (const t of set.spec?.volumeClaimTemplates ?? []) {
    const meta = structuredClone(t.metadata);
    meta.name = claimName(set, t, ordinal);
    meta.namespace = set.metadata.namespace;
    const labels = { ...meta.labels, ...matchLabels };
    if (Object.keys(labels).length) meta.labels = labels;
    else delete meta.labels;
    const claim: PersistentVolumeClaim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta };
    if (t.spec) claim.spec = structuredClone(t.spec);
    out.set(t.metadata.name ?? '', claim);
  }
  return out;
}

/** Sets the pod's claim volumes (upstream updateStorage): template volumes first, then the pod's others. */
export function updateStorage(set: StatefulSet, pod: Pod): void {
  const claims = podClaims(set, pod);
  const volumes: Volume[] = [];
  for (const [name, claim] of claims) volumes.push({ name, persistentVolumeClaim: { claimName: claim.metadata.name! } });
  for (const v of pod.spec?.volumes ?? []) if (!claims.has(v.name)) volumes.push(v);
  if (!pod.spec) pod.spec = { containers: [] };
  if (volumes.length) pod.spec.volumes = volumes;
}

/** Sets the pod's name, namespace and identity labels for its ordinal (upstream updateIdentity). */
export function updateIdentity(set: StatefulSet, pod: Pod): void {
  const ordinal = ordinalOf(pod);
  pod.metadata.name = podName(set, ordinal);
  pod.metadata.namespace = set.metadata.namespace;
  pod.metadata.labels = { ...pod.metadata.labels, [podNameLabel]: pod.metadata.name, [podIndexLabel]: String(ordinal) };
}

/**
 * A new pod of the set for `ordinal` from its template (upstream newStatefulSetPod): the
 * template's labels, annotations, finalizers and spec, generateName `<set>-`, the set as
 * controller, the identity (hostname and subdomain too: immutable, so set only here) and the
 * claim volumes.
 */
export function newStatefulSetPod(set: StatefulSet, ordinal: number): Pod {
  const template = set.spec?.template;
  const tm = template?.metadata;
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(set, ordinal),
      generateName: `${set.metadata.name}-`,
      namespace: set.metadata.namespace,
      labels: { ...tm?.labels },
      ownerReferences: [newOwnerRef(set, statefulSetKind)],
    },
    // A template without a spec fails the set's validation; the API server would refuse the pod too.
    spec: structuredClone(template?.spec ?? { containers: [] }),
  };
  if (tm?.annotations && Object.keys(tm.annotations).length) pod.metadata.annotations = { ...tm.annotations };
  if (tm?.finalizers?.length) pod.metadata.finalizers = [...tm.finalizers];
  updateIdentity(set, pod);
  pod.spec!.hostname = pod.metadata.name;
  if (set.spec?.serviceName) pod.spec!.subdomain = set.spec.serviceName;
  else delete pod.spec!.subdomain;
  updateStorage(set, pod);
  return pod;
}

/** The set as its current and its update revision restore it, and those revisions' names. */
export interface VersionedSets {
  currentSet: StatefulSet;
  updateSet: StatefulSet;
  currentRevision: string;
  updateRevision: string;
}

/**
 * The pod for `ordinal` at the revision it should have when created (upstream
 * newVersionedStatefulSetPod): below the partition (or, without rollingUpdate, below the current
 * replica count) of a RollingUpdate set, the current revision; otherwise the update revision.
 */
export function newVersionedStatefulSetPod(ordinal: number, v: VersionedSets): Pod {
  const { currentSet, updateSet, currentRevision, updateRevision } = v;
  const strategy = currentSet.spec?.updateStrategy;
  const start = startOrdinal(currentSet);
  // Upstream's condition, with Go's precedence: (RollingUpdate && no rollingUpdate && below the
  // current replicas) || (rollingUpdate && below the partition).
  const atCurrent =
    (strategy?.type === 'RollingUpdate' && !strategy.rollingUpdate && ordinal < start + (currentSet.status?.currentReplicas ?? 0)) ||
    (!!strategy?.rollingUpdate && ordinal < start + (strategy.rollingUpdate.partition ?? 0));
  const set = atCurrent ? currentSet : updateSet;
  const pod = newStatefulSetPod(set, ordinal);
  pod.metadata.labels![revisionLabel] = atCurrent ? currentRevision : updateRevision;
  return pod;
}

// ---- owner references ---------------------------------------------------------------------------

/** A controller reference to `owner` (metav1.NewControllerRef). */
export function newOwnerRef(owner: { metadata: { name?: string; uid?: string } }, kind: Kind): OwnerReference {
  return { apiVersion: kind.apiVersion, kind: kind.kind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

type Named = { metadata: { name?: string; uid?: string } };

const matchesRef = (ref: OwnerReference, obj: Named, kind: Kind) => ref.apiVersion === kind.apiVersion && ref.kind === kind.kind && ref.name === obj.metadata.name;

/** Whether `target` has a reference to `owner`'s uid (controller or not). */
export function hasOwnerRef(target: PersistentVolumeClaim, owner: Named): boolean {
  const uid = owner.metadata.uid;
  return !!uid && (target.metadata.ownerReferences ?? []).some((r) => r.uid === uid);
}

/** A reference naming `obj` (kind and name) with another uid: left by a deleted predecessor. */
export function hasStaleOwnerRef(target: PersistentVolumeClaim, obj: Named, kind: Kind): boolean {
  const ref = (target.metadata.ownerReferences ?? []).find((r) => matchesRef(r, obj, kind));
  return !!ref && ref.uid !== (obj.metadata.uid ?? '');
}

export function retentionPolicy(set: StatefulSet): Required<StatefulSetPersistentVolumeClaimRetentionPolicy> {
  const p = set.spec?.persistentVolumeClaimRetentionPolicy;
  return { whenDeleted: p?.whenDeleted ?? 'Retain', whenScaled: p?.whenScaled ?? 'Retain' };
}

/**
 * Another controller than the set or the pod controls the claim, under a policy that deletes
 * (with Retain/Retain anyone may manage the claims). A reference to the set or pod by name with a
 * wrong uid counts as unexpected too: such claims are left alone.
 */
export function hasUnexpectedController(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): boolean {
  const policy = retentionPolicy(set);
  if (policy.whenScaled === 'Retain' && policy.whenDeleted === 'Retain') return false;
  for (const ref of claim.metadata.ownerReferences ?? []) {
    if (matchesRef(ref, set, statefulSetKind)) {
      if (ref.uid !== set.metadata.uid) return true;
      continue;
    }
    if (matchesRef(ref, pod, podKind)) {
      if (ref.uid !== (pod.metadata.uid ?? '')) return true;
      continue;
    }
    if (ref.controller) return true;
  }
  return false;
}

/** The set or pod owns the claim without being its controller. */
export function hasNonControllerOwner(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): boolean {
  return (claim.metadata.ownerReferences ?? []).some((r) => (r.uid === set.metadata.uid || (!!pod.metadata.uid && r.uid === pod.metadata.uid)) && !r.controller);
}

/**
 * Whether the claim's owner references agree with the retention policy (upstream
 * isClaimOwnerUpToDate): Retain/Retain none; whenDeleted Delete the set; whenScaled Delete the
 * pod once it is scaled down (out of the ordinal range), the set while it is in range under
 * Delete/Delete. Claims with stale references or another controller are reported up to date, so
 * nothing touches them (unless the set or pod also owns them: those references go).
 */
export function isClaimOwnerUpToDate(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): boolean {
  if (hasStaleOwnerRef(claim, set, statefulSetKind) || hasStaleOwnerRef(claim, pod, podKind)) return true;
  if (hasUnexpectedController(claim, set, pod)) return !(hasOwnerRef(claim, set) || hasOwnerRef(claim, pod));
  if (hasNonControllerOwner(claim, set, pod)) return false;
  const setRef = hasOwnerRef(claim, set);
  const podRef = hasOwnerRef(claim, pod);
  const scaledDown = !podInOrdinalRange(pod, set);
  switch (policyCase(set)) {
    case 'Retain/Delete':
      return setRef && !podRef;
    case 'Delete/Retain':
      return !setRef && scaledDown === podRef;
    case 'Delete/Delete':
      // Scaled down: the pod's reference and not the set's; in range, the other way round.
      return scaledDown !== setRef && scaledDown === podRef;
    default:
      return !setRef && !podRef;
  }
}

/** `<whenScaled>/<whenDeleted>`; an unknown value counts as Retain, as upstream. */
function policyCase(set: StatefulSet): string {
  const { whenDeleted, whenScaled } = retentionPolicy(set);
  const norm = (v: string) => (v === 'Delete' ? 'Delete' : 'Retain');
  return `${norm(whenScaled)}/${norm(whenDeleted)}`;
}

/**
 * The claim's owner references for the policy (upstream updateClaimOwnerRefForSetAndPod): the
 * set's and pod's references are removed, then the ones the policy wants added as controller
 * references; with another controller present, none are added.
 */
export function claimOwnerRefsFor(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): OwnerReference[] {
  const unexpected = hasUnexpectedController(claim, set, pod);
  const refs = (claim.metadata.ownerReferences ?? []).filter((r) => !matchesRef(r, set, statefulSetKind) && !matchesRef(r, pod, podKind));
  if (unexpected) return refs;
  const add = (owner: Named, kind: Kind) => {
    if (!refs.some((r) => r.uid === owner.metadata.uid)) refs.push(newOwnerRef(owner, kind));
  };
  const scaledDown = !podInOrdinalRange(pod, set);
  switch (policyCase(set)) {
    case 'Retain/Delete':
      add(set, statefulSetKind);
      break;
    case 'Delete/Retain':
      if (scaledDown) add(pod, podKind);
      break;
    case 'Delete/Delete':
      if (scaledDown) add(pod, podKind);
      else add(set, statefulSetKind);
      break;
  }
  return refs;
}

/** Claim lookup by namespace and name (the controller's cache). */
export type ClaimLookup = (namespace: string, name: string) => PersistentVolumeClaim | undefined;

/** Every existing claim of the pod agrees with the set's retention policy (missing ones do). */
export function claimsMatchRetentionPolicy(set: StatefulSet, pod: Pod, lookup: ClaimLookup): boolean {
  for (const claim of podClaims(set, pod).values()) {
    const live = lookup(claim.metadata.namespace ?? '', claim.metadata.name ?? '');
    if (live && !isClaimOwnerUpToDate(live, set, pod)) return false;
  }
  return true;
}

/**
 * A claim the new pod would use still belongs to a previous pod of that name (whenScaled
 * Delete, and the garbage collector has not yet deleted it): the pod must wait (upstream
 * PodClaimIsStale).
 */
export function podClaimIsStale(set: StatefulSet, pod: Pod, lookup: ClaimLookup): boolean {
  if (retentionPolicy(set).whenScaled === 'Retain') return false;
  for (const claim of podClaims(set, pod).values()) {
    const live = lookup(claim.metadata.namespace ?? '', claim.metadata.name ?? '');
    if (live && hasStaleOwnerRef(live, pod, podKind)) return true;
  }
  return false;
}

// ---- revisions ----------------------------------------------------------------------------------

/** Keys sorted at every level, as Go's encoding of a decoded JSON map writes them. */
function sortedDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedDeep);
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortedDeep(o[k])]));
}

/**
 * A revision's data (upstream getPatch): `{"spec":{"template":{"$patch":"replace",...}}}` with the
 * template as Go encodes it (keys sorted at every level, `metadata.creationTimestamp: null`), so
 * `kubectl rollout undo` (a strategic merge patch of this data) restores the template, and its
 * check whether the revision already matches compares equal bytes.
 */
export function revisionData(set: StatefulSet): Record<string, unknown> {
  const template = structuredClone(set.spec?.template ?? {}) as Record<string, unknown>;
  template['metadata'] = { ...(template['metadata'] as object | undefined), creationTimestamp: null };
  return { spec: { template: { $patch: 'replace', ...(sortedDeep(template) as object) } } };
}


/** A copy without null-valued keys (what a replaced map means once decoded). */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (!isJsonObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out;
}

/**
 * The set as a revision restores it (upstream ApplyRevision): the revision's data applied to the
 * set as a strategic merge patch. Data of the usual shape (only the template, replaced) is applied
 * directly; anything else goes through the schema-driven patch.
 */
export function applyRevision(set: StatefulSet, revision: ControllerRevision): StatefulSet {
  const data = revision.data;
  const spec = isJsonObject(data) ? data['spec'] : undefined;
  const template = isJsonObject(spec) ? spec['template'] : undefined;
  if (isJsonObject(data) && Object.keys(data).length === 1 && isJsonObject(spec) && Object.keys(spec).length === 1 && isJsonObject(template) && template['$patch'] === 'replace') {
    const { $patch: _, ...rest } = template;
    return { ...set, spec: { ...set.spec!, template: withoutNulls(rest) as PodTemplateSpec } };
  }
  return applyStrategicMergePatch(set, data ?? {}, 'apps.v1.StatefulSet') as StatefulSet;
}

/** One more than the highest revision number of sorted revisions (1 for none). */
export function nextRevision(sorted: readonly ControllerRevision[]): number {
  return sorted.length ? (sorted.at(-1)!.revision ?? 0) + 1 : 1;
}

// ---- status -------------------------------------------------------------------------------------

/**
 * Sets the replica counts of `status` from pods (upstream updateStatus/computeReplicaStatus):
 * created pods; running and ready ones, and of those the available ones; and among created pods
 * not terminating, those at the current and at the update revision.
 */
export function countReplicas(status: StatefulSetStatus, pods: Iterable<Pod>, o: { minReadySeconds: number; currentRevision: string; updateRevision: string; now: number }): void {
  const { minReadySeconds, currentRevision, updateRevision, now } = o;
  let replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
  for (const pod of pods) {
    if (isCreated(pod)) replicas++;
    if (isRunningAndReady(pod)) {
      ready++;
      if (isRunningAndAvailable(pod, minReadySeconds, now)) available++;
    }
    if (isCreated(pod) && !isTerminating(pod)) {
      const rev = podRevision(pod);
      if (rev === currentRevision) current++;
      if (rev === updateRevision) updated++;
    }
  }
  status.replicas = replicas;
  status.readyReplicas = ready;
  status.availableReplicas = available;
  status.currentReplicas = current;
  status.updatedReplicas = updated;
}

/** Milliseconds until the first ready-but-not-yet-available pod becomes available, if any. */
export function msUntilNextAvailable(pods: Iterable<Pod>, minReadySeconds: number, now: number): number | undefined {
  let min: number | undefined;
  for (const p of pods) {
    if (!isRunningAndReady(p)) continue;
    const ms = msUntilAvailable(p, minReadySeconds, now);
    if (ms !== undefined && (min === undefined || ms < min)) min = ms;
  }
  return min;
}

/**
 * A finished RollingUpdate (every wanted replica exists, is updated and ready) makes the update
 * revision the current one (upstream completeRollingUpdate). Mutates `status`.
 */
export function completeRollingUpdate(set: StatefulSet, status: StatefulSetStatus): void {
  const want = replicasOf(set);
  if ((set.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && status.updatedReplicas === want && status.readyReplicas === want && status.replicas === want) {
    status.currentReplicas = status.updatedReplicas;
    status.currentRevision = status.updateRevision;
  }
}

/**
 * Whether the stored status differs from `status` in what the controller reports (upstream
 * inconsistentStatus, plus collisionCount, which upstream writes only alongside other changes).
 */
export function inconsistentStatus(set: StatefulSet, status: StatefulSetStatus): boolean {
  const s = set.status;
  const n = (x: number | undefined) => x ?? 0;
  return (
    n(status.observedGeneration) > n(s?.observedGeneration) ||
    s?.observedGeneration === undefined ||
    n(status.replicas) !== n(s?.replicas) ||
    n(status.currentReplicas) !== n(s?.currentReplicas) ||
    n(status.readyReplicas) !== n(s?.readyReplicas) ||
    n(status.updatedReplicas) !== n(s?.updatedReplicas) ||
    n(status.availableReplicas) !== n(s?.availableReplicas) ||
    (status.currentRevision ?? '') !== (s?.currentRevision ?? '') ||
    (status.updateRevision ?? '') !== (s?.updateRevision ?? '') ||
    n(status.collisionCount) !== n(s?.collisionCount)
  );
}

/** maxUnavailable resolved against the replicas: default 1, percentages rounded down, at least 1. */
export function maxUnavailableOf(v: IntOrString | undefined, replicas: number): number {
  return Math.max(1, intOrPercent(v, replicas, false, '1'));
}

/** Data equality of revisions as JSON (key order aside). */
export function sameData(a: ControllerRevision, b: ControllerRevision): boolean {
  return stableJson(a.data ?? null) === stableJson(b.data ?? null);
}
