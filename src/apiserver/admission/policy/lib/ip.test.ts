import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalCel } from '../testing.ts';
import { formatIP, parseIP } from './ip.ts';

const cases: { name: string; expr: string; want?: unknown; error?: string }[] = [
  { name: 'family of IPv4 and IPv6', expr: "ip('127.0.0.1').family() == 4 && ip('::1').family() == 6", want: true },
  { name: 'isIP', expr: "isIP('127.0.0.1') && isIP('::1') && !isIP('127.0.0.256') && !isIP(':::1') && !isIP('01.2.3.4')", want: true },
  { name: 'canonical forms', expr: "ip.isCanonical('2001:db8::abcd') && !ip.isCanonical('2001:DB8::ABCD') && !ip.isCanonical('2001:db8::0:0:0:abcd')", want: true },
  { name: 'string of an IP is canonical', expr: "string(ip('2001:DB8::0:1'))", want: '2001:db8::1' },
  { name: 'loopback and unspecified', expr: "ip('127.0.0.1').isLoopback() && ip('::1').isLoopback() && ip('0.0.0.0').isUnspecified() && ip('::').isUnspecified()", want: true },
  { name: 'link-local', expr: "ip('169.254.169.254').isLinkLocalUnicast() && ip('fe80::1').isLinkLocalUnicast() && ip('224.0.0.1').isLinkLocalMulticast() && ip('ff02::1').isLinkLocalMulticast()", want: true },
  { name: 'global unicast', expr: "ip('192.168.0.1').isGlobalUnicast() && !ip('255.255.255.255').isGlobalUnicast() && ip('2001:db8::abcd').isGlobalUnicast() && !ip('ff00::1').isGlobalUnicast()", want: true },
  { name: 'cidr contains an IP and a string', expr: "cidr('10.0.0.0/8').containsIP(ip('10.1.2.3')) && cidr('10.0.0.0/8').containsIP('10.255.0.1') && !cidr('10.0.0.0/8').containsIP('11.0.0.1')", want: true },
  { name: 'cidr contains a CIDR', expr: "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16') && !cidr('10.1.0.0/16').containsCIDR('10.0.0.0/8')", want: true },
  { name: 'cidr parts', expr: "cidr('192.168.1.5/24').prefixLength() == 24 && string(cidr('192.168.1.5/24').masked()) == '192.168.1.0/24' && string(cidr('192.168.1.5/24').ip()) == '192.168.1.5'", want: true },
  { name: 'isCIDR', expr: "isCIDR('10.0.0.0/8') && !isCIDR('10.0.0.0/33') && !isCIDR('10.0.0.0')", want: true },
  { name: 'IPv4-mapped IPv6 is refused', expr: "ip('::ffff:1.2.3.4')", error: 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed' },
  { name: 'zones are refused', expr: "ip('fe80::1%eth0')", error: 'IP address "fe80::1%eth0" with zone value is not allowed' },
];

for (const c of cases) {
  test(c.name, () => {
    const r = evalCel(c.expr);
    if (c.error !== undefined) assert.equal(r.error, c.error);
    else assert.deepEqual(r.value, c.want, r.error);
  });
}

test('IPv6 formatting follows RFC 5952', () => {
  assert.equal(formatIP(parseIP('2001:0db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  assert.equal(formatIP(parseIP('::')), '::');
  assert.equal(formatIP(parseIP('1:0:0:0:0:0:0:0')), '1::');
  assert.equal(formatIP(parseIP('1:0:1:1:1:1:1:1')), '1:0:1:1:1:1:1:1');
});
