/**
 * Bootstrap data: the files every server of one cluster must share byte for byte, and how they
 * travel. Follows k3s's pkg/bootstrap + pkg/cluster (encrypt.go, storage.go):
 *
 * - `readBootstrapFiles` collects them from a data dir (paths relative to it):
 *     tls/ca.crt tls/ca.key                       cluster CA (signs serving, client and node certs)
 *     tls/service-account.key                      service account token signing key (public keys derive from it)
 *     tls/request-header-ca.crt tls/request-header-ca.key   front-proxy CA (API aggregation)
 *     server/tls/etcd/server-ca.crt .key           embedded etcd client/server CA, when present
 *     server/tls/etcd/peer-ca.crt .key             embedded etcd peer CA, when present
 *   Leaves (serving, admin, component certificates) are not shared: each server issues its own
 *   from the shared CAs. The cluster CA is required; the others are taken when present.
 * - `encryptBootstrap`/`decryptBootstrap`: k3s's format, `<salt>:<base64(nonce|ciphertext|tag)>`
 *   with AES-256-GCM and a key from PBKDF2-HMAC-SHA1 (4096 rounds, 32 bytes) of the token
 *   password and a random 16-hex-character salt. A wrong password fails authentication.
 * - `writeBootstrapFiles` writes them into a joining server's data dir (atomically; keys 0600,
 *   certificates 0644, directories 0700). It checks every file first and refuses, writing
 *   nothing, when one already exists with other content (the data dir belongs to another
 *   cluster); identical files are left alone. Only the paths above are accepted.
 * - `storeBootstrap`/`loadBootstrap`: with an external datastore, the encrypted data lives in
 *   the datastore at `/bootstrap/<first 12 hex of sha256(password)>` (k3s's storageKey). The
 *   first server creates it (create-if-absent: a concurrent or later server keeps the first
 *   one); later servers load it before generating any CA. A `/bootstrap/` key under another
 *   password is k3s's "bootstrap data already found and encrypted with different token".
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFileIfExists, writeFileAtomic } from '../util/fs.ts';
import type { Store } from '../storage/types.ts';

/** One shared file: its path relative to the data dir and its UTF-8 (PEM) content. */
export interface BootstrapFile {
  path: string;
  content: string;
}

export interface BootstrapData {
  files: BootstrapFile[];
}

/** The cluster CA: a data dir without it has nothing to share. */
export const caFiles = ['tls/ca.crt', 'tls/ca.key'] as const;

/** Every file shared between servers, in a stable order (see the file comment). */
export const bootstrapPaths: readonly string[] = [
  ...caFiles,
  'tls/service-account.key',
  'tls/request-header-ca.crt',
  'tls/request-header-ca.key',
  'server/tls/etcd/server-ca.crt',
  'server/tls/etcd/server-ca.key',
  'server/tls/etcd/peer-ca.crt',
  'server/tls/etcd/peer-ca.key',
];

/** k3s's PBKDF2 parameters and salt size. */
export const pbkdf2Iterations = 4096;
const keyBytes = 32;
const saltBytes = 8;
const nonceBytes = 12;
const tagBytes = 16;
/** The most a decrypted bootstrap may weigh (a handful of PEM files). */
export const maxBootstrapBytes = 1 << 20;

/** The datastore key prefix of bootstrap data. */
export const bootstrapKeyPrefix = '/bootstrap/';

/** k3s's message when the datastore holds bootstrap data under another token. */
export const differentTokenMessage = 'bootstrap data already found and encrypted with different token';

/** Reads the shared files of `dataDir`. Throws when the cluster CA is missing. */
export async function readBootstrapFiles(dataDir: string): Promise<BootstrapData> {
  const contents = await Promise.all(bootstrapPaths.map((p) => readFileIfExists(path.join(dataDir, p))));
  const files: BootstrapFile[] = [];
  bootstrapPaths.forEach((p, i) => {
    const c = contents[i];
    if (c !== undefined) files.push({ path: p, content: c });
  });
  for (const ca of caFiles) if (!files.some((f) => f.path === ca)) throw new Error(`${path.join(dataDir, ca)} is missing: this server has no cluster CA to share`);
  return { files };
}

function deriveKey(password: string, salt: string): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), pbkdf2Iterations, keyBytes, 'sha1');
}

