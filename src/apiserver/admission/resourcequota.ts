/**
 * ResourceQuota admission, as upstream's apiserver/pkg/admission/plugin/resourcequota
 * (admission.go, controller.go, resource_access.go): a validating plugin that charges creates
 * (and updates of services and claims) to every quota of the namespace covering them, and
 * refuses what would go over a quota's hard limit.
 *
 * - Only CREATE and UPDATE of namespaced resources, no Namespace creation, no ignored resource
 *   (events, reviews, bindings); the evaluator decides which operations count (pods and object
 *   counts on CREATE, services and claims on CREATE and UPDATE, pods/resize on UPDATE; no other
 *   subresource).
 * - A quota covers the object when its status.hard names a resource the evaluator charges and
 *   the object matches its scopes. For each covering quota: the "must specify" constraint
 *   (`failed quota: <name>: must specify requests.cpu for: c1`), then every charged name must
 *   have a status.used value (`status unknown for quota: <name>, resources: ...`).
 * - The charge is the object's usage; for an update of an object that existed, only the growth
 *   over the old object's usage (for quotas the old object matched too). Names at zero are
 *   dropped; used + charge over hard is refused with upstream's text: `exceeded quota:
 *   team-alpha-quota, requested: requests.cpu=1, used: requests.cpu=10, limited:
 *   requests.cpu=10`. Refusals are Forbidden on the request's resource and name.
 * - Otherwise status.used is raised through `updateQuotaStatus` (compare-and-swap), except for
 *   dry runs. Requests of one namespace are evaluated one batch at a time (upstream's per
 *   namespace work queue): all requests waiting are checked against the running totals, then
 *   each changed quota is written once. A write that fails is retried up to 3 times against
 *   the re-read quota (only the quotas that failed, only the requests not yet decided); then
 *   the last error is returned. Quotas written here are preferred to the cache until the cache
 *   catches up with them (upstream's updatedQuotas look-aside cache).
 * - Deletes are not handled: the resourcequota controller gives the usage back.
 *
 * Not covered: the admission configuration's limitedResources (resources that need a covering
 * quota), the 10 s evaluation timeout, a live list when the cache has no quota for the
 * namespace. Differences: an object that no quota covers is not measured (upstream measures
 * it and refuses negative usage, which validation already rules out); a retry round re-checks
 * only undecided requests (upstream re-checks every request, which may let one through that a
 * quota already refused).
 */
import { forbidden, type StatusError } from '../../api/errors.ts';
import type { ResourceQuota } from '../../api/index.ts';
import {
  addUsage,
  evaluatorFor,
  exceededNames,
  isIgnoredResource,
  maskUsage,
  negativeNames,
  prettyPrint,
  quotaMatches,
  removeZeros,
  resourceList,
  subtractNonNegative,
  usageEquals,
  usageOf,
  type QuotaEvaluator,
  type Usage,
} from './quotaeval.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

export interface ResourceQuotaDeps {
  /** The namespace's quotas from a cache (upstream's lister). Never mutated here. */
  quotas(namespace: string): readonly ResourceQuota[];
  /** Writes a quota's status; a stale resourceVersion must fail (a Conflict). Returns the stored quota. */
  updateQuotaStatus(q: ResourceQuota): Promise<ResourceQuota>;
  /** The quota as stored now (a live read), undefined when it is gone. */
  refetch(namespace: string, name: string): Promise<ResourceQuota | undefined>;
  /** Milliseconds since the epoch (whether a deleted pod's grace period is over). Default Date.now. */
  now?: () => number;
}

/** Upstream's retries of a failed quota status write (checkQuotas' remainingRetries). */
export const quotaUpdateRetries = 3;
/** Upstream's look-aside cache of written quotas holds 100 entries. */
const writtenCacheMax = 100;

/** A request not decided yet (upstream's DEFAULT DENY). */
const undecided: unique symbol = Symbol('undecided');

interface Waiter {
  attrs: AdmissionAttributes;
  ev: QuotaEvaluator;
  /** undefined: admitted; an error: refused; `undecided`: waiting for a write. */
  result: unknown;
  finish(): void;
}

