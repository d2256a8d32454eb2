/**
 * The supervisor endpoints on a real HTTPS server (node:https, a CA and serving certificate from
 * src/pki): basic auth with the server token, the encrypted bootstrap, member add, the snapshot
 * API, and the bounds (body size, body time).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { ensurePki } from '../pki/index.ts';
import { decryptBootstrap, readBootstrapFiles } from './bootstrap.ts';
import { formatServerToken } from './token.ts';
import { hasServerCredentials, maxMemberBodyBytes, readBoundedBody, supervisorHandler, type MemberListEntry, type SupervisorDeps } from './supervisor.ts';
import { saveSnapshot, type SnapshotInfo, type SnapshottableStore } from './snapshot.ts';
import type { Request } from '../apiserver/body.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-supervisor-test-'));
const dataDir = path.join(root, 'data');
let caPem = '';
let token = '';
let base = '';
let server: https.Server;
const added: { name: string; peerURL: string }[] = [];
let saveGate: Promise<void> | undefined;
const logs: string[] = [];

before(async () => {
  const pki = await ensurePki(path.join(dataDir, 'tls'), { sans: ['127.0.0.1'], hostnames: ['localhost'], addresses: [] });
  caPem = pki.caCertPem;
  token = formatServerToken(caPem, 'p4ssw0rd');
  const store = { snapshot: async (f: string) => (fs.writeFileSync(f, 'snap'), { size: 4, revision: 7 }) } as unknown as SnapshottableStore;
  let t = 1_700_000_000;
  const deps: SupervisorDeps = {
    dataDir,
    serverToken: () => token,
    etcd: {
      addMember: async (name, peerURL) => {
        added.push({ name, peerURL });
        const members: MemberListEntry[] = [{ name: 'first', peerURLs: ['https://127.0.0.1:2380'] }, ...added.map((a) => ({ name: a.name, peerURLs: [a.peerURL] }))];
        return members;
      },
    },
    snapshot: async (name) => {
      await saveGate;
      return saveSnapshot(store, { dataDir, nodeName: 'node1', name, now: () => new Date(t++ * 1000) });
    },
    log: (m) => logs.push(m),
  };
  const handler = supervisorHandler(deps);
  server = https.createServer({ cert: pki.servingCertPem, key: pki.servingKeyPem }, (req, res) => {
    const p = new URL(req.url ?? '/', 'https://x').pathname;
    void handler(req, res, p).then((ok) => {
      if (!ok) res.writeHead(404).end('not mine');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(root, { recursive: true, force: true });
});

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
const good = () => basic('server', 'p4ssw0rd');

function request(method: string, p: string, opts: { auth?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<{ code: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth) headers['authorization'] = opts.auth;
    const req = https.request(`${base}${p}`, { method, ca: caPem, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
const json = (b: Buffer) => JSON.parse(b.toString('utf8')) as Record<string, unknown>;

const authCases: { name: string; auth?: string }[] = [
  { name: 'no credentials', auth: undefined },
  { name: 'a wrong password', auth: basic('server', 'nope') },
  { name: 'another user', auth: basic('node', 'p4ssw0rd') },
  { name: 'a bearer token', auth: 'Bearer p4ssw0rd' },
  { name: 'the full token as password', auth: basic('server', formatServerToken('x', 'p4ssw0rd')) },
];
for (const c of authCases) {
  for (const [method, p] of [['GET', '/v1-bosun/server-bootstrap'], ['POST', '/v1-bosun/etcd/members'], ['GET', '/db/snapshot']] as const) {
    test(`${method} ${p} with ${c.name} is 401 with a Basic challenge`, async () => {
      const r = await request(method, p, { auth: c.auth, body: method === 'POST' ? '{}' : undefined });
      assert.equal(r.code, 401);
      assert.equal(r.headers['www-authenticate'], 'Basic realm="bosun"');
      assert.deepEqual(json(r.body), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    });
  }
}

test('hasServerCredentials compares user and password', () => {
  assert.equal(hasServerCredentials(good(), token), true);
  assert.equal(hasServerCredentials(good(), 'p4ssw0rd'), true);
  assert.equal(hasServerCredentials(basic('server', 'p4ssw0rd!'), token), false);
  assert.equal(hasServerCredentials([good()], token), true);
});

test('paths it does not own are left to the API server', async () => {
  const r = await request('GET', '/v1-bosun/other', { auth: good() });
  assert.equal(r.code, 404);
  assert.equal(r.body.toString(), 'not mine');
});

test('GET /v1-bosun/server-bootstrap answers the shared files encrypted with the token password', async () => {
  const r = await request('GET', '/v1-bosun/server-bootstrap', { auth: good() });
  assert.equal(r.code, 200);
  assert.equal(r.headers['content-type'], 'application/octet-stream');
  assert.doesNotMatch(r.body.toString(), /BEGIN/);
  assert.deepEqual(decryptBootstrap(r.body, 'p4ssw0rd'), await readBootstrapFiles(dataDir));
  assert.throws(() => decryptBootstrap(r.body, 'other'), /wrong token/);
});

test('POST /v1-bosun/server-bootstrap is 405', async () => {
  const r = await request('POST', '/v1-bosun/server-bootstrap', { auth: good(), body: '' });
  assert.equal(r.code, 405);
  assert.equal(json(r.body)['reason'], 'MethodNotAllowed');
});

test('POST /v1-bosun/etcd/members adds the member and answers the member list', async () => {
  const r = await request('POST', '/v1-bosun/etcd/members', { auth: good(), body: JSON.stringify({ name: 'second', peerURL: 'https://127.0.0.2:2380/' }), headers: { 'content-type': 'application/json' } });
  assert.equal(r.code, 200, r.body.toString());
  assert.deepEqual(json(r.body), {
    members: [
      { id: '', name: 'first', peerURLs: ['https://127.0.0.1:2380'], clientURLs: [], isLearner: false },
      { id: '', name: 'second', peerURLs: ['https://127.0.0.2:2380'], clientURLs: [], isLearner: false },
    ],
  });
  assert.deepEqual(added.at(-1), { name: 'second', peerURL: 'https://127.0.0.2:2380' });
});

const badMembers: { name: string; body: string; code: number; msg: RegExp }[] = [
  { name: 'not JSON', body: '{', code: 400, msg: /invalid JSON body/ },
  { name: 'an array', body: '[]', code: 400, msg: /JSON object/ },
  { name: 'an upper-case name', body: JSON.stringify({ name: 'Second', peerURL: 'https://1.2.3.4:2380' }), code: 400, msg: /RFC 1123/ },
  { name: 'no peer URL', body: JSON.stringify({ name: 'x' }), code: 400, msg: /peerURL: Required value/ },
  { name: 'a peer URL without port', body: JSON.stringify({ name: 'x', peerURL: 'https://1.2.3.4' }), code: 400, msg: /want https:\/\/HOST:PORT/ },
  { name: 'a peer URL of another scheme', body: JSON.stringify({ name: 'x', peerURL: 'unix://1.2.3.4:5' }), code: 400, msg: /want https:\/\/HOST:PORT/ },
  { name: 'a body over 4 KiB', body: JSON.stringify({ name: 'x', peerURL: 'https://1.2.3.4:2380', pad: 'x'.repeat(maxMemberBodyBytes) }), code: 413, msg: /limit is 4096/ },
];
for (const c of badMembers) {
  test(`POST /v1-bosun/etcd/members refuses ${c.name} (${c.code})`, async () => {
    const n = added.length;
    const r = await request('POST', '/v1-bosun/etcd/members', { auth: good(), body: c.body });
    assert.equal(r.code, c.code);
    assert.match(String(json(r.body)['message']), c.msg);
    assert.equal(added.length, n);
  });
}

test('a body at exactly 4 KiB is read', async () => {
  const head = JSON.stringify({ name: 'edge', peerURL: 'https://127.0.0.9:2380', pad: '' });
  const body = head.replace('"pad":""', `"pad":"${'x'.repeat(maxMemberBodyBytes - head.length)}"`);
  assert.equal(Buffer.byteLength(body), maxMemberBodyBytes);
  const r = await request('POST', '/v1-bosun/etcd/members', { auth: good(), body });
  assert.equal(r.code, 200);
});

test('member add on a server without embedded etcd is 400', async () => {
  const h = supervisorHandler({ dataDir, serverToken: () => token });
  const body = Buffer.from(JSON.stringify({ name: 'x', peerURL: 'https://1.2.3.4:2380' }));
  const req = Object.assign(PassThrough.from([body]), { method: 'POST', headers: { authorization: good() } }) as unknown as Request;
  const out: { code?: number; body?: string } = {};
  const res = { headersSent: false, writableEnded: false, writeHead: (c: number) => (out.code = c), write: () => true, end: (b?: string) => (out.body = String(b)), on: () => {} };
  assert.equal(await h(req, res, '/v1-bosun/etcd/members'), true);
  assert.equal(out.code, 400);
  assert.match(out.body!, /does not run an embedded etcd member/);
});

test('the snapshot API: save, list, delete, prune (k3s\'s SnapshotRequest)', async () => {
  const save = async (name?: string) => request('POST', '/db/snapshot', { auth: good(), body: JSON.stringify({ operation: 'save', ...(name ? { name: [name] } : {}) }) });
  const r1 = await save();
  assert.equal(r1.code, 200, r1.body.toString());
  const created = json(r1.body)['created'] as SnapshotInfo[];
  assert.equal(created.length, 1);
  assert.match(created[0]!.name, /^on-demand-node1-\d+$/);
  assert.equal(created[0]!.size, 4);
  for (let i = 0; i < 3; i++) assert.equal((await save()).code, 200);
  assert.equal((await save('keep')).code, 200);
  const list = json((await request('GET', '/db/snapshot', { auth: good() })).body)['items'] as SnapshotInfo[];
  assert.equal(list.length, 5);
  const postList = json((await request('POST', '/db/snapshot', { auth: good(), body: '{"operation":"list"}' })).body)['items'] as SnapshotInfo[];
  assert.deepEqual(postList, list);
  const pruned = await request('POST', '/db/snapshot', { auth: good(), body: JSON.stringify({ operation: 'prune', retention: 2 }) });
  assert.deepEqual(json(pruned.body), { created: [], deleted: list.filter((s) => s.name.startsWith('on-demand-')).slice(0, 2).map((s) => s.name) });
  const keep = list.find((s) => s.name.startsWith('keep-'))!.name;
  const del = await request('POST', '/db/snapshot', { auth: good(), body: JSON.stringify({ operation: 'delete', name: [keep, 'missing'] }) });
  assert.deepEqual(json(del.body), { created: [], deleted: [keep] });
  const after = json((await request('GET', '/db/snapshot', { auth: good() })).body)['items'] as SnapshotInfo[];
  assert.equal(after.length, 2);
});

const badSnapshots: { name: string; method?: string; body: string; code: number; msg: RegExp }[] = [
  { name: 'an unknown operation', body: '{"operation":"restore"}', code: 400, msg: /invalid snapshot operation/ },
  { name: 'delete without names', body: '{"operation":"delete"}', code: 400, msg: /no snapshots given for removal/ },
  { name: 'delete with a path', body: '{"operation":"delete","name":["../../tls/ca.key"]}', code: 400, msg: /path traversal not allowed/ },
  { name: 'names that are not strings', body: '{"operation":"delete","name":[1]}', code: 400, msg: /list of strings/ },
  { name: 'a fractional retention', body: '{"operation":"prune","retention":1.5}', code: 400, msg: /retention: must be an integer/ },
  { name: 'a save with a path as name', body: '{"operation":"save","name":["../x"]}', code: 400, msg: /path traversal not allowed/ },
  { name: 'PUT', method: 'PUT', body: '{}', code: 405, msg: /PUT is not supported/ },
];
for (const c of badSnapshots) {
  test(`/db/snapshot refuses ${c.name} (${c.code})`, async () => {
    const r = await request(c.method ?? 'POST', '/db/snapshot', { auth: good(), body: c.body });
    assert.equal(r.code, c.code);
    assert.match(String(json(r.body)['message']), c.msg);
  });
}

test('a second save while one runs is 409', async () => {
  let open!: () => void;
  saveGate = new Promise((r) => (open = r));
  const first = request('POST', '/db/snapshot', { auth: good(), body: '{"operation":"save"}' });
  await new Promise((r) => setTimeout(r, 50));
  const second = await request('POST', '/db/snapshot', { auth: good(), body: '{"operation":"save"}' });
  assert.equal(second.code, 409);
  assert.match(String(json(second.body)['message']), /snapshot save already in progress/);
  open();
  saveGate = undefined;
  assert.equal((await first).code, 200);
});

test('readBoundedBody: a body that does not arrive in time is 504, one over the limit 413', async () => {
  const slow = Object.assign(new PassThrough(), { headers: {} }) as unknown as Request;
  await assert.rejects(readBoundedBody(slow, 100, 30), (e: { code?: number }) => e.code === 504);
  const declared = Object.assign(new PassThrough(), { headers: { 'content-length': '101' } }) as unknown as Request;
  await assert.rejects(readBoundedBody(declared, 100, 1000), (e: { code?: number }) => e.code === 413);
  const exact = Object.assign(PassThrough.from([Buffer.alloc(100)]), { headers: {} }) as unknown as Request;
  assert.equal((await readBoundedBody(exact, 100, 1000)).length, 100);
});

// The CLI (src/cli/etcd-snapshot.ts) against this server: the server URL from the data dir's
// kubeconfig, the token from DATA_DIR/server/token, the CA from DATA_DIR/tls/ca.crt.
test('bosun etcd-snapshot save, ls, delete, prune through /db/snapshot', async () => {
  const { runEtcdSnapshotCommand, formatTable } = await import('../cli/etcd-snapshot.ts');
  const cliDir = path.join(root, 'cli');
  fs.mkdirSync(path.join(cliDir, 'server'), { recursive: true });
  await assert.rejects(runEtcdSnapshotCommand('ls', { dataDir: cliDir, out: () => {} }), /no server token: give --token/);
  fs.writeFileSync(path.join(cliDir, 'server', 'token'), `${token}\n`);
  await assert.rejects(runEtcdSnapshotCommand('ls', { dataDir: cliDir, out: () => {} }), /no server URL: give --server/);
  fs.writeFileSync(path.join(cliDir, 'kubeconfig.yaml'), `apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster:\n    server: ${base}\n`);
  // No local CA: pinned by the token's hash through /cacerts (this test server has none: 404).
  await assert.rejects(runEtcdSnapshotCommand('ls', { dataDir: cliDir, out: () => {} }), /HTTP 404/);
  fs.mkdirSync(path.join(cliDir, 'tls'));
  fs.writeFileSync(path.join(cliDir, 'tls', 'ca.crt'), caPem);

  const lines: string[] = [];
  const out = (l: string) => lines.push(l);
  await runEtcdSnapshotCommand('save', { dataDir: cliDir, out });
  await runEtcdSnapshotCommand('save', { dataDir: cliDir, name: 'pre', out });
  assert.match(lines[0]!, /^Snapshot on-demand-node1-\d+ saved\.$/);
  assert.match(lines[1]!, /^Snapshot pre-node1-\d+ saved\.$/);
  lines.length = 0;
  await runEtcdSnapshotCommand('ls', { dataDir: cliDir, out });
  const table = lines.join('\n').split('\n');
  assert.match(table[0]!, /^Name +Location +Size Created$/);
  assert.ok(table.some((l) => /^pre-node1-\d+ +file:\/\/\S+ +4 +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(l)), table.join('\n'));
  lines.length = 0;
  await runEtcdSnapshotCommand('ls', { dataDir: cliDir, output: 'json', out });
  const items = (JSON.parse(lines.join('\n')) as { items: SnapshotInfo[] }).items;
  await assert.rejects(runEtcdSnapshotCommand('ls', { dataDir: cliDir, output: 'wide', out }), /invalid output format: wide/);
  lines.length = 0;
  const pre = items.find((s) => s.name.startsWith('pre-'))!.name;
  await runEtcdSnapshotCommand('delete', { dataDir: cliDir, names: [pre, 'gone'], out });
  assert.deepEqual(lines, [`Snapshot ${pre} deleted.`, 'Snapshot gone not found.']);
  await assert.rejects(runEtcdSnapshotCommand('delete', { dataDir: cliDir, names: [], out }), /no snapshots given for removal/);
  lines.length = 0;
  const onDemand = items.filter((s) => s.name.startsWith('on-demand-')).map((s) => s.name);
  await runEtcdSnapshotCommand('prune', { dataDir: cliDir, retention: 1, out });
  assert.deepEqual(lines, onDemand.slice(0, -1).map((n) => `Snapshot ${n} deleted.`));
  // A wrong token.
  await assert.rejects(runEtcdSnapshotCommand('ls', { dataDir: cliDir, token: formatServerToken(caPem, 'wrong'), out }), /401.*wrong token/);
  assert.equal(formatTable([['a', 'bb', 'c'], ['ccc', 'd', 'e']]), 'a   bb c\nccc d  e');
});

test('bosun etcd-snapshot restore: SQLite offline, etcd through --cluster-reset', async () => {
  const { runEtcdSnapshotCommand } = await import('../cli/etcd-snapshot.ts');
  const d = path.join(root, 'restore');
  fs.mkdirSync(d, { recursive: true });
  const etcdSnap = path.join(d, 'etcd-snap');
  fs.writeFileSync(etcdSnap, Buffer.alloc(64, 7));
  await assert.rejects(runEtcdSnapshotCommand('restore', { dataDir: d, file: etcdSnap }), /bosun server --cluster-reset --cluster-reset-restore-path .*etcd-snap/);
  // A live member (its pid file names a running process: this one) is named first.
  const etcdDir = path.join(d, 'server', 'db', 'etcd');
  fs.mkdirSync(etcdDir, { recursive: true });
  fs.writeFileSync(path.join(etcdDir, 'bosun-etcd.pid'), `${process.pid}\n`);
  await assert.rejects(runEtcdSnapshotCommand('restore', { dataDir: d, file: etcdSnap }), new RegExp(`is running \\(pid ${process.pid}\\): stop the server`));
  fs.writeFileSync(path.join(etcdDir, 'bosun-etcd.pid'), '999999999\n');
  await assert.rejects(runEtcdSnapshotCommand('restore', { dataDir: d, file: etcdSnap }), /is an etcd snapshot/);
  const { DatabaseSync } = await import('node:sqlite');
  const sq = path.join(d, 'sq.db');
  const db = new DatabaseSync(sq);
  db.exec('CREATE TABLE t (x)');
  db.close();
  const lines: string[] = [];
  await runEtcdSnapshotCommand('restore', { dataDir: d, file: sq, datastoreEndpoint: `sqlite://${path.join(d, 'other.db')}`, out: (l) => lines.push(l) });
  assert.ok(fs.existsSync(path.join(d, 'other.db')));
  assert.match(lines[0]!, /^Restored .*sq\.db to .*other\.db\. Start the server to use it\.$/);
  await assert.rejects(runEtcdSnapshotCommand('restore', { dataDir: d, file: sq, datastoreEndpoint: 'postgres://x' }), /only a sqlite:\/\/ datastore/);
});
