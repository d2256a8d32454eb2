import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyJson } from '../util/freeze.ts';
import { decodeContinue, deletionFinalizers, encodeContinue, maxListLimit, writtenMax } from './rest.ts';
import { isStatusError } from '../api/errors.ts';
import { canonical } from '../api/schema/canonical.ts';
import type { Store, WatchBatch } from '../storage/types.ts';

const cases: { name: string; current?: string[]; policy?: string; kindDefault?: 'orphan'; want: string[] | undefined }[] = [
  { name: 'a background delete of an object without finalizers changes nothing', policy: 'Background', want: undefined },
  { name: 'no policy on a kind without a default changes nothing', want: undefined },
  { name: 'orphan adds the orphan finalizer', policy: 'Orphan', current: ['a.io/x'], want: ['a.io/x', 'orphan'] },
  { name: 'foreground adds foregroundDeletion', policy: 'Foreground', want: ['foregroundDeletion'] },
  { name: 'foreground replaces orphan', policy: 'Foreground', current: ['orphan'], want: ['foregroundDeletion'] },
  { name: 'background removes both', policy: 'Background', current: ['orphan', 'x.io/y', 'foregroundDeletion'], want: ['x.io/y'] },
  { name: 'a kind that orphans by default gets the orphan finalizer without a policy', kindDefault: 'orphan', want: ['orphan'] },
  { name: 'an existing foreground finalizer wins over the kind default', kindDefault: 'orphan', current: ['foregroundDeletion'], want: undefined },
  { name: 'an explicit policy wins over the kind default', kindDefault: 'orphan', policy: 'Background', want: undefined },
  { name: 'an existing orphan finalizer is kept without a policy', current: ['orphan'], want: undefined },
];

for (const c of cases) {
  test(c.name, () => assert.deepEqual(deletionFinalizers(c.current, { propagationPolicy: c.policy }, c.kindDefault), c.want));
}

describe('continue tokens', () => {
  const prefix = '/registry/configmaps/default/';
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const msg = (token: string): string => {
    try {
      decodeContinue(token, prefix);
      return 'ok';
    } catch (err) {
      assert.ok(isStatusError(err) && err.status.code === 400, String(err));
      return err.status.message ?? '';
    }
  };

  test('a token of ours round-trips to the key after the last one', () => {
    assert.deepEqual(decodeContinue(encodeContinue(42, 'cm1'), prefix), { revision: 42, after: `${prefix}cm1\u0000` });
  });

  const bad: [string, string, string][] = [
    ['not base64url', 'a=b', 'invalid continue token: continue key is not valid: illegal base64 data at input byte 1'],
    ['a dangling base64 character', 'abcde', 'invalid continue token: continue key is not valid: illegal base64 data at input byte 4'],
    ['not JSON', b64('hello'), "invalid continue token: continue key is not valid: invalid character 'h' looking for beginning of value"],
    ['empty JSON', '', 'invalid continue token: continue key is not valid: unexpected end of JSON input'],
    ['a non-integer revision', b64('{"v":"meta.k8s.io/v1","rv":1.5,"start":"a"}'), 'invalid continue token: continue key is not valid: json: cannot unmarshal number 1.5 into Go struct field continueToken.rv of type int64'],
    ['a revision beyond int64', b64('{"v":"meta.k8s.io/v1","rv":9223372036854775808,"start":"a"}'), 'invalid continue token: continue key is not valid: json: cannot unmarshal number 9223372036854775808 into Go struct field continueToken.rv of type int64'],
    ['a string revision', b64('{"v":"meta.k8s.io/v1","rv":"5","start":"a"}'), 'invalid continue token: continue key is not valid: json: cannot unmarshal string into Go struct field continueToken.rv of type int64'],
    ['not an object', b64('[1]'), 'invalid continue token: continue key is not valid: json: cannot unmarshal array into Go value of type storage.continueToken'],
    ['an unknown version', b64('{"v":"v2","rv":5,"start":"a"}'), 'invalid continue token: continue key is not valid: server does not recognize this encoded version v2'],
    ['revision 0', b64('{"v":"meta.k8s.io/v1","rv":0,"start":"a"}'), 'invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)'],
    ['an empty start key', b64('{"v":"meta.k8s.io/v1","rv":5,"start":""}'), 'invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)'],
    ['a key escaping the prefix', b64('{"v":"meta.k8s.io/v1","rv":5,"start":"../secrets/x"}'), 'invalid continue token: continue key is not valid: ../secrets/x'],
    ['a key with an empty segment', b64('{"v":"meta.k8s.io/v1","rv":5,"start":"a//b"}'), 'invalid continue token: continue key is not valid: a//b'],
  ];
  for (const [name, token, want] of bad) test(`${name} is a 400 as upstream words it`, () => assert.equal(msg(token), want));

  test('a negative revision continues at the latest one', () => {
    assert.deepEqual(decodeContinue(b64('{"v":"meta.k8s.io/v1","rv":-1,"start":"cm1\\u0000"}'), prefix), { revision: 0, after: `${prefix}cm1\u0000` });
  });

  test('the largest list limit is the largest exact integer', () => assert.equal(maxListLimit, 2 ** 53 - 1));
});

