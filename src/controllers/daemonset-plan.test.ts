/**
 * The DaemonSet controller's decisions (daemonset-plan.ts): one node's needs, rolling updates
 * with maxUnavailable and with maxSurge, and the status counts, as upstream's
 * daemon_controller_test.go and update_test.go check them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod } from '../api/index.ts';
import { addDesiredNodes, daemonCounts, nodesToDaemonPods, podsShouldBeOnNode, rollingLimits, rollingUpdatePlan, unscheduledPodsWithoutNode, type NodePods } from './daemonset-plan.ts';
import { replaceNodeNameAffinity } from './daemonset-util.ts';

const now = Date.parse('2025-01-01T00:10:00Z');
const ago = (s: number) => new Date(now - s * 1000).toISOString().replace('.000Z', 'Z');

interface PodOpts {
  node?: string;
  hash?: string;
  phase?: string;
  ready?: boolean;
  readySince?: number;
  deleting?: boolean;
  bound?: boolean;
  age?: number;
}

function pod(name: string, o: PodOpts = {}): Pod {
  const node = o.node ?? 'n1';
  return {
    metadata: {
      name,
      namespace: 'ns',
      labels: { 'controller-revision-hash': o.hash ?? 'new' },
      creationTimestamp: ago(o.age ?? 60),
      ...(o.deleting ? { deletionTimestamp: ago(0) } : {}),
    },
    spec: { containers: [], affinity: replaceNodeNameAffinity(undefined, node), ...(o.bound === false ? {} : { nodeName: node }) },
    status: {
      phase: o.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: ago(o.readySince ?? 30) }],
    },
  };
}

const names = (pods: readonly Pod[]) => pods.map((p) => p.metadata.name).sort();
const run = { shouldRun: true, shouldContinueRunning: true };
const keepOnly = { shouldRun: false, shouldContinueRunning: true };
const neither = { shouldRun: false, shouldContinueRunning: false };

const nodeCases: { name: string; run: typeof run; pods?: Pod[]; surge?: boolean; want: { create?: boolean; remove?: string[]; failed?: string[]; succeeded?: string[] } }[] = [
  { name: 'a node that should run the daemon and has no pod gets one', run, want: { create: true } },
  { name: 'a node with its pod needs nothing', run, pods: [pod('a')], want: {} },
  { name: 'a pod being deleted blocks a new one until it is gone', run, pods: [pod('a', { deleting: true })], want: {} },
  { name: 'without surge, extra pods go, the oldest stays', run, pods: [pod('young', { age: 10 }), pod('old', { age: 100 }), pod('mid', { age: 50 })], want: { remove: ['mid', 'young'] } },
  { name: 'failed pods are reported for deletion', run, pods: [pod('f', { phase: 'Failed' })], want: { failed: ['f'] } },
  { name: 'succeeded pods are reported for deletion', run, pods: [pod('s', { phase: 'Succeeded' })], want: { succeeded: ['s'] } },
  { name: 'a node that no longer should run it loses its pods (not those being deleted)', run: neither, pods: [pod('a'), pod('b', { deleting: true })], want: { remove: ['a'] } },
  { name: 'an untolerated NoSchedule taint keeps the pod there', run: keepOnly, pods: [pod('a')], want: {} },
  { name: 'surge: a node whose only pod failed gets a new one at once', run, surge: true, pods: [pod('f', { phase: 'Failed' })], want: { create: true, failed: ['f'] } },
  { name: 'surge: old ready and new not yet available: both stay', run, surge: true, pods: [pod('old', { hash: 'old', age: 100 }), pod('new', { ready: false, age: 5 })], want: {} },
  { name: 'surge: the new pod is available: the old one goes', run, surge: true, pods: [pod('old', { hash: 'old', age: 100 }), pod('new', { age: 5 })], want: { remove: ['old'] } },
  { name: 'surge: the old pod is not ready: it goes', run, surge: true, pods: [pod('old', { hash: 'old', age: 100, ready: false }), pod('new', { ready: false, age: 5 })], want: { remove: ['old'] } },
  { name: 'surge: beyond one old and one new, the younger ones go', run, surge: true, pods: [pod('old1', { hash: 'old', age: 100 }), pod('old2', { hash: 'old', age: 90 }), pod('new1', { ready: false, age: 5 }), pod('new2', { ready: false, age: 3 })], want: { remove: ['new2', 'old2'] } },
];
for (const c of nodeCases) {
  test(`node: ${c.name}`, () => {
    const d = podsShouldBeOnNode({ run: c.run, pods: c.pods, surge: c.surge ?? false, hash: 'new', minReadySeconds: 0, now });
    assert.deepEqual(
      { create: d.create, remove: names(d.remove), failed: names(d.failed), succeeded: names(d.succeeded) },
      { create: c.want.create ?? false, remove: c.want.remove ?? [], failed: c.want.failed ?? [], succeeded: c.want.succeeded ?? [] },
    );
  });
}

test('pods are grouped by target node; finished pods being deleted are left out unless asked for', () => {
  const pods = [pod('a', { node: 'n1' }), pod('b', { node: 'n2', bound: false }), pod('done', { node: 'n1', phase: 'Succeeded', deleting: true }), { metadata: { name: 'nowhere' }, spec: { containers: [] } }];
  const byNode = nodesToDaemonPods(pods, false);
  assert.deepEqual([...byNode].map(([n, ps]) => `${n}:${names(ps)}`), ['n1:a', 'n2:b']);
  assert.deepEqual(names(nodesToDaemonPods(pods, true).get('n1')!), ['a', 'done']);
});

test('unbound pods for nodes that are gone are deleted; bound ones are left to pod GC', () => {
  const byNode = nodesToDaemonPods([pod('a', { node: 'gone', bound: false }), pod('b', { node: 'gone2' }), pod('c', { node: 'n1', bound: false })], false);
  assert.deepEqual(names(unscheduledPodsWithoutNode(new Set(['n1']), byNode)), ['a']);
});

test('maxSurge and maxUnavailable both 0 become maxUnavailable 1', () => {
  assert.deepEqual(rollingLimits(0, 0, 5), { maxSurge: 0, maxUnavailable: 1 });
  assert.deepEqual(rollingLimits(0, 0, 0), { maxSurge: 0, maxUnavailable: 0 });
  assert.deepEqual(rollingLimits(2, 0, 5), { maxSurge: 2, maxUnavailable: 0 });
});

/** Pods by node: `old`/`new` available pods, `old-` / `new-` not available, '' none. */
function cluster(spec: Record<string, string[]>): NodePods {
  const m: NodePods = new Map();
  for (const [node, kinds] of Object.entries(spec)) {
    m.set(node, kinds.map((k, i) => pod(`${node}-${k}${i}`, { node, hash: k.startsWith('new') ? 'new' : 'old', ready: !k.endsWith('-'), age: k.startsWith('new') ? 5 : 100 })));
  }
  return m;
}

