import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { services } from './core.ts';
import { allocateServiceAddresses, defaultNodePortRange, defaultServiceCIDR } from './core-services.ts';
import { create, make, oneHourLater, summary, update, type TestObject } from './core-testing.ts';

const svc = (spec: Record<string, unknown>, meta: KubeObject['metadata'] = {}) => make(services, { spec }, meta);
const web = { selector: { app: 'web' }, ports: [{ port: 80 }] };

// ---- defaulting --------------------------------------------------------------------------------

const defaultCases: { name: string; spec: Record<string, unknown>; want: Record<string, unknown> }[] = [
  {
    name: 'a minimal service becomes a single-stack IPv4 ClusterIP service with TCP ports',
    spec: web,
    want: {
      selector: { app: 'web' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    },
  },
  {
    name: 'a NodePort service also gets externalTrafficPolicy Cluster',
    spec: { ...web, type: 'NodePort' },
    want: {
      selector: { app: 'web' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      type: 'NodePort',
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    },
  },
  {
    name: 'a LoadBalancer service allocates load-balancer node ports by default',
    spec: { ports: [{ port: 443, targetPort: 'https', protocol: 'UDP' }], type: 'LoadBalancer' },
    want: {
      ports: [{ port: 443, targetPort: 'https', protocol: 'UDP' }],
      type: 'LoadBalancer',
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      allocateLoadBalancerNodePorts: true,
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    },
  },
  {
    name: 'ClientIP affinity gets the three-hour timeout',
    spec: { ...web, sessionAffinity: 'ClientIP' },
    want: {
      selector: { app: 'web' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
      type: 'ClusterIP',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    },
  },
  {
    name: 'an ExternalName service gets no IP family fields',
    spec: { type: 'ExternalName', externalName: 'example.com' },
    want: { type: 'ExternalName', externalName: 'example.com', sessionAffinity: 'None' },
  },
  {
    name: 'a headless service without a selector requires dual stack and lists both families',
    spec: { clusterIP: 'None', ports: [{ port: 53 }] },
    want: {
      clusterIP: 'None',
      clusterIPs: ['None'],
      ports: [{ port: 53, protocol: 'TCP', targetPort: 53 }],
      sessionAffinity: 'None',
      type: 'ClusterIP',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'RequireDualStack',
      ipFamilies: ['IPv4', 'IPv6'],
    },
  },
  {
    name: 'a requested clusterIP is copied into clusterIPs and gives the family',
    spec: { ...web, clusterIP: '10.43.0.10' },
    want: {
      selector: { app: 'web' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      clusterIP: '10.43.0.10',
      clusterIPs: ['10.43.0.10'],
      sessionAffinity: 'None',
      type: 'ClusterIP',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    },
  },
];
for (const c of defaultCases) {
  test(c.name, () => {
    const { obj, causes } = create(services, svc(c.spec));
    assert.deepEqual(obj['spec'], c.want);
    assert.deepEqual(obj['status'], { loadBalancer: {} });
    assert.deepEqual(summary(causes), []);
  });
}

test('defaulting a service twice changes nothing more', () => {
  const { obj } = create(services, svc({ ...web, type: 'LoadBalancer' }));
  const again = structuredClone(obj);
  services.default!(again);
  assert.deepEqual(again, obj);
});

test('status set by a creating client is dropped', () => {
  const { obj } = create(services, make(services, { spec: web, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }));
  assert.deepEqual(obj['status'], { loadBalancer: {} });
});

// ---- validation --------------------------------------------------------------------------------

const invalidCases: { name: string; spec: Record<string, unknown>; meta?: KubeObject['metadata']; want: string[] }[] = [
  { name: 'a service needs ports', spec: { selector: { a: 'b' } }, want: ['spec.ports: FieldValueRequired'] },
  { name: 'a port number must be in range', spec: { ports: [{ port: 70000 }] }, want: ['spec.ports[0].port: FieldValueInvalid', 'spec.ports[0].targetPort: FieldValueInvalid'] },
  {
    name: 'several ports must each be named',
    spec: { ports: [{ port: 80 }, { port: 443, name: 'https' }] },
    want: ['spec.ports[0].name: FieldValueRequired'],
  },
  {
    name: 'port names must be unique',
    spec: { ports: [{ port: 80, name: 'web' }, { port: 81, name: 'web' }] },
    want: ['spec.ports[1].name: FieldValueDuplicate'],
  },
  { name: 'the protocol must be TCP, UDP or SCTP', spec: { ports: [{ port: 80, protocol: 'HTTP' }] }, want: ['spec.ports[0].protocol: FieldValueNotSupported'] },
  { name: 'the type must be a known one', spec: { ports: [{ port: 80 }], type: 'Magic' }, want: ['spec.type: FieldValueNotSupported'] },
  {
    name: 'the same port and protocol twice is a duplicate',
    spec: { ports: [{ port: 80, name: 'a' }, { port: 80, name: 'b' }] },
    want: ['spec.ports[1]: FieldValueDuplicate'],
  },
  { name: 'selector values must be label values', spec: { ports: [{ port: 80 }], selector: { app: 'a b' } }, want: ['spec.selector: FieldValueInvalid'] },
  { name: 'an ExternalName service needs an externalName', spec: { type: 'ExternalName' }, want: ['spec.externalName: FieldValueRequired'] },
  { name: 'an externalName must be a DNS name', spec: { type: 'ExternalName', externalName: 'not_a_name' }, want: ['spec.externalName: FieldValueInvalid'] },
  { name: 'a ClusterIP service may not ask for node ports', spec: { ports: [{ port: 80, nodePort: 30080 }] }, want: ['spec.ports[0].nodePort: FieldValueForbidden'] },
  { name: 'a NodePort service may not be headless', spec: { ports: [{ port: 80 }], type: 'NodePort', clusterIP: 'None' }, want: ['spec.clusterIPs[0]: FieldValueInvalid'] },
  { name: 'a cluster IP must be an IP', spec: { ports: [{ port: 80 }], clusterIP: '10.43.0.300' }, want: ['spec.clusterIPs[0]: FieldValueInvalid'] },
  {
    name: 'clusterIPs without clusterIP are rejected',
    spec: { ports: [{ port: 80 }], clusterIPs: ['10.43.0.5'] },
    want: ['spec.clusterIPs: FieldValueInvalid'],
  },
  {
    name: 'an external IP may not be loopback',
    spec: { ports: [{ port: 80 }], externalIPs: ['127.0.0.1'] },
    want: ['spec.externalIPs[0]: FieldValueInvalid'],
  },
  {
    name: 'a LoadBalancer with local traffic needs a health check node port (allocation comes first)',
    spec: { ports: [{ port: 80 }], type: 'LoadBalancer', externalTrafficPolicy: 'Local' },
    want: ['spec.healthCheckNodePort: FieldValueRequired'],
  },
  {
    name: 'a ClusterIP service may not set externalTrafficPolicy',
    spec: { ports: [{ port: 80 }], externalTrafficPolicy: 'Local' },
    want: ['spec.externalTrafficPolicy: FieldValueInvalid'],
  },
  {
    name: 'ClientIP timeouts over a day are rejected',
    spec: { ports: [{ port: 80 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } } },
    want: ['spec.sessionAffinityConfig.clientIP.timeoutSeconds: FieldValueInvalid'],
  },
  {
    name: 'source ranges are only for load balancers',
    spec: { ports: [{ port: 80 }], loadBalancerSourceRanges: ['10.0.0.0/8'] },
    want: ['spec.LoadBalancerSourceRanges: FieldValueForbidden'],
  },
  {
    name: 'an unknown IP family policy is rejected',
    spec: { ports: [{ port: 80 }], ipFamilyPolicy: 'Maybe' },
    want: ['spec.ipFamilyPolicy: FieldValueNotSupported'],
  },
];
for (const c of invalidCases) {
  test(c.name, () => assert.deepEqual(summary(create(services, svc(c.spec, c.meta)).causes), c.want));
}

test('a port-number error reads as upstream', () => {
  const { causes } = create(services, svc({ ports: [{ port: 0, targetPort: 8080 }] }));
  assert.deepEqual(causes, [{ reason: 'FieldValueInvalid', field: 'spec.ports[0].port', message: 'Invalid value: 0: must be between 1 and 65535, inclusive' }]);
});

const validCases: { name: string; spec: Record<string, unknown> }[] = [
  { name: 'a plain ClusterIP service is valid', spec: web },
  { name: 'a headless service without ports is valid', spec: { clusterIP: 'None', selector: { app: 'db' } } },
  { name: 'an ExternalName service with a trailing dot is valid', spec: { type: 'ExternalName', externalName: 'db.example.com.' } },
  { name: 'a named target port is valid', spec: { ports: [{ port: 80, targetPort: 'http' }] } },
  { name: 'one port over TCP and UDP is valid', spec: { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }] } },
];
for (const c of validCases) test(c.name, () => assert.deepEqual(summary(create(services, svc(c.spec)).causes), []));

// ---- updates -----------------------------------------------------------------------------------

function stored(spec: Record<string, unknown>): TestObject {
  const { obj } = create(services, svc(spec));
  assert.deepEqual(allocateServiceAddresses(obj, [], { serviceCIDR: defaultServiceCIDR, nodePortRange: defaultNodePortRange }), []);
  return obj;
}

test('an update that omits the cluster IP keeps the allocated one', () => {
  const old = stored(web);
  const { obj, causes } = update(services, svc({ ...web, ports: [{ port: 8080 }] }), old);
  assert.deepEqual(summary(causes), []);
  assert.equal(obj['spec'].clusterIP, old['spec'].clusterIP);
  assert.deepEqual(obj['spec'].clusterIPs, old['spec'].clusterIPs);
});

test('the cluster IP may not change once set', () => {
  const old = stored(web);
  const { causes } = update(services, svc({ ...web, clusterIP: '10.43.9.9' }), old);
  assert.deepEqual(summary(causes), ['spec.clusterIPs[0]: FieldValueInvalid']);
  assert.match(causes[0]!.message!, /may not change once set/);
});

test('an update that omits node ports keeps them by port name', () => {
  const old = stored({ ports: [{ name: 'http', port: 80 }], type: 'NodePort' });
  const { obj, causes } = update(services, svc({ ports: [{ name: 'http', port: 80 }], type: 'NodePort' }), old);
  assert.deepEqual(summary(causes), []);
  assert.equal(obj['spec'].ports[0].nodePort, old['spec'].ports[0].nodePort);
});

test('changing a NodePort service to ClusterIP drops its node ports and external traffic policy', () => {
  const old = stored({ ...web, type: 'NodePort' });
  const next = structuredClone(old);
  next['spec'].type = 'ClusterIP';
  const { obj, causes } = update(services, next, old);
  assert.deepEqual(summary(causes), []);
  assert.equal(obj['spec'].ports[0].nodePort, undefined);
  assert.equal(obj['spec'].externalTrafficPolicy, undefined);
});

test('changing a service to ExternalName drops its cluster IPs and families', () => {
  const old = stored(web);
  const next = structuredClone(old);
  next['spec'].type = 'ExternalName';
  next['spec'].externalName = 'example.com';
  const { obj, causes } = update(services, next, old);
  assert.deepEqual(summary(causes), []);
  assert.equal(obj['spec'].clusterIP, undefined);
  assert.equal(obj['spec'].ipFamilies, undefined);
  assert.equal(obj['spec'].ipFamilyPolicy, undefined);
});

test('a main update keeps the stored status', () => {
  const old = stored({ ...web, type: 'LoadBalancer' });
  old['status'] = { loadBalancer: { ingress: [{ ip: '192.0.2.1', ipMode: 'VIP' }] } };
  const { obj } = update(services, { ...structuredClone(old), status: {} }, old);
  assert.deepEqual(obj['status'], old['status']);
});

test('a status update takes the load-balancer status and defaults its ipMode', () => {
  const old = stored({ ...web, type: 'LoadBalancer' });
  const next = structuredClone(old);
  next['status'] = { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } };
  next['spec'] = { type: 'ClusterIP' };
  const { obj, causes } = update(services, next, old, 'status');
  assert.deepEqual(summary(causes), []);
  assert.deepEqual(obj['status'], { loadBalancer: { ingress: [{ ip: '192.0.2.1', ipMode: 'VIP' }] } });
  assert.equal(obj['spec'].type, 'LoadBalancer');
});

test('load-balancer ingress on a ClusterIP service is forbidden', () => {
  const old = stored(web);
  const next = structuredClone(old);
  next['status'] = { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } };
  assert.deepEqual(summary(update(services, next, old, 'status').causes), ['status.loadBalancer.ingress: FieldValueForbidden']);
});

