/**
 * The storage component's public entry: the Store contract and `openStore`, which picks a backend
 * from the datastore endpoint (kine-style, by URL scheme):
 * - absent or '' → the embedded SQLite store at `DATA_DIR/db/state.db`;
 * - `sqlite://PATH` → the SQLite store at PATH (`sqlite://` alone: the default path; a `?query`
 *   suffix, as k3s DSNs carry, is ignored);
 * - `http://H:P`, `https://H:P`, `etcd://H:P` (plain http), or a comma-separated list of them as
 *   k3s's --datastore-endpoint takes → the etcd store on those members, with the optional TLS
 *   files (--datastore-cafile/--datastore-certfile/--datastore-keyfile);
 * - anything else → ERR_INVALID_CONFIG.
 * Directories are created (mode 0700) as needed; the database file and its WAL are 0600
 * whatever the umask (see sqlite.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { BosunError } from '../util/errors.ts';
import { openSqliteStore } from './sqlite.ts';
import { openEtcdStore, type EtcdTlsFiles } from './etcd.ts';
import type { Store } from './types.ts';

export type * from './types.ts';
export { SqliteStore, openSqliteStore, compactChannel } from './sqlite.ts';
export type { SqliteStoreOptions, SqliteStoreStats, StoreClock } from './sqlite.ts';
export { EtcdStore, openEtcdStore, compactRevKey } from './etcd.ts';
export type { EtcdStoreOptions, EtcdTlsFiles } from './etcd.ts';

export interface OpenStoreOptions {
  /** etcd: automatic compaction period (default 5 minutes, 0: off). */
  compactIntervalMs?: number;
  /** etcd: diagnostics (compactions, failovers). */
  log?: (msg: string) => void;
}

/**
 * The etcd client URLs in a datastore endpoint (`etcd://` becomes `http://`), or null when it
 * does not name etcd. Throws ERR_INVALID_CONFIG for a list mixing http and https or a bad URL.
 */
export function etcdEndpoints(endpoint: string): string[] | null {
  if (!/^(etcd|https?):\/\//.test(endpoint)) return null;
  const urls = endpoint.split(',').map((e) => e.trim()).filter(Boolean).map((e) => {
    const u = e.replace(/^etcd:\/\//, 'http://');
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new BosunError('ERR_INVALID_CONFIG', `invalid etcd endpoint ${JSON.stringify(e)}`);
    }
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.host) {
      throw new BosunError('ERR_INVALID_CONFIG', `invalid etcd endpoint ${JSON.stringify(e)} (want http://HOST:PORT or https://HOST:PORT)`);
    }
    return `${parsed.protocol}//${parsed.host}`;
  });
  if (urls.length === 0) throw new BosunError('ERR_INVALID_CONFIG', 'no etcd endpoint given');
  if (new Set(urls.map((u) => u.startsWith('https:'))).size > 1) {
    throw new BosunError('ERR_INVALID_CONFIG', 'etcd endpoints must be all http:// or all https://');
  }
  return urls;
}

/**
 * Opens the store named by `endpoint` (see the file comment); `dataDir` gives the default path;
 * `tls` the client files for an etcd endpoint.
 */
export async function openStore(endpoint: string | undefined, dataDir: string, tls?: EtcdTlsFiles, opts: OpenStoreOptions = {}): Promise<Store> {
  const defaultPath = path.join(dataDir, 'db', 'state.db');
  let file: string;
  if (!endpoint) {
    file = defaultPath;
  } else if (endpoint.startsWith('sqlite://')) {
    const rest = endpoint.slice('sqlite://'.length).replace(/\?.*$/, '');
    file = rest ? path.resolve(rest) : defaultPath;
  } else if (/^(etcd|https?):\/\//.test(endpoint)) {
    return openEtcdStore({ endpoints: etcdEndpoints(endpoint)!, tls, ...opts });
  } else {
    throw new BosunError('ERR_INVALID_CONFIG', `unsupported datastore endpoint ${JSON.stringify(endpoint)} (want sqlite://PATH)`);
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  return openSqliteStore(file);
}
