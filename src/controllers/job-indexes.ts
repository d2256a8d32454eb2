/**
 * Completion indexes of Indexed Jobs, as upstream's indexed_job_utils.go: sets of indexes kept
 * as ordered, non-adjacent intervals and written as `status.completedIndexes` /
 * `status.failedIndexes` text ("0-2,4,6,7"), a pod's index from its annotation, the first
 * indexes that still need a pod, the pods to remove for repeated or out-of-range indexes, the
 * per-index failure counts carried from a failed pod to its replacement, and the generated name
 * of an index's pod. Pure functions; inputs are never modified.
 */
import type { Job, Pod } from '../api/index.ts';
import { compareForDeletion } from './controller-utils.ts';
import { completionIndexAnnotation, indexFailureCountAnnotation, indexIgnoredFailureCountAnnotation } from './job-util.ts';

export interface Interval {
  first: number;
  last: number;
}

/** An index set: intervals in increasing order, never overlapping. */
export type Intervals = readonly Interval[];

/** A pod without a (valid) index. */
export const unknownIndex = -1;

/** Upstream names.MaxGeneratedNameLength: a generateName prefix longer than this is cut. */
const maxGeneratedNameLength = 58;
const maxInt32 = 2147483647;

/**
 * Parses index text, dropping indexes at or above `completions` and malformed parts (upstream
 * parseIndexesFromString: a later part that continues the previous interval joins it).
 */
export function parseIndexes(text: string | undefined, completions: number): Interval[] {
  if (!text) return [];
  const out: Interval[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-');
    const first = parseDecimal(a);
    if (first === undefined) continue;
    if (first >= completions) break;
    let last = first;
    if (b !== undefined) {
      const l = parseDecimal(b);
      if (l === undefined) continue;
      last = Math.min(l, completions - 1);
    }
    const prev = out.at(-1);
    if (prev && prev.last === first - 1) prev.last = last;
    else out.push({ first, last });
  }
  return out;
}

function parseDecimal(s: string | undefined): number | undefined {
  if (s === undefined || !/^[+-]?\d+$/.test(s)) return undefined;
  return Number(s);
}

/** "0-2,4,6,7": a pair is written as two numbers, longer runs as a range. */
export function formatIndexes(iv: Intervals): string {
  return iv.map((v) => (v.last === v.first ? `${v.first}` : `${v.first}${v.last === v.first + 1 ? ',' : '-'}${v.last}`)).join(',');
}

/** The union of two index sets. */
export function mergeIntervals(a: Intervals, b: Intervals): Interval[] {
  const out: Interval[] = [];
  const push = (v: Interval) => {
    const prev = out.at(-1);
    if (!prev || v.first > prev.last + 1) out.push({ first: v.first, last: v.last });
    else if (prev.last < v.last) prev.last = v.last;
  };
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) push(a[i]!.first < b[j]!.first ? a[i++]! : b[j++]!);
  while (i < a.length) push(a[i++]!);
  while (j < b.length) push(b[j++]!);
  return out;
}

/** The set with `indexes` (in increasing order) added. */
export function withIndexes(iv: Intervals, indexes: readonly number[]): Interval[] {
  return mergeIntervals(iv, indexes.map((x) => ({ first: x, last: x })));
}

export function intervalsTotal(iv: Intervals | undefined): number {
  let n = 0;
  for (const v of iv ?? []) n += v.last - v.first + 1;
  return n;
}

/** Binary search for `ix`. */
export function intervalsHas(iv: Intervals | undefined, ix: number): boolean {
  if (!iv) return false;
  let lo = 0;
  let hi = iv.length;
  while (hi > lo) {
    const mid = lo + ((hi - lo) >> 1);
    if (iv[mid]!.last >= ix) hi = mid;
    else lo = mid + 1;
  }
  return hi < iv.length && iv[hi]!.first <= ix;
}

/** A pod's completion index from its annotation, or unknownIndex. */
export function completionIndexOf(pod: Pod): number {
  const v = pod.metadata.annotations?.[completionIndexAnnotation];
  const n = parseDecimal(v);
  return n === undefined || n < 0 ? unknownIndex : n;
}

/** The distinct valid indexes of `pods`, increasing. */
export function indexesOf(pods: readonly Pod[]): number[] {
  const s = new Set<number>();
  for (const p of pods) {
    const ix = completionIndexOf(p);
    if (ix !== unknownIndex) s.add(ix);
  }
  return [...s].sort((a, b) => a - b);
}

