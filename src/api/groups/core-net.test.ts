import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIP, formatCIDR, parseCIDR, parseIP, validateNonSpecialIP } from './core-net.ts';

const ipCases: { name: string; in: string; want: string | undefined; family?: string }[] = [
  { name: 'a dotted quad parses', in: '10.43.0.1', want: '10.43.0.1', family: 'IPv4' },
  { name: 'leading zeros are tolerated as upstream’s legacy parser does', in: '010.043.000.001', want: '10.43.0.1', family: 'IPv4' },
  { name: 'an octet over 255 is not an address', in: '10.43.0.256', want: undefined },
  { name: 'IPv6 is compressed and lower-cased', in: 'FD00:0:0:0:0:0:0:A', want: 'fd00::a', family: 'IPv6' },
  { name: 'the longest zero run is the one compressed', in: '1:0:0:2:0:0:0:3', want: '1:0:0:2::3', family: 'IPv6' },
  { name: 'an IPv4-mapped address counts as IPv4', in: '::ffff:192.0.2.1', want: '192.0.2.1', family: 'IPv4' },
  { name: 'a zone is not part of an address', in: 'fe80::1%eth0', want: undefined },
  { name: 'two double colons are not an address', in: '1::2::3', want: undefined },
  { name: 'a name is not an address', in: 'example.com', want: undefined },
];
for (const c of ipCases) {
  test(c.name, () => {
    assert.equal(canonicalIP(c.in), c.want);
    if (c.family) assert.equal(parseIP(c.in)?.family, c.family);
  });
}

test('a CIDR is reduced to its network address', () => {
  const c = parseCIDR('10.43.7.9/16')!;
  assert.equal(formatCIDR(c), '10.43.0.0/16');
  assert.equal(c.size, 65536n);
  assert.equal(parseCIDR('10.43.0.0/33'), undefined);
  assert.equal(formatCIDR(parseCIDR('fd00:43::/112')!), 'fd00:43::/112');
});

const specialCases: { name: string; ip: string; want: number }[] = [
  { name: 'a routable address is not special', ip: '10.0.0.1', want: 0 },
  { name: 'the unspecified address is special', ip: '0.0.0.0', want: 1 },
  { name: 'IPv6 loopback is special', ip: '::1', want: 1 },
  { name: 'link-local unicast is special', ip: '169.254.169.254', want: 1 },
  { name: 'IPv6 link-local multicast is special', ip: 'ff02::1', want: 1 },
];
for (const c of specialCases) test(c.name, () => assert.equal(validateNonSpecialIP(c.ip, 'ip').length, c.want));
