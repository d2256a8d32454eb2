/**
 * Test helper: real etcd clusters on loopback for unit tests, e2e tests and benchmarks.
 *
 * `startEtcdCluster({ members })` runs `/usr/bin/etcd` (1 or 3 members) on free 127.0.0.1 ports
 * with data dirs under os.tmpdir(), and resolves once every member answers a linearizable read
 * (`etcdctl endpoint health`). With `tls: true` it makes a CA, a serving/peer certificate for
 * 127.0.0.1 and a client certificate with openssl, and both client and peer traffic use TLS
 * (client certificates required, as k3s configures its embedded etcd).
 *
 * Every process started here is killed when the test process exits (an 'exit' hook), and `stop()`
 * kills all members and removes their directories. Ports are picked by binding port 0 and
 * releasing it, so a rare collision with another process is possible; start retries once.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const etcdBin = '/usr/bin/etcd';
export const etcdctlBin = '/usr/bin/etcdctl';

export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface EtcdCluster {
  /** Client URLs, one per member (`http://127.0.0.1:P` or `https://...`). */
  endpoints: string[];
  /** Client credentials when started with `tls: true`. */
  tls?: EtcdTls;
  /** The directory holding the members' data dirs (and certificates). */
  dir: string;
  /** Kills member `i` (default SIGKILL) and waits for it to exit; its data stays. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Restarts a killed member with its data and waits until it is healthy. */
  start(i: number): Promise<void>;
  /** Kills every member and removes all directories. Idempotent. */
  stop(): Promise<void>;
  /** `etcdctl` arguments that reach member `i` (or all members), credentials included. */
  etcdctlArgs(i?: number): string[];
}

export interface StartEtcdOptions {
  members: 1 | 3;
  tls?: boolean;
  /** A name for the cluster token and directory (default 'bosun-test'). */
  name?: string;
  /** How long to wait for health (default 20 s). */
  timeoutMs?: number;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
function cleanup(): void {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
  live.clear();
  for (const d of dirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {}
  }
  dirs.clear();
}
process.on('exit', cleanup);
// A signal skips 'exit' hooks: clean up, then let the signal do what it would have done.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    cleanup();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

/**
 * A free TCP port on 127.0.0.1 (bound, then released) below the kernel's ephemeral range. A port
 * the kernel hands out for listen(0) comes from that range, where any outgoing connection (the
 * members' own peer connections among them) may take it before the member that was given it
 * binds it ("address already in use"); below the range only another listener can.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between 10000 and ${low}`);
}

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11_000) return low;
  } catch {}
  return 32_768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  proc: ChildProcess | null;
  exited: Promise<void> | null;
  log: string;
}

/** Starts a cluster and waits for it to be healthy. */
export async function startEtcdCluster(opts: StartEtcdOptions): Promise<EtcdCluster> {
  try {
    return await startOnce(opts);
  } catch (err) {
    if (!/address already in use/i.test(String((err as Error).message))) throw err;
    return startOnce(opts);
  }
}

async function startOnce(opts: StartEtcdOptions): Promise<EtcdCluster> {
  const name = opts.name ?? 'bosun-test';
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-etcd-`));
  dirs.add(dir);
  const scheme = opts.tls ? 'https' : 'http';
  const tls = opts.tls ? await makeCerts(dir) : undefined;
  const members: Member[] = [];
  for (let i = 0; i < opts.members; i++) {
    members.push({
      name: `m${i}`,
      clientPort: await freePort(),
      peerPort: await freePort(),
      dataDir: path.join(dir, `m${i}`),
      proc: null,
      exited: null,
      log: '',
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${scheme}://127.0.0.1:${m.peerPort}`).join(',');
  const args = (m: Member): string[] => [
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${scheme}://127.0.0.1:${m.clientPort}`,
    `--advertise-client-urls=${scheme}://127.0.0.1:${m.clientPort}`,
    `--listen-peer-urls=${scheme}://127.0.0.1:${m.peerPort}`,
    `--initial-advertise-peer-urls=${scheme}://127.0.0.1:${m.peerPort}`,
    `--initial-cluster=${initialCluster}`,
    `--initial-cluster-token=${name}-${process.pid}-${path.basename(dir)}`,
    '--initial-cluster-state=new',
    '--heartbeat-interval=50',
    '--election-timeout=500',
    '--snapshot-count=10000',
    '--logger=zap',
    '--log-level=warn',
    ...(tls
      ? [
          `--cert-file=${tls.certFile}`, `--key-file=${tls.keyFile}`, `--trusted-ca-file=${tls.caFile}`, '--client-cert-auth',
          `--peer-cert-file=${tls.certFile}`, `--peer-key-file=${tls.keyFile}`, `--peer-trusted-ca-file=${tls.caFile}`, '--peer-client-cert-auth',
        ]
      : []),
  ];
  const endpoints = members.map((m) => `${scheme}://127.0.0.1:${m.clientPort}`);
  const ctlArgs = (i?: number): string[] => [
    `--endpoints=${i === undefined ? endpoints.join(',') : endpoints[i]}`,
    ...(tls ? [`--cacert=${tls.caFile}`, `--cert=${tls.certFile}`, `--key=${tls.keyFile}`] : []),
  ];

  const launch = (m: Member): void => {
    const proc = spawn(etcdBin, args(m), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } });
    live.add(proc);
    m.proc = proc;
    m.log = '';
    proc.stderr!.on('data', (d: Buffer) => {
      if (m.log.length < 64 * 1024) m.log += d.toString();
    });
    m.exited = new Promise((resolve) => proc.on('exit', () => {
      live.delete(proc);
      resolve();
    }));
  };

  const healthy = async (i: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const m = members[i]!;
      if (m.proc && m.proc.exitCode !== null) throw new Error(`etcd member ${m.name} exited: ${m.log.slice(-2000)}`);
      try {
        await run(etcdctlBin, [...ctlArgs(i), '--command-timeout=1s', 'endpoint', 'health'], { env: { ...process.env, ETCDCTL_API: '3' } });
        return;
      } catch (err) {
        last = String((err as { stderr?: string }).stderr ?? err);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd member ${members[i]!.name} not healthy in ${timeoutMs} ms: ${last} ${members[i]!.log.slice(-2000)}`);
  };

  const kill = async (i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const m = members[i]!;
    if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) return;
    m.proc.kill(signal);
    await m.exited;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(members.map((_, i) => kill(i)));
    fs.rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
  };

  try {
    for (const m of members) launch(m);
    await Promise.all(members.map((_, i) => healthy(i)));
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    endpoints,
    tls,
    dir,
    kill,
    async start(i: number): Promise<void> {
      const m = members[i]!;
      if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) return;
      launch(m);
      await healthy(i);
    },
    stop,
    etcdctlArgs: ctlArgs,
  };
}

/** A CA, one certificate for 127.0.0.1 usable as server, peer and client, with openssl. */
async function makeCerts(dir: string): Promise<EtcdTls> {
  const p = (f: string): string => path.join(dir, f);
  const caFile = p('ca.crt');
  const certFile = p('etcd.crt');
  const keyFile = p('etcd.key');
  const ext = p('ext.cnf');
  fs.writeFileSync(ext, [
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', caFile, '-days', '2', '-subj', '/CN=bosun-test-etcd-ca']);
  await run('openssl', ['req', ...ec, '-keyout', keyFile, '-out', p('etcd.csr'), '-subj', '/CN=bosun-test-etcd']);
  await run('openssl', ['x509', '-req', '-in', p('etcd.csr'), '-CA', caFile, '-CAkey', p('ca.key'), '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { caFile, certFile, keyFile };
}
