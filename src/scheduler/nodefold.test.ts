/**
 * Sums over all nodes kept between cycles: they always equal a fresh computation over the list
 * given, whether it changed in place with a change log, was replaced, or was a what-if copy; and
 * PodTopologySpread, InterPodAffinity and ImageLocality built on them decide as a fresh plugin does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../api/index.ts';
import { interPodAffinityPlugin, imageLocalityPlugin, nodeInfo, type NodeInfo, type Plugin, type PluginHandle, emptyHandle } from './plugins.ts';
import { podTopologySpreadPlugin } from './spread.ts';
import { ChangeLog, DomainCounts, FoldCache, NodeSubset, followChanges } from './nodefold.ts';

const node = (i: number, zone: string | undefined): Node => ({
  metadata: { name: `n${i}`, labels: { 'kubernetes.io/hostname': `n${i}`, ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}) } },
  status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' }, ...(i % 4 === 0 ? { images: [{ names: ['web:1'], sizeBytes: 300 * 1024 * 1024 }] } : {}) },
});
let uid = 0;
const pod = (app: string, anti = false): Pod => ({
  metadata: { name: `p${uid}`, namespace: 'default', uid: `u${uid++}`, labels: { app } },
  spec: {
    containers: [{ name: 'c', image: 'web:1' }],
    ...(anti ? { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey: 'kubernetes.io/hostname' }] } } } : {}),
  },
});

/** A deterministic random source. */
function rng(seed: number) {
  return (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
}

/** The domain counts computed from scratch. */
function fresh(all: readonly NodeInfo[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of all) {
    const z = n.node.metadata.labels?.['topology.kubernetes.io/zone'];
    if (z !== undefined) m.set(z, (m.get(z) ?? 0) + n.pods.length);
  }
  return m;
}

test('domain counts follow in-place changes (with a log), new lists, what-if copies and shrinking lists', () => {
  const next = rng(1);
  const counts = new DomainCounts(1, (info) => {
    const z = info.node.metadata.labels?.['topology.kubernetes.io/zone'];
    return z === undefined ? undefined : { values: [z], counts: [info.pods.length] };
  });
  let list = Array.from({ length: 40 }, (_, i) => nodeInfo(node(i, i % 7 === 0 ? undefined : `z${i % 3}`), []));
  let log = new ChangeLog();
  followChanges(list, log);
  for (let round = 0; round < 300; round++) {
    const op = next(10);
    if (op < 6) {
      const i = next(list.length);
      const n = list[i]!;
      list[i] = nodeInfo(n.node, next(2) ? [...n.pods, pod('a')] : n.pods.slice(1));
      log.changed(i);
    } else if (op === 6) {
      const i = next(list.length);
      const whatIf = list.map((n, j) => (j === i ? nodeInfo(n.node, []) : n));
      assert.deepEqual(counts.of(whatIf)[0], fresh(whatIf), `what-if in round ${round}`);
    } else if (op === 7) {
      list = list.slice(0, list.length - 1 - next(3)).concat([nodeInfo(node(100 + round, `z${next(5)}`), [pod('a')])]);
      followChanges(list, (log = new ChangeLog()));
    } else if (op === 8) {
      // Unrelated changes pile up unseen between two calls.
      for (let k = 0; k < 5; k++) {
        const i = next(list.length);
        list[i] = nodeInfo(list[i]!.node, [pod('a'), pod('a')]);
        log.changed(i);
      }
    }
    assert.deepEqual(counts.of(list)[0], fresh(list), `round ${round}`);
  }
});

test('a domain is forgotten with its last counting node, kept at 0 while a node has it', () => {
  const counts = new DomainCounts(1, (info) => ({ values: [info.node.metadata.labels!['topology.kubernetes.io/zone']!], counts: [info.pods.length] }));
  const a = nodeInfo(node(1, 'z1'), []);
  const b = nodeInfo(node(2, 'z2'), [pod('x')]);
  assert.deepEqual([...counts.of([a, b])[0]!], [['z1', 0], ['z2', 1]]);
  assert.deepEqual([...counts.of([b])[0]!], [['z2', 1]]);
  assert.deepEqual([...counts.of([])[0]!], []);
});

test('a change log too far behind makes a fold compare every node', () => {
  const list = [nodeInfo(node(1, 'z1'), [])];
  const log = new ChangeLog();
  followChanges(list, log);
  const subset = new NodeSubset((n) => n.pods.length > 0);
  assert.equal(subset.of(list).size, 0);
  for (let k = 0; k < 20_000; k++) log.changed(0); // more than the log keeps
  list[0] = nodeInfo(list[0]!.node, [pod('x')]);
  assert.deepEqual([...subset.of(list)], [list[0]]);
  assert.equal(log.since(0), undefined);
});

test('the fold cache keeps the most recently used', () => {
  const cache = new FoldCache<number>(2);
  let made = 0;
  const get = (k: string) => cache.get(k, () => ++made);
  assert.deepEqual([get('a'), get('b'), get('a'), get('c'), get('a'), get('b')], [1, 2, 1, 3, 1, 4]);
});

/** Every decision a plugin makes for `p` over `all` (filter verdicts and scores, feasible = all). */
function decisions(plugin: Plugin, p: Pod, all: readonly NodeInfo[]): unknown {
  const state = plugin.preFilter?.(p, all);
  const verdicts = plugin.filter ? all.map((n) => plugin.filter!(p, n, state)?.reason ?? null) : [];
  const scoreState = plugin.preScore ? plugin.preScore(p, all, all) : state;
  const scores = plugin.score && scoreState !== null ? all.map((n) => plugin.score!(p, n, scoreState)) : [];
  return { verdicts, scores };
}

const rs: PluginHandle = { ...emptyHandle, selectorsOf: (p) => ({ sets: [], selectors: p.metadata.labels?.['app'] === 'a' ? [{ matchLabels: { app: 'a' } }] : [] }) };
const hard = (p: Pod): Pod => ({ ...p, spec: { ...p.spec!, topologySpreadConstraints: [{ maxSkew: 2, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'a' } } }] } });

