import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch, applyMergePatch } from './patch.ts';

const doc = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'd', labels: { a: '1' } },
  spec: { template: { spec: { containers: [{ name: 'c', image: 'x' }] } } },
});

/** Paths of `out` whose object or array is also somewhere in `from`. */
function sharedWith(out: unknown, from: unknown): string[] {
  const inFrom = new Set<unknown>();
  const collect = (x: unknown) => {
    if (x === null || typeof x !== 'object') return;
    inFrom.add(x);
    for (const v of Object.values(x)) collect(v);
  };
  collect(from);
  const paths: string[] = [];
  const walk = (x: unknown, path: string) => {
    if (x === null || typeof x !== 'object') return;
    if (inFrom.has(x)) paths.push(path || '/');
    for (const [k, v] of Object.entries(x)) walk(v, `${path}/${k}`);
  };
  walk(out, '');
  return paths;
}

test('a merge patch\'s result shares nothing with the patch or the document, and changes neither', () => {
  const current = doc();
  const patch = { metadata: { finalizers: ['f'], labels: { b: '2' } }, spec: { template: { spec: { containers: [{ name: 'n', image: 'y' }], tolerations: [{ key: 'k' }] } } } };
  const before = JSON.stringify([current, patch]);
  const out = applyMergePatch(current, patch) as ReturnType<typeof doc> & { spec: { template: { spec: { tolerations: { key: string }[] } } } };
  assert.deepEqual(sharedWith(out, patch), []);
  assert.deepEqual(sharedWith(out, current), []);
  assert.equal(JSON.stringify([current, patch]), before);
  // What an update attempt does to the result does not reach the next attempt's patch.
  out.spec.template.spec.containers[0]!.image = 'defaulted';
  out.spec.template.spec.tolerations.push({ key: 'added' });
  const again = applyMergePatch(current, patch) as typeof out;
  assert.deepEqual(again.spec.template.spec.containers, [{ name: 'n', image: 'y' }]);
  assert.deepEqual(again.spec.template.spec.tolerations, [{ key: 'k' }]);
});

test('a JSON patch\'s result shares nothing with the patch or the document, and changes neither', () => {
  const current = doc();
  const patch = [
    { op: 'add', path: '/spec/template/spec/tolerations', value: [{ key: 'k' }] },
    { op: 'replace', path: '/metadata/labels', value: { b: '2' } },
    { op: 'copy', from: '/spec/template/spec/containers/0', path: '/spec/template/spec/containers/-' },
  ];
  const before = JSON.stringify([current, patch]);
  const out = applyJsonPatch(current, patch) as ReturnType<typeof doc> & { spec: { template: { spec: { tolerations: { key: string }[] } } } };
  assert.deepEqual(sharedWith(out, patch), []);
  assert.deepEqual(sharedWith(out, current), []);
  assert.equal(JSON.stringify([current, patch]), before);
  assert.deepEqual(out.metadata.labels, { b: '2' });
  assert.equal(out.spec.template.spec.containers.length, 2);
  out.spec.template.spec.tolerations[0]!.key = 'changed';
  assert.deepEqual((applyJsonPatch(current, patch) as typeof out).spec.template.spec.tolerations, [{ key: 'k' }]);
});

test('a failing JSON patch changes neither the document nor the patch', () => {
  const current = doc();
  const patch = [
    { op: 'add', path: '/metadata/labels/b', value: '2' },
    { op: 'test', path: '/metadata/name', value: 'other' },
  ];
  const before = JSON.stringify([current, patch]);
  assert.throws(() => applyJsonPatch(current, patch), /the server rejected our request/);
  assert.equal(JSON.stringify([current, patch]), before);
});
