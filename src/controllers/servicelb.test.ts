/**
 * ServiceLB: which nodes and addresses make the ingress (tables), then the controller against
 * the in-process API server on a temporary SQLite store (only `servicelb` runs).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Service } from '../api/index.ts';
import type { Clientset, RestClient } from '../client/index.ts';
import { runControllerManager } from './manager.ts';
import { EXCLUDE_FROM_LB_LABEL, isLoadBalancerNode, loadBalancerIngress, wantsLoadBalancer } from './servicelb.ts';
import { startTestApi, type TestApi } from './testing.ts';

function node(name: string, ip: string, o: { ready?: string; unschedulable?: boolean; labels?: Record<string, string>; extra?: { type: string; address: string }[] } = {}): Node {
  return {
    metadata: { name, labels: o.labels },
    spec: { unschedulable: o.unschedulable },
    status: {
      conditions: [{ type: 'Ready', status: o.ready ?? 'True' }],
      addresses: [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: ip }, ...(o.extra ?? [])],
    },
  };
}

const cases: { name: string; nodes: Node[]; want: string[] }[] = [
  { name: 'one Ready node: its InternalIP', nodes: [node('a', '10.42.0.1')], want: ['10.42.0.1'] },
  { name: 'sorted by address, numerically', nodes: [node('b', '10.0.0.10'), node('a', '10.0.0.9')], want: ['10.0.0.9', '10.0.0.10'] },
  { name: 'NotReady and Unknown nodes are left out', nodes: [node('a', '10.0.0.1', { ready: 'False' }), node('b', '10.0.0.2', { ready: 'Unknown' }), node('c', '10.0.0.3')], want: ['10.0.0.3'] },
  { name: 'cordoned nodes are left out', nodes: [node('a', '10.0.0.1', { unschedulable: true }), node('b', '10.0.0.2')], want: ['10.0.0.2'] },
  { name: 'nodes labelled exclude-from-external-load-balancers are left out', nodes: [node('a', '10.0.0.1', { labels: { [EXCLUDE_FROM_LB_LABEL]: '' } }), node('b', '10.0.0.2')], want: ['10.0.0.2'] },
  { name: 'only InternalIPs count, duplicates once', nodes: [node('a', '10.0.0.1', { extra: [{ type: 'ExternalIP', address: '203.0.113.1' }, { type: 'InternalIP', address: '10.0.0.1' }] })], want: ['10.0.0.1'] },
  { name: 'no nodes: no ingress (the Service stays pending)', nodes: [], want: [] },
];
for (const c of cases) {
  test(c.name, () => {
    const got = loadBalancerIngress(c.nodes);
    assert.deepEqual(got, c.want.map((ip) => ({ ip, ipMode: 'VIP' })));
  });
}

test('a node without a Ready condition is not a load-balancer node', () => {
  assert.equal(isLoadBalancerNode({ metadata: { name: 'x' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } }), false);
});

test('only LoadBalancer Services without a loadBalancerClass are ServiceLB\'s', () => {
  const s = (spec: Service['spec']): Service => ({ metadata: { name: 's', namespace: 'd' }, spec });
  assert.equal(wantsLoadBalancer(s({ type: 'LoadBalancer', ports: [{ port: 80 }] })), true);
  assert.equal(wantsLoadBalancer(s({ type: 'LoadBalancer', loadBalancerClass: 'example.com/other', ports: [{ port: 80 }] })), false);
  assert.equal(wantsLoadBalancer(s({ type: 'NodePort', ports: [{ port: 80 }] })), false);
  assert.equal(wantsLoadBalancer(s({ ports: [{ port: 80 }] })), false);
});

describe('servicelb controller', () => {
  let testApi: TestApi | undefined;
  let client: RestClient;
  let cs: Clientset;
  const ac = new AbortController();
  let done: Promise<void> = Promise.resolve();

  const until = async <T>(what: string, fn: () => Promise<T | undefined | false>): Promise<T> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const ingress = async (name: string) => ((await cs.services.get(name, { namespace: 'default' })).status?.loadBalancer?.ingress ?? []).map((i) => `${i.ip}/${i.ipMode}`).join(',');
  const reasons = async (name: string) => (await cs.events.list({ namespace: 'default' })).items.filter((e) => e.involvedObject?.name === name).map((e) => `${e.source?.component}:${e.reason}`);
  const addNode = async (name: string, ip: string) => {
    const n = await cs.nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
    await cs.nodes.updateStatus({ ...n, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: ip }] } });
  };
  const lb = (name: string, extra: Partial<NonNullable<Service['spec']>> = {}): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...extra } });

  before(async () => {
    testApi = await startTestApi('servicelb-test');
    ({ client, cs } = testApi);
    done = runControllerManager({ client, identity: 'servicelb-test', enabled: ['servicelb'] }, ac.signal);
  });
  after(async () => {
    ac.abort();
    await done;
    await testApi?.close();
  });

  test('a LoadBalancer Service gets the Ready nodes\' addresses, follows node changes, and is cleared when it stops being one', async () => {
    await addNode('n1', '10.0.0.2');
    await cs.services.create(lb('web'), { namespace: 'default' });
    await cs.services.create(lb('other', { loadBalancerClass: 'example.com/lb' }), { namespace: 'default' });
    await until('the ingress of web', async () => (await ingress('web')) === '10.0.0.2/VIP');
    await until('EnsuringLoadBalancer and EnsuredLoadBalancer', async () => {
      const r = await reasons('web');
      return r.includes('service-controller:EnsuringLoadBalancer') && r.includes('service-controller:EnsuredLoadBalancer');
    });
    await addNode('n0', '10.0.0.1');
    await until('both nodes, in address order', async () => (await ingress('web')) === '10.0.0.1/VIP,10.0.0.2/VIP');
    await until('UpdatedLoadBalancer', async () => (await reasons('web')).includes('service-controller:UpdatedLoadBalancer'));
    await cs.nodes.delete('n0');
    await until('the deleted node gone from the ingress', async () => (await ingress('web')) === '10.0.0.2/VIP');
    // The other class's Service was seen (web's sync ran after both were created) and left alone.
    assert.equal(await ingress('other'), '');
    assert.deepEqual(await reasons('other'), []);
    const web = await cs.services.get('web', { namespace: 'default' });
    await cs.services.update({ ...web, spec: { ...web.spec, type: 'ClusterIP', externalTrafficPolicy: undefined, allocateLoadBalancerNodePorts: undefined, ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] } }, { namespace: 'default' });
    await until('DeletingLoadBalancer and DeletedLoadBalancer', async () => {
      const r = await reasons('web');
      return r.includes('service-controller:DeletingLoadBalancer') && r.includes('service-controller:DeletedLoadBalancer');
    });
    assert.equal(await ingress('web'), '');
  });
});
