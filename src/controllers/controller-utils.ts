/**
 * Pieces the workload controllers share, as upstream's controller utilities: pod readiness and
 * availability, controller references, int-or-percent resolution, the pod-template hash, and a small harness
 * that wires informer events to a rate-limited work queue and its workers.
 */
import type { ApiObject, IntOrString, LabelSelector, OwnerReference, Pod, PodCondition } from '../api/index.ts';
import { labelSelectorFromObject, type LabelSelectorMatcher } from '../api/selectors.ts';
import { WorkQueue, runWorkers, waitForCacheSync, type ReconcileResult } from '../client/index.ts';
import type { ControllerContext } from './context.ts';

/** A JSON object, for the generic value helpers below (hashing, semantic equality). */
type JsonObject = Record<string, unknown>;

export function keyOf(o: ApiObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata.name ?? '');
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

// ---- pods --------------------------------------------------------------------------------------

function podCondition(pod: Pod, type: string): PodCondition | undefined {
  const conds = pod.status?.conditions;
  if (conds) for (const c of conds) if (c.type === type) return c;
  return undefined;
}

/** The pod's Ready condition, if it has one (hot path: no allocation). */
export function readyCondition(pod: Pod): PodCondition | undefined {
  return podCondition(pod, 'Ready');
}

export function isPodReady(pod: Pod): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

