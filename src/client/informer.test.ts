/**
 * Informers against a real `bosun server`: list then watch, handler delivery, indexes, resync,
 * sharing, resuming across a server restart, and relisting after a real 410.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type ServerHandle } from '../../test/e2e/harness.ts';
import type { KubeObject } from '../api/types.ts';
import { InformerFactory, SharedInformer } from './informer.ts';
import { loadKubeconfig } from './kubeconfig.ts';
import { RestClient } from './rest.ts';
import { resources } from './resources.ts';
import { IndexNamespace, IndexOwnerUid } from './store.ts';
import { Http2Transport, type QueryParams, type Transport, type TransportRequest, type WatchStream } from './transport.ts';

/** A transport whose watches can be cut and held back, to make an informer miss changes. */
class GatedTransport implements Transport {
  #inner: Transport;
  #paused = false;
  #streams = new Set<WatchStream>();
  #waiters: (() => void)[] = [];
  constructor(inner: Transport) {
    this.#inner = inner;
  }
  request(req: TransportRequest) {
    return this.#inner.request(req);
  }
  async watch(path: string, query: QueryParams, opts: { signal?: AbortSignal } = {}): Promise<WatchStream> {
    for (;;) {
      while (this.#paused) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        await new Promise<void>((r) => {
          this.#waiters.push(r);
          opts.signal?.addEventListener('abort', () => r(), { once: true });
        });
      }
      const s = await this.#inner.watch(path, query, opts);
      // Paused while the watch was being opened: drop it and wait.
      if (this.#paused) {
        s.close();
        continue;
      }
      this.#streams.add(s);
      return s;
    }
  }
  pause(): void {
    this.#paused = true;
    for (const s of this.#streams) s.close();
    this.#streams.clear();
  }
  resume(): void {
    this.#paused = false;
    for (const w of this.#waiters.splice(0)) w();
  }
  close() {
    return this.#inner.close();
  }
}

async function until(what: string, pred: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Records handler calls as strings: `add a`, `update a 5→6`, `delete b`. */
function recorder() {
  const events: string[] = [];
  return {
    events,
    handler: {
      onAdd: (o: KubeObject) => events.push(`add ${o.metadata.name}`),
      onUpdate: (a: KubeObject, b: KubeObject) => events.push(a === b ? `resync ${b.metadata.name}` : `update ${b.metadata.name} ${b['data'] ? JSON.stringify(b['data']) : ''}`.trim()),
      onDelete: (o: KubeObject) => events.push(`delete ${o.metadata.name}`),
    },
  };
}

let server: ServerHandle;
let client: RestClient;
const logs: string[] = [];
const log = (m: string) => logs.push(m);
const fast = { backoff: { initialMs: 50, maxMs: 400 }, log };

before(async () => {
  // No controller manager: its kube-root-ca.crt ConfigMaps would join every namespace's events.
  server = await startServer({ args: ['--disable-controller-manager'] });
  client = new RestClient(new Http2Transport({ ...(await loadKubeconfig(server.kubeconfig)), userAgent: 'bosun-informer-test/v1.33.0' }));
});

after(async () => {
  await client?.transport.close();
  await server?.stop();
});

const cm = (ns: string, name: string, data: Record<string, string> = { v: '1' }, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  metadata: { name, namespace: ns, ...extra },
  data,
});

async function namespace(name: string): Promise<void> {
  await client.create(resources.namespaces, { metadata: { name } });
}

test('an informer lists, then delivers updates, deletes and adds in order, keeping its cache frozen', async () => {
  await namespace('inf1');
  await client.create(resources.configMaps, cm('inf1', 'a'));
  await client.create(resources.configMaps, cm('inf1', 'b'));
  const inf = new SharedInformer(client, resources.configMaps, { namespace: 'inf1', freeze: true, ...fast });
  const r = recorder();
  const reg = inf.addEventHandler(r.handler);
  const ac = new AbortController();
  const run = inf.run(ac.signal);
  try {
    assert.equal(await inf.waitForSync(), true);
    assert.equal(inf.hasSynced(), true);
    assert.equal(reg.hasSynced(), true);
    assert.deepEqual([...r.events].sort(), ['add a', 'add b']);
    r.events.length = 0;
    await client.patch(resources.configMaps, 'a', { data: { v: '2' } }, { namespace: 'inf1', type: 'merge' });
    await client.delete(resources.configMaps, 'b', { namespace: 'inf1' });
    await client.create(resources.configMaps, cm('inf1', 'c'));
    await until('three events', () => r.events.length >= 3);
    assert.deepEqual(r.events, ['update a {"v":"2"}', 'delete b', 'add c']);
    assert.deepEqual(inf.store.keys().sort(), ['inf1/a', 'inf1/c']);
    const a = inf.store.get('inf1/a')!;
    assert.equal(a.kind, 'ConfigMap');
    assert.equal(a.metadata.resourceVersion, inf.lastSyncResourceVersion === '' ? '' : a.metadata.resourceVersion);
    assert.throws(() => {
      (a['data'] as Record<string, string>)['v'] = 'mutated';
    }, TypeError);
  } finally {
    ac.abort();
    await run;
  }
});

test('a late handler gets the cached objects as adds, and the built-in indexes answer', async () => {
  await namespace('inf2');
  const owner = await client.create(resources.configMaps, cm('inf2', 'owner'));
  await client.create(
    resources.configMaps,
    cm('inf2', 'child', { v: '1' }, { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid! }] }),
  );
  const inf = new SharedInformer(client, resources.configMaps, fast);
  const ac = new AbortController();
  const run = inf.run(ac.signal);
  try {
    await inf.waitForSync();
    const r = recorder();
    const reg = inf.addEventHandler(r.handler);
    assert.equal(reg.hasSynced(), true);
    assert.ok(r.events.includes('add owner') && r.events.includes('add child'));
    assert.deepEqual(inf.store.byIndex(IndexNamespace, 'inf2').map((o) => o.metadata.name).sort(), ['child', 'owner']);
    assert.deepEqual(inf.store.byIndex(IndexOwnerUid, owner.metadata.uid!).map((o) => o.metadata.name), ['child']);
    reg.remove();
    await client.create(resources.configMaps, cm('inf2', 'after-remove'));
    await until('the cache to see it', () => !!inf.store.get('inf2/after-remove'));
    assert.ok(!r.events.includes('add after-remove'), 'a removed handler hears nothing');
  } finally {
    ac.abort();
    await run;
  }
});

