/**
 * Scheduler configuration: parsing and validation of KubeSchedulerConfiguration, and the plugin
 * lists the profiles end up with. VolumeBinding's checks as a table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, PersistentVolumeClaim, Pod, PodSpec, Taint } from '../api/index.ts';
import { emptyHandle, nodeInfo, type PluginHandle } from './plugins.ts';
import { buildProfiles, defaultConfig, parseSchedulerConfig } from './profiles.ts';
import { volumeBindingPlugin } from './volumes.ts';

const header = 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n';
const names = (text: string) => buildProfiles(parseSchedulerConfig(header + text)).map((p) => ({ name: p.schedulerName, filters: p.plugins.filter((x) => x.filter).map((x) => x.name), scores: p.plugins.filter((x) => x.score).map((x) => `${x.name}:${x.weight}`), preemption: p.preemption }));

test('the default profile has upstream plugins and weights', () => {
  const [p] = buildProfiles(defaultConfig);
  assert.equal(p!.schedulerName, 'default-scheduler');
  assert.deepEqual(p!.plugins.filter((x) => x.filter).map((x) => x.name), ['NodeUnschedulable', 'NodeName', 'TaintToleration', 'NodeAffinity', 'NodePorts', 'NodeResourcesFit', 'VolumeBinding', 'PodTopologySpread', 'InterPodAffinity']);
  assert.deepEqual(p!.plugins.filter((x) => x.score).map((x) => `${x.name}:${x.weight}`), ['TaintToleration:3', 'NodeAffinity:2', 'NodeResourcesFit:1', 'PodTopologySpread:2', 'InterPodAffinity:2', 'NodeResourcesBalancedAllocation:1', 'ImageLocality:1']);
  assert.equal(p!.preemption, true);
  const kept = p!.plugins.filter((x) => x.unchangedWithout).map((x) => x.name);
  assert.deepEqual(kept, ['VolumeBinding', 'PodTopologySpread', 'InterPodAffinity'], 'preemption can reuse their PreFilter state');
});

test('profiles change the defaults per extension point', () => {
  const got = names(`profiles:
- schedulerName: default-scheduler
- schedulerName: no-scoring
  plugins:
    score:
      disabled: [{name: '*'}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
    postFilter:
      disabled: [{name: DefaultPreemption}]
- schedulerName: bare
  plugins:
    multiPoint:
      disabled: [{name: '*'}]
      enabled: [{name: NodeName}, {name: ImageLocality, weight: 3}]
`);
  assert.equal(got.length, 3);
  assert.deepEqual(got[1], { name: 'no-scoring', filters: got[0]!.filters, scores: ['NodeResourcesFit:5'], preemption: false });
  assert.deepEqual(got[2], { name: 'bare', filters: ['NodeName'], scores: ['ImageLocality:3'], preemption: false });
});

test('pluginConfig args reach the plugin (MostAllocated packs)', () => {
  const [p] = buildProfiles(parseSchedulerConfig(`${header}profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
`));
  const fit = p!.plugins.find((x) => x.name === 'NodeResourcesFit')!;
  const node: Node = { metadata: { name: 'a' }, status: { allocatable: { cpu: '4', memory: '8Gi', pods: '10' } } };
  const busy: Pod = { metadata: { name: 'b', namespace: 'd' }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: '3', memory: '6Gi' } } }] } };
  const pod: Pod = { metadata: { name: 'p', namespace: 'd' }, spec: { containers: [{ name: 'c' }] } };
  assert.ok(fit.score!(pod, nodeInfo(node, [busy])) > fit.score!(pod, nodeInfo(node, [])));
});

const invalid: { name: string; text: string; want: RegExp }[] = [
  { name: 'wrong apiVersion', text: 'apiVersion: v1\nkind: KubeSchedulerConfiguration\n', want: /apiVersion: Unsupported value: "v1"/ },
  { name: 'duplicate schedulerName', text: `${header}profiles: [{schedulerName: a}, {schedulerName: a}]`, want: /profiles\[1\]\.schedulerName: Duplicate value: "a"/ },
  { name: 'unknown plugin', text: `${header}profiles: [{plugins: {filter: {enabled: [{name: Nope}]}}}]`, want: /profiles\[0\]\.plugins\.filter\.enabled\[0\]\.name: Invalid value: "Nope": plugin does not exist/ },
  { name: 'unknown extension point', text: `${header}profiles: [{plugins: {sideways: {}}}]`, want: /plugins\.sideways: Unsupported value/ },
  { name: 'percentage out of range', text: `${header}percentageOfNodesToScore: 150\n`, want: /percentageOfNodesToScore: Invalid value: 150/ },
  { name: 'unknown scoring strategy', text: `${header}profiles: [{pluginConfig: [{name: NodeResourcesFit, args: {scoringStrategy: {type: Spread}}}]}]`, want: /scoringStrategy\.type: Unsupported value: "Spread"/ },
];
for (const c of invalid) test(`invalid configuration: ${c.name}`, () => assert.throws(() => parseSchedulerConfig(c.text), c.want));

// ---- VolumeBinding -----------------------------------------------------------------------------

const claim = (name: string, spec: PersistentVolumeClaim['spec'], extra: PersistentVolumeClaim['metadata'] = {}): PersistentVolumeClaim => ({ metadata: { name, namespace: 'd', ...extra }, spec });
const storage: PluginHandle = {
  ...emptyHandle,
  persistentVolumeClaim: (_ns, name) =>
    ({
      bound: claim('bound', { volumeName: 'pv-zone-a' }, { annotations: { 'pv.kubernetes.io/bind-completed': 'yes' } }),
      lost: claim('lost', { volumeName: 'pv-gone' }, { annotations: { 'pv.kubernetes.io/bind-completed': 'yes' } }),
      pending: claim('pending', { storageClassName: 'fast' }),
      later: claim('later', { storageClassName: 'local' }),
      going: claim('going', { volumeName: 'pv-zone-a' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
      'p-scratch': claim('p-scratch', { storageClassName: 'local' }, { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'uid-p', controller: true }] }),
    })[name],
  persistentVolume: (name) =>
    name === 'pv-zone-a' ? { metadata: { name }, spec: { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } } } : undefined,
  storageClass: (name) => ({ fast: { metadata: { name }, provisioner: 'p', volumeBindingMode: 'Immediate' }, local: { metadata: { name }, provisioner: 'p', volumeBindingMode: 'WaitForFirstConsumer' } })[name],
};
const vb = volumeBindingPlugin(storage);
const withClaims = (...claims: string[]): Pod => ({ metadata: { name: 'p', namespace: 'd', uid: 'uid-p' }, spec: { containers: [{ name: 'c' }], volumes: claims.map((c) => (c === 'ephemeral' ? { name: 'scratch', ephemeral: {} } : { name: c, persistentVolumeClaim: { claimName: c } })) } });
const zoneNode = (zone: string) => nodeInfo({ metadata: { name: `n-${zone}`, labels: { zone } } }, []);

const volumeCases: { name: string; pod: Pod; check: string | null; nodes?: (string | null)[] }[] = [
  { name: 'no claims', pod: withClaims(), check: null, nodes: [null, null] },
  { name: 'a missing claim', pod: withClaims('nope'), check: 'persistentvolumeclaim "nope" not found' },
  { name: 'a terminating claim', pod: withClaims('going'), check: 'persistentvolumeclaim "going" is being deleted' },
  { name: 'an unbound Immediate claim', pod: withClaims('pending'), check: 'pod has unbound immediate PersistentVolumeClaims' },
  { name: 'an unbound WaitForFirstConsumer claim waits for the pod', pod: withClaims('later'), check: null, nodes: [null, null] },
  { name: "a generic ephemeral volume's claim (pod-volume)", pod: withClaims('ephemeral'), check: null, nodes: [null, null] },
  { name: "a bound claim keeps the pod in its volume's zone", pod: withClaims('bound'), check: null, nodes: [null, "node(s) didn't match PersistentVolume's node affinity"] },
  { name: 'a claim bound to a missing volume', pod: withClaims('lost'), check: null, nodes: ['node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)', 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)'] },
];
for (const c of volumeCases) {
  test(`VolumeBinding: ${c.name}`, () => {
    assert.equal(vb.check!(c.pod), c.check);
    if (!c.nodes) return;
    const nodes = [zoneNode('a'), zoneNode('b')];
    const state = vb.preFilter!(c.pod, nodes);
    assert.deepEqual(nodes.map((n) => vb.filter!(c.pod, n, state)?.reason ?? null), c.nodes);
  });
}

test('VolumeBinding PreBind records the chosen node on WaitForFirstConsumer claims only', async () => {
  const patched: string[] = [];
  const plugin = volumeBindingPlugin({ ...storage, patchClaim: async (ns, name, a) => void patched.push(`${ns}/${name} ${JSON.stringify(a)}`) });
  await plugin.preBind!(withClaims('bound', 'later'), 'n-a', new AbortController().signal);
  assert.deepEqual(patched, ['d/later {"volume.kubernetes.io/selected-node":"n-a"}']);
});
