/**
 * autoscaling HorizontalPodAutoscalers: stored as autoscaling/v2, also served as autoscaling/v1
 * (a v1 CPU target is a v2 Resource cpu Utilization metric; the rest travels in upstream's
 * round-trip annotations, see autoscaling-v1.ts). The table is upstream's (kubectl
 * get hpa: NAME, REFERENCE, TARGETS as `cpu: 50%/80%`, MINPODS, MAXPODS, REPLICAS, AGE), the
 * same for both versions since the server prints it.
 */
import type { ResourceDef, TableDef } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { invalidValue, required } from '../validation.ts';
import { age } from '../printers.ts';
import { g } from './_mk.ts';
import { ageColumn, col, nameColumn } from './core-common.ts';
import { canonicalQuantity } from './quantity-canonical.ts';
import { cpuMetric, defaultCpuUtilization, dropRoundTripAnnotations, hpaV1ToV2, hpaV2ToV1 } from './autoscaling-v1.ts';

type J = Record<string, any>;

function defaultV2(o: KubeObject): void {
  // As upstream's v2 conversion does on every v2 write: the v1 round-trip annotations are not stored.
  dropRoundTripAnnotations(o.metadata);
  const spec = (o['spec'] ??= {}) as J;
  spec['minReplicas'] ??= 1;
  if (!Array.isArray(spec['metrics']) || spec['metrics'].length === 0) spec['metrics'] = [cpuMetric(defaultCpuUtilization)];
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

/** A quantity as Go's Quantity.String() prints it (canonical); a missing one as a nil *Quantity prints. */
function q(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  return canonicalQuantity(v) ?? String(v);
}

/**
 * The TARGETS cell, as upstream's formatHPAMetrics: one entry per metric spec, read against the
 * status entry at the same index (`cpu: 50%/80%`, `memory: 64Mi/100Mi`, `3/10` for pods metrics,
 * `5/10 (avg)` for averaged object and external ones), `<unknown>` where no current value is
 * known, at most two shown and `+ N more...` after them.
 */
export function formatHpaMetrics(specs: J[], statuses: J[]): string {
  if (!specs.length) return '<none>';
  const list: string[] = [];
  for (const [i, spec] of specs.entries()) {
    const st = statuses[i];
    switch (spec['type']) {
      case 'External':
      case 'Object': {
        const key = spec['type'] === 'External' ? 'external' : 'object';
        const target = spec[key]?.['target'] ?? {};
        const cur = st?.[key]?.['current'];
        if (target['averageValue'] !== undefined) {
          const current = cur?.['averageValue'] !== undefined ? q(cur['averageValue']) : '<unknown>';
          list.push(`${current}/${q(target['averageValue'])} (avg)`);
        } else {
          const current = st?.[key] ? q(cur?.['value']) : '<unknown>';
          list.push(`${current}/${q(target['value'])}`);
        }
        break;
      }
      case 'Pods': {
        const current = st?.['pods'] ? q(st['pods']['current']?.['averageValue']) : '<unknown>';
        list.push(`${current}/${q(spec['pods']?.['target']?.['averageValue'])}`);
        break;
      }
      case 'Resource':
      case 'ContainerResource': {
        const key = spec['type'] === 'Resource' ? 'resource' : 'containerResource';
        const src = spec[key] ?? {};
        const target = src['target'] ?? {};
        const cur = st?.[key];
        if (target['averageValue'] !== undefined) {
          list.push(`${src['name']}: ${cur ? q(cur['current']?.['averageValue']) : '<unknown>'}/${q(target['averageValue'])}`);
        } else {
          const current = cur?.['current']?.['averageUtilization'] !== undefined ? `${cur['current']['averageUtilization']}%` : '<unknown>';
          const t = target['averageUtilization'] !== undefined ? `${target['averageUtilization']}%` : '<auto>';
          list.push(`${src['name']}: ${current}/${t}`);
        }
        break;
      }
      default:
        list.push('<unknown type>');
    }
  }
  const shown = 2;
  if (list.length > shown) return `${list.slice(0, shown).join(', ')} + ${list.length - shown} more...`;
  return list.join(', ');
}

function targets(o: KubeObject): string {
  return formatHpaMetrics((g(o, 'spec', 'metrics') ?? []) as J[], (g(o, 'status', 'currentMetrics') ?? []) as J[]);
}

// Upstream's columns: MaxPods and Replicas are declared strings though their cells are integers.
const hpaTable: TableDef = {
  columns: [
    nameColumn,
    col('Reference', 'scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.'),
    col('Targets', 'metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).'),
    col('MinPods', 'minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.'),
    col('MaxPods', 'maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.'),
    col('Replicas', 'currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.'),
    ageColumn,
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
    otherVersions: [{ version: 'v1', fromStorage: hpaV2ToV1, toStorage: hpaV1ToV2, table: { columns: hpaTable.columns, row: (o, now) => hpaTable.row(hpaV1ToV2(o), now) } }],
  },
];
