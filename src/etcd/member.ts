/**
 * One etcd member run by Bosun as a child process (Debian's /usr/bin/etcd 3.4), the way k3s's
 * `--cluster-init` runs its embedded etcd (k3s pkg/etcd/etcd.go `cluster`, pkg/daemons/executor):
 * client and peer TLS with client-certificate auth on both, heartbeat 500 ms and election timeout
 * 5000 ms as k3s sets them, a 2 GiB backend quota, metrics on loopback only, the initial corruption
 * check, and snapshot-count 10000 (kubeadm's and etcd 3.5's default; 3.4's is 100000).
 *
 * Lifecycle:
 * - A data dir that already holds a member (`member/wal` exists, k3s `IsInitialized`) is restarted
 *   as it is: no initial-cluster flags. Otherwise the member starts a new cluster of itself, or
 *   joins (`initialClusterState: 'existing'` with the full `initialCluster` after a MemberAdd).
 * - `startMember` resolves once the member answers `GET /health` with health "true" over mTLS
 *   (deadline `startTimeoutMs`, default 120 s: a joining member waits for its peers). A member that
 *   exits before that rejects with the last lines of its log.
 * - The child dies with Bosun: it is run through `setpriv --pdeathsig SIGKILL` (util-linux) when
 *   present, and a pid file beside the data dir lets the next start kill a member left over from a
 *   Bosun that died without setpriv.
 * - `stop()` sends SIGTERM, then SIGKILL after `stopTimeoutMs` (default 10 s); aborting `signal`
 *   stops the member too. Output (zap JSON) is appended to `logFile`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { EtcdPki } from './certs.ts';

export interface MemberOptions {
  /** DATA_DIR/server/db/etcd. Created 0700 when absent. */
  dataDir: string;
  /** The member name (unique in the cluster; k3s: `<node name>-<8 hex>`). */
  name: string;
  /** The address peers and other servers reach this member on. */
  advertiseIP: string;
  /** Default 2379. */
  clientPort?: number;
  /** Default 2380. */
  peerPort?: number;
  /** Loopback metrics port (plain HTTP, /metrics and /health). Default 2381; 0: no metrics listener. */
  metricsPort?: number;
  /** Addresses the client port listens on. Default 127.0.0.1 and `advertiseIP`; keep 127.0.0.1 for `localEndpoint` to work. */
  listenClientIPs?: string[];
  pki: EtcdPki;
  /** Joining: the full member list including this one (peer URL as advertised). */
  initialCluster?: { name: string; peerURL: string }[];
  /** 'existing' when joining a running cluster. Default 'new'. */
  initialClusterState?: 'new' | 'existing';
  /** Start from this data dir as a one-member cluster (k3s --cluster-reset). Needs an existing member. */
  forceNewCluster?: boolean;
  /** Where etcd's output is appended. Default `<dataDir>.log` (DATA_DIR/server/db/etcd.log). */
  logFile?: string;
  /** Aborting stops the member. */
  signal?: AbortSignal;
  /** Default /usr/bin/etcd. */
  etcdBin?: string;
  /** How long to wait for the first healthy answer. Default 120 000 ms. */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 10 000 ms. */
  stopTimeoutMs?: number;
  /** Extra etcd flags (k3s --etcd-arg), as `--flag=value`; they come last and win. */
  extraArgs?: string[];
  log?: (msg: string) => void;
}

export interface EtcdMember {
  name: string;
  /** https://advertiseIP:clientPort, as advertised to clients. */
  clientURL: string;
  /** https://127.0.0.1:clientPort: the endpoint this server's own API server uses. */
  localEndpoint: string;
  /** https://advertiseIP:peerPort. */
  peerURL: string;
  /** The API server's client TLS files for the store. */
  clientTls: { caFile: string; certFile: string; keyFile: string };
  dataDir: string;
  logFile: string;
  pid: number;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
  /** The exit code; null when ended by a signal. */
  exited: Promise<number | null>;
}

export const memberDefaults = {
  clientPort: 2379,
  peerPort: 2380,
  metricsPort: 2381,
  heartbeatIntervalMs: 500,
  electionTimeoutMs: 5000,
  snapshotCount: 10_000,
  quotaBackendBytes: 2 * 1024 * 1024 * 1024,
  startTimeoutMs: 120_000,
  stopTimeoutMs: 10_000,
  /** Lines of the member's log quoted in a start failure. */
  logTailLines: 20,
  /** Interval between health probes while starting. */
  healthPollMs: 200,
  etcdBin: '/usr/bin/etcd',
  setprivBin: '/usr/bin/setpriv',
} as const;

/** Beside the data dir (etcd warns about foreign files inside it): DATA_DIR/server/db/etcd.pid. */
function pidFileFor(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, '')}.pid`;
}

/** True when `dataDir` already holds an etcd member (its WAL directory exists). */
export async function isMemberDataDir(dataDir: string): Promise<boolean> {
  try {
    return (await fsp.stat(path.join(dataDir, 'member', 'wal'))).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** `https://ip:port`, with brackets for IPv6. */
