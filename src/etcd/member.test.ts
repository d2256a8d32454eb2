/**
 * One real etcd member (/usr/bin/etcd) on free loopback ports in a temporary folder: it starts,
 * serves TLS with client-certificate auth only, keeps its data across a restart, reports an early
 * exit with its log, stops on abort, replaces a stale member left on its data dir, and dies with
 * the Bosun process that started it. Every member is stopped and every folder removed at the end.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEtcdPki, type EtcdPki } from './certs.ts';
import { connectEtcd } from './cluster.ts';
import { memberArgs, startMember, type EtcdMember, type MemberOptions } from './member.ts';
import { freePort } from '../storage/etcdtest.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bosun-etcd-member-'));
const members: EtcdMember[] = [];
const strayPids: number[] = [];
after(async () => {
  await Promise.all(members.map((m) => m.stop()));
  for (const pid of strayPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  fs.rmSync(root, { recursive: true, force: true });
});

let n = 0;
async function memberOptions(name: string): Promise<MemberOptions & { pki: EtcdPki }> {
  const dir = path.join(root, `${name}-${n++}`);
  const pki = await ensureEtcdPki(path.join(dir, 'tls'), { hostnames: [], ips: ['127.0.0.1'] });
  return { dataDir: path.join(dir, 'db', 'etcd'), name, advertiseIP: '127.0.0.1', clientPort: await freePort(), peerPort: await freePort(), metricsPort: await freePort(), pki };
}

async function start(opts: MemberOptions): Promise<EtcdMember> {
  const m = await startMember(opts);
  members.push(m);
  return m;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
}

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the command line: TLS with client-cert auth on both ports, k3s timings, initial-cluster flags only for a new member', () => {
  const pki = { serverCaFile: 'sca', serverCertFile: 'sc', serverKeyFile: 'sk', peerCaFile: 'pca', peerCertFile: 'pc', peerKeyFile: 'pk' } as EtcdPki;
  const opts: MemberOptions = { dataDir: '/d/db/etcd', name: 'n1', advertiseIP: '10.0.0.1', pki };
  const fresh = memberArgs(opts, false);
  for (const flag of [
    '--name=n1',
    '--data-dir=/d/db/etcd',
    '--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.1:2379',
    '--advertise-client-urls=https://10.0.0.1:2379',
    '--listen-peer-urls=https://10.0.0.1:2380',
    '--listen-metrics-urls=http://127.0.0.1:2381',
    '--cert-file=sc',
    '--key-file=sk',
    '--trusted-ca-file=sca',
    '--client-cert-auth=true',
    '--peer-cert-file=pc',
    '--peer-key-file=pk',
    '--peer-trusted-ca-file=pca',
    '--peer-client-cert-auth=true',
    '--heartbeat-interval=500',
    '--election-timeout=5000',
    '--snapshot-count=10000',
    '--quota-backend-bytes=2147483648',
    '--experimental-initial-corrupt-check=true',
    '--initial-advertise-peer-urls=https://10.0.0.1:2380',
    '--initial-cluster=n1=https://10.0.0.1:2380',
    '--initial-cluster-state=new',
  ]) {
    assert.ok(fresh.includes(flag), flag);
  }
  const joining = memberArgs({ ...opts, initialCluster: [{ name: 'n0', peerURL: 'https://10.0.0.0:2380' }, { name: 'n1', peerURL: 'https://10.0.0.1:2380' }], initialClusterState: 'existing' }, false);
  assert.ok(joining.includes('--initial-cluster=n0=https://10.0.0.0:2380,n1=https://10.0.0.1:2380'));
  assert.ok(joining.includes('--initial-cluster-state=existing'));
  const restart = memberArgs(opts, true);
  assert.deepEqual(restart.filter((a) => a.startsWith('--initial-')), []);
  assert.ok(memberArgs({ ...opts, forceNewCluster: true }, true).includes('--force-new-cluster=true'));
  assert.ok(!memberArgs({ ...opts, metricsPort: 0 }, true).some((a) => a.startsWith('--listen-metrics-urls')));
  assert.ok(memberArgs({ ...opts, advertiseIP: 'fd00::1' }, true).includes('--advertise-client-urls=https://[fd00::1]:2379'));
});

test('a member starts, serves only clients with a certificate, and restarts from its data', async () => {
  const opts = await memberOptions('solo');
  let m = await start(opts);
  assert.equal(m.localEndpoint, `https://127.0.0.1:${opts.clientPort}`);
  assert.equal(m.clientURL, `https://127.0.0.1:${opts.clientPort}`);
  assert.equal(m.peerURL, `https://127.0.0.1:${opts.peerPort}`);
  assert.equal(fs.statSync(opts.dataDir).mode & 0o777, 0o700);

  const client = await connectEtcd([m.localEndpoint], m.clientTls);
  await client.put('/registry/k').value('v1');
  client.close();

  // Without a client certificate the TLS session is refused.
  const ca = fs.readFileSync(opts.pki.serverCaFile);
  const refused = await new Promise<string>((resolve) => {
    const req = https.get(`${m.localEndpoint}/health`, { ca, agent: false }, (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    });
    req.on('error', (err) => resolve(`error: ${err.message}`));
  });
  assert.match(refused, /^error: /);

  await m.stop();
  assert.equal(fs.existsSync(`${opts.dataDir}.pid`), false, 'pid file removed');
  m = await start({ ...opts, initialCluster: [{ name: 'ignored', peerURL: 'https://127.0.0.1:1' }] });
  const again = await connectEtcd([m.localEndpoint], m.clientTls);
  try {
    assert.equal(await again.get('/registry/k').string(), 'v1');
  } finally {
    again.close();
  }
  assert.match(fs.readFileSync(m.logFile, 'utf8'), /starting etcd member solo \(existing data\)/);
  await m.stop();
});

test('a member that exits before it is healthy fails with its last log lines', async () => {
  const opts = await memberOptions('busy');
  const blocker = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => blocker.listen(opts.clientPort, '127.0.0.1', r));
  try {
    await assert.rejects(start(opts), /exited with code \d+ before becoming healthy; last log lines[^]*address already in use/);
  } finally {
    await new Promise((r) => blocker.close(r));
  }
});

test('force-new-cluster needs an existing member', async () => {
  const opts = await memberOptions('empty');
  await assert.rejects(start({ ...opts, forceNewCluster: true }), /needs an existing member/);
});

test('aborting the signal stops the member', async () => {
  const opts = await memberOptions('abort');
  const ac = new AbortController();
  const m = await start({ ...opts, signal: ac.signal });
  ac.abort();
  await m.exited;
  assert.equal(alive(m.pid), false);
});

test('a stale member left on the data dir is killed before a new start', async () => {
  const opts = await memberOptions('stale');
  const first = await start(opts);
  const second = await start(opts);
  await first.exited;
  assert.notEqual(second.pid, first.pid);
  assert.ok(alive(second.pid));
  await second.stop();
});

test('the member dies with the process that started it', { skip: !fs.existsSync('/usr/bin/setpriv') && 'no setpriv' }, async () => {
  const opts = await memberOptions('orphan');
  const memberUrl = new URL('./member.ts', import.meta.url).href;
  const script = `
    import { startMember } from ${JSON.stringify(memberUrl)};
    const m = await startMember(${JSON.stringify({ ...opts })});
    process.stdout.write('PID ' + m.pid + '\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: path.dirname(fileURLToPath(import.meta.url)) });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await until('the member pid', () => /PID \d+/.test(out), 60_000);
  const pid = Number(/PID (\d+)/.exec(out)![1]);
  strayPids.push(pid);
  assert.ok(alive(pid));
  child.kill('SIGKILL');
  await until(`etcd pid ${pid} gone`, () => !alive(pid));
});
