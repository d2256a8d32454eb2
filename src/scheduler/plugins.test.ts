/**
 * Scheduler plugins as tables: each case a pod and a node (with the pods already on it), and the
 * filter's verdict or the score's order.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, PersistentVolumeClaim, Pod, PodSpec, Taint } from '../api/index.ts';
import {
  imageLocality,
  interPodAffinityPlugin,
  nodeAffinity,
  nodeInfo,
  nodeName,
  nodePorts,
  nodeResourcesBalancedAllocation,
  nodeResourcesFit,
  nodeResourcesFitPlugin,
  nodeUnschedulable,
  taintToleration,
  type NodeInfo,
  type Plugin,
} from './plugins.ts';
import { fitErrorMessage } from './scheduler.ts';

function node(name: string, extra: { labels?: Record<string, string>; taints?: Taint[]; unschedulable?: boolean; cpu?: string; memory?: string; pods?: string } = {}): Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(extra.labels ?? {}) } },
    spec: { ...(extra.taints ? { taints: extra.taints } : {}), ...(extra.unschedulable ? { unschedulable: true } : {}) },
    status: { allocatable: { cpu: extra.cpu ?? '4', memory: extra.memory ?? '8Gi', pods: extra.pods ?? '110' } },
  };
}

function pod(spec: Partial<PodSpec> = {}, requests?: Record<string, string>): Pod {
  return { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'i', ...(requests ? { resources: { requests } } : {}) }], ...spec } };
}

const info = (n: Node, pods: Pod[] = []): NodeInfo => nodeInfo(n, pods);

const filterCases: { name: string; plugin: Plugin; pod: Pod; node: NodeInfo; want: string | null }[] = [
  { name: 'NodeName: the named node fits', plugin: nodeName, pod: pod({ nodeName: 'a' }), node: info(node('a')), want: null },
  { name: 'NodeName: another node does not', plugin: nodeName, pod: pod({ nodeName: 'a' }), node: info(node('b')), want: "node(s) didn't match the requested node name" },
  { name: 'NodeUnschedulable: a cordoned node refuses', plugin: nodeUnschedulable, pod: pod(), node: info(node('a', { unschedulable: true })), want: 'node(s) were unschedulable' },
  { name: 'NodeUnschedulable: tolerating the unschedulable taint passes', plugin: nodeUnschedulable, pod: pod({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }), node: info(node('a', { unschedulable: true })), want: null },
  { name: 'NodeResourcesFit: a request that fits', plugin: nodeResourcesFit, pod: pod({}, { cpu: '1', memory: '1Gi' }), node: info(node('a')), want: null },
  { name: 'NodeResourcesFit: too much cpu', plugin: nodeResourcesFit, pod: pod({}, { cpu: '5' }), node: info(node('a')), want: 'Insufficient cpu' },
  { name: 'NodeResourcesFit: cpu and memory both short', plugin: nodeResourcesFit, pod: pod({}, { cpu: '5', memory: '9Gi' }), node: info(node('a')), want: 'Insufficient cpu, Insufficient memory' },
  { name: 'NodeResourcesFit: what other pods request counts', plugin: nodeResourcesFit, pod: pod({}, { cpu: '2' }), node: info(node('a'), [pod({}, { cpu: '3' })]), want: 'Insufficient cpu' },
  { name: 'NodeResourcesFit: the pod count is a resource', plugin: nodeResourcesFit, pod: pod(), node: info(node('a', { pods: '1' }), [pod()]), want: 'Too many pods' },
  { name: 'NodeResourcesFit: init containers count at their maximum', plugin: nodeResourcesFit, pod: pod({ initContainers: [{ name: 'i', image: 'i', resources: { requests: { cpu: '5' } } }] }, { cpu: '1' }), node: info(node('a')), want: 'Insufficient cpu' },
  {
    name: 'NodeResourcesFit: sidecars add up with the containers, init containers run beside earlier sidecars',
    plugin: nodeResourcesFit,
    pod: pod({ initContainers: [{ name: 's', image: 'i', restartPolicy: 'Always', resources: { requests: { cpu: '1' } } }, { name: 'i', image: 'i', resources: { requests: { cpu: '2' } } }] }, { cpu: '2500m' }),
    node: info(node('a')),
    want: null,
  },
  {
    name: 'NodeResourcesFit: a sidecar with the containers can exceed the node',
    plugin: nodeResourcesFit,
    pod: pod({ initContainers: [{ name: 's', image: 'i', restartPolicy: 'Always', resources: { requests: { cpu: '1' } } }] }, { cpu: '3500m' }),
    node: info(node('a')),
    want: 'Insufficient cpu',
  },
  {
    name: 'NodeResourcesFit: a plain init container runs with the sidecars before it',
    plugin: nodeResourcesFit,
    pod: pod({ initContainers: [{ name: 's', image: 'i', restartPolicy: 'Always', resources: { requests: { cpu: '2' } } }, { name: 'i', image: 'i', resources: { requests: { cpu: '2500m' } } }] }, { cpu: '100m' }),
    node: info(node('a')),
    want: 'Insufficient cpu',
  },
  { name: 'NodeResourcesFit: overhead is added', plugin: nodeResourcesFit, pod: pod({ overhead: { cpu: '1' } }, { cpu: '3500m' }), node: info(node('a')), want: 'Insufficient cpu' },
  { name: 'NodeAffinity: nodeSelector matches', plugin: nodeAffinity, pod: pod({ nodeSelector: { disk: 'ssd' } }), node: info(node('a', { labels: { disk: 'ssd' } })), want: null },
  { name: 'NodeAffinity: nodeSelector does not match', plugin: nodeAffinity, pod: pod({ nodeSelector: { disk: 'ssd' } }), node: info(node('a')), want: "node(s) didn't match Pod's node affinity/selector" },
  {
    name: 'NodeAffinity: any required term may match (NotIn)',
    plugin: nodeAffinity,
    pod: pod({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['x'] }] }, { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['y'] }] }] } } } }),
    node: info(node('a', { labels: { zone: 'z' } })),
    want: null,
  },
  {
    name: 'NodeAffinity: Gt compares numbers',
    plugin: nodeAffinity,
    pod: pod({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['8'] }] }] } } } }),
    node: info(node('a', { labels: { cores: '4' } })),
    want: "node(s) didn't match Pod's node affinity/selector",
  },
  {
    name: 'NodeAffinity: matchFields on metadata.name',
    plugin: nodeAffinity,
    pod: pod({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] }] } } } }),
    node: info(node('a')),
    want: null,
  },
  { name: 'TaintToleration: an untolerated NoSchedule taint refuses', plugin: taintToleration, pod: pod(), node: info(node('a', { taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] })), want: 'node(s) had untolerated taint {k: v}' },
  { name: 'TaintToleration: an Equal toleration passes', plugin: taintToleration, pod: pod({ tolerations: [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }] }), node: info(node('a', { taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] })), want: null },
  { name: 'TaintToleration: PreferNoSchedule never refuses', plugin: taintToleration, pod: pod(), node: info(node('a', { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] })), want: null },
  { name: 'TaintToleration: NoExecute refuses too', plugin: taintToleration, pod: pod(), node: info(node('a', { taints: [{ key: 'k', effect: 'NoExecute' }] })), want: 'node(s) had untolerated taint {k: }' },
  {
    name: 'NodePorts: a host port in use refuses',
    plugin: nodePorts,
    pod: pod({ containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080 }] }] }),
    node: info(node('a'), [pod({ containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080 }] }] })]),
    want: "node(s) didn't have free ports for the requested pod ports",
  },
  {
    name: 'NodePorts: another protocol is free',
    plugin: nodePorts,
    pod: pod({ containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080, protocol: 'UDP' }] }] }),
    node: info(node('a'), [pod({ containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80, hostPort: 8080 }] }] })]),
    want: null,
  },
];

describe('filters', () => {
  for (const c of filterCases) test(c.name, () => assert.equal(c.plugin.filter!(c.pod, c.node)?.reason ?? null, c.want));
});

describe('scores', () => {
  test('LeastAllocated prefers the emptier node', () => {
    const busy = info(node('a'), [pod({}, { cpu: '3', memory: '6Gi' })]);
    const empty = info(node('b'));
    assert.ok(nodeResourcesFit.score!(pod(), empty) > nodeResourcesFit.score!(pod(), busy));
  });

  test('MostAllocated prefers the fuller node, weighted by resource', () => {
    const most = nodeResourcesFitPlugin({ scoringStrategy: { type: 'MostAllocated', resources: [{ name: 'cpu', weight: 1 }] } });
    const busy = info(node('a'), [pod({}, { cpu: '3' })]);
    assert.ok(most.score!(pod({}, { cpu: '1' }), busy) > most.score!(pod({}, { cpu: '1' }), info(node('b'))));
    assert.equal(most.score!(pod({}, { cpu: '1' }), busy), 100, 'cpu only: 4 of 4 cores');
  });

  test('pods without requests still count (100m / 200Mi each)', () => {
    const some = info(node('a'), [pod(), pod()]);
    assert.ok(nodeResourcesFit.score!(pod(), info(node('b'))) > nodeResourcesFit.score!(pod(), some));
  });

  test('BalancedAllocation prefers the node where cpu and memory stay even', () => {
    const skewed = info(node('a'), [pod({}, { cpu: '3', memory: '100Mi' })]);
    const even = info(node('b'), [pod({}, { cpu: '2', memory: '4Gi' })]);
    assert.ok(nodeResourcesBalancedAllocation.score!(pod(), even) > nodeResourcesBalancedAllocation.score!(pod(), skewed));
  });

  test('preferred node affinity adds the weights of matching terms', () => {
    const p = pod({ affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } }, { weight: 5, preference: { matchExpressions: [{ key: 'zone', operator: 'Exists' }] } }] } } });
    assert.equal(nodeAffinity.score!(p, info(node('a', { labels: { disk: 'ssd', zone: 'z' } }))), 15);
    assert.equal(nodeAffinity.score!(p, info(node('b'))), 0);
  });

  test('TaintToleration counts intolerable PreferNoSchedule taints (fewer is better)', () => {
    assert.equal(taintToleration.score!(pod(), info(node('a', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }, { key: 'y', effect: 'PreferNoSchedule' }] }))), 2);
    assert.equal(taintToleration.score!(pod({ tolerations: [{ key: 'x', operator: 'Exists' }] }), info(node('a', { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] }))), 0);
  });
});

test('the FailedScheduling message counts reasons, sorted, with the preemption summary', () => {
  const reasons = new Map([
    ['Insufficient cpu', 2],
    ['node(s) had untolerated taint {k: v}', 1],
  ]);
  assert.equal(
    fitErrorMessage(3, reasons, new Map([['node(s) had untolerated taint {k: v}', true]])),
    '0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.',
  );
});

describe('inter-pod affinity and topology spread', () => {
  const labelled = (name: string, labels: Record<string, string>, spec: Partial<PodSpec> = {}): Pod => ({ metadata: { name, namespace: 'default', uid: name, labels }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } });
  const zoneNode = (name: string, zone: string) => node(name, { labels: { zone } });
  const anti = { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'x' } }, topologyKey: 'zone' }] } } };
  const aff = { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' }] } } };
  const verdicts = (plugin: Plugin, p: Pod, nodes: NodeInfo[]) => {
    const state = plugin.preFilter?.(p, nodes);
    return nodes.map((n) => plugin.filter!(p, n, state)?.reason ?? null);
  };
  const ipa = interPodAffinityPlugin();

  test('anti-affinity keeps the pod out of a zone with a matching pod', () => {
    const nodes = [info(zoneNode('a', 'z1'), [labelled('x1', { app: 'x' })]), info(zoneNode('b', 'z1')), info(zoneNode('c', 'z2'))];
    assert.deepEqual(verdicts(ipa, labelled('new', { app: 'x' }, anti), nodes), ["node(s) didn't match pod anti-affinity rules", "node(s) didn't match pod anti-affinity rules", null]);
  });

  test("an existing pod's anti-affinity keeps a matching newcomer out", () => {
    const nodes = [info(zoneNode('a', 'z1'), [labelled('x1', { app: 'guard' }, { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'x' } }, topologyKey: 'zone' }] } } })]), info(zoneNode('c', 'z2'))];
    assert.deepEqual(verdicts(ipa, labelled('new', { app: 'x' }), nodes), ["node(s) didn't satisfy existing pods anti-affinity rules", null]);
  });

  test('affinity requires a matching pod in the same zone', () => {
    const nodes = [info(zoneNode('a', 'z1'), [labelled('db', { app: 'db' })]), info(zoneNode('b', 'z2'))];
    assert.deepEqual(verdicts(ipa, labelled('web', { app: 'web' }, aff), nodes), [null, "node(s) didn't match pod affinity rules"]);
  });

  test('affinity to its own kind lets the first pod go anywhere', () => {
    const self = { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' }] } } };
    assert.deepEqual(verdicts(ipa, labelled('db1', { app: 'db' }, self), [info(zoneNode('a', 'z1')), info(zoneNode('b', 'z2'))]), [null, null]);
  });

  test('affinity in another namespace does not count unless named', () => {
    const other = { ...labelled('db', { app: 'db' }), metadata: { name: 'db', namespace: 'other', uid: 'db', labels: { app: 'db' } } };
    const nodes = [info(zoneNode('a', 'z1'), [other])];
    assert.deepEqual(verdicts(ipa, labelled('web', {}, aff), nodes), ["node(s) didn't match pod affinity rules"]);
    const named = { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, namespaces: ['other'], topologyKey: 'zone' }] } } };
    assert.deepEqual(verdicts(ipa, labelled('web', {}, named), nodes), [null]);
  });

  const preferred = (kind: string, weight: number) => ({ affinity: { [kind]: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight, podAffinityTerm: { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' } }] } } });
  const scoreCases: { name: string; pod: Pod; want: number[] }[] = [
    { name: 'preferred affinity scores the zone with a matching pod highest', pod: labelled('web', {}, preferred('podAffinity', 10)), want: [100, 100, 0] },
    { name: 'preferred anti-affinity scores it lowest', pod: labelled('web', {}, preferred('podAntiAffinity', 10)), want: [0, 0, 100] },
    { name: "an existing pod's required affinity for the newcomer counts (hardPodAffinityWeight)", pod: labelled('cache', { app: 'cache' }), want: [100, 100, 0] },
    { name: 'nothing to prefer: every node scores 0', pod: labelled('x', { app: 'x' }), want: [0, 0, 0] },
  ];
  for (const c of scoreCases) {
    test(`InterPodAffinity score: ${c.name}`, () => {
      const wantsCache = labelled('db', { app: 'db' }, { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: 'zone' }] } } });
      const nodes = [info(zoneNode('a', 'z1'), [wantsCache]), info(zoneNode('b', 'z1')), info(zoneNode('c', 'z2'))];
      const state = ipa.preScore!(c.pod, nodes, nodes);
      const raw = nodes.map((n) => ipa.score!(c.pod, n, state));
      assert.deepEqual((ipa.normalize as (s: number[], n: NodeInfo[], st: unknown) => number[])(raw, nodes, state), c.want);
    });
  }
});

const mib = 1024 * 1024;
const imageNode = (name: string, images: { names: string[]; sizeBytes: number }[]) => {
  const n = node(name);
  (n['status'] as Record<string, unknown>)['images'] = images;
  return info(n);
};
/** ImageLocality as the framework runs it: preScore over all nodes, then each node's score. */
const imageScores = (p: Pod, nodes: NodeInfo[]) => {
  const state = imageLocality.preScore!(p, nodes, nodes);
  return state === null ? null : nodes.map((n) => imageLocality.score!(p, n, state));
};
const nginx = (image = 'nginx:1.25') => pod({ containers: [{ name: 'c', image }] });
const imageCases: { name: string; pod: Pod; nodes: NodeInfo[]; want: number[] | null }[] = [
  {
    name: 'the node with the image wins, by size scaled by the share of nodes having it',
    pod: nginx(),
    // 500 MiB on 1 of 2 nodes counts as 250 MiB: (250 - 23) * 100 / (1000 - 23) = 23.
    nodes: [imageNode('a', [{ names: ['docker.io/library/nginx:1.25', 'nginx:1.25'], sizeBytes: 500 * mib }]), imageNode('b', [])],
    want: [23, 0],
  },
  {
    name: 'an image on every node counts in full',
    pod: nginx(),
    nodes: [imageNode('a', [{ names: ['nginx:1.25'], sizeBytes: 500 * mib }]), imageNode('b', [{ names: ['nginx:1.25'], sizeBytes: 500 * mib }])],
    want: [48, 48],
  },
  { name: 'below the 23 MiB threshold nothing counts', pod: nginx(), nodes: [imageNode('a', [{ names: ['nginx:1.25'], sizeBytes: 20 * mib }])], want: [0] },
  { name: 'nginx means nginx:latest', pod: nginx('nginx'), nodes: [imageNode('a', [{ names: ['nginx:1.25'], sizeBytes: 500 * mib }])], want: null },
  { name: 'no node has any of the images: scoring is skipped', pod: nginx(), nodes: [info(node('a'))], want: null },
];
for (const c of imageCases) test(`ImageLocality: ${c.name}`, () => assert.deepEqual(imageScores(c.pod, c.nodes), c.want));
