import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as entry from './index.ts';

test('the public entry exports the plugin and the param lookup', () => {
  assert.equal(typeof entry.validatingAdmissionPolicyPlugin, 'function');
  assert.equal(typeof entry.paramsFromRegistry, 'function');
  assert.equal(typeof entry.paramsLookup, 'function');
  assert.equal(entry.pluginName, 'ValidatingAdmissionPolicy');
  assert.equal(entry.validationFailureAnnotation, 'validation.policy.admission.k8s.io/validation_failure');
});

test('a plugin with no policies admits', async () => {
  const p = entry.validatingAdmissionPolicyPlugin({ policies: () => [], bindings: () => [], namespace: () => undefined, params: () => undefined });
  assert.equal(p.name, 'ValidatingAdmissionPolicy');
  await p.validate!({ operation: 'CREATE', def: { group: '', version: 'v1', kind: 'Pod', plural: 'pods', singular: '', namespaced: true }, version: 'v1', namespace: 'default', name: 'x', subresource: '', user: { username: 'u', groups: [] }, dryRun: false });
});
