/**
 * DaemonSet placement and daemon pod helpers (daemonset-util.ts), as upstream's
 * daemon_controller_test.go and util/daemonset_util_test.go exercise them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Affinity, DaemonSet, Node, Pod, PodSpec, Taint, Toleration } from '../api/index.ts';
import {
  addOrUpdateToleration,
  compareDaemonPods,
  daemonPlacement,
  daemonPodTemplate,
  daemonTolerations,
  isPodUpdated,
  nodeShouldRunDaemonPod,
  replaceNodeNameAffinity,
  surgeCount,
  targetNodeName,
  templateGenerationOf,
  unavailableCount,
} from './daemonset-util.ts';

function node(name: string, o: { labels?: Record<string, string>; taints?: Taint[] } = {}): Node {
  return { metadata: { name, labels: o.labels }, spec: o.taints ? { taints: o.taints } : {} };
}

function ds(spec: Partial<PodSpec> = {}, extra: Partial<NonNullable<DaemonSet['spec']>> = {}): DaemonSet {
  return {
    metadata: { name: 'd', namespace: 'ns', uid: 'u1', annotations: { 'deprecated.daemonset.template.generation': '3' } },
    spec: { selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } }, ...extra },
  };
}

const term = (key: string, operator: string, values?: string[]) => ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });
const required = (...terms: object[]): Affinity => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } });

const placementCases: { name: string; spec?: Partial<PodSpec>; node: Node; run: boolean; keep: boolean }[] = [
  { name: 'a plain node runs the daemon', node: node('a'), run: true, keep: true },
  { name: 'the template nodeName restricts to that node', spec: { nodeName: 'b' }, node: node('a'), run: false, keep: false },
  { name: 'the template nodeName naming the node runs there', spec: { nodeName: 'a' }, node: node('a'), run: true, keep: true },
  { name: 'a nodeSelector that matches', spec: { nodeSelector: { disk: 'ssd' } }, node: node('a', { labels: { disk: 'ssd' } }), run: true, keep: true },
  { name: 'a nodeSelector that does not match', spec: { nodeSelector: { disk: 'ssd' } }, node: node('a', { labels: { disk: 'hdd' } }), run: false, keep: false },
  { name: 'required affinity: In matches', spec: { affinity: required(term('zone', 'In', ['x', 'y'])) }, node: node('a', { labels: { zone: 'y' } }), run: true, keep: true },
  { name: 'required affinity: terms are ORed', spec: { affinity: required(term('zone', 'In', ['x']), term('disk', 'Exists')) }, node: node('a', { labels: { disk: '1' } }), run: true, keep: true },
  { name: 'required affinity: NotIn on a missing label matches', spec: { affinity: required(term('zone', 'NotIn', ['x'])) }, node: node('a'), run: true, keep: true },
  { name: 'required affinity: Gt compares integers', spec: { affinity: required(term('cores', 'Gt', ['4'])) }, node: node('a', { labels: { cores: '8' } }), run: true, keep: true },
  { name: 'required affinity: Lt against a non-integer label fails', spec: { affinity: required(term('cores', 'Lt', ['4'])) }, node: node('a', { labels: { cores: 'many' } }), run: false, keep: false },
  { name: 'required affinity: an empty term matches nothing', spec: { affinity: required({}) }, node: node('a'), run: false, keep: false },
  { name: 'required affinity: In without values does not parse and matches nothing', spec: { affinity: required(term('zone', 'In', [])) }, node: node('a', { labels: { zone: '' } }), run: false, keep: false },
  { name: 'required affinity: matchFields on metadata.name', spec: { affinity: required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] }) }, node: node('a'), run: true, keep: true },
  { name: 'required affinity: matchFields on another field matches nothing', spec: { affinity: required({ matchFields: [{ key: 'spec.podCIDR', operator: 'In', values: ['a'] }] }) }, node: node('a'), run: false, keep: false },
  { name: 'an untolerated NoSchedule taint: no new pod, an existing one stays', node: node('a', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] }), run: false, keep: true },
  { name: 'an untolerated NoExecute taint: neither', node: node('a', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoExecute' }] }), run: false, keep: false },
  { name: 'a PreferNoSchedule taint does not matter', node: node('a', { taints: [{ key: 'dedicated', effect: 'PreferNoSchedule' }] }), run: true, keep: true },
  { name: 'a tolerated taint', spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' }] }, node: node('a', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] }), run: true, keep: true },
  { name: 'a toleration of another value does not tolerate', spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'y', effect: 'NoSchedule' }] }, node: node('a', { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] }), run: false, keep: true },
  { name: 'daemon pods tolerate a cordoned node', node: node('a', { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }), run: true, keep: true },
  { name: 'a not-ready node keeps its daemon pod (NoExecute tolerated) but gets no new one', node: node('a', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }, { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] }), run: false, keep: true },
  { name: 'daemon pods tolerate memory, disk and pid pressure', node: node('a', { taints: ['memory', 'disk', 'pid'].map((k) => ({ key: `node.kubernetes.io/${k}-pressure`, effect: 'NoSchedule' })) }), run: true, keep: true },
  { name: 'network-unavailable is tolerated only with hostNetwork', node: node('a', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] }), run: false, keep: true },
  { name: 'network-unavailable with hostNetwork', spec: { hostNetwork: true }, node: node('a', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] }), run: true, keep: true },
];
for (const c of placementCases) {
  test(`placement: ${c.name}`, () => {
    const got = nodeShouldRunDaemonPod(daemonPlacement(ds(c.spec)), c.node);
    assert.deepEqual(got, { shouldRun: c.run, shouldContinueRunning: c.keep });
  });
}

test('daemon tolerations are added in upstream order, hostNetwork adds network-unavailable', () => {
  const keys = (t: Toleration[]) => t.map((x) => `${x.key}:${x.effect}`);
  assert.deepEqual(keys(daemonTolerations({ containers: [] })), [
    'node.kubernetes.io/not-ready:NoExecute',
    'node.kubernetes.io/unreachable:NoExecute',
    'node.kubernetes.io/disk-pressure:NoSchedule',
    'node.kubernetes.io/memory-pressure:NoSchedule',
    'node.kubernetes.io/pid-pressure:NoSchedule',
    'node.kubernetes.io/unschedulable:NoSchedule',
  ]);
  assert.equal(keys(daemonTolerations({ containers: [], hostNetwork: true })).at(-1), 'node.kubernetes.io/network-unavailable:NoSchedule');
});

test('a matching toleration is replaced (a bounded one becomes unbounded), others kept', () => {
  const mine: Toleration[] = [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'x', operator: 'Exists' },
  ];
  const got = addOrUpdateToleration(mine, { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' });
  assert.deepEqual(got, [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }, { key: 'x', operator: 'Exists' }]);
  assert.equal(mine[0]!.tolerationSeconds, 300, 'the input is not changed');
});

test('the pod template carries the hash and generation labels and the daemon tolerations', () => {
  const d = ds({ tolerations: [{ key: 'mine', operator: 'Exists' }] });
  const t = daemonPodTemplate(d.spec!.template, templateGenerationOf(d), 'h1');
  assert.deepEqual(t.metadata?.labels, { app: 'd', 'pod-template-generation': '3', 'controller-revision-hash': 'h1' });
  assert.equal(t.spec?.tolerations?.[0]?.key, 'mine');
  assert.equal(t.spec?.tolerations?.length, 7);
  assert.equal(d.spec!.template.spec!.tolerations!.length, 1, 'the DaemonSet is not changed');
});

test('the node affinity is replaced by a metadata.name matchFields term, preferred terms kept', () => {
  assert.deepEqual(replaceNodeNameAffinity(undefined, 'n1'), {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] } },
  });
  const preferred = [{ weight: 1, preference: term('a', 'Exists') }];
  const input = required(term('zone', 'In', ['x']), { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['old'] }] });
  input.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution = preferred;
  const got = replaceNodeNameAffinity({ ...input, podAntiAffinity: {} }, 'n2');
  assert.deepEqual(got.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution, preferred);
  assert.equal(input.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms.length, 2, 'the input is not changed');
  assert.deepEqual(got.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] }]);
  assert.deepEqual(got.podAntiAffinity, {});
});

test('the target node is spec.nodeName, else the matchFields value', () => {
  const pod = (spec: Partial<PodSpec>): Pod => ({ metadata: { name: 'p' }, spec: { containers: [], ...spec } });
  assert.equal(targetNodeName(pod({ nodeName: 'a' })), 'a');
  assert.equal(targetNodeName(pod({ affinity: replaceNodeNameAffinity(undefined, 'b') })), 'b');
  assert.equal(targetNodeName(pod({ affinity: required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a', 'b'] }] }) })), undefined);
  assert.equal(targetNodeName(pod({})), undefined);
});

test('a pod is up to date by hash or by template generation', () => {
  const pod = (labels: Record<string, string>): Pod => ({ metadata: { name: 'p', labels } });
  assert.equal(isPodUpdated(pod({ 'controller-revision-hash': 'h' }), 'h', 2), true);
  assert.equal(isPodUpdated(pod({ 'pod-template-generation': '2' }), 'h', 2), true);
  assert.equal(isPodUpdated(pod({ 'controller-revision-hash': 'old', 'pod-template-generation': '1' }), 'h', 2), false);
  assert.equal(isPodUpdated(pod({}), '', undefined), false);
});

test('maxSurge and maxUnavailable: percentages round up, OnDelete has none', () => {
  const rolling = (maxUnavailable: number | string, maxSurge: number | string) => ds({}, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable, maxSurge } } });
  assert.equal(unavailableCount(rolling('25%', 0), 10), 3);
  assert.equal(surgeCount(rolling(0, '10%'), 15), 2);
  assert.equal(unavailableCount(rolling(2, 0), 10), 2);
  assert.equal(surgeCount(ds({}, { updateStrategy: { type: 'OnDelete' } }), 10), 0);
  assert.equal(unavailableCount(ds({}, { updateStrategy: { type: 'OnDelete' } }), 10), 0);
});

test('pods on a node are ordered scheduled first, then oldest, then by name', () => {
  const p = (name: string, created: string, nodeName?: string): Pod => ({ metadata: { name, creationTimestamp: created }, spec: { containers: [], ...(nodeName ? { nodeName } : {}) } });
  const pods = [p('c', '2025-01-01T00:00:02Z', 'n'), p('u', '2025-01-01T00:00:00Z'), p('b', '2025-01-01T00:00:01Z', 'n'), p('a', '2025-01-01T00:00:01Z', 'n')];
  assert.deepEqual(pods.sort(compareDaemonPods).map((x) => x.metadata.name), ['a', 'b', 'c', 'u']);
});
