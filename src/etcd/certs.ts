/**
 * The PKI of a Bosun-managed etcd member, in k3s's layout and roles (k3s
 * pkg/daemons/control/deps: genETCDCerts; pkg/server/cert.go), under DATA_DIR/server/tls/etcd:
 *
 *   server-ca.crt/.key           CA of the client-facing TLS (members' serving certs, client certs)
 *   peer-ca.crt/.key             CA of the peer TLS
 *   server-client.crt/.key       the member's serving cert, CN etcd-server, serverAuth+clientAuth,
 *                                SANs localhost, 127.0.0.1, the host names and IPs
 *   client.crt/.key              the API server's client cert to etcd, CN etcd-client, clientAuth
 *   peer-server-client.crt/.key  the peer cert, CN etcd-peer, serverAuth+clientAuth, same SANs
 *
 * Both CAs are shared by every member of a cluster: a joining server receives exactly
 * server-ca.crt, server-ca.key, peer-ca.crt, peer-ca.key through the bootstrap data before calling
 * `ensureEtcdPki`, so those names are part of the contract. CAs are created only when absent and
 * never replaced silently (a broken CA is ERR_INVALID_CONFIG: replacing it would cut this member
 * off its peers). Leaves are level-based like src/pki: reissued when missing, unparsable, not
 * matching their key, not issued by the current CA, with another subject, usage or SAN set, not
 * yet valid, or near expiry (src/pki `nearExpiry`); otherwise left untouched.
 *
 * Departure from src/pki: etcd presents its serving and peer certificates as client certificates
 * too (peer dialing; the grpc gateway dialing its own member), so those two leaves carry both
 * serverAuth and clientAuth. src/pki/x509.ts `createCertificate` makes single-usage leaves only,
 * hence the small `createDualUseLeaf` here on the same library (`loadX509`); it can go once
 * x509.ts gains a two-usage kind.
 *
 * Keys 0600, certificates 0644, directory 0700; each file written atomically, key first.
 * Calls for one directory are serialized within the process.
 */
import type * as X509 from '@peculiar/x509';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createPrivateKey, getRandomValues, type webcrypto } from 'node:crypto';
import { BosunError } from '../util/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../util/fs.ts';
import { addDays, backdateMs, certFacts, createCertificate, keyMatches, loadX509, type CertAndKey } from '../pki/x509.ts';
import { nearExpiry, pairMismatch, caValidityDays, leafValidityDays, withDirLock } from '../pki/index.ts';
import { parseSan, sanKey, type San } from '../pki/sans.ts';

/** Paths of the member's PKI files (absolute when `dir` is). */
export interface EtcdPki {
  dir: string;
  serverCaFile: string;
  serverCaKeyFile: string;
  peerCaFile: string;
  peerCaKeyFile: string;
  /** The member's serving certificate (client port). */
  serverCertFile: string;
  serverKeyFile: string;
  /** The API server's client certificate (CN etcd-client). */
  clientCertFile: string;
  clientKeyFile: string;
  /** The peer certificate (peer port, both directions). */
  peerCertFile: string;
  peerKeyFile: string;
}

export interface EnsureEtcdPkiOptions {
  /** Host names of this server; they join localhost in the SANs. */
  hostnames: string[];
  /** Addresses of this server; they join 127.0.0.1 in the SANs. */
  ips: string[];
  now?: () => Date;
  log?: (msg: string) => void;
}

/** The CA file names the bootstrap data carries between servers; do not rename. */
export const etcdCaFiles = ['server-ca.crt', 'server-ca.key', 'peer-ca.crt', 'peer-ca.key'] as const;

