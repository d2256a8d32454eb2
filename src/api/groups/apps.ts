/**
 * The apps/v1 kinds, declared as data: Deployments, ReplicaSets, StatefulSets, DaemonSets and
 * ControllerRevisions, as upstream's apps registries treat them.
 *
 * - defaulting: apps/v1 SetDefaults_* (no selector or label defaulting in apps/v1) and the pod
 *   template's defaults; StatefulSet claim templates get the v1 conversion's apiVersion/kind and
 *   the claim defaults;
 * - strategies: status cleared on create (keeping the counters Go always prints), kept on main
 *   updates; spec (and for Deployments, labels) kept on status updates; DaemonSets carry the
 *   template generation in the `deprecated.daemonset.template.generation` annotation, bumped when
 *   the template changes, as the v1 conversion shows it;
 * - validation: ValidateDeployment/ReplicaSet/StatefulSet/DaemonSet/ControllerRevision and their
 *   update and status-update rules, spec.selector immutable (apps/v1), the StatefulSet rule that
 *   only some spec fields may change;
 * - tables: upstream's printers (READY "2/3" for Deployments and StatefulSets, counts for
 *   ReplicaSets and DaemonSets, CONTROLLER and REVISION for ControllerRevisions);
 * - scale subresources for Deployments, ReplicaSets and StatefulSets; ReplicaSets select on
 *   status.replicas.
 *
 * Generation: the generic machinery bumps metadata.generation when anything outside metadata and
 * status changes; a Deployment's also bumps when only its annotations change, as upstream.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { ResourceDef, TableDef, ValidateContext } from '../resource.ts';
import { labelsCell } from '../printers.ts';
import {
  forbidden,
  immutable,
  invalidValue,
  isDNS1123Label,
  jsonEqual,
  notSupported,
  required,
  validateAnnotations,
  validateLabels,
} from '../validation.ts';
import { ageColumn, ageOf, arr, clone, col, ensureObj, isObj, nameColumn, obj, str, type J } from './core-common.ts';
import { defaultClaimSpec, defaultPodTemplateSpec, dropDisabledPodSpecFields, validatePodTemplateSpec } from './pod-spec.ts';
import {
  containerCells,
  formatLabelSelector,
  intOrPercentValue,
  keepOldStatus,
  keepSpecForStatus,
  notMoreThan100Percent,
  num,
  resetStatus,
  selectorConverts,
  selectorEmpty,
  selectorMatches,
  selectorString,
  validateLabelSelector,
  validateNonnegative,
  validatePositiveIntOrPercent,
} from './workload-common.ts';

const apps = { group: 'apps', version: 'v1' } as const;

const scale = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' };

const setIfAbsent = (o: J, k: string, v: unknown): void => {
  if (o[k] === undefined || o[k] === null) o[k] = v;
};

function specOf(o: KubeObject): J {
  return ensureObj(o as J, 'spec');
}

function templateOf(o: KubeObject): J {
  return ensureObj(specOf(o), 'template');
}

/** The template's pod spec with disabled-feature fields dropped (upstream DropDisabledTemplateFields). */
function dropTemplateFields(o: KubeObject, old?: KubeObject): void {
  dropDisabledPodSpecFields(ensureObj(templateOf(o), 'spec'), old ? obj(obj(obj(old['spec'])['template'])['spec']) : undefined);
}

/** The checks upstream's apps validation repeats for a controller's selector and template. */
function validateSelectorAndTemplate(spec: J, kind: string, opts: { validateTemplate: boolean; requireSelector: boolean }): StatusCause[] {
  const errs: StatusCause[] = [];
  const sel = spec['selector'];
  if (sel === undefined || sel === null) {
    if (opts.requireSelector) errs.push(required('spec.selector'));
  } else {
    errs.push(...validateLabelSelector(sel, 'spec.selector'));
    if (selectorEmpty(sel)) errs.push(invalidValue('spec.selector', sel, `empty selector is invalid for ${kind}`));
  }
  if (!selectorConverts(sel)) {
    errs.push(invalidValue('spec.selector', sel, 'invalid label selector'));
    return errs;
  }
  const tpl = obj(spec['template']);
  if (!selectorEmpty(sel) && !selectorMatches(sel, obj(tpl['metadata'])['labels'])) {
    errs.push(invalidValue('spec.template.metadata.labels', obj(tpl['metadata'])['labels'] ?? null, '`selector` does not match template `labels`'));
  }
  if (opts.validateTemplate) errs.push(...validatePodTemplateSpec(tpl, 'spec.template'));
  return errs;
}

