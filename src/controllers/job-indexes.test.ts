/**
 * Completion index sets as upstream's indexed_job_utils_test.go checks them: parsing and
 * writing the interval text, merging, membership, the first pending indexes, which active pods
 * an Indexed Job removes (repeated, unknown and out-of-range indexes first), generated names,
 * and the failure counts a replacement pod inherits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job, Pod } from '../api/index.ts';
import {
  activePodsForRemoval,
  completionIndexOf,
  firstPendingIndexes,
  formatIndexes,
  intervalsHas,
  intervalsTotal,
  mergeIntervals,
  parseIndexes,
  podGenerateNameWithIndex,
  replacementFailureCounts,
  withIndexes,
  type Interval,
} from './job-indexes.ts';

const iv = (...pairs: [number, number][]): Interval[] => pairs.map(([first, last]) => ({ first, last }));

const parseCases: { name: string; text: string; completions: number; want: Interval[] }[] = [
  { name: 'empty text is no index', text: '', completions: 5, want: [] },
  { name: 'single indexes and ranges', text: '0,2-4,7', completions: 10, want: iv([0, 0], [2, 4], [7, 7]) },
  { name: 'adjacent parts join', text: '0,1,2-3', completions: 10, want: iv([0, 3]) },
  { name: 'indexes at or above completions are dropped, ranges cut', text: '1-8,9', completions: 5, want: iv([1, 4]) },
  { name: 'malformed parts are skipped', text: 'x,3,5-y,6', completions: 10, want: iv([3, 3], [6, 6]) },
];
for (const c of parseCases) test(`parse: ${c.name}`, () => assert.deepEqual(parseIndexes(c.text, c.completions), c.want));

const formatCases: { name: string; iv: Interval[]; want: string }[] = [
  { name: 'nothing', iv: [], want: '' },
  { name: 'a pair is two numbers', iv: iv([0, 1]), want: '0,1' },
  { name: 'a run is a range', iv: iv([0, 4], [6, 6], [8, 9]), want: '0-4,6,8,9' },
];
for (const c of formatCases) test(`format: ${c.name}`, () => assert.equal(formatIndexes(c.iv), c.want));

test('merging keeps order and joins touching intervals', () => {
  assert.deepEqual(mergeIntervals(iv([0, 1], [5, 6]), iv([2, 3], [9, 9])), iv([0, 3], [5, 6], [9, 9]));
  assert.deepEqual(withIndexes(iv([1, 2]), [0, 3, 3, 7]), iv([0, 3], [7, 7]));
  assert.deepEqual(mergeIntervals([], []), []);
});

test('totals and membership', () => {
  const s = iv([0, 2], [5, 5], [8, 10]);
  assert.equal(intervalsTotal(s), 7);
  assert.deepEqual([0, 2, 3, 5, 7, 8, 10, 11].map((x) => intervalsHas(s, x)), [true, true, false, true, false, true, true, false]);
  assert.equal(intervalsHas(undefined, 0), false);
});

const pendingCases: { name: string; nonPending: Interval[]; count: number; completions: number; want: number[] }[] = [
  { name: 'from zero when nothing is taken', nonPending: [], count: 3, completions: 10, want: [0, 1, 2] },
  { name: 'skipping taken indexes', nonPending: iv([0, 1], [3, 3]), count: 3, completions: 10, want: [2, 4, 5] },
  { name: 'never at or above completions', nonPending: iv([0, 3]), count: 5, completions: 5, want: [4] },
  { name: 'none when count is zero', nonPending: [], count: 0, completions: 5, want: [] },
];
for (const c of pendingCases) test(`pending: ${c.name}`, () => assert.deepEqual(firstPendingIndexes(c.nonPending, c.count, c.completions), c.want));

const indexed = (completions: number): Job => ({ metadata: { name: 'j' }, spec: { completionMode: 'Indexed', completions, template: {} } });
const pod = (name: string, index?: number, x: { ready?: boolean; node?: string } = {}): Pod => ({
  metadata: { name, ...(index === undefined ? {} : { annotations: { 'batch.kubernetes.io/job-completion-index': String(index) } }) },
  spec: { containers: [], ...(x.node ? { nodeName: x.node } : {}) },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: x.ready ? 'True' : 'False' }] },
});

test('an Indexed Job removes pods without an index, beyond completions and all but one of a repeated index', () => {
  const pods = [pod('a', 0, { ready: true, node: 'n' }), pod('b', 0), pod('c'), pod('d', 1), pod('e', 7)];
  assert.deepEqual(activePodsForRemoval(indexed(3), pods, 0).map((p) => p.metadata.name).sort(), ['b', 'c', 'e']);
  // At least two: then the least valuable of the rest.
  assert.deepEqual(activePodsForRemoval(indexed(3), pods, 4).map((p) => p.metadata.name).sort(), ['b', 'c', 'd', 'e']);
});

test('a NonIndexed Job removes the least valuable pods first: unscheduled, then not ready', () => {
  const job: Job = { metadata: { name: 'j' }, spec: { template: {} } };
  const pods = [pod('ready', undefined, { ready: true, node: 'n' }), pod('unready', undefined, { node: 'n' }), pod('unscheduled')];
  assert.deepEqual(activePodsForRemoval(job, pods, 2).map((p) => p.metadata.name), ['unscheduled', 'unready']);
  assert.deepEqual(activePodsForRemoval(job, pods, 0), []);
});

test('a pod index comes from its annotation; anything else is unknown', () => {
  assert.equal(completionIndexOf(pod('a', 4)), 4);
  assert.equal(completionIndexOf(pod('a')), -1);
  assert.equal(completionIndexOf({ metadata: { annotations: { 'batch.kubernetes.io/job-completion-index': 'x' } } }), -1);
  assert.equal(completionIndexOf({ metadata: { annotations: { 'batch.kubernetes.io/job-completion-index': '-2' } } }), -1);
});

test('generated names keep the index and fit 58 characters', () => {
  assert.equal(podGenerateNameWithIndex('pi', 3), 'pi-3-');
  const long = podGenerateNameWithIndex('x'.repeat(63), 12);
  assert.equal(long.length, 58);
  assert.ok(long.endsWith('-12-'));
});

test('a replacement inherits its index failure counts, counted or ignored', () => {
  const failed: Pod = { metadata: { annotations: { 'batch.kubernetes.io/job-index-failure-count': '2', 'batch.kubernetes.io/job-index-ignored-failure-count': '1' } } };
  assert.deepEqual(replacementFailureCounts(failed, true), { failed: 3, ignored: 1 });
  assert.deepEqual(replacementFailureCounts(failed, false), { failed: 2, ignored: 2 });
  assert.deepEqual(replacementFailureCounts(undefined, true), { failed: 0, ignored: 0 });
});
