/**
 * Certificate primitives: make a key and a certificate (a self-signed CA, or a server or client
 * leaf signed by a CA), and read back the facts the PKI decides on (subject, SANs, usages,
 * validity, who issued it, whether a key matches).
 *
 * Making uses `@peculiar/x509` over WebCrypto; reading uses only Node's `crypto.X509Certificate`
 * (plus der.ts for the subject). The library costs ~90 ms to load, so it is imported lazily, on
 * the first certificate to create: a restart that finds everything valid never loads it.
 * This is the only module that imports `@peculiar/x509`, and it loads the Reflect shim first.
 *
 * New keys are ECDSA P-256, signatures ECDSA with SHA-256 (a CA key may also be RSA or another
 * EC curve, for a CA brought from elsewhere). Keys are written as PKCS#8 PEM ("PRIVATE KEY"),
 * which Node's TLS and Go's crypto/tls (kubectl) both read. Name attributes are UTF8String.
 */
import type * as X509 from '@peculiar/x509';
import { X509Certificate as NodeX509, createPrivateKey, getRandomValues, type KeyObject, type webcrypto } from 'node:crypto';
import { canonicalIP, type San } from './sans.ts';
import { oidCommonName, oidOrganization, subjectAttributes } from './der.ts';

let loading: Promise<typeof X509> | undefined;

/** Loads `@peculiar/x509` once (after the Reflect shim) and points it at Node's WebCrypto. */
export function loadX509(): Promise<typeof X509> {
  loading ??= (async () => {
    await import('./reflect.ts');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(globalThis.crypto);
    return lib;
  })();
  return loading;
}

const newKeyParams: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

const DAY_MS = 24 * 60 * 60 * 1000;
/** Certificates start this much before "now", so a peer whose clock is a little behind accepts them. */
export const backdateMs = 5 * 60 * 1000;

export interface Subject {
  commonName: string;
  /** O attributes, in order; they become the groups of a client certificate's user. */
  organizations?: readonly string[];
}

export type CertKind = 'ca' | 'server' | 'client';

export interface CertSpec {
  kind: CertKind;
  subject: Subject;
  /** Subject alternative names (server certificates). */
  sans?: readonly San[];
  notBefore: Date;
  notAfter: Date;
}

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

/**
 * Generates a fresh P-256 key and a certificate for it: self-signed when `issuer` is absent
 * (kind 'ca'), otherwise signed by the issuer's key with the issuer's subject as its issuer
 * name (byte for byte, so chain building by name works in Go and OpenSSL alike).
 */
export async function createCertificate(spec: CertSpec, issuer?: CertAndKey): Promise<CertAndKey> {
  const x509 = await loadX509();
  const keys = (await crypto.subtle.generateKey(newKeyParams, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const subject = makeName(x509, spec.subject);
  const extensions: X509.Extension[] = [];
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  if (spec.kind === 'ca') {
    extensions.push(
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ski,
    );
  } else {
    // keyEncipherment is for RSA key transport only; these keys are ECDSA.
    extensions.push(
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([spec.kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      ski,
    );
  }
  if (spec.sans?.length) extensions.push(new x509.SubjectAlternativeNameExtension(spec.sans.map((s) => ({ type: s.type, value: s.value }))));

  let cert: X509.X509Certificate;
  if (!issuer) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: subject,
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      keys,
      signingAlgorithm: signingAlgorithmFor(keys.privateKey.algorithm),
      extensions,
    });
  } else {
    const caCert = new x509.X509Certificate(issuer.certPem);
    const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
    extensions.push(caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey));
    const signingKey = await importSigningKey(issuer.keyPem);
    cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: new x509.Name(caCert.subjectName.toArrayBuffer()),
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: signingAlgorithmFor(signingKey.algorithm),
      extensions,
    });
  }
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: withNewline(cert.toString('pem')), keyPem: withNewline(x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')) };
}

/** What a certificate says, in the terms the PKI compares. Throws when the PEM does not parse. */
export interface CertFacts {
  subject: { commonName: string; organizations: string[] };
  sans: San[];
  isCA: boolean;
  serverAuth: boolean;
  clientAuth: boolean;
  notBefore: Date;
  notAfter: Date;
}

