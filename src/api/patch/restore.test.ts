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
