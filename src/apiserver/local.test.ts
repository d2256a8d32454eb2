/**
 * The in-process transport against a real API server on a temporary store: requests go through
 * authentication and authorization, lists asked for as shared and watch events are the cache's
 * frozen objects (no copies), errors are Statuses, a consumer that stops reading is bounded and
 * its watch ended, and closing the transport ends its watches.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePki, type Pki } from '../pki/index.ts';
import { openStore } from '../storage/index.ts';
import type { Store } from '../storage/types.ts';
import { builtinResources } from '../api/groups/index.ts';
import { ApiServer } from './server.ts';
import { bootstrap } from './bootstrap.ts';
import { certificateUser, maxQueuedEvents } from './local.ts';
import { RestClient, resources, type WatchEvent } from '../client/index.ts';
import { isStatusError } from '../api/errors.ts';
import type { KubeObject } from '../api/types.ts';

let pki: Pki;
let store: Store;
let api: ApiServer;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-local-test-'));
  pki = await ensurePki(path.join(dir, 'tls'), { hostnames: [], addresses: [] });
  store = await openStore(undefined, dir);
  api = new ApiServer({ store, resources: builtinResources, tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem }, port: 0 });
  await api.start({ beforeReady: (p) => bootstrap(api, { port: p }) });
});

after(async () => {
  await api.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const admin = () => new RestClient(api.localTransport({ user: certificateUser('admin', ['system:masters']), userAgent: 'local-test' }), { qps: Infinity });

function configMap(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: name } } as KubeObject;
}

test('requests round-trip through the handlers; an error is the server\'s Status', async () => {
  const c = admin();
  const made = await c.create<KubeObject>(resources.configMaps, configMap('rt'), { namespace: 'default' });
  assert.equal(made.metadata.name, 'rt');
  assert.ok(made.metadata.uid);
  const got = await c.get<KubeObject>(resources.configMaps, 'rt', { namespace: 'default' });
  assert.equal(got.metadata.resourceVersion, made.metadata.resourceVersion);
  assert.equal(Object.isFrozen(got), false, 'a get answers a private copy the caller may change');
  got.metadata.labels = { a: 'b' };
  const updated = await c.update<KubeObject>(resources.configMaps, got, { namespace: 'default' });
  assert.deepEqual(updated.metadata.labels, { a: 'b' });
  await assert.rejects(c.get(resources.configMaps, 'missing', { namespace: 'default' }), (e) => isStatusError(e) && e.code === 404 && /configmaps "missing" not found/.test(e.message));
  await assert.rejects(c.create(resources.configMaps, { ...configMap('bad'), metadata: { name: 'Bad_Name', namespace: 'default' } } as KubeObject, { namespace: 'default' }), (e) => isStatusError(e) && e.code === 422);
  await c.transport.close();
});

test('a single object is handed over as the client\'s own copy, equal to its JSON, not parsed from text', async () => {
  const c = admin();
  const raw = await c.transport.request({ method: 'POST', path: '/api/v1/namespaces/default/configmaps', body: JSON.stringify(configMap('copy')), contentType: 'application/json' });
  assert.equal(raw.status, 201);
  assert.equal(raw.body.length, 0, 'no JSON text');
  const made = raw.object as KubeObject;
  assert.equal(made.metadata.name, 'copy');
  const got = (await c.transport.request({ method: 'GET', path: '/api/v1/namespaces/default/configmaps/copy' })).object as KubeObject;
  assert.equal(Object.isFrozen(got), false);
  assert.deepEqual(got, JSON.parse(JSON.stringify(got)), 'nothing JSON would drop');
  got.metadata.labels = { changed: 'yes' };
  const again = (await c.transport.request({ method: 'GET', path: '/api/v1/namespaces/default/configmaps/copy' })).object as KubeObject;
  assert.equal(again.metadata.labels, undefined, 'changing a copy changes nothing on the server');
  const yaml = await c.transport.request({ method: 'GET', path: '/api/v1/namespaces/default/configmaps/copy', accept: 'application/yaml' });
  assert.equal(yaml.object, undefined);
  assert.match(Buffer.from(yaml.body).toString(), /name: copy/);
  await c.transport.close();
});

test('a shared list hands out the cache\'s frozen objects; an unshared one a private copy', async () => {
  const c = admin();
  await c.create(resources.configMaps, configMap('shared-a'), { namespace: 'default' });
  const one = await c.list<KubeObject>(resources.configMaps, { namespace: 'default', shared: true });
  const two = await c.list<KubeObject>(resources.configMaps, { namespace: 'default', shared: true });
  const a1 = one.items.find((i) => i.metadata.name === 'shared-a')!;
  const a2 = two.items.find((i) => i.metadata.name === 'shared-a')!;
  assert.equal(a1, a2, 'the same object, not a copy');
  assert.ok(Object.isFrozen(a1) && Object.isFrozen(a1.metadata));
  assert.equal(a1.kind, 'ConfigMap');
  assert.throws(() => {
    (a1.metadata as { name: string }).name = 'changed';
  }, TypeError);
  const copy = (await c.list<KubeObject>(resources.configMaps, { namespace: 'default' })).items.find((i) => i.metadata.name === 'shared-a')!;
  assert.notEqual(copy, a1);
  assert.equal(Object.isFrozen(copy), false);
  assert.deepEqual(copy, a1);
  await c.transport.close();
});

test('watch events are the cache\'s objects, in order, with selectors applied', async () => {
  const c = admin();
  const w = await c.watch<KubeObject>(resources.configMaps, { namespace: 'default', labelSelector: 'w=yes' });
  const seen: WatchEvent<KubeObject>[] = [];
  const reading = (async () => {
    for await (const ev of w) {
      seen.push(ev);
      if (seen.length === 3) break;
    }
  })();
  await c.create(resources.configMaps, { ...configMap('w1'), metadata: { name: 'w1', namespace: 'default', labels: { w: 'yes' } } } as KubeObject, { namespace: 'default' });
  await c.create(resources.configMaps, configMap('w-other'), { namespace: 'default' });
  await c.patch(resources.configMaps, 'w1', { data: { k: 'v2' } }, { namespace: 'default', type: 'merge' });
  await c.delete(resources.configMaps, 'w1', { namespace: 'default' });
  await reading;
  assert.deepEqual(seen.map((e) => [e.type, e.type === 'ERROR' ? '' : e.object.metadata.name]), [['ADDED', 'w1'], ['MODIFIED', 'w1'], ['DELETED', 'w1']]);
  const modified = seen[1]!.object as KubeObject;
  assert.ok(Object.isFrozen(modified));
  const listed = (await c.list<KubeObject>(resources.configMaps, { namespace: 'default', shared: true })).items;
  assert.equal(listed.some((i) => i.metadata.name === 'w1'), false);
  await c.transport.close();
});

test('a token is authenticated by the server on each request: a bad one is 401', async () => {
  const c = new RestClient(api.localTransport({ credentials: () => ({ token: 'not-a-token' }) }), { qps: Infinity });
  await assert.rejects(c.get(resources.namespaces, 'default'), (e) => isStatusError(e) && e.code === 401);
  await assert.rejects(c.watch(resources.namespaces, {}), (e) => isStatusError(e) && e.code === 401);
  await c.transport.close();
});

test('a watch whose consumer stops reading is bounded and ended; closing the transport ends watches', async () => {
  const c = admin();
  const stalled = await c.watch<KubeObject>(resources.configMaps, { namespace: 'default', labelSelector: 'bulk=yes' });
  const n = maxQueuedEvents + 600;
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => c.create(resources.configMaps, { ...configMap(`bulk-${i + j}`), metadata: { name: `bulk-${i + j}`, namespace: 'default', labels: { bulk: 'yes' } } } as KubeObject, { namespace: 'default' })));
  }
  let got = 0;
  for await (const ev of stalled) if (ev.type === 'ADDED') got++;
  assert.ok(got >= maxQueuedEvents && got < n, `the stalled watch got ${got} of ${n} events, then ended`);

  const open = await c.watch<KubeObject>(resources.configMaps, { namespace: 'default' });
  const ended = (async () => {
    let k = 0;
    for await (const _ of open) k++;
    return k;
  })();
  await c.transport.close();
  assert.ok((await ended) >= 0);
  await assert.rejects(c.get(resources.namespaces, 'default'), /closed/);
});

test('watches opened and closed with one long-lived signal leave no abort listener behind', async () => {
  const c = admin();
  const ac = new AbortController();
  for (let i = 0; i < 20; i++) {
    const w = await c.watch<KubeObject>(resources.configMaps, { namespace: 'default', signal: ac.signal });
    w.close();
  }
  assert.equal(EventEmitter.getEventListeners(ac.signal, 'abort').length, 0);
  await c.transport.close();
});
