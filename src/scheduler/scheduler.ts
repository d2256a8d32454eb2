/**
 * The scheduler: places pending pods whose schedulerName is ours on nodes, one pod per cycle,
 * as kube-scheduler does:
 *  - a scheduling queue: active (priority, then age; a heap, ./queue.ts), backoff (1 s doubling
 *    to 10 s after a failed binding), and unschedulable pods, moved back to active by the cluster
 *    events that can make them fit (a node added, or changed in its scheduling properties — not
 *    a status heartbeat; a pod deleted) or after 5 minutes;
 *  - each cycle takes a snapshot of nodes and the pods on them (including pods assumed on a node
 *    and still being bound), runs every plugin's Filter, then Score (normalized and weighted) on
 *    the feasible nodes, assumes the pod on the best one and binds it through pods/binding;
 *  - a pod that fits nowhere gets a FailedScheduling event and the PodScheduled=False condition
 *    (reason Unschedulable) with upstream's message ("0/3 nodes are available: ...");
 *  - binding runs the PreBind plugins first (VolumeBinding waits there until the pod's claims are
 *    bound); a PreBind failure is a FailedScheduling event and PodScheduled=False with reason
 *    SchedulerError ("running PreBind plugin "VolumeBinding": ..."), and the pod is retried
 *    after its backoff.
 * Pods that fit nowhere may preempt lower-priority pods (DefaultPreemption): victims breaking
 * PodDisruptionBudgets are avoided where possible, the victims are deleted and the pod is
 * nominated to their node (status.nominatedNodeName). Nominated pods of equal or higher priority
 * count on their node when others are filtered, and a pod tries its nominated node first.
 * Profiles (./profiles.ts) pick the plugins per schedulerName.
 * Scale: as upstream, a cycle stops filtering once enough feasible nodes are found
 * (percentageOfNodesToScore), plugins' sums over all nodes are kept between cycles
 * (./nodefold.ts), and filters that cannot refuse any node for the pod are skipped; cycles run
 * back to back but yield the event loop every `yieldEveryMs` to the rest of the process.
 */
import type { ApiObject, Binding, LabelSelector, Node, Pod, PodDisruptionBudget } from '../api/index.ts';
import { isConflict, isNotFound } from '../api/errors.ts';
import { IndexNamespace, IndexNodeName, resources, type HandlerRegistration, type InformerFactory, type Recorder, type ResourceEventHandler, type RestClient, type SharedInformer } from '../client/index.ts';
import { nodeInfo, selectorMatches, type FilterResult, type NodeInfo, type Plugin, type PluginHandle } from './plugins.ts';
import { buildProfiles, defaultConfig, type Profile, type SchedulerConfig } from './profiles.ts';
import { volumeClass } from '../controllers/pvbinder-match.ts';
import type { VolumeBinderHandle } from './volumes.ts';
import { ActiveQueue, type Queued } from './queue.ts';
import { ChangeLog, followChanges } from './nodefold.ts';

/** The scheduler's index of volumes by storage class (VolumeBinding lists a class's volumes). */
const volumeClassIndex = 'storageClass';

export interface SchedulerContext {
  client: RestClient;
  informers: InformerFactory;
  recorder: Recorder;
  /** Events of a profile's pods, reported as that schedulerName (else `recorder`). */
  recorderFor?: (schedulerName: string) => Recorder;
  signal: AbortSignal;
  log(msg: string): void;
}

export interface SchedulerOptions {
  /** Profiles by schedulerName (default: upstream's default profile as default-scheduler). */
  config?: SchedulerConfig;
  /** Longest a pod stays unschedulable before it is tried again regardless (upstream 5 min). */
  unschedulableTimeoutMs?: number;
}

/** Longest run of scheduling cycles before the loop yields to other work in the process. */
export const yieldEveryMs = 100;

const keyOf = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;
const nodeNameOf = (p: Pod) => p.spec?.nodeName ?? '';
const priorityOf = (p: Pod) => p.spec?.priority ?? 0;

