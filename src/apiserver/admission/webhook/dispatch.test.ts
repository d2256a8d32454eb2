import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../../../api/errors.ts';
import type { MutatingWebhook } from '../../../api/index.ts';
import { addAuditAnnotations, addWarnings, callHook, newDispatch, shouldCallHook, versionedFor, type WebhookDeps } from './dispatch.ts';
import { CallError } from './errors.ts';
import { hookSource, type Hook } from './source.ts';
import { configuration, defs, makeAttrs, webhook } from './testing.ts';

const deps: WebhookDeps = { configurations: () => [], namespaceLabels: (n) => (n === 'default' ? {} : undefined), resolveService: () => undefined };

function makeHook(over: Partial<MutatingWebhook> = {}): Hook {
  return hookSource(() => [configuration('ValidatingWebhookConfiguration', 'c', [webhook('w', 'https://127.0.0.1:1/x', '', over)])])()[0]!;
}

const podInDefault = () => makeAttrs({ namespace: 'default', name: 'web' });

test('a rule that does not match skips the webhook even when a selector cannot be parsed', async () => {
  const h = makeHook({ objectSelector: { matchExpressions: [{ key: 'a', operator: 'Near' }] }, rules: [{ operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] });
  assert.equal(await shouldCallHook(h, newDispatch(podInDefault(), { deps, mutating: false })), undefined);
});

test('a matching rule with a selector that cannot be parsed refuses the request', async () => {
  const h = makeHook({ objectSelector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } });
  await assert.rejects(shouldCallHook(h, newDispatch(podInDefault(), { deps, mutating: false })), (err: StatusError) => err.code === 500);
});

test('a namespaceSelector that does not match skips the webhook', async () => {
  const h = makeHook({ namespaceSelector: { matchLabels: { env: 'prod' } } });
  assert.equal(await shouldCallHook(h, newDispatch(podInDefault(), { deps, mutating: false })), undefined);
});

test('a rule that does not match skips without looking the namespace up', async () => {
  const asked: string[] = [];
  const h = makeHook({ namespaceSelector: { matchLabels: { env: 'prod' } }, rules: [{ operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] });
  const d = newDispatch(makeAttrs({ namespace: 'gone' }), { deps: { ...deps, namespaceLabels: (n) => (asked.push(n), undefined) }, mutating: false });
  assert.equal(await shouldCallHook(h, d), undefined);
  assert.deepEqual(asked, []);
});

test('an objectSelector that does not match skips even when the namespace is unknown', async () => {
  const h = makeHook({ namespaceSelector: { matchLabels: { env: 'prod' } }, objectSelector: { matchLabels: { app: 'db' } } });
  assert.equal(await shouldCallHook(h, newDispatch(makeAttrs({ namespace: 'gone' }), { deps, mutating: false })), undefined);
});

test('a matchCondition error under Fail is Forbidden on the request resource and name', async () => {
  const h = makeHook({ matchConditions: [{ name: 'c', expression: 'object.nope' }] });
  await assert.rejects(shouldCallHook(h, newDispatch(podInDefault(), { deps, mutating: false })), (err: StatusError) => {
    assert.equal(err.code, 403);
    assert.equal(err.status.message, `pods "web" is forbidden: expression 'object.nope' resulted in error: no such key: nope`);
    return true;
  });
});

test('objects are converted to the invocation version once per dispatch', () => {
  const object = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h' }, spec: { metrics: [{ resource: { target: { averageUtilization: 70 } } }] } };
  const d = newDispatch(makeAttrs({ def: defs.hpa, namespace: 'default', object }), { deps, mutating: true });
  const inv = { resource: { group: 'autoscaling', version: 'v1', resource: 'horizontalpodautoscalers' }, subresource: '', kind: { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' } };
  const v1 = versionedFor(d, inv);
  assert.equal(v1.object!.apiVersion, 'autoscaling/v1');
  assert.equal((v1.object!['spec'] as Record<string, unknown>)['targetCPUUtilizationPercentage'], 70);
  assert.equal(versionedFor(d, inv), v1);
  const v2 = versionedFor(d, { ...inv, kind: { ...inv.kind, version: 'v2' } });
  assert.equal(v2.object, object, 'the storage version is the object itself');
});

test('warnings: empty, control characters and repeats are dropped', () => {
  const attrs = makeAttrs();
  addWarnings(attrs, ['a', '', 'b\nc', 'a', 'bell\u0007', 'c1\u0085', 'ünïcode ok']);
  assert.deepEqual(attrs.warnings, ['a', 'ünïcode ok']);
});

test('audit annotations keep the first value for a key', () => {
  const attrs = makeAttrs();
  addAuditAnnotations(attrs, { k: 'v1' });
  addAuditAnnotations(attrs, { k: 'v2', other: 'x' });
  assert.deepEqual(attrs.auditAnnotations, { k: 'v1', other: 'x' });
});

test('calling a webhook that speaks no known review version is a call error', async () => {
  const h = makeHook({ admissionReviewVersions: ['v2'] });
  const d = newDispatch(podInDefault(), { deps, mutating: false });
  const inv = (await shouldCallHook(h, d))!;
  await assert.rejects(callHook(d, { hook: h, invocation: inv, versioned: versionedFor(d, inv) }), (err: CallError) => {
    assert.ok(err instanceof CallError);
    assert.equal(err.message, 'failed calling webhook "w": could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)');
    return true;
  });
});

test('a dry run to a webhook without sideEffects is a call error', async () => {
  const h = makeHook({ sideEffects: undefined });
  const d = newDispatch(makeAttrs({ namespace: 'default', dryRun: true }), { deps, mutating: false });
  const inv = (await shouldCallHook(h, d))!;
  await assert.rejects(callHook(d, { hook: h, invocation: inv, versioned: versionedFor(d, inv) }), { message: 'failed calling webhook "w": Webhook SideEffects is nil' });
});

test('a webhook without URL or service cannot be called, in upstream words', async () => {
  const h = makeHook({ clientConfig: {} });
  const d = newDispatch(podInDefault(), { deps, mutating: false });
  const inv = (await shouldCallHook(h, d))!;
  await assert.rejects(callHook(d, { hook: h, invocation: inv, versioned: versionedFor(d, inv) }), {
    message: 'failed calling webhook "w": could not get REST client: failed calling webhook "w": webhook configuration must have either service or URL',
  });
});
