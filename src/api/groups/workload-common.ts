/**
 * Helpers shared by the workload declarations (core-workloads.ts, apps.ts, batch.ts): label
 * selectors (upstream metav1 ValidateLabelSelector, matching, FormatLabelSelector), int-or-percent
 * fields, non-negative integers, the container cells of controller tables, and the status hooks
 * every controller kind repeats (status cleared on create, kept on main updates, spec kept on status
 * updates, zero-valued counters that Go always prints). Pure functions over plain JSON.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import { forbidden, invalidValue, isLabelValue, isQualifiedName, required, validateLabels } from '../validation.ts';
import { labelSelectorFromObject, labelSelectorToString, type LabelSelector } from '../selectors.ts';
import { arr, clone, isObj, keepAllButStatus, obj, str, type J } from './core-common.ts';

// ---- numbers -----------------------------------------------------------------------------------

export function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Upstream ValidateNonnegativeField; absent values pass. */
export function validateNonnegative(v: unknown, path: string): StatusCause[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'number' || !Number.isInteger(v)) return [invalidValue(path, v, 'must be an integer')];
  return v < 0 ? [invalidValue(path, v, 'must be greater than or equal to 0')] : [];
}

/** "must be between a and b, inclusive" (upstream InclusiveRangeError). */
export function inclusiveRange(lo: number, hi: number): string {
  return `must be between ${lo} and ${hi}, inclusive`;
}

// ---- label selectors -----------------------------------------------------------------------------

/** Upstream metav1validation.ValidateLabelSelector (values validated strictly). */
export function validateLabelSelector(sel: unknown, path: string): StatusCause[] {
  if (sel === undefined || sel === null) return [];
  if (!isObj(sel)) return [invalidValue(path, sel, 'must be a label selector')];
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
    values.forEach((v, j) => {
      for (const m of isLabelValue(str(v))) errs.push(invalidValue(`${p}.values[${j}]`, v, m));
    });
  });
  return errs;
}

/** Whether a metav1.LabelSelector converts to a selector (LabelSelectorAsSelector succeeds). */
export function selectorConverts(sel: unknown): boolean {
  try {
    labelSelectorFromObject((sel ?? null) as LabelSelector | null);
    return true;
  } catch {
    return false;
  }
}

/** Whether the selector has no requirements (matches everything). A nil selector is not empty: it matches nothing. */
export function selectorEmpty(sel: unknown): boolean {
  if (sel === undefined || sel === null) return false;
  const s = obj(sel);
  return Object.keys(obj(s['matchLabels'])).length + arr(s['matchExpressions']).length === 0;
}

/** Whether a metav1.LabelSelector matches a label set (false when it does not convert). */
export function selectorMatches(sel: unknown, labels: unknown): boolean {
  try {
    return labelSelectorFromObject((sel ?? null) as LabelSelector | null).matches(isObj(labels) ? (labels as Record<string, string>) : {});
  } catch {
    return false;
  }
}

/** A map selector (ReplicationController) matches when every pair is present. */
export function mapSelectorMatches(sel: unknown, labels: unknown): boolean {
  const l = obj(labels);
  return Object.entries(obj(sel)).every(([k, v]) => l[k] === v);
}

/** metav1.FormatLabelSelector: '<none>' for an empty or nil selector, '<error>' when it does not convert. */
export function formatLabelSelector(sel: unknown): string {
  try {
    const s = labelSelectorToString((isObj(sel) ? sel : null) as LabelSelector | null);
    return s || '<none>';
  } catch {
    return '<error>';
  }
}

/** A selector's canonical string ('' when empty), '<invalid>' when it does not convert (the deployment printer). */
export function selectorString(sel: unknown): string {
  try {
    return labelSelectorToString((isObj(sel) ? sel : null) as LabelSelector | null);
  } catch {
    return '<invalid>';
  }
}

// ---- int or percent ----------------------------------------------------------------------------

const percentRe = /^[0-9]+%$/;

/** Upstream ValidatePositiveIntOrPercent. */
export function validatePositiveIntOrPercent(v: unknown, path: string): StatusCause[] {
  if (typeof v === 'string') {
    return percentRe.test(v)
      ? []
      : [
          invalidValue(
            path,
            v,
            "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
          ),
        ];
  }
  if (isInt(v)) return validateNonnegative(v, path);
  return [invalidValue(path, v, "must be an integer or percentage (e.g '5%%')")];
}

/** Upstream getIntOrPercentValue: a percent's number, an int's value, 0 otherwise. */
export function intOrPercentValue(v: unknown): number {
  if (typeof v === 'string') {
    if (percentRe.test(v)) return Number(v.slice(0, -1));
    const n = Number(v);
    return Number.isInteger(n) && /^[+-]?\d+$/.test(v) ? n : 0;
  }
  return isInt(v) ? v : 0;
}

/** Upstream IsNotMoreThan100Percent. */
export function notMoreThan100Percent(v: unknown, path: string): StatusCause[] {
  if (typeof v !== 'string' || !percentRe.test(v)) return [];
  return Number(v.slice(0, -1)) > 100 ? [invalidValue(path, v, 'must not be greater than 100%')] : [];
}

// ---- tables --------------------------------------------------------------------------------------

/** layoutContainerCells: container names and images, comma-joined. */
export function containerCells(podSpec: unknown): [string, string] {
  const cs = arr(obj(podSpec)['containers']).map(obj);
  return [cs.map((c) => str(c['name'])).join(','), cs.map((c) => str(c['image'])).join(',')];
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

// ---- status hooks --------------------------------------------------------------------------------

/** Status counters Go always prints (json tags without omitempty), filled with 0 when absent. */
export function fillZeros(status: J, keys: readonly string[]): void {
  for (const k of keys) if (status[k] === undefined || status[k] === null) status[k] = 0;
}

/** A status reset on create: `{}` plus the always-printed counters. */
export function resetStatus(o: KubeObject, zeros: readonly string[] = []): void {
  const status: J = {};
  fillZeros(status, zeros);
  o['status'] = status;
}

/** Main-resource update: the stored status is kept (an absent one stays absent). */
export function keepOldStatus(o: KubeObject, old: KubeObject): void {
  if (old['status'] === undefined) delete o['status'];
  else o['status'] = clone(old['status']);
}

/** Status update: spec (and everything but status) from the stored object; counters filled. */
export function keepSpecForStatus(o: KubeObject, old: KubeObject, zeros: readonly string[] = []): void {
  keepAllButStatus(o, old);
  if (!isObj(o['status'])) o['status'] = {};
  fillZeros(o['status'] as J, zeros);
}
