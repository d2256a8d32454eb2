/** The TaintNodesByCondition admission plugin as a table: which requests get the not-ready taint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Taint } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { taintNodesByConditionPlugin } from './nodetaint.ts';
import type { AdmissionAttributes } from './types.ts';

const def = (plural: string): ResourceDef => builtinResources.find((r) => r.group === '' && r.plural === plural)!;
const user = { username: 'system:node:n1', groups: ['system:nodes'] };
const notReady: Taint = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };

function taintsAfter(node: Node, x: Partial<AdmissionAttributes> = {}): Taint[] | undefined {
  const a: AdmissionAttributes = { operation: 'CREATE' as Operation, def: def('nodes'), version: 'v1', namespace: '', name: 'n1', subresource: '', object: node as unknown as KubeObject, user, dryRun: false, ...x };
  taintNodesByConditionPlugin().admit!(a);
  return (a.object as unknown as Node).spec?.taints;
}

const cases: [string, Node, Partial<AdmissionAttributes>, Taint[] | undefined][] = [
  ['a new node without a spec gets the taint', { metadata: { name: 'n1' } }, {}, [notReady]],
  ['a new node keeps its own taints, the not-ready one after them', { metadata: { name: 'n1' }, spec: { taints: [{ key: 'team', value: 'a', effect: 'NoSchedule' }] } }, {}, [{ key: 'team', value: 'a', effect: 'NoSchedule' }, notReady]],
  ['a node created with that key and effect is left as it is, whatever the value', { metadata: { name: 'n1' }, spec: { taints: [{ key: notReady.key, value: 'x', effect: 'NoSchedule' }] } }, {}, [{ key: notReady.key, value: 'x', effect: 'NoSchedule' }]],
  ['the same key with another effect does not count', { metadata: { name: 'n1' }, spec: { taints: [{ key: notReady.key, effect: 'NoExecute' }] } }, {}, [{ key: notReady.key, effect: 'NoExecute' }, notReady]],
  ['updates are left alone', { metadata: { name: 'n1' }, spec: {} }, { operation: 'UPDATE' }, undefined],
  ['the status subresource is left alone', { metadata: { name: 'n1' }, spec: {} }, { subresource: 'status' }, undefined],
  ['other resources are left alone', { metadata: { name: 'n1' }, spec: {} }, { def: def('pods') }, undefined],
];
for (const [name, node, x, want] of cases) test(name, () => assert.deepEqual(taintsAfter(node, x), want));
