/**
 * The batch/v1 kinds, declared as data: Jobs and CronJobs, as upstream's batch registries treat them.
 *
 * - Job defaults (SetDefaults_Job: parallelism and completions, backoffLimit 6, completionMode
 *   NonIndexed, suspend false, podReplacementPolicy, manualSelector false, labels from the
 *   template) and selector generation on create (the job strategy's PrepareForCreate: the
 *   `batch.kubernetes.io/controller-uid` selector, and the controller-uid and job-name labels, both
 *   prefixed and legacy, on the template; the generic machinery has assigned metadata.uid by then).
 *   A Job created without labels gets the template's final labels, generated ones included, as
 *   upstream's defaulting (which shares the map) gives them.
 * - ValidateJob / ValidateJobUpdate (selector and most of the spec immutable, the template too
 *   except scheduling directives of a suspended Job that never started) and the status rules that
 *   do not depend on feature options.
 * - CronJob defaults (SetDefaults_CronJob; the job template's pod template gets pod defaults, its
 *   job spec none), schedule and time zone validation, the job template rules.
 * - Tables as upstream prints them in 1.33 (Jobs: STATUS, COMPLETIONS, DURATION; CronJobs:
 *   SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE), and Jobs' status.successful selector.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { ResourceDef, TableDef, ValidateContext } from '../resource.ts';
import { humanDuration } from '../printers.ts';
import {
  duplicate,
  immutable,
  invalidValue,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  jsonEqual,
  notSupported,
  required,
  tooLong,
  tooMany,
} from '../validation.ts';
import { ageColumn, ageOf, arr, clone, col, ensureObj, isObj, nameColumn, obj, str, type J } from './core-common.ts';
import { defaultPodTemplateSpec, dropDisabledPodSpecFields, validatePodTemplateSpec } from './pod-spec.ts';
import { knownTimeZone, scheduleError } from './cron.ts';
import {
  containerCells,
  formatLabelSelector,
  isInt,
  keepOldStatus,
  keepSpecForStatus,
  num,
  resetStatus,
  selectorConverts,
  selectorMatches,
  validateLabelSelector,
  validateNonnegative,
} from './workload-common.ts';

const batch = { group: 'batch', version: 'v1' } as const;

export const jobNameLabel = 'batch.kubernetes.io/job-name';
export const controllerUidLabel = 'batch.kubernetes.io/controller-uid';
export const legacyJobNameLabel = 'job-name';
export const legacyControllerUidLabel = 'controller-uid';

const maxInt32 = 2147483647;
const maxParallelismForIndexedJob = 100000;
const maxFailedIndexesForIndexedJob = 100000;
const completionsSoftLimit = 100000;
const parallelismLimitForHighCompletions = 10000;
const maxFailedIndexesLimitForHighCompletions = 10000;

const setIfAbsent = (o: J, k: string, v: unknown): void => {
  if (o[k] === undefined || o[k] === null) o[k] = v;
};

// ---- Jobs: defaults and selector generation ------------------------------------------------------------

/** SetDefaults_Job without the labels copy (which upstream makes after selector generation, see below). */
function defaultJobSpec(spec: J): void {
  if (spec['completions'] === undefined && spec['parallelism'] === undefined) {
    spec['completions'] = 1;
    spec['parallelism'] = 1;
  }
  setIfAbsent(spec, 'parallelism', 1);
  setIfAbsent(spec, 'backoffLimit', spec['backoffLimitPerIndex'] !== undefined && spec['backoffLimitPerIndex'] !== null ? maxInt32 : 6);
  setIfAbsent(spec, 'completionMode', 'NonIndexed');
  setIfAbsent(spec, 'suspend', false);
  if (isObj(spec['podFailurePolicy'])) {
    for (const rule of arr(spec['podFailurePolicy']['rules'])) {
      for (const pattern of arr(obj(rule)['onPodConditions'])) if (isObj(pattern) && !pattern['status']) pattern['status'] = 'True';
    }
  }
  setIfAbsent(spec, 'podReplacementPolicy', isObj(spec['podFailurePolicy']) ? 'Failed' : 'TerminatingOrFailed');
  setIfAbsent(spec, 'manualSelector', false);
  defaultPodTemplateSpec(ensureObj(spec, 'template'));
}

/** SetDefaults_Job and the pod template's defaults. In place, idempotent. */
export function defaultJob(job: KubeObject): void {
  const spec = ensureObj(job as J, 'spec');
  defaultJobSpec(spec);
  const labels = obj(obj(spec['template'])['metadata'])['labels'];
  if (isObj(labels) && !Object.keys(job.metadata.labels ?? {}).length) job.metadata.labels = clone(labels) as Record<string, string>;
}

