/** Bootstrap data: the shared file set, k3s's encryption, writing into a joiner, and the datastore copy. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootstrapPaths, bootstrapStorageKey, decryptBootstrap, differentTokenMessage, encryptBootstrap, loadBootstrap, readBootstrapFiles, storeBootstrap, writeBootstrapFiles, type BootstrapData } from './bootstrap.ts';
import { openSqliteStore } from '../storage/sqlite.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-bootstrap-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => path.join(root, `d${n++}`);

/** A data dir with every shared file (fake PEMs) plus leaves that must not travel. */
function seed(d: string, opts: { etcd?: boolean } = {}): void {
  for (const p of bootstrapPaths) {
    if (!opts.etcd && p.startsWith('server/tls/etcd/')) continue;
    fs.mkdirSync(path.dirname(path.join(d, p)), { recursive: true });
    fs.writeFileSync(path.join(d, p), `-----BEGIN ${p}-----\n${d}\n-----END-----\n`);
  }
  fs.writeFileSync(path.join(d, 'tls', 'serving.crt'), 'leaf');
  fs.writeFileSync(path.join(d, 'tls', 'serving.key'), 'leaf key');
}

test('readBootstrapFiles takes every shared file present and no leaf', async () => {
  const d = dir();
  seed(d, { etcd: true });
  const data = await readBootstrapFiles(d);
  assert.deepEqual(data.files.map((f) => f.path), [...bootstrapPaths]);
  const d2 = dir();
  seed(d2);
  assert.deepEqual((await readBootstrapFiles(d2)).files.map((f) => f.path), bootstrapPaths.filter((p) => !p.startsWith('server/')));
});

test('readBootstrapFiles needs the cluster CA', async () => {
  const d = dir();
  fs.mkdirSync(path.join(d, 'tls'), { recursive: true });
  fs.writeFileSync(path.join(d, 'tls', 'ca.crt'), 'x');
  await assert.rejects(readBootstrapFiles(d), /ca\.key is missing/);
});

test('encryption round-trips in k3s\'s salt:base64 format, with a fresh salt each time', () => {
  const data: BootstrapData = { files: [{ path: 'tls/ca.crt', content: 'C' }, { path: 'tls/ca.key', content: 'K' }] };
  const a = encryptBootstrap(data, 'pw');
  const b = encryptBootstrap(data, 'pw');
  assert.match(a.toString(), /^[0-9a-f]{16}:[A-Za-z0-9+/]+=*$/);
  assert.notDeepEqual(a, b);
  assert.deepEqual(decryptBootstrap(a, 'pw'), data);
});

const decryptCases: { name: string; blob: () => Buffer; err: RegExp }[] = [
  { name: 'a wrong password', blob: () => encryptBootstrap({ files: [{ path: 'tls/ca.crt', content: 'C' }, { path: 'tls/ca.key', content: 'K' }] }, 'other'), err: /wrong token/ },
  { name: 'no salt separator', blob: () => Buffer.from('abc'), err: /not : delimited/ },
  { name: 'a truncated blob', blob: () => Buffer.from('0011223344556677:AAAA'), err: /too short/ },
  { name: 'an unexpected path', blob: () => encryptBootstrap({ files: [{ path: 'tls/ca.crt', content: 'C' }, { path: 'tls/ca.key', content: 'K' }, { path: '../../etc/passwd', content: 'x' }] }, 'pw'), err: /unexpected file/ },
  { name: 'no CA key', blob: () => encryptBootstrap({ files: [{ path: 'tls/ca.crt', content: 'C' }] }, 'pw'), err: /tls\/ca\.key missing/ },
];
for (const c of decryptCases) test(`decryptBootstrap refuses ${c.name}`, () => assert.throws(() => decryptBootstrap(c.blob(), 'pw'), c.err));

test('writeBootstrapFiles makes byte-identical copies, keys 0600, certificates 0644', async () => {
  const src = dir();
  seed(src, { etcd: true });
  const dst = dir();
  const data = decryptBootstrap(encryptBootstrap(await readBootstrapFiles(src), 'pw'), 'pw');
  assert.deepEqual(await writeBootstrapFiles(dst, data), [...bootstrapPaths]);
  for (const p of bootstrapPaths) {
    assert.deepEqual(fs.readFileSync(path.join(dst, p)), fs.readFileSync(path.join(src, p)), p);
    assert.equal(fs.statSync(path.join(dst, p)).mode & 0o777, p.endsWith('.key') ? 0o600 : 0o644, p);
  }
  assert.equal(fs.statSync(path.join(dst, 'server', 'tls', 'etcd')).mode & 0o777, 0o700);
  assert.equal(fs.existsSync(path.join(dst, 'tls', 'serving.crt')), false);
  // Again: nothing to write.
  assert.deepEqual(await writeBootstrapFiles(dst, data), []);
});

test('writeBootstrapFiles refuses a data dir of another cluster and writes nothing', async () => {
  const src = dir();
  seed(src, { etcd: true });
  const dst = dir();
  fs.mkdirSync(path.join(dst, 'tls'), { recursive: true });
  fs.writeFileSync(path.join(dst, 'tls', 'ca.crt'), 'another CA');
  await assert.rejects(writeBootstrapFiles(dst, await readBootstrapFiles(src)), /bootstrap data conflict: .*tls\/ca\.crt/);
  assert.deepEqual(fs.readdirSync(path.join(dst, 'tls')), ['ca.crt']);
});

test('storeBootstrap saves once under /bootstrap/<12 hex>; loadBootstrap reads it; another token is refused', async () => {
  const d = dir();
  seed(d);
  const store = openSqliteStore(path.join(dir(), 'state.db'), { compactIntervalMs: 0 });
  try {
    assert.equal(await loadBootstrap(store, 'pw'), undefined);
    assert.equal(await storeBootstrap(store, 'pw', { dataDir: d }), 'created');
    assert.match(bootstrapStorageKey('pw'), /^\/bootstrap\/[0-9a-f]{12}$/);
    const kv = await store.get(bootstrapStorageKey('pw'));
    assert.ok(kv);
    assert.doesNotMatch(Buffer.from(kv.value).toString(), /BEGIN/);
    // A second server with its own (different) files keeps the first one's.
    const d2 = dir();
    seed(d2);
    assert.equal(await storeBootstrap(store, 'pw', { dataDir: d2 }), 'exists');
    const loaded = await loadBootstrap(store, 'pw');
    assert.deepEqual(loaded, await readBootstrapFiles(d));
    await assert.rejects(loadBootstrap(store, 'other'), new RegExp(differentTokenMessage));
    await assert.rejects(storeBootstrap(store, 'other', { dataDir: d }), new RegExp(differentTokenMessage));
  } finally {
    await store.close();
  }
});
