/**
 * The core/v1 workload kinds, declared as data: Pods, PodTemplates and ReplicationControllers,
 * as upstream's pod, podtemplate and replicationcontroller registries treat them.
 *
 * - Pods: defaults (SetDefaults_Pod and the pod spec), status reset on create to phase Pending with
 *   the computed QoS class (and the SchedulingGated condition for gated pods), status kept on main
 *   updates and spec kept on status updates, the pod update rules, graceful deletion (the pod's
 *   terminationGracePeriodSeconds; at once when unscheduled or finished), the pod printer's cells
 *   (READY, STATUS with init-container and waiting/terminated reasons, RESTARTS with "(5m ago)"),
 *   and the pod field selectors of upstream's ToSelectableFields. Pods carry metadata.generation
 *   (1.33 populates it whatever the PodObservedGenerationTracking gate says).
 * - PodTemplates: the template defaulted and validated; no status.
 * - ReplicationControllers: selector and labels defaulted from the template labels, stored under
 *   'controllers' as upstream does, scale subresource, status.replicas field selector.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { ResourceDef, TableDef, ValidateContext } from '../resource.ts';
import { humanDuration, labelsCell } from '../printers.ts';
import { forbidden, invalidValue, notSupported, required } from '../validation.ts';
import { ageColumn, ageOf, arr, clone, col, ensureObj, isObj, nameColumn, obj, str, type J } from './core-common.ts';
import {
  computeQOSClass,
  defaultPod,
  defaultPodTemplateSpec,
  dropDisabledPodSpecFields,
  validatePodSpec,
  validatePodSpecUpdate,
  validatePodStatusUpdate,
  validatePodTemplateSpec,
} from './pod-spec.ts';
import { containerCells, keepOldStatus, keepSpecForStatus, mapSelectorMatches, num, resetStatus, validateNonnegative } from './workload-common.ts';

const core = { group: '', version: 'v1' } as const;

// ---- Pods -------------------------------------------------------------------------------------------

function podSpecOf(pod: KubeObject): J {
  return ensureObj(pod as J, 'spec');
}

function preparePodForCreate(pod: KubeObject): void {
  defaultPod(pod as J);
  const spec = podSpecOf(pod);
  dropDisabledPodSpecFields(spec);
  const status: J = { phase: 'Pending', qosClass: computeQOSClass(spec) };
  if (arr(spec['schedulingGates']).length) {
    status['conditions'] = [
      { type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' },
    ];
  }
  pod['status'] = status;
}

function preparePodForUpdate(pod: KubeObject, old: KubeObject): void {
  defaultPod(pod as J);
  keepOldStatus(pod, old);
  dropDisabledPodSpecFields(podSpecOf(pod), obj(old['spec']));
}

/** pods/status: spec and owner references stay as stored; metadata labels, annotations and finalizers may change. */
function preparePodForStatusUpdate(pod: KubeObject, old: KubeObject): void {
  for (const k of Object.keys(pod)) if (k !== 'status' && k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') delete pod[k];
  for (const k of Object.keys(old)) if (k !== 'status' && k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') pod[k] = clone(old[k]);
  if (old.metadata.ownerReferences) pod.metadata.ownerReferences = clone(old.metadata.ownerReferences);
  else delete pod.metadata.ownerReferences;
  if (!isObj(pod['status'])) pod['status'] = {};
  // The QoS class is set at creation and immutable; a writer that leaves it out keeps the stored one.
  const status = pod['status'] as J;
  if (!str(status['qosClass']) && str(obj(old['status'])['qosClass'])) status['qosClass'] = obj(old['status'])['qosClass'];
}

function validatePod(pod: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status' && ctx.old) return validatePodStatusUpdate(pod as J, ctx.old as J);
  // pods/binding only sets spec.nodeName and the PodScheduled condition, checked by its handler.
  if (ctx.subresource === 'binding') return [];
  const errs = validatePodSpec(pod['spec'], 'spec', { isPod: true });
  if (!ctx.old) {
    if (arr(obj(pod['spec'])['ephemeralContainers']).length) errs.push(forbidden('spec.ephemeralContainers', 'cannot be set on create'));
    return errs;
  }
  if (ctx.subresource === 'ephemeralcontainers') {
    // Only additions reach here (the store's strategy checked that): each must be a valid
    // container whose name no other container of the pod uses.
    const names = new Set([...arr(obj(pod['spec'])['containers']), ...arr(obj(pod['spec'])['initContainers'])].map((c) => str(obj(c)['name'])));
    for (const [i, ec] of arr(obj(pod['spec'])['ephemeralContainers']).entries()) {
      const name = str(obj(ec)['name']);
      if (names.has(name)) errs.push({ reason: 'FieldValueDuplicate', field: `spec.ephemeralContainers[${i}].name`, message: `Duplicate value: "${name}"` });
      names.add(name);
    }
    return errs;
  }
  errs.push(...validatePodSpecUpdate(pod['spec'], ctx.old['spec']));
  return errs;
}

/** Upstream CheckGracefulDelete for pods. */
function podDeleteGracePeriod(pod: KubeObject, requested: number | undefined): number {
  const spec = obj(pod['spec']);
  let period = requested ?? (typeof spec['terminationGracePeriodSeconds'] === 'number' ? spec['terminationGracePeriodSeconds'] : 0);
  if (!str(spec['nodeName'])) period = 0;
  const phase = str(obj(pod['status'])['phase']);
  if (phase === 'Failed' || phase === 'Succeeded') period = 0;
  if (period < 0) period = 1;
  return period;
}

function finishedAt(state: unknown): number {
  const t = str(obj(obj(state)['terminated'])['finishedAt']);
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

function conditionTrue(conditions: unknown, type: string): boolean {
  return arr(conditions).some((c) => obj(c)['type'] === type && obj(c)['status'] === 'True');
}

/** The cells of upstream's printPod: Name, Ready, Status, Restarts, Age, IP, Node, Nominated Node, Readiness Gates. */
export function podRow(pod: KubeObject, now: number): unknown[] {
  const spec = obj(pod['spec']);
  const status = obj(pod['status']);
  const initSpecs = new Map(arr(spec['initContainers']).map((c) => [str(obj(c)['name']), obj(c)] as const));
  const restartable = (name: string): boolean => initSpecs.get(name)?.['restartPolicy'] === 'Always';
  let restarts = 0;
  let restartableRestarts = 0;
  let total = arr(spec['containers']).length;
  let ready = 0;
  let lastRestart = 0;
  let lastRestartableRestart = 0;
  const phase = str(status['phase']);
  let reason = str(status['reason']) || phase;
  for (const c of arr(status['conditions'])) {
    if (obj(c)['type'] === 'PodScheduled' && obj(c)['reason'] === 'SchedulingGated') reason = 'SchedulingGated';
  }
  for (const c of initSpecs.values()) if (c['restartPolicy'] === 'Always') total++;

  let initializing = false;
  const initStatuses = arr(status['initContainerStatuses']).map(obj);
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]!;
    const state = obj(c['state']);
    restarts += num(c['restartCount']);
    lastRestart = Math.max(lastRestart, finishedAt(c['lastState']));
    if (restartable(str(c['name']))) {
      restartableRestarts += num(c['restartCount']);
      lastRestartableRestart = Math.max(lastRestartableRestart, finishedAt(c['lastState']));
    }
    const terminated = isObj(state['terminated']) ? state['terminated'] : undefined;
    const waiting = isObj(state['waiting']) ? state['waiting'] : undefined;
    if (terminated && num(terminated['exitCode']) === 0) continue;
    if (restartable(str(c['name'])) && c['started'] === true) {
      if (c['ready'] === true) ready++;
      continue;
    }
    if (terminated) {
      if (!str(terminated['reason'])) {
        reason = num(terminated['signal']) !== 0 ? `Init:Signal:${num(terminated['signal'])}` : `Init:ExitCode:${num(terminated['exitCode'])}`;
      } else reason = `Init:${str(terminated['reason'])}`;
    } else if (waiting && str(waiting['reason']) && waiting['reason'] !== 'PodInitializing') {
      reason = `Init:${str(waiting['reason'])}`;
    } else {
      reason = `Init:${i}/${arr(spec['initContainers']).length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status['conditions'], 'Initialized')) {
    restarts = restartableRestarts;
    lastRestart = lastRestartableRestart;
    let hasRunning = false;
    const statuses = arr(status['containerStatuses']).map(obj);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      const state = obj(c['state']);
      restarts += num(c['restartCount']);
      lastRestart = Math.max(lastRestart, finishedAt(c['lastState']));
      const terminated = isObj(state['terminated']) ? state['terminated'] : undefined;
      const waiting = isObj(state['waiting']) ? state['waiting'] : undefined;
      if (waiting && str(waiting['reason'])) reason = str(waiting['reason']);
      else if (terminated && str(terminated['reason'])) reason = str(terminated['reason']);
      else if (terminated) {
        reason = num(terminated['signal']) !== 0 ? `Signal:${num(terminated['signal'])}` : `ExitCode:${num(terminated['exitCode'])}`;
      } else if (c['ready'] === true && isObj(state['running'])) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = conditionTrue(status['conditions'], 'Ready') ? 'Running' : 'NotReady';
  }

  if (pod.metadata.deletionTimestamp && status['reason'] === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Failed' && phase !== 'Succeeded') reason = 'Terminating';

  const restartsCell = restarts !== 0 && lastRestart ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  const ip = str(obj(arr(status['podIPs'])[0])['ip']) || '<none>';
  const gates = arr(spec['readinessGates']);
  let gatesCell = '<none>';
  if (gates.length) {
    let trueCount = 0;
    for (const g of gates) {
      const cond = arr(status['conditions']).map(obj).find((c) => c['type'] === obj(g)['conditionType']);
      if (cond && cond['status'] === 'True') trueCount++;
    }
    gatesCell = `${trueCount}/${gates.length}`;
  }
  return [
    pod.metadata.name ?? '',
    `${ready}/${total}`,
    reason,
    restartsCell,
    ageOf(pod, now),
    ip,
    str(spec['nodeName']) || '<none>',
    str(status['nominatedNodeName']) || '<none>',
    gatesCell,
  ];
}

export const podTable: TableDef = {
  columns: [
    nameColumn,
    col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ageColumn,
    col('IP', 'IP address allocated to the pod. Routable at least within the cluster.', 1),
    col('Node', 'NodeName indicates in which node this pod is scheduled.', 1),
    col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
    col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
  ],
  row: podRow,
};

export const pods: ResourceDef = {
  ...core,
  kind: 'Pod',
  plural: 'pods',
  singular: 'pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  subresources: { status: true, binding: true, eviction: true, ephemeralContainers: true, connect: ['attach', 'exec', 'log', 'portforward', 'proxy'] },
  generation: true,
  default: (pod) => defaultPod(pod as J),
  prepareForCreate: preparePodForCreate,
  prepareForUpdate: preparePodForUpdate,
  prepareForStatusUpdate: preparePodForStatusUpdate,
  validate: validatePod,
  deleteGracePeriod: podDeleteGracePeriod,
  table: podTable,
  fieldSelectors: {
    'spec.nodeName': (o) => str(obj(o['spec'])['nodeName']),
    'spec.restartPolicy': (o) => str(obj(o['spec'])['restartPolicy']),
    'spec.schedulerName': (o) => str(obj(o['spec'])['schedulerName']),
    'spec.serviceAccountName': (o) => str(obj(o['spec'])['serviceAccountName']),
    'spec.hostNetwork': (o) => String(obj(o['spec'])['hostNetwork'] === true),
    'status.phase': (o) => str(obj(o['status'])['phase']),
    'status.podIP': (o) => str(obj(arr(obj(o['status'])['podIPs'])[0])['ip']) || str(obj(o['status'])['podIP']),
    'status.nominatedNodeName': (o) => str(obj(o['status'])['nominatedNodeName']),
  },
};

// ---- PodTemplates -------------------------------------------------------------------------------------

function defaultPodTemplate(pt: KubeObject): void {
  defaultPodTemplateSpec(ensureObj(pt as J, 'template'));
}

export const podTemplateTable: TableDef = {
  columns: [
    nameColumn,
    col('Containers', 'Names of each container in the template.'),
    col('Images', 'Images referenced by each container in the template.'),
    col('Pod Labels', 'The labels for the pod template.'),
  ],
  row(pt) {
    const tpl = obj(pt['template']);
    const [names, images] = containerCells(tpl['spec']);
    return [pt.metadata.name ?? '', names, images, labelsCell(obj(tpl['metadata'])['labels'])];
  },
};

export const podTemplates: ResourceDef = {
  ...core,
  kind: 'PodTemplate',
  plural: 'podtemplates',
  singular: 'podtemplate',
  namespaced: true,
  generation: true,
  default: defaultPodTemplate,
  prepareForCreate(pt) {
    defaultPodTemplate(pt);
    dropDisabledPodSpecFields(ensureObj(obj(pt['template']), 'spec'));
  },
  prepareForUpdate(pt, old) {
    defaultPodTemplate(pt);
    dropDisabledPodSpecFields(ensureObj(obj(pt['template']), 'spec'), obj(obj(old['template'])['spec']));
  },
  validate: (pt) => validatePodTemplateSpec(pt['template'], 'template'),
  table: podTemplateTable,
};

// ---- ReplicationControllers ----------------------------------------------------------------------------

const rcStatusZeros = ['replicas'] as const;

/** SetDefaults_ReplicationController: replicas 1; selector and labels from the template's labels. */
export function defaultReplicationController(rc: KubeObject): void {
  const spec = ensureObj(rc as J, 'spec');
  if (spec['replicas'] === undefined || spec['replicas'] === null) spec['replicas'] = 1;
  if (!isObj(spec['template'])) return;
  defaultPodTemplateSpec(spec['template']);
  const labels = obj(spec['template'])['metadata']['labels'];
  if (isObj(labels)) {
    if (!Object.keys(obj(spec['selector'])).length) spec['selector'] = clone(labels);
    if (!Object.keys(rc.metadata.labels ?? {}).length) rc.metadata.labels = clone(labels) as Record<string, string>;
  }
}

function validateReplicationControllerStatus(status: J): StatusCause[] {
  const errs: StatusCause[] = [];
  for (const k of ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration']) {
    errs.push(...validateNonnegative(status[k], `status.${k}`));
  }
  const msg = 'cannot be greater than status.replicas';
  for (const k of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas']) {
    if (num(status[k]) > num(status['replicas'])) errs.push(invalidValue(`status.${k}`, status[k], msg));
  }
  if (num(status['availableReplicas']) > num(status['readyReplicas'])) {
    errs.push(invalidValue('status.availableReplicas', status['availableReplicas'], 'cannot be greater than readyReplicas'));
  }
  return errs;
}

function validateReplicationController(rc: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status') return validateReplicationControllerStatus(obj(rc['status']));
  const spec = obj(rc['spec']);
  const errs = [...validateNonnegative(spec['minReadySeconds'], 'spec.minReadySeconds')];
  const selector = obj(spec['selector']);
  if (!Object.keys(selector).length) errs.push(required('spec.selector'));
  errs.push(...validateNonnegative(spec['replicas'], 'spec.replicas'));
  const tpl = spec['template'];
  if (!isObj(tpl)) {
    errs.push(required('spec.template'));
    return errs;
  }
  const labels = obj(tpl['metadata'])['labels'];
  if (Object.keys(selector).length && !mapSelectorMatches(selector, labels)) {
    errs.push(invalidValue('spec.template.metadata.labels', labels ?? null, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplateSpec(tpl, 'spec.template'));
  const rp = obj(tpl['spec'])['restartPolicy'];
  if (rp !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', rp ?? '', ['Always']));
  if (obj(tpl['spec'])['activeDeadlineSeconds'] !== undefined && obj(tpl['spec'])['activeDeadlineSeconds'] !== null) {
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', 'activeDeadlineSeconds in ReplicationController is not Supported'));
  }
  return errs;
}

export const replicationControllerTable: TableDef = {
  columns: [
    nameColumn,
    col('Desired', 'Replicas is the number of desired replicas.', 0, 'integer'),
    col('Current', 'Replicas is the most recently observed number of replicas.', 0, 'integer'),
    col('Ready', 'The number of ready replicas for this replication controller.', 0, 'integer'),
    ageColumn,
    col('Containers', 'Names of each container in the template.', 1),
    col('Images', 'Images referenced by each container in the template.', 1),
    col('Selector', 'Selector is a label query over pods that should match the Replicas count.', 1),
  ],
  row(rc, now) {
    const spec = obj(rc['spec']);
    const status = obj(rc['status']);
    const [names, images] = containerCells(obj(spec['template'])['spec']);
    return [
      rc.metadata.name ?? '',
      num(spec['replicas']),
      num(status['replicas']),
      num(status['readyReplicas']),
      ageOf(rc, now),
      names,
      images,
      labelsCell(isObj(spec['selector']) ? (spec['selector'] as Record<string, string>) : undefined),
    ];
  },
};

export const replicationControllers: ResourceDef = {
  ...core,
  kind: 'ReplicationController',
  defaultPropagation: 'orphan',
  plural: 'replicationcontrollers',
  singular: 'replicationcontroller',
  namespaced: true,
  shortNames: ['rc'],
  categories: ['all'],
  storagePrefix: 'controllers',
  subresources: {
    status: true,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' },
  },
  generation: true,
  default: defaultReplicationController,
  prepareForCreate(rc) {
    defaultReplicationController(rc);
    resetStatus(rc, rcStatusZeros);
    const tpl = obj(rc['spec'])['template'];
    if (isObj(tpl)) dropDisabledPodSpecFields(ensureObj(tpl, 'spec'));
  },
  prepareForUpdate(rc, old) {
    defaultReplicationController(rc);
    keepOldStatus(rc, old);
    const tpl = obj(rc['spec'])['template'];
    if (isObj(tpl)) dropDisabledPodSpecFields(ensureObj(tpl, 'spec'), obj(obj(obj(old['spec'])['template'])['spec']));
  },
  prepareForStatusUpdate: (rc, old) => keepSpecForStatus(rc, old, rcStatusZeros),
  validate: validateReplicationController,
  table: replicationControllerTable,
  fieldSelectors: { 'status.replicas': (o) => String(num(obj(o['status'])['replicas'])) },
};

export const resources: ResourceDef[] = [pods, podTemplates, replicationControllers];
