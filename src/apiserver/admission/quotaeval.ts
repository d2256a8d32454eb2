/**
 * Quota usage evaluation shared by the ResourceQuota admission plugin, the resourcequota
 * controller and LimitRanger, as upstream's quota packages do it:
 *
 * - Exact quantities (`Amount`: a BigInt count of nano-units plus the quantity's format), with
 *   upstream's arithmetic and printing (resource.Quantity Add/Sub/Cmp/String): a sum keeps the
 *   format of its left side unless that side is zero, and prints canonically (`1500m`, `2Gi`,
 *   `10`), so quota messages and status.used read as upstream's.
 * - Resource lists as `Usage` maps with upstream's helpers (apiserver/pkg/quota/v1 resources.go:
 *   Add, SubtractWithNonNegativeResult, Mask, LessThanOrEqual, RemoveZeros, IsNegative, the
 *   error messages' prettyPrint).
 * - The evaluators (pkg/quota/v1/evaluator/core, apiserver/pkg/quota/v1/generic): pods
 *   (requests.* / limits.* / legacy cpu and memory / pods / count/pods / hugepages and extended
 *   resources as `requests.<name>`; scopes Terminating, NotTerminating, BestEffort,
 *   NotBestEffort, PriorityClass, CrossNamespacePodAffinity; terminal pods and pods past their
 *   deletion grace period charge only count/pods; the "must specify" constraint), services
 *   (services, services.nodeports, services.loadbalancers, count/services), persistent volume
 *   claims (persistentvolumeclaims, requests.storage, per storage class
 *   `<class>.storageclass.storage.k8s.io/...`, the VolumeAttributesClass scope), and object
 *   counts (`count/<resource>.<group>`, with the legacy names configmaps, secrets,
 *   replicationcontrollers and resourcequotas).
 * - `computeUsage`: what the controller writes to status.used (upstream CalculateUsage).
 *
 * Not covered: in-place resize (usage from container status resources), DRA resource claims
 * (count/resourceclaims.resource.k8s.io is an object count only), pod-level resources beyond
 * overriding the containers' cpu, memory and hugepages sums. All functions are pure; objects
 * passed in are never changed.
 */
import type { Container, PersistentVolumeClaim, Pod, ResourceQuota, ScopedResourceSelectorRequirement, Service } from '../../api/index.ts';
import { podQOSClass } from '../../api/podresources.ts';
import type { Operation } from '../../api/resource.ts';
import type { KubeObject } from '../../api/types.ts';

// ---- exact quantities ---------------------------------------------------------------------------

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** A quantity, exactly: `nano` × 10⁻⁹ in `format` (what Go keeps to print it). */
export interface Amount {
  readonly nano: bigint;
  readonly format: QuantityFormat;
}

