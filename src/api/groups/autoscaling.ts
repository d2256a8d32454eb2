/**
 * autoscaling HorizontalPodAutoscalers: stored as autoscaling/v2, also served as autoscaling/v1
 * (a v1 CPU target is a v2 Resource cpu Utilization metric).
 */
import type { ResourceDef, TableDef } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { invalidValue, required } from '../validation.ts';
import { age } from '../printers.ts';
import { g } from './_mk.ts';

type J = Record<string, any>;

function cpuMetric(avg: number): J {
  return { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: avg } } };
}

function v1ToV2(o: KubeObject): KubeObject {
  const spec = (o['spec'] ?? {}) as J;
  const status = o['status'] as J | undefined;
  const out: KubeObject = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: structuredClone(o.metadata) };
  const s2: J = { scaleTargetRef: spec['scaleTargetRef'], maxReplicas: spec['maxReplicas'] };
  if (spec['minReplicas'] !== undefined) s2['minReplicas'] = spec['minReplicas'];
  if (spec['targetCPUUtilizationPercentage'] !== undefined) s2['metrics'] = [cpuMetric(spec['targetCPUUtilizationPercentage'])];
  out['spec'] = s2;
  if (status) {
    const st: J = { currentReplicas: status['currentReplicas'] ?? 0, desiredReplicas: status['desiredReplicas'] ?? 0 };
    if (status['observedGeneration'] !== undefined) st['observedGeneration'] = status['observedGeneration'];
    if (status['lastScaleTime']) st['lastScaleTime'] = status['lastScaleTime'];
    if (status['currentCPUUtilizationPercentage'] !== undefined) {
      st['currentMetrics'] = [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: status['currentCPUUtilizationPercentage'] } } }];
    }
    out['status'] = st;
  }
  return out;
}

function v2ToV1(o: KubeObject): KubeObject {
  const spec = (o['spec'] ?? {}) as J;
  const status = o['status'] as J | undefined;
  const out: KubeObject = { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: structuredClone(o.metadata) };
  const s1: J = { scaleTargetRef: spec['scaleTargetRef'], maxReplicas: spec['maxReplicas'] };
  if (spec['minReplicas'] !== undefined) s1['minReplicas'] = spec['minReplicas'];
  const cpu = ((spec['metrics'] ?? []) as J[]).find((m) => m['type'] === 'Resource' && m['resource']?.['name'] === 'cpu' && m['resource']?.['target']?.['type'] === 'Utilization');
  if (cpu) s1['targetCPUUtilizationPercentage'] = cpu['resource']['target']['averageUtilization'];
  out['spec'] = s1;
  if (status) {
    const st: J = { currentReplicas: status['currentReplicas'] ?? 0, desiredReplicas: status['desiredReplicas'] ?? 0 };
    if (status['observedGeneration'] !== undefined) st['observedGeneration'] = status['observedGeneration'];
    if (status['lastScaleTime']) st['lastScaleTime'] = status['lastScaleTime'];
    const cur = ((status['currentMetrics'] ?? []) as J[]).find((m) => m['type'] === 'Resource' && m['resource']?.['name'] === 'cpu');
    if (cur?.['resource']?.['current']?.['averageUtilization'] !== undefined) st['currentCPUUtilizationPercentage'] = cur['resource']['current']['averageUtilization'];
    out['status'] = st;
  }
  return out;
}

function defaultV2(o: KubeObject): void {
  const spec = (o['spec'] ??= {}) as J;
  spec['minReplicas'] ??= 1;
  if (!Array.isArray(spec['metrics']) || spec['metrics'].length === 0) spec['metrics'] = [cpuMetric(80)];
  const b = spec['behavior'] as J | undefined;
  if (b) {
    const up = (b['scaleUp'] ??= {}) as J;
    up['stabilizationWindowSeconds'] ??= 0;
    up['selectPolicy'] ??= 'Max';
    up['policies'] ??= [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }];
    const down = (b['scaleDown'] ??= {}) as J;
    down['selectPolicy'] ??= 'Max';
    down['policies'] ??= [{ type: 'Percent', value: 100, periodSeconds: 15 }];
  }
}