/** The file paths `ensureEtcdPki` writes for `dir`, without touching the disk. */
export function etcdPkiPaths(dir: string): EtcdPki {
  const f = (n: string) => path.join(dir, n);
  return {
    dir,
    serverCaFile: f('server-ca.crt'),
    serverCaKeyFile: f('server-ca.key'),
    peerCaFile: f('peer-ca.crt'),
    peerCaKeyFile: f('peer-ca.key'),
    serverCertFile: f('server-client.crt'),
    serverKeyFile: f('server-client.key'),
    clientCertFile: f('client.crt'),
    clientKeyFile: f('client.key'),
    peerCertFile: f('peer-server-client.crt'),
    peerKeyFile: f('peer-server-client.key'),
  };
}

/**
 * Makes sure both CAs and the three leaves exist in `dir` and are fit for use (rules in the file
 * comment). Idempotent: a second call with the same names rewrites nothing. Throws
 * ERR_INVALID_CONFIG for a malformed host name or IP, or a broken CA.
 */
export async function ensureEtcdPki(dir: string, opts: EnsureEtcdPkiOptions): Promise<EtcdPki> {
  const now = opts.now ?? (() => new Date());
  const log = opts.log ?? (() => {});
  const sans = dedupe([parseSan('localhost'), parseSan('127.0.0.1'), ...opts.hostnames.map(parseSan), ...opts.ips.map(parseSan)]);
  const paths = etcdPkiPaths(dir);
  return withDirLock(dir, async () => {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700);
    const serverCa = await ensureCa(dir, 'server-ca', 'etcd-server-ca', now(), log);
    const peerCa = await ensureCa(dir, 'peer-ca', 'etcd-peer-ca', now(), log);
    await ensureLeaf(dir, 'server-client', serverCa, { commonName: 'etcd-server', server: true, client: true, sans }, now(), log);
    await ensureLeaf(dir, 'client', serverCa, { commonName: 'etcd-client', server: false, client: true }, now(), log);
    await ensureLeaf(dir, 'peer-server-client', peerCa, { commonName: 'etcd-peer', server: true, client: true, sans }, now(), log);
    return paths;
  });
}

// ---- internals ----

interface LeafWant {
  commonName: string;
  server: boolean;
  client: boolean;
  sans?: San[];
}

async function ensureCa(dir: string, name: string, cn: string, now: Date, log: (msg: string) => void): Promise<CertAndKey> {
  const [certPem, keyPem] = await Promise.all([readFileIfExists(path.join(dir, `${name}.crt`)), readFileIfExists(path.join(dir, `${name}.key`))]);
  if (certPem !== undefined || keyPem !== undefined) {
    const broken = (why: string) => new BosunError('ERR_INVALID_CONFIG', `etcd ${name} in ${dir}: ${why}; every etcd member must share this CA: copy ${name}.crt and ${name}.key from another server, or remove them on a new cluster`);
    if (certPem === undefined) throw broken(`${name}.key exists but ${name}.crt is missing`);
    if (keyPem === undefined) throw broken(`${name}.crt exists but ${name}.key is missing`);
    let facts;
    try {
      facts = certFacts(certPem);
    } catch (err) {
      throw broken(`${name}.crt does not parse (${(err as Error).message})`);
    }
    if (!facts.isCA) throw broken(`${name}.crt is not a CA certificate`);
    if (!keyMatches(certPem, keyPem)) throw broken(`${name}.key does not match ${name}.crt`);
    if (nearExpiry(facts, now)) log(`etcd pki: ${name}.crt expires ${facts.notAfter.toISOString()}; it is shared by all members and must be rotated by hand`);
    return { certPem, keyPem };
  }
  log(`etcd pki: creating ${name}.crt`);
  const ca = await createCertificate({
    kind: 'ca',
    subject: { commonName: `${cn}@${Math.floor(now.getTime() / 1000)}` },
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter: addDays(now, caValidityDays),
  });
  await writePair(dir, name, ca);
  return ca;
}