const NANO = 1_000_000_000n;
const decimalExp: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const binaryPow: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const suffixByExp: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
const binarySuffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const amountRe = /^([+-]?)(\d*)(?:\.(\d*))?(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

export const zeroAmount: Amount = Object.freeze({ nano: 0n, format: 'DecimalSI' });
const oneAmount: Amount = Object.freeze({ nano: NANO, format: 'DecimalSI' });

/** An integer count (DecimalSI), as resource.NewQuantity(n, DecimalSI). */
export function countAmount(n: number): Amount {
  return n === 1 ? oneAmount : { nano: BigInt(n) * NANO, format: 'DecimalSI' };
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a % b === 0n || a < 0n ? a / b : a / b + 1n);

/** Parsed quantities by their text; the same few strings recur on every pod. */
const parseCache = new Map<string, Amount | null>();
const parseCacheMax = 4096;

/** Parses a quantity (rounded up to nano precision, as upstream); undefined when it does not parse. */
export function parseAmount(q: unknown): Amount | undefined {
  const s = typeof q === 'string' ? q : typeof q === 'number' && Number.isFinite(q) ? String(q) : undefined;
  if (s === undefined) return undefined;
  const hit = parseCache.get(s);
  if (hit !== undefined) return hit ?? undefined;
  const a = parseUncached(s.trim());
  if (parseCache.size >= parseCacheMax) parseCache.clear();
  parseCache.set(s, a ?? null);
  return a;
}

function parseUncached(s: string): Amount | undefined {
  const m = amountRe.exec(s);
  if (!m) return undefined;
  const [, sign, whole = '', frac = '', exponent, suffix = ''] = m;
  if (!whole && !frac) return undefined;
  let mantissa = BigInt((whole || '0') + frac);
  let exp = -frac.length;
  let format: QuantityFormat = 'DecimalSI';
  if (exponent) {
    exp += Number(exponent.slice(1));
    format = 'DecimalExponent';
  } else if (suffix in binaryPow) {
    mantissa *= 1024n ** BigInt(binaryPow[suffix]!);
    format = 'BinarySI';
  } else exp += decimalExp[suffix]!;
  exp += 9; // to nano-units
  if (exp > 60) return undefined; // beyond anything a quantity can hold
  const nano = exp >= 0 ? mantissa * 10n ** BigInt(exp) : ceilDiv(mantissa, 10n ** BigInt(-exp));
  return { nano: sign === '-' ? -nano : nano, format };
}

/** The canonical text of an amount, as Go's Quantity.String(). */
export function formatAmount(a: Amount): string {
  if (a.nano === 0n) return '0';
  if (a.format === 'BinarySI' && a.nano % NANO === 0n) {
    let v = a.nano / NANO;
    if (v >= 1024n || v <= -1024n) {
      let p = 0;
      while (p < 6 && v % 1024n === 0n) {
        v /= 1024n;
        p++;
      }
      return `${v}${binarySuffixes[p]}`;
    }
  }
  let mantissa = a.nano;
  let exp = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exp++;
  }
  const rem = ((exp % 3) + 3) % 3;
  if (rem) {
    mantissa *= 10n ** BigInt(rem);
    exp -= rem;
  }
  if (a.format === 'DecimalExponent') return exp === 0 ? `${mantissa}` : `${mantissa}e${exp}`;
  const suffix = suffixByExp[exp];
  return suffix === undefined ? `${mantissa}e${exp}` : `${mantissa}${suffix}`;
}

/** The canonical text of a quantity string (itself when it does not parse). */
export function canonicalText(q: string): string {
  const a = parseAmount(q);
  return a ? formatAmount(a) : q;
}

/** a + b; the format is a's unless a is zero (Quantity.Add). */
export function addAmount(a: Amount, b: Amount): Amount {
  return { nano: a.nano + b.nano, format: a.nano === 0n ? b.format : a.format };
}

/** a - b; the format is a's unless a is zero (Quantity.Sub). */
export function subAmount(a: Amount, b: Amount): Amount {
  return { nano: a.nano - b.nano, format: a.nano === 0n ? b.format : a.format };
}

export function cmpAmount(a: Amount, b: Amount): number {
  return a.nano < b.nano ? -1 : a.nano > b.nano ? 1 : 0;
}

/** Rounded up to whole units, format kept (Quantity.RoundUp(0)). */
export function roundUpToUnit(a: Amount): Amount {
  const r = a.nano % NANO;
  if (r === 0n) return a;
  return { nano: a.nano - r + (a.nano > 0n ? NANO : 0n), format: a.format };
}

/** Quantity.Value(): whole units, rounded up. */
export function unitValue(a: Amount): bigint {
  return ceilDiv(a.nano, NANO);
}

/** Quantity.MilliValue(): milli-units, rounded up. */
export function milliValue(a: Amount): bigint {
  return ceilDiv(a.nano, 1_000_000n);
}

// ---- resource lists ----------------------------------------------------------------------------

/** A resource list with exact amounts (corev1.ResourceList). */
export type Usage = Map<string, Amount>;

