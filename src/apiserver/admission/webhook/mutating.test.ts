// The mutating plugin against real HTTPS webhook servers (a CA made for the test).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import jsonpatch from 'fast-json-patch';
import type { MutatingWebhook } from '../../../api/index.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes } from '../types.ts';
import { closeWebhookConnections, mutatingWebhookPlugin } from './index.ts';
import { patchFailure } from './mutating.ts';
import { answer, configuration, defs, makeAttrs, makeTls, startServer, webhook, type Reply, type Review } from './testing.ts';

const tls = await makeTls();
const routes = new Map<string, (r: Review) => Reply>();
const server = await startServer(tls, (review, path) => (routes.get(path.split('?')[0]!) ?? ((r) => answer(r, { allowed: true })))(review));
after(async () => {
  closeWebhookConnections();
  await server.close();
});

function plugin(...configs: KubeObject[]) {
  return mutatingWebhookPlugin({ configurations: () => configs, namespaceLabels: () => ({}), resolveService: () => undefined });
}
const config = (name: string, hooks: MutatingWebhook[]) => configuration('MutatingWebhookConfiguration', name, hooks);

function hook(name: string, path: string, reply: (r: Review) => Reply, over: Partial<MutatingWebhook> = {}): MutatingWebhook {
  routes.set(path, reply);
  return webhook(name, server.url(path), tls.caBundle, over);
}