/** The Forbidden error admission returns (admission.NewForbidden): on the request's name, else the object's. */
function forbid(a: AdmissionAttributes, message: string): StatusError {
  const name = a.name || a.object?.metadata.name || a.object?.metadata.generateName || 'Unknown';
  return forbidden({ group: a.def.group, resource: a.def.plural }, name, message);
}

const hardNamesOf = (q: ResourceQuota) => Object.keys(q.status?.hard ?? {});

/**
 * Checks one request against the quotas (upstream CheckRequest): returns the quotas as they
 * would be if it were admitted (the same objects where nothing changes, new objects with a
 * raised status.used otherwise), or throws the Forbidden refusal. Pure.
 */
export function checkRequest(quotas: readonly ResourceQuota[], a: AdmissionAttributes, ev: QuotaEvaluator, now: number): readonly ResourceQuota[] {
  if (!ev.handles(a.operation, a.subresource) || !a.object) return quotas;
  const obj = a.object;
  const interesting: number[] = [];
  for (let i = 0; i < quotas.length; i++) {
    const q = quotas[i]!;
    const hardNames = hardNamesOf(q);
    if (!quotaMatches(ev, q, hardNames, obj)) continue;
    const restricted = ev.matchingResources(hardNames);
    const why = ev.constraints(restricted, obj);
    if (why) throw forbid(a, `failed quota: ${q.metadata.name}: ${why}`);
    const used = q.status?.used ?? {};
    if (restricted.some((r) => !(r in used))) {
      throw forbid(a, `status unknown for quota: ${q.metadata.name}, resources: ${[...restricted].sort().join(',')}`);
    }
    interesting.push(i);
  }
  if (!interesting.length) return quotas;

  const inputUsage = ev.usage(obj, now);
  const negative = negativeNames(inputUsage);
  if (negative.length) throw forbid(a, `quota usage is negative for resource(s): ${negative.join(',')}`);
  const deltas = new Map<number, Usage>(interesting.map((i) => [i, inputUsage]));
  if (a.operation === 'UPDATE') {
    const old = a.oldObject;
    if (!old) throw forbid(a, 'unable to get previous usage since prior version of object was not found');
    // An update that creates the object (no resourceVersion before) is charged in full.
    if (old.metadata.resourceVersion) {
      const growth = subtractNonNegative(inputUsage, ev.usage(old, now));
      for (const i of interesting) if (quotaMatches(ev, quotas[i]!, hardNamesOf(quotas[i]!), old)) deltas.set(i, growth);
    }
  }
  for (const [i, d] of deltas) {
    const nz = removeZeros(d);
    if (nz.size) deltas.set(i, nz);
    else deltas.delete(i);
  }
  if (!deltas.size) return quotas;

  const out = quotas.slice();
  for (const [i, delta] of deltas) {
    const q = quotas[i]!;
    const hard = usageOf(q.status?.hard);
    const used = usageOf(q.status?.used);
    const requested = maskUsage(delta, hard.keys());
    const next = addUsage(used, requested);
    const exceeded = exceededNames(maskUsage(next, requested.keys()), hard);
    if (exceeded.length) {
      throw forbid(
        a,
        `exceeded quota: ${q.metadata.name}, requested: ${prettyPrint(maskUsage(requested, exceeded))}, used: ${prettyPrint(maskUsage(used, exceeded))}, limited: ${prettyPrint(maskUsage(hard, exceeded))}`,
      );
    }
    out[i] = { ...q, status: { ...q.status, used: resourceList(next) } };
  }
  return out;
}

const usedOf = (q: ResourceQuota) => usageOf(q.status?.used);

/** resourceVersions compare as integers (etcd revisions); -1 when one does not parse. */
function rvNumber(q: ResourceQuota): bigint {
  const rv = q.metadata.resourceVersion ?? '';
  return /^\d{1,30}$/.test(rv) ? BigInt(rv) : -1n;
}

/**
 * The ResourceQuota admission plugin. Validation only; asynchronous when the namespace has a
 * quota covering the object (it waits for the quota write). Safe under concurrent requests:
 * requests of a namespace are decided in batches, one batch at a time.
 */