const admin = { user: { username: 'admin', groups: ['system:masters'] }, dryRun: false, version: 'v1' };

/**
 * A ConfigMap ResourceStore on a new SQLite store in a temporary directory (no admission
 * plugins); `wrap` puts something between them.
 */
async function configMapStore(wrap?: (s: Store) => Store) {
  const { default: fs } = await import('node:fs');
  const { default: os } = await import('node:os');
  const { default: path } = await import('node:path');
  const { openSqliteStore } = await import('../storage/sqlite.ts');
  const { builtinResources } = await import('../api/groups/index.ts');
  const { AdmissionChain } = await import('./admission/types.ts');
  const { ResourceStore } = await import('./rest.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-rest-'));
  const store = openSqliteStore(path.join(dir, 'db'), { compactIntervalMs: 0 });
  const def = builtinResources.find((d) => d.group === '' && d.kind === 'ConfigMap')!;
  const rs = new ResourceStore(def, wrap ? wrap(store) : store, { admission: new AdmissionChain([]) });
  const close = async (): Promise<void> => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { rs, store, close };
}

describe('create with generateName', () => {
  test('a generated name that collides is generated again (RetryGenerateName)', async () => {
    const { rs, close } = await configMapStore();
    const ctx = admin;
    const random = Math.random;
    try {
      // The same random sequence twice: the second create's first name is the first create's name.
      const seq = [0.1, 0.2, 0.3, 0.4, 0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.9, 0.9, 0.9, 0.9];
      let i = 0;
      Math.random = () => seq[i++ % seq.length]!;
      const a = await rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'cm-' } }, ctx);
      const b = await rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'cm-' } }, ctx);
      assert.notEqual(a.metadata.name, b.metadata.name);
      assert.ok(b.metadata.name!.startsWith('cm-'));
      // A name given by the client is never replaced.
      await assert.rejects(rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: a.metadata.name } }, ctx), (e: unknown) => isStatusError(e) && e.status.reason === 'AlreadyExists');
    } finally {
      Math.random = random;
      await close();
    }
  });
});

describe('update from the watch cache\'s object', () => {
  test('a stale guess is decided again on the stored object: no lost write, no false no-op, no delete past a finalizer', async () => {
    const { rs, store, close } = await configMapStore();
    rs.cache.start();
    const ctx = admin;
    type CM = { metadata: { resourceVersion?: string; labels?: Record<string, string> }; data?: Record<string, string> };
    try {
      const made = (await rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'g' }, data: { k: 'a' } }, ctx)) as unknown as CM;
      await rs.cache.waitFor(Number(made.metadata.resourceVersion));
      const key = rs.key('default', 'g');
      const cached = rs.cache.get(key)!;
      assert.equal((cached.obj as unknown as CM).data!['k'], 'a');
      // Written behind the cache's back: hold the cache at the old object while the update runs.
      const kv = (await store.get(key))!;
      const stored = JSON.parse(new TextDecoder().decode(kv.value)) as CM;
      stored.data = { k: 'b' };
      const w = await store.update(key, new TextEncoder().encode(JSON.stringify(stored)), kv.modRevision);
      assert.ok(w.ok);
      const realGet = rs.cache.get.bind(rs.cache);
      rs.cache.get = (k: string) => (k === key ? cached : realGet(k));
      // Setting k back to the cached value is a change against the stored one: it is written.
      const back = await rs.update('default', 'g', (cur) => ({ ...cur!, data: { k: 'a' } }), ctx);
      assert.equal((back.obj as unknown as CM).data!['k'], 'a');
      assert.ok(Number(back.obj.metadata.resourceVersion) > w.kv.modRevision, 'written after the direct write');
      // A label added on a stale guess keeps the direct write's data.
      const kv2 = (await store.get(key))!;
      const s2 = JSON.parse(new TextDecoder().decode(kv2.value)) as CM;
      s2.data = { k: 'c' };
      assert.ok((await store.update(key, new TextEncoder().encode(JSON.stringify(s2)), kv2.modRevision)).ok);
      const labelled = await rs.update('default', 'g', (cur) => ({ ...cur!, metadata: { ...cur!.metadata, labels: { l: '1' } } }), ctx);
      assert.equal((labelled.obj as unknown as CM).data!['k'], 'c');
      assert.deepEqual((labelled.obj as unknown as CM).metadata.labels, { l: '1' });
      // A delete on a stale guess without the finalizer written behind the cache's back keeps the object.
      const kv3 = (await store.get(key))!;
      const s3 = JSON.parse(new TextDecoder().decode(kv3.value)) as CM & { metadata: { finalizers?: string[] } };
      s3.metadata.finalizers = ['example.com/hold'];
      assert.ok((await store.update(key, new TextEncoder().encode(JSON.stringify(s3)), kv3.modRevision)).ok);
      const del = await rs.delete('default', 'g', {}, ctx);
      assert.equal(del.deleted, false);
      assert.ok(del.obj.metadata.deletionTimestamp);
      assert.deepEqual(del.obj.metadata.finalizers, ['example.com/hold']);
      assert.ok(await store.get(key), 'still stored');
    } finally {
      rs.cache.stop();
      await close();
    }
  });
});

