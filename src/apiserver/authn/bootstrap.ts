/**
 * Bootstrap tokens, as upstream's bootstrap token authenticator and k3s's join token:
 *
 * - A bootstrap token is `<token-id>.<token-secret>` (6 and 16 characters of [a-z0-9]), backed
 *   by a Secret `bootstrap-token-<token-id>` in kube-system of type `bootstrap.kubernetes.io/token`
 *   with data token-id, token-secret, optional expiration (RFC 3339), usage-bootstrap-authentication
 *   ("true" to authenticate) and auth-extra-groups (comma-separated, each `system:bootstrappers:…`).
 * - The authenticator maps `Authorization: Bearer <token>` to user `system:bootstrap:<token-id>`,
 *   groups `system:bootstrappers`, the extra groups and `system:authenticated`. Any mismatch
 *   (unknown id, wrong secret, wrong type, expired, not for authentication, being deleted, bad
 *   extra group, not token-shaped) is "no opinion": with no other authenticator the request is
 *   401, as upstream.
 * - The node token that `bosun agent --token` takes is k3s's secure form
 *   `K10<sha256 hex of the CA bundle>::<token-id>.<token-secret>`: the prefix pins the CA the
 *   agent must find at the server before it sends the secret.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { UserInfo } from '../../api/types.ts';
import type { Authenticator } from './index.ts';

export const bootstrapTokenSecretType = 'bootstrap.kubernetes.io/token';
export const bootstrapTokenSecretPrefix = 'bootstrap-token-';
export const bootstrapUserPrefix = 'system:bootstrap:';
export const bootstrappersGroup = 'system:bootstrappers';
/** The extra group bosun gives node join tokens (kubeadm's is system:bootstrappers:kubeadm:default-node-token). */
export const nodeTokenGroup = 'system:bootstrappers:bosun:default-node-token';

const tokenRe = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const extraGroupRe = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

export interface BootstrapToken {
  id: string;
  secret: string;
}

/** `<id>.<secret>` as a token, or undefined when the text is not one. */
export function parseBootstrapToken(text: string): BootstrapToken | undefined {
  const m = tokenRe.exec(text);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** A fresh random token (the alphabet and lengths upstream's generator uses). */
export function generateBootstrapToken(): BootstrapToken {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const pick = (n: number) => Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join('');
  return { id: pick(6), secret: pick(16) };
}

/** The Secret backing a token (data as plain strings: the caller puts them in stringData or encodes them). */
export function bootstrapTokenSecret(t: BootstrapToken, opts: { groups?: string[]; expiration?: string; description?: string } = {}): Record<string, unknown> {
  const data: Record<string, string> = {
    'token-id': t.id,
    'token-secret': t.secret,
    'usage-bootstrap-authentication': 'true',
  };
  if (opts.groups?.length) data['auth-extra-groups'] = opts.groups.join(',');
  if (opts.expiration) data['expiration'] = opts.expiration;
  if (opts.description) data['description'] = opts.description;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${bootstrapTokenSecretPrefix}${t.id}`, namespace: 'kube-system' },
    type: bootstrapTokenSecretType,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** A Secret as the authenticator reads it: type, base64 data, deletion mark. */
export interface SecretLike {
  type?: string;
  data?: Record<string, string>;
  metadata?: { deletionTimestamp?: string };
}

export interface BootstrapAuthenticatorOptions {
  /** The Secret kube-system/NAME, or undefined. Called once per token-shaped bearer token. */
  getSecret(name: string): SecretLike | undefined | Promise<SecretLike | undefined>;
  now?: () => Date;
}

/**
 * The user a bootstrap token authenticates as, or null (see the file comment for the rules).
 * Pure apart from `getSecret`; the secret is compared in constant time.
 */
export async function authenticateBootstrapToken(token: string, opts: BootstrapAuthenticatorOptions): Promise<UserInfo | null> {
  const t = parseBootstrapToken(token);
  if (!t) return null;
  const secret = await opts.getSecret(`${bootstrapTokenSecretPrefix}${t.id}`);
  if (!secret || secret.metadata?.deletionTimestamp) return null;
  if (secret.type !== bootstrapTokenSecretType) return null;
  const data = (k: string): string | undefined => {
    const v = secret.data?.[k];
    return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
  };
  if (data('token-id') !== t.id) return null;
  const want = Buffer.from(data('token-secret') ?? '');
  const got = Buffer.from(t.secret);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
  const exp = data('expiration');
  if (exp !== undefined) {
    const at = Date.parse(exp);
    if (Number.isNaN(at) || at <= (opts.now ?? (() => new Date()))().getTime()) return null;
  }
  if (data('usage-bootstrap-authentication') !== 'true') return null;
  const extra = (data('auth-extra-groups') ?? '').split(',').map((g) => g.trim()).filter(Boolean);
  if (extra.some((g) => !extraGroupRe.test(g))) return null;
  const groups = [bootstrappersGroup, ...extra.filter((g) => g !== bootstrappersGroup)];
  return { username: `${bootstrapUserPrefix}${t.id}`, groups: [...groups, 'system:authenticated'] };
}

/** The bearer token of an Authorization header ("Bearer x", scheme case-insensitive), or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

/** The bootstrap token authenticator over an Authorization bearer header. */
export function bootstrapTokenAuthenticator(opts: BootstrapAuthenticatorOptions): Authenticator {
  return {
    name: 'bootstrap-token',
    authenticate(req) {
      const token = bearerToken(req.headers['authorization']);
      return token ? authenticateBootstrapToken(token, opts) : null;
    },
  };
}

// ---- node join tokens (k3s format) ----

const nodeTokenPrefix = 'K10';

/** sha256 hex of the CA bundle bytes, as k3s pins it. */
export function caHash(caBundle: string | Uint8Array): string {
  return createHash('sha256').update(caBundle).digest('hex');
}

/** `K10<ca hash>::<id>.<secret>`. */
export function formatNodeToken(caBundle: string | Uint8Array, t: BootstrapToken): string {
  return `${nodeTokenPrefix}${caHash(caBundle)}::${t.id}.${t.secret}`;
}

export interface NodeToken {
  caHash: string;
  token: BootstrapToken;
}

/**
 * Parses a node join token. Throws an Error with a message for the user when it is not the
 * `K10<64 hex>::<id>.<secret>` form: a bare bootstrap token (no CA pin) and k3s's
 * `server:<password>` credentials are refused by name.
 */
export function parseNodeToken(text: string): NodeToken {
  const s = text.trim();
  if (parseBootstrapToken(s)) throw new Error('the token has no CA hash: give the full node token (K10<ca hash>::<id>.<secret>) from the server\'s server/node-token');
  const m = /^K10([0-9a-f]{64})::(.*)$/.exec(s);
  if (!m) throw new Error('malformed token: want K10<sha256 of the CA>::<token-id>.<token-secret> (the server\'s server/node-token)');
  const token = parseBootstrapToken(m[2]!);
  if (!token) {
    if (m[2]!.includes(':')) throw new Error('username:password tokens are not supported: use the bootstrap token form <token-id>.<token-secret>');
    throw new Error('malformed token: the part after :: must be <token-id>.<token-secret> (6 and 16 characters of a-z, 0-9)');
  }
  return { caHash: m[1]!, token };
}
