// The validating plugin against real HTTPS webhook servers (a CA made for the test).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { MutatingWebhook } from '../../../api/index.ts';
import type { KubeObject } from '../../../api/types.ts';
import type { AdmissionAttributes } from '../types.ts';
import { closeWebhookConnections, validatingWebhookPlugin, type WebhookDeps } from './index.ts';
import { answer, configuration, defs, makeAttrs, makeTls, startServer, webhook, type Reply, type Review } from './testing.ts';

const tls = await makeTls(['policy.webhooks.svc']);
const routes = new Map<string, (r: Review) => Reply>();
const server = await startServer(tls, (review, path) => (routes.get(path.split('?')[0]!) ?? ((r) => answer(r, { allowed: true })))(review));
after(async () => {
  closeWebhookConnections();
  await server.close();
});

const closedPort = await (async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
})();

const namespaces: Record<string, Record<string, string>> = { default: {}, prod: { env: 'prod' } };
const logs: string[] = [];

function plugin(hooks: MutatingWebhook[], more: Partial<WebhookDeps> = {}) {
  const configs: KubeObject[] = [configuration('ValidatingWebhookConfiguration', 'policies', hooks)];
  return validatingWebhookPlugin({
    configurations: () => configs,
    namespaceLabels: (n) => namespaces[n],
    resolveService: () => undefined,
    log: (m) => logs.push(m),
    ...more,
  });
}

/** A webhook at `path` on the test server; `reply` answers its calls. */
function hook(name: string, path: string, reply?: (r: Review) => Reply, over: Partial<MutatingWebhook> = {}): MutatingWebhook {
  if (reply) routes.set(path, reply);
  return webhook(name, server.url(path), tls.caBundle, over);
}

const callsTo = (path: string) => server.seen.filter((s) => s.path.startsWith(`${path}?`)).length;
const podAttrs = (a: Partial<AdmissionAttributes> = {}) => makeAttrs({ namespace: 'default', name: 'web', ...a });

async function refusal(p: ReturnType<typeof plugin>, attrs: AdmissionAttributes) {
  try {
    await p.validate!(attrs);
  } catch (err) {
    return err as { status: { message: string; code: number; reason?: string } };
  }
  assert.fail('the request was not refused');
}

