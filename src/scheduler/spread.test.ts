/**
 * PodTopologySpread as tables: nodes in zones with the pods already on them, a pod with its
 * constraints, and the filter's verdict per node or the normalized scores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, PersistentVolumeClaim, Pod, PodSpec, Taint } from '../api/index.ts';
import { emptyHandle, nodeInfo, type NodeInfo, type Plugin, type PluginHandle } from './plugins.ts';
import { podTopologySpreadPlugin } from './spread.ts';

const zoneNode = (name: string, zone: string, extra: Node['spec'] = {}): Node => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name, zone, 'topology.kubernetes.io/zone': zone } },
  spec: extra,
  status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
});
const labelled = (name: string, labels: Record<string, string>, spec: Partial<PodSpec> = {}): Pod => ({ metadata: { name, namespace: 'default', uid: name, labels }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } });
const s = (name: string, extra: Record<string, string> = {}) => labelled(name, { app: 's', ...extra });
const spread = (maxSkew: number, extra: Record<string, unknown> = {}) => ({ topologySpreadConstraints: [{ maxSkew, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 's' } }, ...extra }] });

function verdicts(plugin: Plugin, p: Pod, nodes: NodeInfo[]): (string | null)[] {
  const state = plugin.preFilter?.(p, nodes);
  return nodes.map((n) => plugin.filter!(p, n, state)?.reason ?? null);
}

/** As the framework scores: preScore over the feasible nodes, score, then the plugin's normalize. */
function scores(plugin: Plugin, p: Pod, nodes: NodeInfo[]): number[] {
  plugin.preFilter?.(p, nodes);
  const state = plugin.preScore!(p, nodes, nodes);
  const raw = nodes.map((n) => plugin.score!(p, n, state));
  return (plugin.normalize as (s: number[], n: readonly NodeInfo[], st: unknown) => number[])(raw, nodes, state).map(Math.round);
}

const info = (n: Node, pods: Pod[] = []): NodeInfo => nodeInfo(n, pods);
const plugin = podTopologySpreadPlugin();
const skewed = "node(s) didn't match pod topology spread constraints";

const filterCases: { name: string; pod: Pod; nodes: NodeInfo[]; want: (string | null)[] }[] = [
  {
    name: 'the domain that would exceed maxSkew is refused',
    pod: labelled('new', { app: 's' }, spread(1)),
    nodes: [info(zoneNode('a', 'z1'), [s('s1'), s('s2')]), info(zoneNode('b', 'z2'), [s('s3')])],
    want: [skewed, null],
  },
  { name: 'a node without the topology key is refused as unresolvable', pod: labelled('new', { app: 's' }, spread(1)), nodes: [info({ metadata: { name: 'plain', labels: {} }, spec: {}, status: {} })], want: [`${skewed} (missing required label)`] },
  {
    name: 'minDomains above the domain count treats the minimum as zero',
    pod: labelled('new', { app: 's' }, spread(1, { minDomains: 3 })),
    nodes: [info(zoneNode('a', 'z1'), [s('s1')]), info(zoneNode('b', 'z2'), [s('s2')])],
    want: [skewed, skewed],
  },
  {
    name: 'nodeAffinityPolicy Honor: a zone the pod cannot use does not lower the minimum',
    pod: labelled('new', { app: 's' }, { nodeSelector: { zone: 'z1' }, ...spread(1) }),
    nodes: [info(zoneNode('a', 'z1'), [s('s1')]), info(zoneNode('b', 'z2'))],
    want: [null, null],
  },
  {
    name: 'nodeAffinityPolicy Ignore: it does',
    pod: labelled('new', { app: 's' }, { nodeSelector: { zone: 'z1' }, ...spread(1, { nodeAffinityPolicy: 'Ignore' }) }),
    nodes: [info(zoneNode('a', 'z1'), [s('s1')]), info(zoneNode('b', 'z2'))],
    want: [skewed, null],
  },
  {
    name: 'nodeTaintsPolicy Ignore (default): a tainted empty zone counts',
    pod: labelled('new', { app: 's' }, spread(1)),
    nodes: [info(zoneNode('a', 'z1'), [s('s1')]), info(zoneNode('b', 'z2', { taints: [{ key: 'k', effect: 'NoSchedule' }] }))],
    want: [skewed, null],
  },
  {
    name: 'nodeTaintsPolicy Honor: an untolerated taint keeps the zone out',
    pod: labelled('new', { app: 's' }, spread(1, { nodeTaintsPolicy: 'Honor' })),
    nodes: [info(zoneNode('a', 'z1'), [s('s1')]), info(zoneNode('b', 'z2', { taints: [{ key: 'k', effect: 'NoSchedule' }] }))],
    want: [null, null],
  },
  {
    name: 'matchLabelKeys count only pods with the same values (another revision does not count)',
    pod: labelled('new', { app: 's', rev: '2' }, spread(1, { matchLabelKeys: ['rev'] })),
    nodes: [info(zoneNode('a', 'z1'), [s('s1', { rev: '1' }), s('s2', { rev: '1' })]), info(zoneNode('b', 'z2'))],
    want: [null, null],
  },
  {
    name: 'terminating pods do not count',
    pod: labelled('new', { app: 's' }, spread(2)),
    nodes: [info(zoneNode('a', 'z1'), [{ ...s('s1'), metadata: { ...s('s1').metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } }, s('s2')]), info(zoneNode('b', 'z2'))],
    want: [null, null],
  },
  { name: 'ScheduleAnyway never refuses', pod: labelled('new', { app: 's' }, spread(0, { whenUnsatisfiable: 'ScheduleAnyway' })), nodes: [info(zoneNode('a', 'z1'), [s('s1'), s('s2')]), info(zoneNode('b', 'z2'))], want: [null, null] },
];

