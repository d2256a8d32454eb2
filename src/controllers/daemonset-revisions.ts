/**
 * The DaemonSet controller's ControllerRevision writes, as upstream's update.go
 * (constructHistory, controlledHistories, snapshot, dedupCurHistories, cleanupHistory): a
 * DaemonSet's revisions are claimed (owned ones that still match its selector kept, others
 * released; matching orphans adopted once a fresh read shows the DaemonSet is not being
 * deleted), split into the current one — the revision whose data restores the live template,
 * created when missing (a name taken by different data bumps status.collisionCount and fails the
 * sync, to be retried under the new name), duplicates merged into the newest (pods relabelled to
 * its hash), renumbered to be the newest — and the old ones; old revisions beyond
 * revisionHistoryLimit that no pod uses are deleted, oldest first. What each revision holds is
 * daemonset-history.ts's.
 *
 * Reads come from the revision cache; every write goes through the client. Errors are thrown
 * for the controller's queue to retry; NotFound and Conflict on a claim are not errors (the
 * next sync sees the new state).
 */
import type { ControllerRevision, DaemonSet, DaemonSetStatus, Pod } from '../api/index.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../api/errors.ts';
import type { LabelSelectorMatcher } from '../api/selectors.ts';
import { IndexNamespace, type Clientset, type Indexer } from '../client/index.ts';
import { controllerRef, keyOf, newControllerRef } from './controller-utils.ts';
import { maxRevision } from './history.ts';
import { newDaemonSetRevision, revisionMatches, revisionsToDelete, revisionToKeep } from './daemonset-history.ts';
import { daemonSetRevisionLabel } from './daemonset-util.ts';

export interface DaemonSetRevisionsOptions {
  cs: Clientset;
  /** The ControllerRevision cache (namespace-indexed). */
  revisions: Indexer<ControllerRevision>;
  /** Upstream RecheckDeletionTimestamp: an uncached read shows the same DaemonSet, not being deleted. */
  stillLive(ds: DaemonSet): Promise<boolean>;
  /** The DaemonSet's pods (claimed), for relabelling when duplicates are merged. */
  claimPods(ds: DaemonSet, selector: LabelSelectorMatcher): Promise<Pod[]>;
  log(msg: string): void;
}

const zeroStatus: DaemonSetStatus = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };

/** Tolerates NotFound (and Conflict when `conflictToo`): the object is gone or changed, the next sync sees it. */
function ignoreGone(err: unknown, conflictToo = false): void {
  if (isNotFound(err) || (conflictToo && isConflict(err))) return;
  throw err;
}

export class DaemonSetRevisions {
  #o: DaemonSetRevisionsOptions;

  constructor(opts: DaemonSetRevisionsOptions) {
    this.#o = opts;
  }

