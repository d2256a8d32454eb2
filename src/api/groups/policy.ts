/** policy/v1 PodDisruptionBudgets. */
import type { ResourceDef } from '../resource.ts';
import { invalidValue } from '../validation.ts';
import { col, g, table } from './_mk.ts';

export const resources: ResourceDef[] = [
  {
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    singular: 'poddisruptionbudget',
    namespaced: true,
    shortNames: ['pdb'],
    subresources: { status: true },
    generation: true,
    prepareForCreate(o) {
      o['status'] = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
    },
    prepareForUpdate(o, old) {
      o['status'] = old['status'];
    },
    validate(o) {
      const spec = (o['spec'] ?? {}) as Record<string, unknown>;
      const out = [];
      if (spec['minAvailable'] !== undefined && spec['maxUnavailable'] !== undefined) {
        out.push(invalidValue('spec', spec, 'minAvailable and maxUnavailable cannot be both set'));
      }
      for (const f of ['minAvailable', 'maxUnavailable']) {
        const v = spec[f];
        if (v === undefined) continue;
        if (typeof v === 'number' ? v < 0 : !/^\d+%$/.test(String(v))) out.push(invalidValue(`spec.${f}`, v, typeof v === 'number' ? 'must be greater than or equal to 0' : 'a valid percent string must be a numeric string followed by an ending \'%\''));
      }
      return out;
    },
    table: table([col('Min Available'), col('Max Unavailable'), col('Allowed Disruptions', 'integer')], (o) => [
      g(o, 'spec', 'minAvailable') === undefined ? 'N/A' : String(g(o, 'spec', 'minAvailable')),
      g(o, 'spec', 'maxUnavailable') === undefined ? 'N/A' : String(g(o, 'spec', 'maxUnavailable')),
      g(o, 'status', 'disruptionsAllowed') ?? 0,
    ]),
  },
];