/** Encrypts `data` with the token password (k3s's format, see the file comment). */
export function encryptBootstrap(data: BootstrapData, password: string): Buffer {
  const salt = randomBytes(saltBytes).toString('hex');
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(password, salt), nonce);
  const sealed = Buffer.concat([nonce, cipher.update(JSON.stringify(data), 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return Buffer.from(`${salt}:${sealed.toString('base64')}`, 'utf8');
}

/**
 * Decrypts and checks bootstrap data. Throws "... wrong token ..." when the password does not
 * open it, and a format error when it is not bootstrap data.
 */
export function decryptBootstrap(buf: Uint8Array, password: string): BootstrapData {
  const text = Buffer.from(buf).toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw new Error('invalid cipher text, not : delimited');
  const salt = text.slice(0, colon);
  const sealed = Buffer.from(text.slice(colon + 1), 'base64');
  if (sealed.length < nonceBytes + tagBytes) throw new Error('invalid cipher text: too short');
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(password, salt), sealed.subarray(0, nonceBytes));
  decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(sealed.subarray(nonceBytes, sealed.length - tagBytes)), decipher.final()]);
  } catch {
    throw new Error('cannot decrypt the bootstrap data: wrong token (the token must be the one the cluster was started with)');
  }
  if (plain.length > maxBootstrapBytes) throw new Error(`bootstrap data larger than ${maxBootstrapBytes} bytes`);
  return checkBootstrapData(JSON.parse(plain.toString('utf8')) as unknown);
}

/** Validates the shape and paths of decoded bootstrap data. */
export function checkBootstrapData(v: unknown): BootstrapData {
  const files = (v as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) throw new Error('invalid bootstrap data: no files');
  const seen = new Set<string>();
  for (const f of files as unknown[]) {
    const { path: p, content } = (f ?? {}) as { path?: unknown; content?: unknown };
    if (typeof p !== 'string' || typeof content !== 'string') throw new Error('invalid bootstrap data: a file without path or content');
    if (!bootstrapPaths.includes(p)) throw new Error(`invalid bootstrap data: unexpected file ${JSON.stringify(p)}`);
    if (seen.has(p)) throw new Error(`invalid bootstrap data: ${p} twice`);
    seen.add(p);
  }
  for (const ca of caFiles) if (!seen.has(ca)) throw new Error(`invalid bootstrap data: ${ca} missing`);
  return { files: (files as BootstrapFile[]).map((f) => ({ path: f.path, content: f.content })) };
}

/** The file mode a shared file gets: private keys 0600, certificates 0644. */
function modeOf(p: string): number {
  return p.endsWith('.key') ? 0o600 : 0o644;
}

/**
 * Writes bootstrap data into `dataDir` (see the file comment). Returns the paths written (files
 * already identical are skipped). Throws, writing nothing, when a file exists with other content.
 */
export async function writeBootstrapFiles(dataDir: string, data: BootstrapData): Promise<string[]> {
  const checked = checkBootstrapData(data);
  const existing = await Promise.all(checked.files.map((f) => readFileIfExists(path.join(dataDir, f.path))));
  const conflicts = checked.files.filter((f, i) => existing[i] !== undefined && existing[i] !== f.content).map((f) => path.join(dataDir, f.path));
  if (conflicts.length) {
    throw new Error(`bootstrap data conflict: ${conflicts.join(', ')} already exist with content other than the cluster's (this data dir belongs to another cluster; remove its tls folders to join)`);
  }
  const written: string[] = [];
  for (const [i, f] of checked.files.entries()) {
    if (existing[i] !== undefined) continue;
    const file = path.join(dataDir, f.path);
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, f.content, { mode: modeOf(f.path) });
    written.push(f.path);
  }
  return written;
}

/** k3s's keyHash: the first 12 hex characters of sha256(password). */
export function bootstrapKeyHash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex').slice(0, 12);
}

/** The datastore key of the bootstrap data for `password`. */
export function bootstrapStorageKey(password: string): string {
  return `${bootstrapKeyPrefix}${bootstrapKeyHash(password)}`;
}

/** Throws k3s's different-token error when `/bootstrap/` holds keys but not ours. */
async function checkNoOtherToken(store: Store, key: string): Promise<boolean> {
  const list = await store.list(bootstrapKeyPrefix, { limit: 10 });
  if (list.items.length === 0) return false;
  if (list.items.some((kv) => kv.key === key)) return true;
  throw new Error(differentTokenMessage);
}

/**
 * Saves this server's bootstrap data (read from `opts.dataDir`) encrypted in the datastore, once:
 * answers 'created', or 'exists' when the key is already there (k3s keeps the first). Throws
 * the different-token error when another password's data is stored.
 */
export async function storeBootstrap(store: Store, password: string, opts: { dataDir: string }): Promise<'created' | 'exists'> {
  const key = bootstrapStorageKey(password);
  if (await checkNoOtherToken(store, key)) return 'exists';
  const data = await readBootstrapFiles(opts.dataDir);
  const r = await store.create(key, encryptBootstrap(data, password));
  return r.ok ? 'created' : 'exists';
}

/**
 * Loads the bootstrap data stored in the datastore: undefined when none is stored (the first
 * server); throws the different-token error, or a wrong-token error when it cannot be decrypted.
 */
export async function loadBootstrap(store: Store, password: string): Promise<BootstrapData | undefined> {
  const key = bootstrapStorageKey(password);
  if (!(await checkNoOtherToken(store, key))) return undefined;
  const kv = await store.get(key);
  if (!kv) return undefined;
  return decryptBootstrap(kv.value, password);
}