test('resync re-delivers every cached object as an update to itself', async () => {
  await namespace('inf3');
  await client.create(resources.configMaps, cm('inf3', 'x'));
  const inf = new SharedInformer(client, resources.configMaps, { namespace: 'inf3', resyncMs: 100, ...fast });
  const r = recorder();
  inf.addEventHandler(r.handler);
  const ac = new AbortController();
  const run = inf.run(ac.signal);
  try {
    await until('two resyncs', () => r.events.filter((e) => e === 'resync x').length >= 2);
    assert.equal(r.events[0], 'add x');
  } finally {
    ac.abort();
    await run;
  }
});

test('a factory shares one informer per resource and selection, and syncs them all', async () => {
  const f = new InformerFactory(client, fast);
  const a = f.informerFor(resources.configMaps);
  assert.equal(f.informerFor(resources.configMaps), a);
  const filtered = f.informerFor(resources.configMaps, { labelSelector: 'app=x' });
  assert.notEqual(filtered, a);
  const ac = new AbortController();
  f.start(ac.signal);
  const pods = f.informerFor(resources.pods);
  try {
    assert.equal(await f.waitForCacheSync(), true);
    assert.ok(pods.hasSynced(), 'an informer asked for after start runs too');
    assert.ok(a.store.size > 0);
    assert.equal(filtered.store.size, 0);
    pods.store.byIndex('nodeName', 'n1');
  } finally {
    ac.abort();
    await f.stopped();
  }
});

test('an informer rides out a server restart, and relists after a real 410 with the differences', async () => {
  await namespace('inf4');
  for (const n of ['keep', 'change', 'drop']) await client.create(resources.configMaps, cm('inf4', n));
  const gated = new GatedTransport(new Http2Transport({ ...(await loadKubeconfig(server.kubeconfig)), pingIntervalMs: 200, pingTimeoutMs: 200 }));
  const infClient = new RestClient(gated);
  const inf = new SharedInformer(infClient, resources.configMaps, { namespace: 'inf4', ...fast });
  const r = recorder();
  inf.addEventHandler(r.handler);
  const ac = new AbortController();
  const run = inf.run(ac.signal);
  try {
    await inf.waitForSync();
    assert.deepEqual([...r.events].sort(), ['add change', 'add drop', 'add keep']);
    r.events.length = 0;

    // 1. Restart: the watch breaks, the informer reconnects and keeps delivering.
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, port: server.port, args: ['--disable-controller-manager'] });
    await client.create(resources.configMaps, cm('inf4', 'after-restart'));
    await until('the object created after the restart', () => r.events.includes('add after-restart'));
    r.events.length = 0;

    // 2. Miss changes while the watch is held back; a restart forgets the old event window.
    gated.pause();
    await client.patch(resources.configMaps, 'change', { data: { v: '2' } }, { namespace: 'inf4', type: 'merge' });
    await client.delete(resources.configMaps, 'drop', { namespace: 'inf4' });
    await client.create(resources.configMaps, cm('inf4', 'new'));
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, port: server.port, args: ['--disable-controller-manager'] });
    // Upstream answers a watch from a compacted version with 200 and an ERROR event carrying the 410.
    const stream = await client.watch(resources.configMaps, { resourceVersion: inf.lastSyncResourceVersion });
    try {
      const first = await stream[Symbol.asyncIterator]().next();
      assert.ok(!first.done && first.value.type === 'ERROR' && first.value.object.code === 410, `expected an ERROR 410 event, got ${JSON.stringify(first.value)}`);
    } finally {
      stream.close();
    }
    logs.length = 0;
    gated.resume();
    await until('the differences', () => r.events.length >= 3);
    await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual([...r.events].sort(), ['add new', 'delete drop', 'update change {"v":"2"}']);
    assert.ok(logs.some((l) => /too old; listing again/.test(l)), `expected a relist after 410, logs: ${logs.join('\n')}`);
    assert.deepEqual(inf.store.keys().sort(), ['inf4/after-restart', 'inf4/change', 'inf4/keep', 'inf4/new']);

    // 3. And it keeps watching afterwards.
    await client.delete(resources.configMaps, 'keep', { namespace: 'inf4' });
    await until('the delete after the relist', () => r.events.includes('delete keep'));
  } finally {
    ac.abort();
    gated.resume();
    await run;
    await gated.close();
  }
});
