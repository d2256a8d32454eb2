/**
 * The Deployment controller: owns ReplicaSets (one per pod template, named
 * `<deployment>-<pod-template-hash>`, the hash also a label of their selector and pods) and moves
 * replicas from old ones to the new one — RollingUpdate within maxSurge/maxUnavailable, or
 * Recreate (old pods gone first). It keeps upstream's revision annotations (so `kubectl rollout
 * history` and `undo` work), desired/max-replicas annotations, proportional scaling of a rollout
 * in progress, pause, revisionHistoryLimit cleanup, and the status `kubectl rollout status`
 * reads: replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas,
 * observedGeneration, and the Available and Progressing conditions (progressDeadlineSeconds).
 */
import type { Deployment, DeploymentCondition, DeploymentStatus, LabelSelector, PodTemplateSpec, ReplicaSet } from '../api/index.ts';
import { labelSelectorFromObject } from '../api/selectors.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.ts';
import { IndexNamespace, clientset, resources } from '../client/index.ts';
import { IndexControllerUid, controllerUidIndex } from '../client/store.ts';
import type { ControllerContext } from './context.ts';
import {
  controllerRef,
  intOrPercent,
  jsonEqual,
  keyOf,
  newControllerRef,
  nowRfc3339,
  podPhase,
  podTemplateHash,
  semanticNormalize,
  splitKey,
  stableJson,
  startQueue,
  type ReconcileResult,
} from './controller-utils.ts';
import { compareStrings } from '../util/compare.ts';

const revisionAnnotation = 'deployment.kubernetes.io/revision';
const revisionHistoryAnnotation = 'deployment.kubernetes.io/revision-history';
const desiredReplicasAnnotation = 'deployment.kubernetes.io/desired-replicas';
const maxReplicasAnnotation = 'deployment.kubernetes.io/max-replicas';
const hashLabel = 'pod-template-hash';
/** Annotations of a Deployment that are not copied to its ReplicaSets. */
const notCopied = new Set(['kubectl.kubernetes.io/last-applied-configuration', revisionAnnotation, revisionHistoryAnnotation, desiredReplicasAnnotation, maxReplicasAnnotation]);

type RS = ReplicaSet;

const replicas = (o: Deployment | RS): number => o.spec?.replicas ?? 1;
const revisionOf = (rs: RS): number => Number(rs.metadata.annotations?.[revisionAnnotation] ?? 0) || 0;

/**
 * The pod template of a ReplicaSet without the hash label, to compare with a Deployment's: a
 * shallow copy (the spec and the other metadata are shared with the cached object, read only).
 */
function templateWithoutHash(t: PodTemplateSpec | undefined): PodTemplateSpec {
  const c: PodTemplateSpec = { ...t };
  const meta = { ...c.metadata };
  const labels = { ...meta.labels };
  delete labels[hashLabel];
  if (Object.keys(labels).length) meta.labels = labels;
  else delete meta.labels;
  c.metadata = meta;
  return c;
}

/**
 * The semantic form of a template (see semanticNormalize), memoized per cached object: cached
 * objects are never mutated (an update brings a new object), so a template's form never changes.
 */
const templateForms = new WeakMap<object, string>();
function templateForm(t: PodTemplateSpec | undefined, withoutHash: boolean): string {
  if (!t) return '{}';
  const memo = withoutHash ? rsForms : templateForms;
  let f = memo.get(t);
  if (f === undefined) memo.set(t, (f = stableJson(semanticNormalize(withoutHash ? templateWithoutHash(t) : t))));
  return f;
}
const rsForms = new WeakMap<object, string>();

/** Upstream EqualIgnoreHash: a ReplicaSet's template equals a Deployment's, pod-template-hash aside. */
export function equalIgnoreHash(rsTemplate: PodTemplateSpec | undefined, template: PodTemplateSpec | undefined): boolean {
  return templateForm(rsTemplate, true) === templateForm(template, false);
}