// ---- table and field selectors -----------------------------------------------------------------

test('the service table has upstream columns', () => {
  assert.deepEqual(
    services.table!.columns.map((c) => [c.name, c.priority]),
    [['Name', 0], ['Type', 0], ['Cluster-IP', 0], ['External-IP', 0], ['Port(s)', 0], ['Age', 0], ['Selector', 1]],
  );
});

const rowCases: { name: string; spec: Record<string, unknown>; status?: Record<string, unknown>; want: unknown[] }[] = [
  {
    name: 'a ClusterIP service row shows its IP, no external IP and its ports',
    spec: { type: 'ClusterIP', clusterIPs: ['10.43.1.1'], ports: [{ port: 80, protocol: 'TCP' }], selector: { b: '2', a: '1' } },
    want: ['x', 'ClusterIP', '10.43.1.1', '<none>', '80/TCP', '60m', 'a=1,b=2'],
  },
  {
    name: 'a NodePort service row shows port:nodePort',
    spec: { type: 'NodePort', clusterIPs: ['10.43.1.2'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] },
    want: ['x', 'NodePort', '10.43.1.2', '<none>', '80:30080/TCP,53/UDP', '60m', '<none>'],
  },
  {
    name: 'a LoadBalancer without an address is pending',
    spec: { type: 'LoadBalancer', clusterIPs: ['10.43.1.3'], ports: [] },
    want: ['x', 'LoadBalancer', '10.43.1.3', '<pending>', '<none>', '60m', '<none>'],
  },
  {
    name: 'a LoadBalancer lists ingress addresses sorted, then external IPs',
    spec: { type: 'LoadBalancer', clusterIPs: ['10.43.1.3'], externalIPs: ['198.51.100.1'], ports: [] },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.9' }, { hostname: 'lb.example.com' }] } },
    want: ['x', 'LoadBalancer', '10.43.1.3', '192.0.2.9,lb.example.com,198.51.100.1', '<none>', '60m', '<none>'],
  },
  {
    name: 'an ExternalName service shows its name and no cluster IP',
    spec: { type: 'ExternalName', externalName: 'example.com' },
    want: ['x', 'ExternalName', '<none>', 'example.com', '<none>', '60m', '<none>'],
  },
];
for (const c of rowCases) {
  test(c.name, () => assert.deepEqual(services.table!.row(make(services, { spec: c.spec, status: c.status ?? {} }), oneHourLater), c.want));
}

