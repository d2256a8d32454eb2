/**
 * `bosun etcd-snapshot save|ls|delete|prune|restore`: the command bodies, as k3s's
 * pkg/cli/etcdsnapshot. save, ls, delete and prune ask the running server through its
 * `/db/snapshot` endpoint (src/etcd/supervisor.ts), authenticated with the server token
 * (`--token`, else DATA_DIR/server/token); the server URL is `--server`, else the one in the admin
 * kubeconfig (DATA_DIR/kubeconfig.yaml or `--kubeconfig`). The server's certificate is checked
 * against DATA_DIR/tls/ca.crt, or, when this machine has none, against the CA pinned by the
 * token's hash.
 *
 * restore is offline: a SQLite snapshot replaces DATA_DIR/db/state.db (or the `sqlite://PATH` of
 * `--datastore-endpoint`) and is refused while a server holds the database (its lock); an etcd
 * snapshot is restored, as k3s does, by `bosun server --cluster-reset --cluster-reset-restore-path
 * FILE`, which this command tells the user (first to stop the server when the member's pid file
 * names a live process).
 *
 * Output: `ls` prints k3s's table (Name, Location, Size, Created; columns padded as Go's
 * tabwriter with one space) or `-o json|yaml`; save prints "Snapshot NAME saved.", delete and
 * prune "Snapshot NAME deleted." per file.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { readFileIfExists } from '../util/fs.ts';
import { pinnedServerCa, supervisorRequest } from '../etcd/join.ts';
import { snapshotPath } from '../etcd/supervisor.ts';
import { serverTokenFile } from '../etcd/token.ts';
import { defaultSnapshotRetention, onDemandSnapshotName, restoreSqliteSnapshot, type SnapshotInfo } from '../etcd/snapshot.ts';

export type EtcdSnapshotSubcommand = 'save' | 'ls' | 'delete' | 'prune' | 'restore';

export interface EtcdSnapshotOptions {
  dataDir: string;
  /** --server: https://HOST:PORT of the server to ask (default: the admin kubeconfig's). */
  server?: string;
  /** --token: the server token (default: DATA_DIR/server/token). */
  token?: string;
  /** --kubeconfig: where to find the server URL (default DATA_DIR/kubeconfig.yaml). */
  kubeconfig?: string;
  /** save: --name, the snapshot name prefix (default on-demand); prune: the prefix to prune. */
  name?: string;
  /** prune: --snapshot-retention (default 5). */
  retention?: number;
  /** delete: the snapshot names (arguments). */
  names?: string[];
  /** restore: the snapshot file (argument). */
  file?: string;
  /** ls: -o/--output json|yaml (default: table). */
  output?: string;
  /** restore: --datastore-endpoint (sqlite://PATH). */
  datastoreEndpoint?: string;
  /** restore: the embedded etcd member's data dir (default DATA_DIR/server/db/etcd, k3s's). */
  etcdDataDir?: string;
  /** Where lines go (default: standard output). */
  out?: (line: string) => void;
}

/** Formats rows as Go's tabwriter (minwidth 0, padding 1, space) does: each cell but the last padded to its column's width + 1. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]! + 1) : c)).join('')).join('\n');
}

/** The ls table: Name, Location, Size, Created. */
export function snapshotTable(items: readonly SnapshotInfo[]): string {
  return formatTable([['Name', 'Location', 'Size', 'Created'], ...items.map((s) => [s.name, s.location, String(s.size), s.createdAt])]);
}

interface Target {
  server: string;
  token: string;
  caPem: string;
}

async function target(opts: EtcdSnapshotOptions): Promise<Target> {
  const token = opts.token?.trim() || (await readFileIfExists(serverTokenFile(opts.dataDir)))?.trim();
  if (!token) throw new Error(`no server token: give --token, or run this on a server (${serverTokenFile(opts.dataDir)})`);
  let server = opts.server;
  if (!server) {
    const file = opts.kubeconfig ?? path.join(opts.dataDir, 'kubeconfig.yaml');
    const text = await readFileIfExists(file);
    if (text === undefined) throw new Error(`no server URL: give --server, or run this on a server (${file})`);
    const kc = parseYaml(text) as { clusters?: { cluster?: { server?: string } }[] } | null;
    server = kc?.clusters?.[0]?.cluster?.server;
    if (!server) throw new Error(`${file} names no server: give --server`);
  }
  const caPem = (await readFileIfExists(path.join(opts.dataDir, 'tls', 'ca.crt'))) ?? (await pinnedServerCa(server, token));
  return { server, token, caPem };
}