export function urlFor(ip: string, port: number, scheme = 'https'): string {
  return `${scheme}://${net.isIPv6(ip) ? `[${ip}]` : ip}:${port}`;
}

/** The `--initial-cluster` value: `name=peerURL,...`. */
export function initialClusterString(members: readonly { name: string; peerURL: string }[]): string {
  return members.map((m) => `${m.name}=${m.peerURL}`).join(',');
}

/**
 * The etcd command line for `opts` (without the binary). `existing` says the data dir already
 * holds a member: then no initial-cluster flags are given.
 */
export function memberArgs(opts: MemberOptions, existing: boolean): string[] {
  const clientPort = opts.clientPort ?? memberDefaults.clientPort;
  const peerPort = opts.peerPort ?? memberDefaults.peerPort;
  const metricsPort = opts.metricsPort ?? memberDefaults.metricsPort;
  const listenIPs = [...new Set(opts.listenClientIPs ?? ['127.0.0.1', opts.advertiseIP])];
  const peerURL = urlFor(opts.advertiseIP, peerPort);
  const { pki } = opts;
  const args = [
    `--name=${opts.name}`,
    `--data-dir=${opts.dataDir}`,
    `--listen-client-urls=${listenIPs.map((ip) => urlFor(ip, clientPort)).join(',')}`,
    `--advertise-client-urls=${urlFor(opts.advertiseIP, clientPort)}`,
    `--listen-peer-urls=${peerURL}`,
    `--cert-file=${pki.serverCertFile}`,
    `--key-file=${pki.serverKeyFile}`,
    `--trusted-ca-file=${pki.serverCaFile}`,
    '--client-cert-auth=true',
    `--peer-cert-file=${pki.peerCertFile}`,
    `--peer-key-file=${pki.peerKeyFile}`,
    `--peer-trusted-ca-file=${pki.peerCaFile}`,
    '--peer-client-cert-auth=true',
    `--heartbeat-interval=${memberDefaults.heartbeatIntervalMs}`,
    `--election-timeout=${memberDefaults.electionTimeoutMs}`,
    `--snapshot-count=${memberDefaults.snapshotCount}`,
    `--quota-backend-bytes=${memberDefaults.quotaBackendBytes}`,
    '--experimental-initial-corrupt-check=true',
    '--logger=zap',
    '--log-outputs=stderr',
  ];
  if (metricsPort) args.push(`--listen-metrics-urls=${urlFor('127.0.0.1', metricsPort, 'http')}`);
  if (!existing) {
    const cluster = opts.initialCluster ?? [{ name: opts.name, peerURL }];
    args.push(`--initial-advertise-peer-urls=${peerURL}`, `--initial-cluster=${initialClusterString(cluster)}`, `--initial-cluster-state=${opts.initialClusterState ?? 'new'}`);
  }
  if (opts.forceNewCluster) args.push('--force-new-cluster=true');
  args.push(...(opts.extraArgs ?? []));
  return args;
}

/**
 * Starts the member (see the file comment) and resolves once it is healthy. Rejects when the
 * process exits first (message with the log tail), when the deadline passes (the process is
 * killed), when `signal` aborts, or when `forceNewCluster` is asked of an empty data dir.
 */