function plan(byNode: NodePods, o: { maxSurge?: number; maxUnavailable?: number; shouldRun?: (n: string) => boolean } = {}) {
  const p = rollingUpdatePlan({
    byNode,
    hash: 'new',
    generation: undefined,
    maxSurge: o.maxSurge ?? 0,
    maxUnavailable: o.maxUnavailable ?? 1,
    desiredNumberScheduled: [...byNode.keys()].filter((n) => (o.shouldRun ?? (() => true))(n)).length,
    shouldRun: o.shouldRun ?? (() => true),
    minReadySeconds: 0,
    now,
  });
  return { remove: names(p.remove), create: [...p.create].sort() };
}

test('rolling update: maxUnavailable old pods are deleted at a time', () => {
  const byNode = cluster({ a: ['old'], b: ['old'], c: ['old'], d: ['old'] });
  assert.deepEqual(plan(byNode, { maxUnavailable: 2 }), { remove: ['a-old0', 'b-old0'], create: [] });
});

test('rolling update: unavailable new pods and empty nodes use up maxUnavailable', () => {
  const byNode = cluster({ a: ['new-'], b: ['old'], c: ['old'] });
  addDesiredNodes(byNode, ['a', 'b', 'c', 'd']);
  assert.deepEqual(plan(byNode, { maxUnavailable: 2 }), { remove: [], create: [] });
  assert.deepEqual(plan(cluster({ a: ['new'], b: ['old'], c: ['old'] }), { maxUnavailable: 2 }), { remove: ['b-old0', 'c-old0'], create: [] });
});

