/**
 * The server token, as k3s keeps it: `DATA_DIR/server/token` (0600) holding
 * `K10<sha256 hex of the cluster CA bundle>::server:<password>`. Servers that join a cluster
 * present it (`bosun server --server URL --token T`); the CA hash pins the cluster CA before any
 * secret is sent, and the password authenticates the join endpoints (supervisor.ts) and is the
 * passphrase of the bootstrap data (bootstrap.ts).
 *
 * Parsing follows k3s's clientaccess.parseToken for the server form: a bare password stands for
 * `K10::server:<password>` (no CA pin), `K10<hash>::<user>:<password>` is the full form (the
 * user is always taken as `server`, as k3s's ParseAndValidateTokenForUser does), a kubeadm-style
 * bootstrap token `<id>.<secret>` is a node token and refused here, an empty token is refused.
 * The CA hash is the sha256 of the CA bundle's bytes (k3s's legacy single-certificate hash, the
 * one /cacerts and the node token use).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFileIfExists, writeFileAtomic } from '../util/fs.ts';
import { caHash } from '../apiserver/authn/bootstrap.ts';

/** k3s's token prefix and the length of a hex sha256. */
export const tokenPrefix = 'K10';
const caHashLength = 64;
/** Random bytes in a generated password (k3s: 16, printed as 32 hex characters). */
export const passwordBytes = 16;
/** The user every server token authenticates as. */
export const serverTokenUser = 'server';

export interface ServerToken {
  /** sha256 hex of the cluster CA bundle; undefined when the token is a bare password. */
  caHash?: string;
  username: string;
  password: string;
}

/** Where the server token lives under a server's data dir. */
export function serverTokenFile(dataDir: string): string {
  return path.join(dataDir, 'server', 'token');
}

/** `K10<ca hash>::server:<password>`. */
export function formatServerToken(caPem: string | Uint8Array, password: string): string {
  return `${tokenPrefix}${caHash(caPem)}::${serverTokenUser}:${password}`;
}

/**
 * Parses a server token (see the file comment). Throws an Error with a message for the user
 * when it is empty, a node (bootstrap) token, or malformed.
 */
export function parseServerToken(text: string): ServerToken {
  let s = text.trim();
  if (!s) throw new Error('token must not be empty');
  if (/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(s) || /^K10[0-9a-f]*::[a-z0-9]{6}\.[a-z0-9]{16}$/.test(s)) {
    throw new Error('a node token (<token-id>.<token-secret>) cannot join a server: use the server token (DATA_DIR/server/token) or the --token the first server was started with');
  }
  if (!s.startsWith(tokenPrefix)) s = `${tokenPrefix}:::${s}`;
  s = s.slice(tokenPrefix.length);
  const sep = s.indexOf('::');
  if (sep < 0) throw new Error('invalid token format');
  const hash = s.slice(0, sep);
  const creds = s.slice(sep + 2);
  if (hash.length > 0 && hash.length !== caHashLength) throw new Error('invalid token CA hash length');
  if (hash.length > 0 && !/^[0-9a-f]+$/.test(hash)) throw new Error('invalid token CA hash');
  const colon = creds.indexOf(':');
  if (colon < 0 || colon === creds.length - 1) throw new Error('invalid token format');
  const out: ServerToken = { username: serverTokenUser, password: creds.slice(colon + 1) };
  if (hash) out.caHash = hash;
  return out;
}

/** The password part of a server token (bare or full). */
export function tokenPassword(text: string): string {
  return parseServerToken(text).password;
}

/** A new random password (32 hex characters). */
export function generatePassword(): string {
  return randomBytes(passwordBytes).toString('hex');
}

/**
 * Makes sure DATA_DIR/server/token holds the full token for the current CA and returns it.
 * - `given` (--token): a bare password is expanded to the full form; a full token whose CA hash
 *   is not the hash of `caPem` is an error (a token of another cluster). The given token wins
 *   over the file's.
 * - no `given`: the file's password is kept (re-hashed when the CA bundle changed); a missing or
 *   unreadable file gets a new random password.
 * The file is written (atomically, 0600) only when its content changes. Idempotent.
 */
export async function ensureServerToken(dataDir: string, caPem: string, given?: string): Promise<string> {
  const file = serverTokenFile(dataDir);
  const current = await readFileIfExists(file);
  let password: string | undefined;
  if (given !== undefined && given.trim() !== '') {
    const t = parseServerToken(given);
    const want = caHash(caPem);
    if (t.caHash !== undefined && t.caHash !== want) throw new Error(`token CA hash does not match the Cluster CA certificate hash: ${t.caHash} != ${want}`);
    password = t.password;
  } else if (current !== undefined) {
    try {
      password = parseServerToken(current).password;
    } catch {
      password = undefined;
    }
  }
  password ??= generatePassword();
  const out = formatServerToken(caPem, password);
  if (current?.trim() !== out) {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, `${out}\n`, { mode: 0o600 });
  }
  return out;
}
