/**
 * The resourcequota controller, as upstream's pkg/controller/resourcequota
 * (resource_quota_controller.go with its quota monitor): keeps every ResourceQuota's status
 * true to its namespace. status.hard mirrors spec.hard (canonical quantities); status.used is
 * recomputed from the informer caches for every name of spec.hard that an evaluator charges
 * (../apiserver/admission/quotaeval.ts: pods, services, claims, object counts), keeping the
 * previous value of names that cannot be measured; the status is written only when it differs
 * (compare-and-swap on the cached resourceVersion; a conflict is retried with backoff).
 *
 * When a quota is recomputed:
 * - when it is added, when its spec changes, or when its status lacks spec.hard or a used value;
 * - when usage is given back in its namespace (upstream's replenishment): a counted object is
 *   deleted, a pod stops being charged (it finished), a service or claim changes what it uses.
 *   Bursts are coalesced: the namespace's quotas are queued `replenishDelayMs` after the first
 *   event. Creates are not followed: admission charges them, and a recount racing a create in
 *   flight (quota already charged, pod not yet stored) would undercount it;
 * - every `resyncMs` (upstream's --resource-quota-sync-period, 5 minutes), all quotas, which
 *   also catches pods whose deletion grace period ran out.
 *
 * Watched: ResourceQuotas, pods, services, configmaps, secrets, persistent volume claims,
 * replication controllers, and any other resource a quota counts (`count/<resource>.<group>`)
 * that the client's resource table has, started when a quota first names it. Custom resources
 * are not counted (their names stay unmeasured). 5 workers (upstream's
 * --concurrent-resource-quota-syncs).
 */
import type { ApiObject, Pod, ResourceQuota } from '../api/index.ts';
import { isNotFound } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';
import { clientset, realClock, resources, type Clock, type SharedInformer } from '../client/index.ts';
import {
  canonicalText,
  computeUsage,
  evaluatorFor,
  isIgnoredResource,
  maskUsage,
  podIsCharged,
  resourceList,
  usageEquals,
  usageOf,
  type NamespaceLister,
} from '../apiserver/admission/quotaeval.ts';
import type { ControllerContext, ControllerStart } from './context.ts';
import { keyOf, startQueue } from './controller-utils.ts';

/** Upstream's --resource-quota-sync-period default. */
export const defaultQuotaResyncMs = 5 * 60_000;
/** How long replenishment events of a namespace are gathered before its quotas are recomputed. */
export const defaultReplenishDelayMs = 250;
/** Upstream's --concurrent-resource-quota-syncs default. */
export const defaultQuotaWorkers = 5;
/** A quota whose counted resources are still syncing is tried again this soon. */
const unsyncedRetryMs = 1_000;

export interface ResourceQuotaControllerOptions {
  resyncMs?: number;
  replenishDelayMs?: number;
  workers?: number;
  clock?: Clock;
}

const controllerName = 'resourcequota-controller';

/** Resources counted from the start (upstream's replenishment resources plus the legacy counts). */
const counted = [resources.pods, resources.services, resources.configMaps, resources.secrets, resources.persistentVolumeClaims, resources.replicationControllers];

const descriptors = new Map(Object.values(resources).map((d) => [`${d.group}/${d.resource}`, d]));

const specKey = (q: ResourceQuota) => JSON.stringify([q.spec?.hard ?? {}, q.spec?.scopes ?? [], q.spec?.scopeSelector ?? null]);

/** Whether a quota's status is not (yet) what the controller writes for its spec. */
function statusIncomplete(q: ResourceQuota): boolean {
  const hard = q.spec?.hard ?? {};
  if (!usageEquals(usageOf(hard), usageOf(q.status?.hard))) return true;
  const used = q.status?.used ?? {};
  return Object.keys(hard).some((k) => !(k in used));
}

