/** `/metrics/resource` text decodes to one node's points as metrics-server's decoder reads it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeResourceMetrics, parseSampleLine } from './decode.ts';

const text = `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="default",pod="web-1"} 4.5 1700000001000
container_cpu_usage_seconds_total{container="side",namespace="default",pod="web-1"} 0.25 1700000001000
container_cpu_usage_seconds_total{container="c",namespace="other",pod="half"} 1 1700000001000
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="default",pod="web-1"} 6.7108864e+07 1700000001000
container_memory_working_set_bytes{container="side",namespace="default",pod="web-1"} 4096 1700000001000
container_memory_working_set_bytes{container="c",namespace="other",pod="half"} 0 1700000001000
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="app",namespace="default",pod="web-1"} 1.6999e+09
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 1234.5 1700000002000
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.073741824e+09 1700000002000
# TYPE resource_scrape_error gauge
resource_scrape_error 0
`;

test('node and container points come from their series; other series are ignored', () => {
  const b = decodeResourceMetrics(text, 'node-1', 1);
  assert.deepEqual(b.nodes.get('node-1'), { startTimeMs: 0, timestampMs: 1700000002000, cumulativeCpu: 1234.5e9, memoryBytes: 1073741824 });
  assert.deepEqual(b.pods.get('default/web-1')?.get('app'), { startTimeMs: 1699900000000, timestampMs: 1700000001000, cumulativeCpu: 4.5e9, memoryBytes: 67108864 });
  assert.deepEqual([...b.pods.get('default/web-1')!.keys()], ['app', 'side']);
});

test('a pod with a container lacking CPU or memory is left out', () => {
  assert.equal(decodeResourceMetrics(text, 'node-1', 1).pods.has('other/half'), false);
});

test('samples without a timestamp take the request time; a node without memory is left out', () => {
  const b = decodeResourceMetrics('node_cpu_usage_seconds_total 10\ncontainer_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 2\ncontainer_memory_working_set_bytes{container="c",namespace="n",pod="p"} 3\n', 'node-1', 42);
  assert.equal(b.nodes.size, 0);
  assert.equal(b.pods.get('n/p')?.get('c')?.timestampMs, 42);
});

const lines: { name: string; line: string; want: ReturnType<typeof parseSampleLine> | RegExp }[] = [
  { name: 'a bare sample', line: 'up 1', want: { name: 'up', labels: {}, value: 1 } },
  { name: 'labels with escapes', line: 'm{a="x\\"y",b="1\\\\2",c="l\\n"} 2 5', want: { name: 'm', labels: { a: 'x"y', b: '1\\2', c: 'l\n' }, value: 2, timestampMs: 5 } },
  { name: 'a trailing comma in the labels', line: 'm{a="1",} 3', want: { name: 'm', labels: { a: '1' }, value: 3 } },
  { name: 'special values', line: 'm +Inf', want: { name: 'm', labels: {}, value: Infinity } },
  { name: 'an unterminated label value', line: 'm{a="1} 3', want: /unterminated label value/ },
  { name: 'a missing value', line: 'm{a="1"}', want: /missing value/ },
  { name: 'a bad value', line: 'm abc', want: /invalid value/ },
  { name: 'a bad timestamp', line: 'm 1 2.5', want: /invalid timestamp/ },
];
for (const c of lines) {
  test(`sample line: ${c.name}`, () => {
    if (c.want instanceof RegExp) assert.throws(() => parseSampleLine(c.line), c.want);
    else assert.deepEqual(parseSampleLine(c.line), c.want);
  });
}

test('a malformed line fails the whole answer', () => {
  assert.throws(() => decodeResourceMetrics('node_cpu_usage_seconds_total{ 1\n', 'n', 1));
});
