/**
 * The namespace controller: a namespace being deleted (deletionTimestamp set, phase Terminating,
 * the `kubernetes` finalizer still in spec.finalizers) has all its content deleted, kind by kind
 * as discovery lists them; while content remains it says why in the upstream conditions
 * (NamespaceContentRemaining, NamespaceFinalizersRemaining, ...) and looks again shortly; once it
 * is empty, the `kubernetes` finalizer is removed through namespaces/{name}/finalize, after which
 * the API server deletes the namespace.
 */
import type { Namespace, NamespaceCondition } from '../api/index.ts';
import { isConflict, isNotFound, isStatusError } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { Discovery, type DiscoveredResource } from './discovery.ts';
import { jsonEqual, nowRfc3339, startQueue, type ReconcileResult } from './controller-utils.ts';
import { compareStrings } from '../util/compare.ts';

const conditionTypes = [
  'NamespaceDeletionDiscoveryFailure',
  'NamespaceDeletionGroupVersionParsingFailure',
  'NamespaceDeletionContentFailure',
  'NamespaceContentRemaining',
  'NamespaceFinalizersRemaining',
] as const;

const okReason: Record<string, string> = {
  NamespaceDeletionDiscoveryFailure: 'ResourcesDiscovered',
  NamespaceDeletionGroupVersionParsingFailure: 'ParsedGroupVersions',
  NamespaceDeletionContentFailure: 'ContentDeleted',
  NamespaceContentRemaining: 'ContentRemoved',
  NamespaceFinalizersRemaining: 'ContentHasNoFinalizers',
};

const okMessage: Record<string, string> = {
  NamespaceDeletionDiscoveryFailure: 'All resources successfully discovered',
  NamespaceDeletionGroupVersionParsingFailure: 'All legacy kube types successfully parsed',
  NamespaceDeletionContentFailure: 'All content successfully deleted, may be waiting on finalization',
  NamespaceContentRemaining: 'All content successfully removed',
  NamespaceFinalizersRemaining: 'All content-preserving finalizers finished',
};

export function startNamespaceController(ctx: ControllerContext): void {
  const namespaces = ctx.informers.typedInformerFor(resources.namespaces);
  const cs = clientset(ctx.client);
  const discovery = new Discovery(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'namespace-controller', workers: 5, waitFor: [namespaces] });
  namespaces.addEventHandler({ onAdd: (ns) => queue.add(ns.metadata.name!), onUpdate: (_o, ns) => queue.add(ns.metadata.name!) });

  async function sync(name: string): Promise<ReconcileResult | void> {
    const ns = namespaces.store.get(name);
    if (!ns?.metadata.deletionTimestamp) return;
    const finalizers = ns.spec?.finalizers ?? [];
    if (!finalizers.includes('kubernetes')) return;
    const failures: Record<string, string> = {};
    const remaining: Record<string, number> = {};
    const withFinalizers: Record<string, number> = {};
    let kinds: DiscoveredResource[];
    try {
      kinds = (await discovery.resources()).filter((r) => r.namespaced && r.verbs.includes('list') && r.verbs.includes('delete'));
    } catch (err) {
      failures['NamespaceDeletionDiscoveryFailure'] = `Discovery failed for some groups: ${(err as Error).message}`;
      kinds = [];
    }
    const contentErrors: string[] = [];
    await Promise.all(
      kinds.map(async (r) => {
        const label = r.group ? `${r.resource}.${r.group}` : r.resource;
        try {
          if (r.verbs.includes('deletecollection')) await ctx.client.deleteCollection(r, { namespace: name });
          const left = await ctx.client.list(r, { namespace: name });
          for (const item of left.items) {
            if (!r.verbs.includes('deletecollection') && !item.metadata.deletionTimestamp) {
              await ctx.client.delete(r, item.metadata.name!, { namespace: name }).catch((err: unknown) => {
                if (!isNotFound(err)) throw err;
              });
            }
            remaining[label] = (remaining[label] ?? 0) + 1;
            for (const f of item.metadata.finalizers ?? []) withFinalizers[f] = (withFinalizers[f] ?? 0) + 1;
          }
        } catch (err) {
          if (isStatusError(err) && (err.status.code === 404 || err.status.code === 405)) return;
          contentErrors.push(`${label}: ${(err as Error).message}`);
        }
      }),
    );
    if (contentErrors.length) failures['NamespaceDeletionContentFailure'] = `Failed to delete all resource types, ${contentErrors.length} remaining: ${contentErrors.sort().join(', ')}`;
    const counts = Object.entries(remaining).sort(([a], [b]) => compareStrings(a, b));
    if (counts.length) failures['NamespaceContentRemaining'] = `Some resources are remaining: ${counts.map(([k, n]) => `${k} has ${n} resource instances`).join(', ')}`;
    const fins = Object.entries(withFinalizers).sort(([a], [b]) => compareStrings(a, b));
    if (fins.length) failures['NamespaceFinalizersRemaining'] = `Some content in the namespace has finalizers remaining: ${fins.map(([f, n]) => `${f} in ${n} resource instances`).join(', ')}`;
    await setConditions(ns, failures);
    if (Object.keys(failures).length) return { requeueAfter: counts.length ? 1000 : 5000 };
    // Empty: let the API server finish the deletion.
    try {
      await cs.namespaces.update({ ...ns, spec: { ...ns.spec, finalizers: finalizers.filter((f) => f !== 'kubernetes') } }, { subresource: 'finalize' });
    } catch (err) {
      if (isNotFound(err)) return;
      if (isConflict(err)) return { requeueAfter: 100 };
      throw err;
    }
  }

  async function setConditions(ns: Namespace, failures: Record<string, string>): Promise<void> {
    const status = ns.status ?? {};
    const prev = status.conditions ?? [];
    const conditions = conditionTypes.map((type) => {
      const failed = failures[type];
      const c: NamespaceCondition = {
        type,
        status: failed ? 'True' : 'False',
        lastTransitionTime: nowRfc3339(),
        reason: failed ? reasonFor(type) : okReason[type],
        message: failed ?? okMessage[type],
      };
      const before = prev.find((p) => p.type === type);
      if (before && before.status === c.status) c.lastTransitionTime = before.lastTransitionTime;
      return c;
    });
    const strip = (list: NamespaceCondition[]) => list.map(({ lastTransitionTime: _t, ...rest }) => rest);
    if (jsonEqual(strip(prev), strip(conditions))) return;
    try {
      await cs.namespaces.updateStatus({ ...ns, status: { ...status, conditions } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}

function reasonFor(type: string): string {
  switch (type) {
    case 'NamespaceDeletionDiscoveryFailure':
      return 'DiscoveryFailed';
    case 'NamespaceDeletionGroupVersionParsingFailure':
      return 'GroupVersionParsingFailed';
    case 'NamespaceDeletionContentFailure':
      return 'ContentDeletionFailed';
    case 'NamespaceContentRemaining':
      return 'SomeResourcesRemain';
    default:
      return 'SomeFinalizersRemain';
  }
}
