/** The active queue: priority, then creation time, then arrival; lazy removal; bounded heap. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveQueue, type Queued } from './queue.ts';

const drain = (q: ActiveQueue) => {
  const out: string[] = [];
  for (let x = q.pop(); x; x = q.pop()) out.push(x.key);
  return out;
};
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString().replace(/\.\d+Z$/, 'Z');
const item = (key: string, priority: number, created: string): Queued => ({ key, priority, created });

const cases: { name: string; add: Queued[]; remove?: string[]; want: string[] }[] = [
  { name: 'higher priority first', add: [item('low', 0, at(0)), item('high', 10, at(5))], want: ['high', 'low'] },
  { name: 'equal priority: older first', add: [item('new', 0, at(5)), item('old', 0, at(1))], want: ['old', 'new'] },
  { name: 'equal priority and age: in arrival order', add: ['a', 'b', 'c', 'd'].map((k) => item(k, 0, at(0))), want: ['a', 'b', 'c', 'd'] },
  { name: 'a removed pod is not returned', add: [item('a', 0, at(0)), item('b', 0, at(1))], remove: ['a'], want: ['b'] },
  { name: 'adding a waiting pod again keeps its turn', add: [item('a', 0, at(0)), item('b', 0, at(0)), item('a', 0, at(0))], want: ['a', 'b'] },
  { name: 'a waiting pod whose priority rose moves up', add: [item('a', 0, at(0)), item('b', 0, at(1)), item('b', 5, at(1))], want: ['b', 'a'] },
];
for (const c of cases) {
  test(c.name, () => {
    const q = new ActiveQueue();
    for (const x of c.add) q.add(x);
    for (const k of c.remove ?? []) assert.equal(q.delete(k), true);
    assert.deepEqual(drain(q), c.want);
    assert.equal(q.size, 0);
  });
}

test('the order matches a full sort over many pods, with removals and re-adds', () => {
  const q = new ActiveQueue();
  const live = new Map<string, Queued & { seq: number }>();
  let seq = 0;
  let rnd = 7;
  const next = (n: number) => ((rnd = (rnd * 1103515245 + 12345) % 2147483648), rnd % n);
  for (let i = 0; i < 3000; i++) {
    const key = `p${next(1000)}`;
    if (next(4) === 0) {
      q.delete(key);
      live.delete(key);
      continue;
    }
    const x = item(key, next(3), at(next(30)));
    q.add(x);
    const old = live.get(key);
    live.set(key, { ...x, seq: old ? old.seq : seq++ });
  }
  assert.equal(q.size, live.size);
  assert.ok(q.held <= 2 * live.size + 1 || q.held <= 65);
  const want = [...live.values()].sort((a, b) => b.priority - a.priority || (a.created < b.created ? -1 : a.created > b.created ? 1 : 0) || a.seq - b.seq).map((x) => x.key);
  assert.deepEqual(drain(q), want);
});

test('removals do not let the heap grow without bound', () => {
  const q = new ActiveQueue();
  for (let i = 0; i < 10_000; i++) {
    q.add(item(`p${i}`, 0, at(0)));
    q.delete(`p${i}`);
    assert.ok(q.held <= 65, `${q.held} entries held`);
  }
  assert.equal(q.size, 0);
  assert.equal(q.pop(), undefined);
  q.add(item('last', 0, at(0)));
  assert.deepEqual(drain(q), ['last']);
});