/** A resource list as stored (name → quantity text) to exact amounts; unparsable values are left out. */
export function usageOf(list: Readonly<Record<string, unknown>> | undefined | null): Usage {
  const out: Usage = new Map();
  if (!list) return out;
  for (const [k, v] of Object.entries(list)) {
    const a = parseAmount(v);
    if (a) out.set(k, a);
  }
  return out;
}

/** Amounts back to a stored resource list: canonical text, keys sorted (as Go writes a map). */
export function resourceList(u: Usage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...u.keys()].sort()) out[k] = formatAmount(u.get(k)!);
  return out;
}

/** a + b per name; names in either (quota.Add). */
export function addUsage(a: Usage, b: Usage): Usage {
  const out: Usage = new Map(a);
  for (const [k, v] of b) {
    const x = out.get(k);
    out.set(k, x ? addAmount(x, v) : v);
  }
  return out;
}

/** a - b per name, never below zero; names in either (quota.SubtractWithNonNegativeResult). */
export function subtractNonNegative(a: Usage, b: Usage): Usage {
  const out: Usage = new Map();
  for (const [k, v] of a) {
    const o = b.get(k);
    const d = o ? subAmount(v, o) : v;
    out.set(k, d.nano > 0n ? d : zeroAmount);
  }
  for (const k of b.keys()) if (!out.has(k)) out.set(k, zeroAmount);
  return out;
}

/** Only the named entries (quota.Mask). */
export function maskUsage(u: Usage, names: Iterable<string>): Usage {
  const out: Usage = new Map();
  for (const n of names) {
    const v = u.get(n);
    if (v) out.set(n, v);
  }
  return out;
}

/** Without zero entries (quota.RemoveZeros). */
export function removeZeros(u: Usage): Usage {
  const out: Usage = new Map();
  for (const [k, v] of u) if (v.nano !== 0n) out.set(k, v);
  return out;
}

/** Names with a negative amount, sorted (quota.IsNegative). */
export function negativeNames(u: Usage): string[] {
  return [...u].filter(([, v]) => v.nano < 0n).map(([k]) => k).sort();
}

/** Names of `limit` that `u` has and exceeds (quota.LessThanOrEqual's second result). */
export function exceededNames(u: Usage, limit: Usage): string[] {
  const out: string[] = [];
  for (const [k, v] of limit) {
    const x = u.get(k);
    if (x && x.nano > v.nano) out.push(k);
  }
  return out;
}

/** The same names with equal amounts (quota.Equals). */
export function usageEquals(a: Usage, b: Usage): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const o = b.get(k);
    if (!o || o.nano !== v.nano) return false;
  }
  return true;
}

/** `name=value` pairs, sorted, comma-joined (the quota errors' prettyPrint). */
export function prettyPrint(u: Usage): string {
  return [...u.keys()].sort().map((k) => `${k}=${formatAmount(u.get(k)!)}`).join(',');
}

// ---- pod resources ------------------------------------------------------------------------------

type Which = 'requests' | 'limits';

function addList(into: Usage, list: Readonly<Record<string, string>> | undefined): void {
  if (!list) return;
  for (const [k, v] of Object.entries(list)) {
    const a = parseAmount(v);
    if (!a) continue;
    const x = into.get(k);
    into.set(k, x ? addAmount(x, a) : a);
  }
}

function addInto(into: Usage, from: Usage): void {
  for (const [k, v] of from) {
    const x = into.get(k);
    into.set(k, x ? addAmount(x, v) : v);
  }
}

function maxInto(into: Usage, from: Usage): void {
  for (const [k, v] of from) {
    const x = into.get(k);
    if (!x || v.nano > x.nano) into.set(k, v);
  }
}

/**
 * The containers' requests or limits of a pod (component-helpers AggregateContainerRequests /
 * Limits): the sum of the containers and sidecars (restartable init containers), raised to the
 * peak of any plain init container running beside the sidecars started before it.
 */