/** maxSurge and maxUnavailable resolved against replicas, as upstream (surge up, unavailable down; never both 0). */
export function fenceposts(d: Deployment): { surge: number; unavailable: number } {
  const ru = d.spec?.strategy?.rollingUpdate;
  const n = replicas(d);
  const surge = intOrPercent(ru?.maxSurge, n, true, '25%');
  let unavailable = intOrPercent(ru?.maxUnavailable, n, false, '25%');
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

/** How many replicas the new ReplicaSet may have now under RollingUpdate. */
export function newReplicasForRolling(desired: number, surge: number, newCount: number, allCount: number): number {
  const maxTotal = desired + surge;
  if (allCount >= maxTotal) return newCount;
  return newCount + Math.min(maxTotal - allCount, desired - newCount);
}

/**
 * How many old replicas may be scaled down now: what is available above the minimum, counting
 * the new set's unavailable pods against it (upstream reconcileOldReplicaSets).
 */
export function oldScaleDownBudget(desired: number, unavailable: number, allCount: number, newSpec: number, newAvailable: number): number {
  const minAvailable = desired - unavailable;
  const newUnavailable = newSpec - newAvailable;
  return allCount - minAvailable - newUnavailable;
}

export function startDeploymentController(ctx: ControllerContext): void {
  const deployments = ctx.informers.typedInformerFor(resources.deployments);
  const replicaSets = ctx.informers.typedInformerFor(resources.replicaSets);
  const pods = ctx.informers.typedInformerFor(resources.pods, { indexers: { [IndexControllerUid]: controllerUidIndex } });
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder('deployment-controller');
  const queue = startQueue(ctx, (key) => sync(key), { name: 'deployment-controller', workers: 5, waitFor: [deployments, replicaSets, pods] });

  const enqueue = (d: Deployment) => queue.add(keyOf(d));
  deployments.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: enqueue });
  const forRs = (rs: RS) => {
    const ref = controllerRef(rs);
    if (ref?.kind === 'Deployment') queue.add(`${rs.metadata.namespace}/${ref.name}`);
    else if (!ref) {
      for (const d of deployments.store.byIndex(IndexNamespace, rs.metadata.namespace ?? '')) {
        if (labelSelectorFromObject(d.spec?.selector ?? null).matches(rs.metadata.labels)) enqueue(d);
      }
    }
  };
  replicaSets.addEventHandler({ onAdd: forRs, onUpdate: (_o, n) => forRs(n), onDelete: forRs });
  // Recreate waits for old pods to be gone: their deletion wakes the deployment.
  pods.addEventHandler({
    onDelete: (pod) => {
      const ref = controllerRef(pod);
      if (ref?.kind !== 'ReplicaSet') return;
      const rs = replicaSets.store.get(`${pod.metadata.namespace}/${ref.name}`);
      if (rs) forRs(rs);
    },
  });

  async function sync(key: string): Promise<ReconcileResult | void> {
    const d = deployments.store.get(key);
    if (!d || d.metadata.deletionTimestamp) return;
    const { namespace } = splitKey(key);
    const selector = labelSelectorFromObject(d.spec?.selector ?? null);
    const owned: RS[] = [];
    for (const rs of replicaSets.store.byIndex(IndexNamespace, namespace)) {
      const ref = controllerRef(rs);
      if (ref?.uid === d.metadata.uid) owned.push(rs);
      else if (!ref && selector.matches(rs.metadata.labels) && !selector.empty) {
        try {
          owned.push(await cs.replicaSets.patch(rs.metadata.name!, { metadata: { ownerReferences: [newControllerRef(d, 'Deployment', 'apps/v1')], uid: rs.metadata.uid } }, { type: 'strategic', namespace }));
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        }
      }
    }
    const template = d.spec?.template;
    // Upstream EqualIgnoreHash: semantic equality of the templates, pod-template-hash aside (a
    // template restored by `rollout undo` carries `creationTimestamp: null` and must still match).
    let newRs = owned.find((rs) => equalIgnoreHash(rs.spec?.template, template));
    const old = owned.filter((rs) => rs !== newRs);
    const paused = d.spec?.paused === true;

    if (paused) {
      if (newRs && isScalingEvent(d, owned)) await scale(d, newRs, old);
      return syncStatus(d, newRs, old, false);
    }
    newRs = await ensureNewRs(d, newRs, old);
    await recordRevision(d, newRs);
    if (isScalingEvent(d, [newRs, ...old])) {
      await scale(d, newRs, old);
      return syncStatus(d, newRs, old, false);
    }
    const strategy = d.spec?.strategy?.type ?? 'RollingUpdate';
    const changed = strategy === 'Recreate' ? await rolloutRecreate(d, newRs, old) : await rolloutRolling(d, newRs, old);
    if (!changed && isComplete(d, newRs, old)) await cleanup(d, old);
    return syncStatus(d, newRs, old, changed);
  }

  /** The new ReplicaSet: found (its revision brought up to date) or created with 0 replicas. */
  async function ensureNewRs(d: Deployment, existing: RS | undefined, old: RS[]): Promise<RS> {
    const maxOld = Math.max(0, ...old.map(revisionOf));
    const { surge } = fenceposts(d);
    const annotations = (rs: RS | undefined): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!notCopied.has(k)) out[k] = v;
      const current = rs ? revisionOf(rs) : 0;
      const next = current > maxOld ? current : maxOld + 1;
      out[revisionAnnotation] = String(next);
      if (rs && current && current !== next) {
        const history = rs.metadata.annotations?.[revisionHistoryAnnotation];
        out[revisionHistoryAnnotation] = history ? `${history},${current}` : String(current);
      } else if (rs?.metadata.annotations?.[revisionHistoryAnnotation]) out[revisionHistoryAnnotation] = rs.metadata.annotations[revisionHistoryAnnotation];
      out[desiredReplicasAnnotation] = String(replicas(d));
      out[maxReplicasAnnotation] = String(replicas(d) + surge);
      return out;
    };
    const namespace = d.metadata.namespace!;
    if (existing) {
      const want = { ...existing.metadata.annotations, ...annotations(existing) };
      const minReady = d.spec?.minReadySeconds ?? 0;
      if (jsonEqual(want, existing.metadata.annotations ?? {}) && (existing.spec?.minReadySeconds ?? 0) === minReady) return existing;
      try {
        return await cs.replicaSets.patch(existing.metadata.name!, { metadata: { annotations: want }, spec: { minReadySeconds: minReady } }, { type: 'merge', namespace });
      } catch (err) {
        if (isNotFound(err)) return existing;
        throw err;
      }
    }
    let collisions = d.status?.collisionCount ?? 0;
    for (;;) {
      const hash = podTemplateHash(d.spec?.template, collisions);
      const template: PodTemplateSpec = structuredClone(d.spec?.template ?? {});
      const tmeta = template.metadata ?? {};
      tmeta.labels = { ...tmeta.labels, [hashLabel]: hash };
      template.metadata = tmeta;
      const sel: LabelSelector = structuredClone(d.spec?.selector ?? {});
      sel.matchLabels = { ...sel.matchLabels, [hashLabel]: hash };
      const { surge: s } = fenceposts(d);
      const strategy = d.spec?.strategy?.type ?? 'RollingUpdate';
      const all = old.reduce((n, rs) => n + replicas(rs), 0);
      const initial = strategy === 'Recreate' ? 0 : newReplicasForRolling(replicas(d), s, 0, all);
      const rs: RS = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace,
          labels: tmeta.labels,
          annotations: annotations(undefined),
          ownerReferences: [newControllerRef(d, 'Deployment', 'apps/v1')],
        },
        spec: { replicas: initial, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector: sel, template },
      };
      try {
        const created = await cs.replicaSets.create(rs, { namespace });
        recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${initial}`);
        return created;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        // A ReplicaSet of that name with another template: bump collisionCount and try another hash.
        const other = await cs.replicaSets.get(rs.metadata.name!, { namespace });
        if (controllerRef(other)?.uid === d.metadata.uid && equalIgnoreHash(other.spec?.template, d.spec?.template)) return other;
        collisions++;
        // Upstream's UpdateStatus (its role may update deployments/status, not patch it); a conflict requeues.
        await cs.deployments.updateStatus({ ...d, status: { ...d.status, collisionCount: collisions } }, { namespace });
      }
    }
  }

  /**
   * The Deployment carries its new ReplicaSet's revision (kubectl rollout undo patches it),
   * written through the status subresource as upstream does, so generation does not move.
   */
  async function recordRevision(d: Deployment, newRs: RS): Promise<void> {
    const rev = newRs.metadata.annotations?.[revisionAnnotation];
    if (!rev || d.metadata.annotations?.[revisionAnnotation] === rev) return;
    try {
      await cs.deployments.updateStatus({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, [revisionAnnotation]: rev } } }, { namespace: d.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Replicas changed outside a rollout (the active sets' desired-replicas annotation disagrees). */
  function isScalingEvent(d: Deployment, sets: RS[]): boolean {
    const active = sets.filter((rs) => replicas(rs) > 0);
    if (!active.length) return false;
    return active.some((rs) => rs.metadata.annotations?.[desiredReplicasAnnotation] !== String(replicas(d)));
  }

  async function setReplicas(d: Deployment, rs: RS, n: number): Promise<RS> {
    const { surge } = fenceposts(d);
    const annotations = { ...rs.metadata.annotations, [desiredReplicasAnnotation]: String(replicas(d)), [maxReplicasAnnotation]: String(replicas(d) + surge) };
    const from = replicas(rs);
    if (from === n && jsonEqual(annotations, rs.metadata.annotations ?? {})) return rs;
    // The cached resourceVersion makes this a compare-and-swap: a decision taken on a stale cache
    // fails with a Conflict (and is retried on fresh data) instead of scaling twice.
    const out = await cs.replicaSets.patch(rs.metadata.name!, { metadata: { annotations, resourceVersion: rs.metadata.resourceVersion }, spec: { replicas: n } }, { type: 'merge', namespace: rs.metadata.namespace });
    if (from !== n) recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${n > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${n}`);
    return out;
  }

  /** Proportional scaling: spread a change of spec.replicas over the active sets. */
  async function scale(d: Deployment, newRs: RS, old: RS[]): Promise<void> {
    const active = [newRs, ...old].filter((rs) => replicas(rs) > 0);
    const desired = replicas(d);
    if (active.length <= 1) {
      const target = active[0] ?? newRs;
      await setReplicas(d, target, target === newRs || !active.length ? desired : Math.min(replicas(target), desired));
      for (const rs of [newRs, ...old]) if (rs !== target && replicas(rs) === 0) await setReplicas(d, rs, 0);
      return;
    }
    const { surge } = fenceposts(d);
    const allowed = desired + surge;
    const current = active.reduce((n, rs) => n + replicas(rs), 0);
    let left = allowed - current;
    if (left === 0) {
      for (const rs of active) await setReplicas(d, rs, replicas(rs));
      return;
    }
    // Larger (then newer) sets first, each its share of the change, rounding leftovers to the first.
    const sorted = [...active].sort((a, b) => replicas(b) - replicas(a) || compareStrings(b.metadata.creationTimestamp ?? '', a.metadata.creationTimestamp ?? ''));
    const targets = new Map<RS, number>();
    for (const rs of sorted) {
      const previousMax = Number(rs.metadata.annotations?.[maxReplicasAnnotation] ?? current) || current;
      const share = Math.trunc((replicas(rs) * allowed) / previousMax) - replicas(rs);
      const delta = left > 0 ? Math.min(share, left) : Math.max(share, left);
      targets.set(rs, replicas(rs) + delta);
      left -= delta;
    }
    const first = sorted[0]!;
    targets.set(first, Math.max(0, targets.get(first)! + left));
    for (const [rs, n] of targets) await setReplicas(d, rs, Math.max(0, n));
  }

  async function rolloutRolling(d: Deployment, newRs: RS, old: RS[]): Promise<boolean> {
    const desired = replicas(d);
    const { surge, unavailable } = fenceposts(d);
    const all = [newRs, ...old];
    const allCount = all.reduce((n, rs) => n + replicas(rs), 0);
    // Scale up the new set.
    if (replicas(newRs) > desired) {
      await setReplicas(d, newRs, desired);
      return true;
    }
    if (replicas(newRs) < desired) {
      const n = newReplicasForRolling(desired, surge, replicas(newRs), allCount);
      if (n !== replicas(newRs)) {
        await setReplicas(d, newRs, n);
        return true;
      }
    }
    // Scale down old sets: unhealthy replicas first, then as availability allows.
    const oldCount = old.reduce((n, rs) => n + replicas(rs), 0);
    if (!oldCount) return false;
    let budget = oldScaleDownBudget(desired, unavailable, allCount, replicas(newRs), newRs.status?.availableReplicas ?? 0);
    if (budget <= 0) return false;
    let changed = false;
    const byAge = [...old].sort((a, b) => compareStrings(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? ''));
    const next = new Map<RS, number>(byAge.map((rs) => [rs, replicas(rs)]));
    for (const rs of byAge) {
      if (budget <= 0) break;
      const unhealthy = replicas(rs) - (rs.status?.availableReplicas ?? 0);
      if (unhealthy <= 0) continue;
      const cut = Math.min(unhealthy, budget);
      next.set(rs, replicas(rs) - cut);
      budget -= cut;
    }
    // Available pods above the minimum may go.
    const minAvailable = desired - unavailable;
    const available = all.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    let healthyCut = available - minAvailable;
    for (const rs of byAge) {
      if (healthyCut <= 0) break;
      const cur = next.get(rs)!;
      if (cur === 0) continue;
      const cut = Math.min(cur, healthyCut);
      next.set(rs, cur - cut);
      healthyCut -= cut;
    }
    for (const [rs, n] of next) {
      if (n !== replicas(rs)) {
        await setReplicas(d, rs, n);
        changed = true;
      }
    }
    return changed;
  }

  async function rolloutRecreate(d: Deployment, newRs: RS, old: RS[]): Promise<boolean> {
    let changed = false;
    for (const rs of old) {
      if (replicas(rs) > 0) {
        await setReplicas(d, rs, 0);
        changed = true;
      }
    }
    if (changed) return true;
    // Wait until every old pod is gone.
    const oldRunning = old.some((rs) =>
      pods.store.byIndex(IndexControllerUid, rs.metadata.uid ?? '').some((p) => podPhase(p) !== 'Succeeded' && podPhase(p) !== 'Failed'),
    );
    if (oldRunning) return false;
    if (replicas(newRs) !== replicas(d)) {
      await setReplicas(d, newRs, replicas(d));
      return true;
    }
    return false;
  }

  function isComplete(d: Deployment, newRs: RS, old: RS[]): boolean {
    const desired = replicas(d);
    const all = [newRs, ...old];
    return (
      (newRs.status?.replicas ?? 0) === desired &&
      (newRs.status?.availableReplicas ?? 0) === desired &&
      all.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0) === desired &&
      old.every((rs) => replicas(rs) === 0)
    );
  }

  /** Deletes old, empty ReplicaSets beyond revisionHistoryLimit (oldest revisions first). */
  async function cleanup(d: Deployment, old: RS[]): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit ?? 10;
    const empty = old.filter((rs) => replicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp).sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of empty.slice(0, Math.max(0, empty.length - limit))) {
      try {
        await cs.replicaSets.delete(rs.metadata.name!, { namespace: rs.metadata.namespace, preconditions: { uid: rs.metadata.uid } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  async function syncStatus(d: Deployment, newRs: RS | undefined, old: RS[], progressed: boolean): Promise<ReconcileResult | void> {
    const all = newRs ? [newRs, ...old] : old;
    const desired = replicas(d);
    const { unavailable } = fenceposts(d);
    const sum = (f: 'replicas' | 'readyReplicas' | 'availableReplicas') => all.reduce((n, rs) => n + (rs.status?.[f] ?? 0), 0);
    const available = sum('availableReplicas');
    const now = Date.now();
    const prev: DeploymentStatus = d.status ?? {};
    const prevConds = prev.conditions ?? [];
    const cond = (type: string, st: string, reason: string, message: string): DeploymentCondition => {
      const before = prevConds.find((c) => c.type === type);
      const ts = nowRfc3339(now);
      const transition = before && before.status === st ? before.lastTransitionTime : ts;
      const update = before && before.status === st && before.reason === reason && before.message === message ? before.lastUpdateTime : ts;
      return { type, status: st, lastUpdateTime: update, lastTransitionTime: transition, reason, message };
    };
    const conditions: DeploymentCondition[] = [];
    conditions.push(
      available >= desired - unavailable
        ? cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
        : cond('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
    );
    const name = newRs?.metadata.name ?? '';
    const deadline = d.spec?.progressDeadlineSeconds ?? 600;
    const prevProgress = prevConds.find((c) => c.type === 'Progressing');
    let requeueAfter: number | undefined;
    if (d.spec?.paused === true) {
      conditions.push(cond('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused'));
    } else if (newRs && isComplete(d, newRs, old)) {
      conditions.push(cond('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${name}" has successfully progressed.`));
    } else if (progressed || !prevProgress || prevProgress.reason === 'DeploymentPaused' || prevProgress.reason === 'NewReplicaSetAvailable') {
      const created = newRs && Date.parse(newRs.metadata.creationTimestamp ?? '') > now - 2000 && !prevProgress?.message?.includes(name);
      conditions.push(
        created
          ? cond('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${name}"`)
          : cond('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${name}" is progressing.`),
      );
      requeueAfter = deadline * 1000 + 100;
    } else {
      const since = Date.parse(prevProgress.lastUpdateTime ?? '') || now;
      if (prevProgress.reason === 'ProgressDeadlineExceeded' || since + deadline * 1000 <= now) {
        conditions.push(cond('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${name}" has timed out progressing.`));
      } else {
        conditions.push(prevProgress);
        requeueAfter = since + deadline * 1000 - now + 100;
      }
    }
    const next: DeploymentStatus = {
      observedGeneration: d.metadata.generation,
      replicas: sum('replicas'),
      updatedReplicas: newRs ? (newRs.status?.replicas ?? 0) : 0,
      readyReplicas: sum('readyReplicas'),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, desired - available),
      conditions,
    };
    if (prev.collisionCount !== undefined) next.collisionCount = prev.collisionCount;
    const strip = (s: object) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== 0 && v !== undefined));
    if (!jsonEqual(strip(prev), strip(next))) {
      try {
        await cs.deployments.updateStatus({ ...d, status: next }, { namespace: d.metadata.namespace });
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) return { requeueAfter: 100 };
        throw err;
      }
    }
    if (requeueAfter !== undefined) return { requeueAfter: Math.min(requeueAfter, 2_147_000_000) };
  }
}
