/**
 * The RuntimeClass admission plugin as tables: lookup, overhead (set, matched by value, refused),
 * nodeSelector merging and conflicts, toleration merging, and what it leaves alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, RuntimeClass, Toleration } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { Operation, ResourceDef } from '../../api/resource.ts';
import { builtinResources } from '../../api/groups/index.ts';
import { isForbidden, StatusError } from '../../api/errors.ts';
import { mergeTolerations, runtimeClassPlugin } from './runtimeclass.ts';
import type { AdmissionAttributes } from './types.ts';

const def = (plural: string): ResourceDef => builtinResources.find((r) => r.group === '' && r.plural === plural)!;
const user = { username: 'alice', groups: ['system:authenticated'] };

function attrs(o: Pod, x: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: 'CREATE' as Operation, def: def('pods'), version: 'v1', namespace: 'ns', name: o.metadata.name ?? '', subresource: '', object: o as unknown as KubeObject, user, dryRun: false, ...x };
}

const classes: RuntimeClass[] = [
  { metadata: { name: 'plain' }, handler: 'runc' },
  { metadata: { name: 'kata' }, handler: 'kata', overhead: { podFixed: { memory: '128Mi', cpu: '250m' } } },
  {
    metadata: { name: 'gpu' },
    handler: 'nvidia',
    scheduling: {
      nodeSelector: { accelerator: 'gpu', zone: 'a' },
      tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
  },
];
const plugin = runtimeClassPlugin({ runtimeClass: (name) => classes.find((c) => c.metadata.name === name) });

const pod = (spec: Partial<NonNullable<Pod['spec']>> = {}, name = 'p'): Pod => ({ metadata: { name, namespace: 'ns' }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } });

/** Runs admit then validate as the chain does; the refusal message, or undefined. */
function admitted(p: Pod, x: Partial<AdmissionAttributes> = {}): string | undefined {
  try {
    const a = attrs(p, x);
    plugin.admit!(a);
    plugin.validate!(a);
  } catch (err) {
    assert.ok(err instanceof StatusError && isForbidden(err), String(err));
    assert.equal(err.code, 403);
    return err.message;
  }
  return undefined;
}

const refusals: [string, Pod, string][] = [
  ['an unknown class is refused', pod({ runtimeClassName: 'nope' }), 'pods "p" is forbidden: pod rejected: RuntimeClass "nope" not found'],
  ['a pod named by generateName is refused under that name', { metadata: { generateName: 'web-', namespace: 'ns' }, spec: { containers: [], runtimeClassName: 'nope' } }, 'pods "web-" is forbidden: pod rejected: RuntimeClass "nope" not found'],
  ['an overhead other than the class’s is refused', pod({ runtimeClassName: 'kata', overhead: { cpu: '1' } }), "pods \"p\" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"],
  ['an overhead with a class without one is refused', pod({ runtimeClassName: 'plain', overhead: { cpu: '1' } }), 'pods "p" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead'],
  ['an overhead without a class is refused', pod({ overhead: { cpu: '1' } }), 'pods "p" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead'],
  [
    'a nodeSelector value other than the class’s is refused',
    pod({ runtimeClassName: 'gpu', nodeSelector: { zone: 'b', accelerator: 'tpu' } }),
    'pods "p" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[accelerator] = gpu; pod.spec.nodeSelector[accelerator] = tpu',
  ],
];
for (const [name, p, want] of refusals) test(name, () => assert.equal(admitted(p), want));

test('the class’s overhead is set on the pod, canonically', () => {
  const p = pod({ runtimeClassName: 'kata' });
  assert.equal(admitted(p), undefined);
  assert.deepEqual(p.spec!.overhead, { cpu: '250m', memory: '128Mi' });
});

test('an overhead equal in value to the class’s is accepted', () => {
  const p = pod({ runtimeClassName: 'kata', overhead: { cpu: '0.25', memory: '131072Ki' } });
  assert.equal(admitted(p), undefined);
  assert.deepEqual(p.spec!.overhead, { cpu: '250m', memory: '128Mi' });
});