test('an allowing webhook is sent upstream v1 AdmissionReview and lets the request through', async () => {
  const p = plugin([hook('allow.example.com', '/allow', (r) => answer(r, { allowed: true }))]);
  await p.validate!(podAttrs());
  const seen = server.seen.at(-1)!;
  assert.equal(seen.path, '/allow?timeout=10s');
  assert.equal(seen.review.apiVersion, 'admission.k8s.io/v1');
  const req = seen.review.request;
  assert.match(req.uid, /^[0-9a-f-]{36}$/);
  assert.deepEqual(
    { kind: req.kind, resource: req.resource, name: req.name, namespace: req.namespace, operation: req.operation, dryRun: req.dryRun, options: req.options },
    {
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      name: 'web',
      namespace: 'default',
      operation: 'CREATE',
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  );
  assert.deepEqual(req.userInfo, { username: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'] });
  assert.equal(req.oldObject, null);
  assert.equal(req.object.metadata.name, 'web');
});

test('a denial carries the message and code as upstream', async () => {
  const p = plugin([hook('deny.example.com', '/deny', (r) => answer(r, { allowed: false, status: { message: 'images must be pinned', code: 403, reason: 'Forbidden' } }))]);
  const err = await refusal(p, podAttrs());
  assert.equal(err.status.message, 'admission webhook "deny.example.com" denied the request: images must be pinned');
  assert.equal(err.status.code, 403);
  assert.equal(err.status.reason, 'Forbidden');
});

test('a denial without a status is 400 without explanation', async () => {
  const p = plugin([hook('bare.example.com', '/bare', (r) => answer(r, { allowed: false }))]);
  const err = await refusal(p, podAttrs());
  assert.equal(err.status.message, 'admission webhook "bare.example.com" denied the request without explanation');
  assert.equal(err.status.code, 400);
});

test('an unreachable webhook fails the request under Fail and is passed over under Ignore', async () => {
  const url = `https://127.0.0.1:${closedPort}/validate`;
  const fail = plugin([webhook('down.example.com', url, tls.caBundle)]);
  const err = await refusal(fail, podAttrs());
  assert.equal(err.status.code, 500);
  assert.equal(err.status.reason, 'InternalError');
  assert.equal(
    err.status.message,
    `Internal error occurred: failed calling webhook "down.example.com": failed to call webhook: Post "${url}?timeout=10s": dial tcp 127.0.0.1:${closedPort}: connect: connection refused`,
  );
  const ignore = plugin([webhook('down.example.com', url, tls.caBundle, { failurePolicy: 'Ignore' })]);
  const attrs = podAttrs();
  await ignore.validate!(attrs);
  assert.deepEqual(attrs.auditAnnotations, { 'failed-open.validating.webhook.admission.k8s.io/round_0_index_0': 'down.example.com' });
  assert.ok(logs.some((l) => l.startsWith('Failed calling webhook, failing open down.example.com')));
});

test('a webhook slower than timeoutSeconds fails under Fail and is passed over under Ignore', async () => {
  const slow = (r: Review): Reply => ({ ...answer(r, { allowed: false }), delayMs: 1500 });
  const fail = plugin([hook('slow.example.com', '/slow', slow, { timeoutSeconds: 1 })]);
  const ignore = plugin([hook('slow.example.com', '/slow', slow, { timeoutSeconds: 1, failurePolicy: 'Ignore' })]);
  const [err] = await Promise.all([refusal(fail, podAttrs()), ignore.validate!(podAttrs())]);
  assert.equal(err.status.message, `Internal error occurred: failed calling webhook "slow.example.com": failed to call webhook: Post "${server.url('/slow')}?timeout=1s": context deadline exceeded`);
});

test('selectors and rules that do not match skip the call', async () => {
  const refuse = (r: Review) => answer(r, { allowed: false });
  const p = plugin([
    hook('ns.example.com', '/ns', refuse, { namespaceSelector: { matchLabels: { env: 'prod' } } }),
    hook('obj.example.com', '/obj', refuse, { objectSelector: { matchLabels: { app: 'db' } } }),
    hook('rules.example.com', '/rules', refuse, { rules: [{ operations: ['UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] }),
    hook('deploy.example.com', '/deploy', refuse, { rules: [{ operations: ['CREATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'] }] }),
  ]);
  await p.validate!(podAttrs({ object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } } } }));
  assert.deepEqual(['/ns', '/obj', '/rules', '/deploy'].map(callsTo), [0, 0, 0, 0]);
  // …and the same webhooks are called when they do match.
  await assert.rejects(async () => p.validate!(podAttrs({ namespace: 'prod' })), /ns\.example\.com/);
});

test('a namespaceSelector on a namespace that does not exist is NotFound', async () => {
  const p = plugin([hook('ns.example.com', '/ns', undefined, { namespaceSelector: { matchLabels: { env: 'prod' } } })]);
  const err = await refusal(p, podAttrs({ namespace: 'gone' }));
  assert.equal(err.status.message, 'namespaces "gone" not found');
});

test('matchConditions: true calls, false skips, an error fails or skips by failurePolicy', async () => {
  const seenBefore = callsTo('/mc');
  const mc = (expression: string, over: Partial<MutatingWebhook> = {}) => plugin([hook('mc.example.com', '/mc', (r) => answer(r, { allowed: true }), { matchConditions: [{ name: 'c', expression }], ...over })]);
  await mc("object.metadata.name == 'web' && request.userInfo.username == 'alice'").validate!(podAttrs());
  assert.equal(callsTo('/mc'), seenBefore + 1);
  await mc("object.metadata.name == 'db'").validate!(podAttrs());
  assert.equal(callsTo('/mc'), seenBefore + 1);
  const err = await refusal(mc('object.spec.x == 1'), podAttrs());
  assert.equal(err.status.code, 403);
  assert.equal(err.status.message, `pods "web" is forbidden: expression 'object.spec.x == 1' resulted in error: no such key: spec`);
  await mc('object.spec.x == 1', { failurePolicy: 'Ignore' }).validate!(podAttrs());
  assert.equal(callsTo('/mc'), seenBefore + 1);
});

test('a dry run is refused by a webhook with side effects, and sent to one without', async () => {
  const unknown = plugin([hook('effects.example.com', '/effects', (r) => answer(r, { allowed: true }), { sideEffects: 'Unknown' })]);
  const err = await refusal(unknown, podAttrs({ dryRun: true }));
  assert.equal(err.status.code, 400);
  assert.equal(err.status.message, 'admission webhook "effects.example.com" does not support dry run');
  assert.equal(callsTo('/effects'), 0);
  const safe = plugin([hook('safe.example.com', '/safe', (r) => answer(r, { allowed: true }), { sideEffects: 'NoneOnDryRun' })]);
  await safe.validate!(podAttrs({ dryRun: true }));
  const req = server.seen.at(-1)!.review.request;
  assert.equal(req.dryRun, true);
  assert.deepEqual(req.options.dryRun, ['All']);
});

test('warnings and audit annotations are passed on', async () => {
  const p = plugin([
    hook('warn.example.com', '/warn', (r) =>
      answer(r, { allowed: true, warnings: ['image is old', 'bad\ttext', 'image is old', ''], auditAnnotations: { decision: 'allowed', policy: 'p1' } }),
    ),
  ]);
  const attrs = podAttrs({ warnings: ['earlier'] });
  await p.validate!(attrs);
  assert.deepEqual(attrs.warnings, ['earlier', 'image is old']);
  assert.deepEqual(attrs.auditAnnotations, { 'warn.example.com/decision': 'allowed', 'warn.example.com/policy': 'p1' });
});

test('a validating webhook that returns a patch has failed', async () => {
  const patch = Buffer.from('[]').toString('base64');
  const p = plugin([hook('patchy.example.com', '/patchy', (r) => answer(r, { allowed: true, patch, patchType: 'JSONPatch' }))]);
  const err = await refusal(p, podAttrs());
  assert.equal(err.status.message, 'Internal error occurred: failed calling webhook "patchy.example.com": received invalid webhook response: validating webhook may not return response.patch');
});

test('all matching webhooks are called; the first refusal in order wins', async () => {
  const p = plugin([
    hook('a.example.com', '/a', (r) => ({ ...answer(r, { allowed: false, status: { message: 'a says no' } }), delayMs: 100 })),
    hook('b.example.com', '/b', (r) => answer(r, { allowed: false, status: { message: 'b says no' } })),
    hook('c.example.com', '/c', (r) => answer(r, { allowed: true })),
  ]);
  const before = ['/a', '/b', '/c'].map(callsTo);
  const err = await refusal(p, podAttrs());
  assert.equal(err.status.message, 'admission webhook "a.example.com" denied the request: a says no');
  assert.deepEqual(['/a', '/b', '/c'].map(callsTo), before.map((n) => n + 1));
});

test('a service webhook is dialled where resolveService says, and a missing service fails as upstream', async () => {
  routes.set('/svc', (r) => answer(r, { allowed: true }));
  const svcHook = (name: string) => webhook('svc.example.com', '', tls.caBundle, { clientConfig: { service: { namespace: 'webhooks', name, path: '/svc', port: 443 }, caBundle: tls.caBundle } });
  const resolveService = (ns: string, name: string) => (ns === 'webhooks' && name === 'policy' ? { host: '127.0.0.1', port: server.port } : undefined);
  await plugin([svcHook('policy')], { resolveService }).validate!(podAttrs());
  assert.equal(server.seen.at(-1)!.servername, 'policy.webhooks.svc');
  const err = await refusal(plugin([svcHook('gone')], { resolveService }), podAttrs());
  assert.equal(err.status.message, 'Internal error occurred: failed calling webhook "svc.example.com": failed to call webhook: Post "https://gone.webhooks.svc:443/svc?timeout=10s": service "gone" not found');
});

test('webhook configurations themselves are never sent to webhooks', async () => {
  const p = plugin([hook('all.example.com', '/all', (r) => answer(r, { allowed: false }), { rules: [{ operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] }] })]);
  const def = { ...defs.nodes, group: 'admissionregistration.k8s.io', kind: 'ValidatingWebhookConfiguration', plural: 'validatingwebhookconfigurations' };
  await p.validate!(makeAttrs({ def, name: 'policies' }));
  assert.equal(callsTo('/all'), 0);
});

test('a DELETE is sent with the stored object as oldObject and no object, and a denial refuses it', async () => {
  const rules = [{ operations: ['DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' as const }];
  const p = plugin([hook('keep.example.com', '/keep', (r) => answer(r, { allowed: false, status: { code: 403, message: `${r.request.oldObject.metadata.name} stays` } }), { rules })]);
  const old: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' } };
  const err = await refusal(p, podAttrs({ operation: 'DELETE', object: undefined, oldObject: old }));
  assert.equal(err.status.message, 'admission webhook "keep.example.com" denied the request: web stays');
  const review = server.seen.filter((s) => s.path.startsWith('/keep?')).at(-1)!.review;
  assert.equal(review.request.operation, 'DELETE');
  assert.equal(review.request.object, null);
  assert.deepEqual(review.request.oldObject, old);
  // A CREATE of the same pod is not the webhook's business.
  await p.validate!(podAttrs());
});