export async function startMember(opts: MemberOptions): Promise<EtcdMember> {
  opts.signal?.throwIfAborted();
  const log = opts.log ?? (() => {});
  const clientPort = opts.clientPort ?? memberDefaults.clientPort;
  const peerPort = opts.peerPort ?? memberDefaults.peerPort;
  const logFile = opts.logFile ?? `${opts.dataDir.replace(/\/+$/, '')}.log`;
  await fsp.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  await fsp.chmod(opts.dataDir, 0o700);
  await fsp.mkdir(path.dirname(logFile), { recursive: true, mode: 0o700 });
  await killStaleMember(opts.dataDir, log);
  const existing = await isMemberDataDir(opts.dataDir);
  if (opts.forceNewCluster && !existing) throw new Error(`etcd: --force-new-cluster needs an existing member in ${opts.dataDir}`);

  const bin = opts.etcdBin ?? memberDefaults.etcdBin;
  const args = memberArgs(opts, existing);
  const setpriv = fs.existsSync(memberDefaults.setprivBin);
  const [cmd, argv] = setpriv ? [memberDefaults.setprivBin, ['--pdeathsig', 'SIGKILL', '--', bin, ...args]] : [bin, args];
  const fd = fs.openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    fs.writeSync(fd, `--- ${new Date().toISOString()} bosun: starting etcd member ${opts.name} (${existing ? 'existing data' : `initial cluster state ${opts.initialClusterState ?? 'new'}`}${opts.forceNewCluster ? ', force new cluster' : ''})\n`);
    child = spawn(cmd, argv, { stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      log(`etcd member ${opts.name}: ${err.message}`);
      resolve(-1);
    });
  }).then(async (code) => {
    done = true;
    await fsp.rm(pidFileFor(opts.dataDir), { force: true });
    return code;
  });
  const pid = child.pid ?? -1;
  if (pid > 0) await fsp.writeFile(pidFileFor(opts.dataDir), `${pid}\n`, { mode: 0o600 });
  log(`etcd member ${opts.name}: started pid ${pid}${setpriv ? '' : ' (no setpriv: the member outlives a crashed Bosun until the next start)'}`);

  const stopTimeoutMs = opts.stopTimeoutMs ?? memberDefaults.stopTimeoutMs;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (done) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), stopTimeoutMs)))]);
      clearTimeout(timer);
      if (timedOut) {
        log(`etcd member ${opts.name}: no exit ${stopTimeoutMs} ms after SIGTERM; sending SIGKILL`);
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };
  const onAbort = () => void stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  void exited.then(() => opts.signal?.removeEventListener('abort', onAbort));

  const member: EtcdMember = {
    name: opts.name,
    clientURL: urlFor(opts.advertiseIP, clientPort),
    localEndpoint: urlFor('127.0.0.1', clientPort),
    peerURL: urlFor(opts.advertiseIP, peerPort),
    clientTls: { caFile: opts.pki.serverCaFile, certFile: opts.pki.clientCertFile, keyFile: opts.pki.clientKeyFile },
    dataDir: opts.dataDir,
    logFile,
    pid,
    stop,
    exited,
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? memberDefaults.startTimeoutMs);
  const probe = !opts.listenClientIPs || opts.listenClientIPs.includes('127.0.0.1') ? member.localEndpoint : member.clientURL;
  const tls = await readTls(member.clientTls);
  for (;;) {
    if (done) {
      const code = await exited;
      throw new Error(`etcd member ${opts.name} exited with ${code === null ? 'a signal' : `code ${code}`} before becoming healthy; last log lines (${logFile}):\n${await logTail(logFile, memberDefaults.logTailLines)}`);
    }
    if (opts.signal?.aborted) {
      await stop();
      throw opts.signal.reason;
    }
    const health = await checkHealth(probe, tls, 2000).catch((err: Error) => ({ healthy: false, reason: err.message }));
    if (health.healthy) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd member ${opts.name} not healthy after ${opts.startTimeoutMs ?? memberDefaults.startTimeoutMs} ms (${health.reason}); last log lines (${logFile}):\n${await logTail(logFile, memberDefaults.logTailLines)}`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, memberDefaults.healthPollMs)), exited]);
  }
  log(`etcd member ${opts.name}: healthy at ${probe}`);
  return member;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Reads the client TLS files of a member (`EtcdMember.clientTls`). */
export async function readTls(files: { caFile: string; certFile: string; keyFile: string }): Promise<TlsMaterial> {
  const [ca, cert, key] = await Promise.all([fsp.readFile(files.caFile), fsp.readFile(files.certFile), fsp.readFile(files.keyFile)]);
  return { ca, cert, key };
}

/**
 * One `GET <endpoint>/health` over mTLS. Healthy when etcd answers 200 with `"health":"true"`
 * (it has a leader and no alarm); otherwise the answer or the error is the reason. Never throws
 * for an unhealthy answer; rejects on connection errors and on timeout.
 */
export function checkHealth(endpoint: string, tls: TlsMaterial, timeoutMs: number): Promise<{ healthy: boolean; reason: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(new URL('/health', endpoint), { ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let healthy = false;
        try {
          healthy = res.statusCode === 200 && (JSON.parse(body) as { health?: string }).health === 'true';
        } catch {
          // not JSON: unhealthy, body is the reason
        }
        resolve({ healthy, reason: `HTTP ${res.statusCode}: ${body.trim()}` });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${endpoint} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** The last `n` lines of a log file ('' when absent). */
export async function logTail(file: string, n: number): Promise<string> {
  let fh;
  try {
    fh = await fsp.open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return buf.toString('utf8').split('\n').filter(Boolean).slice(-n).join('\n');
  } finally {
    await fh.close();
  }
}

/**
 * Kills an etcd left running on `dataDir` by an earlier Bosun (pid file, checked against the
 * process's command line so an unrelated process that reused the pid is left alone).
 */
async function killStaleMember(dataDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = pidFileFor(dataDir);
  let pid: number;
  try {
    pid = Number((await fsp.readFile(pidFile, 'utf8')).trim());
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0) {
    let cmdline = '';
    try {
      cmdline = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    } catch {
      // gone
    }
    if (cmdline.includes('etcd') && cmdline.includes(`--data-dir=${dataDir}`)) {
      log(`etcd: killing stale member pid ${pid} on ${dataDir}`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      for (let i = 0; i < 100 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
    }
  }
  await fsp.rm(pidFile, { force: true });
}