/** The job strategy's generateSelector: unique labels on the template and a selector on the uid. */
function generateSelector(job: KubeObject): void {
  const spec = ensureObj(job as J, 'spec');
  const meta = ensureObj(ensureObj(spec, 'template'), 'metadata');
  const labels = ensureObj(meta, 'labels');
  const name = job.metadata.name ?? '';
  const uid = job.metadata.uid ?? '';
  setIfAbsent(labels, legacyJobNameLabel, name);
  setIfAbsent(labels, jobNameLabel, name);
  setIfAbsent(labels, legacyControllerUidLabel, uid);
  setIfAbsent(labels, controllerUidLabel, uid);
  const selector = ensureObj(spec, 'selector');
  const matchLabels = ensureObj(selector, 'matchLabels');
  setIfAbsent(matchLabels, controllerUidLabel, uid);
}

function prepareJobForCreate(job: KubeObject): void {
  const spec = ensureObj(job as J, 'spec');
  defaultJobSpec(spec);
  if (spec['manualSelector'] !== true) generateSelector(job);
  resetStatus(job);
  dropDisabledPodSpecFields(ensureObj(ensureObj(spec, 'template'), 'spec'));
}

function prepareJobForUpdate(job: KubeObject, old: KubeObject): void {
  defaultJob(job);
  keepOldStatus(job, old);
  dropDisabledPodSpecFields(ensureObj(ensureObj(ensureObj(job as J, 'spec'), 'template'), 'spec'), obj(obj(obj(old['spec'])['template'])['spec']));
}

// ---- Jobs: validation ---------------------------------------------------------------------------------

