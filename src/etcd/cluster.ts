/**
 * Membership of the managed etcd cluster, over an `etcd3` client (the Cluster API of etcd v3),
 * and k3s's `--cluster-reset` (k3s pkg/etcd/etcd.go: join, RemovePeer, Reset, Restore):
 *
 * - `addMember` is idempotent: a member already holding the peer URL is not added twice (a
 *   server that crashed between MemberAdd and its first start rejoins with the same URL). etcd
 *   3.4 adds voting members (no learners), so joining one server at a time keeps quorum. A
 *   change etcd refuses as "unhealthy cluster" (strict reconfig check) is retried for a while.
 * - `initialClusterFor` builds the `--initial-cluster` list the new member must start with, as
 *   `etcdctl member add` prints it: every member's every peer URL, the new one (still unnamed)
 *   under its new name.
 * - `removeMember` removes by name (and, given an address, only when a peer URL has that host,
 *   as k3s's RemovePeer); a member already gone is not an error.
 * - `clusterReset` moves an old data dir aside when restoring a snapshot, starts the member once
 *   with `--force-new-cluster`, checks it is the only member with the wanted peer URL (updating
 *   it otherwise, as k3s does after an address change), and stops it. The caller prints
 *   `clusterResetDoneMessage` and exits.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { Etcd3, type IMember, type IOptions } from 'etcd3';
import type { EtcdPki } from './certs.ts';
import { memberDefaults, startMember, urlFor } from './member.ts';

const execFileP = promisify(execFile);

/** A member as etcd lists it. `name` is '' until the member has started once. */
export interface MemberInfo {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** The few Cluster API calls used here; an `Etcd3` has them as `client.cluster`. */
export type ClusterClient = Pick<Etcd3, 'cluster'>;

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;

/**
 * Runs each call once, as it is. etcd3's default per-host policy is a circuit breaker that, after
 * a few recoverable errors (etcd answers "unhealthy cluster" as Unavailable while a new member
 * connects), refuses every call for a while: wrong for membership changes, which retry
 * themselves. The client's global retry policy (3 attempts) still applies.
 */
const passThrough = {
  execute: async <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> => fn({ signal: signal ?? new AbortController().signal }),
  onSuccess: () => ({ dispose() {} }),
  onFailure: () => ({ dispose() {} }),
} as unknown as HostPolicy;

/**
 * An `etcd3` client over mTLS to `endpoints` (client URLs), without etcd3's per-host circuit
 * breaker unless `circuitBreaker` is set. The caller closes it (`close()`), or the process stays
 * alive.
 */
export async function connectEtcd(endpoints: string[], tls: { caFile: string; certFile: string; keyFile: string }, opts: { dialTimeoutMs?: number; circuitBreaker?: boolean } = {}): Promise<Etcd3> {
  const [rootCertificate, certChain, privateKey] = await Promise.all([fs.readFile(tls.caFile), fs.readFile(tls.certFile), fs.readFile(tls.keyFile)]);
  return new Etcd3({
    hosts: endpoints,
    credentials: { rootCertificate, certChain, privateKey },
    dialTimeout: opts.dialTimeoutMs ?? 2000,
    ...(opts.circuitBreaker ? {} : { faultHandling: { host: () => passThrough } }),
  });
}

function toInfo(m: IMember): MemberInfo {
  return { id: m.ID, name: m.name ?? '', peerURLs: [...(m.peerURLs ?? [])], clientURLs: [...(m.clientURLs ?? [])], isLearner: Boolean((m as { isLearner?: boolean }).isLearner) };
}

/** The current members (MemberList, linearizable as etcd serves it). */
export async function listMembers(client: ClusterClient): Promise<MemberInfo[]> {
  const res = await client.cluster.memberList({}, callOptions());
  return (res.members ?? []).map(toInfo);
}

/**
 * Adds a voting member with `peerURL` (MemberAdd) unless one already has it, and returns the
 * member list after the call (the new member unnamed until it starts).
 */
export async function addMember(client: ClusterClient, peerURL: string, opts: { unhealthyRetryMs?: number } = {}): Promise<MemberInfo[]> {
  return retryUnhealthy(opts.unhealthyRetryMs, async () => {
    const before = await listMembers(client);
    if (before.some((m) => m.peerURLs.includes(peerURL))) return before;
    const res = await client.cluster.memberAdd({ peerURLs: [peerURL] }, callOptions());
    return (res.members ?? []).map(toInfo);
  });
}

/**
 * How long a membership change refused with "unhealthy cluster" (or timed out) is retried.
 * etcd's strict reconfiguration check wants every started member connected for 5 s (etcdserver
 * HealthInterval) before a member is added or removed.
 */
export const unhealthyRetryMs = 30_000;

/**
 * Deadline of each Cluster API call. Needed: etcd 3.4 never answers a MemberRemove of a member
 * that a concurrent MemberRemove just removed (seen with two servers racing); after the deadline
 * the member list is read again and shows it gone.
 */
export const clusterCallTimeoutMs = 10_000;

function callOptions(): { deadline: number } {
  return { deadline: Date.now() + clusterCallTimeoutMs };
}

async function retryUnhealthy<T>(ms: number | undefined, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + (ms ?? unhealthyRetryMs);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!/unhealthy cluster|deadline exceeded/i.test((err as Error).message) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * Removes the member called `name` (MemberRemove). With `address`, only a member with a peer URL
 * on that host is removed. Resolves true when a member was removed, false when none matched or
 * it was already gone (several servers may race to remove the same member).
 */
export async function removeMember(client: ClusterClient, name: string, opts: { address?: string; unhealthyRetryMs?: number } = {}): Promise<boolean> {
  return retryUnhealthy(opts.unhealthyRetryMs, async () => {
    const members = await listMembers(client);
    const target = members.find((m) => m.name === name && (opts.address === undefined || m.peerURLs.some((u) => hostOf(u) === opts.address)));
    if (!target) return false;
    try {
      await client.cluster.memberRemove({ ID: target.id }, callOptions());
      return true;
    } catch (err) {
      if (/member not found/i.test((err as Error).message)) return false;
      throw err;
    }
  });
}

/**
 * The `--initial-cluster` members for a member just added with `newPeerURL`: every peer URL of
 * every member, named as listed, the new member's as `newName`.
 */
export function initialClusterFor(members: readonly MemberInfo[], newName: string, newPeerURL: string): { name: string; peerURL: string }[] {
  const out: { name: string; peerURL: string }[] = [];
  for (const m of members) {
    const isNew = m.peerURLs.includes(newPeerURL);
    for (const u of m.peerURLs) out.push({ name: isNew ? newName : m.name, peerURL: u });
  }
  if (!out.some((e) => e.peerURL === newPeerURL)) out.push({ name: newName, peerURL: newPeerURL });
  return out;
}

/** The host of a URL, without IPv6 brackets. */
function hostOf(u: string): string {
  try {
    return new URL(u).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

/** What the server prints after a successful `--cluster-reset` (k3s's wording, Bosun's paths). */
export const clusterResetDoneMessage =
  'Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes';

export interface ClusterResetOptions {
  /** DATA_DIR/server/db/etcd. */
  dataDir: string;
  name: string;
  advertiseIP: string;
  pki: EtcdPki;
  /** A snapshot file (`etcdctl snapshot save` format) to restore first. */
  restoreFrom?: string;
  clientPort?: number;
  peerPort?: number;
  metricsPort?: number;
  etcdBin?: string;
  /** Default /usr/bin/etcdctl. */
  etcdctlBin?: string;
  logFile?: string;
  startTimeoutMs?: number;
  log: (msg: string) => void;
  /** The clock for the backup suffix. */
  now?: () => Date;
}

/**
 * k3s's `--cluster-reset`: turns the data dir into a healthy one-member cluster keeping its data
 * (or the snapshot's), then stops the member. Resolves with the directory the old data was moved
 * to when restoring. Throws (k3s's messages) when the snapshot is missing or a directory, when
 * there is nothing to reset, or when the member does not come up.
 */
export async function clusterReset(opts: ClusterResetOptions): Promise<{ oldDataDir?: string }> {
  const peerURL = urlFor(opts.advertiseIP, opts.peerPort ?? memberDefaults.peerPort);
  let oldDataDir: string | undefined;
  if (opts.restoreFrom) {
    const info = await fs.stat(opts.restoreFrom).catch(() => undefined);
    if (!info) throw new Error(`etcd: snapshot path does not exist: ${opts.restoreFrom}`);
    if (info.isDirectory()) throw new Error(`etcd: snapshot path must be a file, not a directory: ${opts.restoreFrom}`);
    const now = (opts.now ?? (() => new Date()))();
    if (await fs.stat(opts.dataDir).catch(() => undefined)) {
      oldDataDir = `${opts.dataDir.replace(/\/+$/, '')}-old-${Math.floor(now.getTime() / 1000)}`;
      await fs.rename(opts.dataDir, oldDataDir);
      opts.log(`Pre-restore etcd database moved to ${oldDataDir}`);
    }
    opts.log(`Restoring etcd snapshot ${opts.restoreFrom} into ${opts.dataDir}`);
    try {
      await execFileP(
        opts.etcdctlBin ?? '/usr/bin/etcdctl',
        ['snapshot', 'restore', opts.restoreFrom, `--name=${opts.name}`, `--data-dir=${opts.dataDir}`, `--initial-cluster=${opts.name}=${peerURL}`, `--initial-advertise-peer-urls=${peerURL}`],
        { env: { ...process.env, ETCDCTL_API: '3' } },
      );
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`etcd: restoring snapshot ${opts.restoreFrom} failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
    }
    await fs.chmod(opts.dataDir, 0o700);
  }
  const member = await startMember({
    dataDir: opts.dataDir,
    name: opts.name,
    advertiseIP: opts.advertiseIP,
    clientPort: opts.clientPort,
    peerPort: opts.peerPort,
    metricsPort: opts.metricsPort,
    listenClientIPs: ['127.0.0.1'],
    pki: opts.pki,
    forceNewCluster: true,
    etcdBin: opts.etcdBin,
    logFile: opts.logFile,
    startTimeoutMs: opts.startTimeoutMs,
    log: opts.log,
  });
  try {
    const client = await connectEtcd([member.localEndpoint], member.clientTls);
    try {
      const members = await listMembers(client);
      if (members.length !== 1) throw new Error(`etcd: cluster reset left ${members.length} members`);
      const self = members[0]!;
      if (self.peerURLs.length !== 1 || self.peerURLs[0] !== peerURL) {
        opts.log(`Updating etcd member ${self.name} peer URL ${self.peerURLs.join(',')} to ${peerURL}`);
        await client.cluster.memberUpdate({ ID: self.id, peerURLs: [peerURL] }, callOptions());
      }
    } finally {
      client.close();
    }
  } finally {
    await member.stop();
  }
  return { oldDataDir };
}
