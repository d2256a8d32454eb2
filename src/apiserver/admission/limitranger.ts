/**
 * LimitRanger, as upstream's plugin/pkg/admission/limitranger: the LimitRanges of a namespace
 * default and bound the resources of pods and persistent volume claims.
 *
 * - Mutating (pods, CREATE; UPDATE of pods/resize): each container and init container gets the
 *   `default` limits and `defaultRequest` requests of every `Container` item it does not set,
 *   and the pod the annotation `kubernetes.io/limit-ranger: LimitRanger plugin set: cpu,
 *   memory request for container app; cpu limit for init container init` (names sorted).
 * - Validating (pods CREATE and pods/resize UPDATE; claims CREATE and UPDATE):
 *   `Container` items check every container and init container, `Pod` items the pod's
 *   aggregate (containers summed, sidecars beside them, plain init containers at their peak;
 *   pod-level cpu and memory override), each with `min` (on the request, and the limit if set),
 *   `max` (on the limit, which must be set, and the request if set) and
 *   `maxLimitRequestRatio`; `PersistentVolumeClaim` items check the claim's storage request
 *   against `min` and `max`. Values compare in milli-units (whole units past int64 milli range).
 * - Refusals are Forbidden with upstream's texts (`maximum cpu usage per Container is 2, but
 *   limit is 3`); the failures of one LimitRange are reported together (`[a, b]`), the first
 *   LimitRange that fails decides.
 * - Updates of objects being deleted are left alone.
 *
 * Resource names of one item are visited in key order (upstream iterates a Go map, in no fixed
 * order). Not covered: a live list when the cache has no LimitRange for the namespace.
 */
import { forbidden } from '../../api/errors.ts';
import type { Container, LimitRange, LimitRangeItem, PersistentVolumeClaim, Pod } from '../../api/index.ts';
import {
  aggregateContainers,
  canonicalText,
  formatAmount,
  milliValue,
  parseAmount,
  unitValue,
  zeroAmount,
  type Amount,
  type Usage,
} from './quotaeval.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';
import { compareStrings } from '../../util/compare.ts';

export interface LimitRangerDeps {
  /** The namespace's LimitRanges from a cache. Never mutated here. */
  limitRanges(namespace: string): readonly LimitRange[];
}

export const limitRangerAnnotation = 'kubernetes.io/limit-ranger';
/** resource.MaxMilliValue: the largest value whose milli-units fit an int64. */
const maxMilliValue = 9_223_372_036_854_775n;

type Kind = 'pod' | 'pvc';

/** What the request is to LimitRanger (upstream SupportsAttributes), or undefined when nothing. */
function kindOf(a: AdmissionAttributes): Kind | undefined {
  if (a.def.group !== '' || !a.object) return undefined;
  const pod = a.def.kind === 'Pod';
  if (a.subresource === 'resize') return pod && a.operation === 'UPDATE' ? 'pod' : undefined;
  if (a.subresource) return undefined;
  if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return undefined;
  // Containers cannot change on a pod update: nothing to default or check.
  if (pod) return a.operation === 'CREATE' ? 'pod' : undefined;
  return a.def.kind === 'PersistentVolumeClaim' ? 'pvc' : undefined;
}

type List = Readonly<Record<string, string>> | undefined;

const sortedEntries = (l: List): [string, string][] => Object.entries(l ?? {}).sort(([a], [b]) => compareStrings(a, b));

// ---- defaults -----------------------------------------------------------------------------------

/** The default requests and limits of a LimitRange's Container items (later items win). */
function containerDefaults(lr: LimitRange): { requests: Record<string, string>; limits: Record<string, string> } {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  for (const item of lr.spec?.limits ?? []) {
    if (item.type !== 'Container') continue;
    for (const [k, v] of Object.entries(item.defaultRequest ?? {})) requests[k] = canonicalText(v);
    for (const [k, v] of Object.entries(item.default ?? {})) limits[k] = canonicalText(v);
  }
  return { requests, limits };
}

function mergeContainer(c: Container, defaults: { requests: Record<string, string>; limits: Record<string, string> }, what: string, notes: string[]): void {
  const setLimits = Object.keys(defaults.limits).filter((k) => !(k in (c.resources?.limits ?? {})));
  const setRequests = Object.keys(defaults.requests).filter((k) => !(k in (c.resources?.requests ?? {})));
  if (setLimits.length) {
    const limits = ((c.resources ??= {}).limits ??= {});
    for (const k of setLimits) limits[k] = defaults.limits[k]!;
  }
  if (setRequests.length) {
    const requests = ((c.resources ??= {}).requests ??= {});
    for (const k of setRequests) requests[k] = defaults.requests[k]!;
  }
  if (setRequests.length) notes.push(`${setRequests.sort().join(', ')} request for ${what} ${c.name}`);
  if (setLimits.length) notes.push(`${setLimits.sort().join(', ')} limit for ${what} ${c.name}`);
}