/** Upstream IsDomainPrefixedPath (for spec.managedBy). */
function domainPrefixedPath(v: string, path: string): StatusCause[] {
  const slash = v.indexOf('/');
  if (slash < 0) return [invalidValue(path, v, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  const host = v.slice(0, slash);
  const rest = v.slice(slash + 1);
  const errs = isDNS1123Subdomain(host).map((m) => invalidValue(path, host, m));
  if (!/^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(rest)) errs.push(invalidValue(path, rest, 'Invalid path'));
  return errs;
}

/** Parses "1,3-5,7" against completions; returns the count of indexes or an error text. */
function parseIndexes(s: string, completions: number): { total: number; error?: string } {
  if (!s) return { total: 0 };
  let last: number | undefined;
  let total = 0;
  for (const interval of s.split(',')) {
    const limits = interval.split('-');
    if (limits.length > 2) return { total, error: `the fragment ${JSON.stringify(interval)} violates the requirement that an index interval can have at most two parts separated by '-'` };
    const parse = (x: string): number | string => {
      if (!/^[+-]?\d+$/.test(x)) return `cannot convert string to integer for index: ${JSON.stringify(x)}`;
      const n = Number(x);
      return n >= completions ? `too large index: ${JSON.stringify(x)}` : n;
    };
    const x = parse(limits[0]!);
    if (typeof x === 'string') return { total, error: x };
    let y = x;
    if (limits.length > 1) {
      const yy = parse(limits[1]!);
      if (typeof yy === 'string') return { total, error: yy };
      if (x >= yy) return { total, error: `non-increasing order, previous: ${x}, current: ${yy}` };
      y = yy;
    }
    if (last !== undefined && last >= x) return { total, error: `non-increasing order, previous: ${last}, current: ${x}` };
    total += y - x + 1;
    last = y;
  }
  return { total };
}

function validatePodFailurePolicy(spec: J, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const rules = arr(obj(spec['podFailurePolicy'])['rules']);
  if (rules.length > 20) errs.push(tooMany(`${path}.rules`, rules.length, 20));
  const tplSpec = obj(obj(spec['template'])['spec']);
  const containerNames = new Set([...arr(tplSpec['containers']), ...arr(tplSpec['initContainers'])].map((c) => str(obj(c)['name'])));
  const actions = ['Count', 'FailIndex', 'FailJob', 'Ignore'];
  rules.forEach((raw, i) => {
    const rule = obj(raw);
    const rp = `${path}.rules[${i}]`;
    const action = rule['action'];
    if (!action) errs.push(required(`${rp}.action`, `valid values: ["${actions.join('" "')}"]`));
    else if (action === 'FailIndex') {
      if (spec['backoffLimitPerIndex'] === undefined || spec['backoffLimitPerIndex'] === null) {
        errs.push(invalidValue(`${rp}.action`, action, 'requires the backoffLimitPerIndex to be set'));
      }
    } else if (!actions.includes(action)) errs.push(notSupported(`${rp}.action`, action, actions));
    const onExit = rule['onExitCodes'];
    const onConds = arr(rule['onPodConditions']);
    if (isObj(onExit)) {
      const ep = `${rp}.onExitCodes`;
      const ops = ['In', 'NotIn'];
      if (!onExit['operator']) errs.push(required(`${ep}.operator`, `valid values: ["${ops.join('" "')}"]`));
      else if (!ops.includes(onExit['operator'])) errs.push(notSupported(`${ep}.operator`, onExit['operator'], ops));
      if (onExit['containerName'] !== undefined && onExit['containerName'] !== null && !containerNames.has(onExit['containerName'])) {
        errs.push(invalidValue(`${ep}.containerName`, onExit['containerName'], 'must be one of the container or initContainer names in the pod template'));
      }
      const values = arr(onExit['values']);
      if (!values.length) errs.push(invalidValue(`${ep}.values`, values, 'at least one value is required'));
      else if (values.length > 255) errs.push(tooMany(`${ep}.values`, values.length, 255));
      const seen = new Set<number>();
      let ordered = true;
      values.forEach((v, j) => {
        if (onExit['operator'] === 'In' && v === 0) errs.push(invalidValue(`${ep}.values[${j}]`, v, 'must not be 0 for the In operator'));
        if (seen.has(v)) errs.push(duplicate(`${ep}.values[${j}]`, v));
        else seen.add(v);
        if (j > 0 && values[j - 1] > v) ordered = false;
      });
      if (!ordered) errs.push(invalidValue(`${ep}.values`, values, 'must be ordered'));
    }
    if (onConds.length) {
      const cp = `${rp}.onPodConditions`;
      if (onConds.length > 20) errs.push(tooMany(cp, onConds.length, 20));
      const statuses = ['False', 'True', 'Unknown'];
      onConds.forEach((raw2, j) => {
        const pattern = obj(raw2);
        for (const m of isQualifiedName(str(pattern['type']))) errs.push(invalidValue(`${cp}[${j}].type`, pattern['type'] ?? '', m));
        if (!pattern['status']) errs.push(required(`${cp}[${j}].status`, `valid values: ["${statuses.join('" "')}"]`));
        else if (!statuses.includes(pattern['status'])) errs.push(notSupported(`${cp}[${j}].status`, pattern['status'], statuses));
      });
    }
    if (isObj(onExit) && onConds.length) errs.push({ reason: 'FieldValueInvalid', field: rp, message: 'Invalid value: specifying both OnExitCodes and OnPodConditions is not supported' });
    if (!isObj(onExit) && !onConds.length) errs.push({ reason: 'FieldValueInvalid', field: rp, message: 'Invalid value: specifying one of OnExitCodes and OnPodConditions is required' });
  });
  return errs;
}

function validateSuccessPolicy(spec: J, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const rules = arr(obj(spec['successPolicy'])['rules']);
  if (!rules.length) errs.push(required(`${path}.rules`, 'at least one rules must be specified when the successPolicy is specified'));
  if (rules.length > 20) errs.push(tooMany(`${path}.rules`, rules.length, 20));
  const completions = num(spec['completions']);
  rules.forEach((raw, i) => {
    const rule = obj(raw);
    const rp = `${path}.rules[${i}]`;
    const hasCount = rule['succeededCount'] !== undefined && rule['succeededCount'] !== null;
    const hasIndexes = rule['succeededIndexes'] !== undefined && rule['succeededIndexes'] !== null;
    if (!hasCount && !hasIndexes) errs.push(required(rp, 'at least one of succeededCount or succeededIndexes must be specified'));
    let total = 0;
    if (hasIndexes) {
      const s = str(rule['succeededIndexes']);
      if (s.length > 64 * 1024) errs.push(tooLong(`${rp}.succeededIndexes`, 64 * 1024));
      const parsed = parseIndexes(s, completions);
      total = parsed.total;
      if (parsed.error) errs.push(invalidValue(`${rp}.succeededIndexes`, s, `error parsing succeededIndexes: ${parsed.error}`));
    }
    if (hasCount) {
      const c = rule['succeededCount'];
      errs.push(...validateNonnegative(c, `${rp}.succeededCount`));
      if (num(c) > completions) errs.push(invalidValue(`${rp}.succeededCount`, c, `must be less than or equal to ${completions} (the number of specified completions)`));
      if (hasIndexes && num(c) > total) errs.push(invalidValue(`${rp}.succeededCount`, c, `must be less than or equal to ${total} (the number of indexes in the specified succeededIndexes field)`));
    }
  });
  return errs;
}

/** Upstream validateJobSpec (what Jobs and CronJob job templates share); `path` is the JobSpec's path. */
function validateJobSpecBody(spec: J, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  for (const k of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex']) {
    errs.push(...validateNonnegative(spec[k], `${path}.${k}`));
  }
  const has = (k: string): boolean => spec[k] !== undefined && spec[k] !== null;
  if (has('maxFailedIndexes')) {
    errs.push(...validateNonnegative(spec['maxFailedIndexes'], `${path}.maxFailedIndexes`));
    if (!has('backoffLimitPerIndex')) errs.push(required(`${path}.backoffLimitPerIndex`, 'when maxFailedIndexes is specified'));
  }
  if (has('managedBy')) {
    errs.push(...domainPrefixedPath(str(spec['managedBy']), `${path}.managedBy`));
    if (str(spec['managedBy']).length > 63) errs.push(tooLong(`${path}.managedBy`, 63));
  }
  const mode = spec['completionMode'];
  if (has('completionMode')) {
    if (mode !== 'NonIndexed' && mode !== 'Indexed') errs.push(notSupported(`${path}.completionMode`, mode, ['NonIndexed', 'Indexed']));
    if (mode === 'Indexed') {
      if (!has('completions')) errs.push(required(`${path}.completions`, 'when completion mode is Indexed'));
      if (num(spec['parallelism']) > maxParallelismForIndexedJob) {
        errs.push(invalidValue(`${path}.parallelism`, spec['parallelism'], `must be less than or equal to ${maxParallelismForIndexedJob} when completion mode is Indexed`));
      }
      if (has('completions') && has('maxFailedIndexes') && spec['maxFailedIndexes'] > spec['completions']) {
        errs.push(invalidValue(`${path}.maxFailedIndexes`, spec['maxFailedIndexes'], 'must be less than or equal to completions'));
      }
      if (has('maxFailedIndexes') && spec['maxFailedIndexes'] > maxFailedIndexesForIndexedJob) {
        errs.push(invalidValue(`${path}.maxFailedIndexes`, spec['maxFailedIndexes'], `must be less than or equal to ${maxFailedIndexesForIndexedJob}`));
      }
      if (has('completions') && spec['completions'] > completionsSoftLimit && has('backoffLimitPerIndex')) {
        if (!has('maxFailedIndexes')) errs.push(required(`${path}.maxFailedIndexes`, `must be specified when completions is above ${completionsSoftLimit}`));
        if (num(spec['parallelism']) > parallelismLimitForHighCompletions) {
          errs.push(
            invalidValue(
              `${path}.parallelism`,
              spec['parallelism'],
              `must be less than or equal to ${parallelismLimitForHighCompletions} when completions are above ${completionsSoftLimit} and used with backoff limit per index`,
            ),
          );
        }
        if (has('maxFailedIndexes') && spec['maxFailedIndexes'] > maxFailedIndexesLimitForHighCompletions) {
          errs.push(
            invalidValue(
              `${path}.maxFailedIndexes`,
              spec['maxFailedIndexes'],
              `must be less than or equal to ${maxFailedIndexesLimitForHighCompletions} when completions are above ${completionsSoftLimit} and used with backoff limit per index`,
            ),
          );
        }
      }
    }
  }
  if (!has('completionMode') || mode === 'NonIndexed') {
    if (has('backoffLimitPerIndex')) errs.push(invalidValue(`${path}.backoffLimitPerIndex`, spec['backoffLimitPerIndex'], 'requires indexed completion mode'));
    if (has('maxFailedIndexes')) errs.push(invalidValue(`${path}.maxFailedIndexes`, spec['maxFailedIndexes'], 'requires indexed completion mode'));
  }
  if (isObj(spec['podFailurePolicy'])) errs.push(...validatePodFailurePolicy(spec, `${path}.podFailurePolicy`));
  if (has('successPolicy')) {
    if (mode !== 'Indexed') errs.push(invalidValue(`${path}.successPolicy`, spec['successPolicy'], 'requires indexed completion mode'));
    else errs.push(...validateSuccessPolicy(spec, `${path}.successPolicy`));
  }
  if (has('podReplacementPolicy')) {
    const prp = spec['podReplacementPolicy'];
    if (isObj(spec['podFailurePolicy'])) {
      if (prp !== 'Failed') errs.push(notSupported(`${path}.podReplacementPolicy`, prp, ['Failed']));
    } else if (prp !== 'Failed' && prp !== 'TerminatingOrFailed') {
      errs.push(notSupported(`${path}.podReplacementPolicy`, prp, ['Failed', 'TerminatingOrFailed']));
    }
  }
  const tpl = obj(spec['template']);
  errs.push(...validatePodTemplateSpec(tpl, `${path}.template`));
  const rp = obj(tpl['spec'])['restartPolicy'];
  const rpPath = `${path}.template.spec.restartPolicy`;
  if (rp === 'Always' || !rp) errs.push(required(rpPath, 'valid values: "OnFailure", "Never"'));
  else if (rp !== 'OnFailure' && rp !== 'Never') errs.push(notSupported(rpPath, rp, ['OnFailure', 'Never']));
  else if (isObj(spec['podFailurePolicy']) && rp !== 'Never') errs.push(invalidValue(rpPath, rp, 'only "Never" is supported when podFailurePolicy is specified'));
  return errs;
}

function validateHasLabel(labels: J, key: string, want: string): StatusCause[] {
  const path = `spec.template.metadata.labels[${key}]`;
  if (!(key in labels)) return [required(path, `must be '${want}'`)];
  return labels[key] !== want ? [invalidValue(path, labels, `must be '${want}'`)] : [];
}

/** Upstream validateGeneratedSelector. */
function validateGeneratedSelector(job: KubeObject, requirePrefixedLabels: boolean): StatusCause[] {
  const spec = obj(job['spec']);
  if (spec['manualSelector'] === true || spec['selector'] === undefined || spec['selector'] === null) return [];
  const errs: StatusCause[] = [];
  const uid = job.metadata.uid ?? '';
  const name = job.metadata.name ?? '';
  if (!uid) errs.push(required('metadata.uid'));
  const labels = obj(obj(obj(spec['template'])['metadata'])['labels']);
  errs.push(...validateHasLabel(labels, legacyControllerUidLabel, uid), ...validateHasLabel(labels, legacyJobNameLabel, name));
  const expected: Record<string, string> = {};
  if (requirePrefixedLabels) {
    errs.push(...validateHasLabel(labels, controllerUidLabel, uid), ...validateHasLabel(labels, jobNameLabel, name));
    expected[controllerUidLabel] = uid;
    expected[jobNameLabel] = name;
  }
  expected[legacyControllerUidLabel] = uid;
  expected[legacyJobNameLabel] = name;
  if (selectorConverts(spec['selector']) && !selectorMatches(spec['selector'], expected)) {
    errs.push(invalidValue('spec.selector', spec['selector'], '`selector` not auto-generated'));
  }
  return errs;
}

/** Upstream ValidateJob (the object checks beyond generic metadata). */
function validateJobObject(job: KubeObject, requirePrefixedLabels: boolean): StatusCause[] {
  const spec = obj(job['spec']);
  const errs = validateGeneratedSelector(job, requirePrefixedLabels);
  errs.push(...validateJobSpecBody(spec, 'spec'));
  const sel = spec['selector'];
  if (sel === undefined || sel === null) errs.push(required('spec.selector'));
  else errs.push(...validateLabelSelector(sel, 'spec.selector'));
  const labels = obj(obj(spec['template'])['metadata'])['labels'];
  if (selectorConverts(sel) && !selectorMatches(sel, labels)) {
    errs.push(invalidValue('spec.template.metadata.labels', labels ?? null, '`selector` does not match template `labels`'));
  }
  if (spec['completionMode'] === 'Indexed' && isInt(spec['completions']) && spec['completions'] > 0) {
    const hostname = `${job.metadata.name ?? ''}-${spec['completions'] - 1}`;
    if (isDNS1123Label(hostname).length) {
      errs.push(invalidValue('metadata.name', job.metadata.name ?? '', `will not able to create pod with invalid DNS label: ${hostname}`));
    }
  }
  return errs;
}

/** The scheduling directives a suspended Job that never started may change. */
function withoutSchedulingDirectives(tpl: J, from: J): J {
  const t = clone(tpl);
  const f = obj(from);
  const meta = ensureObj(t, 'metadata');
  const fmeta = obj(f['metadata']);
  for (const k of ['labels', 'annotations']) {
    if (fmeta[k] !== undefined) meta[k] = clone(fmeta[k]);
    else delete meta[k];
  }
  const ps = ensureObj(t, 'spec');
  const fps = obj(f['spec']);
  for (const k of ['nodeSelector', 'tolerations', 'schedulingGates']) {
    if (fps[k] !== undefined) ps[k] = clone(fps[k]);
    else delete ps[k];
  }
  const aff = isObj(ps['affinity']) ? ps['affinity'] : undefined;
  const faff = isObj(fps['affinity']) ? fps['affinity'] : undefined;
  if (!faff && aff) {
    delete aff['nodeAffinity'];
    if (!Object.keys(aff).length) delete ps['affinity'];
  } else if (faff && !aff) ps['affinity'] = { nodeAffinity: clone(faff['nodeAffinity']) };
  else if (faff && aff) {
    if (faff['nodeAffinity'] !== undefined) aff['nodeAffinity'] = clone(faff['nodeAffinity']);
    else delete aff['nodeAffinity'];
  }
  return t;
}

/** Upstream ValidateJobSpecUpdate (the new spec itself is validated by `validateJobObject`). */
function validateJobSpecUpdate(spec: J, oldSpec: J, oldStatus: J): StatusCause[] {
  const errs: StatusCause[] = [];
  // completions: immutable, except for Indexed Jobs changing it in tandem with parallelism
  if (spec['completionMode'] !== 'Indexed') errs.push(...immutable('spec.completions', spec['completions'] ?? null, oldSpec['completions'] ?? null));
  else if (!jsonEqual(spec['completions'], oldSpec['completions']) && spec['completions'] !== undefined && spec['completions'] !== null) {
    if (spec['completions'] !== spec['parallelism']) errs.push(invalidValue('spec.completions', spec['completions'], 'can only be modified in tandem with spec.parallelism'));
  }
  errs.push(...immutable('spec.selector', spec['selector'] ?? null, oldSpec['selector'] ?? null));
  let oldTemplate = obj(oldSpec['template']);
  const suspended = oldSpec['suspend'] === true;
  const notStarted = oldStatus['startTime'] === undefined || oldStatus['startTime'] === null;
  if (suspended && notStarted) oldTemplate = withoutSchedulingDirectives(oldTemplate, obj(spec['template']));
  errs.push(...immutable('spec.template', spec['template'] ?? null, oldTemplate));
  for (const k of ['completionMode', 'podFailurePolicy', 'backoffLimitPerIndex', 'managedBy', 'successPolicy']) {
    errs.push(...immutable(`spec.${k}`, spec[k] ?? null, oldSpec[k] ?? null));
  }
  return errs;
}

function conditionTrue(status: J, type: string): boolean {
  return arr(status['conditions']).some((c) => obj(c)['type'] === type && obj(c)['status'] === 'True');
}

/** The Job status rules that hold whatever the feature options (counters, terminal conditions). */
function validateJobStatusUpdate(job: KubeObject, old: KubeObject): StatusCause[] {
  const status = obj(job['status']);
  const prev = obj(old['status']);
  const errs: StatusCause[] = [];
  for (const k of ['active', 'succeeded', 'failed', 'ready', 'terminating']) errs.push(...validateNonnegative(status[k], `status.${k}`));
  if (num(status['ready']) > num(status['active']) && status['ready'] !== prev['ready']) {
    errs.push(invalidValue('status.ready', status['ready'], 'cannot set more ready pods than active'));
  }
  if (conditionTrue(status, 'Complete') && conditionTrue(status, 'Failed')) {
    errs.push({ reason: 'FieldValueInvalid', field: 'status.conditions', message: 'Invalid value: cannot set Complete=True and Failed=true conditions' });
  }
  for (const type of ['Failed', 'Complete', 'FailureTarget']) {
    if (conditionTrue(prev, type) && !conditionTrue(status, type)) {
      errs.push({ reason: 'FieldValueInvalid', field: 'status.conditions', message: `Invalid value: cannot disable the terminal ${type}=True condition` });
    }
  }
  if (num(status['failed']) < num(prev['failed'])) errs.push(invalidValue('status.failed', num(status['failed']), 'cannot decrease the failed counter'));
  const spec = obj(job['spec']);
  const scalableIndexed = spec['completionMode'] === 'Indexed' && jsonEqual(spec['completions'], spec['parallelism']);
  if (!scalableIndexed && num(status['succeeded']) < num(prev['succeeded'])) {
    errs.push(invalidValue('status.succeeded', num(status['succeeded']), 'cannot decrease the succeeded counter'));
  }
  return errs;
}

function validateJob(job: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status') return ctx.old ? validateJobStatusUpdate(job, ctx.old) : [];
  if (!ctx.old) return validateJobObject(job, true);
  const oldLabels = obj(obj(obj(obj(ctx.old['spec'])['template'])['metadata'])['labels']);
  const requirePrefixed = jobNameLabel in oldLabels && controllerUidLabel in oldLabels;
  return [...validateJobObject(job, requirePrefixed), ...validateJobSpecUpdate(obj(job['spec']), obj(ctx.old['spec']), obj(ctx.old['status']))];
}

// ---- Jobs: table -----------------------------------------------------------------------------------------

/** The STATUS cell of 1.33's job printer. */
export function jobStatusCell(job: KubeObject): string {
  const status = obj(job['status']);
  if (conditionTrue(status, 'Complete')) return 'Complete';
  if (conditionTrue(status, 'Failed')) return 'Failed';
  if (job.metadata.deletionTimestamp) return 'Terminating';
  if (conditionTrue(status, 'Suspended')) return 'Suspended';
  if (conditionTrue(status, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

function timeOf(v: unknown): number | undefined {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

export const jobTable: TableDef = {
  columns: [
    nameColumn,
    col('Status', 'Status of the job.'),
    col('Completions', 'The number of pods which reached phase Succeeded.'),
    col('Duration', 'Time required to complete the job.'),
    ageColumn,
    col('Containers', 'Names of each container in the template.', 1),
    col('Images', 'Images referenced by each container in the template.', 1),
    col('Selector', 'A label query over pods that should match the pod count.', 1),
  ],
  row(job, now) {
    const spec = obj(job['spec']);
    const status = obj(job['status']);
    const succeeded = num(status['succeeded']);
    let completions: string;
    if (spec['completions'] !== undefined && spec['completions'] !== null) completions = `${succeeded}/${num(spec['completions'])}`;
    else completions = num(spec['parallelism']) > 1 ? `${succeeded}/1 of ${num(spec['parallelism'])}` : `${succeeded}/1`;
    const start = timeOf(status['startTime']);
    const end = timeOf(status['completionTime']);
    const duration = start === undefined ? '' : humanDuration((end ?? now) - start);
    const [names, images] = containerCells(obj(spec['template'])['spec']);
    return [job.metadata.name ?? '', jobStatusCell(job), completions, duration, ageOf(job, now), names, images, formatLabelSelector(spec['selector'])];
  },
};

export const jobs: ResourceDef = {
  ...batch,
  kind: 'Job',
  defaultPropagation: 'orphan',
  plural: 'jobs',
  singular: 'job',
  namespaced: true,
  categories: ['all'],
  subresources: { status: true },
  generation: true,
  default: defaultJob,
  prepareForCreate: prepareJobForCreate,
  prepareForUpdate: prepareJobForUpdate,
  prepareForStatusUpdate: (job, old) => keepSpecForStatus(job, old),
  validate: validateJob,
  table: jobTable,
  fieldSelectors: { 'status.successful': (o) => String(num(obj(o['status'])['succeeded'])) },
};

// ---- CronJobs ----------------------------------------------------------------------------------------------

/** SetDefaults_CronJob; the job template's pod template gets pod defaults (its job spec gets none). */
export function defaultCronJob(cj: KubeObject): void {
  const spec = ensureObj(cj as J, 'spec');
  if (!spec['concurrencyPolicy']) spec['concurrencyPolicy'] = 'Allow';
  setIfAbsent(spec, 'suspend', false);
  setIfAbsent(spec, 'successfulJobsHistoryLimit', 3);
  setIfAbsent(spec, 'failedJobsHistoryLimit', 1);
  const jt = ensureObj(spec, 'jobTemplate');
  ensureObj(jt, 'metadata');
  defaultPodTemplateSpec(ensureObj(ensureObj(jt, 'spec'), 'template'));
}

const timeZoneComponentRe = /^[A-Za-z.\-_0-9+]{1,14}$/;

function validateTimeZone(tz: unknown, path: string): StatusCause[] {
  if (tz === undefined || tz === null) return [];
  const s = str(tz);
  if (!s) return [invalidValue(path, tz, 'timeZone must be nil or non-empty string')];
  for (const part of s.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !timeZoneComponentRe.test(part)) return [invalidValue(path, s, `unknown time zone ${s}`)];
  }
  const errs: StatusCause[] = [];
  if (s.toLowerCase() === 'local') errs.push(invalidValue(path, s, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'));
  else if (!knownTimeZone(s)) errs.push(invalidValue(path, s, `unknown time zone ${s}`));
  return errs;
}

function validateCronJob(cj: KubeObject, ctx: ValidateContext): StatusCause[] {
  if (ctx.subresource === 'status') return [];
  const spec = obj(cj['spec']);
  const oldSpec = ctx.old ? obj(ctx.old['spec']) : undefined;
  const errs: StatusCause[] = [];
  const schedule = str(spec['schedule']);
  if (!schedule) errs.push(required('spec.schedule'));
  else {
    const err = scheduleError(schedule);
    if (err) errs.push(invalidValue('spec.schedule', schedule, err));
    const allowTZ = oldSpec ? str(oldSpec['schedule']).includes('TZ') : false;
    if (allowTZ && schedule.includes('TZ') && spec['timeZone'] !== undefined && spec['timeZone'] !== null) {
      errs.push(invalidValue('spec.schedule', schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'));
    } else if (!allowTZ && schedule.includes('TZ')) {
      errs.push(invalidValue('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    }
  }
  errs.push(...validateNonnegative(spec['startingDeadlineSeconds'], 'spec.startingDeadlineSeconds'));
  if (!oldSpec || !jsonEqual(oldSpec['timeZone'] ?? null, spec['timeZone'] ?? null)) errs.push(...validateTimeZone(spec['timeZone'], 'spec.timeZone'));
  const cp = spec['concurrencyPolicy'];
  if (!cp) errs.push(required('spec.concurrencyPolicy'));
  else if (!['Allow', 'Forbid', 'Replace'].includes(cp)) errs.push(notSupported('spec.concurrencyPolicy', cp, ['Allow', 'Forbid', 'Replace']));
  const jobSpec = obj(obj(spec['jobTemplate'])['spec']);
  errs.push(...validateJobSpecBody(jobSpec, 'spec.jobTemplate.spec'));
  if (jobSpec['selector'] !== undefined && jobSpec['selector'] !== null) {
    errs.push(invalidValue('spec.jobTemplate.spec.selector', jobSpec['selector'], '`selector` will be auto-generated'));
  }
  if (jobSpec['manualSelector'] === true) errs.push(notSupported('spec.jobTemplate.spec.manualSelector', true, ['nil', 'false']));
  errs.push(...validateNonnegative(spec['successfulJobsHistoryLimit'], 'spec.successfulJobsHistoryLimit'));
  errs.push(...validateNonnegative(spec['failedJobsHistoryLimit'], 'spec.failedJobsHistoryLimit'));
  // the controller appends an 11-character suffix to the Jobs it creates
  if (!ctx.old && (cj.metadata.name ?? '').length > 52) errs.push(invalidValue('metadata.name', cj.metadata.name, 'must be no more than 52 characters'));
  return errs;
}

export const cronJobTable: TableDef = {
  columns: [
    nameColumn,
    col('Schedule', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
    col('Timezone', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.'),
    col('Suspend', 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.', 0, 'boolean'),
    col('Active', 'A list of pointers to currently running jobs.', 0, 'integer'),
    col('Last Schedule', 'Information when was the last time the job was successfully scheduled.'),
    ageColumn,
    col('Containers', 'Names of each container in the template.', 1),
    col('Images', 'Images referenced by each container in the template.', 1),
    col('Selector', 'A label query over pods that should match the pod count.', 1),
  ],
  row(cj, now) {
    const spec = obj(cj['spec']);
    const status = obj(cj['status']);
    const last = timeOf(status['lastScheduleTime']);
    const jobSpec = obj(obj(spec['jobTemplate'])['spec']);
    const [names, images] = containerCells(obj(jobSpec['template'])['spec']);
    const suspend = spec['suspend'] === undefined || spec['suspend'] === null ? '<unset>' : spec['suspend'] === true ? 'True' : 'False';
    return [
      cj.metadata.name ?? '',
      str(spec['schedule']),
      spec['timeZone'] !== undefined && spec['timeZone'] !== null ? str(spec['timeZone']) : '<none>',
      suspend,
      arr(status['active']).length,
      last === undefined ? '<none>' : humanDuration(now - last),
      ageOf(cj, now),
      names,
      images,
      formatLabelSelector(jobSpec['selector']),
    ];
  },
};

export const cronJobs: ResourceDef = {
  ...batch,
  kind: 'CronJob',
  plural: 'cronjobs',
  singular: 'cronjob',
  namespaced: true,
  shortNames: ['cj'],
  categories: ['all'],
  subresources: { status: true },
  generation: true,
  default: defaultCronJob,
  prepareForCreate(cj) {
    defaultCronJob(cj);
    resetStatus(cj);
    dropDisabledPodSpecFields(ensureObj(ensureObj(ensureObj(ensureObj(ensureObj(cj as J, 'spec'), 'jobTemplate'), 'spec'), 'template'), 'spec'));
  },
  prepareForUpdate(cj, old) {
    defaultCronJob(cj);
    keepOldStatus(cj, old);
    const oldPodSpec = obj(obj(obj(obj(obj(old['spec'])['jobTemplate'])['spec'])['template'])['spec']);
    dropDisabledPodSpecFields(ensureObj(ensureObj(ensureObj(ensureObj(ensureObj(cj as J, 'spec'), 'jobTemplate'), 'spec'), 'template'), 'spec'), oldPodSpec);
  },
  prepareForStatusUpdate: (cj, old) => keepSpecForStatus(cj, old),
  validate: validateCronJob,
  table: cronJobTable,
};

export const resources: ResourceDef[] = [jobs, cronJobs];