export function aggregateContainers(pod: Pod, which: Which): Usage {
  const sum: Usage = new Map();
  for (const c of pod.spec?.containers ?? []) addList(sum, c.resources?.[which]);
  const sidecars: Usage = new Map();
  const initPeak: Usage = new Map();
  for (const c of pod.spec?.initContainers ?? []) {
    const own: Usage = new Map();
    addList(own, c.resources?.[which]);
    if (c.restartPolicy === 'Always') {
      addInto(sum, own);
      addInto(sidecars, own);
      maxInto(initPeak, sidecars);
    } else {
      addInto(own, sidecars);
      maxInto(initPeak, own);
    }
  }
  maxInto(sum, initPeak);
  return sum;
}

const podLevelSupported = (name: string) => name === 'cpu' || name === 'memory' || name.startsWith('hugepages-');

function podLevelOverride(pod: Pod, which: Which, into: Usage): void {
  const list = pod.spec?.resources?.[which];
  if (!list) return;
  for (const [k, v] of Object.entries(list)) {
    const a = parseAmount(v);
    if (a && podLevelSupported(k)) into.set(k, a);
  }
}

/** A pod's effective requests (resourcehelper.PodRequests): containers, pod-level values, overhead. */
export function podRequests(pod: Pod): Usage {
  const reqs = aggregateContainers(pod, 'requests');
  podLevelOverride(pod, 'requests', reqs);
  addList(reqs, pod.spec?.overhead);
  return reqs;
}

/** A pod's effective limits (resourcehelper.PodLimits): overhead is added to limits that are set. */
export function podLimits(pod: Pod): Usage {
  const lims = aggregateContainers(pod, 'limits');
  podLevelOverride(pod, 'limits', lims);
  for (const [k, v] of Object.entries(pod.spec?.overhead ?? {})) {
    const x = lims.get(k);
    const a = parseAmount(v);
    if (x && a) lims.set(k, addAmount(x, a));
  }
  return lims;
}

// ---- evaluators ---------------------------------------------------------------------------------

/** How one resource is charged to quota (upstream's quota.Evaluator). */
export interface QuotaEvaluator {
  readonly group: string;
  readonly resource: string;
  /** Whether this operation (on the main resource, or a subresource) can change usage (upstream Handles). */
  handles(operation: Operation, subresource?: string): boolean;
  /** The names among `names` this evaluator charges. */
  matchingResources(names: readonly string[]): string[];
  /** Whether `obj` falls under one scope selector; kinds without scopes match none. */
  matchesScope(selector: ScopedResourceSelectorRequirement, obj: KubeObject): boolean;
  /** What `obj` uses; `now` (ms) decides whether a deleted pod's grace period is over. */
  usage(obj: KubeObject, now: number): Usage;
  /** Upstream Constraints: why `obj` cannot be charged to the `required` names, or undefined. */
  constraints(required: readonly string[], obj: KubeObject): string | undefined;
}

/** `count/<resource>[.<group>]` (generic.ObjectCountQuotaResourceNameFor). */
export function objectCountName(group: string, resource: string): string {
  return group ? `count/${resource}.${group}` : `count/${resource}`;
}

/** The group and resource of an object-count name, or undefined when `name` is not one. */
export function parseObjectCountName(name: string): { group: string; resource: string } | undefined {
  if (!name.startsWith('count/')) return undefined;
  const rest = name.slice(6);
  const dot = rest.indexOf('.');
  const resource = dot < 0 ? rest : rest.slice(0, dot);
  if (!resource) return undefined;
  return { group: dot < 0 ? '' : rest.slice(dot + 1), resource };
}

const noScope = () => false;
const noConstraints = () => undefined;