function validateAlwaysRestart(spec: J, kind: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const ps = obj(obj(spec['template'])['spec']);
  if (ps['restartPolicy'] !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', ps['restartPolicy'] ?? '', ['Always']));
  if (ps['activeDeadlineSeconds'] !== undefined && ps['activeDeadlineSeconds'] !== null) {
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return errs;
}

function validateCountsNotAbove(status: J, keys: readonly string[], ready = true): StatusCause[] {
  const errs: StatusCause[] = [];
  const msg = 'cannot be greater than status.replicas';
  for (const k of keys) if (num(status[k]) > num(status['replicas'])) errs.push(invalidValue(`status.${k}`, status[k], msg));
  if (ready && num(status['availableReplicas']) > num(status['readyReplicas'])) {
    errs.push(invalidValue('status.availableReplicas', status['availableReplicas'], 'cannot be greater than readyReplicas'));
  }
  return errs;
}

function validateCollisionCount(status: J, old: KubeObject | undefined): StatusCause[] {
  const prev = obj(old?.['status'])['collisionCount'];
  const next = status['collisionCount'];
  if (typeof prev === 'number' && (typeof next !== 'number' || next < prev)) {
    return [invalidValue('status.collisionCount', typeof next === 'number' ? next : 0, 'cannot be decremented')];
  }
  return [];
}

function nonnegativeAll(o: J, keys: readonly string[], path: string): StatusCause[] {
  return keys.flatMap((k) => validateNonnegative(o[k], `${path}.${k}`));
}

/** Gated off in 1.33 (DeploymentReplicaSetTerminatingReplicas): status.terminatingReplicas dropped unless already used. */
function dropTerminatingReplicas(o: KubeObject, old: KubeObject): void {
  const status = obj(o['status']);
  if (obj(old['status'])['terminatingReplicas'] === undefined) delete status['terminatingReplicas'];
}

function selectorCellOf(o: KubeObject): string {
  return formatLabelSelector(obj(o['spec'])['selector']);
}

// ---- Deployments ------------------------------------------------------------------------------------

/** apps/v1 SetDefaults_Deployment plus the template's defaults. */
export function defaultDeployment(d: KubeObject): void {
  const spec = specOf(d);
  setIfAbsent(spec, 'replicas', 1);
  const strategy = ensureObj(spec, 'strategy');
  if (!strategy['type']) strategy['type'] = 'RollingUpdate';
  if (strategy['type'] === 'RollingUpdate') {
    const ru = ensureObj(strategy, 'rollingUpdate');
    setIfAbsent(ru, 'maxUnavailable', '25%');
    setIfAbsent(ru, 'maxSurge', '25%');
  }
  setIfAbsent(spec, 'revisionHistoryLimit', 10);
  setIfAbsent(spec, 'progressDeadlineSeconds', 600);
  defaultPodTemplateSpec(templateOf(d));
}

function validateDeploymentStrategy(strategy: J): StatusCause[] {
  const errs: StatusCause[] = [];
  switch (strategy['type']) {
    case 'Recreate':
      if (strategy['rollingUpdate'] !== undefined && strategy['rollingUpdate'] !== null) {
        errs.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
      }
      break;
    case 'RollingUpdate': {
      const ru = strategy['rollingUpdate'];
      if (!isObj(ru)) {
        errs.push(required('spec.strategy.rollingUpdate', 'this should be defaulted and never be nil'));
        break;
      }
      const p = 'spec.strategy.rollingUpdate';
      errs.push(...validatePositiveIntOrPercent(ru['maxUnavailable'], `${p}.maxUnavailable`));
      errs.push(...validatePositiveIntOrPercent(ru['maxSurge'], `${p}.maxSurge`));
      if (intOrPercentValue(ru['maxUnavailable']) === 0 && intOrPercentValue(ru['maxSurge']) === 0) {
        errs.push(invalidValue(`${p}.maxUnavailable`, ru['maxUnavailable'], 'may not be 0 when `maxSurge` is 0'));
      }
      errs.push(...notMoreThan100Percent(ru['maxUnavailable'], `${p}.maxUnavailable`));
      break;
    }
    default:
      errs.push(notSupported('spec.strategy', strategy, ['Recreate', 'RollingUpdate']));
  }
  return errs;
}

function validateDeploymentStatus(status: J, old: KubeObject | undefined): StatusCause[] {
  const errs = nonnegativeAll(
    status,
    ['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas', 'terminatingReplicas', 'collisionCount'],
    'status',
  );
  errs.push(...validateCountsNotAbove(status, ['updatedReplicas', 'readyReplicas', 'availableReplicas']));
  errs.push(...validateCollisionCount(status, old));
  return errs;
}

function validateDeployment(d: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status') return validateDeploymentStatus(obj(d['status']), ctx.old);
  const spec = obj(d['spec']);
  const errs = validateNonnegative(spec['replicas'], 'spec.replicas');
  errs.push(...validateSelectorAndTemplate(spec, 'deployment', { validateTemplate: true, requireSelector: true }));
  if (selectorConverts(spec['selector'])) errs.push(...validateAlwaysRestart(spec, 'ReplicaSet'));
  errs.push(...validateDeploymentStrategy(obj(spec['strategy'])));
  errs.push(...validateNonnegative(spec['minReadySeconds'], 'spec.minReadySeconds'));
  errs.push(...validateNonnegative(spec['revisionHistoryLimit'], 'spec.revisionHistoryLimit'));
  const pds = spec['progressDeadlineSeconds'];
  if (pds !== undefined && pds !== null) {
    errs.push(...validateNonnegative(pds, 'spec.progressDeadlineSeconds'));
    if (num(pds) <= num(spec['minReadySeconds'])) errs.push(invalidValue('spec.progressDeadlineSeconds', pds, 'must be greater than minReadySeconds'));
  }
  if (ctx.old) errs.push(...immutable('spec.selector', spec['selector'] ?? null, obj(ctx.old['spec'])['selector'] ?? null));
  return errs;
}

export const deploymentTable: TableDef = {
  columns: [
    nameColumn,
    col('Ready', 'Number of the pod with ready state'),
    col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    ageColumn,
    col('Containers', 'Names of each container in the template.', 1),
    col('Images', 'Images referenced by each container in the template.', 1),
    col('Selector', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
  ],
  row(d, now) {
    const spec = obj(d['spec']);
    const status = obj(d['status']);
    const [names, images] = containerCells(obj(spec['template'])['spec']);
    return [
      d.metadata.name ?? '',
      `${num(status['readyReplicas'])}/${num(spec['replicas'])}`,
      num(status['updatedReplicas']),
      num(status['availableReplicas']),
      ageOf(d, now),
      names,
      images,
      selectorString(spec['selector']),
    ];
  },
};

export const deployments: ResourceDef = {
  ...apps,
  kind: 'Deployment',
  plural: 'deployments',
  singular: 'deployment',
  namespaced: true,
  shortNames: ['deploy'],
  categories: ['all'],
  subresources: { status: true, scale },
  generation: (d, old) => !jsonEqual(d.metadata.annotations ?? {}, old.metadata.annotations ?? {}),
  default: defaultDeployment,
  prepareForCreate(d) {
    defaultDeployment(d);
    resetStatus(d);
    dropTemplateFields(d);
  },
  prepareForUpdate(d, old) {
    defaultDeployment(d);
    keepOldStatus(d, old);
    dropTemplateFields(d, old);
  },
  prepareForStatusUpdate(d, old) {
    keepSpecForStatus(d, old);
    if (old.metadata.labels) d.metadata.labels = clone(old.metadata.labels);
    else delete d.metadata.labels;
    dropTerminatingReplicas(d, old);
  },
  validate: validateDeployment,
  table: deploymentTable,
};

// ---- ReplicaSets ----------------------------------------------------------------------------------------

const replicaSetStatusZeros = ['replicas'] as const;

/** apps/v1 SetDefaults_ReplicaSet plus the template's defaults. */
export function defaultReplicaSet(rs: KubeObject): void {
  setIfAbsent(specOf(rs), 'replicas', 1);
  defaultPodTemplateSpec(templateOf(rs));
}

function validateReplicaSet(rs: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status') {
    const status = obj(rs['status']);
    const errs = nonnegativeAll(status, ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration', 'terminatingReplicas'], 'status');
    errs.push(...validateCountsNotAbove(status, ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas']));
    return errs;
  }
  const spec = obj(rs['spec']);
  const errs = [...validateNonnegative(spec['replicas'], 'spec.replicas'), ...validateNonnegative(spec['minReadySeconds'], 'spec.minReadySeconds')];
  // upstream's message says "deployment" for ReplicaSets too
  errs.push(...validateSelectorAndTemplate(spec, 'deployment', { validateTemplate: true, requireSelector: true }));
  if (selectorConverts(spec['selector'])) errs.push(...validateAlwaysRestart(spec, 'ReplicaSet'));
  if (ctx.old) errs.push(...immutable('spec.selector', spec['selector'] ?? null, obj(ctx.old['spec'])['selector'] ?? null));
  return errs;
}

export const replicaSetTable: TableDef = {
  columns: [
    nameColumn,
    col('Desired', 'Replicas is the number of desired replicas.', 0, 'integer'),
    col('Current', 'Replicas is the most recently observed number of replicas.', 0, 'integer'),
    col('Ready', 'The number of ready replicas for this replica set.', 0, 'integer'),
    ageColumn,
    col('Containers', 'Names of each container in the template.', 1),
    col('Images', 'Images referenced by each container in the template.', 1),
    col('Selector', 'Selector is a label query over pods that should match the replica count.', 1),
  ],
  row(rs, now) {
    const spec = obj(rs['spec']);
    const status = obj(rs['status']);
    const [names, images] = containerCells(obj(spec['template'])['spec']);
    return [rs.metadata.name ?? '', num(spec['replicas']), num(status['replicas']), num(status['readyReplicas']), ageOf(rs, now), names, images, selectorCellOf(rs)];
  },
};

export const replicaSets: ResourceDef = {
  ...apps,
  kind: 'ReplicaSet',
  plural: 'replicasets',
  singular: 'replicaset',
  namespaced: true,
  shortNames: ['rs'],
  categories: ['all'],
  subresources: { status: true, scale },
  generation: true,
  default: defaultReplicaSet,
  prepareForCreate(rs) {
    defaultReplicaSet(rs);
    resetStatus(rs, replicaSetStatusZeros);
    dropTemplateFields(rs);
  },
  prepareForUpdate(rs, old) {
    defaultReplicaSet(rs);
    keepOldStatus(rs, old);
    dropTemplateFields(rs, old);
  },
  prepareForStatusUpdate(rs, old) {
    keepSpecForStatus(rs, old, replicaSetStatusZeros);
    dropTerminatingReplicas(rs, old);
  },
  validate: validateReplicaSet,
  table: replicaSetTable,
  fieldSelectors: { 'status.replicas': (o) => String(num(obj(o['status'])['replicas'])) },
};

// ---- StatefulSets --------------------------------------------------------------------------------------

const statefulSetStatusZeros = ['replicas', 'availableReplicas'] as const;

/** apps/v1 SetDefaults_StatefulSet, the template's defaults, and the claim templates as v1 prints them. */
export function defaultStatefulSet(sts: KubeObject): void {
  const spec = specOf(sts);
  if (!spec['podManagementPolicy']) spec['podManagementPolicy'] = 'OrderedReady';
  const us = ensureObj(spec, 'updateStrategy');
  if (!us['type']) {
    us['type'] = 'RollingUpdate';
    if (!isObj(us['rollingUpdate'])) us['rollingUpdate'] = {};
  }
  if (us['type'] === 'RollingUpdate' && isObj(us['rollingUpdate'])) setIfAbsent(us['rollingUpdate'], 'partition', 0);
  const policy = ensureObj(spec, 'persistentVolumeClaimRetentionPolicy');
  if (!policy['whenDeleted']) policy['whenDeleted'] = 'Retain';
  if (!policy['whenScaled']) policy['whenScaled'] = 'Retain';
  setIfAbsent(spec, 'replicas', 1);
  setIfAbsent(spec, 'revisionHistoryLimit', 10);
  setIfAbsent(spec, 'serviceName', '');
  if (isObj(spec['ordinals'])) setIfAbsent(spec['ordinals'], 'start', 0);
  defaultPodTemplateSpec(templateOf(sts));
  for (const raw of arr(spec['volumeClaimTemplates'])) {
    if (!isObj(raw)) continue;
    if (!raw['apiVersion']) raw['apiVersion'] = 'v1';
    if (!raw['kind']) raw['kind'] = 'PersistentVolumeClaim';
    ensureObj(raw, 'metadata');
    defaultClaimSpec(ensureObj(raw, 'spec'));
    const status = ensureObj(raw, 'status');
    if (!status['phase']) status['phase'] = 'Pending';
  }
}

function validateStatefulSetSpec(spec: J, allowAnyServiceName: boolean): StatusCause[] {
  const errs: StatusCause[] = [];
  switch (spec['podManagementPolicy']) {
    case undefined:
    case null:
    case '':
      errs.push(required('spec.podManagementPolicy'));
      break;
    case 'OrderedReady':
    case 'Parallel':
      break;
    default:
      errs.push(invalidValue('spec.podManagementPolicy', spec['podManagementPolicy'], "must be 'OrderedReady' or 'Parallel'"));
  }
  const us = obj(spec['updateStrategy']);
  switch (us['type']) {
    case undefined:
    case null:
    case '':
      errs.push(required('spec.updateStrategy'));
      break;
    case 'OnDelete':
      if (us['rollingUpdate'] !== undefined && us['rollingUpdate'] !== null) {
        errs.push(invalidValue('spec.updateStrategy.rollingUpdate', us['rollingUpdate'], "only allowed for updateStrategy 'RollingUpdate'"));
      }
      break;
    case 'RollingUpdate':
      if (isObj(us['rollingUpdate'])) {
        const ru = us['rollingUpdate'];
        errs.push(...validateNonnegative(ru['partition'], 'spec.updateStrategy.rollingUpdate.partition'));
        if (ru['maxUnavailable'] !== undefined && ru['maxUnavailable'] !== null) {
          const p = 'spec.updateStrategy.rollingUpdate.maxUnavailable';
          errs.push(...validatePositiveIntOrPercent(ru['maxUnavailable'], p));
          if (intOrPercentValue(ru['maxUnavailable']) === 0) errs.push(invalidValue(p, ru['maxUnavailable'], 'cannot be 0'));
          errs.push(...notMoreThan100Percent(ru['maxUnavailable'], p));
        }
      }
      break;
    default:
      errs.push(invalidValue('spec.updateStrategy', us, "must be 'RollingUpdate' or 'OnDelete'"));
  }
  const policy = spec['persistentVolumeClaimRetentionPolicy'];
  if (isObj(policy)) {
    for (const k of ['whenDeleted', 'whenScaled']) {
      if (!['Retain', 'Delete'].includes(policy[k])) errs.push(notSupported(`spec.persistentVolumeClaimRetentionPolicy.${k}`, policy[k] ?? '', ['Retain', 'Delete']));
    }
  }
  errs.push(...validateNonnegative(spec['replicas'], 'spec.replicas'));
  errs.push(...validateNonnegative(spec['minReadySeconds'], 'spec.minReadySeconds'));
  if (isObj(spec['ordinals'])) errs.push(...validateNonnegative(spec['ordinals']['start'], 'spec.ordinals.start'));
  if (!allowAnyServiceName && str(spec['serviceName'])) {
    for (const m of isDNS1123Label(str(spec['serviceName']))) errs.push(invalidValue('spec.serviceName', spec['serviceName'], m));
  }
  const sel = spec['selector'];
  if (sel === undefined || sel === null) errs.push(required('spec.selector'));
  else {
    errs.push(...validateLabelSelector(sel, 'spec.selector'));
    if (selectorEmpty(sel)) errs.push(invalidValue('spec.selector', sel, 'empty selector is invalid for statefulset'));
  }
  if (!selectorConverts(sel)) errs.push(invalidValue('spec.selector', sel, ''));
  else {
    // upstream validates the template's labels and annotations only, not its pod spec
    const meta = obj(obj(spec['template'])['metadata']);
    if (!selectorEmpty(sel) && !selectorMatches(sel, meta['labels'])) {
      errs.push(invalidValue('spec.template.metadata.labels', meta['labels'] ?? null, '`selector` does not match template `labels`'));
    }
    errs.push(...validateLabels(meta['labels'], 'spec.template.labels'), ...validateAnnotations(meta['annotations'], 'spec.template.annotations'));
  }
  errs.push(...validateAlwaysRestart(spec, 'StatefulSet'));
  return errs;
}

/** The spec fields a StatefulSet update may change. */
const statefulSetMutable = ['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

function validateStatefulSet(sts: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status') {
    const status = obj(sts['status']);
    const errs = nonnegativeAll(status, ['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas', 'observedGeneration', 'collisionCount'], 'status');
    errs.push(...validateCountsNotAbove(status, ['readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas']));
    errs.push(...validateCollisionCount(status, ctx.old));
    return errs;
  }
  const spec = obj(sts['spec']);
  const errs = validateStatefulSetSpec(spec, !!ctx.old);
  if (ctx.old) {
    const a = clone(spec);
    const b = clone(obj(ctx.old['spec']));
    for (const k of statefulSetMutable) {
      delete a[k];
      delete b[k];
    }
    if (!jsonEqual(a, b)) {
      errs.push(
        forbidden(
          'spec',
          "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ),
      );
    }
  }
  return errs;
}

export const statefulSetTable: TableDef = {
  columns: [
    nameColumn,
    col('Ready', 'Number of the pod with ready state'),
    ageColumn,
    col('Containers', 'Names of each container in the template.', 1),
    col('Images', 'Images referenced by each container in the template.', 1),
  ],
  row(sts, now) {
    const spec = obj(sts['spec']);
    const [names, images] = containerCells(obj(spec['template'])['spec']);
    return [sts.metadata.name ?? '', `${num(obj(sts['status'])['readyReplicas'])}/${num(spec['replicas'])}`, ageOf(sts, now), names, images];
  },
};

/** Gated off in 1.33 (MaxUnavailableStatefulSet): rollingUpdate.maxUnavailable dropped unless already used. */
function dropStatefulSetFields(sts: KubeObject, old?: KubeObject): void {
  const oldRu = obj(obj(obj(old?.['spec'])['updateStrategy'])['rollingUpdate']);
  const ru = obj(obj(obj(sts['spec'])['updateStrategy'])['rollingUpdate']);
  if (oldRu['maxUnavailable'] === undefined) delete ru['maxUnavailable'];
}

export const statefulSets: ResourceDef = {
  ...apps,
  kind: 'StatefulSet',
  plural: 'statefulsets',
  singular: 'statefulset',
  namespaced: true,
  shortNames: ['sts'],
  categories: ['all'],
  nameRule: 'label',
  subresources: { status: true, scale },
  generation: true,
  default: defaultStatefulSet,
  prepareForCreate(sts) {
    defaultStatefulSet(sts);
    resetStatus(sts, statefulSetStatusZeros);
    dropTemplateFields(sts);
    dropStatefulSetFields(sts);
  },
  prepareForUpdate(sts, old) {
    defaultStatefulSet(sts);
    keepOldStatus(sts, old);
    dropTemplateFields(sts, old);
    dropStatefulSetFields(sts, old);
  },
  prepareForStatusUpdate: (sts, old) => keepSpecForStatus(sts, old, statefulSetStatusZeros),
  validate: validateStatefulSet,
  table: statefulSetTable,
};

// ---- DaemonSets ----------------------------------------------------------------------------------------

const daemonSetStatusZeros = ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady'] as const;

/** Where apps/v1 shows the internal spec.templateGeneration. */
export const templateGenerationAnnotation = 'deprecated.daemonset.template.generation';

/** apps/v1 SetDefaults_DaemonSet plus the template's defaults. */
export function defaultDaemonSet(ds: KubeObject): void {
  const spec = specOf(ds);
  const us = ensureObj(spec, 'updateStrategy');
  if (!us['type']) us['type'] = 'RollingUpdate';
  if (us['type'] === 'RollingUpdate') {
    const ru = ensureObj(us, 'rollingUpdate');
    setIfAbsent(ru, 'maxUnavailable', 1);
    setIfAbsent(ru, 'maxSurge', 0);
  }
  setIfAbsent(spec, 'revisionHistoryLimit', 10);
  defaultPodTemplateSpec(templateOf(ds));
}

function templateGeneration(o: KubeObject): number {
  const n = Number(o.metadata.annotations?.[templateGenerationAnnotation]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function setTemplateGeneration(o: KubeObject, n: number): void {
  o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [templateGenerationAnnotation]: String(n) };
}

function validateDaemonSet(ds: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status') {
    const status = obj(ds['status']);
    const errs = nonnegativeAll(
      status,
      ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'collisionCount'],
      'status',
    );
    errs.push(...validateCollisionCount(status, ctx.old));
    return errs;
  }
  const spec = obj(ds['spec']);
  const errs: StatusCause[] = [];
  const sel = spec['selector'];
  errs.push(...validateLabelSelector(sel, 'spec.selector'));
  const tpl = obj(spec['template']);
  if (selectorConverts(sel) && !selectorMatches(sel, obj(tpl['metadata'])['labels'])) {
    errs.push(invalidValue('spec.template.metadata.labels', obj(tpl['metadata'])['labels'] ?? null, '`selector` does not match template `labels`'));
  }
  if (sel !== undefined && sel !== null && selectorEmpty(sel)) errs.push(invalidValue('spec.selector', sel, 'empty selector is invalid for daemonset'));
  errs.push(...validatePodTemplateSpec(tpl, 'spec.template'));
  errs.push(...validateAlwaysRestart(spec, 'DaemonSet'));
  errs.push(...validateNonnegative(spec['minReadySeconds'], 'spec.minReadySeconds'));
  const us = obj(spec['updateStrategy']);
  switch (us['type']) {
    case 'OnDelete':
      break;
    case 'RollingUpdate': {
      const ru = us['rollingUpdate'];
      if (!isObj(ru)) {
        errs.push(required('spec.updateStrategy.rollingUpdate'));
        break;
      }
      const p = 'spec.updateStrategy.rollingUpdate';
      errs.push(...validatePositiveIntOrPercent(ru['maxUnavailable'], `${p}.maxUnavailable`));
      errs.push(...validatePositiveIntOrPercent(ru['maxSurge'], `${p}.maxSurge`));
      errs.push(...notMoreThan100Percent(ru['maxUnavailable'], `${p}.maxUnavailable`));
      errs.push(...notMoreThan100Percent(ru['maxSurge'], `${p}.maxSurge`));
      const hasUnavailable = intOrPercentValue(ru['maxUnavailable']) !== 0;
      const hasSurge = intOrPercentValue(ru['maxSurge']) !== 0;
      if (hasUnavailable && hasSurge) errs.push(invalidValue(`${p}.maxSurge`, ru['maxSurge'], 'may not be set when maxUnavailable is non-zero'));
      else if (!hasUnavailable && !hasSurge) errs.push(required(`${p}.maxUnavailable`, 'cannot be 0 when maxSurge is 0'));
      break;
    }
    default:
      errs.push(notSupported('spec.updateStrategy', us, ['RollingUpdate', 'OnDelete']));
  }
  errs.push(...validateNonnegative(spec['revisionHistoryLimit'], 'spec.revisionHistoryLimit'));
  if (ctx.old) errs.push(...immutable('spec.selector', sel ?? null, obj(ctx.old['spec'])['selector'] ?? null));
  return errs;
}

export const daemonSetTable: TableDef = {
  columns: [
    nameColumn,
    col('Desired', 'The total number of nodes that should be running the daemon pod.', 0, 'integer'),
    col('Current', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.', 0, 'integer'),
    col('Ready', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.', 0, 'integer'),
    col('Up-to-date', 'The total number of nodes that are running updated daemon pod', 0, 'integer'),
    col('Available', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.', 0, 'integer'),
    col('Node Selector', "NodeSelector is a selector which must be true for the pod to fit on a node."),
    ageColumn,
    col('Containers', 'Names of each container in the template.', 1),
    col('Images', 'Images referenced by each container in the template.', 1),
    col('Selector', 'A label query over pods that are managed by the daemon set.', 1),
  ],
  row(ds, now) {
    const spec = obj(ds['spec']);
    const status = obj(ds['status']);
    const podSpec = obj(obj(spec['template'])['spec']);
    const [names, images] = containerCells(podSpec);
    return [
      ds.metadata.name ?? '',
      num(status['desiredNumberScheduled']),
      num(status['currentNumberScheduled']),
      num(status['numberReady']),
      num(status['updatedNumberScheduled']),
      num(status['numberAvailable']),
      labelsCell(isObj(podSpec['nodeSelector']) ? (podSpec['nodeSelector'] as Record<string, string>) : undefined),
      ageOf(ds, now),
      names,
      images,
      selectorCellOf(ds),
    ];
  },
};

export const daemonSets: ResourceDef = {
  ...apps,
  kind: 'DaemonSet',
  plural: 'daemonsets',
  singular: 'daemonset',
  namespaced: true,
  shortNames: ['ds'],
  categories: ['all'],
  subresources: { status: true },
  generation: true,
  default: defaultDaemonSet,
  prepareForCreate(ds) {
    defaultDaemonSet(ds);
    resetStatus(ds, daemonSetStatusZeros);
    dropTemplateFields(ds);
    setTemplateGeneration(ds, Math.max(1, templateGeneration(ds)));
  },
  prepareForUpdate(ds, old) {
    defaultDaemonSet(ds);
    keepOldStatus(ds, old);
    dropTemplateFields(ds, old);
    const prev = templateGeneration(old) || 1;
    const changed = !jsonEqual(obj(ds['spec'])['template'], obj(old['spec'])['template']);
    setTemplateGeneration(ds, changed ? prev + 1 : prev);
  },
  prepareForStatusUpdate: (ds, old) => keepSpecForStatus(ds, old, daemonSetStatusZeros),
  validate: validateDaemonSet,
  table: daemonSetTable,
};

// ---- ControllerRevisions ----------------------------------------------------------------------------------

function validateControllerRevision(cr: KubeObject, ctx: ValidateContext): StatusCause[] {
  const errs = validateNonnegative(cr['revision'], 'revision');
  if (ctx.old) {
    errs.push(...immutable('data', cr['data'] ?? null, ctx.old['data'] ?? null));
    return errs;
  }
  const data = cr['data'];
  if (data === undefined || data === null) errs.push(required('data', 'data is mandatory'));
  else if (!isObj(data)) errs.push(required('data', 'data must be a valid JSON object'));
  return errs;
}

/** The controller owner as upstream prints it: "<kind>.<group>/<name>" in lower case ("statefulset.apps/web"). */
function controllerOf(o: KubeObject): string {
  const ref = (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
  if (!ref) return '<none>';
  const slash = ref.apiVersion.indexOf('/');
  const group = slash >= 0 ? ref.apiVersion.slice(0, slash) : '';
  const gk = group ? `${ref.kind}.${group}` : ref.kind;
  return gk ? `${gk.toLowerCase()}/${ref.name}` : ref.name;
}

export const controllerRevisionTable: TableDef = {
  columns: [
    nameColumn,
    col('Controller', 'Controller of the object'),
    col('Revision', 'Revision indicates the revision of the state represented by Data.'),
    ageColumn,
  ],
  row: (cr, now) => [cr.metadata.name ?? '', controllerOf(cr), num(cr['revision']), ageOf(cr, now)],
};

export const controllerRevisions: ResourceDef = {
  ...apps,
  kind: 'ControllerRevision',
  plural: 'controllerrevisions',
  singular: 'controllerrevision',
  namespaced: true,
  prepareForCreate(cr) {
    if (cr['revision'] === undefined || cr['revision'] === null) cr['revision'] = 0;
  },
  validate: validateControllerRevision,
  table: controllerRevisionTable,
};

export const resources: ResourceDef[] = [deployments, replicaSets, statefulSets, daemonSets, controllerRevisions];
