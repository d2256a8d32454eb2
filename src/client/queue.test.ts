import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';
import { WorkQueue, runWorkers, TerminalError } from './queue.ts';
import { TokenBucket, bucketRateLimiter, defaultControllerRateLimiter, itemExponentialRateLimiter, maxOfRateLimiters } from './ratelimit.ts';

/** Resolves pending promise callbacks. */
const tick = () => new Promise<void>((r) => setImmediate(r));

test('an item added twice is queued once', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  q.add('a');
  q.add('b');
  assert.equal(q.len(), 2);
  assert.equal(await q.get(), 'a');
  assert.equal(await q.get(), 'b');
  assert.equal(q.len(), 0);
});

test('an item added while it is processed is queued again only after done', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  const a = await q.get();
  q.add('a');
  q.add('a');
  assert.equal(q.len(), 0, 'not handed out twice at once');
  q.done(a!);
  assert.equal(q.len(), 1);
  assert.equal(await q.get(), 'a');
  q.done('a');
  assert.equal(q.len(), 0);
});

test('get waits for an item', async () => {
  const q = new WorkQueue<string>();
  let got: string | undefined;
  const p = q.get().then((v) => (got = v));
  await tick();
  assert.equal(got, undefined);
  q.add('x');
  await p;
  assert.equal(got, 'x');
});

test('shutDown wakes waiting getters, ignores later adds and still hands out queued items', async () => {
  const q = new WorkQueue<string>();
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
  const q2 = new WorkQueue<string>();
  q2.add('a');
  q2.shutDown();
  q2.add('b');
  assert.equal(q2.shuttingDown(), true);
  assert.equal(await q2.get(), 'a');
  assert.equal(await q2.get(), undefined);
});

test('shutDownWithDrain waits until in-flight items are done', async () => {
  const q = new WorkQueue<string>();
  q.add('a');
  const a = await q.get();
  let drained = false;
  const p = q.shutDownWithDrain().then(() => (drained = true));
  await tick();
  assert.equal(drained, false);
  q.done(a!);
  await p;
  assert.equal(drained, true);
});

test('addAfter makes the item ready when its delay has passed', () => {
  const clock = new FakeClock();
  const q = new WorkQueue<string>({ clock });
  q.addAfter('a', 100);
  assert.equal(q.len(), 0);
  clock.step(99);
  assert.equal(q.len(), 0);
  clock.step(1);
  assert.equal(q.len(), 1);
  assert.equal(q.delayedLen(), 0);
});

const delayCases: { name: string; adds: [string, number][]; steps: number[]; want: string[][] }[] = [
  { name: 'a shorter second delay wins', adds: [['a', 100], ['a', 50]], steps: [50, 50], want: [['a'], ['a']] },
  { name: 'a longer second delay does not postpone the item', adds: [['a', 50], ['a', 200]], steps: [50, 150], want: [['a'], ['a']] },
  { name: 'items become ready in the order of their times', adds: [['late', 30], ['early', 10], ['mid', 20]], steps: [10, 10, 10], want: [['early'], ['early', 'mid'], ['early', 'mid', 'late']] },
  { name: 'a zero delay adds at once', adds: [['now', 0]], steps: [0], want: [['now']] },
];
for (const c of delayCases) {
  test(`addAfter: ${c.name}`, async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({ clock });
    for (const [item, ms] of c.adds) q.addAfter(item, ms);
    const seen: string[] = [];
    for (let i = 0; i < c.steps.length; i++) {
      clock.step(c.steps[i]!);
      while (q.len()) seen.push((await q.get())!);
      assert.deepEqual(seen, c.want[i]);
    }
  });
}

test('addRateLimited backs off exponentially per item and forget resets it', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue<string>({ clock, rateLimiter: itemExponentialRateLimiter(5, 1000) });
  const readyAfter = (item: string) => {
    q.addRateLimited(item);
    let waited = 0;
    while (q.len() === 0 && waited < 10_000) {
      clock.step(1);
      waited++;
    }
    return waited;
  };
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    delays.push(readyAfter('a'));
    q.done((await q.get())!);
  }
  assert.deepEqual(delays, [5, 10, 20, 40]);
  assert.equal(q.numRequeues('a'), 4);
  q.forget('a');
  assert.equal(q.numRequeues('a'), 0);
});

