import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditAnnotationCollector, addAuditAnnotation, addWarning, denialError, goJson, maxAuditAnnotationValueLength, requestObjectName, validationFailureValue } from './report.ts';
import { defs, makeAttrs } from './testing.ts';

test('a denial is upstream’s Forbidden message with the denial’s reason and code', () => {
  const e = denialError(makeAttrs(), { policy: 'p', binding: 'b', message: 'failed expression: x', reason: '' });
  assert.deepEqual(e.status, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: failed expression: x`,
    reason: 'Invalid',
    details: { name: 'web', group: 'apps', kind: 'deployments', causes: [{ message: `ValidatingAdmissionPolicy 'p' with binding 'b' denied request: failed expression: x` }] },
    code: 422,
  });
});

const codes = [
  ['Forbidden', 403],
  ['Unauthorized', 401],
  ['RequestEntityTooLarge', 413],
  ['Invalid', 422],
  ['SomethingElse', 422],
] as const;
for (const [reason, code] of codes) {
  test(`reason ${reason} answers ${code}`, () => {
    const e = denialError(makeAttrs(), { policy: 'p', binding: 'b', message: 'm', reason });
    assert.equal(e.status.reason, reason);
    assert.equal(e.status.code, code);
  });
}

test('a policy’s own misconfiguration names no binding; a core resource has no group', () => {
  const e = denialError(makeAttrs({ def: defs.pods, object: { metadata: { name: 'p1', namespace: 'default' } } }), { policy: 'p', message: 'failed to configure policy: x', reason: '' });
  assert.equal(e.message, `pods "p1" is forbidden: ValidatingAdmissionPolicy 'p' denied request: failed to configure policy: x`);
});

test('the name falls back to generateName, then Unknown', () => {
  assert.equal(requestObjectName(makeAttrs({ name: '', object: { metadata: { generateName: 'web-' } } })), 'web-');
  assert.equal(requestObjectName(makeAttrs({ name: '', object: { metadata: {} } })), 'Unknown');
});

test('warnings are added once', () => {
  const attrs = makeAttrs();
  addWarning(attrs, 'w');
  addWarning(attrs, 'w');
  assert.deepEqual(attrs.warnings, ['w']);
});

test('an audit annotation keeps its first value', () => {
  const attrs = makeAttrs();
  assert.equal(addAuditAnnotation(attrs, 'k', 'a'), true);
  assert.equal(addAuditAnnotation(attrs, 'k', 'a'), true);
  assert.equal(addAuditAnnotation(attrs, 'k', 'b'), false);
  assert.deepEqual(attrs.auditAnnotations, { k: 'a' });
});

test('the validation failure value is Go’s JSON', () => {
  assert.equal(
    validationFailureValue({ message: 'a <b> & c', policy: 'p', binding: 'b', expressionIndex: 1, validationActions: ['Audit'] }),
    '[{"message":"a \\u003cb\\u003e \\u0026 c","policy":"p","binding":"b","expressionIndex":1,"validationActions":["Audit"]}]',
  );
  assert.equal(goJson('\u2028'), '"\\u2028"');
});

test('audit annotations: distinct values joined, long ones cut', () => {
  const attrs = makeAttrs();
  const c = new AuditAnnotationCollector();
  c.add('k', 'a');
  c.add('k', 'b');
  c.add('k', 'a');
  c.add('long', 'x'.repeat(maxAuditAnnotationValueLength + 5));
  assert.deepEqual(c.publish(attrs, 'pol'), []);
  assert.equal(attrs.auditAnnotations!['pol/k'], 'a, b');
  assert.equal(attrs.auditAnnotations!['pol/long']!.length, maxAuditAnnotationValueLength);
});