/** Ready for at least minReadySeconds at `now`. */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  const c = podCondition(pod, 'Ready');
  if (c?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

/** Milliseconds until a ready pod becomes available, or undefined when it is not ready (or already is). */
export function msUntilAvailable(pod: Pod, minReadySeconds: number, now: number): number | undefined {
  const c = podCondition(pod, 'Ready');
  if (c?.status !== 'True' || minReadySeconds <= 0) return undefined;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  if (!Number.isFinite(since)) return undefined;
  const left = since + minReadySeconds * 1000 - now;
  return left > 0 ? left : undefined;
}

export function podPhase(pod: Pod): string {
  return pod.status?.phase ?? '';
}

/** Not finished and not being deleted: counts toward a controller's replicas. */
export function isPodActive(pod: Pod): boolean {
  const phase = podPhase(pod);
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

function restarts(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
}

/**
 * Upstream's ranking of pods to delete first when scaling down: unassigned before assigned,
 * pending before unknown before running, not ready before ready, ready for less time before
 * longer, more restarts before fewer, newer before older.
 */
export function compareForDeletion(a: Pod, b: Pod): number {
  const assigned = (p: Pod) => (p.spec?.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
  const pa = phaseRank[podPhase(a)] ?? 0;
  const pb = phaseRank[podPhase(b)] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a) ? 1 : 0;
  const rb = isPodReady(b) ? 1 : 0;
  if (ra !== rb) return ra - rb;
  if (ra && rb) {
    const ta = Date.parse(podCondition(a, 'Ready')?.lastTransitionTime ?? '') || 0;
    const tb = Date.parse(podCondition(b, 'Ready')?.lastTransitionTime ?? '') || 0;
    if (ta !== tb) return tb - ta; // ready more recently first
  }
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const ca = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const cb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  return cb - ca; // newer first
}

/**
 * The `n` pods to delete first (upstream getPodsToDelete): all of them, unranked, when `n`
 * covers them all; else the first `n` in `compareForDeletion` order, each pod's ranking keys
 * computed once rather than at every comparison.
 */
export function podsToDelete(pods: readonly Pod[], n: number): Pod[] {
  if (n <= 0) return [];
  if (n >= pods.length) return [...pods];
  const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
  const ranked = pods.map((p, i) => {
    const rc = podCondition(p, 'Ready');
    const ready = rc?.status === 'True' ? 1 : 0;
    return {
      p,
      i,
      assigned: p.spec?.nodeName ? 1 : 0,
      phase: phaseRank[podPhase(p)] ?? 0,
      ready,
      readySince: ready ? Date.parse(rc?.lastTransitionTime ?? '') || 0 : 0,
      restarts: restarts(p),
      created: Date.parse(p.metadata.creationTimestamp ?? '') || 0,
    };
  });
  ranked.sort(
    (a, b) =>
      a.assigned - b.assigned ||
      a.phase - b.phase ||
      a.ready - b.ready ||
      b.readySince - a.readySince ||
      b.restarts - a.restarts ||
      b.created - a.created ||
      a.i - b.i,
  );
  return ranked.slice(0, n).map((r) => r.p);
}

/**
 * `labelSelectorFromObject`, memoized per selector object: selectors of cached objects are never
 * mutated (an update brings a new object), so each is parsed once however many pod events ask.
 */
const parsedSelectors = new WeakMap<LabelSelector, LabelSelectorMatcher>();
export function cachedLabelSelector(sel: LabelSelector | null | undefined): LabelSelectorMatcher {
  if (!sel) return labelSelectorFromObject(sel);
  let m = parsedSelectors.get(sel);
  if (!m) parsedSelectors.set(sel, (m = labelSelectorFromObject(sel)));
  return m;
}

// ---- controller references ---------------------------------------------------------------------

export function controllerRef(o: ApiObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}

export function newControllerRef(owner: ApiObject, kind: string, apiVersion: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

// ---- int or percent ----------------------------------------------------------------------------

/** An IntOrString value against a total: percentages rounded up or down. */
export function intOrPercent(v: IntOrString | null | undefined, total: number, roundUp: boolean, dflt: string): number {
  const x = v ?? dflt;
  if (typeof x === 'number') return x;
  const m = /^(\d+)%$/.exec(String(x));
  if (!m) return Number(x) || 0;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

// ---- hashing -----------------------------------------------------------------------------------

const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** FNV-1a 32-bit of a string's UTF-8 bytes. */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Upstream's SafeEncodeString: each character mapped into an alphabet without vowels. */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += safeAlphabet[s.charCodeAt(i) % safeAlphabet.length];
  return out;
}

/** A stable JSON form (keys sorted) for hashing. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as JsonObject)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as JsonObject)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The pod-template hash of a template (and collision count), as the pod-template-hash label. */
export function podTemplateHash(template: unknown, collisionCount?: number): string {
  const h = fnv32a(stableJson(semanticNormalize(template)) + (collisionCount ? String(collisionCount) : ''));
  return safeEncode(String(h));
}

// ---- queue harness -----------------------------------------------------------------------------

export interface StartQueueOptions {
  /** Queue name, for logs (upstream's controller name). */
  name: string;
  /** Concurrent workers (upstream's --concurrent-*-syncs). */
  workers: number;
  /**
   * Informers whose caches must have synced before the first reconcile (upstream
   * WaitForNamedCacheSync): a controller never acts on a cache that has not seen the world yet.
   */
  waitFor: readonly { waitForSync(signal?: AbortSignal): Promise<boolean> }[];
}

/**
 * A named rate-limited queue. Keys may be added at once; its workers start running `reconcile`
 * only once every informer of `waitFor` has synced, and stop when the context's signal aborts.
 * A reconcile that throws is requeued with the queue's rate-limited backoff.
 */
export function startQueue(ctx: ControllerContext, reconcile: (key: string) => Promise<ReconcileResult | void>, opts: StartQueueOptions): WorkQueue<string> {
  const queue = new WorkQueue<string>({ name: opts.name });
  const log = (m: string) => ctx.log(`${opts.name}: ${m}`);
  void (async () => {
    if (!(await waitForCacheSync(ctx.signal, ...opts.waitFor))) {
      queue.shutDown();
      return;
    }
    log('caches synced');
    await runWorkers(queue, opts.workers, reconcile, { signal: ctx.signal, log });
  })().catch((err: unknown) => log(`workers stopped: ${err instanceof Error ? err.message : String(err)}`));
  return queue;
}

/**
 * An API value with what Go's typed decoding would not tell apart removed: null fields
 * (`creationTimestamp: null` in a pod template) and empty maps and lists (nil and empty are
 * semantically equal, as apimachinery's Semantic.DeepEqual treats them). Array order is kept.
 */
export function semanticNormalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(semanticNormalize);
  if (!v || typeof v !== 'object') return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v as JsonObject)) {
    const n = semanticNormalize(x);
    if (n === null || n === undefined) continue;
    if (Array.isArray(n) ? n.length === 0 : typeof n === 'object' && Object.keys(n as JsonObject).length === 0) continue;
    out[k] = n;
  }
  return out;
}

/** Semantic equality of two API values (see semanticNormalize). */
export function semanticEqual(a: unknown, b: unknown): boolean {
  return stableJson(semanticNormalize(a)) === stableJson(semanticNormalize(b));
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

export function nowRfc3339(ms = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export type { ReconcileResult };
