import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../api/types.ts';
import { hookSource } from './source.ts';
import { configuration, webhook } from './testing.ts';

const hook = (name: string, over = {}) => webhook(name, 'https://127.0.0.1:1/x', '', over);

test('webhooks come sorted by configuration name, then in order, with upstream uids', () => {
  const configs = [configuration('ValidatingWebhookConfiguration', 'b', [hook('b1'), hook('b2')]), configuration('ValidatingWebhookConfiguration', 'a', [hook('a1')])];
  const hooks = hookSource(() => configs)();
  assert.deepEqual(
    hooks.map((h) => h.uid),
    ['a/a1/0', 'b/b1/0', 'b/b2/1'],
  );
});

test('the same objects give the same compiled webhooks; a replaced object is compiled again', () => {
  const a = configuration('MutatingWebhookConfiguration', 'a', [hook('a1')]);
  const b = configuration('MutatingWebhookConfiguration', 'b', [hook('b1')]);
  let configs: KubeObject[] = [a, b];
  const source = hookSource(() => configs);
  const first = source();
  assert.equal(source(), first);
  configs = [a, b];
  assert.equal(source(), first, 'a new array with the same objects');
  const b2 = configuration('MutatingWebhookConfiguration', 'b', [hook('b1', { timeoutSeconds: 5 })]);
  configs = [a, b2];
  const second = source();
  assert.notEqual(second, first);
  assert.equal(second[0], first[0], "a's webhook is reused");
  assert.equal(second[1]!.timeoutSeconds, 5);
});

test('no configurations: no webhooks', () => {
  assert.deepEqual(hookSource(() => [])(), []);
});

test('v1 defaults stand in for absent fields; the timeout is held to 1..30 seconds', () => {
  const bare = { name: 'w', clientConfig: { url: 'https://x' }, admissionReviewVersions: ['v1'] };
  const [h] = hookSource(() => [configuration('ValidatingWebhookConfiguration', 'c', [bare])])();
  assert.equal(h!.equivalent, true);
  assert.equal(h!.ignoreFailures, false);
  assert.equal(h!.timeoutSeconds, 10);
  assert.equal(h!.reinvokeIfNeeded, false);
  assert.equal(h!.namespaceSelector.matcher?.empty, true);
  const [long, short] = hookSource(() => [configuration('ValidatingWebhookConfiguration', 'c', [hook('l', { timeoutSeconds: 300 }), hook('s', { timeoutSeconds: 0 })])])();
  assert.equal(long!.timeoutSeconds, 30);
  assert.equal(short!.timeoutSeconds, 1);
});

test('caBundle is decoded to PEM; matchConditions compile once', async () => {
  const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const [h] = hookSource(() => [
    configuration('ValidatingWebhookConfiguration', 'c', [{ ...hook('w'), clientConfig: { url: 'https://x', caBundle: Buffer.from(pem).toString('base64') }, matchConditions: [{ name: 'm', expression: 'true' }] }]),
  ])();
  assert.equal(h!.client.caPem, pem);
  const c1 = await h!.conditions();
  assert.equal(await h!.conditions(), c1);
  assert.equal(c1.length, 1);
});