/** Upstream's objectCountEvaluator: one of each created object, under its count name and alias. */
export function objectCountEvaluator(group: string, resource: string, alias?: string): QuotaEvaluator {
  const names = alias ? [objectCountName(group, resource), alias] : [objectCountName(group, resource)];
  const usage: Usage = new Map(names.map((n) => [n, oneAmount]));
  return {
    group,
    resource,
    handles: (op, sub) => !sub && op === 'CREATE',
    matchingResources: (input) => intersect(input, names),
    matchesScope: noScope,
    usage: () => new Map(usage),
    constraints: noConstraints,
  };
}

/** The distinct names of `input` that are in `set`, sorted (quota.Intersection). */
function intersect(input: readonly string[], set: readonly string[]): string[] {
  return [...new Set(input.filter((n) => set.includes(n)))].sort();
}

/** Selector operators over one optional value, as a label selector on key = scope name. */
function selectorMatches(sel: ScopedResourceSelectorRequirement, value: string | undefined): boolean {
  switch (sel.operator) {
    case 'In':
      return value !== undefined && (sel.values ?? []).includes(value);
    case 'NotIn':
      return value === undefined || !(sel.values ?? []).includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    default:
      return false;
  }
}

// pods

const podResourceNames = [
  objectCountName('', 'pods'),
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
];
/** Quota names a container must state when a covering quota limits them (upstream's validationSet). */
const mustSpecify = new Set(['cpu', 'memory', 'requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory']);

/** Native resources: no domain, or a kubernetes.io domain (helper.IsNativeResource). */
const isNativeResource = (name: string) => !name.includes('/') || name.includes('kubernetes.io/');
/** Extended resources: quota charges them as `requests.<name>` (helper.IsExtendedResourceName). */
const isExtendedResource = (name: string) => !isNativeResource(name) && !name.startsWith('requests.');
/** A quota name for an extended resource (isExtendedResourceNameForQuota). */
const isExtendedQuotaName = (name: string) => !isNativeResource(name) && name.startsWith('requests.');

/** podComputeUsageHelper: the compute names a pod (or one container) is charged under. */
function computeNames(requests: Usage, limits: Usage): Usage {
  const out: Usage = new Map([['pods', oneAmount]]);
  for (const r of ['cpu', 'memory', 'ephemeral-storage']) {
    const req = requests.get(r);
    if (req) {
      out.set(r, req);
      out.set(`requests.${r}`, req);
    }
    const lim = limits.get(r);
    if (lim) out.set(`limits.${r}`, lim);
  }
  for (const [k, v] of requests) {
    if (k.startsWith('hugepages-')) {
      out.set(k, v);
      out.set(`requests.${k}`, v);
    }
    if (isExtendedResource(k)) out.set(`requests.${k}`, v);
  }
  return out;
}

/** Whether a pod is charged for compute resources (QuotaV1Pod): not finished, not past its grace period. */
export function podIsCharged(pod: Pod, now: number): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded') return false;
  const del = pod.metadata.deletionTimestamp;
  const grace = pod.metadata.deletionGracePeriodSeconds;
  if (del && grace !== undefined && grace !== null) {
    const t = Date.parse(del);
    if (Number.isFinite(t) && now > t + grace * 1000) return false;
  }
  return true;
}

function usesCrossNamespaceAffinity(pod: Pod): boolean {
  const cross = (t: { namespaces?: string[]; namespaceSelector?: unknown } | undefined) => !!t && ((t.namespaces?.length ?? 0) > 0 || (t.namespaceSelector !== undefined && t.namespaceSelector !== null));
  for (const a of [pod.spec?.affinity?.podAffinity, pod.spec?.affinity?.podAntiAffinity]) {
    if (!a) continue;
    if (a.requiredDuringSchedulingIgnoredDuringExecution?.some(cross)) return true;
    if (a.preferredDuringSchedulingIgnoredDuringExecution?.some((w) => cross(w.podAffinityTerm))) return true;
  }
  return false;
}

