/** coordination.k8s.io/v1 Leases (leader election, node heartbeats). */
import type { ResourceDef } from '../resource.ts';
import { invalidValue } from '../validation.ts';
import { col, table } from './_mk.ts';

export const resources: ResourceDef[] = [
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    allowUnconditionalUpdate: false,
    plural: 'leases',
    singular: 'lease',
    namespaced: true,
    validate(o) {
      const spec = (o['spec'] ?? {}) as Record<string, unknown>;
      const out = [];
      for (const f of ['leaseDurationSeconds', 'leaseTransitions']) {
        const v = spec[f];
        if (v !== undefined && (typeof v !== 'number' || v < 0 || (f === 'leaseDurationSeconds' && v <= 0))) out.push(invalidValue(`spec.${f}`, v, f === 'leaseDurationSeconds' ? 'must be greater than 0' : 'must be greater than or equal to 0'));
      }
      return out;
    },
    table: table([col('Holder')], (o) => [((o['spec'] ?? {}) as Record<string, unknown>)['holderIdentity'] ?? '']),
  },
];
