/**
 * The controller and the manager over an in-memory lister-watcher: queueing through predicates
 * and handlers, results and errors, graceful stop, health endpoints. Against a real cluster in
 * test/e2e/operator.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/types.ts';
import { SharedInformer, itemExponentialRateLimiter, type RestClient } from '../client/index.ts';
import { Controller } from './controller.ts';
import { enqueueForObject, enqueueForOwner } from './handler.ts';
import { Manager } from './manager.ts';
import { generationChanged } from './predicate.ts';
import { terminalError, type Request } from './reconcile.ts';
import { runnable } from './runnable.ts';
import { MemoryLW, eventually } from './testing.ts';

const cms = { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true };
const quiet = () => {};
const cm = (name: string, extra: Partial<KubeObject> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' }, ...extra });

function setup(reconcile: (req: Request) => unknown, opts: { workers?: number } = {}) {
  const mem = new MemoryLW();
  const informer = new SharedInformer<KubeObject>(mem.lw, cms, { log: quiet });
  const ctrl = new Controller({ name: 'test', reconciler: async (req) => reconcile(req) as never, log: quiet, maxConcurrentReconciles: opts.workers, rateLimiter: itemExponentialRateLimiter(1, 20) });
  const ctl = new AbortController();
  return { mem, informer, ctrl, ctl, run: () => Promise.all([informer.run(ctl.signal), ctrl.start(ctl.signal)]) };
}

test('objects present at start and later changes are reconciled by key', async () => {
  const seen: string[] = [];
  const s = setup((req) => void seen.push(`${req.namespace}/${req.name}`));
  s.mem.put(cm('a'));
  s.ctrl.watch(s.informer, enqueueForObject());
  const done = s.run();
  await eventually('a', () => seen.includes('ns/a'));
  s.mem.put(cm('b'));
  await eventually('b', () => seen.includes('ns/b'));
  s.mem.remove('ns/b');
  await eventually('b deleted', () => seen.filter((k) => k === 'ns/b').length === 2);
  s.ctl.abort();
  await done;
});

test('predicates filter events before the handler', async () => {
  const seen: string[] = [];
  const s = setup((req) => void seen.push(req.name));
  s.ctrl.watch(s.informer, enqueueForObject(), generationChanged());
  const done = s.run();
  s.mem.put(cm('a', { data: { v: '1' } }));
  await eventually('create', () => seen.length === 1);
  s.mem.put({ ...cm('a', { data: { v: '2' } }), metadata: { name: 'a', namespace: 'ns', generation: 1 } });
  s.mem.put({ ...cm('a', { data: { v: '3' } }), metadata: { name: 'a', namespace: 'ns', generation: 2 } });
  await eventually('generation change', () => seen.length === 2);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(seen.length, 2);
  s.ctl.abort();
  await done;
});

test('owned objects reconcile their controller owner', async () => {
  const seen: string[] = [];
  const s = setup((req) => void seen.push(req.name));
  s.ctrl.watch(s.informer, enqueueForOwner({ group: 'example.com', kind: 'Database', namespaced: true }, { onlyController: true }));
  const done = s.run();
  s.mem.put({ ...cm('child'), metadata: { name: 'child', namespace: 'ns', ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Database', name: 'db', uid: 'u', controller: true }] } });
  await eventually('owner', () => seen.includes('db'));
  assert.ok(!seen.includes('child'));
  s.ctl.abort();
  await done;
});

test('errors and {requeue} retry rate-limited, {requeueAfter} later, a terminal error never', async () => {
  const counts = new Map<string, number>();
  const s = setup((req) => {
    const n = (counts.get(req.name) ?? 0) + 1;
    counts.set(req.name, n);
    if (req.name === 'err' && n < 3) throw new Error('boom');
    if (req.name === 'requeue' && n < 3) return { requeue: true };
    if (req.name === 'after' && n < 2) return { requeueAfter: 20 };
    if (req.name === 'terminal') throw terminalError('bad spec');
    return undefined;
  });
  for (const n of ['err', 'requeue', 'after', 'terminal']) s.mem.put(cm(n));
  s.ctrl.watch(s.informer, enqueueForObject());
  const done = s.run();
  await eventually('retries', () => counts.get('err') === 3 && counts.get('requeue') === 3 && counts.get('after') === 2);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepStrictEqual(Object.fromEntries(counts), { err: 3, requeue: 3, after: 2, terminal: 1 });
  assert.equal(s.ctrl.queue.numRequeues('ns/err'), 0, 'success forgets the backoff');
  s.ctl.abort();
  await done;
});

test('a request is never reconciled by two workers at once', async () => {
  let inFlight = 0;
  let max = 0;
  let runs = 0;
  const s = setup(async () => {
    inFlight++;
    max = Math.max(max, inFlight);
    await new Promise((r) => setTimeout(r, 10));
    inFlight--;
    runs++;
  }, { workers: 4 });
  s.ctrl.watch(s.informer, enqueueForObject());
  const done = s.run();
  for (let i = 0; i < 5; i++) s.mem.put(cm('same', { data: { i: String(i) } }));
  await eventually('runs', () => runs >= 1 && inFlight === 0 && s.ctrl.queue.len() === 0);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(max, 1);
  s.ctl.abort();
  await done;
});

test('stopping lets the in-flight reconcile finish, with its signal still open', async () => {
  let finished = false;
  let abortedDuring = true;
  let started = false;
  const s = setup(async () => {
    started = true;
    await new Promise((r) => setTimeout(r, 50));
    finished = true;
  });
  const ctrl = new Controller({
    name: 'slow',
    log: quiet,
    reconciler: async (_req, ctx) => {
      started = true;
      await new Promise((r) => setTimeout(r, 50));
      abortedDuring = ctx.signal.aborted;
      finished = true;
    },
  });
  ctrl.watch(s.informer, enqueueForObject());
  s.mem.put(cm('a'));
  const hard = new AbortController();
  const runs = Promise.all([s.informer.run(s.ctl.signal), ctrl.start(s.ctl.signal, { hardSignal: hard.signal })]);
  await eventually('started', () => started);
  s.ctl.abort();
  await runs;
  assert.ok(finished);
  assert.equal(abortedDuring, false);
});

test('start rejects when the caches do not sync in time', async () => {
  const lw = { list: () => new Promise<never>(() => {}), watch: () => new Promise<never>(() => {}) };
  const informer = new SharedInformer<KubeObject>(lw, cms, { log: quiet });
  const ctrl = new Controller({ name: 'nosync', reconciler: () => {}, cacheSyncTimeoutMs: 20, log: quiet });
  ctrl.watch(informer, enqueueForObject());
  await assert.rejects(ctrl.start(new AbortController().signal), /^Error: controller nosync: timed out waiting for cache to be synced$/);
});

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

test('the manager serves /healthz and /readyz from its checks', async () => {
  const mem = new MemoryLW();
  const mgr = new Manager(mem.lw as unknown as RestClient, { healthProbe: { port: 0, host: '127.0.0.1' }, log: quiet });
  let healthy = true;
  mgr.addHealthzCheck('ping', () => {});
  mgr.addHealthzCheck('db', () => {
    if (!healthy) throw new Error('down');
  });
  assert.throws(() => mgr.addHealthzCheck('ping', () => {}), /healthz check ping already exists/);
  mgr.informer(cms);
  const ctl = new AbortController();
  const run = mgr.start(ctl.signal);
  await eventually('probe port', () => mgr.healthProbePort !== undefined);
  const port = mgr.healthProbePort!;
  assert.deepStrictEqual(await get(port, '/healthz'), { status: 200, body: 'ok' });
  healthy = false;
  assert.deepStrictEqual(await get(port, '/healthz'), { status: 500, body: '[+]ping ok\n[-]db failed: reason withheld\nhealthz check failed\n' });
  assert.equal((await get(port, '/healthz/ping')).status, 200);
  assert.equal((await get(port, '/healthz/nope')).status, 404);
  await mgr.informers.waitForCacheSync();
  assert.deepStrictEqual(await get(port, '/readyz?verbose'), { status: 200, body: '[+]informers ok\nreadyz check passed\n' });
  ctl.abort();
  await run;
});

test('the manager stops runnables gracefully, and fails when the grace period runs out', async () => {
  const mem = new MemoryLW();
  const order: string[] = [];
  const mgr = new Manager(mem.lw as unknown as RestClient, { log: quiet, gracefulShutdownTimeoutMs: 1000 });
  mgr.add(runnable(async (signal) => {
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    await new Promise((r) => setTimeout(r, 20));
    order.push('stopped');
  }, { needLeaderElection: true }));
  const ctl = new AbortController();
  const run = mgr.start(ctl.signal);
  await mgr.elected();
  assert.ok(mgr.isLeader());
  ctl.abort();
  await run;
  assert.deepStrictEqual(order, ['stopped']);

  const stuck = new Manager(mem.lw as unknown as RestClient, { log: quiet, gracefulShutdownTimeoutMs: 30 });
  let hardAborted = false;
  stuck.add(runnable(async (_signal, ctx) => {
    await new Promise((r) => ctx!.hardSignal!.addEventListener('abort', r, { once: true }));
    hardAborted = true;
    await new Promise(() => {});
  }));
  const ctl2 = new AbortController();
  const run2 = stuck.start(ctl2.signal);
  ctl2.abort();
  await assert.rejects(run2, /^Error: failed waiting for all runnables to end within grace period of 0.03s: context deadline exceeded$/);
  assert.ok(hardAborted);
});

test('a failing runnable stops the manager with its error', async () => {
  const mem = new MemoryLW();
  const mgr = new Manager(mem.lw as unknown as RestClient, { log: quiet });
  let otherStopped = false;
  mgr.add(runnable(async (signal) => {
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    otherStopped = true;
  }));
  mgr.add(runnable(async () => {
    throw new Error('broken');
  }));
  await assert.rejects(mgr.start(new AbortController().signal), /^Error: broken$/);
  assert.ok(otherStopped);
});