const b64 = (ops: unknown) => Buffer.from(JSON.stringify(ops)).toString('base64');
const patching = (ops: unknown) => (r: Review) => answer(r, { allowed: true, patchType: 'JSONPatch', patch: b64(ops) });
const reviewsTo = (path: string) => server.seen.filter((s) => s.path.startsWith(`${path}?`)).map((s) => s.review);
const podAttrs = (labels?: Record<string, string>, a: Partial<AdmissionAttributes> = {}) =>
  makeAttrs({ namespace: 'default', name: 'web', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', ...(labels ? { labels } : {}) }, spec: { containers: [{ name: 'c', image: 'nginx' }] } }, ...a });

test('a JSONPatch adding a label changes the object in place', async () => {
  const p = plugin(config('labels', [hook('label.example.com', '/label', patching([{ op: 'add', path: '/metadata/labels/team', value: 'blue' }]))]));
  const attrs = podAttrs({ app: 'web' });
  const object = attrs.object!;
  const metadata = object.metadata;
  await p.admit!(attrs);
  assert.equal(attrs.object, object);
  assert.equal(attrs.object.metadata, metadata, 'metadata keeps its identity');
  assert.deepEqual(metadata.labels, { app: 'web', team: 'blue' });
  assert.deepEqual(attrs.auditAnnotations, {
    'mutation.webhook.admission.k8s.io/round_0_index_0': '{"configuration":"labels","webhook":"label.example.com","mutated":true}',
  });
});

test('a denial refuses the request', async () => {
  const p = plugin(config('deny', [hook('deny.example.com', '/deny', (r) => answer(r, { allowed: false, status: { message: 'no', code: 403 } }))]));
  await assert.rejects(async () => p.admit!(podAttrs()), (err: { status: { message: string; code: number } }) => {
    assert.equal(err.status.message, 'admission webhook "deny.example.com" denied the request: no');
    assert.equal(err.status.code, 403);
    return true;
  });
});

test('webhooks run in order of configuration name, each seeing the last one’s changes', async () => {
  const p = plugin(
    config('b-second', [hook('second.example.com', '/second', patching([{ op: 'add', path: '/metadata/labels/second', value: 'yes' }]))]),
    config('a-first', [hook('first.example.com', '/first', patching([{ op: 'add', path: '/metadata/labels', value: { first: 'yes' } }]))]),
  );
  const attrs = podAttrs();
  await p.admit!(attrs);
  assert.deepEqual(attrs.object!.metadata.labels, { first: 'yes', second: 'yes' });
  assert.deepEqual(reviewsTo('/second').at(-1)!.request.object.metadata.labels, { first: 'yes' });
});

test('a patch that does not apply is an InternalError, even under Ignore', async () => {
  const p = plugin(config('bad', [hook('bad.example.com', '/bad', patching([{ op: 'replace', path: '/metadata/labels/x', value: 'y' }]), { failurePolicy: 'Ignore' })]));
  const attrs = podAttrs();
  await assert.rejects(async () => p.admit!(attrs), (err: { status: { message: string; code: number } }) => {
    assert.equal(err.status.code, 500);
    assert.equal(err.status.message, 'Internal error occurred: replace operation does not apply: doc is missing path: /metadata/labels/x: missing value');
    return true;
  });
});

test('an unreachable webhook under Ignore is passed over and the next one still patches', async () => {
  const p = plugin(
    config('a', [webhook('down.example.com', 'https://127.0.0.1:1/x', tls.caBundle, { failurePolicy: 'Ignore' })]),
    config('b', [hook('up.example.com', '/up', patching([{ op: 'add', path: '/metadata/labels', value: { up: 'yes' } }]))]),
  );
  const attrs = podAttrs();
  await p.admit!(attrs);
  assert.deepEqual(attrs.object!.metadata.labels, { up: 'yes' });
  assert.equal(attrs.auditAnnotations!['failed-open.mutation.webhook.admission.k8s.io/round_0_index_0'], 'down.example.com');
  assert.equal(attrs.auditAnnotations!['mutation.webhook.admission.k8s.io/round_0_index_0'], '{"configuration":"a","webhook":"down.example.com","mutated":false}');
});

test('an unreachable webhook under Fail fails the request with upstream text', async () => {
  const p = plugin(config('a', [webhook('down.example.com', 'https://127.0.0.1:1/x', tls.caBundle)]));
  await assert.rejects(async () => p.admit!(podAttrs()), {
    message: 'Internal error occurred: failed calling webhook "down.example.com": failed to call webhook: Post "https://127.0.0.1:1/x?timeout=10s": dial tcp 127.0.0.1:1: connect: connection refused',
  });
});

test('reinvocation: an IfNeeded webhook runs again after a later webhook changed the object', async () => {
  // "observe" adds nothing on its own (it records what it saw); "inject" adds a sidecar label.
  const observe = hook('observe.example.com', '/observe', (r) => answer(r, { allowed: true }), { reinvocationPolicy: 'IfNeeded' });
  const never = hook('never.example.com', '/never', (r) => answer(r, { allowed: true }), { reinvocationPolicy: 'Never' });
  const inject = hook('inject.example.com', '/inject', (r) =>
    r.request.object.metadata.labels?.sidecar ? answer(r, { allowed: true }) : patching([{ op: 'add', path: '/metadata/labels', value: { sidecar: 'on' } }])(r),
  );
  const before = { observe: reviewsTo('/observe').length, never: reviewsTo('/never').length, inject: reviewsTo('/inject').length };
  const attrs = podAttrs();
  await plugin(config('a', [observe, never]), config('b', [inject])).admit!(attrs);
  const seen = reviewsTo('/observe').slice(before.observe);
  assert.equal(seen.length, 2, 'called in both rounds');
  assert.equal(seen[0]!.request.object.metadata.labels, undefined);
  assert.deepEqual(seen[1]!.request.object.metadata.labels, { sidecar: 'on' });
  assert.equal(reviewsTo('/never').length - before.never, 1);
  assert.equal(reviewsTo('/inject').length - before.inject, 1, 'the changing webhook is not reinvoked for its own change');
  assert.equal(attrs.auditAnnotations!['mutation.webhook.admission.k8s.io/round_1_index_0'], '{"configuration":"a","webhook":"observe.example.com","mutated":false}');
});

test('no change, no second round', async () => {
  const observe = hook('quiet.example.com', '/quiet', (r) => answer(r, { allowed: true }), { reinvocationPolicy: 'IfNeeded' });
  const before = reviewsTo('/quiet').length;
  await plugin(config('a', [observe])).admit!(podAttrs());
  assert.equal(reviewsTo('/quiet').length - before, 1);
});

test('matchPolicy Equivalent sends the version the rule names and converts the patch back', async () => {
  const rule = { operations: ['CREATE'], apiGroups: ['autoscaling'], apiVersions: ['v1'], resources: ['horizontalpodautoscalers'], scope: '*' };
  const p = plugin(config('hpa', [hook('hpa.example.com', '/hpa', patching([{ op: 'replace', path: '/spec/targetCPUUtilizationPercentage', value: 80 }]), { rules: [rule] })]));
  const object: KubeObject = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default' },
    spec: { maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] },
  };
  const attrs = makeAttrs({ def: defs.hpa, version: 'v2', namespace: 'default', name: 'web', object });
  await p.admit!(attrs);
  const req = reviewsTo('/hpa').at(-1)!.request;
  assert.deepEqual(req.kind, { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' });
  assert.deepEqual(req.requestKind, { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' });
  assert.equal(req.object.apiVersion, 'autoscaling/v1');
  assert.equal(req.object.spec.targetCPUUtilizationPercentage, 50);
  assert.equal(attrs.object!.apiVersion, 'autoscaling/v2');
  assert.deepEqual((attrs.object!['spec'] as { metrics: unknown }).metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
});

test('a patch for a request without an object is an InternalError', async () => {
  const rule = { operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' };
  const p = plugin(config('del', [hook('del.example.com', '/del', patching([{ op: 'add', path: '/x', value: 1 }]), { rules: [rule] })]));
  await assert.rejects(async () => p.admit!(makeAttrs({ operation: 'DELETE', namespace: 'default', oldObject: { metadata: { name: 'p' } } })), {
    message: 'Internal error occurred: admission webhook "del.example.com" attempted to modify the object, which is not supported for this operation',
  });
});

test('a dry run is refused by a mutating webhook with side effects', async () => {
  const p = plugin(config('fx', [hook('fx.example.com', '/fx', (r) => answer(r, { allowed: true }), { sideEffects: 'Unknown' })]));
  await assert.rejects(async () => p.admit!(podAttrs(undefined, { dryRun: true })), { message: 'admission webhook "fx.example.com" does not support dry run' });
  assert.equal(reviewsTo('/fx').length, 0);
});

test('warnings and audit annotations of a mutating webhook are passed on', async () => {
  const p = plugin(config('w', [hook('w.example.com', '/w', (r) => answer(r, { allowed: true, warnings: ['deprecated field'], auditAnnotations: { k: 'v' } }))]));
  const attrs = podAttrs();
  await p.admit!(attrs);
  assert.deepEqual(attrs.warnings, ['deprecated field']);
  assert.equal(attrs.auditAnnotations!['w.example.com/k'], 'v');
});

test('matchConditions see the object as the previous webhooks left it', async () => {
  const p = plugin(
    config('a', [hook('tag.example.com', '/tag', patching([{ op: 'add', path: '/metadata/labels', value: { tagged: 'yes' } }]))]),
    config('b', [hook('only-tagged.example.com', '/only-tagged', patching([{ op: 'add', path: '/metadata/labels/seen', value: 'yes' }]), { matchConditions: [{ name: 'tagged', expression: "has(object.metadata.labels) && object.metadata.labels.tagged == 'yes'" }] })]),
  );
  const attrs = podAttrs();
  await p.admit!(attrs);
  assert.deepEqual(attrs.object!.metadata.labels, { tagged: 'yes', seen: 'yes' });
});

const doc = { metadata: { name: 'p', labels: { a: 'b' } }, spec: { containers: [] } };
const failures = [
  { name: 'add under a missing parent', op: { op: 'add', path: '/metadata/annotations/x', value: 'y' }, want: 'add operation does not apply: doc is missing path: "/metadata/annotations/x": missing value' },
  { name: 'replace of a missing key', op: { op: 'replace', path: '/metadata/labels/x', value: 'y' }, want: 'replace operation does not apply: doc is missing key: /metadata/labels/x: missing value' },
  { name: 'replace under a missing parent', op: { op: 'replace', path: '/status/phase', value: 'y' }, want: 'replace operation does not apply: doc is missing path: /status/phase: missing value' },
  { name: 'remove of a missing key', op: { op: 'remove', path: '/metadata/labels/x' }, want: 'Unable to remove nonexistent key: x: missing value' },
  { name: 'a failed test', op: { op: 'test', path: '/metadata/name', value: 'q' }, want: 'testing value /metadata/name failed: test failed' },
];
for (const c of failures) {
  test(`patch failure wording: ${c.name}`, () => {
    let err: unknown;
    try {
      jsonpatch.applyPatch(doc, [c.op as jsonpatch.Operation], true, false);
    } catch (e) {
      err = e;
    }
    assert.ok(err, 'the patch failed');
    assert.equal(patchFailure(err, doc).message, c.want);
  });
}

// ---- DELETE: upstream admits a delete with oldObject set and no object -----------------------

const deleteRule = { operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' as const };
const deleteAttrs = () => {
  const old = podAttrs({ app: 'web' }).object!;
  return makeAttrs({ operation: 'DELETE', namespace: 'default', name: 'web', object: undefined, oldObject: old });
};

test('a DELETE reaches a mutating webhook: oldObject is the stored object, object is null, options are DeleteOptions', async () => {
  const p = plugin(config('on-delete', [hook('on-delete.example.com', '/on-delete', (r) => answer(r, { allowed: true }), { rules: [deleteRule] })]));
  await p.admit!(deleteAttrs());
  const review = reviewsTo('/on-delete').at(-1)!;
  assert.equal(review.request.operation, 'DELETE');
  assert.equal(review.request.name, 'web');
  assert.equal(review.request.object, null);
  assert.deepEqual(review.request.oldObject.metadata, { name: 'web', namespace: 'default', labels: { app: 'web' } });
  assert.deepEqual(review.request.options, { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1' });
});

test('a mutating webhook that refuses a DELETE refuses it; one that patches it is an InternalError', async () => {
  const deny = plugin(config('no-delete', [hook('no-delete.example.com', '/no-delete', (r) => answer(r, { allowed: false, status: { code: 403, message: 'keep it' } }), { rules: [deleteRule] })]));
  await assert.rejects(async () => deny.admit!(deleteAttrs()), (err: { status: { message: string; code: number } }) => {
    assert.equal(err.status.message, 'admission webhook "no-delete.example.com" denied the request: keep it');
    assert.equal(err.status.code, 403);
    return true;
  });
  const patch = plugin(config('patch-delete', [hook('patch-delete.example.com', '/patch-delete', patching([{ op: 'add', path: '/metadata/labels/x', value: 'y' }]), { rules: [deleteRule] })]));
  await assert.rejects(async () => patch.admit!(deleteAttrs()), (err: { status: { message: string; code: number } }) => {
    assert.equal(err.status.code, 500);
    assert.equal(err.status.message, 'Internal error occurred: admission webhook "patch-delete.example.com" attempted to modify the object, which is not supported for this operation');
    return true;
  });
});