/** Applies one LimitRange's container defaults to a pod, in place (PodMutateLimitFunc). */
export function applyLimitRangeDefaults(lr: LimitRange, pod: Pod): void {
  const defaults = containerDefaults(lr);
  if (!Object.keys(defaults.requests).length && !Object.keys(defaults.limits).length) return;
  const notes: string[] = [];
  for (const c of pod.spec?.containers ?? []) mergeContainer(c, defaults, 'container', notes);
  for (const c of pod.spec?.initContainers ?? []) mergeContainer(c, defaults, 'init container', notes);
  if (!notes.length) return;
  pod.metadata.annotations = { ...pod.metadata.annotations, [limitRangerAnnotation]: `LimitRanger plugin set: ${notes.join('; ')}` };
}

// ---- constraints --------------------------------------------------------------------------------

interface Observed {
  text: string | undefined;
  amount: Amount;
}

function observe(list: Usage | List, name: string): Observed {
  if (list instanceof Map) {
    const a = list.get(name);
    return { text: a ? formatAmount(a) : undefined, amount: a ?? zeroAmount };
  }
  const raw = list?.[name];
  const a = raw === undefined ? undefined : parseAmount(raw);
  return { text: a ? formatAmount(a) : raw === undefined ? undefined : raw, amount: a ?? zeroAmount };
}

/** requestLimitEnforcedValues: milli-units when all three fit, else whole units. */
function comparable(req: Amount, lim: Amount, enforced: Amount): [bigint, bigint, bigint] {
  const r = unitValue(req);
  const l = unitValue(lim);
  const e = unitValue(enforced);
  if (r <= maxMilliValue && l <= maxMilliValue && e <= maxMilliValue) return [milliValue(req), milliValue(lim), milliValue(enforced)];
  return [r, l, e];
}

function minConstraint(type: string, name: string, enforced: Amount, requests: Usage | List, limits: Usage | List): string | undefined {
  const req = observe(requests, name);
  const lim = observe(limits, name);
  const [r, l, e] = comparable(req.amount, lim.amount, enforced);
  const head = `minimum ${name} usage per ${type} is ${formatAmount(enforced)}`;
  if (req.text === undefined) return `${head}.  No request is specified`;
  if (r < e) return `${head}, but request is ${req.text}`;
  if (lim.text !== undefined && l < e) return `${head}, but limit is ${lim.text}`;
  return undefined;
}

function maxConstraint(type: string, name: string, enforced: Amount, requests: Usage | List, limits: Usage | List): string | undefined {
  const req = observe(requests, name);
  const lim = observe(limits, name);
  const [r, l, e] = comparable(req.amount, lim.amount, enforced);
  const head = `maximum ${name} usage per ${type} is ${formatAmount(enforced)}`;
  if (lim.text === undefined) return `${head}.  No limit is specified`;
  if (l > e) return `${head}, but limit is ${lim.text}`;
  if (req.text !== undefined && r > e) return `${head}, but request is ${req.text}`;
  return undefined;
}

/** The max constraint on the request alone (claims: limits are not user input). */
function maxRequestConstraint(type: string, name: string, enforced: Amount, requests: List): string | undefined {
  const req = observe(requests, name);
  const [r, , e] = comparable(req.amount, zeroAmount, enforced);
  const head = `maximum ${name} usage per ${type} is ${formatAmount(enforced)}`;
  if (req.text === undefined) return `${head}.  No request is specified`;
  if (r > e) return `${head}, but request is ${req.text}`;
  return undefined;
}

function ratioConstraint(type: string, name: string, enforced: Amount, requests: Usage | List, limits: Usage | List): string | undefined {
  const req = observe(requests, name);
  const lim = observe(limits, name);
  const [r, l] = comparable(req.amount, lim.amount, enforced);
  const head = `${name} max limit to request ratio per ${type} is ${formatAmount(enforced)}`;
  if (req.text === undefined || r === 0n) return `${head}, but no request is specified or request is 0`;
  if (lim.text === undefined || l === 0n) return `${head}, but no limit is specified or limit is 0`;
  const ratio = Number(l) / Number(r);
  const ev = unitValue(enforced);
  const exceeds = ev <= maxMilliValue ? ratio * 1000 > Number(milliValue(enforced)) : ratio > Number(ev);
  return exceeds ? `${head}, but provided ratio is ${ratio.toFixed(6)}` : undefined;
}

