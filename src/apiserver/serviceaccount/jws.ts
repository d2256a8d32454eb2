/**
 * Compact JWS (RFC 7515) as service-account tokens use it, over node:crypto: signing with the
 * header upstream's signer writes (`{"alg":…,"kid":…}`, go-jose's sorted keys), parsing as
 * upstream's authenticator does before it trusts anything (pkg/serviceaccount/jwt.go
 * hasCorrectIssuer and go-jose ParseSigned), and signature checks for the algorithms go-jose
 * accepts for a key: RS256/384/512 and PS256/384/512 for RSA keys, ES256/384/512 for the
 * matching ECDSA curve (signatures in the JWS r||s form). Everything else fails verification.
 */
import { constants, sign, verify, type KeyObject } from 'node:crypto';
import type { SigningKey, VerificationKey } from './keys.ts';
import { isJsonObject } from '../../util/json.ts';

/** A compact JWS split and decoded; nothing in it is verified yet. */
export interface ParsedJws {
  header: { alg: string; kid?: string; [name: string]: unknown };
  payload: Record<string, unknown>;
  /** `<header>.<payload>` as sent: the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const b64urlRe = /^[A-Za-z0-9_-]*$/;

/** Strict unpadded base64url (Go's RawURLEncoding), or undefined. */
function decodeB64url(s: string): Buffer | undefined {
  if (!b64urlRe.test(s) || s.length % 4 === 1) return undefined;
  return Buffer.from(s, 'base64url');
}

function decodeJsonObject(s: string): Record<string, unknown> | undefined {
  const bytes = decodeB64url(s);
  if (!bytes) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return isJsonObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The parts of a compact JWS, or undefined when the text is not one (JSON serialization, not
 * three parts, bad base64url or JSON, a header without `alg`, or a `crit` header go-jose refuses).
 */
export function parseCompactJws(token: string): ParsedJws | undefined {
  if (token.trimStart().startsWith('{')) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const payload = decodeJsonObject(p);
  if (!payload) return undefined;
  const header = decodeJsonObject(h);
  if (!header || typeof header['alg'] !== 'string' || header['crit'] !== undefined) return undefined;
  if (header['kid'] !== undefined && typeof header['kid'] !== 'string') return undefined;
  const signature = decodeB64url(s);
  if (!signature) return undefined;
  return { header: header as ParsedJws['header'], payload, signingInput: `${h}.${p}`, signature };
}

const hashes: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
const ecAlgs: Record<string, { curve: string; size: number }> = {
  ES256: { curve: 'prime256v1', size: 64 },
  ES384: { curve: 'secp384r1', size: 96 },
  ES512: { curve: 'secp521r1', size: 132 },
};

/**
 * Signatures already found valid, per key: algorithm and signing input → signature. A signature check is a pure
 * function of the two and the key, and costs ~50 µs for RSA: in-process controllers present the
 * same token on every request. Only valid signatures are kept (nobody can fill this without the
 * signing key), at most MAX_VERIFIED per key, oldest first out.
 */
const verified = new WeakMap<KeyObject, Map<string, Buffer>>();
const MAX_VERIFIED = 1024;

/** True when the JWS's signature is valid for `key` under the header's algorithm. Never throws. */
export function verifyJwsSignature(jws: ParsedJws, key: VerificationKey): boolean {
  const seen = verified.get(key.key);
  const id = `${jws.header.alg} ${jws.signingInput}`;
  const known = seen?.get(id);
  if (known && known.equals(jws.signature)) return true;
  if (!checkSignature(jws, key)) return false;
  let memo = seen;
  if (!memo) verified.set(key.key, (memo = new Map()));
  memo.delete(id);
  memo.set(id, jws.signature);
  if (memo.size > MAX_VERIFIED) memo.delete(memo.keys().next().value!);
  return true;
}

function checkSignature(jws: ParsedJws, key: VerificationKey): boolean {
  const alg = jws.header.alg;
  const hash = hashes[alg.slice(2)];
  if (!hash || alg.length !== 5) return false;
  const data = Buffer.from(jws.signingInput, 'ascii');
  const k: KeyObject = key.key;
  try {
    if (k.asymmetricKeyType === 'rsa') {
      if (alg.startsWith('RS')) return verify(hash, data, k, jws.signature);
      if (alg.startsWith('PS')) {
        return verify(hash, data, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, jws.signature);
      }
      return false;
    }
    if (k.asymmetricKeyType === 'ec') {
      const ec = ecAlgs[alg];
      if (!ec || k.asymmetricKeyDetails?.namedCurve !== ec.curve || jws.signature.length !== ec.size) return false;
      return verify(hash, data, { key: k, dsaEncoding: 'ieee-p1363' }, jws.signature);
    }
  } catch {
    return false;
  }
  return false;
}

/** A compact JWS of `payload` (serialized as given: callers order its keys) signed with `key`. */
export function signCompactJws(key: SigningKey, payload: object): string {
  const header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const input = Buffer.from(`${header}.${body}`, 'ascii');
  const hash = hashes[key.alg.slice(2)]!;
  const sig = key.alg.startsWith('ES') ? sign(hash, input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }) : sign(hash, input, key.privateKey);
  return `${header}.${body}.${sig.toString('base64url')}`;
}