function podMatchesScope(sel: ScopedResourceSelectorRequirement, obj: KubeObject): boolean {
  const pod = obj as unknown as Pod;
  switch (sel.scopeName) {
    case 'Terminating':
      return isTerminating(pod);
    case 'NotTerminating':
      return !isTerminating(pod);
    case 'BestEffort':
      return isBestEffort(pod);
    case 'NotBestEffort':
      return !isBestEffort(pod);
    case 'PriorityClass':
      return selectorMatches(sel, pod.spec?.priorityClassName || undefined);
    case 'CrossNamespacePodAffinity':
      return usesCrossNamespaceAffinity(pod);
    default:
      return false;
  }
}

const isTerminating = (pod: Pod) => typeof pod.spec?.activeDeadlineSeconds === 'number' && pod.spec.activeDeadlineSeconds >= 0;
const isBestEffort = (pod: Pod) => (pod.status?.qosClass || podQOSClass(pod.spec)) === 'BestEffort';

function containerCompute(c: Container): Usage {
  return computeNames(usageOf(c.resources?.requests), usageOf(c.resources?.limits));
}

export const podEvaluator: QuotaEvaluator = {
  group: '',
  resource: 'pods',
  // In-place resize changes what a pod requests.
  handles: (op, sub) => (!sub && op === 'CREATE') || (sub === 'resize' && op === 'UPDATE'),
  matchingResources(input) {
    const out = new Set(intersect(input, podResourceNames));
    for (const n of input) if (n.startsWith('hugepages-') || n.startsWith('requests.hugepages-') || isExtendedQuotaName(n)) out.add(n);
    return [...out];
  },
  matchesScope: podMatchesScope,
  usage(obj, now) {
    const pod = obj as unknown as Pod;
    const out: Usage = new Map([[objectCountName('', 'pods'), oneAmount]]);
    if (!podIsCharged(pod, now)) return out;
    for (const [k, v] of computeNames(podRequests(pod), podLimits(pod))) out.set(k, v);
    return out;
  },
  constraints(required, obj) {
    const want = required.filter((r) => mustSpecify.has(r));
    if (!want.length) return undefined;
    const pod = obj as unknown as Pod;
    const missing = new Map<string, Set<string>>();
    for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
      const have = containerCompute(c);
      for (const r of want) {
        if (have.has(r)) continue;
        let names = missing.get(r);
        if (!names) missing.set(r, (names = new Set()));
        names.add(c.name);
      }
    }
    if (!missing.size) return undefined;
    const parts = [...missing.keys()].sort().map((r) => `${r} for: ${[...missing.get(r)!].sort().join(',')}`);
    return `must specify ${parts.join('; ')}`;
  },
};

// services

const serviceResourceNames = [objectCountName('', 'services'), 'services', 'services.nodeports', 'services.loadbalancers'];

export const serviceEvaluator: QuotaEvaluator = {
  group: '',
  resource: 'services',
  // A service's type can change.
  handles: (op, sub) => !sub && (op === 'CREATE' || op === 'UPDATE'),
  matchingResources: (input) => intersect(input, serviceResourceNames),
  matchesScope: noScope,
  usage(obj) {
    const svc = obj as unknown as Service;
    const ports = svc.spec?.ports ?? [];
    let nodePorts = 0;
    let lbs = 0;
    if (svc.spec?.type === 'NodePort') nodePorts = ports.length;
    else if (svc.spec?.type === 'LoadBalancer') {
      nodePorts = svc.spec.allocateLoadBalancerNodePorts === false ? ports.filter((p) => p.nodePort).length : ports.length;
      lbs = 1;
    }
    return new Map([
      [objectCountName('', 'services'), oneAmount],
      ['services', oneAmount],
      ['services.loadbalancers', countAmount(lbs)],
      ['services.nodeports', countAmount(nodePorts)],
    ]);
  },
  constraints: noConstraints,
};

// persistent volume claims

const storageClassSuffix = '.storageclass.storage.k8s.io/';
const pvcResourceNames = ['persistentvolumeclaims', 'requests.storage'];
const betaStorageClassAnnotation = 'volume.beta.kubernetes.io/storage-class';

