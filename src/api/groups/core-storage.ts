/**
 * PersistentVolumes and PersistentVolumeClaims (core/v1): upstream's defaulting (reclaim policy
 * Retain, volumeMode Filesystem, phase Pending), strategies (status reset on create, kept on main
 * updates; a PV's lastPhaseTransitionTime follows its phase), validation (access modes, capacity
 * and requests, exactly one volume source, PVC spec immutable except a growing storage request and
 * volumeAttributesClassName, PV source immutable) and printers.
 *
 * Feature gates are taken as upstream 1.33 defaults, except VolumeAttributesClass, treated as
 * enabled (it is beta there and GA in 1.34) so its fields are kept and validated.
 */
import { posix } from 'node:path';
import type { KubeObject, StatusCause } from '../types.ts';
import type { TableDef } from '../resource.ts';
import {
  forbidden,
  immutable,
  invalidValue,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  jsonEqual,
  notSupported,
  required,
  validateLabels,
} from '../validation.ts';
import { compareQuantity, parseQuantity } from '../quantity.ts';
import {
  ageColumn,
  ageOf,
  arr,
  clone,
  col,
  ensureObj,
  isObj,
  keepAllButStatus,
  keepStatus,
  nameColumn,
  nowRfc3339,
  obj,
  qs,
  quantityCell,
  str,
  validateQuantitySyntax,
  validateResourceQuantityValue,
  type J,
} from './core-common.ts';

const accessModes = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'] as const;
const reclaimPolicies = ['Delete', 'Recycle', 'Retain'] as const;
const volumeModes = ['Block', 'Filesystem'] as const;
const hostPathTypes = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'] as const;
const betaStorageClassAnnotation = 'volume.beta.kubernetes.io/storage-class';

/** The PV volume sources, by JSON name, with the name upstream's "more than 1 volume type" error uses. */
const pvSources: [json: string, errName: string][] = [
  ['hostPath', 'hostPath'],
  ['gcePersistentDisk', 'gcePersistentDisk'],
  ['awsElasticBlockStore', 'awsElasticBlockStore'],
  ['glusterfs', 'glusterfs'],
  ['flocker', 'flocker'],
  ['nfs', 'nfs'],
  ['rbd', 'rbd'],
  ['quobyte', 'quobyte'],
  ['cephfs', 'cephFS'],
  ['iscsi', 'iscsi'],
  ['cinder', 'cinder'],
  ['fc', 'fc'],
  ['flexVolume', 'flexVolume'],
  ['azureFile', 'azureFile'],
  ['vsphereVolume', 'vsphereVolume'],
  ['photonPersistentDisk', 'photonPersistentDisk'],
  ['portworxVolume', 'portworxVolume'],
  ['azureDisk', 'azureDisk'],
  ['scaleIO', 'scaleIO'],
  ['local', 'local'],
  ['storageos', 'storageos'],
  ['csi', 'csi'],
];

// ---- shared checks -----------------------------------------------------------------------------