type Check = (type: string, name: string, enforced: Amount, requests: Usage | List, limits: Usage | List) => string | undefined;

function checkAll(item: LimitRangeItem, requests: Usage | List, limits: Usage | List, errs: string[]): void {
  const run = (list: List, check: Check) => {
    for (const [k, v] of sortedEntries(list)) {
      const enforced = parseAmount(v);
      if (!enforced) continue;
      const e = check(item.type, k, enforced, requests, limits);
      if (e) errs.push(e);
    }
  };
  run(item.min, minConstraint);
  run(item.max, maxConstraint);
  run(item.maxLimitRequestRatio, ratioConstraint);
}

/** A pod's aggregate for Pod items (limitranger's podRequests/podLimits: no overhead; pod-level cpu and memory win). */
function podAggregate(pod: Pod, which: 'requests' | 'limits'): Usage {
  const out = aggregateContainers(pod, which);
  for (const [k, v] of Object.entries(pod.spec?.resources?.[which] ?? {})) {
    const a = parseAmount(v);
    if (a && (k === 'cpu' || k === 'memory')) out.set(k, a);
  }
  return out;
}

/** The failures of a pod against one LimitRange (PodValidateLimitFunc), in upstream's order. */
export function podLimitErrors(lr: LimitRange, pod: Pod): string[] {
  const errs: string[] = [];
  for (const item of lr.spec?.limits ?? []) {
    if (item.type === 'Container') {
      for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) checkAll(item, c.resources?.requests, c.resources?.limits, errs);
    } else if (item.type === 'Pod') {
      checkAll(item, podAggregate(pod, 'requests'), podAggregate(pod, 'limits'), errs);
    }
  }
  return errs;
}

/** The failures of a claim against one LimitRange (PersistentVolumeClaimValidateLimitFunc). */
export function claimLimitErrors(lr: LimitRange, pvc: PersistentVolumeClaim): string[] {
  const errs: string[] = [];
  const requests = pvc.spec?.resources?.requests;
  for (const item of lr.spec?.limits ?? []) {
    if (item.type !== 'PersistentVolumeClaim') continue;
    for (const [k, v] of sortedEntries(item.min)) {
      const enforced = parseAmount(v);
      const e = enforced && minConstraint(item.type, k, enforced, requests, undefined);
      if (e) errs.push(e);
    }
    for (const [k, v] of sortedEntries(item.max)) {
      const enforced = parseAmount(v);
      const e = enforced && maxRequestConstraint(item.type, k, enforced, requests);
      if (e) errs.push(e);
    }
  }
  return errs;
}

/** utilerrors.NewAggregate's text: one message as is, several (duplicates dropped) in brackets. */
function aggregate(errs: readonly string[]): string {
  const distinct = [...new Set(errs)];
  return distinct.length === 1 ? distinct[0]! : `[${distinct.join(', ')}]`;
}

function forbid(a: AdmissionAttributes, message: string) {
  const name = a.name || a.object?.metadata.name || a.object?.metadata.generateName || 'Unknown';
  return forbidden({ group: a.def.group, resource: a.def.plural }, name, message);
}

/** The LimitRanger admission plugin: defaults in the mutating phase, checks in the validating one. Synchronous. */
export function limitRangerPlugin(deps: LimitRangerDeps): AdmissionPlugin {
  const ranges = (a: AdmissionAttributes): readonly LimitRange[] => {
    if (a.oldObject?.metadata.deletionTimestamp) return [];
    return deps.limitRanges(a.namespace);
  };
  return {
    name: 'LimitRanger',
    admit(a) {
      if (kindOf(a) !== 'pod') return;
      for (const lr of ranges(a)) applyLimitRangeDefaults(lr, a.object as unknown as Pod);
    },
    validate(a) {
      const kind = kindOf(a);
      if (!kind) return;
      for (const lr of ranges(a)) {
        const errs = kind === 'pod' ? podLimitErrors(lr, a.object as unknown as Pod) : claimLimitErrors(lr, a.object as unknown as PersistentVolumeClaim);
        if (errs.length) throw forbid(a, aggregate(errs));
      }
    },
  };
}
