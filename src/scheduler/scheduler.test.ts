/** Which node updates requeue unschedulable pods (upstream's node scheduling properties). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../api/index.ts';
import { schedulingPropertiesChanged } from './scheduler.ts';

const base: Node = {
  metadata: { name: 'n1', labels: { a: '1' }, annotations: { x: 'y' }, resourceVersion: '1' },
  spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] },
  status: {
    allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-01-01T00:00:00Z' }],
  },
};
const changed = (f: (n: Node) => void): Node => {
  const n = structuredClone(base);
  f(n);
  return n;
};

const cases: { name: string; after: Node; want: boolean }[] = [
  { name: 'a heartbeat (condition times, resourceVersion) is not a change', after: changed((n) => ((n.status!.conditions![0]!.lastHeartbeatTime = '2026-01-01T00:01:00Z'), (n.metadata.resourceVersion = '2'))), want: false },
  { name: 'a condition status is', after: changed((n) => (n.status!.conditions![0]!.status = 'False')), want: true },
  { name: 'labels are', after: changed((n) => (n.metadata.labels!['b'] = '2')), want: true },
  { name: 'taints are', after: changed((n) => (n.spec!.taints = [])), want: true },
  { name: 'unschedulable is', after: changed((n) => (n.spec!.unschedulable = true)), want: true },
  { name: 'allocatable is', after: changed((n) => (n.status!.allocatable!['cpu'] = '8')), want: true },
  { name: 'annotations are', after: changed((n) => (n.metadata.annotations = {})), want: true },
  { name: 'images are not', after: changed((n) => (n.status!.images = [{ names: ['i'], sizeBytes: 1 }])), want: false },
];
for (const c of cases) test(c.name, () => assert.equal(schedulingPropertiesChanged(base, c.after), c.want));