  /** Upstream constructHistory: the current revision (made when missing) and the old ones. */
  async construct(ds: DaemonSet, selector: LabelSelectorMatcher): Promise<{ cur: ControllerRevision; old: ControllerRevision[] }> {
    const { cs } = this.#o;
    const current: ControllerRevision[] = [];
    const old: ControllerRevision[] = [];
    for (let r of await this.#claim(ds, selector)) {
      if (r.metadata.labels?.[daemonSetRevisionLabel] === undefined) {
        // Named after its hash: the name stands in for the label (upstream, to avoid rehashing).
        r = await cs.controllerRevisions.update({ ...r, metadata: { ...r.metadata, labels: { ...(r.metadata.labels ?? {}), [daemonSetRevisionLabel]: r.metadata.name! } } }, { namespace: r.metadata.namespace });
      }
      (revisionMatches(ds, r) ? current : old).push(r);
    }
    const next = maxRevision(old) + 1;
    if (!current.length) return { cur: await this.#snapshot(ds, next), old };
    const cur = await this.#dedup(ds, selector, current);
    if ((cur.revision ?? 0) < next) return { cur: await cs.controllerRevisions.update({ ...cur, revision: next }, { namespace: cur.metadata.namespace }), old };
    return { cur, old };
  }

  /** Upstream cleanupHistory: old revisions beyond revisionHistoryLimit that no pod (even a finished one) uses. */
  async cleanup(ds: DaemonSet, old: readonly ControllerRevision[], pods: readonly Pod[]): Promise<void> {
    const limit = ds.spec?.revisionHistoryLimit ?? 10;
    if (old.length <= limit) return;
    const live = new Set<string>();
    for (const pod of pods) {
      const h = pod.metadata.labels?.[daemonSetRevisionLabel];
      if (h) live.add(h);
    }
    for (const r of revisionsToDelete(old, limit, live)) {
      await this.#o.cs.controllerRevisions.delete(r.metadata.name!, { namespace: r.metadata.namespace }).catch((err: unknown) => ignoreGone(err));
    }
  }

  /** Upstream controlledHistories (ClaimControllerRevisions). */
  async #claim(ds: DaemonSet, selector: LabelSelectorMatcher): Promise<ControllerRevision[]> {
    const { cs } = this.#o;
    const uid = ds.metadata.uid;
    const out: ControllerRevision[] = [];
    let canAdopt: boolean | undefined;
    for (const r of this.#o.revisions.byIndex(IndexNamespace, ds.metadata.namespace ?? '')) {
      const ref = controllerRef(r);
      const matches = selector.matches(r.metadata.labels);
      const opts = { namespace: r.metadata.namespace };
      if (ref) {
        if (ref.uid !== uid) continue;
        if (matches) {
          out.push(r);
          continue;
        }
        const refs = (r.metadata.ownerReferences ?? []).filter((o) => o.uid !== uid);
        await cs.controllerRevisions.patch(r.metadata.name!, { metadata: { ownerReferences: refs.length ? refs : null, uid: r.metadata.uid } }, { type: 'merge', ...opts }).catch((err: unknown) => ignoreGone(err, true));
        continue;
      }
      if (!matches || r.metadata.deletionTimestamp) continue;
      canAdopt ??= await this.#o.stillLive(ds);
      if (!canAdopt) continue;
      try {
        out.push(await cs.controllerRevisions.patch(r.metadata.name!, { metadata: { ownerReferences: [newControllerRef(ds, 'DaemonSet', 'apps/v1')], uid: r.metadata.uid } }, { type: 'strategic', ...opts }));
      } catch (err) {
        ignoreGone(err, true);
      }
    }
    return out;
  }

  /**
   * Upstream snapshot: creates the current revision. A name taken by an equal revision is that
   * revision; by a different one, the collision count is bumped in status (unless ours was stale)
   * and the sync fails, to be retried with the new name.
   */
  async #snapshot(ds: DaemonSet, revision: number): Promise<ControllerRevision> {
    const { cs } = this.#o;
    const want = newDaemonSetRevision(ds, revision);
    const namespace = ds.metadata.namespace;
    try {
      return await cs.controllerRevisions.create(want, { namespace });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await cs.controllerRevisions.get(want.metadata.name!, { namespace });
      if (revisionMatches(ds, existing)) return existing;
      const fresh = await cs.daemonSets.get(ds.metadata.name!, { namespace });
      const seen = ds.status?.collisionCount ?? 0;
      const now = fresh.status?.collisionCount ?? 0;
      if (now !== seen) throw new Error(`found a stale collision count (${seen}, expected ${now}) of DaemonSet "${ds.metadata.name}" while processing; will retry until it is updated`);
      const status = { ...(fresh.status ?? zeroStatus), collisionCount: now + 1 };
      await cs.daemonSets.updateStatus({ ...fresh, status }, { namespace });
      this.#o.log(`hash collision for DaemonSet ${keyOf(ds)}: collisionCount is now ${status.collisionCount}`);
      throw err;
    }
  }

  /** Upstream dedupCurHistories: keeps the newest equal revision, relabels pods to its hash, deletes the others. */
  async #dedup(ds: DaemonSet, selector: LabelSelectorMatcher, current: ControllerRevision[]): Promise<ControllerRevision> {
    if (current.length === 1) return current[0]!;
    const { cs } = this.#o;
    const keep = revisionToKeep(current);
    const hash = keep.metadata.labels?.[daemonSetRevisionLabel] ?? '';
    for (const pod of await this.#o.claimPods(ds, selector)) {
      if (pod.metadata.labels?.[daemonSetRevisionLabel] === hash) continue;
      await cs.pods.patch(pod.metadata.name!, { metadata: { labels: { [daemonSetRevisionLabel]: hash } } }, { type: 'merge', namespace: pod.metadata.namespace }).catch((err: unknown) => ignoreGone(err));
    }
    for (const r of current) {
      if (r === keep) continue;
      await cs.controllerRevisions.delete(r.metadata.name!, { namespace: r.metadata.namespace }).catch((err: unknown) => ignoreGone(err));
    }
    return keep;
  }
}