test('services can be selected by spec.clusterIP and spec.type', () => {
  const o = svc({ clusterIP: 'None', type: 'ClusterIP' });
  assert.equal(services.fieldSelectors!['spec.clusterIP']!(o), 'None');
  assert.equal(services.fieldSelectors!['spec.type']!(o), 'ClusterIP');
  assert.deepEqual(Object.keys(services.fieldSelectors!).sort(), ['spec.clusterIP', 'spec.type']);
});

// ---- allocation --------------------------------------------------------------------------------

const opts = { serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767] as [number, number] };

function ready(spec: Record<string, unknown>, meta: KubeObject['metadata'] = {}): TestObject {
  return create(services, svc(spec, meta)).obj;
}

function existing(name: string, clusterIP: string, nodePorts: number[] = []): KubeObject {
  return make(services, { spec: { clusterIP, clusterIPs: [clusterIP], ports: nodePorts.map((p, i) => ({ port: 80 + i, nodePort: p })) } }, { name });
}

test('the kubernetes service gets the first address of the range', () => {
  const s = ready({ ports: [{ port: 443 }] }, { name: 'kubernetes', namespace: 'default' });
  assert.deepEqual(allocateServiceAddresses(s, [], opts), []);
  assert.equal(s['spec'].clusterIP, '10.43.0.1');
  assert.deepEqual(s['spec'].clusterIPs, ['10.43.0.1']);
});