async function ensureLeaf(dir: string, name: string, ca: CertAndKey, want: LeafWant, now: Date, log: (msg: string) => void): Promise<void> {
  const [certPem, keyPem] = await Promise.all([readFileIfExists(path.join(dir, `${name}.crt`)), readFileIfExists(path.join(dir, `${name}.key`))]);
  const why = certPem === undefined || keyPem === undefined ? 'missing' : whyReissue({ certPem, keyPem }, ca, want, now);
  if (!why) return;
  log(`etcd pki: issuing ${name}.crt (${why})`);
  const caNotAfter = certFacts(ca.certPem).notAfter;
  const wanted = addDays(now, leafValidityDays);
  const validity = { notBefore: new Date(now.getTime() - backdateMs), notAfter: wanted < caNotAfter ? wanted : caNotAfter };
  const pair =
    want.server && want.client
      ? await createDualUseLeaf({ commonName: want.commonName, sans: want.sans ?? [], ...validity }, ca)
      : await createCertificate({ kind: want.server ? 'server' : 'client', subject: { commonName: want.commonName }, sans: want.sans, ...validity }, ca);
  await writePair(dir, name, pair);
}

function whyReissue(pair: CertAndKey, ca: CertAndKey, want: LeafWant, now: Date): string | undefined {
  const mismatch = pairMismatch(pair, { caPem: ca.certPem, commonName: want.commonName, organizations: [], sans: want.sans ?? [] });
  if (mismatch) return mismatch;
  const f = certFacts(pair.certPem);
  if (f.isCA) return 'is a CA';
  if (f.serverAuth !== want.server || f.clientAuth !== want.client) return 'wrong usage';
  if (f.notBefore.getTime() > now.getTime()) return 'not yet valid';
  if (nearExpiry(f, now)) return `expires ${f.notAfter.toISOString()}`;
  return undefined;
}

/**
 * A P-256 leaf with both serverAuth and clientAuth, signed by `issuer` (an EC P-256/384/521 CA,
 * which is what this PKI creates). Extensions as src/pki/x509.ts sets them for leaves.
 */
async function createDualUseLeaf(spec: { commonName: string; sans: readonly San[]; notBefore: Date; notAfter: Date }, issuer: CertAndKey): Promise<CertAndKey> {
  const x509 = await loadX509();
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caCert = new x509.X509Certificate(issuer.certPem);
  const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const caKey = createPrivateKey(issuer.keyPem);
  const curve = caKey.asymmetricKeyDetails?.namedCurve;
  const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
  if (caKey.asymmetricKeyType !== 'ec' || !namedCurve) throw new BosunError('ERR_INVALID_CONFIG', 'etcd CA keys must be ECDSA (P-256, P-384 or P-521)');
  const signingKey = await caKey.toCryptoKey({ name: 'ECDSA', namedCurve }, false, ['sign']);
  const hash = namedCurve === 'P-384' ? 'SHA-384' : namedCurve === 'P-521' ? 'SHA-512' : 'SHA-256';
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    caSki ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (spec.sans.length) extensions.push(new x509.SubjectAlternativeNameExtension(spec.sans.map((s) => ({ type: s.type, value: s.value }))));
  const serial = getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(serial).toString('hex'),
    subject: new x509.Name([{ CN: [{ utf8String: spec.commonName }] }]),
    issuer: new x509.Name(caCert.subjectName.toArrayBuffer()),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: { name: 'ECDSA', hash } as webcrypto.EcdsaParams,
    extensions,
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: withNewline(cert.toString('pem')), keyPem: withNewline(x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')) };
}

async function writePair(dir: string, name: string, pair: CertAndKey): Promise<void> {
  await writeFileAtomic(path.join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
  await writeFileAtomic(path.join(dir, `${name}.crt`), pair.certPem, { mode: 0o644 });
}

function withNewline(s: string): string {
  const t = s.replace(/\r\n/g, '\n');
  return t.endsWith('\n') ? t : `${t}\n`;
}

function dedupe(sans: San[]): San[] {
  const seen = new Set<string>();
  return sans.filter((s) => !seen.has(sanKey(s)) && seen.add(sanKey(s)));
}

