/**
 * The core/v1 kinds other than Pods, PodTemplates and ReplicationControllers (those live in
 * core-workloads.ts): Namespaces, Services, Endpoints, ConfigMaps, Secrets, Nodes, Events,
 * ServiceAccounts, PersistentVolumes, PersistentVolumeClaims, ResourceQuotas and LimitRanges,
 * declared as data. The behaviour of each kind lives in the core-*.ts file named after its area;
 * this file only says which hooks, names, storage keys and selectors each kind has, as upstream's
 * registry does. Storage keys follow upstream's etcd layout (services/specs, services/endpoints,
 * minions). Service cluster IPs and node ports are not assigned here: see
 * `allocateServiceAddresses` in core-services.ts.
 */
import type { ResourceDef } from '../resource.ts';
import { keepStatus, obj, str } from './core-common.ts';
import {
  defaultService,
  prepareServiceForCreate,
  prepareServiceForUpdate,
  serviceTable,
  validateService,
} from './core-services.ts';
import { defaultEndpoints, endpointsTable, validateEndpoints } from './core-endpoints.ts';
import {
  cleanSecretReferences,
  configMapTable,
  defaultSecret,
  secretTable,
  serviceAccountTable,
  validateConfigMap,
  validateSecret,
} from './core-config.ts';
import {
  defaultLimitRange,
  defaultNamespace,
  defaultNode,
  limitRangeTable,
  namespaceTable,
  nodeTable,
  prepareNamespaceForCreate,
  prepareNamespaceForUpdate,
  prepareNodeForCreate,
  prepareNodeForStatusUpdate,
  prepareNodeForUpdate,
  prepareResourceQuotaForCreate,
  resourceQuotaTable,
  validateLimitRange,
  validateNamespace,
  validateNode,
  validateResourceQuota,
} from './core-cluster.ts';
import {
  defaultPersistentVolume,
  defaultPersistentVolumeClaim,
  persistentVolumeClaimTable,
  persistentVolumeTable,
  preparePersistentVolumeClaimForCreate,
  preparePersistentVolumeClaimForUpdate,
  preparePersistentVolumeForCreate,
  preparePersistentVolumeForStatusUpdate,
  validatePersistentVolume,
  validatePersistentVolumeClaim,
} from './core-storage.ts';
import { coreEventFieldSelectors, coreEventTable, defaultCoreEvent, validateCoreShapeEvent } from './core-events.ts';

const core = { group: '', version: 'v1' } as const;

export const namespaces: ResourceDef = {
  ...core,
  kind: 'Namespace',
  plural: 'namespaces',
  singular: 'namespace',
  namespaced: false,
  shortNames: ['ns'],
  nameRule: 'label',
  subresources: { status: true },
  prepareForCreate: prepareNamespaceForCreate,
  prepareForUpdate: prepareNamespaceForUpdate,
  default: defaultNamespace,
  validate: validateNamespace,
  table: namespaceTable,
  fieldSelectors: { 'status.phase': (o) => str(obj(o['status'])['phase']) },
  // A namespace being deleted is Terminating until the namespace controller has emptied it and
  // removed spec.finalizers (through the finalize subresource).
  finalizing(ns) {
    const status = (ns['status'] ??= {}) as Record<string, unknown>;
    status['phase'] = 'Terminating';
    const fin = obj(ns['spec'])['finalizers'];
    return Array.isArray(fin) && fin.length > 0;
  },
};

export const services: ResourceDef = {
  ...core,
  kind: 'Service',
  plural: 'services',
  singular: 'service',
  namespaced: true,
  shortNames: ['svc'],
  categories: ['all'],
  nameRule: 'dns1035',
  storagePrefix: 'services/specs',
  subresources: { status: true, connect: ['proxy'] },
  createOnUpdate: true,
  prepareForCreate: prepareServiceForCreate,
  prepareForUpdate: prepareServiceForUpdate,
  default: defaultService,
  validate: validateService,
  table: serviceTable,
  fieldSelectors: {
    'spec.clusterIP': (o) => str(obj(o['spec'])['clusterIP']),
    'spec.type': (o) => str(obj(o['spec'])['type']),
  },
};