test('other services get the first free address above the reserved low band', () => {
  const s = ready(web);
  assert.deepEqual(allocateServiceAddresses(s, [existing('kubernetes', '10.43.0.1'), existing('a', '10.43.1.1')], opts), []);
  assert.equal(s['spec'].clusterIP, '10.43.1.2');
});

test('a requested address that is free is kept', () => {
  const s = ready({ ...web, clusterIP: '10.43.0.10' });
  assert.deepEqual(allocateServiceAddresses(s, [existing('kubernetes', '10.43.0.1')], opts), []);
  assert.deepEqual(s['spec'].clusterIPs, ['10.43.0.10']);
});

test('a requested address another service holds is refused as upstream words it', () => {
  const s = ready({ ...web, clusterIP: '10.43.0.10' });
  assert.deepEqual(allocateServiceAddresses(s, [existing('kube-dns', '10.43.0.10')], opts), [
    {
      reason: 'FieldValueInvalid',
      field: 'spec.clusterIPs',
      message: 'Invalid value: ["10.43.0.10"]: failed to allocate IP 10.43.0.10: provided IP is already allocated',
    },
  ]);
});

test('a requested address outside the range is refused', () => {
  const s = ready({ ...web, clusterIP: '10.0.0.5' });
  const causes = allocateServiceAddresses(s, [], opts);
  assert.deepEqual(summary(causes), ['spec.clusterIPs: FieldValueInvalid']);
  assert.equal(
    causes[0]!.message,
    'Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16',
  );
});

