/** scheduling.k8s.io/v1 PriorityClasses. */
import type { ResourceDef } from '../resource.ts';
import { immutable, invalidValue, notSupported, required, forbidden } from '../validation.ts';
import { col, table } from './_mk.ts';

const systemClasses: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };
const highestUserDefinable = 1000000000;
const pcTable = table([col('Value', 'integer'), col('Global-Default', 'boolean')], (o) => [o['value'] ?? 0, o['globalDefault'] === true]);

export const resources: ResourceDef[] = [
  {
    group: 'scheduling.k8s.io',
    version: 'v1',
    kind: 'PriorityClass',
    plural: 'priorityclasses',
    singular: 'priorityclass',
    namespaced: false,
    shortNames: ['pc'],
    default(o) {
      if (o['preemptionPolicy'] === undefined) o['preemptionPolicy'] = 'PreemptLowerPriority';
    },
    validate(o, ctx) {
      const out = [];
      const name = o.metadata.name ?? '';
      if (typeof o['value'] !== 'number' || !Number.isInteger(o['value'])) out.push(required('value', ''));
      else if (name.startsWith('system-')) {
        if (systemClasses[name] === undefined) out.push(forbidden('metadata.name', `priority class names with 'system-' prefix are reserved for system use only. error: priority class ${name} is not a known system priority class`));
        else if (systemClasses[name] !== o['value']) out.push(forbidden('value', `value of ${name} PriorityClass must be ${systemClasses[name]}`));
      } else if ((o['value'] as number) > highestUserDefinable) {
        out.push(forbidden('value', `maximum allowed value of a user defined priority is ${highestUserDefinable}`));
      }
      const p = o['preemptionPolicy'];
      if (p !== 'PreemptLowerPriority' && p !== 'Never') out.push(notSupported('preemptionPolicy', p ?? '', ['Never', 'PreemptLowerPriority']));
      if (ctx.old) {
        out.push(...immutable('value', o['value'], ctx.old['value']));
        out.push(...immutable('preemptionPolicy', o['preemptionPolicy'], ctx.old['preemptionPolicy']));
      }
      if (o['globalDefault'] !== undefined && typeof o['globalDefault'] !== 'boolean') out.push(invalidValue('globalDefault', o['globalDefault'], 'must be a boolean'));
      return out;
    },
    // Upstream prints PreemptionPolicy after Age.
    table: {
      columns: [...pcTable.columns, { name: 'PreemptionPolicy', type: 'string', description: 'PreemptionPolicy', priority: 0 }],
      row: (o, now) => [...pcTable.row(o, now), o['preemptionPolicy'] ?? ''],
    },
  },
];
