/**
 * `bosun server` on an external etcd cluster (three members with mutual TLS, started by the test
 * from Debian's etcd): `--datastore-endpoint https://…,https://…,https://… --datastore-cafile
 * --datastore-certfile --datastore-keyfile --token T` on two servers. The first stores the
 * cluster's CA and keys in etcd encrypted with the token; the second takes them from there (one
 * CA, one service-account key); objects sit under /registry/<resource>/<namespace>/<name>; a
 * write through one server is read through the other and watched there; Events are stored on a
 * lease and expire after `--event-ttl`; Services created at once through both servers get distinct
 * addresses; a wrong token is refused; `bosun etcd-snapshot save`
 * writes an etcd snapshot that etcdctl reads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startEtcdCluster, type EtcdCluster } from '../../src/storage/etcdtest.ts';
import { bosunBin, kubectl, kubectlOk, kubectlVersions, startServer, until, type ServerHandle } from './harness.ts';
import { credsFromKubeconfig, watch } from './api.ts';

const run = promisify(execFile);
const v = kubectlVersions[kubectlVersions.length - 1]!;

describe('bosun server on an external etcd with TLS', { timeout: 180_000 }, () => {
  let etcd: EtcdCluster;
  let a: ServerHandle;
  let b: ServerHandle;
  let datastore: string[];
  const etcdctl = (...args: string[]) => run('etcdctl', [...etcd.etcdctlArgs(), ...args], { encoding: 'utf8' });

  before(async () => {
    etcd = await startEtcdCluster({ members: 3, tls: true, name: 'e2e-datastore' });
    datastore = ['--datastore-endpoint', etcd.endpoints.join(','), '--datastore-cafile', etcd.tls!.caFile, '--datastore-certfile', etcd.tls!.certFile, '--datastore-keyfile', etcd.tls!.keyFile, '--token', 'e2e-shared-secret', '--event-ttl', '3s'];
    a = await startServer({ args: datastore });
    b = await startServer({ args: datastore });
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await etcd?.stop();
  });

  test('the second server took the first one\'s CA and keys from the datastore', async () => {
    for (const f of ['tls/ca.crt', 'tls/ca.key', 'tls/service-account.key']) {
      const [x, y] = await Promise.all([fs.readFile(path.join(a.dataDir, f), 'utf8'), fs.readFile(path.join(b.dataDir, f), 'utf8')]);
      assert.equal(x, y, `${f} is shared`);
    }
    const keys = (await etcdctl('get', '--prefix', '/bootstrap/', '--keys-only')).stdout.trim().split('\n').filter(Boolean);
    assert.equal(keys.length, 1, `one bootstrap key: ${keys.join(', ')}`);
    // a's admin credentials work against b: one cluster.
    const viaB = (await fs.readFile(a.kubeconfig, 'utf8')).replace(a.url, b.url);
    const file = path.join(a.dataDir, 'admin-via-b.yaml');
    await fs.writeFile(file, viaB, { mode: 0o600 });
    assert.match(await kubectlOk({ kubeconfig: file }, v, ['get', 'ns', 'default', '-o', 'name']), /namespace\/default/);
  });

  test('a write through one server is stored under /registry and read and watched through the other', async () => {
    const creds = credsFromKubeconfig(b.kubeconfig);
    const rv = JSON.parse(await kubectlOk(b, v, ['get', 'configmaps', '-o', 'json'])).metadata.resourceVersion as string;
    const events = watch(creds, `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}`, (evs) => evs.some((e) => e.object?.metadata?.name === 'shared'), 20_000);
    await kubectlOk(a, v, ['create', 'configmap', 'shared', '--from-literal', 'k=v']);
    const seen = await events;
    assert.equal(seen.find((e) => e.object?.metadata?.name === 'shared')?.type, 'ADDED');
    assert.equal(await kubectlOk(b, v, ['get', 'configmap', 'shared', '-o', 'jsonpath={.data.k}']), 'v');
    const stored = (await etcdctl('get', '/registry/configmaps/default/shared', '--print-value-only')).stdout;
    assert.match(stored, /"name":"shared"/);
  });

  test('Services created at once through both servers get distinct cluster IPs and node ports', async () => {
    const create = (server: ServerHandle, i: number) =>
      kubectlOk(server, v, ['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: `race-${i}`, namespace: 'default' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } }) });
    await Promise.all(Array.from({ length: 16 }, (_, i) => create(i % 2 ? a : b, i)));
    const items = (JSON.parse(await kubectlOk(a, v, ['get', 'services', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { clusterIP: string; ports: { nodePort?: number }[] } }[] }).items.filter((s) => s.metadata.name.startsWith('race-'));
    assert.equal(items.length, 16);
    assert.equal(new Set(items.map((s) => s.spec.clusterIP)).size, 16, `cluster IPs: ${items.map((s) => s.spec.clusterIP).join(' ')}`);
    assert.equal(new Set(items.map((s) => s.spec.ports[0]!.nodePort)).size, 16, `node ports: ${items.map((s) => s.spec.ports[0]!.nodePort).join(' ')}`);
    // A deleted Service's address is free again at once, through the other server.
    const ip = items[0]!.spec.clusterIP;
    await kubectlOk(a, v, ['delete', 'service', items[0]!.metadata.name]);
    await kubectlOk(b, v, ['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'reuse', namespace: 'default' }, spec: { clusterIP: ip, ports: [{ port: 80 }] } }) });
  });

  test('Events are stored on a lease and expire after --event-ttl', async () => {
    await kubectlOk(a, v, ['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'short-lived', namespace: 'default' }, involvedObject: { kind: 'ConfigMap', namespace: 'default', name: 'shared' }, reason: 'Test', message: 'expires', type: 'Normal' }) });
    const kv = JSON.parse((await etcdctl('get', '/registry/events/default/short-lived', '-w', 'json')).stdout) as { kvs?: { lease?: number | string }[] };
    assert.ok(Number(kv.kvs?.[0]?.lease ?? 0) !== 0, 'the Event is attached to a lease');
    await until('the Event expired', async () => (await kubectl(b, v, ['get', 'event', 'short-lived'])).code !== 0, { timeoutMs: 60_000 });
  });

  test('a server with another token is refused the cluster\'s bootstrap data', async () => {
    const wrong = datastore.map((x) => (x === 'e2e-shared-secret' ? 'another-secret' : x));
    await assert.rejects(startServer({ args: wrong }), /bootstrap data already found and encrypted with different token|wrong token|exited early/);
  });

  test('etcd-snapshot save writes an etcd snapshot that etcdctl reads', async () => {
    const { stdout } = await run(bosunBin, ['etcd-snapshot', 'save', '--data-dir', a.dataDir, '--name', 'e2e'], { encoding: 'utf8' });
    const name = /Snapshot (\S+) saved/.exec(stdout)?.[1];
    assert.ok(name, stdout);
    const status = JSON.parse((await run('etcdctl', ['snapshot', 'status', path.join(a.dataDir, 'server', 'db', 'snapshots', name), '-w', 'json'], { encoding: 'utf8' })).stdout) as { revision: number; totalKey: number };
    assert.ok(status.revision > 0 && status.totalKey > 50, JSON.stringify(status));
    const ls = (await run(bosunBin, ['etcd-snapshot', 'ls', '--data-dir', a.dataDir], { encoding: 'utf8' })).stdout;
    assert.match(ls, new RegExp(`^${name} `, 'm'));
  });
});
