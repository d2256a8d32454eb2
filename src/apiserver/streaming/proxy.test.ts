import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoints, Pod, Service } from '../../api/index.ts';
import { StatusError } from '../../api/errors.ts';
import { isGlobalUnicast, podLocation, proxySubpath, serviceLocation } from './proxy.ts';

const pod = (ip: string | undefined, ports: number[] = []): Pod => ({
  metadata: { name: 'web' },
  spec: { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'x', ports: ports.map((containerPort) => ({ containerPort })) }] },
  status: ip ? { podIP: ip } : {},
});

const svc: Service = { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }] } };
const eps: Endpoints = {
  metadata: { name: 'web' },
  subsets: [
    { addresses: [{ ip: '10.42.0.5' }], ports: [{ name: 'http', port: 80 }] },
    { notReadyAddresses: [{ ip: '10.42.0.6' }], ports: [{ name: 'metrics', port: 9000 }] },
  ],
};

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusError);
    return `${err.status.code} ${err.status.message}`;
  }
  return 'no error';
}

const podCases = [
  { name: 'an explicit port is used as given', id: 'web:8000', pod: pod('10.42.0.7', [80]), want: { scheme: 'http', host: '10.42.0.7', port: '8000' } },
  { name: 'without a port the first declared container port is used', id: 'web', pod: pod('10.42.0.7', [81, 82]), want: { scheme: 'http', host: '10.42.0.7', port: '81' } },
  { name: 'without any declared port the scheme default applies', id: 'https:web:', pod: pod('10.42.0.7'), want: { scheme: 'https', host: '10.42.0.7', port: '' } },
];
for (const c of podCases) test(`pods/proxy: ${c.name}`, () => assert.deepEqual(podLocation(c.id, c.pod), c.want));

test('pods/proxy: a pod without an IP is refused with 400 address not allowed', () => {
  assert.equal(reason(() => podLocation('web:80', pod(undefined))), '400 address not allowed');
  assert.equal(reason(() => podLocation('web:80', pod('127.0.0.1'))), '400 address not allowed');
});

test('services/proxy: a port name or number picks the ready address of the matching endpoint port', () => {
  assert.deepEqual(serviceLocation('web:http', svc, eps), { scheme: 'http', host: '10.42.0.5', port: '80' });
  assert.deepEqual(serviceLocation('https:web:8080', svc, eps), { scheme: 'https', host: '10.42.0.5', port: '80' });
});

test('services/proxy: upstream’s 503s for no endpoints, no ready address and an unknown port number', () => {
  assert.equal(reason(() => serviceLocation('web:http', svc, { metadata: { name: 'web' } })), '503 no endpoints available for service "web"');
  assert.equal(reason(() => serviceLocation('web:metrics', svc, eps)), '503 no endpoints available for service "web:metrics"');
  assert.equal(reason(() => serviceLocation('web:1234', svc, eps)), '503 no service port 1234 found for service "web"');
});

test('the path after /proxy keeps its escaping and trailing slash; the query is kept', () => {
  assert.deepEqual(proxySubpath('/api/v1/namespaces/proxy/pods/proxy/proxy/a%2Fb/c/?x=1'), { path: '/a%2Fb/c/', search: '?x=1' });
  assert.deepEqual(proxySubpath('/api/v1/namespaces/default/pods/web/proxy'), { path: '/', search: '' });
  assert.deepEqual(proxySubpath('/api/v1/namespaces/default/pods/web/proxy/'), { path: '/', search: '' });
});

const ipCases: [string, boolean][] = [['10.42.0.5', true], ['127.0.0.1', false], ['0.0.0.0', false], ['169.254.1.1', false], ['224.0.0.1', false], ['fd00::1', true], ['::1', false], ['fe80::1', false], ['', false], ['300.1.1.1', false]];
for (const [ip, want] of ipCases) test(`isGlobalUnicast(${JSON.stringify(ip)}) is ${want}`, () => assert.equal(isGlobalUnicast(ip), want));
