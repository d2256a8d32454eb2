/**
 * The DaemonSet controller, as upstream's pkg/controller/daemon: one pod of the template on
 * every node that should run it (daemonset-util.ts: node selector, required node affinity,
 * taints against the template's tolerations plus the daemon tolerations), each created with its
 * required node affinity narrowed to `metadata.name In [node]` and placed by the default
 * scheduler; pods on nodes that should no longer run them (or that no longer exist, never
 * scheduled) deleted; failed pods deleted (and so recreated) with per-node exponential backoff,
 * succeeded ones deleted; nodes added, relabelled or retainted re-examined.
 *
 * Updates: every template is a ControllerRevision (daemonset-history.ts holds upstream's data, so
 * `kubectl rollout history|undo daemonset/x` work; daemonset-revisions.ts writes them), the
 * current one's hash labels new pods (`controller-revision-hash`, with
 * `pod-template-generation`); RollingUpdate replaces old pods within maxUnavailable, or with
 * maxSurge starts the new pod beside the old one and deletes the old once the new is available
 * (daemonset-plan.ts); OnDelete waits for the user to delete them.
 * Old revisions beyond revisionHistoryLimit that no pod uses are deleted. Status: upstream's
 * counts, observedGeneration (not raised while the controller waits for its own writes), and
 * collisionCount (bumped when a revision name is taken by different data). Events as upstream:
 * SuccessfulCreate / SuccessfulDelete / FailedCreate / FailedDelete, FailedDaemonPod,
 * SucceededDaemonPod, SelectingAll.
 *
 * Efficiency: a sync reads the DaemonSet's pods from the pod cache's owner index (orphans from
 * an index of pods without a controller, by namespace), groups them by node once, and decides per
 * node in one pass over the nodes; placement facts of a DaemonSet are computed once per object.
 * Expectations (upstream's, tracking deletions per pod) keep a stale cache from causing double
 * creates or deletes; at most burstReplicas creates and deletes per sync, creates in slow-start
 * batches. Errors are retried with the queue's rate-limited backoff.
 */
import type { ControllerRevision, DaemonSet, DaemonSetStatus, Node, OwnerReference, Pod } from '../api/index.ts';
import { isConflict, isNotFound, StatusError } from '../api/errors.ts';
import { labelSelectorFromObject, type LabelSelectorMatcher } from '../api/selectors.ts';
import { IndexNamespace, clientset, resources } from '../client/index.ts';
import { IndexControllerUid, controllerUidIndex, orphanIndexValue } from '../client/store.ts';
import type { ControllerContext } from './context.ts';
import { UIDTrackingExpectations, slowStartBatch, slowStartInitialBatchSize } from './expectations.ts';
import { controllerRef, isPodReady, jsonEqual, keyOf, msUntilAvailable, newControllerRef, startQueue, type ReconcileResult } from './controller-utils.ts';
import { Backoff, backoffGcIntervalMs } from './daemonset-backoff.ts';
import { daemonSetRevisionLabel, daemonPlacement, daemonPodTemplate, nodeShouldRunDaemonPod, replaceNodeNameAffinity, allowsSurge, surgeCount, templateGenerationOf, unavailableCount, type DaemonPlacement, type ShouldRun } from './daemonset-util.ts';
import { addDesiredNodes, daemonCounts, nodesToDaemonPods, podsShouldBeOnNode, rollingLimits, rollingUpdatePlan, unscheduledPodsWithoutNode, type DaemonCounts } from './daemonset-plan.ts';
import { DaemonSetRevisions } from './daemonset-revisions.ts';

/** Most pods one sync creates or deletes (upstream BurstReplicas). */
export const daemonSetBurstReplicas = 250;
/** Concurrent syncs (upstream --concurrent-daemonset-syncs). */
export const daemonSetWorkers = 2;

const component = 'daemonset-controller';
const kind = 'DaemonSet';
const apiVersion = 'apps/v1';

