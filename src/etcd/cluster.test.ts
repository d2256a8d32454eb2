/**
 * Membership with real etcd processes on free loopback ports (tests run in order and share the
 * cluster): three members formed one at a time by MemberAdd, a key read through every member;
 * removal shrinks the cluster; `--cluster-reset` turns the data dir of a 3-member cluster into a
 * healthy 1-member cluster with the data kept, and restores a snapshot taken with etcdctl.
 * Every process is stopped and every folder removed at the end, even on failure.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { ensureEtcdPki, etcdCaFiles, type EtcdPki } from './certs.ts';
import { addMember, clusterReset, connectEtcd, initialClusterFor, listMembers, removeMember } from './cluster.ts';
import { startMember, type EtcdMember, type MemberOptions } from './member.ts';
import { freePort } from '../storage/etcdtest.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-etcd-cluster-'));
const running = new Set<EtcdMember>();
const clients: Etcd3[] = [];
after(async () => {
  for (const c of clients) c.close();
  await Promise.all([...running].map((m) => m.stop()));
  fs.rmSync(root, { recursive: true, force: true });
});

interface Server {
  opts: MemberOptions & { pki: EtcdPki };
  member?: EtcdMember;
}

/** A server's folders and ports; servers after the first receive the first's CA files. */
async function newServer(name: string, caFrom?: EtcdPki): Promise<Server> {
  const tls = path.join(root, name, 'tls');
  if (caFrom) {
    fs.mkdirSync(tls, { recursive: true, mode: 0o700 });
    for (const f of etcdCaFiles) fs.copyFileSync(path.join(caFrom.dir, f), path.join(tls, f));
  }
  const pki = await ensureEtcdPki(tls, { hostnames: [], ips: ['127.0.0.1'] });
  return { opts: { dataDir: path.join(root, name, 'db', 'etcd'), name, advertiseIP: '127.0.0.1', clientPort: await freePort(), peerPort: await freePort(), metricsPort: await freePort(), pki } };
}

async function start(s: Server, extra: Partial<MemberOptions> = {}): Promise<EtcdMember> {
  const m = await startMember({ ...s.opts, ...extra });
  running.add(m);
  void m.exited.then(() => running.delete(m));
  s.member = m;
  return m;
}

async function clientOf(s: Server): Promise<Etcd3> {
  const c = await connectEtcd([s.member!.localEndpoint], s.member!.clientTls);
  clients.push(c);
  return c;
}

test('the initial cluster of a new member names it and keeps every other peer URL', () => {
  const m = (id: string, name: string, ...peerURLs: string[]) => ({ id, name, peerURLs, clientURLs: [], isLearner: false });
  const cases = [
    { name: 'second member', members: [m('1', 'a', 'https://10.0.0.1:2380'), m('2', '', 'https://10.0.0.2:2380')], want: 'a=https://10.0.0.1:2380,b=https://10.0.0.2:2380' },
    { name: 'a member with two peer URLs', members: [m('1', 'a', 'https://10.0.0.1:2380', 'https://[fd00::1]:2380'), m('2', '', 'https://10.0.0.2:2380')], want: 'a=https://10.0.0.1:2380,a=https://[fd00::1]:2380,b=https://10.0.0.2:2380' },
    { name: 'the new member missing from the list', members: [m('1', 'a', 'https://10.0.0.1:2380')], want: 'a=https://10.0.0.1:2380,b=https://10.0.0.2:2380' },
  ];
  for (const c of cases) assert.equal(initialClusterFor(c.members, 'b', 'https://10.0.0.2:2380').map((e) => `${e.name}=${e.peerURL}`).join(','), c.want, c.name);
});

let s1: Server;
let s2: Server;
let s3: Server;

test('three members formed by adding one at a time serve the same data', async () => {
  s1 = await newServer('n1');
  s2 = await newServer('n2', s1.opts.pki);
  s3 = await newServer('n3', s1.opts.pki);
  await start(s1);
  const c1 = await clientOf(s1);
  for (const s of [s2, s3]) {
    const peerURL = `https://127.0.0.1:${s.opts.peerPort}`;
    const members = await addMember(c1, peerURL);
    const unnamed = members.filter((m) => m.name === '');
    assert.deepEqual(unnamed.map((m) => m.peerURLs), [[peerURL]], 'the new member is listed without a name');
    const initialCluster = initialClusterFor(members, s.opts.name, peerURL);
    assert.equal(initialCluster.length, members.length);
    assert.deepEqual(initialCluster.find((e) => e.peerURL === peerURL), { name: s.opts.name, peerURL });
    assert.equal((await addMember(c1, peerURL)).length, members.length, 'adding the same peer URL twice is a no-op');
    await start(s, { initialCluster, initialClusterState: 'existing' });
  }
  assert.deepEqual((await listMembers(c1)).map((m) => m.name).sort(), ['n1', 'n2', 'n3']);
  await c1.put('/registry/a').value('1');
  for (const s of [s1, s2, s3]) assert.equal(await (await clientOf(s)).get('/registry/a').string(), '1', `read through ${s.opts.name}`);
});