for (const c of filterCases) test(`filter: ${c.name}`, () => assert.deepEqual(verdicts(plugin, c.pod, c.nodes), c.want));

test('score: ScheduleAnyway ranks domains by matching pods, normalized as upstream', () => {
  const p = labelled('new', { app: 's' }, spread(1, { whenUnsatisfiable: 'ScheduleAnyway' }));
  const nodes = [info(zoneNode('a', 'z1'), [s('s1'), s('s2')]), info(zoneNode('b', 'z2'), [s('s3')]), info(zoneNode('c', 'z3'))];
  // weight log(3+2); raw = count*w: 3.2, 1.6, 0 → rounded 3, 2, 0; 100*(3+0-s)/3.
  assert.deepEqual(scores(plugin, p, nodes), [0, 33, 100]);
});

test('score: every node equal when no domain has a matching pod', () => {
  const p = labelled('new', { app: 's' }, spread(1, { whenUnsatisfiable: 'ScheduleAnyway' }));
  assert.deepEqual(scores(plugin, p, [info(zoneNode('a', 'z1')), info(zoneNode('b', 'z2'))]), [100, 100]);
});

test('default constraints spread the pods of a service over hostnames and zones', () => {
  const handle: PluginHandle = { ...emptyHandle, selectorsOf: (pod) => (pod.metadata.labels?.['app'] === 'web' ? { sets: [{ app: 'web' }], selectors: [] } : { sets: [], selectors: [] }) };
  const withDefaults = podTopologySpreadPlugin(handle);
  const web = (name: string) => labelled(name, { app: 'web' });
  const nodes = [info(zoneNode('a', 'z1'), [web('w1'), web('w2')]), info(zoneNode('b', 'z1')), info(zoneNode('c', 'z2'))];
  const got = scores(withDefaults, web('new'), nodes);
  assert.ok(got[2]! > got[1]! && got[1]! > got[0]!, `the empty zone first, then the empty node: ${got}`);
  assert.equal(withDefaults.preScore!(labelled('lone', { app: 'other' }), nodes, nodes), null, 'a pod nothing selects has no default constraints');
  assert.equal(podTopologySpreadPlugin(handle, { defaultingType: 'List', defaultConstraints: [] }).preScore!(web('new'), nodes, nodes), null, 'List with no constraints turns them off');
});

test('default constraints on nodes without zones: the zone constraint is left out of scoring, the hostname spread is unchanged', () => {
  const handle: PluginHandle = { ...emptyHandle, selectorsOf: (pod) => (pod.metadata.labels?.['app'] === 'web' ? { sets: [{ app: 'web' }], selectors: [] } : { sets: [], selectors: [] }) };
  const withDefaults = podTopologySpreadPlugin(handle);
  const hostOnly = podTopologySpreadPlugin(handle, { defaultingType: 'List', defaultConstraints: [{ topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 3 }] });
  const web = (name: string) => labelled(name, { app: 'web' });
  const plain = (name: string): Node => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: {}, status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } } });
  const nodes = [info(plain('a'), [web('w1'), web('w2'), web('w3')]), info(plain('b'), [web('w4')]), info(plain('c'))];
  const got = scores(withDefaults, web('new'), nodes);
  assert.deepEqual(got, scores(hostOnly, web('new'), nodes));
  assert.ok(got[2]! > got[1]! && got[1]! > got[0]!, `${got}`);
  const state = withDefaults.preScore!(web('new'), nodes, nodes) as { soft: { key: string }[] };
  assert.deepEqual(state.soft.map((c) => c.key), ['kubernetes.io/hostname']);
});
