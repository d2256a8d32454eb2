/**
 * The storage component's public entry: the Store contract and `openStore`, which picks a backend
 * from the datastore endpoint (kine-style, by URL scheme):
 * - absent or '' → the embedded SQLite store at `DATA_DIR/db/state.db`;
 * - `sqlite://PATH` → the SQLite store at PATH (`sqlite://` alone: the default path; a `?query`
 *   suffix, as k3s DSNs carry, is ignored);
 * - `etcd://`, `http://`, `https://` → ERR_INVALID_CONFIG for now (the etcd backend comes later);
 * - anything else → ERR_INVALID_CONFIG.
 * Directories are created (mode 0700) as needed; the database file and its WAL are 0600
 * whatever the umask (see sqlite.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { BosunError } from '../util/errors.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export type * from './types.ts';
export { SqliteStore, openSqliteStore, compactChannel } from './sqlite.ts';
export type { SqliteStoreOptions, SqliteStoreStats, StoreClock } from './sqlite.ts';

/** Opens the store named by `endpoint` (see the file comment); `dataDir` gives the default path. */
export async function openStore(endpoint: string | undefined, dataDir: string): Promise<Store> {
  const defaultPath = path.join(dataDir, 'db', 'state.db');
  let file: string;
  if (!endpoint) {
    file = defaultPath;
  } else if (endpoint.startsWith('sqlite://')) {
    const rest = endpoint.slice('sqlite://'.length).replace(/\?.*$/, '');
    file = rest ? path.resolve(rest) : defaultPath;
  } else if (/^(etcd|https?):\/\//.test(endpoint)) {
    throw new BosunError('ERR_INVALID_CONFIG', 'the etcd datastore is not available yet');
  } else {
    throw new BosunError('ERR_INVALID_CONFIG', `unsupported datastore endpoint ${JSON.stringify(endpoint)} (want sqlite://PATH)`);
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  return openSqliteStore(file);
}