function validateAccessModes(modes: unknown[], path: string, detail: string): StatusCause[] {
  const errs: StatusCause[] = [];
  if (!modes.length) errs.push(required(path, detail));
  let rwop = false;
  let other = false;
  for (const m of modes) {
    if (!(accessModes as readonly unknown[]).includes(m)) errs.push(notSupported(path, m, accessModes));
    if (m === 'ReadWriteOncePod') rwop = true;
    else if ((accessModes as readonly unknown[]).includes(m)) other = true;
  }
  if (rwop && other) errs.push(forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

function validateClassName(v: unknown, path: string): StatusCause[] {
  return isDNS1123Subdomain(str(v)).map((m) => invalidValue(path, v, m));
}

function validateNoBacksteps(p: string, path: string): StatusCause[] {
  return p.replace(/\\/g, '/').split('/').includes('..') ? [invalidValue(path, p, "must not contain '..'")] : [];
}

/** A positive quantity, as upstream's validateBasicResource and ValidatePositiveQuantityValue. */
function validatePositiveQuantity(q: unknown, path: string): StatusCause[] {
  const syntax = validateQuantitySyntax(q, path);
  if (syntax.length) return syntax;
  const v = parseQuantity(q)!;
  if (v < 0) return [invalidValue(path, Math.trunc(v), 'must be a valid resource quantity'), invalidValue(path, qs(q), 'must be greater than zero')];
  return v === 0 ? [invalidValue(path, qs(q), 'must be greater than zero')] : [];
}

/** Upstream ValidateLabelSelector, for PVC selectors. */
function validateLabelSelector(sel: J, path: string): StatusCause[] {
  const errs = validateLabels(sel['matchLabels'], `${path}.matchLabels`);
  arr(sel['matchExpressions']).forEach((raw, i) => {
    const e = obj(raw);
    const p = `${path}.matchExpressions[${i}]`;
    const values = arr(e['values']);
    switch (e['operator']) {
      case 'In':
      case 'NotIn':
        if (!values.length) errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length) errs.push(forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        errs.push(invalidValue(`${p}.operator`, e['operator'] ?? '', 'not a valid selector operator'));
    }
    for (const m of isQualifiedName(str(e['key']))) errs.push(invalidValue(`${p}.key`, e['key'] ?? '', m));
  });
  return errs;
}

function accessModesCell(modes: unknown[]): string {
  const has = (m: string) => modes.includes(m);
  const out: string[] = [];
  if (has('ReadWriteOnce')) out.push('RWO');
  if (has('ReadOnlyMany')) out.push('ROX');
  if (has('ReadWriteMany')) out.push('RWX');
  if (has('ReadWriteOncePod')) out.push('RWOP');
  return out.join(',');
}

// ---- PersistentVolume --------------------------------------------------------------------------

/** SetDefaults_PersistentVolume. */
export function defaultPersistentVolume(pv: KubeObject): void {
  const spec = ensureObj(pv, 'spec');
  if (!spec['persistentVolumeReclaimPolicy']) spec['persistentVolumeReclaimPolicy'] = 'Retain';
  if (spec['volumeMode'] === undefined || spec['volumeMode'] === null) spec['volumeMode'] = 'Filesystem';
  const status = ensureObj(pv, 'status');
  if (!status['phase']) status['phase'] = 'Pending';
}

export function preparePersistentVolumeForCreate(pv: KubeObject): void {
  pv['status'] = { phase: 'Pending', lastPhaseTransitionTime: nowRfc3339() };
}

export function preparePersistentVolumeForStatusUpdate(pv: KubeObject, old: KubeObject): void {
  keepAllButStatus(pv, old);
  const st = ensureObj(pv, 'status');
  const ost = obj(old['status']);
  const t = st['lastPhaseTransitionTime'];
  if (ost['phase'] === st['phase'] && (t === undefined || t === null)) {
    if (ost['lastPhaseTransitionTime'] !== undefined) st['lastPhaseTransitionTime'] = ost['lastPhaseTransitionTime'];
  } else if (ost['phase'] !== st['phase'] && (t === undefined || t === null || t === ost['lastPhaseTransitionTime'])) {
    st['lastPhaseTransitionTime'] = nowRfc3339();
  }
}

function validatePVSource(spec: J, key: string): StatusCause[] {
  const s = obj(spec[key]);
  const p = `spec.${key}`;
  const errs: StatusCause[] = [];
  switch (key) {
    case 'hostPath': {
      const path = str(s['path']);
      if (!path) return [required(`${p}.path`)];
      errs.push(...validateNoBacksteps(path, `${p}.path`));
      if (s['type'] !== undefined && s['type'] !== null && !(hostPathTypes as readonly unknown[]).includes(s['type'])) {
        errs.push(notSupported(`${p}.type`, s['type'], hostPathTypes));
      }
      break;
    }
    case 'nfs':
      if (!str(s['server'])) errs.push(required(`${p}.server`));
      if (!str(s['path'])) errs.push(required(`${p}.path`));
      if (!str(s['path']).startsWith('/')) errs.push(invalidValue(`${p}.path`, s['path'] ?? '', 'must be an absolute path'));
      break;
    case 'local': {
      const path = str(s['path']);
      if (!path) errs.push(required(`${p}.path`));
      else errs.push(...validateNoBacksteps(path, `${p}.path`));
      break;
    }
    case 'csi': {
      const driver = str(s['driver']);
      if (!driver) errs.push(required(`${p}.driver`));
      else {
        if (driver.length > 63) errs.push(fieldTooLong(`${p}.driver`, driver));
        for (const m of isDNS1123Subdomain(driver.toLowerCase())) errs.push(invalidValue(`${p}.driver`, driver, m));
      }
      if (!str(s['volumeHandle'])) errs.push(required(`${p}.volumeHandle`));
      break;
    }
  }
  return errs;
}

function fieldTooLong(path: string, v: string): StatusCause {
  return invalidValue(path, v, 'must be no more than 63 characters');
}

/** Upstream ValidatePersistentVolumeSpec (not inline). */
function validatePVSpec(pv: KubeObject): StatusCause[] {
  const spec = obj(pv['spec']);
  const errs = validateAccessModes(arr(spec['accessModes']), 'spec.accessModes', '');
  const cap = obj(spec['capacity']);
  const capKeys = Object.keys(cap);
  if (!capKeys.length) errs.push(required('spec.capacity'));
  if (!('storage' in cap) || capKeys.length > 1) errs.push(notSupported('spec.capacity', cap, ['storage']));
  for (const [k, q] of Object.entries(cap)) errs.push(...validatePositiveQuantity(q, `spec.capacity[${k}]`));
  const policy = spec['persistentVolumeReclaimPolicy'];
  if (policy && !(reclaimPolicies as readonly unknown[]).includes(policy)) errs.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, reclaimPolicies));
  let nodeAffinity = false;
  if (spec['nodeAffinity'] !== undefined && spec['nodeAffinity'] !== null) {
    nodeAffinity = true;
    if (!isObj(obj(spec['nodeAffinity'])['required'])) errs.push(required('spec.nodeAffinity.required', 'must specify required node constraints'));
  }
  let count = 0;
  for (const [key, errName] of pvSources) {
    if (spec[key] === undefined || spec[key] === null) continue;
    if (count > 0 && key !== 'flexVolume') {
      errs.push(forbidden(`spec.${errName}`, 'may not specify more than 1 volume type'));
      continue;
    }
    count++;
    errs.push(...validatePVSource(spec, key));
    if (key === 'local' && !nodeAffinity) errs.push(required('spec.nodeAffinity', 'Local volume requires node affinity'));
  }
  if (count === 0) errs.push(required('spec', 'must specify a volume type'));
  const hp = obj(spec['hostPath'])['path'];
  if (typeof hp === 'string' && posix.normalize(hp).replace(/(.)\/$/, '$1') === '/' && policy === 'Recycle') {
    errs.push(forbidden('spec.persistentVolumeReclaimPolicy', "may not be 'recycle' for a hostPath mount of '/'"));
  }
  if (str(spec['storageClassName'])) errs.push(...validateClassName(spec['storageClassName'], 'spec.storageClassName'));
  const mode = spec['volumeMode'];
  if (mode !== undefined && mode !== null && !(volumeModes as readonly unknown[]).includes(mode)) errs.push(notSupported('spec.volumeMode', mode, volumeModes));
  const vac = spec['volumeAttributesClassName'];
  if (vac !== undefined && vac !== null) {
    if (vac === '') errs.push(required('spec.volumeAttributesClassName', 'an empty string is disallowed'));
    else errs.push(...validateClassName(vac, 'spec.volumeAttributesClassName'));
    if (!isObj(spec['csi'])) errs.push(required('spec.csi', 'has to be specified when using volumeAttributesClassName'));
  }
  return errs;
}

