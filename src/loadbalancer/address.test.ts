/** host:port parsing and the address of a --server URL. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOfUrl, joinHostPort, splitHostPort } from './address.ts';

const splits: { name: string; in: string; want: { host: string; port: number } | RegExp }[] = [
  { name: 'an IPv4 address', in: '10.0.0.1:6443', want: { host: '10.0.0.1', port: 6443 } },
  { name: 'a host name', in: 'server-1.example:443', want: { host: 'server-1.example', port: 443 } },
  { name: 'a bracketed IPv6 address', in: '[fd00::1]:6443', want: { host: 'fd00::1', port: 6443 } },
  { name: 'no port', in: '10.0.0.1', want: /invalid server address "10.0.0.1": want host:port/ },
  { name: 'an unbracketed IPv6 address', in: 'fd00::1:6443', want: /invalid server address/ },
  { name: 'port 0', in: 'h:0', want: /invalid server address/ },
  { name: 'a port over 65535', in: 'h:65536', want: /invalid server address/ },
  { name: 'no host', in: ':80', want: /invalid server address/ },
];
for (const c of splits) {
  test(`splitHostPort: ${c.name}`, () => {
    if (c.want instanceof RegExp) assert.throws(() => splitHostPort(c.in), c.want);
    else assert.deepEqual(splitHostPort(c.in), c.want);
  });
}

test('joinHostPort brackets IPv6 hosts only', () => {
  assert.equal(joinHostPort('10.0.0.1', 6443), '10.0.0.1:6443');
  assert.equal(joinHostPort('fd00::1', 6443), '[fd00::1]:6443');
  assert.equal(joinHostPort('localhost', '6444'), 'localhost:6444');
});

test('addressOfUrl: the host and port an https URL connects to, 443 by default', () => {
  assert.equal(addressOfUrl('https://10.0.0.1:6443'), '10.0.0.1:6443');
  assert.equal(addressOfUrl('https://server.example'), 'server.example:443');
  assert.equal(addressOfUrl('https://[fd00::1]:6443/'), '[fd00::1]:6443');
  assert.throws(() => addressOfUrl('http://10.0.0.1:6443'), /server URL must be https: http:\/\/10.0.0.1:6443/);
  assert.throws(() => addressOfUrl('not a url'), /invalid server URL "not a url"/);
});
