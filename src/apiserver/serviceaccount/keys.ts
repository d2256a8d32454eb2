/**
 * Service-account token keys, as kube-apiserver's --service-account-signing-key-file and
 * --service-account-key-file (pkg/serviceaccount/jwt.go, client-go util/keyutil):
 *
 * - The signing key is an RSA or ECDSA private key; RSA signs RS256, ECDSA P-256/384/521 sign
 *   ES256/384/512 (upstream's choice per key). Bosun's default is a 2048-bit RSA key in
 *   `<dir>/service-account.key` (PEM, PKCS#8, 0600), created on first start and kept after.
 * - Verification keys come from PEM files that may hold several blocks: public keys (PKIX or
 *   PKCS#1), private keys (their public half) and certificates (their subject key). Blocks that
 *   are no RSA/ECDSA key (e.g. `EC PARAMETERS`) are skipped; a file without any is an error with
 *   upstream's message.
 * - A key's id (`kid`, in token headers and the JWKS) is upstream's keyIDFromPublicKey: base64url
 *   (no padding) of the SHA-256 of the PKIX DER public key, so tokens of an upstream server with
 *   the same key carry the same kid.
 *
 * Everything here is node:crypto: no JOSE library sits on the authentication hot path.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { readFileIfExists } from '../../util/fs.ts';

/** The JWS algorithms upstream signs with: RS256 for RSA keys, ES256/384/512 by ECDSA curve. */
export type SigningAlgorithm = 'RS256' | 'ES256' | 'ES384' | 'ES512';

/** The default signing key's file name in the key directory. */
export const signingKeyFileName = 'service-account.key';
/** The default signing key's size (upstream's and k3s's RSA 2048). */
export const rsaKeyBits = 2048;

/** A public key tokens may be verified with. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** The public key. */
  readonly key: KeyObject;
}

/** The key tokens are signed with (and its public half, as a VerificationKey). */
export interface SigningKey extends VerificationKey {
  readonly privateKey: KeyObject;
}

/** Verification keys by kid: a token with a kid is checked against those keys only, one without against all. */
export interface KeySet {
  readonly all: readonly VerificationKey[];
  get(kid: string): readonly VerificationKey[];
}

/** A public JWK as upstream's JWKS lists it (go-jose's field order: use, kty, kid, crv, alg, x, y, n, e). */
export interface PublicJwk {
  use: 'sig';
  kty: 'RSA' | 'EC';
  kid: string;
  crv?: string;
  alg: SigningAlgorithm;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

const curveAlgorithms: Record<string, SigningAlgorithm> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** Upstream's algorithm for a key (public or private). Throws for other key types and curves. */
export function algorithmFor(key: KeyObject): SigningAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ec': {
      const alg = curveAlgorithms[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!alg) throw new Error('unknown private key curve, must be 256, 384, or 521');
      return alg;
    }
    default:
      throw new Error(`unknown key type ${key.asymmetricKeyType ?? key.type}, must be an RSA or ECDSA key`);
  }
}

/** Upstream's keyIDFromPublicKey: base64url of sha256 over the PKIX (SubjectPublicKeyInfo) DER. */
export function keyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

/** A verification key for a public (or private: its public half) key. */
export function verificationKey(key: KeyObject): VerificationKey {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return { kid: keyId(pub), alg: algorithmFor(pub), key: pub };
}

/** A signing key for an RSA or ECDSA private key. */
export function signingKey(privateKey: KeyObject): SigningKey {
  return { ...verificationKey(privateKey), privateKey };
}

/** A key set over keys (duplicates kept, as upstream's static getter does). */
export function keySet(keys: readonly VerificationKey[]): KeySet {
  const byKid = new Map<string, VerificationKey[]>();
  for (const k of keys) {
    const list = byKid.get(k.kid);
    if (list) list.push(k);
    else byKid.set(k.kid, [k]);
  }
  const all = [...keys];
  return { all, get: (kid) => (kid ? (byKid.get(kid) ?? []) : all) };
}

