import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallError, aggregate, dryRunUnsupported, toStatusError } from './errors.ts';

const denied = 'admission webhook "hook.example.com" denied the request';

const cases = [
  { name: 'no result: 400 without explanation', result: undefined, want: { message: `${denied} without explanation`, code: 400 } },
  { name: 'a message and a code are kept', result: { message: 'no latest tags', code: 403, reason: 'Forbidden' }, want: { message: `${denied}: no latest tags`, code: 403, reason: 'Forbidden' } },
  { name: 'the reason stands in for a missing message', result: { reason: 'Forbidden', code: 403 }, want: { message: `${denied}: Forbidden`, code: 403, reason: 'Forbidden' } },
  { name: 'a code below 400 is raised to 400', result: { message: 'nope', code: 200, status: 'Success' }, want: { message: `${denied}: nope`, code: 400 } },
  { name: 'a 500 stays a 500', result: { message: 'broken', code: 500 }, want: { message: `${denied}: broken`, code: 500 } },
];

for (const c of cases) {
  test(`toStatusError: ${c.name}`, () => {
    const err = toStatusError('hook.example.com', c.result);
    assert.equal(err.status.status, 'Failure');
    assert.equal(err.status.message, c.want.message);
    assert.equal(err.code, c.want.code);
    assert.equal(err.status.reason, c.want.reason);
  });
}

test('a call error reads as upstream ErrCallingWebhook', () => {
  assert.equal(new CallError('w', 'failed to call webhook: boom').message, 'failed calling webhook "w": failed to call webhook: boom');
  assert.equal(new CallError('w', '').message, 'failed calling webhook "w"; no further details available');
});

test('dry run unsupported is a BadRequest naming the webhook', () => {
  const err = dryRunUnsupported('w');
  assert.equal(err.code, 400);
  assert.equal(err.status.message, 'admission webhook "w" does not support dry run');
});

test('aggregate joins several messages in brackets', () => {
  assert.equal(aggregate(['a']), 'a');
  assert.equal(aggregate(['a', 'b']), '[a, b]');
});
