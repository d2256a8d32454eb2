/** Where a node agent is reached (metrics-server's address types and node status port) and the resolution setting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../api/index.ts';
import { resourceMetricsUrl } from './kubelet.ts';
import { metricResolutionFromEnv } from './index.ts';
import { parseDurationMs } from '../api/duration.ts';

const node = (addresses: { type: string; address: string }[], port?: number, annotations?: Record<string, string>): Node => ({
  metadata: { name: 'n', annotations },
  status: { addresses, daemonEndpoints: port === undefined ? undefined : { kubeletEndpoint: { Port: port } } },
});

const cases: { name: string; node: Node; want: string | RegExp }[] = [
  { name: 'the InternalIP and the node status port', node: node([{ type: 'Hostname', address: 'h' }, { type: 'InternalIP', address: '10.0.0.1' }], 12345), want: 'https://10.0.0.1:12345/metrics/resource' },
  { name: 'port 10250 when the status has none', node: node([{ type: 'InternalIP', address: '10.0.0.1' }]), want: 'https://10.0.0.1:10250/metrics/resource' },
  { name: 'an ExternalIP before a Hostname', node: node([{ type: 'Hostname', address: 'h' }, { type: 'ExternalIP', address: '1.2.3.4' }], 1), want: 'https://1.2.3.4:1/metrics/resource' },
  { name: 'an IPv6 address in brackets', node: node([{ type: 'InternalIP', address: 'fd00::1' }], 10250), want: 'https://[fd00::1]:10250/metrics/resource' },
  { name: 'the resource-metrics-path annotation', node: node([{ type: 'Hostname', address: 'h' }], 10250, { 'metrics.k8s.io/resource-metrics-path': '/custom/path' }), want: 'https://h:10250/custom/path' },
  { name: 'no usable address is an error', node: node([{ type: 'InternalDNS', address: 'x' }]), want: /node n had no addresses that matched types \[InternalIP ExternalIP Hostname\]/ },
];
for (const c of cases) {
  test(`node agent URL: ${c.name}`, () => {
    if (c.want instanceof RegExp) assert.throws(() => resourceMetricsUrl(c.node), c.want);
    else assert.equal(resourceMetricsUrl(c.node).href, c.want);
  });
}

test('BOSUN_METRIC_RESOLUTION is a Go duration; unset means the default; nonsense fails', () => {
  assert.equal(metricResolutionFromEnv({}), undefined);
  assert.equal(metricResolutionFromEnv({ BOSUN_METRIC_RESOLUTION: '2s' }), 2000);
  assert.equal(metricResolutionFromEnv({ BOSUN_METRIC_RESOLUTION: '1m30s' }), 90_000);
  assert.throws(() => metricResolutionFromEnv({ BOSUN_METRIC_RESOLUTION: '15' }), /not a positive duration/);
  assert.throws(() => metricResolutionFromEnv({ BOSUN_METRIC_RESOLUTION: '0s' }), /not a positive duration/);
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('1.5h'), 5_400_000);
});