/** The public JWK of a key, as upstream's JWKS shows it. */
export function publicJwk(k: VerificationKey): PublicJwk {
  const j = k.key.export({ format: 'jwk' }) as { kty: string; crv?: string; x?: string; y?: string; n?: string; e?: string };
  if (j.kty === 'RSA') return { use: 'sig', kty: 'RSA', kid: k.kid, alg: k.alg, n: j.n!, e: j.e! };
  return { use: 'sig', kty: 'EC', kid: k.kid, crv: j.crv!, alg: k.alg, x: j.x!, y: j.y! };
}

interface PemBlock {
  type: string;
  text: string;
}

const pemRe = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

function pemBlocks(pem: string): PemBlock[] {
  return [...pem.matchAll(pemRe)].map((m) => ({ type: m[1]!, text: m[0] }));
}

const privateTypes = new Set(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY']);
const publicTypes = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY', 'CERTIFICATE']);

function isRsaOrEc(k: KeyObject): boolean {
  return k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'ec';
}

/**
 * The private key of a PEM text (upstream's ParsePrivateKeyPEM): the first `RSA PRIVATE KEY`,
 * `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` block that holds an RSA or ECDSA key. Throws with
 * upstream's message when there is none.
 */
export function parseSigningKeyPem(pem: string): SigningKey {
  for (const b of pemBlocks(pem)) {
    if (!privateTypes.has(b.type)) continue;
    let k: KeyObject;
    try {
      k = createPrivateKey(b.text);
    } catch {
      continue;
    }
    if (!isRsaOrEc(k)) continue;
    try {
      return signingKey(k);
    } catch {
      continue;
    }
  }
  throw new Error('data does not contain a valid RSA or ECDSA private key');
}

/**
 * The public keys of a PEM text (upstream's ParsePublicKeysPEM): every block that is an RSA or
 * ECDSA public key, private key or certificate, in file order; other blocks skipped. Throws with
 * upstream's message when there is none.
 */
export function parsePublicKeysPem(pem: string): VerificationKey[] {
  const out: VerificationKey[] = [];
  for (const b of pemBlocks(pem)) {
    if (!privateTypes.has(b.type) && !publicTypes.has(b.type)) continue;
    try {
      const k = createPublicKey(b.text);
      if (isRsaOrEc(k)) out.push(verificationKey(k));
    } catch {
      // Not a key we can use: skipped, as upstream tolerates non-key blocks.
    }
  }
  if (out.length === 0) throw new Error('data does not contain any valid RSA or ECDSA public keys');
  return out;
}

/** Reads a --service-account-key-file (errors worded as kube-apiserver's). */
export async function readPublicKeysFile(file: string): Promise<VerificationKey[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`error reading public key file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parsePublicKeysPem(text);
  } catch (err) {
    throw new Error(`error reading public key file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a --service-account-signing-key-file (errors worded as kube-apiserver's). */
export async function readSigningKeyFile(file: string): Promise<SigningKey> {
  try {
    return parseSigningKeyPem(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`failed to parse service-account-issuer-key-file: ${(err as Error).message}`, { cause: err });
  }
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * The signing key in `dir/service-account.key`, created (RSA 2048, PKCS#8 PEM, mode 0600; `dir`
 * made 0700) when the file is missing. An existing file is used as it is, whatever its key type
 * (a file without a usable private key is an error, never overwritten). Creation is
 * create-if-absent (a hard link of a complete temporary file), so concurrent first calls all end
 * up with the one key that landed first.
 */
export async function loadOrCreateSigningKey(dir: string): Promise<SigningKey> {
  const file = path.join(dir, signingKeyFileName);
  const existing = await readFileIfExists(file);
  if (existing === undefined) {
    const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: rsaKeyBits });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, `.${signingKeyFileName}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const fh = await fs.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(pem);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.link(tmp, file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }
  const text = existing ?? (await fs.readFile(file, 'utf8'));
  try {
    return parseSigningKeyPem(text);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
}