/** The claim's storage class: the beta annotation first, then spec.storageClassName. */
export function claimStorageClass(pvc: PersistentVolumeClaim): string {
  return pvc.metadata.annotations?.[betaStorageClassAnnotation] ?? pvc.spec?.storageClassName ?? '';
}

/** Requested storage in whole bytes, or the allocated size when that is larger. */
function claimStorage(pvc: PersistentVolumeClaim): Amount | undefined {
  const req = parseAmount(pvc.spec?.resources?.requests?.['storage']);
  if (!req) return undefined;
  let out = roundUpToUnit(req);
  const alloc = parseAmount(pvc.status?.allocatedResources?.['storage']);
  if (alloc && alloc.nano > out.nano) out = roundUpToUnit(alloc);
  return out;
}

function volumeAttributesClasses(pvc: PersistentVolumeClaim): string[] {
  const out = new Set<string>();
  if (pvc.spec?.volumeAttributesClassName) out.add(pvc.spec.volumeAttributesClassName);
  if (pvc.status?.currentVolumeAttributesClassName) out.add(pvc.status.currentVolumeAttributesClassName);
  const target = pvc.status?.modifyVolumeStatus?.targetVolumeAttributesClassName;
  if (target) out.add(target);
  return [...out];
}

export const pvcEvaluator: QuotaEvaluator = {
  group: '',
  resource: 'persistentvolumeclaims',
  handles: (op, sub) => !sub && (op === 'CREATE' || op === 'UPDATE'),
  matchingResources(input) {
    const count = objectCountName('', 'persistentvolumeclaims');
    return input.filter((n) => n === count || pvcResourceNames.includes(n) || pvcResourceNames.some((r) => n.endsWith(storageClassSuffix + r)));
  },
  matchesScope(sel, obj) {
    if (sel.scopeName !== 'VolumeAttributesClass') return false;
    const names = volumeAttributesClasses(obj as unknown as PersistentVolumeClaim);
    if (sel.operator === 'Exists') return names.length > 0;
    if (!names.length) return selectorMatches(sel, undefined);
    return names.some((n) => selectorMatches(sel, n));
  },
  usage(obj) {
    const pvc = obj as unknown as PersistentVolumeClaim;
    const out: Usage = new Map([
      ['persistentvolumeclaims', oneAmount],
      [objectCountName('', 'persistentvolumeclaims'), oneAmount],
    ]);
    const sc = claimStorageClass(pvc);
    if (sc) out.set(`${sc}${storageClassSuffix}persistentvolumeclaims`, oneAmount);
    const storage = claimStorage(pvc);
    if (storage) {
      out.set('requests.storage', storage);
      if (sc) out.set(`${sc}${storageClassSuffix}requests.storage`, storage);
    }
    return out;
  },
  constraints: noConstraints,
};

// the registry

const staticEvaluators: readonly QuotaEvaluator[] = [
  podEvaluator,
  serviceEvaluator,
  pvcEvaluator,
  objectCountEvaluator('', 'configmaps', 'configmaps'),
  objectCountEvaluator('', 'resourcequotas', 'resourcequotas'),
  objectCountEvaluator('', 'replicationcontrollers', 'replicationcontrollers'),
  objectCountEvaluator('', 'secrets', 'secrets'),
];
const byGroupResource = new Map<string, QuotaEvaluator>(staticEvaluators.map((e) => [`${e.group}/${e.resource}`, e]));
const byGroupResourceMax = 1024;

/** Resources quota never charges (upstream's DefaultIgnoredResources). */
const ignored = new Set([
  '/bindings',
  '/componentstatuses',
  '/events',
  'events.k8s.io/events',
  'authentication.k8s.io/tokenreviews',
  'authentication.k8s.io/selfsubjectreviews',
  'authorization.k8s.io/subjectaccessreviews',
  'authorization.k8s.io/selfsubjectaccessreviews',
  'authorization.k8s.io/localsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectrulesreviews',
]);

