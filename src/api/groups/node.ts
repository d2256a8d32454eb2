/** node.k8s.io/v1 RuntimeClasses. */
import type { ResourceDef } from '../resource.ts';
import { immutable, invalidValue, isDNS1123Label, required } from '../validation.ts';
import { col, table } from './_mk.ts';

export const resources: ResourceDef[] = [
  {
    group: 'node.k8s.io',
    version: 'v1',
    kind: 'RuntimeClass',
    allowUnconditionalUpdate: false,
    plural: 'runtimeclasses',
    singular: 'runtimeclass',
    namespaced: false,
    validate(o, ctx) {
      const h = o['handler'];
      const out = [];
      if (typeof h !== 'string' || !h) out.push(required('handler', ''));
      else for (const m of isDNS1123Label(h)) out.push(invalidValue('handler', h, m));
      if (ctx.old) out.push(...immutable('handler', h, ctx.old['handler']));
      return out;
    },
    table: table([col('Handler')], (o) => [o['handler'] ?? '']),
  },
];
