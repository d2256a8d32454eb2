/**
 * `kubectl get hpa`'s TARGETS cell as the server prints it (upstream's formatHPAMetrics): each
 * metric spec against the status entry at its index, resource names before resource metrics,
 * `<unknown>` before the first sync, `(avg)` for averaged object and external targets, at most
 * two entries and `+ N more...`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHpaMetrics } from '../api/groups/autoscaling.ts';

const cpu = (t: number) => ({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: t } } });
const mem = (v: string) => ({ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: v } } });
const pods = { type: 'Pods', pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '10' } } };
const ext = { type: 'External', external: { metric: { name: 'queue' }, target: { type: 'AverageValue', averageValue: '30' } } };
const obj = { type: 'Object', object: { describedObject: { kind: 'Service', name: 's' }, metric: { name: 'hits' }, target: { type: 'Value', value: '2k' } } };
const box = { type: 'ContainerResource', containerResource: { name: 'cpu', container: 'app', target: { type: 'Utilization', averageUtilization: 60 } } };

const cases: { name: string; specs: object[]; statuses: object[]; want: string }[] = [
  { name: 'no metrics', specs: [], statuses: [], want: '<none>' },
  { name: 'before the first sync', specs: [cpu(80)], statuses: [], want: 'cpu: <unknown>/80%' },
  { name: 'utilization', specs: [cpu(80)], statuses: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 50, averageValue: '50m' } } }], want: 'cpu: 50%/80%' },
  { name: 'a failed metric is unknown', specs: [cpu(80)], statuses: [{ type: '' }], want: 'cpu: <unknown>/80%' },
  { name: 'average value', specs: [mem('100Mi')], statuses: [{ type: 'Resource', resource: { name: 'memory', current: { averageValue: '67108864' } } }], want: 'memory: 67108864/100Mi' },
  { name: 'pods metric', specs: [pods], statuses: [{ type: 'Pods', pods: { metric: { name: 'rps' }, current: { averageValue: '3' } } }], want: '3/10' },
  { name: 'external average', specs: [ext], statuses: [], want: '<unknown>/30 (avg)' },
  { name: 'object value', specs: [obj], statuses: [{ type: 'Object', object: { metric: { name: 'hits' }, current: { value: '1500' } } }], want: '1500/2k' },
  { name: 'container resource', specs: [box], statuses: [], want: 'cpu: <unknown>/60%' },
  { name: 'unknown type', specs: [{ type: 'Weird' }], statuses: [], want: '<unknown type>' },
  { name: 'two shown, the rest counted', specs: [cpu(80), mem('1Gi'), pods, ext], statuses: [], want: 'cpu: <unknown>/80%, memory: <unknown>/1Gi + 2 more...' },
];
for (const c of cases) test(`targets: ${c.name}`, () => assert.equal(formatHpaMetrics(c.specs as never[], c.statuses as never[]), c.want));