const limiterCases: { name: string; when: () => number[]; want: number[] }[] = [
  {
    name: 'per-item exponential doubles from the base and caps at the maximum',
    when: () => {
      const l = itemExponentialRateLimiter<string>(5, 30);
      return [l.when('a'), l.when('a'), l.when('a'), l.when('a'), l.when('b')];
    },
    want: [5, 10, 20, 30, 5],
  },
  {
    name: 'per-item exponential never overflows',
    when: () => {
      const l = itemExponentialRateLimiter<string>(5, 1000_000);
      let d = 0;
      for (let i = 0; i < 2000; i++) d = l.when('a');
      return [d];
    },
    want: [1000_000],
  },
  {
    name: 'the bucket lets the burst through then spaces items at 1/qps',
    when: () => {
      const l = bucketRateLimiter<string>(10, 3, new FakeClock());
      return [l.when('a'), l.when('b'), l.when('c'), l.when('d'), l.when('e')].map((x) => Math.round(x));
    },
    want: [0, 0, 0, 100, 200],
  },
  {
    name: 'max-of takes the largest delay',
    when: () => {
      const l = maxOfRateLimiters<string>(itemExponentialRateLimiter(5, 1000), bucketRateLimiter(10, 1, new FakeClock()));
      return [l.when('a'), l.when('a')].map((x) => Math.round(x));
    },
    want: [5, 100],
  },
  {
    name: 'the default controller limiter starts at 5 ms per item',
    when: () => {
      const l = defaultControllerRateLimiter<string>(new FakeClock());
      return [l.when('a'), l.when('a'), l.when('b')];
    },
    want: [5, 10, 5],
  },
];
for (const c of limiterCases) test(`rate limiter: ${c.name}`, () => assert.deepEqual(c.when(), c.want));

test('a token bucket refills at qps up to its burst', () => {
  const clock = new FakeClock();
  const b = new TokenBucket({ qps: 2, burst: 2, clock });
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), false);
  clock.step(500);
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), false);
  clock.step(10_000);
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), false, 'never more than the burst banked');
  assert.equal(new TokenBucket({ qps: Infinity, burst: 1 }).reserve(), 0);
});

test('runWorkers forgets successes, retries failures, honours requeueAfter and drops terminal errors', async () => {
  const q = new WorkQueue<string>({ rateLimiter: itemExponentialRateLimiter(1, 10) });
  const calls: Record<string, number> = {};
  let concurrent = 0;
  let maxConcurrentSame = 0;
  const active = new Set<string>();
  const logs: string[] = [];
  const ac = new AbortController();
  const done = new Set<string>();
  for (const k of ['ok', 'flaky', 'terminal', 'again', 'ok']) q.add(k);
  const run = runWorkers(
    q,
    4,
    async (key) => {
      if (active.has(key)) maxConcurrentSame++;
      active.add(key);
      concurrent++;
      try {
        const n = (calls[key] = (calls[key] ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 1));
        if (key === 'flaky' && n < 3) throw new Error('not yet');
        if (key === 'terminal') throw new TerminalError('bad spec');
        if (key === 'again' && n === 1) return { requeueAfter: 5 };
        done.add(key);
      } finally {
        concurrent--;
        active.delete(key);
      }
    },
    { signal: ac.signal, log: (m) => logs.push(m) },
  );
  const deadline = Date.now() + 5000;
  while (!(done.has('ok') && done.has('flaky') && done.has('again')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  ac.abort();
  await run;
  assert.deepEqual(calls, { ok: 1, flaky: 3, terminal: 1, again: 2 });
  assert.equal(q.numRequeues('flaky'), 0, 'success forgets the backoff');
  assert.equal(maxConcurrentSame, 0);
  assert.equal(concurrent, 0);
  assert.ok(logs.some((l) => l.includes('terminal') && l.includes('not retried')));
  assert.equal(logs.filter((l) => l.includes('flaky')).length, 2);
});
