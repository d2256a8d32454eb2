/**
 * pods/binding over HTTP, as the scheduler uses it: assigns a node once (spec.nodeName and
 * PodScheduled True), a second binding is a Conflict naming the node, a bad target is Invalid,
 * and discovery lists the subresource. The test binds pods itself, so the server runs without
 * the scheduler (and the controllers); a status write preconditioned on a stale resourceVersion
 * — the scheduler's PodScheduled=False — cannot land on a pod bound since.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureServiceAccount, startServer, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, request, type Creds } from './api.ts';

let server: ServerHandle;
let creds: Creds;

before(async () => {
  server = await startServer({ args: ['--disable-controller-manager', '--disable-scheduler'] });
  creds = credsFromKubeconfig(server.kubeconfig);
  // No serviceaccount controller: pods need their account made by hand.
  await ensureServiceAccount(server, 'default');
});

after(async () => {
  await server?.stop();
});

const bind = (pod: string, node: unknown) =>
  request(creds, 'POST', `/api/v1/namespaces/default/pods/${pod}/binding`, { body: JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name: pod }, target: node }) });

test('a binding assigns the node once', async () => {
  const pod = { metadata: { name: 'b1' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  assert.equal((await request(creds, 'POST', '/api/v1/namespaces/default/pods', { body: JSON.stringify(pod) })).status, 201);
  const r = await bind('b1', { kind: 'Node', name: 'node-a' });
  assert.equal(r.status, 201, r.body);
  assert.equal(JSON.parse(r.body).status, 'Success');
  const got = JSON.parse((await request(creds, 'GET', '/api/v1/namespaces/default/pods/b1')).body);
  assert.equal(got.spec.nodeName, 'node-a');
  assert.equal(got.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled').status, 'True');
  const again = await bind('b1', { kind: 'Node', name: 'node-b' });
  assert.equal(again.status, 409);
  assert.equal(JSON.parse(again.body).message, 'Operation cannot be fulfilled on pods/binding "b1": pod b1 is already assigned to node "node-a"');
});

test('a binding without a target node is Invalid, and to a missing pod NotFound', async () => {
  const pod = { metadata: { name: 'b2' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  await request(creds, 'POST', '/api/v1/namespaces/default/pods', { body: JSON.stringify(pod) });
  assert.equal((await bind('b2', { kind: 'Node' })).status, 422);
  assert.equal((await bind('b2', { kind: 'Pod', name: 'x' })).status, 422);
  assert.equal((await bind('nope', { kind: 'Node', name: 'n' })).status, 404);
});

test('discovery lists pods/binding with the create verb', async () => {
  const list = JSON.parse((await request(creds, 'GET', '/api/v1')).body) as { resources: { name: string; verbs: string[] }[] };
  assert.deepEqual(list.resources.find((r) => r.name === 'pods/binding')?.verbs, ['create']);
});

test('an Unschedulable status preconditioned on the unbound pod does not land after a binding', async () => {
  const pod = { metadata: { name: 'b3' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  const created = JSON.parse((await request(creds, 'POST', '/api/v1/namespaces/default/pods', { body: JSON.stringify(pod) })).body);
  assert.equal((await bind('b3', { kind: 'Node', name: 'node-a' })).status, 201);
  // What the scheduler sends for a failed attempt that read the pod before the binding.
  const condition = { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/0 nodes are available', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z' };
  const r = await request(creds, 'PATCH', '/api/v1/namespaces/default/pods/b3/status', {
    body: JSON.stringify({ metadata: { resourceVersion: created.metadata.resourceVersion }, status: { conditions: [condition] } }),
    headers: { 'content-type': 'application/strategic-merge-patch+json' },
  });
  assert.equal(r.status, 409, r.body);
  const got = JSON.parse((await request(creds, 'GET', '/api/v1/namespaces/default/pods/b3')).body);
  assert.equal(got.spec.nodeName, 'node-a');
  assert.equal(got.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled').status, 'True');
});