/** The FailedScheduling message for reasons counted over `total` nodes, as upstream formats it. */
export function fitErrorMessage(total: number, reasons: Map<string, number>, unresolvable: Map<string, boolean>): string {
  const parts = [...reasons].map(([r, n]) => `${n} ${r}`).sort();
  let helpless = 0;
  let victimless = 0;
  for (const [r, n] of reasons) (unresolvable.get(r) ? (helpless += n) : (victimless += n));
  const pre = [helpless ? `${helpless} Preemption is not helpful for scheduling` : '', victimless ? `${victimless} No preemption victims found for incoming pod` : ''].filter(Boolean).sort();
  return `0/${total} nodes are available: ${parts.join(', ')}. preemption: 0/${total} nodes are available: ${pre.join(', ')}.`;
}

export function startScheduler(ctx: SchedulerContext, opts: SchedulerOptions = {}): void {
  const unschedulableTimeoutMs = opts.unschedulableTimeoutMs ?? 5 * 60_000;
  const on = handlerRegistrar(ctx.signal);
  const pods = ctx.informers.typedInformerFor(resources.pods);
  const nodes = ctx.informers.typedInformerFor(resources.nodes);
  const budgets = ctx.informers.typedInformerFor(resources.podDisruptionBudgets);
  const handle = pluginHandle(ctx);
  const profiles = new Map<string, Profile>(buildProfiles(opts.config ?? defaultConfig, handle).map((p) => [p.schedulerName, p]));
  const schedulerNameOf = (p: Pod) => p.spec?.schedulerName ?? 'default-scheduler';
  const recorderOf = (p: Pod) => ctx.recorderFor?.(schedulerNameOf(p)) ?? ctx.recorder;
  /** Pods nominated to a node by preemption and not yet bound: key → node. */
  const nominated = new Map<string, { node: string; pod: Pod }>();
  const nominationOf = (p: Pod) => p.status?.nominatedNodeName ?? '';
  const trackNomination = (p: Pod) => {
    const key = keyOf(p);
    const node = !nodeNameOf(p) && !p.metadata.deletionTimestamp ? nominationOf(p) : '';
    if (node) nominated.set(key, { node, pod: p });
    else nominated.delete(key);
  };
  on(pods, { onAdd: trackNomination, onUpdate: (_o, p) => trackNomination(p), onDelete: (p) => nominated.delete(keyOf(p)) });

  const active = new ActiveQueue();
  const unschedulable = new Map<string, number>();
  const backoff = new Map<string, { attempts: number; timer?: NodeJS.Timeout }>();
  /** Pods placed by this scheduler and not yet seen bound: key → node. */
  const assumed = new Map<string, { node: string; pod: Pod }>();
  /** Assumed pods by node, and the nodes whose cached view (see snapshot) is stale. */
  const assumedByNode = new Map<string, Map<string, Pod>>();
  const dirty = new Set<string>();
  /** Where the next cycle starts looking at nodes (upstream nextStartNodeIndex). */
  let nextStart = 0;
  let wake: (() => void) | null = null;

  /** Drops an assumed placement; its node's cached view must be rebuilt. */
  const forgetAssumed = (key: string) => {
    const a = assumed.get(key);
    if (!a) return;
    assumed.delete(key);
    assumedByNode.get(a.node)?.delete(key);
    dirty.add(a.node);
  };

  // Gated pods wait (the API server gives them PodScheduled=False, reason SchedulingGated).
  const wants = (p: Pod) => !nodeNameOf(p) && !p.metadata.deletionTimestamp && profiles.has(schedulerNameOf(p)) && !p.spec?.schedulingGates?.length;

  function enqueue(p: Pod): void {
    const key = keyOf(p);
    if (backoff.get(key)?.timer) return;
    unschedulable.delete(key);
    active.add({ key, priority: priorityOf(p), created: p.metadata.creationTimestamp ?? '' });
    wake?.();
  }

  /** Cluster changes that may make unschedulable pods fit: try them all again. */
  function moveAllToActive(): void {
    for (const key of unschedulable.keys()) {
      const p = pods.store.get(key);
      if (p && wants(p)) enqueue(p);
      else unschedulable.delete(key);
    }
  }

  on(pods, {
    onAdd: (p) => {
      if (wants(p)) enqueue(p);
    },
    onUpdate: (_o, p) => {
      const key = keyOf(p);
      if (nodeNameOf(p)) {
        forgetAssumed(key);
        active.delete(key);
        unschedulable.delete(key);
      } else if (wants(p) && !active.has(key) && !unschedulable.has(key) && !assumed.has(key)) enqueue(p);
    },
    onDelete: (p) => {
      const key = keyOf(p);
      active.delete(key);
      unschedulable.delete(key);
      forgetAssumed(key);
      if (nodeNameOf(p)) moveAllToActive();
    },
  });
  on(nodes, { onAdd: moveAllToActive, onUpdate: (o, n) => schedulingPropertiesChanged(o, n) && moveAllToActive() });
  // A pod placed on a node (affinity), and storage appearing or changing (volume binding).
  on(pods, { onAdd: (p) => nodeNameOf(p) && moveAllToActive() });
  for (const r of [resources.persistentVolumeClaims, resources.persistentVolumes, resources.storageClasses]) {
    on(ctx.informers.informerFor(r), { onAdd: moveAllToActive, onUpdate: moveAllToActive });
  }

  /**
   * Node views kept between cycles: a node's entry is rebuilt only when the node object changed
   * or a pod on it (bound, assumed, changed, gone) was marked dirty since the last cycle; the
   * whole list only when nodes come or go. A NodeInfo is never changed once built (plugins keep
   * sums over all nodes by NodeInfo identity, ./nodefold.ts), and each replacement is logged.
   */
  const touch = (node: string) => node && dirty.add(node);
  on(pods, { onAdd: (p) => touch(nodeNameOf(p)), onUpdate: (o, n) => (touch(nodeNameOf(o)), touch(nodeNameOf(n))), onDelete: (p) => touch(nodeNameOf(p)) });
  on(nodes, { onAdd: () => (infoList = null), onUpdate: (_o, n) => touch(n.metadata.name!), onDelete: () => (infoList = null) });
  let infoList: NodeInfo[] | null = null;
  /** Which positions of infoList were replaced (plugins' sums over all nodes follow it). */
  let infoLog = new ChangeLog();
  const infoIndex = new Map<string, number>();

  function buildInfo(node: Node): NodeInfo {
    const name = node.metadata.name!;
    const on = pods.store.byIndex(IndexNodeName, name).filter((p) => {
      const phase = p.status?.phase;
      return phase !== 'Succeeded' && phase !== 'Failed';
    });
    for (const [key, p] of assumedByNode.get(name) ?? []) {
      const live = pods.store.get(key);
      if (!live || !nodeNameOf(live)) on.push(p);
    }
    return nodeInfo(node, on);
  }

  function snapshot(): NodeInfo[] {
    if (!infoList) {
      infoList = nodes.store.list().map(buildInfo);
      followChanges(infoList, (infoLog = new ChangeLog()));
      infoIndex.clear();
      infoList.forEach((info, i) => infoIndex.set(info.name, i));
      dirty.clear();
      return infoList;
    }
    for (const name of dirty) {
      const i = infoIndex.get(name);
      if (i === undefined) continue;
      const node = nodes.store.get(name);
      if (!node) {
        infoList = null;
        return snapshot();
      }
      infoList[i] = buildInfo(node);
      infoLog.changed(i);
    }
    dirty.clear();
    return infoList;
  }

  async function scheduleOne(q: Queued): Promise<void> {
    const pod = pods.store.get(q.key);
    if (!pod || !wants(pod)) return;
    const profile = profiles.get(schedulerNameOf(pod))!;
    const plugins = profile.plugins;
    const infos = withNominated(pod, snapshot());
    // A PreFilter rejection: no node can help, and neither can preemption.
    for (const p of plugins) {
      const why = p.check?.(pod);
      if (why) return markUnschedulable(pod, `0/${infos.length} nodes are available: ${why}. preemption: 0/${infos.length} nodes are available: ${infos.length} Preemption is not helpful for scheduling.`);
    }
    const states = filterStates(pod, plugins, infos);
    const fits = filtersOf(pod, plugins, states);
    // A pod nominated by an earlier preemption goes to that node if it fits there now.
    const nominatedNode = nominationOf(pod);
    const there = nominatedNode ? infos.find((i) => i.name === nominatedNode) : undefined;
    if (there && !fits(pod, there)) return assume(pod, there, plugins);
    const reasons = new Map<string, number>();
    const unresolvable = new Map<string, boolean>();
    const feasible: NodeInfo[] = [];
    const resolvable: NodeInfo[] = [];
    // Like upstream, stop once enough feasible nodes are found (percentageOfNodesToScore; by
    // default adaptive: 50% less 1% per 125 nodes, at least 5%; never fewer than 100 nodes),
    // starting where the last cycle stopped.
    const pct = profile.percentageOfNodesToScore || Math.max(5, 50 - Math.floor(infos.length / 125));
    const enough = infos.length < 100 || pct >= 100 ? infos.length : Math.max(100, Math.floor((infos.length * pct) / 100));
    const start = infos.length ? nextStart % infos.length : 0;
    let visited = 0;
    for (let k = 0; k < infos.length && feasible.length < enough; k++) {
      const at = start + k;
      const info = infos[at < infos.length ? at : at - infos.length]!;
      visited++;
      const fail = fits(pod, info);
      if (fail) {
        reasons.set(fail.reason, (reasons.get(fail.reason) ?? 0) + 1);
        if (fail.unresolvable) unresolvable.set(fail.reason, true);
        else resolvable.push(info);
      } else feasible.push(info);
    }
    nextStart = start + visited;
    if (!feasible.length) {
      const message = infos.length ? fitErrorMessage(infos.length, reasons, unresolvable) : '0/0 nodes are available: no nodes available to schedule pods.';
      const preempted = profile.preemption ? await preempt(pod, plugins, infos, resolvable) : undefined;
      return markUnschedulable(pod, message, preempted);
    }
    const totals = new Float64Array(feasible.length);
    if (feasible.length > 1) {
      for (const p of plugins) {
        if (!p.score) continue;
        const state = p.preScore ? p.preScore(pod, feasible, infos) : states.get(p);
        if (p.preScore && state === null) continue; // nothing to score for this pod
        const raw = feasible.map((n) => p.score!(pod, n, state));
        const scores = typeof p.normalize === 'function' ? p.normalize(raw, feasible, state) : normalized(raw, p.normalize);
        const w = p.weight ?? 1;
        for (let i = 0; i < totals.length; i++) totals[i]! += scores[i]! * w;
      }
    }
    let top = -Infinity;
    for (const t of totals) if (t > top) top = t;
    const best = feasible.filter((_n, i) => totals[i] === top);
    assume(pod, best[Math.floor(Math.random() * best.length)]!, plugins);
  }

  /** Optimistic binding: the pod counts on the node at once; the binding is written meanwhile. */
  function assume(pod: Pod, chosen: NodeInfo, plugins: Plugin[]): void {
    const key = keyOf(pod);
    assumed.set(key, { node: chosen.name, pod });
    let onNode = assumedByNode.get(chosen.name);
    if (!onNode) assumedByNode.set(chosen.name, (onNode = new Map()));
    onNode.set(key, pod);
    touch(chosen.name);
    void bind(pod, chosen.name, plugins);
  }

  /**
   * The nodes as the pod must see them: pods nominated elsewhere (by preemption) with at least
   * its priority count on their nominated node, so that the room freed for them stays theirs.
   */
  function withNominated(pod: Pod, infos: NodeInfo[]): NodeInfo[] {
    if (!nominated.size) return infos;
    const priority = priorityOf(pod);
    const extra = new Map<string, Pod[]>();
    for (const [key, n] of nominated) {
      if (key === keyOf(pod) || priorityOf(n.pod) < priority || assumed.has(key)) continue;
      extra.set(n.node, [...(extra.get(n.node) ?? []), n.pod]);
    }
    if (!extra.size) return infos;
    return infos.map((i) => (extra.has(i.name) ? nodeInfo(i.node, [...i.pods, ...extra.get(i.name)!]) : i));
  }

  function filterStates(pod: Pod, plugins: Plugin[], infos: readonly NodeInfo[]): Map<Plugin, unknown> {
    const states = new Map<Plugin, unknown>();
    for (const p of plugins) if (p.preFilter) states.set(p, p.preFilter(pod, infos));
    return states;
  }

  function runFilters(pod: Pod, plugins: Plugin[], info: NodeInfo, states: Map<Plugin, unknown>) {
    return filtersOf(pod, plugins, states)(pod, info);
  }

  /**
   * The filters of a cycle as one function: the plugins having a Filter that may refuse a node
   * for this pod, each with its PreFilter state, looked up once per cycle instead of per node.
   */
  function filtersOf(pod: Pod, plugins: Plugin[], states: Map<Plugin, unknown>): (pod: Pod, info: NodeInfo) => FilterResult | null {
    const filters: Plugin[] = [];
    const filterStates: unknown[] = [];
    for (const p of plugins) {
      if (!p.filter || (p.filterNeeded && !p.filterNeeded(pod, states.get(p)))) continue;
      filters.push(p);
      filterStates.push(states.get(p));
    }
    return (pod, info) => {
      for (let i = 0; i < filters.length; i++) {
        const fail = filters[i]!.filter!(pod, info, filterStates[i]);
        if (fail) return fail;
      }
      return null;
    };
  }

  /** The node as it would be without `gone` (for preemption's what-if). */
  function without(info: NodeInfo, gone: ReadonlySet<Pod>): NodeInfo {
    return nodeInfo(info.node, info.pods.filter((p) => !gone.has(p)));
  }

  /**
   * DefaultPreemption: on nodes where only resolvable filters failed, the fewest, lowest-priority
   * pods whose removal lets the pod fit (all lower-priority pods removed, then the most important
   * ones given back while it still fits); the node whose victims matter least is chosen, the pod
   * is nominated to it and the victims are deleted. Returns the node, if any.
   */
  async function preempt(pod: Pod, plugins: Plugin[], infos: NodeInfo[], candidates: NodeInfo[]): Promise<string | undefined> {
    const priority = priorityOf(pod);
    if (pod.spec?.preemptionPolicy === 'Never' || !candidates.length) return undefined;
    const prio = priorityOf;
    // Already nominated and its victims are still terminating: wait for them, do not preempt more.
    const current = nominationOf(pod);
    const there = current ? infos.find((i) => i.name === current) : undefined;
    if (there?.pods.some((p) => p.metadata.deletionTimestamp && prio(p) < priority)) return current;
    let best: { node: NodeInfo; victims: Pod[]; key: number[] } | undefined;
    // As upstream, look at enough candidates (10% of the nodes, at least 100) from a random
    // start, and stop once one of them needs no budget broken.
    const wanted = Math.min(candidates.length, Math.max(100, Math.floor(infos.length / 10)));
    const offset = Math.floor(Math.random() * candidates.length);
    let found = 0;
    const base = filterStates(pod, plugins, infos);
    for (let k = 0; k < candidates.length && !(found >= wanted && best && best.key[0] === 0); k++) {
      const cand = candidates[(offset + k) % candidates.length]!;
      const lower = cand.pods.filter((p) => prio(p) < priority && !p.metadata.deletionTimestamp).sort((a, b) => prio(b) - prio(a));
      if (!lower.length) continue;
      const fits = (gone: Set<Pod>) => {
        const trial = without(cand, gone);
        // Plugins whose PreFilter state the removals change see the cluster as it would be.
        let all: NodeInfo[] | undefined;
        const states = new Map<Plugin, unknown>();
        for (const p of plugins) {
          if (!p.preFilter) continue;
          const kept = base.get(p);
          if (p.unchangedWithout && [...gone].every((v) => p.unchangedWithout!(pod, kept, v))) states.set(p, kept);
          else states.set(p, p.preFilter(pod, (all ??= infos.map((i) => (i === cand ? trial : i)))));
        }
        return runFilters(pod, plugins, trial, states) === null;
      };
      const gone = new Set(lower);
      if (!fits(gone)) continue;
      // Reprieve victims whose eviction would break a disruption budget first, then the others,
      // the most important first, as long as the pod still fits (upstream's order).
      const breaking = new Set(budgetViolations(lower));
      for (const v of [...lower.filter((x) => breaking.has(x)), ...lower.filter((x) => !breaking.has(x))]) {
        gone.delete(v);
        if (!fits(gone)) gone.add(v);
      }
      const victims = [...gone];
      const key = [budgetViolations(victims).length, Math.max(...victims.map(prio)), victims.reduce((n, v) => n + prio(v), 0), victims.length];
      const better = (a: number[], b: number[]) => {
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
        return false;
      };
      if (!best || better(key, best.key)) best = { node: cand, victims, key };
      found++;
    }
    if (!best) return undefined;
    const nodeName = best.node.name;
    try {
      await ctx.client.patchStatus(resources.pods, pod.metadata.name!, { status: { nominatedNodeName: nodeName } }, { type: 'merge', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    for (const v of best.victims) {
      try {
        await ctx.client.delete(resources.pods, v.metadata.name!, { namespace: v.metadata.namespace, preconditions: { uid: v.metadata.uid } });
        recorderOf(pod).event(v, 'Normal', 'Preempted', `Preempted by pod ${pod.metadata.uid} on node ${nodeName}`);
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    return nodeName;
  }

  /** The victims whose deletion would exceed a PodDisruptionBudget's allowed disruptions. */
  function budgetViolations(victims: readonly Pod[]): Pod[] {
    const left = new Map<PodDisruptionBudget, number>();
    const out: Pod[] = [];
    for (const v of victims) {
      for (const b of budgets.store.byIndex(IndexNamespace, v.metadata.namespace ?? '')) {
        if (!selectorMatches(b.spec?.selector, v.metadata.labels)) continue;
        const allowed = left.get(b) ?? b.status?.disruptionsAllowed ?? 0;
        if (allowed <= 0) out.push(v);
        left.set(b, allowed - 1);
      }
    }
    return out;
  }

  async function bind(pod: Pod, node: string, plugins: Plugin[]): Promise<void> {
    const key = keyOf(pod);
    try {
      // PreBind plugins in order; the first is called synchronously from assume (VolumeBinding
      // does its Reserve work before its first await). A failure names the plugin, as upstream.
      for (const p of plugins) {
        if (!p.preBind) continue;
        try {
          await p.preBind(pod, node, ctx.signal);
        } catch (err) {
          throw new PreBindError(p.name, err);
        }
      }
      const binding: Binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid }, target: { kind: 'Node', name: node } };
      await ctx.client.create<Binding>(resources.pods, binding, { namespace: pod.metadata.namespace, subresource: 'binding' });
      backoff.delete(key);
      recorderOf(pod).event(pod, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${node}`);
    } catch (err) {
      forgetAssumed(key);
      if (err instanceof PreBindError) {
        ctx.log(`scheduler: binding ${key} to ${node}: ${err.message}`);
        if (ctx.signal.aborted) return;
        // Backoff first: the condition's update must not bring the pod straight back.
        retryLater(pod);
        await markSchedulerError(pod, err.message);
        return;
      }
      if (isNotFound(err)) return;
      ctx.log(`scheduler: binding ${key} to ${node}: ${(err as Error).message}`);
      if (isConflict(err)) return; // already bound or being deleted: the informer will tell
      retryLater(pod);
    }
  }

  function retryLater(pod: Pod): void {
    const key = keyOf(pod);
    const b = backoff.get(key) ?? { attempts: 0 };
    b.attempts++;
    const ms = Math.min(10_000, 1000 * 2 ** (b.attempts - 1));
    b.timer = setTimeout(() => {
      b.timer = undefined;
      const p = pods.store.get(key);
      if (p && wants(p)) enqueue(p);
    }, ms);
    b.timer.unref();
    backoff.set(key, b);
  }

  /**
   * A binding cycle that failed in PreBind (upstream handleSchedulingFailure with a non-rejecting
   * status): a FailedScheduling event and PodScheduled=False with reason SchedulerError, unless
   * the pod is gone or already bound; the caller puts it in backoff.
   */
  async function markSchedulerError(pod: Pod, message: string): Promise<void> {
    const live = pods.store.get(keyOf(pod));
    if (!live || live.metadata.uid !== pod.metadata.uid || nodeNameOf(live)) return;
    recorderOf(live).event(live, 'Warning', 'FailedScheduling', message);
    const condition = { type: 'PodScheduled', status: 'False', reason: 'SchedulerError', message, lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    try {
      await ctx.client.patchStatus(resources.pods, live.metadata.name!, { metadata: { resourceVersion: live.metadata.resourceVersion }, status: { conditions: [condition] } }, { type: 'strategic', namespace: live.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) ctx.log(`scheduler: ${keyOf(pod)}: ${(err as Error).message}`);
    }
  }

  async function markUnschedulable(pod: Pod, message: string, nominated?: string): Promise<void> {
    const key = keyOf(pod);
    unschedulable.set(key, Date.now());
    recorderOf(pod).event(pod, 'Warning', 'FailedScheduling', message);
    if (nominated) return; // victims are going: their deletion brings the pod back
    const before = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (before?.status === 'False' && before.message === message) return;
    const condition = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    try {
      // A strategic merge patch touches only this condition (conditions merge by type). The
      // resourceVersion is a precondition: a pod bound (or changed) since this attempt read it
      // answers Conflict and is left alone — a bound pod is never marked unschedulable.
      await ctx.client.patchStatus(resources.pods, pod.metadata.name!, { metadata: { resourceVersion: pod.metadata.resourceVersion }, status: { conditions: [condition] } }, { type: 'strategic', namespace: pod.metadata.namespace });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  async function loop(): Promise<void> {
    await ctx.informers.waitForCacheSync(ctx.signal);
    let lastYield = performance.now();
    while (!ctx.signal.aborted) {
      const q = active.pop();
      if (!q) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          const t = setTimeout(resolve, 1000);
          t.unref();
        });
        wake = null;
        // Unschedulable pods are retried after a while even without a triggering event.
        const now = Date.now();
        for (const [key, since] of unschedulable) {
          if (now - since < unschedulableTimeoutMs) continue;
          const p = pods.store.get(key);
          if (p && wants(p)) enqueue(p);
        }
        continue;
      }
      // Cycles run back to back without waiting on I/O: let the rest of the process (bindings
      // being sent, an API server in the same process) have the event loop every so often.
      if (performance.now() - lastYield > yieldEveryMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      try {
        await scheduleOne(q);
      } catch (err) {
        ctx.log(`scheduler: ${q.key}: ${(err as Error).message}`);
        const p = pods.store.get(q.key);
        if (p) retryLater(p);
      }
    }
  }

  void loop();
}

/**
 * Adds event handlers that are removed when `signal` aborts, so that a scheduler may run on
 * informers it does not own (shared with other components of the process) and stop cleanly.
 */
function handlerRegistrar(signal: AbortSignal) {
  const registrations: HandlerRegistration[] = [];
  signal.addEventListener('abort', () => registrations.splice(0).forEach((r) => r.remove()), { once: true });
  return <T extends ApiObject>(informer: SharedInformer<T>, handler: ResourceEventHandler<T>): void => {
    if (!signal.aborted) registrations.push(informer.addEventHandler(handler));
  };
}

/**
 * Whether a node update may let unschedulable pods fit (upstream's node scheduling properties:
 * unschedulable, allocatable, labels, taints, condition statuses, annotations); status heartbeats
 * of thousands of nodes must not requeue every unschedulable pod each time.
 */
export function schedulingPropertiesChanged(before: Node, after: Node): boolean {
  const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const conditions = (n: Node) => Object.fromEntries((n.status?.conditions ?? []).map((c) => [c.type, c.status]));
  return (
    (before.spec?.unschedulable ?? false) !== (after.spec?.unschedulable ?? false) ||
    !same(before.status?.allocatable, after.status?.allocatable) ||
    !same(before.metadata.labels, after.metadata.labels) ||
    !same(before.spec?.taints, after.spec?.taints) ||
    !same(conditions(before), conditions(after)) ||
    !same(before.metadata.annotations, after.metadata.annotations)
  );
}

/** A PreBind plugin's failure, worded as upstream's RunPreBindPlugins wraps it. */
class PreBindError extends Error {
  constructor(plugin: string, cause: unknown) {
    super(`running PreBind plugin ${JSON.stringify(plugin)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'PreBindError';
  }
}

/** Scores rescaled to 0-100: proportionally to the highest ('max'), inverted ('reverse'), or as they are. */
function normalized(raw: number[], how: 'max' | 'reverse' | undefined): number[] {
  if (!how) return raw;
  let max = -Infinity;
  for (const s of raw) if (s > max) max = s;
  return raw.map((s) => (how === 'max' ? (max ? (s * 100) / max : 0) : max ? 100 - (s * 100) / max : 100));
}

/**
 * The plugins' view of other objects: services, controllers, namespaces and storage, from
 * informers; and, for VolumeBinding's PreBind, volumes by class, nodes, pods, writes of volumes
 * and claims, and a wake-up on storage events (./volumes.ts VolumeBinderHandle).
 */
function pluginHandle(ctx: SchedulerContext): PluginHandle & VolumeBinderHandle {
  const inf = ctx.informers;
  const on = handlerRegistrar(ctx.signal);
  const namespaces = inf.typedInformerFor(resources.namespaces);
  const services = inf.typedInformerFor(resources.services);
  const controllers = inf.typedInformerFor(resources.replicationControllers);
  const replicaSets = inf.typedInformerFor(resources.replicaSets);
  const statefulSets = inf.typedInformerFor(resources.statefulSets);
  const claims = inf.typedInformerFor(resources.persistentVolumeClaims);
  const volumes = inf.typedInformerFor(resources.persistentVolumes, { indexers: { [volumeClassIndex]: (pv) => [volumeClass(pv)] } });
  const classes = inf.typedInformerFor(resources.storageClasses);
  const nodes = inf.typedInformerFor(resources.nodes);
  const pods = inf.typedInformerFor(resources.pods);
  // Waiters of PreBind, woken by any change of a claim or volume, or a pod's deletion.
  const waiters = new Set<() => void>();
  const wakeAll = () => {
    for (const w of [...waiters]) w();
  };
  on(claims, { onAdd: wakeAll, onUpdate: wakeAll, onDelete: wakeAll });
  on(volumes, { onAdd: wakeAll, onUpdate: wakeAll, onDelete: wakeAll });
  on(pods, { onDelete: wakeAll });
  const mapSelects = (sel: Record<string, string> | undefined, labels: Record<string, string>) => {
    const entries = Object.entries(sel ?? {});
    return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
  };
  return {
    namespaceLabels: (ns) => namespaces.store.get(ns)?.metadata.labels,
    selectorsOf(pod) {
      const ns = pod.metadata.namespace ?? '';
      const labels = pod.metadata.labels ?? {};
      const sets: Record<string, string>[] = [];
      const selectors: LabelSelector[] = [];
      for (const s of [...services.store.byIndex(IndexNamespace, ns), ...controllers.store.byIndex(IndexNamespace, ns)]) {
        const sel = s.spec?.selector;
        if (sel && mapSelects(sel, labels)) sets.push(sel);
      }
      for (const s of [...replicaSets.store.byIndex(IndexNamespace, ns), ...statefulSets.store.byIndex(IndexNamespace, ns)]) {
        const sel = s.spec?.selector;
        if (sel && selectorMatches(sel, labels)) selectors.push(sel);
      }
      return { sets, selectors };
    },
    persistentVolumeClaim: (ns, name) => claims.store.get(`${ns}/${name}`),
    persistentVolume: (name) => volumes.store.get(name),
    storageClass: (name) => classes.store.get(name),
    async patchClaim(ns, name, annotations) {
      await ctx.client.patch(resources.persistentVolumeClaims, name, { metadata: { annotations } }, { type: 'merge', namespace: ns });
    },
    persistentVolumesOfClass: (className) => volumes.store.byIndex(volumeClassIndex, className),
    node: (name) => nodes.store.get(name),
    podExists: (pod) => pods.store.get(keyOf(pod))?.metadata.uid === pod.metadata.uid,
    updateVolume: (pv) => ctx.client.update(resources.persistentVolumes, pv),
    updateClaim: (pvc) => ctx.client.update(resources.persistentVolumeClaims, pvc, { namespace: pvc.metadata.namespace }),
    storageChanged(signal, ms) {
      return new Promise<void>((resolve) => {
        const done = () => {
          waiters.delete(done);
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        timer.unref();
        waiters.add(done);
        if (signal.aborted) done();
        else signal.addEventListener('abort', done, { once: true });
      });
    },
  };
}
