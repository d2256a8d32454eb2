import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admissionReview, operationOptions, reviewVersion, verifyResponse } from './review.ts';
import { requestView, type Invocation } from './rules.ts';
import { defs, makeAttrs } from './testing.ts';

test('the request is upstream v1 AdmissionReview, fields in Go order', () => {
  const attrs = makeAttrs({ namespace: 'default', name: 'web', subresource: '', dryRun: true, user: { username: 'alice', uid: 'u-1', groups: ['devs'], extra: { scopes: ['a'] } } });
  const view = requestView(attrs);
  const inv: Invocation = { resource: view.resource, subresource: '', kind: view.kind };
  const text = admissionReview(view, { version: 'v1', uid: 'uid-1', invocation: inv, object: attrs.object, oldObject: undefined });
  assert.equal(
    text,
    JSON.stringify({
      kind: 'AdmissionReview',
      apiVersion: 'admission.k8s.io/v1',
      request: {
        uid: 'uid-1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        requestKind: { group: '', version: 'v1', kind: 'Pod' },
        requestResource: { group: '', version: 'v1', resource: 'pods' },
        name: 'web',
        namespace: 'default',
        operation: 'CREATE',
        userInfo: { username: 'alice', uid: 'u-1', groups: ['devs'], extra: { scopes: ['a'] } },
        object: attrs.object,
        oldObject: null,
        dryRun: true,
        options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', dryRun: ['All'] },
      },
    }),
  );
});

test('an equivalent invocation differs from the request kind and resource; subresources are sent', () => {
  const attrs = makeAttrs({ def: defs.hpa, version: 'v2', namespace: 'default', subresource: 'status' });
  const view = requestView(attrs);
  const inv: Invocation = { resource: { ...view.resource, version: 'v1' }, subresource: 'status', kind: { ...view.kind, version: 'v1' } };
  const req = JSON.parse(admissionReview(view, { version: 'v1beta1', uid: 'u', invocation: inv, object: attrs.object, oldObject: attrs.object })).request;
  assert.deepEqual(req.kind, { group: 'autoscaling', version: 'v1', kind: 'HorizontalPodAutoscaler' });
  assert.deepEqual(req.requestKind, { group: 'autoscaling', version: 'v2', kind: 'HorizontalPodAutoscaler' });
  assert.equal(req.subResource, 'status');
  assert.equal(req.requestSubResource, 'status');
});

test('options follow the operation; CONNECT has none', () => {
  assert.deepEqual(operationOptions(makeAttrs({ operation: 'UPDATE' })), { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1' });
  assert.deepEqual(operationOptions(makeAttrs({ operation: 'DELETE', dryRun: true })), { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', dryRun: ['All'] });
  assert.equal(operationOptions(makeAttrs({ operation: 'CONNECT' })), null);
  const given = { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', propagationPolicy: 'Background' };
  assert.deepEqual(operationOptions({ ...makeAttrs({ operation: 'DELETE' }), options: given } as ReturnType<typeof makeAttrs>), given);
});

test('the review version is the first one known', () => {
  assert.equal(reviewVersion(['v2', 'v1beta1', 'v1']), 'v1beta1');
  assert.equal(reviewVersion(['v1']), 'v1');
  assert.equal(reviewVersion(['v2']), undefined);
});

const ok = (response: Record<string, unknown>, top: Record<string, unknown> = {}) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', ...response }, ...top });
const patch = Buffer.from('[]').toString('base64');

const bad = [
  { name: 'another uid', body: ok({ uid: 'x', allowed: true }), want: 'expected response.uid="u", got "x"' },
  { name: 'another version', body: ok({ allowed: true }, { apiVersion: 'admission.k8s.io/v1beta1' }), want: 'expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got admission.k8s.io/v1beta1, Kind=AdmissionReview' },
  { name: 'no response', body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), want: 'webhook response was absent' },
  { name: 'a patch without a type', body: ok({ allowed: true, patch }), want: 'webhook returned response.patch but not response.patchType' },
  { name: 'a type without a patch', body: ok({ allowed: true, patchType: 'JSONPatch' }), want: 'webhook returned response.patchType but not response.patch' },
  { name: 'an empty patch type', body: ok({ allowed: true, patch, patchType: '' }), want: 'webhook returned invalid response.patchType of ""' },
  { name: 'a patch from a validating webhook', body: ok({ allowed: true, patch, patchType: 'JSONPatch' }), mutating: false, want: 'validating webhook may not return response.patch' },
  { name: 'a patch type from a validating webhook', body: ok({ allowed: true, patchType: 'JSONPatch' }), mutating: false, want: 'validating webhook may not return response.patchType' },
  { name: 'not JSON', body: 'oops', want: /^couldn't get version\/kind; json parse error: / },
  { name: 'no kind', body: '{"response":{}}', want: `Object 'Kind' is missing in '{"response":{}}'` },
  { name: 'bad base64', body: ok({ allowed: true, patch: 'a$==', patchType: 'JSONPatch' }), want: 'illegal base64 data at input byte 1' },
  { name: 'allowed not a bool', body: ok({ allowed: 'yes' }), want: 'json: cannot unmarshal string into Go struct field AdmissionResponse.response.allowed of type bool' },
];

for (const c of bad) {
  test(`an answer with ${c.name} is refused`, () => {
    assert.throws(() => verifyResponse(c.body, { version: 'v1', uid: 'u', mutating: c.mutating ?? true }), { message: c.want });
  });
}

test('a good answer gives allowed, the decoded patch, status, annotations and warnings', () => {
  const p = Buffer.from('[{"op":"add","path":"/a","value":1}]');
  const res = verifyResponse(ok({ allowed: false, patch: p.toString('base64'), patchType: 'JSONPatch', status: { message: 'no', code: 403 }, auditAnnotations: { k: 'v' }, warnings: ['w'] }), { version: 'v1', uid: 'u', mutating: true });
  assert.equal(res.allowed, false);
  assert.deepEqual(res.patch, p);
  assert.equal(res.patchType, 'JSONPatch');
  assert.deepEqual(res.result, { message: 'no', code: 403 });
  assert.deepEqual(res.auditAnnotations, { k: 'v' });
  assert.deepEqual(res.warnings, ['w']);
});

test('a v1beta1 answer is not checked for uid or kind, and its patch is a JSONPatch', () => {
  const body = JSON.stringify({ response: { uid: 'other', allowed: true, patch } , kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1' });
  const res = verifyResponse(body, { version: 'v1beta1', uid: 'u', mutating: true });
  assert.equal(res.patchType, 'JSONPatch');
});
