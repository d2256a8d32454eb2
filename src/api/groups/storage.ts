/** storage.k8s.io/v1: StorageClasses, VolumeAttachments, CSIDrivers, CSINodes, CSIStorageCapacities. */
import type { ResourceDef } from '../resource.ts';
import { immutable, notSupported, required } from '../validation.ts';
import { col, g, table } from './_mk.ts';

const st = { group: 'storage.k8s.io', version: 'v1' } as const;
const defaultClassAnnotation = 'storageclass.kubernetes.io/is-default-class';

export const resources: ResourceDef[] = [
  {
    ...st,
    kind: 'CSIDriver',
    allowUnconditionalUpdate: false,
    plural: 'csidrivers',
    singular: 'csidriver',
    namespaced: false,
    default(o) {
      const spec = (o['spec'] ??= {}) as Record<string, unknown>;
      spec['attachRequired'] ??= true;
      spec['podInfoOnMount'] ??= false;
      spec['storageCapacity'] ??= false;
      spec['fsGroupPolicy'] ??= 'ReadWriteOnceWithFSType';
      spec['requiresRepublish'] ??= false;
      spec['seLinuxMount'] ??= false;
      spec['volumeLifecycleModes'] ??= ['Persistent'];
    },
    table: table([col('AttachRequired', 'boolean'), col('PodInfoOnMount', 'boolean'), col('StorageCapacity', 'boolean'), col('TokenRequests'), col('RequiresRepublish', 'boolean'), col('Modes')], (o) => [
      g(o, 'spec', 'attachRequired') ?? true,
      g(o, 'spec', 'podInfoOnMount') ?? false,
      g(o, 'spec', 'storageCapacity') ?? false,
      '<unset>',
      g(o, 'spec', 'requiresRepublish') ?? false,
      ((g(o, 'spec', 'volumeLifecycleModes') ?? []) as string[]).join(','),
    ]),
  },
  { ...st, allowUnconditionalUpdate: false, kind: 'CSINode', plural: 'csinodes', singular: 'csinode', namespaced: false, table: table([col('Drivers', 'integer')], (o) => [((g(o, 'spec', 'drivers') ?? []) as unknown[]).length]) },
  { ...st, allowUnconditionalUpdate: false, kind: 'CSIStorageCapacity', plural: 'csistoragecapacities', singular: 'csistoragecapacity', namespaced: true, table: table([col('StorageClassName'), col('Capacity')], (o) => [o['storageClassName'] ?? '', o['capacity'] ?? '']) },
  {
    ...st,
    kind: 'StorageClass',
    plural: 'storageclasses',
    singular: 'storageclass',
    namespaced: false,
    shortNames: ['sc'],
    default(o) {
      o['reclaimPolicy'] ??= 'Delete';
      o['volumeBindingMode'] ??= 'Immediate';
    },
    validate(o, ctx) {
      const out = [];
      if (!o['provisioner']) out.push(required('provisioner', ''));
      if (!['Delete', 'Retain'].includes(String(o['reclaimPolicy']))) out.push(notSupported('reclaimPolicy', o['reclaimPolicy'] ?? '', ['Delete', 'Retain']));
      if (!['Immediate', 'WaitForFirstConsumer'].includes(String(o['volumeBindingMode']))) out.push(notSupported('volumeBindingMode', o['volumeBindingMode'] ?? '', ['Immediate', 'WaitForFirstConsumer']));
      if (ctx.old) {
        out.push(...immutable('provisioner', o['provisioner'], ctx.old['provisioner']));
        out.push(...immutable('parameters', o['parameters'] ?? {}, ctx.old['parameters'] ?? {}));
        out.push(...immutable('reclaimPolicy', o['reclaimPolicy'], ctx.old['reclaimPolicy']));
        out.push(...immutable('volumeBindingMode', o['volumeBindingMode'], ctx.old['volumeBindingMode']));
      }
      return out;
    },
    table: {
      columns: [
        { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
        { name: 'Provisioner', type: 'string', description: 'Provisioner', priority: 0 },
        { name: 'ReclaimPolicy', type: 'string', description: 'ReclaimPolicy', priority: 0 },
        { name: 'VolumeBindingMode', type: 'string', description: 'VolumeBindingMode', priority: 0 },
        { name: 'AllowVolumeExpansion', type: 'string', description: 'AllowVolumeExpansion', priority: 0 },
        { name: 'Age', type: 'string', description: 'Age', priority: 0 },
      ],
      row: (o, now) => {
        const isDefault = o.metadata.annotations?.[defaultClassAnnotation] === 'true';
        return [
          `${o.metadata.name ?? ''}${isDefault ? ' (default)' : ''}`,
          o['provisioner'] ?? '',
          o['reclaimPolicy'] ?? 'Delete',
          o['volumeBindingMode'] ?? 'Immediate',
          String(o['allowVolumeExpansion'] === true),
          table([], () => []).row(o, now)[1],
        ];
      },
    },
  },
  {
    ...st,
    kind: 'VolumeAttachment',
    allowUnconditionalUpdate: false,
    plural: 'volumeattachments',
    singular: 'volumeattachment',
    namespaced: false,
    subresources: { status: true },
    prepareForUpdate(o, old) {
      o['status'] = old['status'];
    },
    table: table([col('Attacher'), col('PV'), col('Node'), col('Attached', 'boolean')], (o) => [g(o, 'spec', 'attacher') ?? '', g(o, 'spec', 'source', 'persistentVolumeName') ?? '', g(o, 'spec', 'nodeName') ?? '', g(o, 'status', 'attached') === true]),
  },
];