async function call(opts: EtcdSnapshotOptions, method: 'GET' | 'POST', body?: unknown): Promise<Record<string, unknown>> {
  const t = await target(opts);
  // A save copies the whole datastore: give it longer than the default client timeout.
  const buf = await supervisorRequest({ ...t, method, path: snapshotPath, body, timeoutMs: 5 * 60_000 });
  return JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
}

/** The pid of the etcd member running on `etcdDir` (its pid file, member.ts's), or undefined. */
export async function etcdMemberPid(etcdDir: string): Promise<number | undefined> {
  const text = await readFileIfExists(path.join(etcdDir, 'bosun-etcd.pid'));
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Runs one subcommand (see the file comment). Throws an Error with a message for the user. */
export async function runEtcdSnapshotCommand(sub: EtcdSnapshotSubcommand, opts: EtcdSnapshotOptions): Promise<void> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  switch (sub) {
    case 'save': {
      const r = await call(opts, 'POST', { operation: 'save', name: [opts.name ?? onDemandSnapshotName] });
      for (const s of (r['created'] as SnapshotInfo[] | undefined) ?? []) out(`Snapshot ${s.name} saved.`);
      return;
    }
    case 'ls': {
      const format = (opts.output ?? '').toLowerCase();
      if (format && format !== 'json' && format !== 'yaml') throw new Error(`invalid output format: ${opts.output}`);
      const r = await call(opts, 'GET');
      const items = (r['items'] as SnapshotInfo[] | undefined) ?? [];
      if (format === 'json') out(JSON.stringify({ items }, null, 2));
      else if (format === 'yaml') out(stringifyYaml({ items }).trimEnd());
      else out(snapshotTable(items));
      return;
    }
    case 'delete': {
      if (!opts.names?.length) throw new Error('no snapshots given for removal');
      const r = await call(opts, 'POST', { operation: 'delete', name: opts.names });
      const deleted = (r['deleted'] as string[] | undefined) ?? [];
      for (const n of deleted) out(`Snapshot ${n} deleted.`);
      for (const n of opts.names) if (!deleted.includes(n)) out(`Snapshot ${n} not found.`);
      return;
    }
    case 'prune': {
      const retention = opts.retention ?? defaultSnapshotRetention;
      const r = await call(opts, 'POST', { operation: 'prune', name: [opts.name ?? onDemandSnapshotName], retention });
      for (const n of (r['deleted'] as string[] | undefined) ?? []) out(`Snapshot ${n} deleted.`);
      return;
    }
    case 'restore': {
      if (!opts.file) throw new Error('no snapshot file given');
      const file = path.resolve(opts.file);
      const fh = await fs.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
        throw new Error(`cannot read snapshot ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      });
      const head = Buffer.alloc(16);
      await fh.read(head, 0, 16, 0).finally(() => fh.close());
      if (head.toString('latin1') !== 'SQLite format 3\0') {
        const etcdDir = opts.etcdDataDir ?? path.join(opts.dataDir, 'server', 'db', 'etcd');
        const pid = await etcdMemberPid(etcdDir);
        if (pid !== undefined) throw new Error(`the embedded etcd member of ${etcdDir} is running (pid ${pid}): stop the server, then run\n  bosun server --cluster-reset --cluster-reset-restore-path ${file}`);
        throw new Error(`${file} is an etcd snapshot: restore it with the server stopped by running\n  bosun server --cluster-reset --cluster-reset-restore-path ${file}\n(with the server's usual flags); then start the other servers again after removing their etcd data (DATA_DIR/server/db/etcd)`);
      }
      let dbFile: string | undefined;
      if (opts.datastoreEndpoint) {
        if (!opts.datastoreEndpoint.startsWith('sqlite://')) throw new Error(`--datastore-endpoint ${opts.datastoreEndpoint}: only a sqlite:// datastore is restored from a SQLite snapshot`);
        const rest = opts.datastoreEndpoint.slice('sqlite://'.length).replace(/\?.*$/, '');
        if (rest) dbFile = path.resolve(rest);
      }
      const r = await restoreSqliteSnapshot(opts.dataDir, file, dbFile ? { dbFile } : {});
      out(`Restored ${file} to ${r.dbFile}.${r.previous ? ` The previous database is kept as ${r.previous}.` : ''} Start the server to use it.`);
      return;
    }
  }
}