describe('what an update hands its mutate function', () => {
  test('a mutable copy by default; with mutatesCurrent false, the current object itself (the cache\'s, frozen)', async () => {
    const { rs, close } = await configMapStore();
    rs.cache.start();
    try {
      const made = await rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm' }, data: { k: 'a' } }, admin);
      await rs.cache.waitFor(Number(made.metadata.resourceVersion));
      const cached = rs.cache.get(rs.key('default', 'm'))!.obj;
      let seen: unknown;
      const first = await rs.update('default', 'm', (cur) => {
        seen = cur;
        cur!.data = { k: 'b' };
        return cur!;
      }, admin);
      assert.notEqual(seen, cached);
      assert.equal(Object.isFrozen(seen), false);
      await rs.cache.waitFor(Number(first.obj.metadata.resourceVersion));
      const now = rs.cache.get(rs.key('default', 'm'))!.obj;
      const calls: unknown[] = [];
      const second = await rs.update('default', 'm', (cur) => {
        calls.push(cur);
        // Such a mutate returns an object of its own: nothing of the given one is shared.
        return { ...copyJson(cur!), data: { k: 'c' } };
      }, admin, { mutatesCurrent: false });
      assert.equal(calls.length, 1, 'decided on the cached object, without a second attempt');
      assert.equal(calls[0], now);
      assert.ok(Object.isFrozen(calls[0]));
      assert.deepEqual((second.obj as { data?: Record<string, string> }).data, { k: 'c' });
    } finally {
      rs.cache.stop();
      await close();
    }
  });
});

