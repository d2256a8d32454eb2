/** apiextensions.k8s.io/v1 CustomResourceDefinitions (serving the custom resources comes later). */
import type { ResourceDef } from '../resource.ts';
import type { StatusCause } from '../types.ts';
import { immutable, invalidValue, notSupported, required } from '../validation.ts';

export const resources: ResourceDef[] = [
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    allowUnconditionalUpdate: false,
    plural: 'customresourcedefinitions',
    singular: 'customresourcedefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    storagePrefix: 'apiextensions.k8s.io/customresourcedefinitions',
    subresources: { status: true },
    generation: true,
    default(o) {
      const spec = (o['spec'] ??= {}) as Record<string, unknown>;
      const conv = (spec['conversion'] ??= {}) as Record<string, unknown>;
      conv['strategy'] ??= 'None';
      const names = (spec['names'] ??= {}) as Record<string, unknown>;
      if (!names['singular'] && typeof names['kind'] === 'string') names['singular'] = names['kind'].toLowerCase();
      if (!names['listKind'] && typeof names['kind'] === 'string') names['listKind'] = `${names['kind']}List`;
    },
    prepareForCreate(o) {
      o['status'] = { acceptedNames: { kind: '', plural: '' }, conditions: [], storedVersions: [] };
    },
    prepareForUpdate(o, old) {
      o['status'] = old['status'];
    },
    validate(o, ctx) {
      const out: StatusCause[] = [];
      const spec = (o['spec'] ?? {}) as Record<string, unknown>;
      const names = (spec['names'] ?? {}) as Record<string, unknown>;
      const group = spec['group'];
      if (!group) out.push(required('spec.group', ''));
      if (!names['plural']) out.push(required('spec.names.plural', ''));
      if (!names['kind']) out.push(required('spec.names.kind', ''));
      if (group && names['plural'] && o.metadata.name !== `${String(names['plural'])}.${String(group)}`) {
        out.push(invalidValue('metadata.name', o.metadata.name ?? '', `must be spec.names.plural+"."+spec.group`));
      }
      if (!['Namespaced', 'Cluster'].includes(String(spec['scope']))) out.push(notSupported('spec.scope', spec['scope'] ?? '', ['Cluster', 'Namespaced']));
      const versions = (spec['versions'] ?? []) as Record<string, unknown>[];
      if (!versions.length) out.push(required('spec.versions', 'must have exactly one version marked as storage version'));
      else if (versions.filter((v) => v['storage'] === true).length !== 1) out.push(invalidValue('spec.versions', versions.map((v) => v['name']), 'must have exactly one version marked as storage version'));
      if (ctx.old) out.push(...immutable('spec.scope', spec['scope'], (ctx.old['spec'] as Record<string, unknown> | undefined)?.['scope']));
      return out;
    },
    table: {
      columns: [
        { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
        { name: 'Created At', type: 'date', description: 'Created At', priority: 0 },
      ],
      row: (o) => [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''],
    },
  },
];
