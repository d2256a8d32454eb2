/**
 * PKCS#10 certificate signing requests: make one (a fresh P-256 key and a CSR over it), read
 * one (subject, SANs, whether its self-signature holds), and issue a certificate for one with a
 * CA (the csrsigning controller's job). The issued certificate copies the request's subject byte
 * for byte and its DNS/IP/email/URI SANs; usages come from the CSR object's `spec.usages`, as
 * upstream's signer does, never from extensions inside the request.
 *
 * `@peculiar/x509` is loaded lazily through x509.ts (see there); nothing here runs at import.
 */
import type * as X509 from '@peculiar/x509';
import { createPrivateKey, getRandomValues, type webcrypto } from 'node:crypto';
import { loadX509, type CertAndKey, type Subject } from './x509.ts';
import { canonicalIP } from './sans.ts';

/** What a CSR asks for. SANs are split by type, as upstream's x509.CertificateRequest has them. */
export interface CsrFacts {
  commonName: string;
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  emailAddresses: string[];
  uris: string[];
  /** The request's self-signature verifies with its public key. */
  signatureValid: boolean;
}

export interface NewCsrOptions {
  subject: Subject;
  /** DNS names and IP addresses (IPs are recognized by form). */
  sans?: readonly string[];
}

/** A fresh ECDSA P-256 key (PKCS#8 PEM) and a CSR signed by it. */
export async function createCsr(opts: NewCsrOptions): Promise<{ csrPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const extensions: X509.Extension[] = [];
  if (opts.sans?.length) {
    extensions.push(new x509.SubjectAlternativeNameExtension(opts.sans.map((s) => (canonicalIP(s) ? { type: 'ip' as const, value: canonicalIP(s)! } : { type: 'dns' as const, value: s }))));
  }
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: nameOf(x509, opts.subject),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
    extensions,
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { csrPem: nl(csr.toString('pem')), keyPem: nl(x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')) };
}

/** Reads a PEM CSR ("CERTIFICATE REQUEST"). Throws when it does not parse. */
export async function readCsr(pem: string | Uint8Array): Promise<CsrFacts> {
  const x509 = await loadX509();
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map((m) => m[1]);
  if (blocks.length !== 1 || blocks[0] !== 'CERTIFICATE REQUEST') throw new Error('PEM block type must be CERTIFICATE REQUEST');
  const csr = new x509.Pkcs10CertificateRequest(text);
  const out: CsrFacts = { commonName: '', organizations: [], dnsNames: [], ipAddresses: [], emailAddresses: [], uris: [], signatureValid: false };
  for (const rdn of csr.subjectName.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      for (const v of values) {
        const s = typeof v === 'string' ? v : String(Object.values(v as object)[0] ?? '');
        if (type === 'CN') out.commonName = s;
        else if (type === 'O') out.organizations.push(s);
      }
    }
  }
  const san = sanOf(x509, csr);
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') out.dnsNames.push(n.value);
    else if (n.type === 'ip') out.ipAddresses.push(canonicalIP(n.value) ?? n.value);
    else if (n.type === 'email') out.emailAddresses.push(n.value);
    else if (n.type === 'url') out.uris.push(n.value);
  }
  try {
    out.signatureValid = await csr.verify();
  } catch {
    out.signatureValid = false;
  }
  return out;
}

/** Upstream's key usage names (certificates.k8s.io KeyUsage) that a certificate can carry. */
const keyUsageFlags: Record<string, number> = {
  'digital signature': 1,
  'content commitment': 2,
  'key encipherment': 4,
  'data encipherment': 8,
  'key agreement': 16,
  'cert sign': 32,
  'crl sign': 64,
  'encipher only': 128,
  'decipher only': 256,
};
const extKeyUsageOids: Record<string, string> = {
  'server auth': '1.3.6.1.5.5.7.3.1',
  'client auth': '1.3.6.1.5.5.7.3.2',
  'code signing': '1.3.6.1.5.5.7.3.3',
  'email protection': '1.3.6.1.5.5.7.3.4',
  'ipsec end system': '1.3.6.1.5.5.7.3.5',
  'ipsec tunnel': '1.3.6.1.5.5.7.3.6',
  'ipsec user': '1.3.6.1.5.5.7.3.7',
  timestamping: '1.3.6.1.5.5.7.3.8',
  'ocsp signing': '1.3.6.1.5.5.7.3.9',
  'netscape sgc': '2.16.840.1.113730.4.1',
  'microsoft sgc': '1.3.6.1.4.1.311.10.3.3',
};
/** Every usage name upstream accepts in spec.usages. */
export const knownUsages: ReadonlySet<string> = new Set([...Object.keys(keyUsageFlags), ...Object.keys(extKeyUsageOids), 'signing', 'any', 's/mime', 'ipsec user', 'email protection']);

