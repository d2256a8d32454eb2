/**
 * The server's datastore, as k3s sets it up before anything else (pkg/cluster):
 * - SQLite in the data dir (default), or `--datastore-endpoint sqlite://PATH`;
 * - an external etcd (`--datastore-endpoint https://h1:2379,…` with `--datastore-cafile/-certfile/
 *   -keyfile`): servers sharing it and the token share their CA and keys through the bootstrap
 *   data stored, encrypted with the token, in the datastore itself (`/bootstrap/<hash>`);
 * - an embedded etcd member (`--cluster-init`, or `--server URL --token T` to join, or a data dir
 *   that already holds a member): its certificates in DATA_DIR/server/tls/etcd, its data in
 *   DATA_DIR/server/db/etcd; a joining server first fetches the bootstrap data from the server it
 *   joins (so the CAs are the cluster's), then asks it to add a member, then starts its own. The
 *   member is restarted if it dies while the server runs.
 * `--cluster-reset` (clusterResetDatastore) makes the member a cluster of one and returns.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { openStore, etcdEndpoints, type Store } from '../storage/index.ts';
import { readFileIfExists, writeFileAtomic } from '../util/fs.ts';
import type { EtcdPki } from '../etcd/certs.ts';
import { isMemberDataDir, memberDefaults, type EtcdMember, type MemberOptions } from '../etcd/member.ts';
import type { MemberInfo } from '../etcd/cluster.ts';
import { loadBootstrap, storeBootstrap, writeBootstrapFiles } from '../etcd/bootstrap.ts';
import { tokenPassword } from '../etcd/token.ts';

export interface DatastoreConfig {
  dataDir: string;
  nodeName: string;
  /** The address other servers reach this one's etcd member at. */
  advertiseIP: string;
  datastoreEndpoint?: string;
  datastoreTls?: { caFile?: string; certFile?: string; keyFile?: string };
  clusterInit?: boolean;
  joinServer?: string;
  token?: string;
  etcdPorts?: { client: number; peer: number };
  log: (msg: string) => void;
}

export interface Datastore {
  store: Store;
  /** The embedded member, while it runs. */
  member?: () => EtcdMember | undefined;
  /** A client of the etcd cluster's Cluster API (embedded etcd only). */
  etcd?: Etcd3;
  /**
   * Call once the PKI exists and the server token is known: an external etcd gets the bootstrap
   * data (create-if-absent) so that later servers with the same token share the CA.
   */
  publishBootstrap(serverToken: string): Promise<void>;
  close(): Promise<void>;
}

/** DATA_DIR/server/db/etcd: the member's data. */
export const memberDataDir = (dataDir: string) => path.join(dataDir, 'server', 'db', 'etcd');
/** DATA_DIR/server/tls/etcd: the member's certificates. */
const etcdTlsDir = (dataDir: string) => path.join(dataDir, 'server', 'tls', 'etcd');
/** The member's name, kept beside its data (etcd dislikes foreign files inside the data dir). */
const memberNameFile = (dataDir: string) => path.join(dataDir, 'server', 'db', 'etcd-name');

/** Whether this server runs an embedded etcd member. */
export async function usesEmbeddedEtcd(cfg: Pick<DatastoreConfig, 'dataDir' | 'clusterInit' | 'joinServer' | 'datastoreEndpoint'>): Promise<boolean> {
  if (cfg.datastoreEndpoint) return false;
  return Boolean(cfg.clusterInit || cfg.joinServer) || (await isMemberDataDir(memberDataDir(cfg.dataDir)));
}

/** Opens the datastore; joining first writes the cluster's bootstrap data into the data dir. */
export async function openDatastore(cfg: DatastoreConfig): Promise<Datastore> {
  if (cfg.datastoreEndpoint && cfg.joinServer) throw new Error('--server joins a cluster with embedded etcd; with --datastore-endpoint, start each server with the same endpoint and --token instead');
  if (cfg.joinServer && !cfg.token) throw new Error('--server needs --token (the first server\'s DATA_DIR/server/token)');
  if (await usesEmbeddedEtcd(cfg)) return openEmbedded(cfg);
  const store = await openStore(cfg.datastoreEndpoint, cfg.dataDir, cfg.datastoreTls, { log: cfg.log });
  const external = Boolean(cfg.datastoreEndpoint && etcdEndpoints(cfg.datastoreEndpoint));
  if (external && cfg.token) {
    // Servers sharing an external datastore and a token share the CA: take it before any is made.
    const data = await loadBootstrap(store, tokenPassword(cfg.token)).catch(async (err: unknown) => {
      await store.close();
      throw err;
    });
    if (data) {
      const written = await writeBootstrapFiles(cfg.dataDir, data);
      if (written.length) cfg.log(`bootstrap data from the datastore: ${written.length} files`);
    }
  }
  return {
    store,
    publishBootstrap: async (serverToken) => {
      if (external) await storeBootstrap(store, tokenPassword(serverToken), { dataDir: cfg.dataDir });
    },
    close: () => store.close(),
  };
}

