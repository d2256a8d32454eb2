/**
 * The server's node join token: `DATA_DIR/server/node-token` (0600) holding
 * `K10<CA hash>::<id>.<secret>` (see bootstrap.ts), backed by the bootstrap token Secret in
 * kube-system. Level-based: each start keeps the token in the file when it still names the
 * current CA, recreates its Secret when missing (e.g. a fresh store or someone deleted it), and
 * makes a new token otherwise. The token does not expire (as k3s's); delete the Secret and the
 * file to rotate it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ApiServer } from '../server.ts';
import type { UserInfo } from '../../api/types.ts';
import { isAlreadyExists } from '../../api/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../../util/fs.ts';
import { bootstrapTokenSecret, bootstrapTokenSecretPrefix, caHash, formatNodeToken, generateBootstrapToken, nodeTokenGroup, parseNodeToken, type BootstrapToken, type SecretLike } from './bootstrap.ts';

const system: UserInfo = { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };

/** Where the node token lives under a server's data dir. */
export function nodeTokenFile(dataDir: string): string {
  return path.join(dataDir, 'server', 'node-token');
}

/** The Secret kube-system/NAME from the API server's watch cache (for the authenticator). */
export function secretFromCache(api: ApiServer, name: string): SecretLike | undefined {
  const def = api.registry.byKind('', 'Secret');
  if (!def) return undefined;
  const s = api.storageFor(def);
  return s.cache.get(s.key('kube-system', name))?.obj as SecretLike | undefined;
}

/** Makes sure the node token file and its Secret exist (see the file comment); returns the token text. */
export async function ensureNodeToken(api: ApiServer, dataDir: string, caPem: string): Promise<string> {
  const file = nodeTokenFile(dataDir);
  let token: BootstrapToken | undefined;
  const text = await readFileIfExists(file);
  if (text !== undefined) {
    try {
      const t = parseNodeToken(text);
      if (t.caHash === caHash(caPem)) token = t.token;
    } catch {
      // Unreadable: replaced below.
    }
  }
  token ??= generateBootstrapToken();
  const def = api.registry.byKind('', 'Secret');
  if (!def) throw new Error('the API server serves no Secrets');
  const secrets = api.storageFor(def);
  const current = secretFromCache(api, `${bootstrapTokenSecretPrefix}${token.id}`);
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  if (!current || current.data?.['token-secret'] !== b64(token.secret)) {
    if (current) await secrets.delete('kube-system', `${bootstrapTokenSecretPrefix}${token.id}`, {}, { user: system, dryRun: false, version: 'v1' });
    const obj = bootstrapTokenSecret(token, { groups: [nodeTokenGroup], description: 'bosun node join token (server/node-token)' });
    try {
      await secrets.create('kube-system', obj as never, { user: system, dryRun: false, version: 'v1' });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  const out = formatNodeToken(caPem, token);
  if (text?.trim() !== out) {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, `${out}\n`, { mode: 0o600 });
  }
  return out;
}
