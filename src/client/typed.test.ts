/**
 * The typed layer: every built-in resource has a generated object type (checked at compile time),
 * a clientset's calls reach the generic client with the resource bound (over a recording
 * transport), and typed informers are the shared untyped ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment, HorizontalPodAutoscaler, KubeObject, Lease, Node, Pod } from '../api/index.ts';
import { InformerFactory } from './informer.ts';
import { RestClient } from './rest.ts';
import { descriptor, resources, type BuiltinResource } from './resources.ts';
import { clientset, resourceClient, type ObjectFor } from './typed.ts';
import type { Transport, TransportRequest, TransportResponse, WatchStream } from './transport.ts';

// ---- compile-time checks (npm run typecheck) ----------------------------------------------------

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
/** Built-in resources whose object type is not a generated one: none. */
type Untyped = { [K in BuiltinResource]: Equal<ObjectFor<(typeof resources)[K]>, KubeObject> extends true ? K : never }[BuiltinResource];
const everyResourceTyped: [Untyped] extends [never] ? true : false = true;
const podsArePods: Equal<ObjectFor<typeof resources.pods>, Pod> = true;
const nodesAreNodes: Equal<ObjectFor<typeof resources.nodes>, Node> = true;
const deploymentsAreDeployments: Equal<ObjectFor<typeof resources.deployments>, Deployment> = true;
const leasesAreLeases: Equal<ObjectFor<typeof resources.leases>, Lease> = true;
const hpasAreV2: Equal<ObjectFor<typeof resources.horizontalPodAutoscalers>, HorizontalPodAutoscaler> = true;
const runtimeDescriptorsAreUntyped: Equal<ObjectFor<ReturnType<typeof descriptor>>, KubeObject> = true;

test('every built-in resource has a generated object type', () => {
  assert.deepEqual([everyResourceTyped, podsArePods, nodesAreNodes, deploymentsAreDeployments, leasesAreLeases, hpasAreV2, runtimeDescriptorsAreUntyped], [true, true, true, true, true, true, true]);
});

// ---- calls --------------------------------------------------------------------------------------

class Recording implements Transport {
  requests: TransportRequest[] = [];
  answer = '{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}';
  async request(req: TransportRequest): Promise<TransportResponse> {
    this.requests.push(req);
    return { status: 200, headers: {}, body: Buffer.from(this.answer) };
  }
  async watch(): Promise<WatchStream> {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

const callCases: { name: string; call: (cs: ReturnType<typeof clientset>) => Promise<unknown>; method: string; path: string }[] = [
  { name: 'get', call: (cs) => cs.pods.get('p', { namespace: 'd' }), method: 'GET', path: '/api/v1/namespaces/d/pods/p' },
  { name: 'list', call: (cs) => cs.deployments.list({ namespace: 'd' }), method: 'GET', path: '/apis/apps/v1/namespaces/d/deployments' },
  { name: 'create', call: (cs) => cs.pods.create({ metadata: { name: 'p', namespace: 'd' }, spec: { containers: [{ name: 'c' }] } }), method: 'POST', path: '/api/v1/namespaces/d/pods' },
  { name: 'update', call: (cs) => cs.nodes.update({ metadata: { name: 'n' } }), method: 'PUT', path: '/api/v1/nodes/n' },
  { name: 'updateStatus', call: (cs) => cs.pods.updateStatus({ metadata: { name: 'p', namespace: 'd' } }), method: 'PUT', path: '/api/v1/namespaces/d/pods/p/status' },
  { name: 'patch', call: (cs) => cs.configMaps.patch('c', { data: {} }, { type: 'merge', namespace: 'd' }), method: 'PATCH', path: '/api/v1/namespaces/d/configmaps/c' },
  { name: 'patchStatus', call: (cs) => cs.pods.patchStatus('p', {}, { type: 'strategic', namespace: 'd' }), method: 'PATCH', path: '/api/v1/namespaces/d/pods/p/status' },
  { name: 'delete', call: (cs) => cs.leases.delete('l', { namespace: 'kube-system' }), method: 'DELETE', path: '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l' },
  { name: 'deleteCollection', call: (cs) => cs.pods.deleteCollection({ namespace: 'd' }), method: 'DELETE', path: '/api/v1/namespaces/d/pods' },
];
for (const c of callCases) {
  test(`clientset ${c.name} goes to the resource's path`, async () => {
    const t = new Recording();
    await c.call(clientset(new RestClient(t)));
    assert.equal(t.requests.length, 1);
    assert.equal(t.requests[0]!.method, c.method);
    assert.equal(t.requests[0]!.path, c.path);
  });
}

test('a typed get returns the object, readable through its type', async () => {
  const cs = clientset(new RestClient(new Recording()));
  const pod = await cs.pods.get('p', { namespace: 'd' });
  assert.equal(pod.spec?.containers[0]?.image, 'i');
  assert.equal(cs.pods.resource, resources.pods);
});

test('resourceClient takes a caller-named type for a run-time descriptor', async () => {
  const t = new Recording();
  const widgets = resourceClient<ReturnType<typeof descriptor>, KubeObject & { spec?: { size?: number } }>(
    new RestClient(t),
    descriptor({ group: 'example.com', version: 'v1', resource: 'widgets', kind: 'Widget', namespaced: true }),
  );
  await widgets.get('w', { namespace: 'd' });
  assert.equal(t.requests[0]!.path, '/apis/example.com/v1/namespaces/d/widgets/w');
});

test('a typed informer is the shared informer of the resource', () => {
  const factory = new InformerFactory(new RestClient(new Recording()));
  const typed = factory.typedInformerFor(resources.pods);
  const untyped = factory.informerFor(resources.pods);
  assert.equal(typed as unknown, untyped as unknown);
  // The cache hands out Pods.
  const first: Pod | undefined = typed.store.list()[0];
  assert.equal(first, undefined);
});