test('rolling update: old pods that are not available are replaced whatever the budget', () => {
  assert.deepEqual(plan(cluster({ a: ['old-'], b: ['old-'], c: ['old'] }), { maxUnavailable: 1 }), { remove: ['a-old-0', 'b-old-0'], create: [] });
});

test('rolling update: a node with two pods of one kind is left to the manage loop and counts as unavailable', () => {
  assert.deepEqual(plan(cluster({ a: ['old', 'old'], b: ['old'] }), { maxUnavailable: 1 }), { remove: [], create: [] });
});

test('surge: new pods start beside available old ones, at most maxSurge at once', () => {
  assert.deepEqual(plan(cluster({ a: ['old'], b: ['old'], c: ['old'] }), { maxSurge: 2, maxUnavailable: 0 }), { remove: [], create: ['a', 'b'] });
  // One surge pod not yet available uses one of the two.
  assert.deepEqual(plan(cluster({ a: ['old', 'new-'], b: ['old'], c: ['old'] }), { maxSurge: 2, maxUnavailable: 0 }), { remove: [], create: ['b'] });
});

test('surge: the old pod goes once the new one is available; unavailable old pods are replaced at once', () => {
  assert.deepEqual(plan(cluster({ a: ['old', 'new'], b: ['old-'], c: ['old'] }), { maxSurge: 1, maxUnavailable: 0 }), { remove: ['a-old0'], create: ['b', 'c'] });
});

test('surge: pods on nodes that should no longer run the daemon go only while enough others are available', () => {
  const shouldRun = (n: string) => n !== 'gone';
  // Two nodes desired, three available pods (one on the node that no longer qualifies): it may go.
  assert.deepEqual(plan(cluster({ a: ['new'], b: ['new'], gone: ['old'] }), { maxSurge: 1, maxUnavailable: 0, shouldRun }), { remove: ['gone-old0'], create: [] });
  // Only as many available as desired: it stays for now.
  assert.deepEqual(plan(cluster({ a: ['new'], b: ['new-'], gone: ['old'] }), { maxSurge: 1, maxUnavailable: 0, shouldRun }), { remove: [], create: [] });
});

function n(name: string): Node {
  return { metadata: { name } };
}

test('status: desired, current, ready, available, updated, misscheduled from the oldest pod per node', () => {
  const byNode = cluster({ a: ['old'], b: ['new-'], c: ['new', 'old'], x: ['old'] });
  const counts = daemonCounts({ nodes: [n('a'), n('b'), n('c'), n('d'), n('x')], byNode, shouldRun: (node) => node.metadata.name !== 'x', hash: 'new', generation: undefined, minReadySeconds: 0, now });
  assert.deepEqual(counts, {
    desiredNumberScheduled: 4,
    currentNumberScheduled: 3,
    numberMisscheduled: 1,
    numberReady: 2,
    // c's oldest pod is its old one.
    updatedNumberScheduled: 1,
    numberAvailable: 2,
    numberUnavailable: 2,
  });
});

test('status: minReadySeconds holds back availability, not readiness', () => {
  const byNode: NodePods = new Map([['a', [pod('p', { node: 'a', readySince: 5 })]]]);
  const counts = daemonCounts({ nodes: [n('a')], byNode, shouldRun: () => true, hash: 'new', generation: undefined, minReadySeconds: 10, now });
  assert.equal(counts.numberReady, 1);
  assert.equal(counts.numberAvailable, 0);
  assert.equal(counts.numberUnavailable, 1);
});