test('an update re-checking its own address does not conflict with its stored self', () => {
  const s = ready({ ...web, clusterIP: '10.43.0.10' }, { name: 'dns' });
  assert.deepEqual(allocateServiceAddresses(s, [existing('dns', '10.43.0.10')], opts), []);
});

test('headless and ExternalName services get no address', () => {
  const headless = ready({ clusterIP: 'None', selector: { a: 'b' } });
  const ext = ready({ type: 'ExternalName', externalName: 'example.com' });
  assert.deepEqual(allocateServiceAddresses(headless, [], opts), []);
  assert.deepEqual(allocateServiceAddresses(ext, [], opts), []);
  assert.deepEqual(headless['spec'].clusterIPs, ['None']);
  assert.equal(ext['spec'].clusterIP, undefined);
});

test('dual stack is refused on a single-stack cluster', () => {
  const s = ready({ ...web, ipFamilyPolicy: 'RequireDualStack' });
  assert.deepEqual(summary(allocateServiceAddresses(s, [], opts)), ['spec.ipFamilyPolicy: FieldValueInvalid']);
});

test('a dual-stack cluster gives PreferDualStack services an address per family', () => {
  const s = ready({ ...web, ipFamilyPolicy: 'PreferDualStack' });
  assert.deepEqual(allocateServiceAddresses(s, [], { ...opts, serviceCIDR: '10.43.0.0/16,fd00:43::/112' }), []);
  assert.deepEqual(s['spec'].ipFamilies, ['IPv4', 'IPv6']);
  assert.deepEqual(s['spec'].clusterIPs, ['10.43.1.1', 'fd00:43::101']);
});

test('node ports are allocated from the upper band, one per service port', () => {
  const s = ready({ ports: [{ name: 'a', port: 80 }, { name: 'b', port: 443 }], type: 'NodePort' });
  assert.deepEqual(allocateServiceAddresses(s, [existing('other', '10.43.1.1', [30086])], opts), []);
  assert.deepEqual(s['spec'].ports.map((p: { nodePort: number }) => p.nodePort), [30087, 30088]);
});

test('one port number over two protocols shares its node port', () => {
  const s = ready({ ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }], type: 'NodePort' });
  assert.deepEqual(allocateServiceAddresses(s, [], opts), []);
  assert.equal(s['spec'].ports[0].nodePort, s['spec'].ports[1].nodePort);
});

test('a requested node port another service holds is refused', () => {
  const s = ready({ ports: [{ port: 80, nodePort: 30080 }], type: 'NodePort' });
  assert.deepEqual(allocateServiceAddresses(s, [existing('other', '10.43.1.1', [30080])], opts), [
    { reason: 'FieldValueInvalid', field: 'spec.ports[0].nodePort', message: 'Invalid value: 30080: provided port is already allocated' },
  ]);
});

test('a requested node port outside the range is refused', () => {
  const s = ready({ ports: [{ port: 80, nodePort: 8080 }], type: 'NodePort' });
  assert.deepEqual(allocateServiceAddresses(s, [], opts), [
    {
      reason: 'FieldValueInvalid',
      field: 'spec.ports[0].nodePort',
      message: 'Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
    },
  ]);
});

test('a LoadBalancer with local traffic policy gets a health check node port, then validates', () => {
  const s = ready({ ...web, type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
  assert.deepEqual(allocateServiceAddresses(s, [], opts), []);
  assert.equal(typeof s['spec'].healthCheckNodePort, 'number');
  assert.notEqual(s['spec'].healthCheckNodePort, s['spec'].ports[0].nodePort);
  assert.deepEqual(summary(services.validate!(s, { subresource: '' })), []);
});

test('a LoadBalancer that opts out of node ports gets none', () => {
  const s = ready({ ...web, type: 'LoadBalancer', allocateLoadBalancerNodePorts: false });
  assert.deepEqual(allocateServiceAddresses(s, [], opts), []);
  assert.equal(s['spec'].ports[0].nodePort, undefined);
});