export function certFacts(certPem: string | Uint8Array): CertFacts {
  const c = new NodeX509(certPem);
  const subject = subjectOf(c.raw);
  const eku = c.keyUsage ?? [];
  return {
    subject: { commonName: subject.commonName ?? '', organizations: subject.organizations },
    sans: parseSubjectAltName(c.subjectAltName ?? ''),
    isCA: c.ca,
    serverAuth: eku.includes(oidServerAuth),
    clientAuth: eku.includes(oidClientAuth),
    notBefore: c.validFromDate,
    notAfter: c.validToDate,
  };
}

const oidServerAuth = '1.3.6.1.5.5.7.3.1';
const oidClientAuth = '1.3.6.1.5.5.7.3.2';

/**
 * CN and O of a DER certificate's subject. With several CN attributes the last one counts, as
 * in Go's pkix.Name; O values keep their order. Throws on malformed DER.
 */
export function subjectOf(der: Uint8Array): { commonName: string | undefined; organizations: string[] } {
  let commonName: string | undefined;
  const organizations: string[] = [];
  for (const a of subjectAttributes(der)) {
    if (a.oid === oidCommonName) commonName = a.value;
    else if (a.oid === oidOrganization) organizations.push(a.value);
  }
  return { commonName, organizations };
}

/**
 * Node's `subjectAltName` text ("DNS:a, IP Address:1.2.3.4"; values with special characters
 * JSON-quoted) as SANs. Entries of other types are returned with type 'dns' and a value no
 * valid DNS name can have, so a comparison with a wanted set fails rather than passes.
 */
function parseSubjectAltName(text: string): San[] {
  const out: San[] = [];
  const re = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of text.matchAll(re)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    if (m[1] === 'DNS') out.push({ type: 'dns', value: value.toLowerCase() });
    else if (m[1] === 'IP Address') out.push({ type: 'ip', value: canonicalIP(value) ?? value });
    else out.push({ type: 'dns', value: `${m[1]}:${value}` });
  }
  return out;
}

/** True when `keyPem` is the private key of `certPem`. False (never throws) on unparsable input. */
export function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new NodeX509(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when `certPem` names `caPem` as issuer and carries a valid signature by its key. */
export function issuedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new NodeX509(certPem);
    const ca = new NodeX509(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** Whole days from `now` until `notAfter` (negative once expired). */
export function daysLeft(notAfter: Date, now: Date): number {
  return (notAfter.getTime() - now.getTime()) / DAY_MS;
}

export function addDays(d: Date, days: number): Date {
  return new Date(d.getTime() + days * DAY_MS);
}

function makeName(x509: typeof X509, s: Subject): X509.Name {
  return new x509.Name([...(s.organizations ?? []).map((o) => ({ O: [{ utf8String: o }] })), { CN: [{ utf8String: s.commonName }] }]);
}

/** 16 random bytes as a positive integer with its top byte non-zero (fixed-length DER). */
function randomSerial(): string {
  const b = getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x40;
  return Buffer.from(b).toString('hex');
}

async function importSigningKey(pem: string): Promise<webcrypto.CryptoKey> {
  const key = createPrivateKey(pem);
  return key.toCryptoKey(importParamsFor(key), false, ['sign']);
}

function importParamsFor(key: KeyObject): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
    if (namedCurve) return { name: 'ECDSA', namedCurve };
  }
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new Error(`unsupported CA key type ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}`);
}

function signingAlgorithmFor(alg: webcrypto.KeyAlgorithm): webcrypto.Algorithm | webcrypto.EcdsaParams {
  if (alg.name === 'ECDSA') {
    const curve = (alg as webcrypto.EcKeyAlgorithm).namedCurve;
    return { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : curve === 'P-521' ? 'SHA-512' : 'SHA-256' } as webcrypto.EcdsaParams;
  }
  return { name: alg.name };
}

function withNewline(s: string): string {
  const t = s.replace(/\r\n/g, '\n');
  return t.endsWith('\n') ? t : `${t}\n`;
}