test('an overhead set by hand that matches passes validation alone (as after a mutating webhook)', () => {
  const p = pod({ runtimeClassName: 'kata', overhead: { cpu: '250m', memory: '128Mi' } });
  assert.doesNotThrow(() => plugin.validate!(attrs(p)));
});

test('validation checks the overhead the pod ends with', () => {
  const p = pod({ runtimeClassName: 'kata' });
  plugin.admit!(attrs(p));
  p.spec!.overhead = { cpu: '300m', memory: '128Mi' };
  assert.throws(() => plugin.validate!(attrs(p)), /Pod's Overhead doesn't match/);
});

test('the class’s nodeSelector is merged into the pod’s, and its tolerations come first', () => {
  const own: Toleration[] = [
    { key: 'team', operator: 'Equal', value: 'a', effect: 'NoSchedule' },
    { key: 'gpu', operator: 'Equal', value: 'mine', effect: 'NoSchedule' },
  ];
  const p = pod({ runtimeClassName: 'gpu', nodeSelector: { disk: 'ssd', zone: 'a' }, tolerations: own });
  assert.equal(admitted(p), undefined);
  assert.deepEqual(p.spec!.nodeSelector, { disk: 'ssd', zone: 'a', accelerator: 'gpu' });
  assert.deepEqual(p.spec!.tolerations, [
    { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' },
    { key: 'team', operator: 'Equal', value: 'a', effect: 'NoSchedule' },
  ]);
});

test('a pod without a nodeSelector or tolerations takes the class’s', () => {
  const p = pod({ runtimeClassName: 'gpu' });
  assert.equal(admitted(p), undefined);
  assert.deepEqual(p.spec!.nodeSelector, { accelerator: 'gpu', zone: 'a' });
  assert.deepEqual(p.spec!.tolerations, [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  assert.notEqual(p.spec!.nodeSelector, classes[2]!.scheduling!.nodeSelector, 'the cached class is not shared');
});

test('a class without overhead or scheduling changes nothing', () => {
  const p = pod({ runtimeClassName: 'plain', nodeSelector: { a: 'b' } });
  const before = structuredClone(p);
  assert.equal(admitted(p), undefined);
  assert.deepEqual(p, before);
});

const ignored: [string, Partial<AdmissionAttributes>][] = [
  ['updates', { operation: 'UPDATE' }],
  ['subresources', { subresource: 'status' }],
  ['other resources', { def: def('configmaps') }],
];
for (const [name, x] of ignored) test(`${name} are not looked at`, () => assert.equal(admitted(pod({ runtimeClassName: 'nope', overhead: { cpu: '1' } }), x), undefined));

const merges: [string, Toleration[], Toleration[], Toleration[]][] = [
  ['nothing on either side stays nothing', [], [], []],
  ['the class’s come first', [{ key: 'a', operator: 'Exists' }], [{ key: 'b', operator: 'Exists' }], [{ key: 'b', operator: 'Exists' }, { key: 'a', operator: 'Exists' }]],
  ['a pod toleration with the key and effect of a class one gives way', [{ key: 'a', operator: 'Equal', value: 'x', effect: 'NoExecute' }], [{ key: 'a', operator: 'Exists', effect: 'NoExecute' }], [{ key: 'a', operator: 'Exists', effect: 'NoExecute' }]],
  ['the same key with another effect stays', [{ key: 'a', operator: 'Exists', effect: 'NoSchedule' }], [{ key: 'a', operator: 'Exists', effect: 'NoExecute' }], [{ key: 'a', operator: 'Exists', effect: 'NoExecute' }, { key: 'a', operator: 'Exists', effect: 'NoSchedule' }]],
  ['duplicates of the pod’s collapse to the last', [{ key: 'a', operator: 'Equal', value: '1' }, { key: 'a', operator: 'Equal', value: '2' }], [], [{ key: 'a', operator: 'Equal', value: '2' }]],
];
for (const [name, own, cls, want] of merges) test(`merging tolerations: ${name}`, () => assert.deepEqual(mergeTolerations(own, cls), want));