/** The controller with its tunables (tests shorten them). */
export function resourceQuotaController(opts: ResourceQuotaControllerOptions = {}): ControllerStart {
  const resyncMs = opts.resyncMs ?? defaultQuotaResyncMs;
  const delayMs = opts.replenishDelayMs ?? defaultReplenishDelayMs;
  const clock = opts.clock ?? realClock;
  return (ctx: ControllerContext) => {
    const cs = clientset(ctx.client);
    const log = (m: string) => ctx.log(`${controllerName}: ${m}`);
    const quotas = ctx.informers.typedInformerFor(resources.resourceQuotas);
    /** Informers of counted resources, by group/resource. */
    const watched = new Map<string, SharedInformer<ApiObject>>();
    const queue = startQueue(ctx, sync, {
      name: controllerName,
      workers: opts.workers ?? defaultQuotaWorkers,
      waitFor: [quotas, ...counted.map((d) => watch(d.group, d.resource)!)],
    });

    const replenish = (namespace: string | undefined) => {
      if (!namespace) return;
      for (const q of quotas.store.byIndex('namespace', namespace)) queue.addAfter(keyOf(q), delayMs);
    };

    /** The informer of a counted resource, started (with its handlers) on first use; undefined when not served. */
    function watch(group: string, resource: string): SharedInformer<ApiObject> | undefined {
      if (group === '' && resource === 'resourcequotas') return quotas as unknown as SharedInformer<ApiObject>;
      const key = `${group}/${resource}`;
      let inf = watched.get(key);
      if (inf) return inf;
      const d = descriptors.get(key);
      if (!d || isIgnoredResource(group, resource)) return undefined;
      inf = ctx.informers.informerFor<ApiObject>(d);
      watched.set(key, inf);
      const ev = evaluatorFor(group, resource);
      const charges = group === '' && (resource === 'services' || resource === 'persistentvolumeclaims');
      inf.addEventHandler({
        onDelete: (o) => replenish(o.metadata.namespace),
        onUpdate: (old, cur) => {
          if (!cur.metadata.namespace || !quotas.store.byIndex('namespace', cur.metadata.namespace).length) return;
          if (group === '' && resource === 'pods') {
            const now = clock.now();
            if (podIsCharged(old as Pod, now) && !podIsCharged(cur as Pod, now)) replenish(cur.metadata.namespace);
          } else if (charges) {
            const now = clock.now();
            if (!usageEquals(ev.usage(old as KubeObject, now), ev.usage(cur as KubeObject, now))) replenish(cur.metadata.namespace);
          }
        },
      });
      log(`counting ${d.group ? `${d.resource}.${d.group}` : d.resource}`);
      return inf;
    }

    quotas.addEventHandler({
      onAdd: (q) => queue.add(keyOf(q)),
      onUpdate: (old, cur) => {
        if (specKey(old) !== specKey(cur) || statusIncomplete(cur)) queue.add(keyOf(cur));
      },
      // Other quotas of the namespace may count quotas.
      onDelete: (q) => replenish(q.metadata.namespace),
    });

    // The periodic full resync.
    const resync = () => {
      if (ctx.signal.aborted) return;
      for (const q of quotas.store.list()) queue.add(keyOf(q));
      timer = clock.setTimeout(resync, resyncMs);
    };
    let timer = clock.setTimeout(resync, resyncMs);
    ctx.signal.addEventListener('abort', () => clock.clearTimeout(timer), { once: true });

    async function sync(key: string): Promise<{ requeueAfter: number } | void> {
      const q = quotas.store.get(key);
      if (!q || q.metadata.deletionTimestamp) return;
      let unsynced = false;
      const list: NamespaceLister = (group, resource, namespace) => {
        const inf = watch(group, resource);
        if (!inf) return undefined;
        if (!inf.hasSynced()) {
          unsynced = true;
          return undefined;
        }
        return inf.store.byIndex('namespace', namespace) as unknown as KubeObject[];
      };
      const hard = q.spec?.hard ?? {};
      const measured = computeUsage(q, list, clock.now()).used;
      const used = usageOf(q.status?.used);
      for (const [k, v] of measured) used.set(k, v);
      const next = maskUsage(used, Object.keys(hard));
      if (usageEquals(usageOf(hard), usageOf(q.status?.hard)) && usageEquals(next, usageOf(q.status?.used))) {
        return unsynced ? { requeueAfter: unsyncedRetryMs } : undefined;
      }
      const hardOut: Record<string, string> = {};
      for (const k of Object.keys(hard).sort()) hardOut[k] = canonicalText(hard[k]!);
      try {
        await cs.resourceQuotas.updateStatus({ ...q, status: { hard: hardOut, used: resourceList(next) } }, { namespace: q.metadata.namespace });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      return unsynced ? { requeueAfter: unsyncedRetryMs } : undefined;
    }
  };
}

/** The controller with upstream's defaults; the manager's registry entry `resourcequota`. */
export const startResourceQuotaController: ControllerStart = resourceQuotaController();