export function isIgnoredResource(group: string, resource: string): boolean {
  return ignored.has(`${group}/${resource}`);
}

/** The evaluator of a resource: pods, services and claims have their own; any other is counted. */
export function evaluatorFor(group: string, resource: string): QuotaEvaluator {
  const key = `${group}/${resource}`;
  let e = byGroupResource.get(key);
  if (!e) {
    e = objectCountEvaluator(group, resource);
    if (byGroupResource.size < byGroupResourceMax) byGroupResource.set(key, e);
  }
  return e;
}

/** The evaluators a set of quota names needs: the built-in ones, plus one per other count/ name. */
export function evaluatorsFor(names: readonly string[]): QuotaEvaluator[] {
  const out = [...staticEvaluators];
  for (const n of names) {
    const gr = parseObjectCountName(n);
    if (!gr) continue;
    const e = evaluatorFor(gr.group, gr.resource);
    if (!out.includes(e)) out.push(e);
  }
  return out;
}

// ---- quotas -------------------------------------------------------------------------------------

/** A quota's scopes (as Exists selectors) followed by its scopeSelector's expressions. */
export function quotaScopeSelectors(q: ResourceQuota): ScopedResourceSelectorRequirement[] {
  const out: ScopedResourceSelectorRequirement[] = (q.spec?.scopes ?? []).map((s) => ({ scopeName: s, operator: 'Exists' }));
  for (const e of q.spec?.scopeSelector?.matchExpressions ?? []) out.push(e);
  return out;
}

/**
 * Whether `quota` covers `obj` (generic.Matches): its `hard` names a resource the evaluator
 * charges, and `obj` matches every scope. Admission passes status.hard, the controller spec.hard.
 */
export function quotaMatches(ev: QuotaEvaluator, quota: ResourceQuota, hardNames: readonly string[], obj: KubeObject): boolean {
  if (!ev.matchingResources(hardNames).length) return false;
  for (const s of quotaScopeSelectors(quota)) if (!ev.matchesScope(s, obj)) return false;
  return true;
}

/** The objects of one resource in a namespace; undefined when they cannot be listed (yet). */
export type NamespaceLister = (group: string, resource: string, namespace: string) => readonly KubeObject[] | undefined;

export interface ComputedUsage {
  /** Usage of every name that could be measured, masked to spec.hard. */
  used: Usage;
  /** Resources whose objects could not be listed: their names were not measured. */
  unlisted: { group: string; resource: string }[];
}

/**
 * What a quota's namespace uses of each name in spec.hard (quota.CalculateUsage): each
 * evaluator that charges one of those names sums the usage of its objects that match the
 * quota's scopes, starting from zero. Names no evaluator charges, and those of resources that
 * cannot be listed, are left out.
 */
export function computeUsage(quota: ResourceQuota, list: NamespaceLister, now: number): ComputedUsage {
  const hardNames = Object.keys(quota.spec?.hard ?? {});
  const namespace = quota.metadata.namespace ?? '';
  const selectors = quotaScopeSelectors(quota);
  const used: Usage = new Map();
  const unlisted: { group: string; resource: string }[] = [];
  for (const ev of evaluatorsFor(hardNames)) {
    const names = ev.matchingResources(hardNames);
    if (!names.length) continue;
    const items = list(ev.group, ev.resource, namespace);
    if (!items) {
      unlisted.push({ group: ev.group, resource: ev.resource });
      continue;
    }
    for (const n of names) used.set(n, zeroAmount);
    for (const item of items) {
      if (selectors.some((s) => !ev.matchesScope(s, item))) continue;
      const u = ev.usage(item, now);
      for (const n of names) {
        const v = u.get(n);
        if (v) used.set(n, addAmount(used.get(n)!, v));
      }
    }
  }
  return { used, unlisted };
}
