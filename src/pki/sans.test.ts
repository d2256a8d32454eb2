import { test } from 'node:test';
import assert from 'node:assert/strict';
import type os from 'node:os';
import { canonicalIP, hostAddresses, parseSan, sameSans, servingSans, type San } from './sans.ts';
import { isCode } from '../util/errors.ts';

const parseCases: { name: string; in: string; want: San }[] = [
  { name: 'an IPv4 address is an IP SAN', in: '10.0.0.9', want: { type: 'ip', value: '10.0.0.9' } },
  { name: 'an expanded IPv6 address is compressed', in: '0:0:0:0:0:0:0:1', want: { type: 'ip', value: '::1' } },
  { name: 'an upper-case IPv6 address is lower-cased', in: 'FD00:0::ABCD', want: { type: 'ip', value: 'fd00::abcd' } },
  { name: 'a bracketed IPv6 address is accepted', in: '[fd00::1]', want: { type: 'ip', value: 'fd00::1' } },
  { name: 'an IPv6 zone is dropped', in: 'fe80::1%eth0', want: { type: 'ip', value: 'fe80::1' } },
  { name: 'a DNS name is lower-cased and loses its trailing dot', in: 'API.Example.COM.', want: { type: 'dns', value: 'api.example.com' } },
  { name: 'a wildcard DNS name is accepted', in: '*.example.com', want: { type: 'dns', value: '*.example.com' } },
  { name: 'a single-label host name is accepted', in: 'my-host', want: { type: 'dns', value: 'my-host' } },
];
for (const c of parseCases) test(c.name, () => assert.deepEqual(parseSan(c.in), c.want));

const badCases: { name: string; in: string }[] = [
  { name: 'a URL is not a SAN', in: 'https://example.com' },
  { name: 'a name with a space is not a SAN', in: 'my host' },
  { name: 'an empty string is not a SAN', in: '' },
  { name: 'a label starting with a dash is not a SAN', in: '-bad.example.com' },
  { name: 'a bare wildcard is not a SAN', in: '*' },
  { name: 'an IPv4 address with leading zeros is not a SAN', in: '010.0.0.1' },
];
for (const c of badCases) {
  test(c.name, () => assert.throws(() => parseSan(c.in), (e) => isCode(e, 'ERR_INVALID_CONFIG')));
}

test('canonicalIP answers undefined for a host name', () => assert.equal(canonicalIP('localhost'), undefined));

const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false): os.NetworkInterfaceInfo =>
  family === 'IPv4'
    ? { address, family, internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null }
    : { address, family, internal, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: null, scopeid: 0 };

test('hostAddresses keeps non-internal addresses and drops loopback and link-local ones', () => {
  const got = hostAddresses({
    lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
    eth0: [iface('192.0.2.2', 'IPv4'), iface('FD00:0:0::2', 'IPv6'), iface('fe80::fc:ff:fe00:1', 'IPv6')],
    veth1: [iface('febf::1', 'IPv6'), iface('169.254.3.4', 'IPv4')],
    cni0: [iface('10.42.0.1', 'IPv4')],
  });
  assert.deepEqual(got, ['192.0.2.2', 'fd00::2', '10.42.0.1']);
});

test('servingSans lists the fixed names, host names, addresses and extras once each, DNS names first', () => {
  const got = servingSans({ hostnames: ['Node-1'], addresses: ['192.0.2.2', '127.0.0.1'], sans: ['api.example.com', '192.0.2.2', '0:0::1', '203.0.113.7'] });
  assert.deepEqual(got.map((s) => `${s.type}:${s.value}`), [
    'dns:localhost',
    'dns:node-1',
    'dns:kubernetes',
    'dns:kubernetes.default',
    'dns:kubernetes.default.svc',
    'dns:kubernetes.default.svc.cluster.local',
    'dns:api.example.com',
    'ip:127.0.0.1',
    'ip:::1',
    'ip:10.43.0.1',
    'ip:192.0.2.2',
    'ip:203.0.113.7',
  ]);
});

test('servingSans uses the given service IP', () => {
  assert.ok(servingSans({ apiServiceIP: '10.96.0.1' }).some((s) => s.value === '10.96.0.1'));
  assert.ok(!servingSans({ apiServiceIP: '10.96.0.1' }).some((s) => s.value === '10.43.0.1'));
});

const sameCases: { name: string; a: San[]; b: San[]; want: boolean }[] = [
  { name: 'SAN sets in another order are the same', a: [{ type: 'dns', value: 'a' }, { type: 'ip', value: '::1' }], b: [{ type: 'ip', value: '0:0:0:0:0:0:0:1' }, { type: 'dns', value: 'A' }], want: true },
  { name: 'a SAN set with one more name differs', a: [{ type: 'dns', value: 'a' }], b: [{ type: 'dns', value: 'a' }, { type: 'dns', value: 'b' }], want: false },
  { name: 'a DNS SAN and an IP SAN with the same text differ', a: [{ type: 'dns', value: '1.2.3.4' }], b: [{ type: 'ip', value: '1.2.3.4' }], want: false },
];
for (const c of sameCases) test(c.name, () => assert.equal(sameSans(c.a, c.b), c.want));