/**
 * Up to `count` indexes below `completions` not in `nonPending` (indexes that succeeded, failed,
 * or have a pod), lowest first (upstream firstPendingIndexes).
 */
export function firstPendingIndexes(nonPending: Intervals, count: number, completions: number): number[] {
  const out: number[] = [];
  if (count <= 0) return out;
  let candidate = 0;
  for (const v of nonPending) {
    for (; candidate < completions && out.length < count && candidate < v.first; candidate++) out.push(candidate);
    if (candidate < v.last + 1) candidate = v.last + 1;
  }
  for (; candidate < completions && out.length < count; candidate++) out.push(candidate);
  return out;
}

const byIndex = (a: Pod, b: Pod) => completionIndexOf(a) - completionIndexOf(b);

/**
 * Active pods to delete (upstream activePodsForRemoval): for an Indexed Job first pods without
 * an index, with an index at or above completions, and all but the best-placed pod of a
 * repeated index; then, if fewer than `atLeast`, the least valuable of the rest
 * (compareForDeletion: unscheduled, pending, not ready, ... first).
 */
export function activePodsForRemoval(job: Job, pods: readonly Pod[], atLeast: number): Pod[] {
  const rm: Pod[] = [];
  let left: Pod[];
  if (job.spec?.completionMode === 'Indexed') {
    left = [];
    const completions = job.spec.completions ?? 0;
    const sorted = [...pods].sort(byIndex);
    let start = 0;
    const flush = (end: number) => {
      const group = sorted.slice(start, end);
      if (!group.length) return;
      const ix = completionIndexOf(group[0]!);
      if (ix === unknownIndex) rm.push(...group);
      else if (group.length === 1) left.push(group[0]!);
      else {
        group.sort(compareForDeletion);
        rm.push(...group.slice(0, -1));
        left.push(group.at(-1)!);
      }
    };
    let i = 0;
    for (; i < sorted.length; i++) {
      const ix = completionIndexOf(sorted[i]!);
      if (ix >= completions) break;
      if (i > start && ix !== completionIndexOf(sorted[i - 1]!)) {
        flush(i);
        start = i;
      }
    }
    flush(i);
    rm.push(...sorted.slice(i));
  } else left = [...pods];
  if (rm.length < atLeast) rm.push(...left.sort(compareForDeletion).slice(0, atLeast - rm.length));
  return rm;
}

/** `<job>-<index>-`, the job name cut so the prefix fits a generated name (upstream podGenerateNameWithIndex). */
export function podGenerateNameWithIndex(jobName: string, index: number): string {
  const suffix = `-${index}-`;
  const prefix = jobName + suffix;
  return prefix.length > maxGeneratedNameLength ? jobName.slice(0, maxGeneratedNameLength - suffix.length) + suffix : prefix;
}

function annotationInt(pod: Pod, key: string): number {
  const n = parseDecimal(pod.metadata.annotations?.[key]);
  return n === undefined || n < 0 || n > maxInt32 ? 0 : n;
}

/** Failures of the pod's index counted against backoffLimitPerIndex (its annotation; 0 when absent or bad). */
export function indexFailureCount(pod: Pod): number {
  return annotationInt(pod, indexFailureCountAnnotation);
}

/** All failures of the pod's index so far, ignored ones included. */
export function indexAbsoluteFailureCount(pod: Pod): number {
  return annotationInt(pod, indexFailureCountAnnotation) + annotationInt(pod, indexIgnoredFailureCountAnnotation);
}

/**
 * The failure-count annotations of the pod replacing `replaced` in its index (upstream
 * getNewIndexFailureCounts): the replaced pod's counts plus its own failure, counted or
 * ignored as the pod failure policy says (`countFailed`).
 */
export function replacementFailureCounts(replaced: Pod | undefined, countFailed: boolean): { failed: number; ignored: number } {
  if (!replaced) return { failed: 0, ignored: 0 };
  const failed = annotationInt(replaced, indexFailureCountAnnotation);
  const ignored = annotationInt(replaced, indexIgnoredFailureCountAnnotation);
  return countFailed ? { failed: failed + 1, ignored } : { failed, ignored: ignored + 1 };
}