export function resourceQuotaPlugin(deps: ResourceQuotaDeps): AdmissionPlugin {
  const now = deps.now ?? Date.now;
  /** Quotas written here, by namespace/name, until the cache has caught up with them. */
  const written = new Map<string, ResourceQuota>();
  const pending = new Map<string, Waiter[]>();
  const draining = new Set<string>();

  function remember(q: ResourceQuota): void {
    const key = `${q.metadata.namespace}/${q.metadata.name}`;
    written.delete(key);
    if (written.size >= writtenCacheMax) written.delete(written.keys().next().value!);
    written.set(key, q);
  }

  /** The cache's quotas, each replaced by the one written here when that one is newer. */
  function currentQuotas(namespace: string): readonly ResourceQuota[] {
    const listed = deps.quotas(namespace);
    if (!written.size) return listed;
    return listed.map((q) => {
      const key = `${namespace}/${q.metadata.name}`;
      const mine = written.get(key);
      if (!mine) return q;
      if (rvNumber(q) >= rvNumber(mine)) {
        written.delete(key);
        return q;
      }
      return mine;
    });
  }

  async function checkQuotas(quotas: readonly ResourceQuota[], waiters: readonly Waiter[], retries: number): Promise<void> {
    let running = quotas;
    let anyChanged = false;
    for (const w of waiters) {
      if (w.result !== undecided) continue;
      let next: readonly ResourceQuota[];
      try {
        next = checkRequest(running, w.attrs, w.ev, now());
      } catch (err) {
        w.result = err;
        continue;
      }
      if (w.attrs.dryRun) {
        w.result = undefined;
        continue;
      }
      if (next === running) {
        w.result = undefined;
        continue;
      }
      anyChanged = true;
      running = next;
    }
    if (!anyChanged) return;

    const failed: ResourceQuota[] = [];
    let lastErr: unknown;
    for (let i = 0; i < running.length; i++) {
      const q = running[i]!;
      if (q === quotas[i] || usageEquals(usedOf(q), usedOf(quotas[i]!))) continue;
      try {
        remember(await deps.updateQuotaStatus(q));
      } catch (err) {
        failed.push(q);
        lastErr = err;
      }
    }
    if (!failed.length || retries <= 0) {
      for (const w of waiters) if (w.result === undecided) w.result = failed.length ? lastErr : undefined;
      return;
    }
    // Re-read the quotas whose write failed (a quota deleted meanwhile no longer applies) and
    // charge the undecided requests to them again.
    const fresh: ResourceQuota[] = [];
    for (const q of failed) {
      const f = await deps.refetch(q.metadata.namespace ?? '', q.metadata.name ?? '');
      if (f) fresh.push(f);
    }
    await checkQuotas(fresh, waiters, retries - 1);
  }

  async function drain(namespace: string): Promise<void> {
    draining.add(namespace);
    try {
      for (;;) {
        const batch = pending.get(namespace);
        if (!batch?.length) return;
        pending.delete(namespace);
        try {
          const quotas = currentQuotas(namespace);
          await checkQuotas(quotas, batch, quotaUpdateRetries);
        } catch (err) {
          for (const w of batch) if (w.result === undecided) w.result = err;
        }
        for (const w of batch) w.finish();
      }
    } finally {
      draining.delete(namespace);
    }
  }

  function evaluate(a: AdmissionAttributes, ev: QuotaEvaluator): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        attrs: a,
        ev,
        result: undecided,
        finish: () => (w.result === undefined ? resolve() : reject(w.result)),
      };
      const list = pending.get(a.namespace);
      if (list) list.push(w);
      else pending.set(a.namespace, [w]);
      if (!draining.has(a.namespace)) void drain(a.namespace);
    });
  }

  return {
    name: 'ResourceQuota',
    validate(a) {
      if (!a.namespace || !a.def.namespaced || a.def.review) return;
      if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return;
      if (isIgnoredResource(a.def.group, a.def.plural)) return;
      // Subresources change no usage, but for a pod's resize (the evaluator says which).
      const ev = evaluatorFor(a.def.group, a.def.plural);
      if (!ev.handles(a.operation, a.subresource)) return;
      // No quota in the namespace: nothing to charge (the common case, decided synchronously).
      if (!deps.quotas(a.namespace).length) return;
      return evaluate(a, ev);
    },
  };
}

