/** `/metrics/resource` rendered from a summary as the kubelet's resource metrics collector writes it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatValue, renderResourceMetrics } from './resourcemetrics.ts';

const at = 1700000000123;

test('node, container and pod series with upstream names, help, labels and the summary time', () => {
  const text = renderResourceMetrics(
    {
      node: { cpu: { usageCoreNanoSeconds: 1_234_500_000_000 }, memory: { workingSetBytes: 1073741824 } },
      pods: [
        {
          podRef: { name: 'web', namespace: 'default' },
          cpu: { usageCoreNanoSeconds: 2_500_000_000 },
          memory: { workingSetBytes: 8192 },
          containers: [
            { name: 'b', startTime: '2024-01-01T00:00:00Z', cpu: { usageCoreNanoSeconds: 2_000_000_000 }, memory: { workingSetBytes: 4096 } },
            { name: 'a', startTime: '2024-01-01T00:00:01Z', cpu: { usageCoreNanoSeconds: 500_000_000 }, memory: { workingSetBytes: 4096 } },
          ],
        },
      ],
    },
    at,
  );
  assert.equal(
    text,
    `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="a",namespace="default",pod="web"} 0.5 ${at}
container_cpu_usage_seconds_total{container="b",namespace="default",pod="web"} 2 ${at}
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="a",namespace="default",pod="web"} 4096 ${at}
container_memory_working_set_bytes{container="b",namespace="default",pod="web"} 4096 ${at}
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="a",namespace="default",pod="web"} 1.704067201e+09
container_start_time_seconds{container="b",namespace="default",pod="web"} 1.7040672e+09
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 1234.5 ${at}
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.073741824e+09 ${at}
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace="default",pod="web"} 2.5 ${at}
# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes
# TYPE pod_memory_working_set_bytes gauge
pod_memory_working_set_bytes{namespace="default",pod="web"} 8192 ${at}
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
`,
  );
});

test('a failed summary is only the scrape errors, set', () => {
  assert.equal(renderResourceMetrics(undefined, at).split('\n').filter((l) => !l.startsWith('#') && l).join('\n'), 'resource_scrape_error 1\nscrape_error 1');
});

test('label values are escaped', () => {
  const text = renderResourceMetrics({ pods: [{ podRef: { name: 'p"x', namespace: 'n\\s' }, containers: [{ name: 'c\n', memory: { workingSetBytes: 1 } }] }] }, at);
  assert.match(text, /container_memory_working_set_bytes\{container="c\\n",namespace="n\\\\s",pod="p\\"x"\} 1 /);
});

const values: { v: number; want: string }[] = [
  { v: 0, want: '0' },
  { v: 0.5, want: '0.5' },
  { v: 999999, want: '999999' },
  { v: 1e6, want: '1e+06' },
  { v: 67108864, want: '6.7108864e+07' },
  { v: 0.0001, want: '0.0001' },
  { v: 0.00001, want: '1e-05' },
  { v: Infinity, want: '+Inf' },
];
for (const c of values) test(`${c.v} is written as Go writes it (${c.want})`, () => assert.equal(formatValue(c.v), c.want));
