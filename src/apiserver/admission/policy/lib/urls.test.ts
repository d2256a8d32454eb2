import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalCel } from '../testing.ts';

const cases: { name: string; expr: string; want?: unknown; error?: string }[] = [
  { name: 'scheme', expr: "url('https://example.com/').getScheme()", want: 'https' },
  { name: 'no scheme for a path', expr: "url('/path').getScheme()", want: '' },
  { name: 'host with a port', expr: "url('https://example.com:80/').getHost()", want: 'example.com:80' },
  { name: 'IPv6 host keeps its brackets', expr: "url('https://[::1]:80/').getHost()", want: '[::1]:80' },
  { name: 'hostname without port', expr: "url('https://example.com:80/').getHostname()", want: 'example.com' },
  { name: 'IPv6 hostname without brackets', expr: "url('https://[::1]:80/').getHostname()", want: '::1' },
  { name: 'port', expr: "url('https://example.com:80/').getPort()", want: '80' },
  { name: 'no port', expr: "url('https://example.com/').getPort()", want: '' },
  { name: 'escaped path', expr: "url('https://example.com/path with spaces/').getEscapedPath()", want: '/path%20with%20spaces/' },
  { name: 'empty path', expr: "url('https://example.com').getEscapedPath()", want: '' },
  { name: 'query in matrix form', expr: "url('https://example.com/path?k1=a&k2=b&k2=c').getQuery() == {'k1': ['a'], 'k2': ['b', 'c']}", want: true },
  { name: 'query keys and values unescaped', expr: "url('https://example.com/path?key with spaces=value+x').getQuery()['key with spaces'][0]", want: 'value x' },
  { name: 'empty query', expr: "url('https://example.com/path?').getQuery().size()", want: 0n },
  { name: 'isURL for an absolute URL and path', expr: "isURL('https://user:pass@example.com:80/path?query=val#fragment') && isURL('/absolute-path')", want: true },
  { name: 'isURL refuses bad ports and relative paths', expr: "isURL('https://a:b:c/') || isURL('../relative-path')", want: false },
  { name: 'a bad URL is Go’s error', expr: "url('https://a:b:c/')", error: 'URL parse error during conversion from string: parse "https://a:b:c/": invalid port ":c" after host' },
  { name: 'a relative URL is refused', expr: "url('../x')", error: 'URL parse error during conversion from string: parse "../x": invalid URI for request' },
];

for (const c of cases) {
  test(c.name, () => {
    const r = evalCel(c.expr);
    if (c.error !== undefined) assert.equal(r.error, c.error);
    else assert.deepEqual(r.value, c.want, r.error);
  });
}