export const endpoints: ResourceDef = {
  ...core,
  kind: 'Endpoints',
  plural: 'endpoints',
  singular: 'endpoints',
  namespaced: true,
  shortNames: ['ep'],
  storagePrefix: 'services/endpoints',
  createOnUpdate: true,
  default: defaultEndpoints,
  validate: validateEndpoints,
  table: endpointsTable,
};

export const configMaps: ResourceDef = {
  ...core,
  kind: 'ConfigMap',
  plural: 'configmaps',
  singular: 'configmap',
  namespaced: true,
  shortNames: ['cm'],
  validate: validateConfigMap,
  table: configMapTable,
};

export const secrets: ResourceDef = {
  ...core,
  kind: 'Secret',
  plural: 'secrets',
  singular: 'secret',
  namespaced: true,
  default: defaultSecret,
  validate: validateSecret,
  table: secretTable,
  fieldSelectors: { type: (o) => str(o['type']) },
};

export const nodes: ResourceDef = {
  ...core,
  kind: 'Node',
  plural: 'nodes',
  singular: 'node',
  namespaced: false,
  shortNames: ['no'],
  storagePrefix: 'minions',
  subresources: { status: true, connect: ['proxy'] },
  prepareForCreate: prepareNodeForCreate,
  prepareForUpdate: prepareNodeForUpdate,
  prepareForStatusUpdate: prepareNodeForStatusUpdate,
  default: defaultNode,
  validate: validateNode,
  table: nodeTable,
  fieldSelectors: { 'spec.unschedulable': (o) => String(obj(o['spec'])['unschedulable'] === true) },
};

export const events: ResourceDef = {
  ...core,
  kind: 'Event',
  plural: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  // Upstream's event strategy checks no name rule of its own: only the generic path-segment one.
  nameRule: 'path',
  createOnUpdate: true,
  default: defaultCoreEvent,
  validate: (o, ctx) => validateCoreShapeEvent(o, 'v1', ctx.old),
  table: coreEventTable,
  fieldSelectors: coreEventFieldSelectors,
};

export const serviceAccounts: ResourceDef = {
  ...core,
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  singular: 'serviceaccount',
  namespaced: true,
  shortNames: ['sa'],
  subresources: { token: true },
  prepareForCreate: cleanSecretReferences,
  prepareForUpdate: cleanSecretReferences,
  table: serviceAccountTable,
};

export const persistentVolumes: ResourceDef = {
  ...core,
  kind: 'PersistentVolume',
  plural: 'persistentvolumes',
  singular: 'persistentvolume',
  namespaced: false,
  shortNames: ['pv'],
  subresources: { status: true },
  prepareForCreate: preparePersistentVolumeForCreate,
  prepareForUpdate: keepStatus,
  prepareForStatusUpdate: preparePersistentVolumeForStatusUpdate,
  default: defaultPersistentVolume,
  validate: validatePersistentVolume,
  table: persistentVolumeTable,
};

export const persistentVolumeClaims: ResourceDef = {
  ...core,
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  singular: 'persistentvolumeclaim',
  namespaced: true,
  shortNames: ['pvc'],
  subresources: { status: true },
  prepareForCreate: preparePersistentVolumeClaimForCreate,
  prepareForUpdate: preparePersistentVolumeClaimForUpdate,
  default: defaultPersistentVolumeClaim,
  validate: validatePersistentVolumeClaim,
  table: persistentVolumeClaimTable,
};

export const resourceQuotas: ResourceDef = {
  ...core,
  kind: 'ResourceQuota',
  plural: 'resourcequotas',
  singular: 'resourcequota',
  namespaced: true,
  shortNames: ['quota'],
  subresources: { status: true },
  prepareForCreate: prepareResourceQuotaForCreate,
  prepareForUpdate: keepStatus,
  validate: validateResourceQuota,
  table: resourceQuotaTable,
};

export const limitRanges: ResourceDef = {
  ...core,
  kind: 'LimitRange',
  plural: 'limitranges',
  singular: 'limitrange',
  namespaced: true,
  shortNames: ['limits'],
  createOnUpdate: true,
  default: defaultLimitRange,
  validate: validateLimitRange,
  table: limitRangeTable,
};

export const resources: ResourceDef[] = [
  namespaces,
  services,
  endpoints,
  configMaps,
  secrets,
  nodes,
  events,
  serviceAccounts,
  persistentVolumes,
  persistentVolumeClaims,
  resourceQuotas,
  limitRanges,
];