test('removing a member shrinks the cluster; removing it again is a no-op', async () => {
  const c1 = await clientOf(s1);
  assert.equal(await removeMember(c1, 'n3', { address: '10.9.9.9' }), false, 'the address must match');
  assert.equal(await removeMember(c1, 'n3', { address: '127.0.0.1' }), true);
  assert.deepEqual((await listMembers(c1)).map((m) => m.name).sort(), ['n1', 'n2']);
  assert.equal(await removeMember(c1, 'n3'), false);
  await s3.member!.stop();
  await c1.put('/registry/b').value('2');
  assert.equal(await (await clientOf(s2)).get('/registry/b').string(), '2');
});

test('cluster reset turns a member of a larger cluster into a healthy one-member cluster, data kept', async () => {
  // Back to three members, then everything stops (lost quorum) and n1 is reset.
  const c1 = await clientOf(s1);
  fs.rmSync(path.join(root, 'n3', 'db'), { recursive: true, force: true });
  // New ports for the new n3: its old ones were free while it was stopped, and another test
  // running meanwhile may hold one now (seen once: its client port was taken).
  Object.assign(s3.opts, { clientPort: await freePort(), peerPort: await freePort(), metricsPort: await freePort() });
  const peerURL = `https://127.0.0.1:${s3.opts.peerPort}`;
  const members = await addMember(c1, peerURL);
  await start(s3, { initialCluster: initialClusterFor(members, 'n3', peerURL), initialClusterState: 'existing' });
  assert.equal((await listMembers(c1)).length, 3);
  await c1.put('/registry/c').value('3');
  await Promise.all([s1, s2, s3].map((s) => s.member!.stop()));

  const logs: string[] = [];
  const { oldDataDir } = await clusterReset({ dataDir: s1.opts.dataDir, name: 'n1', advertiseIP: '127.0.0.1', pki: s1.opts.pki, clientPort: s1.opts.clientPort, peerPort: s1.opts.peerPort, metricsPort: s1.opts.metricsPort, log: (m) => logs.push(m) });
  assert.equal(oldDataDir, undefined);
  assert.equal(running.size, 0, 'the reset member is stopped');

  await start(s1);
  const c = await clientOf(s1);
  assert.deepEqual((await listMembers(c)).map((m) => [m.name, m.peerURLs]), [['n1', [`https://127.0.0.1:${s1.opts.peerPort}`]]]);
  assert.deepEqual(await c.getAll().prefix('/registry/').strings(), { '/registry/a': '1', '/registry/b': '2', '/registry/c': '3' });
  await c.put('/registry/d').value('4');
});

test('cluster reset from a snapshot brings the snapshot data back and keeps the old data dir aside', async () => {
  const c = await clientOf(s1);
  await c.put('/registry/snap').value('before');
  const file = path.join(root, 'snapshot.db');
  const { pki } = s1.opts;
  await promisify(execFile)(
    '/usr/bin/etcdctl',
    ['snapshot', 'save', file, `--endpoints=${s1.member!.localEndpoint}`, `--cacert=${pki.serverCaFile}`, `--cert=${pki.clientCertFile}`, `--key=${pki.clientKeyFile}`],
    { env: { ...process.env, ETCDCTL_API: '3' } },
  );
  await c.put('/registry/snap').value('after');
  await c.put('/registry/later').value('x');
  await s1.member!.stop();

  const { oldDataDir } = await clusterReset({ dataDir: s1.opts.dataDir, name: 'n1', advertiseIP: '127.0.0.1', pki, clientPort: s1.opts.clientPort, peerPort: s1.opts.peerPort, metricsPort: s1.opts.metricsPort, restoreFrom: file, log: () => {} });
  assert.ok(oldDataDir && fs.existsSync(path.join(oldDataDir, 'member', 'wal')), 'old data moved aside');
  await start(s1);
  const after = await clientOf(s1);
  assert.equal(await after.get('/registry/snap').string(), 'before');
  assert.equal(await after.get('/registry/later').string(), null);
  assert.equal((await listMembers(after)).length, 1);
  await s1.member!.stop();
});

test('cluster reset refuses a missing snapshot or a directory, with k3s messages', async () => {
  const base = { dataDir: s1.opts.dataDir, name: 'n1', advertiseIP: '127.0.0.1', pki: s1.opts.pki, log: () => {} };
  const missing = path.join(root, 'nope.db');
  await assert.rejects(clusterReset({ ...base, restoreFrom: missing }), { message: `etcd: snapshot path does not exist: ${missing}` });
  await assert.rejects(clusterReset({ ...base, restoreFrom: root }), { message: `etcd: snapshot path must be a file, not a directory: ${root}` });
});