function pvSourceOf(spec: J): J {
  const out: J = {};
  for (const [key] of pvSources) if (spec[key] !== undefined && spec[key] !== null) out[key] = spec[key];
  return out;
}

/** Keys whose values differ, with both values, for the body of an "immutable" message. */
function diffLines(a: J, b: J): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => !jsonEqual(a[k], b[k]))
    .map((k) => `  ${k}: ${JSON.stringify(a[k] ?? null)} -> ${JSON.stringify(b[k] ?? null)}`)
    .join('\n');
}

export function validatePersistentVolume(pv: KubeObject, ctx: { old?: KubeObject; subresource: string }): StatusCause[] {
  if (ctx.subresource === 'status') return [];
  const errs = validatePVSpec(pv);
  const old = ctx.old;
  if (!old) return errs;
  const spec = obj(pv['spec']);
  const o = obj(old['spec']);
  const newSrc = clone(pvSourceOf(spec));
  const oldSrc = pvSourceOf(o);
  if (isObj(oldSrc['csi']) && oldSrc['csi']['controllerExpandSecretRef'] === undefined && isObj(newSrc['csi'])) delete newSrc['csi']['controllerExpandSecretRef'];
  if (!jsonEqual(newSrc, oldSrc)) {
    errs.push(forbidden('spec.persistentvolumesource', `spec.persistentvolumesource is immutable after creation\n${diffLines(oldSrc, newSrc)}`));
  }
  errs.push(...immutable('volumeMode', spec['volumeMode'] ?? null, o['volumeMode'] ?? null));
  if (o['nodeAffinity'] !== undefined && o['nodeAffinity'] !== null && !jsonEqual(spec['nodeAffinity'] ?? null, o['nodeAffinity'])) {
    errs.push(invalidValue('nodeAffinity', spec['nodeAffinity'] ?? null, 'field is immutable, except for updating from beta label to GA'));
  }
  if (o['volumeAttributesClassName'] !== undefined && o['volumeAttributesClassName'] !== null && (spec['volumeAttributesClassName'] ?? null) === null) {
    errs.push(forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
  }
  return errs;
}

function storageClassOfPV(pv: KubeObject): string {
  const ann = pv.metadata.annotations?.[betaStorageClassAnnotation];
  return ann !== undefined ? ann : str(obj(pv['spec'])['storageClassName']);
}

export const persistentVolumeTable: TableDef = {
  columns: [
    nameColumn,
    col('Capacity', 'The storage capacity of the volume.'),
    col('Access Modes', 'The ways the volume can be mounted.'),
    col('Reclaim Policy', 'What happens to the volume when its claim is released.'),
    col('Status', 'The phase of the volume.'),
    col('Claim', 'The claim bound to the volume (namespace/name).'),
    col('StorageClass', 'StorageClass of the pv'),
    col('VolumeAttributesClass', 'VolumeAttributesClass of the pv'),
    col('Reason', 'Why the volume is in its phase, if it failed.'),
    ageColumn,
    col('VolumeMode', 'Whether the volume is a filesystem or a raw block device.', 1),
  ],
  row(pv, now) {
    const spec = obj(pv['spec']);
    const status = obj(pv['status']);
    const claim = isObj(spec['claimRef']) ? `${str(spec['claimRef']['namespace'])}/${str(spec['claimRef']['name'])}` : '';
    return [
      pv.metadata.name ?? '',
      quantityCell(obj(spec['capacity'])['storage']),
      accessModesCell(arr(spec['accessModes'])),
      str(spec['persistentVolumeReclaimPolicy']),
      pv.metadata.deletionTimestamp ? 'Terminating' : str(status['phase']),
      claim,
      storageClassOfPV(pv),
      spec['volumeAttributesClassName'] !== undefined && spec['volumeAttributesClassName'] !== null ? str(spec['volumeAttributesClassName']) : '<unset>',
      str(status['reason']),
      ageOf(pv, now),
      spec['volumeMode'] ? str(spec['volumeMode']) : '<unset>',
    ];
  },
};

// ---- PersistentVolumeClaim ---------------------------------------------------------------------

/** SetDefaults_PersistentVolumeClaim (volumeMode Filesystem, phase Pending). */
export function defaultPersistentVolumeClaim(pvc: KubeObject): void {
  const spec = ensureObj(pvc, 'spec');
  if (spec['volumeMode'] === undefined || spec['volumeMode'] === null) spec['volumeMode'] = 'Filesystem';
  const status = ensureObj(pvc, 'status');
  if (!status['phase']) status['phase'] = 'Pending';
}

/** Upstream NormalizeDataSources: dataSource and dataSourceRef mirror each other when one is missing. */
function normalizeDataSources(spec: J): void {
  const ds = spec['dataSource'];
  const ref = spec['dataSourceRef'];
  const copy = (from: J): J => {
    const out: J = {};
    if (from['apiGroup'] !== undefined && from['apiGroup'] !== null) out['apiGroup'] = from['apiGroup'];
    out['kind'] = from['kind'];
    out['name'] = from['name'];
    return out;
  };
  if (isObj(ds) && (ref === undefined || ref === null)) spec['dataSourceRef'] = copy(ds);
  else if (isObj(ref) && (ds === undefined || ds === null) && !str(ref['namespace'])) spec['dataSource'] = copy(ref);
}

export function preparePersistentVolumeClaimForCreate(pvc: KubeObject): void {
  pvc['status'] = {};
  normalizeDataSources(ensureObj(pvc, 'spec'));
}

export function preparePersistentVolumeClaimForUpdate(pvc: KubeObject, old: KubeObject): void {
  keepStatus(pvc, old);
  normalizeDataSources(ensureObj(pvc, 'spec'));
}

function validateDataSource(ds: J, path: string, withNamespace: boolean): StatusCause[] {
  const errs: StatusCause[] = [];
  if (!str(ds['name'])) errs.push(required(`${path}.name`));
  if (!str(ds['kind'])) errs.push(required(`${path}.kind`));
  const group = str(ds['apiGroup']);
  if (!group && ds['kind'] !== 'PersistentVolumeClaim') {
    errs.push(invalidValue(path, ds['kind'] ?? '', "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
  }
  if (group) for (const m of isDNS1123Subdomain(group)) errs.push(invalidValue(`${path}.apiGroup`, group, m));
  if (withNamespace && str(ds['namespace'])) for (const m of isDNS1123Label(ds['namespace'])) errs.push(invalidValue(`${path}.namespace`, ds['namespace'], m));
  return errs;
}

/** Upstream ValidatePersistentVolumeClaimSpec. */
function validatePVCSpec(spec: J): StatusCause[] {
  const errs: StatusCause[] = [];
  const modes = arr(spec['accessModes']);
  if (!modes.length) errs.push(required('spec.accessModes', 'at least 1 access mode is required'));
  if (isObj(spec['selector'])) errs.push(...validateLabelSelector(spec['selector'], 'spec.selector'));
  if (modes.length) errs.push(...validateAccessModes(modes, 'spec.accessModes', ''));
  const requests = obj(obj(spec['resources'])['requests']);
  const storagePath = 'spec.resources[storage]';
  if (!('storage' in requests)) errs.push(required(storagePath));
  else {
    const pos = validatePositiveQuantity(requests['storage'], storagePath);
    errs.push(...(pos.length ? pos : validateResourceQuantityValue('storage', requests['storage'], storagePath)));
  }
  if (str(spec['storageClassName'])) errs.push(...validateClassName(spec['storageClassName'], 'spec.storageClassName'));
  const mode = spec['volumeMode'];
  if (mode !== undefined && mode !== null && !(volumeModes as readonly unknown[]).includes(mode)) errs.push(notSupported('spec.volumeMode', mode, volumeModes));
  const ds = spec['dataSource'];
  const ref = spec['dataSourceRef'];
  if (isObj(ds)) errs.push(...validateDataSource(ds, 'spec.dataSource', false));
  if (isObj(ref)) errs.push(...validateDataSource(ref, 'spec.dataSourceRef', true));
  if (isObj(ref) && str(ref['namespace'])) {
    if (isObj(ds)) errs.push(invalidValue('spec', 'spec.dataSource', 'may not be specified when dataSourceRef.namespace is specified'));
  } else if (isObj(ds) && isObj(ref)) {
    if ((ds['apiGroup'] ?? null) !== (ref['apiGroup'] ?? null) || ds['kind'] !== ref['kind'] || ds['name'] !== ref['name']) {
      errs.push(invalidValue('spec', 'spec.dataSource', 'must match dataSourceRef'));
    }
  }
  if (str(spec['volumeAttributesClassName'])) errs.push(...validateClassName(spec['volumeAttributesClassName'], 'spec.volumeAttributesClassName'));
  return errs;
}

/** Upstream ValidatePersistentVolumeClaimUpdate (metadata aside). */
function validatePVCUpdate(pvc: KubeObject, old: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  const spec = obj(pvc['spec']);
  const o = obj(old['spec']);
  const newC: J = clone(spec);
  const oldC: J = clone(o);
  if (!str(oldC['volumeName'])) {
    if (newC['volumeName'] === undefined) delete oldC['volumeName'];
    else oldC['volumeName'] = newC['volumeName'];
  }
  const oldAnn = old.metadata.annotations ?? {};
  const newAnn = pvc.metadata.annotations ?? {};
  const oldSc = o['storageClassName'];
  const newSc = spec['storageClassName'];
  const oldHas = betaStorageClassAnnotation in oldAnn;
  const newHas = betaStorageClassAnnotation in newAnn;
  if (oldHas && (oldSc === undefined || oldSc === null) && typeof newSc === 'string' && newSc === oldAnn[betaStorageClassAnnotation] && (!newHas || newAnn[betaStorageClassAnnotation] === oldAnn[betaStorageClassAnnotation])) {
    delete newC['storageClassName'];
  } else {
    errs.push(
      ...immutable(`metadata.annotations.${betaStorageClassAnnotation}`, newAnn[betaStorageClassAnnotation] ?? '', oldAnn[betaStorageClassAnnotation] ?? ''),
    );
    if (typeof newSc === 'string' && (oldSc === undefined || oldSc === null) && (!oldHas || newSc === oldAnn[betaStorageClassAnnotation])) {
      delete newC['storageClassName'];
    }
  }
  const bound = obj(pvc['status'])['phase'] === 'Bound';
  if (bound && isObj(obj(newC['resources'])['requests'])) {
    const oldStorage = obj(obj(o['resources'])['requests'])['storage'];
    if (oldStorage === undefined) delete newC['resources']['requests']['storage'];
    else newC['resources']['requests']['storage'] = oldStorage;
  }
  if (bound && newC['volumeAttributesClassName'] !== undefined && newC['volumeAttributesClassName'] !== null) {
    if (oldC['volumeAttributesClassName'] === undefined) delete newC['volumeAttributesClassName'];
    else newC['volumeAttributesClassName'] = oldC['volumeAttributesClassName'];
  }
  if (!jsonEqual(newC, oldC)) {
    errs.push(
      forbidden('spec', `spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n${diffLines(oldC, newC)}`),
    );
  }
  const oldSize = obj(obj(o['resources'])['requests'])['storage'] ?? 0;
  const newSize = obj(obj(spec['resources'])['requests'])['storage'] ?? 0;
  const statusSize = obj(obj(old['status'])['capacity'])['storage'] ?? 0;
  if (parseQuantity(newSize) !== undefined && compareQuantity(newSize, oldSize) < 0 && compareQuantity(newSize, statusSize) <= 0) {
    errs.push(forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'));
  }
  errs.push(...immutable('volumeMode', spec['volumeMode'] ?? null, o['volumeMode'] ?? null));
  const oldVac = o['volumeAttributesClassName'];
  const newVac = spec['volumeAttributesClassName'];
  if (oldVac !== undefined && oldVac !== null && !jsonEqual(oldVac, newVac ?? null)) {
    if (newVac === undefined || newVac === null) errs.push(forbidden('spec.volumeAttributesClassName', 'update from non-nil value to nil is forbidden'));
    else if (newVac === '') errs.push(forbidden('spec.volumeAttributesClassName', 'update from non-nil value to an empty string is forbidden'));
  }
  return errs;
}

/** Upstream ValidatePersistentVolumeClaimStatusUpdate (metadata aside). */
function validatePVCStatus(pvc: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  if (!arr(obj(pvc['spec'])['accessModes']).length) errs.push(required('Spec.accessModes'));
  for (const [k, q] of Object.entries(obj(obj(pvc['status'])['capacity']))) {
    const path = `status.capacity[${k}]`;
    const syntax = validateQuantitySyntax(q, path);
    if (syntax.length) errs.push(...syntax);
    else if (parseQuantity(q)! < 0) errs.push(invalidValue(path, Math.trunc(parseQuantity(q)!), 'must be a valid resource quantity'));
  }
  return errs;
}

export function validatePersistentVolumeClaim(pvc: KubeObject, ctx: { old?: KubeObject; subresource: string }): StatusCause[] {
  if (ctx.subresource === 'status') return validatePVCStatus(pvc);
  const errs = validatePVCSpec(obj(pvc['spec']));
  if (ctx.old) errs.push(...validatePVCUpdate(pvc, ctx.old));
  return errs;
}

function storageClassOfPVC(pvc: KubeObject): string {
  const ann = pvc.metadata.annotations?.[betaStorageClassAnnotation];
  return ann !== undefined ? ann : str(obj(pvc['spec'])['storageClassName']);
}

export const persistentVolumeClaimTable: TableDef = {
  columns: [
    nameColumn,
    col('Status', 'The phase of the claim.'),
    col('Volume', 'The volume bound to the claim.'),
    col('Capacity', 'The capacity of the bound volume.'),
    col('Access Modes', 'The access modes of the bound volume.'),
    col('StorageClass', 'StorageClass of the pvc'),
    col('VolumeAttributesClass', 'VolumeAttributesClass of the pvc'),
    ageColumn,
    col('VolumeMode', 'Whether the claim wants a filesystem or a raw block device.', 1),
  ],
  row(pvc, now) {
    const spec = obj(pvc['spec']);
    const status = obj(pvc['status']);
    const volume = str(spec['volumeName']);
    return [
      pvc.metadata.name ?? '',
      pvc.metadata.deletionTimestamp ? 'Terminating' : str(status['phase']),
      volume,
      volume ? quantityCell(obj(status['capacity'])['storage']) : '',
      volume ? accessModesCell(arr(status['accessModes'])) : '',
      storageClassOfPVC(pvc),
      spec['volumeAttributesClassName'] !== undefined && spec['volumeAttributesClassName'] !== null ? str(spec['volumeAttributesClassName']) : '<unset>',
      ageOf(pvc, now),
      spec['volumeMode'] ? str(spec['volumeMode']) : '<unset>',
    ];
  },
};