describe('the watch cache takes this server\'s writes as objects', () => {
  test('the cached object of a write is what parsing the stored bytes gives, in Go\'s order, and not the object the writer got', async () => {
    const { rs, store, close } = await configMapStore();
    rs.cache.start();
    try {
      const made = await rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w', labels: { b: '2', a: '1' }, annotations: { n: 'x' } }, data: { z: '1', y: '2' }, binaryData: undefined } as never, admin);
      const upd = await rs.update('default', 'w', (cur) => ({ ...cur!, data: { k: 'v' } }), admin);
      const rv = Number(upd.obj.metadata.resourceVersion);
      await rs.cache.waitFor(rv);
      const key = rs.key('default', 'w');
      const cached = rs.cache.get(key)!;
      const kv = (await store.get(key))!;
      const parsed = JSON.parse(new TextDecoder().decode(kv.value)) as { metadata: Record<string, unknown> };
      parsed.metadata['resourceVersion'] = String(kv.modRevision);
      // Same text: same values and the same key order (resourceVersion after uid, as Go writes it).
      assert.equal(JSON.stringify(cached.obj), JSON.stringify(canonicalForTest(parsed)));
      assert.equal(cached.rv, rv);
      assert.deepEqual(Object.keys(cached.obj.metadata).slice(0, 5), ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp']);
      assert.ok(Object.isFrozen(cached.obj) && Object.isFrozen(cached.obj.metadata));
      // The writer's objects are its own: changing them changes nothing cached.
      (upd.obj as unknown as { data: Record<string, string> }).data['k'] = 'changed';
      (made as unknown as { data: Record<string, string> }).data['z'] = 'changed';
      assert.equal((rs.cache.get(key)!.obj as unknown as { data: Record<string, string> }).data['k'], 'v');
    } finally {
      rs.cache.stop();
      await close();
    }
  });

  /**
   * The store as etcd is to the server: watch events carry copies of the values written. With
   * `swap.next` set, the next update stores those bytes instead of the ones it was given (what
   * this server encoded is then not what the key's event carries).
   */
  const etcdLike = (swap: { next?: Uint8Array }) => (s: Store): Store =>
    new Proxy(s, {
      get(target, p) {
        if (p === 'watch') {
          return async function* (prefix: string, from: number, opts?: object): AsyncIterable<WatchBatch> {
            for await (const b of target.watch(prefix, from, opts)) {
              yield { ...b, events: b.events.map((e) => ({ ...e, kv: { ...e.kv, value: Uint8Array.from(e.kv.value) } })) };
            }
          };
        }
        if (p === 'update') {
          return (key: string, value: Uint8Array, rev: number, o?: object) => {
            const bytes = swap.next ?? value;
            swap.next = undefined;
            return target.update(key, bytes, rev, o);
          };
        }
        const v = Reflect.get(target, p, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });

  test('a write\'s event carrying a copy of its bytes (as from etcd) is not parsed back; other bytes at the key are', async (t) => {
    const swap: { next?: Uint8Array } = {};
    const { rs, store, close } = await configMapStore(etcdLike(swap));
    rs.cache.start();
    const parse = t.mock.method(JSON, 'parse');
    const parsedFor = (name: string) => parse.mock.calls.filter((c) => typeof c.arguments[0] === 'string' && c.arguments[0].includes(`"name":"${name}"`)).length;
    const data = (key: string) => (rs.cache.get(key)!.obj as unknown as { data: Record<string, string> }).data;
    try {
      const made = await rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'own' }, data: { k: 'v' } }, admin);
      await rs.cache.waitFor(Number(made.metadata.resourceVersion));
      const key = rs.key('default', 'own');
      assert.equal(parsedFor('own'), 0, 'the cache took the object the write encoded');
      assert.equal(JSON.stringify(rs.cache.get(key)!.obj), JSON.stringify(canonicalForTest(made)));
      // The update's own object is kept for its event, but the event carries other bytes.
      const kv = (await store.get(key))!;
      const other = JSON.parse(new TextDecoder().decode(kv.value)) as { data: Record<string, string> };
      other.data['k'] = 'theirs';
      swap.next = new TextEncoder().encode(JSON.stringify(other));
      const upd = await rs.update('default', 'own', (cur) => ({ ...cur!, data: { k: 'mine' } }), admin);
      assert.equal((upd.obj as unknown as { data: Record<string, string> }).data['k'], 'mine');
      await rs.cache.waitFor(Number(upd.obj.metadata.resourceVersion));
      assert.equal(data(key)['k'], 'theirs', 'decoded from the bytes the event carried');
      assert.equal(parsedFor('own'), 2, 'the test\'s own parse and the cache\'s');
      // After a create of the key that failed, the next update is still taken as written.
      await assert.rejects(rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'own' }, data: { k: 'again' } }, admin));
      const next = await rs.update('default', 'own', (cur) => ({ ...cur!, data: { k: 'last' } }), admin);
      await rs.cache.waitFor(Number(next.obj.metadata.resourceVersion));
      assert.equal(data(key)['k'], 'last');
      assert.equal(parsedFor('own'), 2);
    } finally {
      rs.cache.stop();
      await close();
    }
  });
});

describe('the objects kept for decoding this server\'s own writes', () => {
  test(`at most ${writtenMax} are kept: the oldest writes not yet decoded are parsed back, the newest are not`, async (t) => {
    const { rs, close } = await configMapStore();
    try {
      // No watch cache yet: nothing decodes the writes' values while they are made.
      const n = writtenMax + 10;
      for (let i = 0; i < n; i += 256) {
        await Promise.all(Array.from({ length: Math.min(256, n - i) }, (_, j) => rs.create('default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i + j}` } }, admin)));
      }
      const parse = t.mock.method(JSON, 'parse');
      rs.cache.start();
      await rs.cache.ready();
      const parsed = new Set(parse.mock.calls.map((c) => /"name":"(cm-\d+)"/.exec(String(c.arguments[0]))?.[1]).filter(Boolean));
      assert.equal(parsed.size, n - writtenMax, 'ten entries were dropped');
      for (const name of parsed) assert.ok(Number(name!.slice(3)) < 256, `${name} was among the first writes`);
      for (let i = 0; i < n; i++) if (rs.cache.get(rs.key('default', `cm-${i}`)) === undefined) assert.fail(`cm-${i} missing from the cache`);
    } finally {
      rs.cache.stop();
      await close();
    }
  });
});

function canonicalForTest<T extends object>(o: T): T {
  return canonical(o as Record<string, unknown>) as T;
}
