import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/types.ts';
import { and, annotationsChanged, generationChanged, labelsChanged, not, objectMatches, or, passesUpdate, resourceVersionChanged, type Predicate } from './predicate.ts';

const obj = (m: Partial<KubeObject['metadata']>): KubeObject => ({ metadata: { name: 'x', namespace: 'ns', ...m } });

const cases: { name: string; pred: Predicate<KubeObject>; old: KubeObject; cur: KubeObject; want: boolean }[] = [
  { name: 'generationChanged passes a new generation', pred: generationChanged(), old: obj({ generation: 1 }), cur: obj({ generation: 2 }), want: true },
  { name: 'generationChanged drops a status-only update', pred: generationChanged(), old: obj({ generation: 1, resourceVersion: '1' }), cur: obj({ generation: 1, resourceVersion: '2' }), want: false },
  { name: 'labelsChanged passes a changed label', pred: labelsChanged(), old: obj({ labels: { a: '1' } }), cur: obj({ labels: { a: '2' } }), want: true },
  { name: 'labelsChanged passes an added label', pred: labelsChanged(), old: obj({}), cur: obj({ labels: { a: '1' } }), want: true },
  { name: 'labelsChanged drops equal labels in another order', pred: labelsChanged(), old: obj({ labels: { a: '1', b: '2' } }), cur: obj({ labels: { b: '2', a: '1' } }), want: false },
  { name: 'annotationsChanged passes a removed annotation', pred: annotationsChanged(), old: obj({ annotations: { a: '1' } }), cur: obj({ annotations: {} }), want: true },
  { name: 'resourceVersionChanged drops a resync', pred: resourceVersionChanged(), old: obj({ resourceVersion: '5' }), cur: obj({ resourceVersion: '5' }), want: false },
  { name: 'objectMatches looks at the new object', pred: objectMatches((o) => o.metadata.labels?.['app'] === 'db'), old: obj({}), cur: obj({ labels: { app: 'db' } }), want: true },
  { name: 'and needs every predicate', pred: and(generationChanged(), labelsChanged()), old: obj({ generation: 1 }), cur: obj({ generation: 2 }), want: false },
  { name: 'or needs one predicate', pred: or(generationChanged(), labelsChanged()), old: obj({ generation: 1 }), cur: obj({ generation: 2 }), want: true },
  { name: 'not inverts', pred: not(generationChanged()), old: obj({ generation: 1 }), cur: obj({ generation: 1 }), want: true },
];

for (const c of cases) test(c.name, () => assert.equal(passesUpdate([c.pred], c.old, c.cur), c.want));

test('creates and deletes pass the update-only predicates', () => {
  for (const p of [generationChanged(), labelsChanged(), annotationsChanged(), resourceVersionChanged()]) {
    assert.equal(p.create?.(obj({})) ?? true, true);
    assert.equal(p.delete?.(obj({})) ?? true, true);
  }
});
