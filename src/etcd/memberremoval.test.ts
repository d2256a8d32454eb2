/**
 * The member-removal controller against the in-process API server (temporary SQLite store) and
 * a real two-member etcd cluster on free loopback ports: deleting the Node that carries a member
 * removes that member, even with two controllers racing; the server's own member and Nodes
 * without the annotations are left alone. Everything is stopped and removed at the end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { startTestApi, until, type TestApi } from '../controllers/testing.ts';
import { ensureEtcdPki, etcdCaFiles } from './certs.ts';
import { addMember, connectEtcd, initialClusterFor, listMembers } from './cluster.ts';
import { startMember, type EtcdMember } from './member.ts';
import { annotateOwnNode, etcdRoleLabel, nodeAddressAnnotation, nodeNameAnnotation, runMemberRemoval } from './memberremoval.ts';
import { freePort } from '../storage/etcdtest.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-etcd-removal-'));
const members: EtcdMember[] = [];
let etcd: Etcd3 | undefined;
let testApi: TestApi | undefined;
const ac = new AbortController();
const controllers: Promise<void>[] = [];
const logs: string[] = [];

before(async () => {
  const pki1 = await ensureEtcdPki(path.join(root, 'n1', 'tls'), { hostnames: [], ips: ['127.0.0.1'] });
  const tls2 = path.join(root, 'n2', 'tls');
  fs.mkdirSync(tls2, { recursive: true, mode: 0o700 });
  for (const f of etcdCaFiles) fs.copyFileSync(path.join(pki1.dir, f), path.join(tls2, f));
  const pki2 = await ensureEtcdPki(tls2, { hostnames: [], ips: ['127.0.0.1'] });
  const ports = async () => ({ clientPort: await freePort(), peerPort: await freePort(), metricsPort: await freePort() });
  const m1 = await startMember({ dataDir: path.join(root, 'n1', 'db', 'etcd'), name: 'n1', advertiseIP: '127.0.0.1', pki: pki1, ...(await ports()) });
  members.push(m1);
  etcd = await connectEtcd([m1.localEndpoint], m1.clientTls);
  const p2 = await ports();
  const peerURL = `https://127.0.0.1:${p2.peerPort}`;
  const list = await addMember(etcd, peerURL);
  members.push(await startMember({ dataDir: path.join(root, 'n2', 'db', 'etcd'), name: 'n2', advertiseIP: '127.0.0.1', pki: pki2, ...p2, initialCluster: initialClusterFor(list, 'n2', peerURL), initialClusterState: 'existing' }));
  testApi = await startTestApi('etcd-member-removal');
});

after(async () => {
  ac.abort();
  await Promise.allSettled(controllers);
  etcd?.close();
  await testApi?.close();
  await Promise.all(members.map((m) => m.stop()));
  fs.rmSync(root, { recursive: true, force: true });
});

const memberNames = async () => (await listMembers(etcd!)).map((m) => m.name).sort();

test('annotateOwnNode marks the Node with the member, its address and the etcd role', async () => {
  const { cs, client } = testApi!;
  await cs.nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'server-1' } });
  await annotateOwnNode(client, 'server-1', 'n1', '127.0.0.1');
  await annotateOwnNode(client, 'server-1', 'n1', '127.0.0.1');
  const node = await cs.nodes.get('server-1');
  assert.equal(node.metadata.annotations?.[nodeNameAnnotation], 'n1');
  assert.equal(node.metadata.annotations?.[nodeAddressAnnotation], '127.0.0.1');
  assert.equal(node.metadata.labels?.[etcdRoleLabel], 'true');
});

test('deleting the Node of another server removes its member; its own member and plain Nodes stay', async () => {
  const { cs, client } = testApi!;
  await cs.nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'server-2' } });
  await annotateOwnNode(client, 'server-2', 'n2', '127.0.0.1');
  await cs.nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker' } });
  assert.deepEqual(await memberNames(), ['n1', 'n2']);

  // Two servers' controllers race for the same removal.
  for (let i = 0; i < 2; i++) controllers.push(runMemberRemoval({ client, etcd: etcd!, log: (m) => logs.push(m), ownMember: 'n1' }, ac.signal));

  await cs.nodes.delete('worker');
  await cs.nodes.delete('server-2');
  await until('member n2 removed', async () => ((await memberNames()).includes('n2') ? undefined : true));
  assert.deepEqual(await memberNames(), ['n1']);
  await until('removal logged', async () => (logs.some((l) => l.includes('Removed etcd member n2')) ? true : undefined));

  await cs.nodes.delete('server-1');
  await until('own member skipped by both', async () => (logs.filter((l) => l.includes("own member n1; not removed")).length === 2 ? true : undefined));
  assert.deepEqual(await memberNames(), ['n1']);
  assert.deepEqual(logs.filter((l) => l.includes('retry')), [], 'no failed attempt');
  await etcd!.put('/registry/after').value('ok');
});