/** Two controller references naming the same object (what decides which controllers to wake). */
const sameRef = (a: OwnerReference | undefined, b: OwnerReference | undefined) => a?.uid === b?.uid && a?.kind === b?.kind && a?.name === b?.name;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
/** The cause reason upstream ignores pod creation errors for (the namespace is going away). */
const namespaceTerminating = (err: unknown) => err instanceof StatusError && (err.status.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');

/** Placement facts and the selector of a DaemonSet object (cache objects are replaced, never changed). */
interface Facts {
  placement: DaemonPlacement;
  selector: LabelSelectorMatcher | undefined;
}

export function startDaemonSetController(ctx: ControllerContext): void {
  const daemonSets = ctx.informers.typedInformerFor(resources.daemonSets);
  // Upstream's pod controller-UID index, shared with the other workload controllers.
  const pods = ctx.informers.typedInformerFor(resources.pods, { indexers: { [IndexControllerUid]: controllerUidIndex } });
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const revisions = ctx.informers.typedInformerFor(resources.controllerRevisions);
  const cs = clientset(ctx.client);
  const recorder = ctx.recorder(component);
  const expectations = new UIDTrackingExpectations();
  const backoff = new Backoff();
  const queue = startQueue(ctx, (key) => sync(key), { name: component, workers: daemonSetWorkers, waitFor: [daemonSets, pods, nodes, revisions] });
  const history = new DaemonSetRevisions({ cs, revisions: revisions.store, stillLive, claimPods, log: (m) => ctx.log(`${component}: ${m}`) });
  const gc = setInterval(() => backoff.gc(), backoffGcIntervalMs);
  gc.unref();
  ctx.signal.addEventListener('abort', () => clearInterval(gc), { once: true });

  const factsCache = new WeakMap<DaemonSet, Facts>();
  const factsOf = (ds: DaemonSet): Facts => {
    let f = factsCache.get(ds);
    if (!f) {
      let selector: LabelSelectorMatcher | undefined;
      try {
        selector = labelSelectorFromObject(ds.spec?.selector ?? null);
      } catch {
        selector = undefined; // an invalid selector selects nothing
      }
      factsCache.set(ds, (f = { placement: daemonPlacement(ds), selector }));
    }
    return f;
  };
  const shouldRun = (ds: DaemonSet, node: Node): ShouldRun => nodeShouldRunDaemonPod(factsOf(ds).placement, node);
  const selects = (ds: DaemonSet, labels: Record<string, string> | undefined) => {
    const s = factsOf(ds).selector;
    return !!s && !s.empty && s.matches(labels);
  };
  const enqueue = (ds: DaemonSet) => queue.add(keyOf(ds));

  // ---- event handlers (upstream's add/update/delete handlers) -----------------------------------

  daemonSets.addEventHandler({
    onAdd: enqueue,
    onUpdate: (old, cur) => {
      if (old.metadata.uid !== cur.metadata.uid) expectations.delete(keyOf(old));
      enqueue(cur);
    },
    onDelete: (ds) => {
      expectations.delete(keyOf(ds));
      enqueue(ds);
    },
  });

  /** The DaemonSet a controller reference names, when it is in the cache with that uid. */
  const resolve = (namespace: string | undefined, ref: { kind: string; name: string; uid: string } | undefined): DaemonSet | undefined => {
    if (ref?.kind !== kind) return undefined;
    const ds = daemonSets.store.get(`${namespace}/${ref.name}`);
    return ds?.metadata.uid === ref.uid ? ds : undefined;
  };
  const selecting = (o: { metadata: { namespace?: string; labels?: Record<string, string> } }): DaemonSet[] =>
    daemonSets.store.byIndex(IndexNamespace, o.metadata.namespace ?? '').filter((ds) => selects(ds, o.metadata.labels));

  const podDeleted = (pod: Pod) => {
    const ds = resolve(pod.metadata.namespace, controllerRef(pod));
    if (!ds) return;
    expectations.deletionObserved(keyOf(ds), keyOf(pod));
    enqueue(ds);
  };
  pods.addEventHandler({
    onAdd: (pod) => {
      if (pod.metadata.deletionTimestamp) return podDeleted(pod);
      const ref = controllerRef(pod);
      if (ref) {
        const ds = resolve(pod.metadata.namespace, ref);
        if (!ds) return;
        expectations.creationObserved(keyOf(ds));
        enqueue(ds);
        return;
      }
      for (const ds of selecting(pod)) enqueue(ds);
    },
    onUpdate: (old, cur) => {
      if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
      if (cur.metadata.deletionTimestamp) return podDeleted(cur);
      const curRef = controllerRef(cur);
      const oldRef = controllerRef(old);
      const refChanged = !sameRef(curRef, oldRef);
      if (refChanged && oldRef) {
        const ds = resolve(old.metadata.namespace, oldRef);
        if (ds) enqueue(ds);
      }
      if (curRef) {
        const ds = resolve(cur.metadata.namespace, curRef);
        if (!ds) return;
        enqueue(ds);
        const minReady = ds.spec?.minReadySeconds ?? 0;
        // A pod that just became ready is available minReadySeconds later: look again then.
        if (minReady > 0 && !isPodReady(old) && isPodReady(cur)) queue.addAfter(keyOf(ds), (minReady + 1) * 1000);
        return;
      }
      if (refChanged || !jsonEqual(old.metadata.labels ?? {}, cur.metadata.labels ?? {})) for (const ds of selecting(cur)) enqueue(ds);
    },
    onDelete: podDeleted,
  });

  const forEachDaemonSet = (fn: (ds: DaemonSet) => void) => {
    for (const ds of daemonSets.store.list()) fn(ds);
  };
  nodes.addEventHandler({
    onAdd: (node) => forEachDaemonSet((ds) => {
      if (shouldRun(ds, node).shouldRun) enqueue(ds);
    }),
    onUpdate: (old, cur) => {
      // Only labels and taints decide placement (upstream shouldIgnoreNodeUpdate).
      if (jsonEqual(old.metadata.labels ?? {}, cur.metadata.labels ?? {}) && jsonEqual(old.spec?.taints ?? [], cur.spec?.taints ?? [])) return;
      forEachDaemonSet((ds) => {
        const a = shouldRun(ds, old);
        const b = shouldRun(ds, cur);
        if (a.shouldRun !== b.shouldRun || a.shouldContinueRunning !== b.shouldContinueRunning) enqueue(ds);
      });
    },
    // Not upstream's (it waits for pod garbage collection): the status counts change at once.
    onDelete: (node) => forEachDaemonSet((ds) => {
      const r = shouldRun(ds, node);
      if (r.shouldRun || r.shouldContinueRunning) enqueue(ds);
    }),
  });

  const historyOwner = (r: ControllerRevision) => resolve(r.metadata.namespace, controllerRef(r));
  revisions.addEventHandler({
    onAdd: (r) => {
      // Our own revisions showing up need nothing (upstream only logs them); one already being
      // deleted wakes its owner; an orphan wakes the DaemonSets that may adopt it.
      if (r.metadata.deletionTimestamp) {
        const ds = historyOwner(r);
        if (ds) enqueue(ds);
        return;
      }
      if (!controllerRef(r)) for (const ds of selecting(r)) enqueue(ds);
    },
    onUpdate: (old, cur) => {
      if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
      const curRef = controllerRef(cur);
      const oldRef = controllerRef(old);
      const refChanged = !sameRef(curRef, oldRef);
      if (refChanged && oldRef) {
        const ds = historyOwner(old);
        if (ds) enqueue(ds);
      }
      if (curRef) {
        const ds = historyOwner(cur);
        if (ds) enqueue(ds);
        return;
      }
      if (refChanged || !jsonEqual(old.metadata.labels ?? {}, cur.metadata.labels ?? {})) for (const ds of selecting(cur)) enqueue(ds);
    },
    onDelete: (r) => {
      const ds = historyOwner(r);
      if (ds) enqueue(ds);
    },
  });

  // ---- sync -------------------------------------------------------------------------------------

  async function sync(key: string): Promise<ReconcileResult | void> {
    const ds = daemonSets.store.get(key);
    if (!ds) {
      expectations.delete(key);
      return;
    }
    const facts = factsOf(ds);
    if (!facts.selector || facts.selector.empty) {
      recorder.event(ds, 'Warning', 'SelectingAll', 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    // Being deleted: its revisions may already be gone, so neither act nor report (as upstream).
    if (ds.metadata.deletionTimestamp) return;

    const nodeList = nodes.store.list();
    const { cur, old } = await history.construct(ds, facts.selector);
    const hash = cur.metadata.labels?.[daemonSetRevisionLabel] ?? '';
    const requeue = new Requeue();
    const runs = new Map<string, ShouldRun>();
    const runOn = (node: Node) => {
      const name = node.metadata.name ?? '';
      let r = runs.get(name);
      if (!r) runs.set(name, (r = shouldRun(ds, node)));
      return r;
    };

    if (!expectations.satisfied(key)) {
      // Our own writes are not all seen yet: report only, without raising observedGeneration.
      await updateStatus(ds, nodeList, runOn, await claimPods(ds, facts.selector), hash, false, requeue);
      return requeue.ms === undefined ? undefined : { requeueAfter: requeue.ms };
    }

    let failure: unknown;
    try {
      const claimed = await claimPods(ds, facts.selector);
      await manage(ds, nodeList, runOn, claimed, hash, requeue);
      // Rolling updates only once the manage loop's writes are all seen, on the pods as they are
      // now (as upstream reads them again): a pod manage just deleted is terminating, not a
      // candidate to delete twice (whose second deletion no watch event would ever confirm).
      if (expectations.satisfied(key) && (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
        await rollingUpdate(ds, nodeList, runOn, await claimPods(ds, facts.selector), hash);
      }
      await history.cleanup(ds, old, claimed);
    } catch (err) {
      failure = err;
    }
    try {
      await updateStatus(ds, nodeList, runOn, await claimPods(ds, facts.selector), hash, true, requeue);
    } catch (err) {
      if (failure === undefined) failure = err;
      else ctx.log(`${component}: status of ${key}: ${message(err)}`);
    }
    if (failure !== undefined) throw failure;
    return requeue.ms === undefined ? undefined : { requeueAfter: requeue.ms };
  }

  // ---- pods -------------------------------------------------------------------------------------

  /**
   * Upstream getDaemonPods (ClaimPods): pods this DaemonSet controls that still match its
   * selector (owned ones that no longer match are released), plus orphans that match, adopted
   * once a fresh read shows the DaemonSet is not being deleted.
   */
  async function claimPods(ds: DaemonSet, selector: LabelSelectorMatcher): Promise<Pod[]> {
    const uid = ds.metadata.uid ?? '';
    const namespace = ds.metadata.namespace ?? '';
    const out: Pod[] = [];
    for (const pod of pods.store.byIndex(IndexControllerUid, uid)) {
      if (selector.matches(pod.metadata.labels)) out.push(pod);
      else await release(pod, uid);
    }
    let canAdopt: boolean | undefined;
    for (const pod of pods.store.byIndex(IndexControllerUid, orphanIndexValue(namespace))) {
      if (pod.metadata.deletionTimestamp || !selector.matches(pod.metadata.labels)) continue;
      canAdopt ??= await stillLive(ds);
      if (!canAdopt) break;
      const adopted = await adopt(pod, ds);
      if (adopted) out.push(adopted);
    }
    return out;
  }

  /** Upstream RecheckDeletionTimestamp: an uncached read shows the same DaemonSet, not being deleted. */
  async function stillLive(ds: DaemonSet): Promise<boolean> {
    try {
      const fresh = await cs.daemonSets.get(ds.metadata.name!, { namespace: ds.metadata.namespace });
      return fresh.metadata.uid === ds.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async function adopt(pod: Pod, ds: DaemonSet): Promise<Pod | undefined> {
    try {
      return await cs.pods.patch(pod.metadata.name!, { metadata: { ownerReferences: [newControllerRef(ds, kind, apiVersion)], uid: pod.metadata.uid } }, { type: 'strategic', namespace: pod.metadata.namespace });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return undefined;
      throw err;
    }
  }

  async function release(pod: Pod, uid: string): Promise<void> {
    const refs = (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
    try {
      await cs.pods.patch(pod.metadata.name!, { metadata: { ownerReferences: refs.length ? refs : null, uid: pod.metadata.uid } }, { type: 'merge', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  /** Upstream manage: per node, create the missing pod and delete what must go. */
  async function manage(ds: DaemonSet, nodeList: readonly Node[], runOn: (n: Node) => ShouldRun, claimed: readonly Pod[], hash: string, requeue: Requeue): Promise<void> {
    const byNode = nodesToDaemonPods(claimed, false);
    const surge = allowsSurge(ds);
    const minReadySeconds = ds.spec?.minReadySeconds ?? 0;
    const now = Date.now();
    const create: string[] = [];
    const remove: Pod[] = [];
    for (const node of nodeList) {
      const name = node.metadata.name ?? '';
      const d = podsShouldBeOnNode({ run: runOn(node), pods: byNode.get(name), surge, hash, minReadySeconds, now });
      if (d.create) create.push(name);
      remove.push(...d.remove);
      for (const pod of d.failed) {
        // Kubelets that reject a pod fight the controller: back off per node (upstream's key).
        const key = `${ds.metadata.uid}/${ds.status?.observedGeneration ?? 0}/${name}`;
        if (backoff.inBackoffSinceUpdate(key)) {
          requeue.after(backoff.get(key));
          continue;
        }
        backoff.next(key);
        recorder.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${pod.metadata.namespace}/${pod.metadata.name} on node ${name}, will try to kill it`);
        remove.push(pod);
      }
      for (const pod of d.succeeded) {
        recorder.event(ds, 'Normal', 'SucceededDaemonPod', `Found succeeded daemon pod ${pod.metadata.namespace}/${pod.metadata.name} on node ${name}, will try to delete it`);
        remove.push(pod);
      }
    }
    remove.push(...unscheduledPodsWithoutNode(new Set(nodeList.map((n) => n.metadata.name ?? '')), byNode));
    await syncNodes(ds, remove, create, hash);
  }

  /** Upstream rollingUpdate: the deletions (and surge creations) allowed now. */
  async function rollingUpdate(ds: DaemonSet, nodeList: readonly Node[], runOn: (n: Node) => ShouldRun, claimed: readonly Pod[], hash: string): Promise<void> {
    const byNode = nodesToDaemonPods(claimed, false);
    const desired = nodeList.filter((n) => runOn(n).shouldRun);
    addDesiredNodes(byNode, desired.map((n) => n.metadata.name ?? ''));
    const { maxSurge, maxUnavailable } = rollingLimits(surgeCount(ds, desired.length), unavailableCount(ds, desired.length), desired.length);
    const plan = rollingUpdatePlan({
      byNode,
      hash,
      generation: templateGenerationOf(ds),
      maxSurge,
      maxUnavailable,
      desiredNumberScheduled: desired.length,
      shouldRun: (name) => {
        const node = nodes.store.get(name);
        return !!node && runOn(node).shouldRun;
      },
      minReadySeconds: ds.spec?.minReadySeconds ?? 0,
      now: Date.now(),
    });
    if (plan.remove.length || plan.create.length) await syncNodes(ds, plan.remove, plan.create, hash);
  }

  /**
   * Upstream syncNodes: expectations first, then creates in slow-start batches and deletes in
   * parallel, at most daemonSetBurstReplicas of each. Every expected write is observed by the
   * watch or lowered here. Throws the first failure.
   */
  async function syncNodes(ds: DaemonSet, remove: readonly Pod[], create: readonly string[], hash: string): Promise<void> {
    const key = keyOf(ds);
    const namespace = ds.metadata.namespace!;
    const createN = Math.min(create.length, daemonSetBurstReplicas);
    const victims = remove.slice(0, daemonSetBurstReplicas);
    expectations.expectDeletions(key, victims.map(keyOf));
    expectations.raise(key, createN, 0);
    const errors: unknown[] = [];

    const template = daemonPodTemplate(ds.spec?.template, templateGenerationOf(ds), hash);
    const ref = newControllerRef(ds, kind, apiVersion);
    let next = 0;
    const createOne = async () => {
      const node = create[next++]!;
      const spec = structuredClone(template.spec!);
      spec.affinity = replaceNodeNameAffinity(spec.affinity, node);
      const meta = template.metadata ?? {};
      const pod: Pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: `${ds.metadata.name}-`,
          namespace,
          labels: { ...meta.labels },
          ...(meta.annotations && Object.keys(meta.annotations).length ? { annotations: { ...meta.annotations } } : {}),
          ...(meta.finalizers?.length ? { finalizers: [...meta.finalizers] } : {}),
          ownerReferences: [ref],
        },
        spec,
      };
      try {
        const made = await cs.pods.create(pod, { namespace });
        recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`);
      } catch (err) {
        // This create will never be observed.
        expectations.creationObserved(key);
        if (namespaceTerminating(err)) return; // every later create fails the same way
        recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${message(err)}`);
        errors.push(err);
        throw err;
      }
    };
    await slowStartBatch(createN, slowStartInitialBatchSize, createOne);
    // Creates never attempted after a failed batch will not be observed either.
    if (next < createN) expectations.lower(key, createN - next, 0);

    await Promise.all(
      victims.map(async (pod) => {
        try {
          await cs.pods.delete(pod.metadata.name!, { namespace, preconditions: { uid: pod.metadata.uid } });
          recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
        } catch (err) {
          expectations.deletionObserved(key, keyOf(pod));
          // Gone already (or replaced by another pod of that name): nothing to do.
          if (isNotFound(err) || isConflict(err)) return;
          recorder.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${message(err)}`);
          errors.push(err);
        }
      }),
    );
    if (errors.length) throw errors[0];
  }

  // ---- status -----------------------------------------------------------------------------------

  /**
   * Upstream updateDaemonSetStatus and storeDaemonSetStatus: writes the counts (and, when
   * `observed`, the generation) unless nothing changed; a conflict is retried once on a fresh
   * read. Asks for a look when a ready pod will become available.
   */
  async function updateStatus(ds: DaemonSet, nodeList: readonly Node[], runOn: (n: Node) => ShouldRun, claimed: readonly Pod[], hash: string, observed: boolean, requeue: Requeue): Promise<void> {
    const minReadySeconds = ds.spec?.minReadySeconds ?? 0;
    const now = Date.now();
    const byNode = nodesToDaemonPods(claimed, false);
    const counts = daemonCounts({ nodes: nodeList, byNode, shouldRun: (n) => runOn(n).shouldRun, hash, generation: templateGenerationOf(ds), minReadySeconds, now });
    if (minReadySeconds > 0 && counts.numberReady !== counts.numberAvailable) {
      for (const pod of claimed) {
        const ms = msUntilAvailable(pod, minReadySeconds, now);
        if (ms !== undefined) requeue.after(ms + 50);
      }
    }
    const generation = ds.metadata.generation ?? 0;
    // While waiting for its own writes only counts are reported (Bosun's: equal counts are not
    // rewritten just because observedGeneration lags, which upstream would repeat every sync).
    if (sameCounts(ds.status, counts) && (!observed || (ds.status?.observedGeneration ?? 0) >= generation)) return;
    const write = (base: DaemonSet) => {
      const status: DaemonSetStatus = { ...(base.status ?? zeroStatus), ...counts };
      // The generation observed is the one this sync read, even when written onto a fresher copy.
      if (observed) status.observedGeneration = ds.metadata.generation;
      return cs.daemonSets.updateStatus({ ...base, status }, { namespace: base.metadata.namespace });
    };
    try {
      await write(ds);
    } catch (err) {
      if (isNotFound(err)) return;
      if (!isConflict(err)) throw err;
      // As upstream: one more try on the latest object.
      const fresh = await cs.daemonSets.get(ds.metadata.name!, { namespace: ds.metadata.namespace });
      if (fresh.metadata.uid === ds.metadata.uid) await write(fresh);
    }
  }
}

/** The smallest delay asked for during one sync. */
class Requeue {
  ms: number | undefined;
  after(ms: number): void {
    if (ms > 0 && (this.ms === undefined || ms < this.ms)) this.ms = ms;
  }
}

const zeroStatus: DaemonSetStatus = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };

function sameCounts(s: DaemonSetStatus | undefined, c: DaemonCounts): boolean {
  return (
    (s?.desiredNumberScheduled ?? 0) === c.desiredNumberScheduled &&
    (s?.currentNumberScheduled ?? 0) === c.currentNumberScheduled &&
    (s?.numberMisscheduled ?? 0) === c.numberMisscheduled &&
    (s?.numberReady ?? 0) === c.numberReady &&
    (s?.updatedNumberScheduled ?? 0) === c.updatedNumberScheduled &&
    (s?.numberAvailable ?? 0) === c.numberAvailable &&
    (s?.numberUnavailable ?? 0) === c.numberUnavailable
  );
}
