import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditAnnotationResult, failureMessage, matchOutcome, maxMessageExpressionBytes, validationDecision, type Outcome } from './validator.ts';

const v = (value: unknown, type = 'bool'): Outcome => ({ value, type });
const err = (error: string): Outcome => ({ error });

const matchCases = [
  { name: 'all true matches', outcomes: [v(true), v(true)], ignore: false, want: { matches: true } },
  { name: 'a false condition skips even after errors', outcomes: [err('e1'), v(false)], ignore: false, want: { matches: false } },
  { name: 'errors fail under Fail, one as is', outcomes: [v(true), err('e1')], ignore: false, want: { error: 'e1' } },
  { name: 'errors are aggregated', outcomes: [err('e1'), err('e2')], ignore: false, want: { error: '[e1, e2]' } },
  { name: 'errors skip under Ignore', outcomes: [err('e1')], ignore: true, want: { matches: false } },
  { name: 'a result that is not false matches', outcomes: [v('x', 'string')], ignore: false, want: { matches: true } },
];
for (const c of matchCases) test(`matchConditions: ${c.name}`, () => assert.deepEqual(matchOutcome(c.outcomes, { ignore: c.ignore }), c.want));

const spec = { expression: ' object.spec.replicas <= 5 ' };
const messageCases = [
  { name: 'no message: the expression, trimmed', spec, msg: undefined, want: 'failed expression: object.spec.replicas <= 5' },
  { name: 'the message, trimmed', spec: { ...spec, message: ' too many ' }, msg: undefined, want: 'too many' },
  { name: 'a messageExpression string wins', spec: { ...spec, message: 'too many' }, msg: v(' has 6 ', 'string'), want: 'has 6' },
  { name: 'a failing messageExpression falls back to the message', spec: { ...spec, message: 'too many' }, msg: err('boom'), want: 'too many' },
  { name: 'a non-string messageExpression falls back', spec: { ...spec, message: 'too many' }, msg: v(5n, 'int'), want: 'too many' },
  { name: 'a multi-line message is refused', spec, msg: v('a\nb', 'string'), want: 'failed expression: object.spec.replicas <= 5' },
  { name: 'a blank message is refused', spec: { ...spec, message: 'm' }, msg: v('   ', 'string'), want: 'm' },
  { name: 'an over-long message is refused', spec: { ...spec, message: 'm' }, msg: v('x'.repeat(maxMessageExpressionBytes + 1), 'string'), want: 'm' },
];
for (const c of messageCases) test(`message: ${c.name}`, () => assert.equal(failureMessage(c.spec, c.msg), c.want));

test('a true validation admits without asking for its message', () => {
  let asked = false;
  const d = validationDecision(spec, v(true), { ignore: false, message: () => ((asked = true), undefined) });
  assert.deepEqual(d, { action: 'admit', evaluation: 'admit', message: '', reason: '' });
  assert.equal(asked, false);
});

test('a failed validation denies with its reason, Invalid by default', () => {
  assert.equal(validationDecision(spec, v(false), { ignore: false, message: () => undefined }).reason, 'Invalid');
  assert.equal(validationDecision({ ...spec, reason: 'Forbidden' }, v(false), { ignore: false, message: () => undefined }).reason, 'Forbidden');
  assert.equal(validationDecision(spec, v('yes', 'string'), { ignore: true, message: () => undefined }).action, 'deny');
});

test('an evaluation error denies under Fail and admits under Ignore', () => {
  assert.deepEqual(validationDecision(spec, err('boom'), { ignore: false, message: () => undefined }), { action: 'deny', evaluation: 'error', message: 'boom', reason: '' });
  assert.equal(validationDecision(spec, err('boom'), { ignore: true, message: () => undefined }).action, 'admit');
});

const a = { key: 'k', valueExpression: 'object.x' };
const auditCases = [
  { name: 'a string is published trimmed', r: v(' v ', 'string'), ignore: false, want: { action: 'publish', key: 'k', value: 'v' } },
  { name: 'an empty string is left out', r: v(' ', 'string'), ignore: false, want: { action: 'exclude', key: 'k' } },
  { name: 'null is left out', r: v(null, 'null_type'), ignore: false, want: { action: 'exclude', key: 'k' } },
  { name: 'an error under Fail', r: err('boom'), ignore: false, want: { action: 'error', key: 'k', error: 'boom' } },
  { name: 'an error under Ignore is left out', r: err('boom'), ignore: true, want: { action: 'exclude', key: 'k' } },
  {
    name: 'another type is always an error',
    r: v(1n, 'int'),
    ignore: true,
    want: { action: 'error', key: 'k', error: "valueExpression 'object.x' resulted in unsupported return type: int. Return type must be either string or null." },
  },
];
for (const c of auditCases) test(`audit annotation: ${c.name}`, () => assert.deepEqual(auditAnnotationResult(a, c.r, { ignore: c.ignore }), c.want));
