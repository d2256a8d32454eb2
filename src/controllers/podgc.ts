/**
 * Pod garbage collection, as upstream's podgc controller, every podGCPeriod:
 *  - finished pods (Succeeded/Failed) beyond terminatedPodGCThreshold, oldest first;
 *  - pods bound to a node that does not exist, once the node has been missing for the
 *    quarantine time (checked against the API, not only the cache), force-deleted;
 *  - pods being deleted that were never scheduled, force-deleted.
 */
import type { Pod } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { podPhase } from './controller-utils.ts';
import { compareStrings } from '../util/compare.ts';

/** The finished pods to delete to get down to `threshold`, oldest first. */
export function terminatedOverThreshold(pods: readonly Pod[], threshold: number): Pod[] {
  if (threshold <= 0) return [];
  const done = pods.filter((p) => (podPhase(p) === 'Succeeded' || podPhase(p) === 'Failed') && !p.metadata.deletionTimestamp);
  if (done.length <= threshold) return [];
  return [...done].sort((a, b) => compareStrings(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? '')).slice(0, done.length - threshold);
}

export function startPodGCController(ctx: ControllerContext): void {
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const cs = clientset(ctx.client);
  /** Nodes seen missing, and since when. */
  const missingSince = new Map<string, number>();

  async function forceDelete(pod: Pod, why: string): Promise<void> {
    try {
      await cs.pods.delete(pod.metadata.name!, { namespace: pod.metadata.namespace, gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      // Upstream's podgc records no event (its role may not create events); it logs.
      ctx.log(`podgc: deleted pod ${pod.metadata.namespace}/${pod.metadata.name}: ${why}`);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  async function gc(): Promise<void> {
    if (!pods.hasSynced() || !nodes.hasSynced()) return;
    const all = pods.store.list();
    for (const p of terminatedOverThreshold(all, ctx.config.terminatedPodGCThreshold)) {
      try {
        await cs.pods.delete(p.metadata.name!, { namespace: p.metadata.namespace, preconditions: { uid: p.metadata.uid } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    const now = Date.now();
    const seen = new Set<string>();
    for (const p of all) {
      const node = p.spec?.nodeName ?? '';
      if (!node) {
        if (p.metadata.deletionTimestamp) await forceDelete(p, 'Deleting unscheduled terminating pod');
        continue;
      }
      if (nodes.store.get(node)) continue;
      seen.add(node);
      const since = missingSince.get(node) ?? now;
      missingSince.set(node, since);
      if (now - since < ctx.config.podGCOrphanQuarantineMs) continue;
      // Make sure the node is really gone before taking its pods away.
      try {
        await cs.nodes.get(node);
        missingSince.delete(node);
        continue;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      await forceDelete(p, `Deleting orphaned pod: node ${node} does not exist`);
    }
    for (const n of missingSince.keys()) if (!seen.has(n)) missingSince.delete(n);
  }

  const run = () => gc().catch((err: unknown) => ctx.log(`pod-garbage-collector: ${(err as Error).message}`));
  const timer = setInterval(run, ctx.config.podGCPeriodMs);
  timer.unref();
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
