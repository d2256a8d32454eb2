/**
 * The typed decoder's errors for a patched object of the wrong structure, worded as upstream's two
 * patch paths word them (JSON decoder and unstructured converter), and none for a good object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restoreError, unmarshalError } from './restore.ts';

const pod = 'io.k8s.api.core.v1.Pod';

test('a well-typed object has no error', () => {
  const ok = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }], resources: { limits: { cpu: '1' } } }] }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  assert.equal(unmarshalError(ok, pod), undefined);
  assert.equal(restoreError(ok, pod), undefined);
});

test('the first mismatch in field order is named with its struct, path and Go type', () => {
  assert.equal(unmarshalError({ metadata: { labels: 'x' } }, pod), 'json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string');
  assert.equal(unmarshalError({ metadata: { labels: { a: 'b' } }, spec: { containers: { name: 'c' } } }, pod), 'json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container');
  assert.equal(unmarshalError({ spec: { containers: [{ name: 'c', ports: [3] }] } }, pod), 'json: cannot unmarshal number into Go struct field Container.spec.containers.ports of type v1.ContainerPort');
  assert.equal(unmarshalError({ spec: 'x' }, pod), 'json: cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec');
  assert.equal(unmarshalError({ metadata: { ownerReferences: [{ name: 'o' }], finalizers: 'f' } }, pod), 'json: cannot unmarshal string into Go struct field ObjectMeta.metadata.finalizers of type []string');
});

test('the unstructured converter words it by the kinds', () => {
  assert.equal(restoreError({ metadata: { labels: 'x' } }, pod), 'cannot restore map from string');
  assert.equal(restoreError({ spec: { containers: {} } }, pod), 'cannot restore slice from map');
  assert.equal(restoreError({ spec: 1 }, pod), 'cannot restore struct from: int64');
});

test('after a merge patch, only the fields it sets are walked, and their first mismatch is the same', () => {
  // The stored part is taken as decoding (it was written typed): a wrong value there is not looked at.
  const stored = { metadata: { labels: 'stale' }, spec: { containers: [{ name: 'c' }] } };
  const patch = { metadata: { annotations: { a: 'b' } }, spec: { nodeSelector: 'x' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  const merged = { metadata: { labels: 'stale', annotations: { a: 'b' } }, spec: { containers: [{ name: 'c' }], nodeSelector: 'x' }, status: patch.status };
  const want = 'json: cannot unmarshal string into Go struct field PodSpec.spec.nodeSelector of type map[string]string';
  assert.equal(unmarshalError(merged, pod, patch), want);
  assert.match(unmarshalError(merged, pod)!, /ObjectMeta\.metadata\.labels/);
  assert.equal(unmarshalError(stored, pod, { metadata: { annotations: { a: 'b' } } }), undefined);
  // A whole value set by the patch (a list, a scalar in place of a struct) is walked entirely.
  assert.equal(
    unmarshalError({ spec: { containers: [{ name: 'c', ports: ['80'] }] } }, pod, { spec: { containers: [{ name: 'c', ports: ['80'] }] } }),
    'json: cannot unmarshal string into Go struct field Container.spec.containers.ports of type v1.ContainerPort',
  );
  assert.equal(unmarshalError({ spec: 3 }, pod, { spec: 3 }), 'json: cannot unmarshal number into Go struct field Pod.spec of type v1.PodSpec');
  // Map values: only the keys the patch sets.
  assert.equal(unmarshalError({ metadata: { labels: { a: 'b', c: 'd' } } }, pod, { metadata: { labels: { c: 'd' } } }), undefined);
});