async function openEmbedded(cfg: DatastoreConfig): Promise<Datastore> {
  // Loaded only here: a server on SQLite needs none of the member management.
  const [{ connectEtcd, initialClusterFor, listMembers }, { startMember, urlFor }, { fetchBootstrap, requestMemberAdd }] = await Promise.all([
    import('../etcd/cluster.ts'),
    import('../etcd/member.ts'),
    import('../etcd/join.ts'),
  ]);
  const dataDir = memberDataDir(cfg.dataDir);
  const existing = await isMemberDataDir(dataDir);
  if (cfg.joinServer && !existing) {
    const written = await writeBootstrapFiles(cfg.dataDir, await fetchBootstrap({ server: cfg.joinServer, token: cfg.token!, log: cfg.log }));
    cfg.log(`joined ${cfg.joinServer}: bootstrap data written (${written.length} files)`);
  }
  const { pki, name, ports } = await memberBasics(cfg);
  const base: MemberOptions = { dataDir, name, advertiseIP: cfg.advertiseIP, clientPort: ports.client, peerPort: ports.peer, metricsPort: 0, pki, log: cfg.log };
  let first: MemberOptions = base;
  if (cfg.joinServer && !existing) {
    const peerURL = urlFor(cfg.advertiseIP, ports.peer);
    const caPem = await fs.readFile(path.join(cfg.dataDir, 'tls', 'ca.crt'), 'utf8');
    const members = await requestMemberAdd({ server: cfg.joinServer, token: cfg.token!, caPem, name, peerURL });
    first = { ...base, initialCluster: initialClusterFor(members, name, peerURL), initialClusterState: 'existing' };
    cfg.log(`etcd: added as member ${name} of ${members.length} (${peerURL})`);
  }
  let member: EtcdMember | undefined = await startMember(first);
  cfg.log(`etcd: member ${name} running at ${member.clientURL} (pid ${member.pid})`);
  const stopping = new AbortController();
  // A member that dies while the server runs is started again from its data (a second later).
  const supervise = async () => {
    while (member && !stopping.signal.aborted) {
      const code = await member.exited;
      if (stopping.signal.aborted) return;
      cfg.log(`etcd: member ${name} exited (${code ?? 'signal'}); restarting`);
      member = undefined;
      while (!stopping.signal.aborted && !member) {
        await new Promise((r) => setTimeout(r, 1000));
        if (stopping.signal.aborted) return;
        try {
          member = await startMember(base);
          cfg.log(`etcd: member ${name} running again (pid ${member.pid})`);
        } catch (err) {
          cfg.log(`etcd: restarting member ${name} failed: ${(err as Error).message}`);
        }
      }
    }
  };
  const supervised = supervise();
  // The store reaches every member (this server's own and the others' from the member list), so
  // that losing one member, this server's included, interrupts nothing.
  const etcd = await connectEtcd([member.localEndpoint], member.clientTls);
  const others = (await listMembers(etcd).catch(() => [])).flatMap((m) => m.clientURLs).filter((u) => u !== member!.clientURL);
  const store = await openStore([member.localEndpoint, ...others].join(','), cfg.dataDir, member.clientTls, { log: cfg.log });
  const close = async () => {
    stopping.abort();
    await store.close().catch(() => {});
    etcd.close();
    await member?.stop();
    await supervised;
  };
  return {
    store,
    member: () => member,
    etcd,
    publishBootstrap: async () => {},
    close,
  };
}

/** `--cluster-reset`: the embedded member becomes a cluster of one (restoring a snapshot first when given). */
export async function clusterResetDatastore(cfg: DatastoreConfig, restoreFrom: string | undefined): Promise<void> {
  const { clusterReset, clusterResetDoneMessage } = await import('../etcd/cluster.ts');
  const { pki, name, ports } = await memberBasics(cfg);
  await clusterReset({ dataDir: memberDataDir(cfg.dataDir), name, advertiseIP: cfg.advertiseIP, pki, restoreFrom, clientPort: ports.client, peerPort: ports.peer, metricsPort: 0, log: cfg.log });
  cfg.log(clusterResetDoneMessage.replace('${datadir}', cfg.dataDir));
}

/** The member's certificates (issued as needed), its name and its ports. */
async function memberBasics(cfg: DatastoreConfig): Promise<{ pki: EtcdPki; name: string; ports: { client: number; peer: number } }> {
  const { ensureEtcdPki } = await import('../etcd/certs.ts');
  const pki = await ensureEtcdPki(etcdTlsDir(cfg.dataDir), { hostnames: [os.hostname(), cfg.nodeName], ips: [cfg.advertiseIP], log: cfg.log });
  return { pki, name: await memberName(cfg), ports: cfg.etcdPorts ?? { client: memberDefaults.clientPort, peer: memberDefaults.peerPort } };
}

/** The member's name, `<node name>-<8 hex>` as k3s names them, chosen once and kept. */
async function memberName(cfg: Pick<DatastoreConfig, 'dataDir' | 'nodeName'>): Promise<string> {
  const file = memberNameFile(cfg.dataDir);
  const kept = (await readFileIfExists(file))?.trim();
  if (kept) return kept;
  const name = `${cfg.nodeName}-${crypto.randomBytes(4).toString('hex')}`;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${name}\n`, { mode: 0o600 });
  return name;
}

/** Adds a member through this server's etcd client (the supervisor's join endpoint). */
export function memberAdder(etcd: Etcd3): (name: string, peerURL: string) => Promise<MemberInfo[]> {
  return async (_name, peerURL) => (await import('../etcd/cluster.ts')).addMember(etcd, peerURL);
}