test('plugins keeping sums between cycles decide as fresh ones over a changing cluster', () => {
  const next = rng(5);
  const kept = { spread: podTopologySpreadPlugin(rs), affinity: interPodAffinityPlugin(), image: imageLocalityPlugin() };
  const list = Array.from({ length: 30 }, (_, i) => nodeInfo(node(i, i % 9 === 0 ? undefined : `z${i % 3}`), []));
  const log = new ChangeLog();
  followChanges(list, log);
  for (let round = 0; round < 150; round++) {
    const i = next(list.length);
    const n = list[i]!;
    list[i] = nodeInfo(n.node, next(3) ? [...n.pods, pod(next(2) ? 'a' : 'b', next(5) === 0)] : n.pods.slice(1));
    log.changed(i);
    const incoming = [pod('a'), hard(pod('a')), pod('b', true)][round % 3]!;
    const freshOnes = { spread: podTopologySpreadPlugin(rs), affinity: interPodAffinityPlugin(), image: imageLocalityPlugin() };
    for (const k of ['spread', 'affinity', 'image'] as const) {
      assert.deepEqual(decisions(kept[k], incoming, list), decisions(freshOnes[k], incoming, list), `${k} in round ${round}`);
    }
  }
});

test('PodTopologySpread counts kept between cycles equal its per-cycle walk (taints honoured on untainted nodes)', () => {
  const next = rng(9);
  const plugin = podTopologySpreadPlugin();
  const list = Array.from({ length: 24 }, (_, i) => nodeInfo(node(i, i % 5 === 0 ? undefined : `z${i % 4}`), []));
  const log = new ChangeLog();
  followChanges(list, log);
  const withConstraints = (p: Pod, policy: 'Honor' | 'Ignore'): Pod => ({
    ...p,
    spec: {
      ...p.spec!,
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'a' } }, nodeTaintsPolicy: policy },
        { maxSkew: 2, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'a' } }, nodeTaintsPolicy: policy },
        { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'a' } }, nodeTaintsPolicy: policy },
      ],
    },
  });
  for (let round = 0; round < 100; round++) {
    const i = next(list.length);
    list[i] = nodeInfo(list[i]!.node, next(3) ? [...list[i]!.pods, pod(next(3) ? 'a' : 'b')] : list[i]!.pods.slice(1));
    log.changed(i);
    const p = pod('a');
    assert.deepEqual(decisions(plugin, withConstraints(p, 'Ignore'), list), decisions(plugin, withConstraints(p, 'Honor'), list), `round ${round}`);
  }
});

test('InterPodAffinity counts kept between cycles equal its walk over every pod (all pods in one namespace)', () => {
  const next = rng(13);
  const plugin = interPodAffinityPlugin();
  const list = Array.from({ length: 24 }, (_, i) => nodeInfo(node(i, i % 5 === 0 ? undefined : `z${i % 4}`), []));
  const log = new ChangeLog();
  followChanges(list, log);
  // namespaceSelector {} selects every namespace: here, the same pods as the default (own namespace).
  const withTerms = (p: Pod, walk: boolean): Pod => {
    const term = (key: string) => ({ labelSelector: { matchLabels: { app: 'a' } }, topologyKey: key, ...(walk ? { namespaceSelector: {} } : {}) });
    return { ...p, spec: { ...p.spec!, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('topology.kubernetes.io/zone')] }, podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term('kubernetes.io/hostname')] } } } };
  };
  for (let round = 0; round < 100; round++) {
    const i = next(list.length);
    list[i] = nodeInfo(list[i]!.node, next(3) ? [...list[i]!.pods, pod(next(3) ? 'a' : 'b', next(6) === 0)] : list[i]!.pods.slice(1));
    log.changed(i);
    const p = pod('a');
    assert.deepEqual(decisions(plugin, withTerms(p, false), list), decisions(plugin, withTerms(p, true), list), `round ${round}`);
  }
});