function validate(o: KubeObject): StatusCause[] {
  const spec = (o['spec'] ?? {}) as J;
  const out: StatusCause[] = [];
  const ref = spec['scaleTargetRef'] as J | undefined;
  if (!ref?.['kind']) out.push(required('spec.scaleTargetRef.kind', ''));
  if (!ref?.['name']) out.push(required('spec.scaleTargetRef.name', ''));
  const min = spec['minReplicas'];
  const max = spec['maxReplicas'];
  if (typeof max !== 'number' || max < 1) out.push(invalidValue('spec.maxReplicas', max ?? 0, 'must be greater than or equal to 1'));
  if (typeof min === 'number' && min < 1) out.push(invalidValue('spec.minReplicas', min, 'must be greater than or equal to 1'));
  if (typeof min === 'number' && typeof max === 'number' && max < min) out.push(invalidValue('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
  return out;
}

function targets(o: KubeObject): string {
  const metrics = (g(o, 'spec', 'metrics') ?? []) as J[];
  const current = (g(o, 'status', 'currentMetrics') ?? []) as J[];
  const parts = metrics.map((m) => {
    if (m['type'] === 'Resource') {
      const name = m['resource']?.['name'];
      const cur = current.find((c) => c['type'] === 'Resource' && c['resource']?.['name'] === name)?.['resource']?.['current'];
      const t = m['resource']?.['target'] ?? {};
      if (t['type'] === 'Utilization') return `${name}: ${cur?.['averageUtilization'] !== undefined ? `${cur['averageUtilization']}%` : '<unknown>'}/${t['averageUtilization']}%`;
      return `${name}: ${cur?.['averageValue'] ?? '<unknown>'}/${t['averageValue'] ?? t['value']}`;
    }
    return `<unknown>/${m['type']}`;
  });
  return parts.length ? parts.join(', ') : '<none>';
}

const hpaTable: TableDef = {
  columns: [
    { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
    { name: 'Reference', type: 'string', description: 'Reference', priority: 0 },
    { name: 'Targets', type: 'string', description: 'Targets', priority: 0 },
    { name: 'MinPods', type: 'string', description: 'MinPods', priority: 0 },
    { name: 'MaxPods', type: 'integer', description: 'MaxPods', priority: 0 },
    { name: 'Replicas', type: 'integer', description: 'Replicas', priority: 0 },
    { name: 'Age', type: 'string', description: 'Age', priority: 0 },
  ],
  row: (o, now) => [
    o.metadata.name ?? '',
    `${String(g(o, 'spec', 'scaleTargetRef', 'kind'))}/${String(g(o, 'spec', 'scaleTargetRef', 'name'))}`,
    targets(o),
    g(o, 'spec', 'minReplicas') === undefined ? '<unset>' : String(g(o, 'spec', 'minReplicas')),
    g(o, 'spec', 'maxReplicas') ?? 0,
    g(o, 'status', 'currentReplicas') ?? 0,
    age(o.metadata.creationTimestamp, now),
  ],
};

export const resources: ResourceDef[] = [
  {
    group: 'autoscaling',
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    singular: 'horizontalpodautoscaler',
    namespaced: true,
    shortNames: ['hpa'],
    categories: ['all'],
    subresources: { status: true },
    generation: true,
    default: defaultV2,
    validate,
    prepareForCreate(o) {
      o['status'] = { currentReplicas: 0, desiredReplicas: 0 };
    },
    prepareForUpdate(o, old) {
      o['status'] = old['status'];
    },
    table: hpaTable,
    otherVersions: [{ version: 'v1', fromStorage: v2ToV1, toStorage: v1ToV2, table: { columns: hpaTable.columns, row: (o, now) => hpaTable.row(v1ToV2(o), now) } }],
  },
];
