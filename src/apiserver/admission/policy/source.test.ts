import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../api/types.ts';
import type { PolicyEngine } from './engine.ts';
import { policySource } from './source.ts';
import { binding, policy } from './testing.ts';

function setup(policies: KubeObject[], bindings: KubeObject[]) {
  const compiled: string[] = [];
  const state = { policies, bindings };
  const source = policySource({
    policies: () => state.policies,
    bindings: () => state.bindings,
    compile: async (p) => {
      compiled.push(`${p.metadata.name}@${p.metadata.resourceVersion}`);
      return { compileErrors: [], evaluate: () => ({ decisions: [], auditAnnotations: [] }) } satisfies PolicyEngine;
    },
  });
  return { source, compiled, state };
}

test('policies and their bindings in name order; orphans on both sides are left out', () => {
  const { source } = setup([policy('b'), policy('a'), policy('lonely')], [binding('b2', 'b'), binding('b1', 'b'), binding('a1', 'a'), binding('x', 'missing')]);
  assert.deepEqual(source().map((h) => [h.name, h.bindings.map((b) => b.name)]), [['a', ['a1']], ['b', ['b1', 'b2']]]);
});

test('no bindings or no policies: nothing', () => {
  assert.deepEqual(setup([policy('a')], []).source(), []);
  assert.deepEqual(setup([], [binding('a1', 'a')]).source(), []);
});

test('v1 defaults: failurePolicy Fail; a binding without matchResources selects everything', () => {
  const p = policy('a');
  delete p.spec!.failurePolicy;
  const h = setup([p], [binding('a1', 'a')]).source()[0]!;
  assert.equal(h.failurePolicy, 'Fail');
  assert.equal(h.bindings[0]!.match, undefined);
  assert.deepEqual(h.bindings[0]!.validationActions, ['Deny']);
});

test('a policy is compiled once per resourceVersion, on first use', async () => {
  const { source, compiled, state } = setup([policy('a')], [binding('a1', 'a')]);
  assert.deepEqual(compiled, []);
  await source()[0]!.engine();
  state.policies = [policy('a')]; // a new object, same resourceVersion
  await source()[0]!.engine();
  assert.deepEqual(compiled, ['a@1']);
  state.policies = [policy('a', {}, '2')];
  await source()[0]!.engine();
  assert.deepEqual(compiled, ['a@1', 'a@2']);
});

test('the same cache objects give the same answer', () => {
  const { source } = setup([policy('a')], [binding('a1', 'a')]);
  assert.equal(source(), source());
});
