import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mutatingWebhookPlugin, validatingWebhookPlugin, type WebhookDeps } from './index.ts';
import { makeAttrs } from './testing.ts';

const none: WebhookDeps = { configurations: () => [], namespaceLabels: () => ({}), resolveService: () => undefined };

test('the plugins carry upstream names and only their own phase', () => {
  const m = mutatingWebhookPlugin(none);
  const v = validatingWebhookPlugin(none);
  assert.equal(m.name, 'MutatingAdmissionWebhook');
  assert.equal(v.name, 'ValidatingAdmissionWebhook');
  assert.equal(typeof m.admit, 'function');
  assert.equal(m.validate, undefined);
  assert.equal(typeof v.validate, 'function');
  assert.equal(v.admit, undefined);
});

test('with no configurations a request passes untouched', async () => {
  const attrs = makeAttrs({ namespace: 'default' });
  const before = structuredClone(attrs.object);
  await mutatingWebhookPlugin(none).admit!(attrs);
  await validatingWebhookPlugin(none).validate!(attrs);
  assert.deepEqual(attrs.object, before);
  assert.equal(attrs.auditAnnotations, undefined);
  assert.equal(attrs.warnings, undefined);
});