export interface SignOptions {
  usages: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

/**
 * Issues a certificate for the CSR's public key, signed by `ca`: subject copied from the
 * request, SANs copied, key usage and extended key usage from `usages` ("signing" counts as
 * digital signature, as upstream's KeyUsage mapping does), not a CA. Throws when the request
 * does not parse or its signature does not verify.
 */
export async function signCsr(csrPem: string, ca: CertAndKey, opts: SignOptions): Promise<string> {
  const x509 = await loadX509();
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await csr.verify())) throw new Error('the request signature does not verify');
  const caCert = new x509.X509Certificate(ca.certPem);
  let flags = 0;
  const ekus: string[] = [];
  for (const u of opts.usages) {
    if (u === 'signing') flags |= keyUsageFlags['digital signature']!;
    else if (keyUsageFlags[u] !== undefined) flags |= keyUsageFlags[u]!;
    else if (extKeyUsageOids[u]) ekus.push(extKeyUsageOids[u]!);
  }
  const extensions: X509.Extension[] = [new x509.BasicConstraintsExtension(false, undefined, true)];
  if (flags) extensions.push(new x509.KeyUsagesExtension(flags, true));
  if (ekus.length) extensions.push(new x509.ExtendedKeyUsageExtension(ekus));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(csr.publicKey));
  const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  extensions.push(caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey));
  const san = sanOf(x509, csr);
  if (san && san.names.items.length) extensions.push(new x509.SubjectAlternativeNameExtension(san.names.toJSON()));
  const key = createPrivateKey(ca.keyPem);
  const signingKey = await key.toCryptoKey(importParams(key), false, ['sign']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: new x509.Name(csr.subjectName.toArrayBuffer()),
    issuer: new x509.Name(caCert.subjectName.toArrayBuffer()),
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: csr.publicKey,
    signingKey,
    signingAlgorithm: signingKey.algorithm.name === 'ECDSA' ? ({ name: 'ECDSA', hash: hashFor(signingKey.algorithm as webcrypto.EcKeyAlgorithm) } as webcrypto.EcdsaParams) : { name: signingKey.algorithm.name },
    extensions,
  });
  return nl(cert.toString('pem'));
}

/** The request's SAN extension (from its extensionRequest attribute), if any. */
function sanOf(x509: typeof X509, csr: X509.Pkcs10CertificateRequest): X509.SubjectAlternativeNameExtension | undefined {
  const e = csr.extensions.find((x) => x.type === '2.5.29.17');
  return e ? new x509.SubjectAlternativeNameExtension(e.rawData) : undefined;
}

function importParams(key: ReturnType<typeof createPrivateKey>): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const c = key.asymmetricKeyDetails?.namedCurve;
  return { name: 'ECDSA', namedCurve: c === 'secp384r1' ? 'P-384' : c === 'secp521r1' ? 'P-521' : 'P-256' };
}

function hashFor(alg: webcrypto.EcKeyAlgorithm): string {
  return alg.namedCurve === 'P-384' ? 'SHA-384' : alg.namedCurve === 'P-521' ? 'SHA-512' : 'SHA-256';
}

function nameOf(x509: typeof X509, s: Subject): X509.Name {
  return new x509.Name([...(s.organizations ?? []).map((o) => ({ O: [{ utf8String: o }] })), { CN: [{ utf8String: s.commonName }] }]);
}

function serial(): string {
  const b = getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x40;
  return Buffer.from(b).toString('hex');
}

function nl(s: string): string {
  const t = s.replace(/\r\n/g, '\n');
  return t.endsWith('\n') ? t : `${t}\n`;
}
