/**
 * The cluster PKI: one CA, the API server's serving certificate, the admin client certificate,
 * and client (or serving) certificates for other components, all kept as PEM files in one
 * directory (the server passes `DATA_DIR/tls`):
 *
 *   ca.crt ca.key             cluster CA, ECDSA P-256, 10 years
 *   serving.crt serving.key   API server, serverAuth, 1 year, SANs from `servingSans`
 *   admin.crt admin.key       CN=system:admin O=system:masters, clientAuth, 1 year
 *   NAME.crt NAME.key         issued on demand by `issueClientCert` / `issueServingCert`
 *
 * Keys are written 0600, certificates 0644, each file atomically, key before certificate (a
 * crash between the two leaves a pair that fails the key check and is reissued).
 *
 * Reuse rules (level-based: every call recomputes what should exist and fixes the difference):
 * - The CA is created when ca.crt is absent, and replaced when it expires within 30 days. A CA
 *   whose files are present but unreadable, whose key is missing or does not match, or that is
 *   not a CA, is an error (ERR_INVALID_CONFIG): replacing it silently would break every client
 *   that trusts it. Delete the files to start over.
 * - A leaf is reissued when missing or unparsable, when its key does not match, when it was not
 *   issued by the current CA, when its subject, usage or SAN set differs from the wanted one,
 *   when it is not yet valid, or when it is near expiry: within 30 days, or within the last 10 %
 *   of its validity when that is shorter (short-lived test certificates). Otherwise it is reused
 *   as is. `renew` forces a new pair whatever the old one is (rotation while running,
 *   rotation.ts). New leaves live `leafLifetimeSeconds` (default 365 days), never past the CA.
 *
 * Calls for the same directory are serialized within the process. Two processes sharing one
 * directory are not coordinated (the last writer wins; the next start repairs a mixed pair).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BosunError } from '../util/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../util/fs.ts';
import { addDays, backdateMs, certFacts, createCertificate, daysLeft, issuedBy, keyMatches, type CertAndKey, type CertKind, type Subject } from './x509.ts';
import { hostAddresses, parseSan, sameSans, servingSans, type San } from './sans.ts';

export { kubeconfigYaml, type KubeconfigOptions } from './kubeconfig.ts';
export { userFromCertificate, type CertificateInput, type CertificateUser } from './user.ts';
export { writeFileAtomic } from '../util/fs.ts';
export type { CertAndKey } from './x509.ts';
export { defaultApiServiceIP, hostAddresses, kubernetesServiceNames, servingSans, type San } from './sans.ts';

export interface Pki {
  /** The directory holding the files. */
  dir: string;
  caCertPem: string;
  caKeyPem: string;
  servingCertPem: string;
  servingKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
}

export interface EnsurePkiOptions {
  /** Extra SANs (`--tls-san`): DNS names or IP addresses. */
  sans?: string[];
  /** Host names of this machine. Default: `[os.hostname()]`. Invalid ones are left out (and logged), not an error. */
  hostnames?: string[];
  /** Addresses of this machine. Default: `hostAddresses()` (non-internal, non-link-local). */
  addresses?: string[];
  /** ClusterIP of the `kubernetes` service. Default 10.43.0.1. */
  apiServiceIP?: string;
  /** The clock. Default: the system clock. */
  now?: () => Date;
  /** Told when something is (re)issued, with the reason. */
  log?: (msg: string) => void;
  /** Leaves to reissue even when fit for use: 'serving', 'admin'. */
  renew?: readonly string[];
  /** Validity of leaves issued now; default `leafValidityDays`. For tests (rotation.ts). */
  leafLifetimeSeconds?: number;
}

export const caValidityDays = 3650;
export const leafValidityDays = 365;
/** A certificate expiring within this many days is replaced. */
export const renewBeforeDays = 30;
/** ... or within this share of its validity, when that is less (short-lived certificates). */
export const renewBeforeFraction = 0.1;

/** File base names the PKI uses itself; `issueClientCert` refuses them. */
const reservedNames = new Set(['ca', 'serving', 'admin']);

/**
 * Makes sure the CA, the serving certificate and the admin certificate exist in `dir` and are
 * fit for use (see the file comment for the rules), creating `dir` (0700) if needed. Idempotent:
 * a second call with the same options rewrites nothing. Throws ERR_INVALID_CONFIG for a
 * malformed extra SAN (`sans`) or a broken CA; file-system errors are thrown as they are.
 */
export async function ensurePki(dir: string, opts: EnsurePkiOptions = {}): Promise<Pki> {
  const now = opts.now ?? (() => new Date());
  const log = opts.log ?? (() => {});
  const hostnames = (opts.hostnames ?? [os.hostname()]).filter((h) => {
    const ok = isValidSan(h);
    if (!ok) log(`pki: host name ${JSON.stringify(h)} is not a valid DNS name; left out of the serving certificate`);
    return ok;
  });
  const sans = servingSans({ sans: opts.sans, hostnames, addresses: opts.addresses ?? hostAddresses(), apiServiceIP: opts.apiServiceIP });
  return withDirLock(dir, async () => {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const ca = await ensureCa(dir, now(), log);
    const leaf = (name: string) => ({ now: now(), log, renew: opts.renew?.includes(name) ?? false, lifetimeSeconds: opts.leafLifetimeSeconds });
    const [serving, admin] = await Promise.all([
      ensureLeaf(dir, 'serving', ca, { kind: 'server', subject: { commonName: 'kube-apiserver' }, sans }, leaf('serving')),
      ensureLeaf(dir, 'admin', ca, { kind: 'client', subject: { commonName: 'system:admin', organizations: ['system:masters'] } }, leaf('admin')),
    ]);
    return {
      dir,
      caCertPem: ca.certPem,
      caKeyPem: ca.keyPem,
      servingCertPem: serving.certPem,
      servingKeyPem: serving.keyPem,
      adminCertPem: admin.certPem,
      adminKeyPem: admin.keyPem,
    };
  });
}

export interface ClientCertOptions {
  /** File base name: NAME.crt / NAME.key. Letters, digits, '.', '_', '-'; not ca, serving, admin. */
  name: string;
  /** Becomes the user name (e.g. system:kube-controller-manager, system:node:NAME). */
  commonName: string;
  /** Become the groups (e.g. system:nodes). */
  organizations?: string[];
  now?: () => Date;
  log?: (msg: string) => void;
  /** Issue a new pair even when the stored one is fit for use. */
  renew?: boolean;
  /** Validity of a pair issued now; default `leafValidityDays`. */
  leafLifetimeSeconds?: number;
}

/**
 * A client certificate (clientAuth) signed by `pki`'s CA, cached on disk in `pki.dir` as
 * NAME.crt / NAME.key: the same call returns the same pair until it is due for renewal, its
 * subject changes, or the CA changes. Throws ERR_INVALID_CONFIG for a bad or reserved name or
 * an empty common name.
 */
export async function issueClientCert(pki: Pki, opts: ClientCertOptions): Promise<CertAndKey> {
  checkName(opts.name);
  if (!opts.commonName) throw new BosunError('ERR_INVALID_CONFIG', `client certificate ${opts.name} needs a common name`);
  const spec: LeafSpec = { kind: 'client', subject: { commonName: opts.commonName, organizations: opts.organizations ?? [] } };
  return withDirLock(pki.dir, () => ensureLeaf(pki.dir, opts.name, caOf(pki), spec, leafOptions(opts)));
}

export interface ServingCertOptions {
  /** File base name, as for `issueClientCert`. */
  name: string;
  commonName: string;
  /** DNS names and IP addresses; at least one. */
  sans: string[];
  now?: () => Date;
  log?: (msg: string) => void;
  /** Issue a new pair even when the stored one is fit for use. */
  renew?: boolean;
  /** Validity of a pair issued now; default `leafValidityDays`. */
  leafLifetimeSeconds?: number;
}

/**
 * A serving certificate (serverAuth) signed by the cluster CA for another component (e.g. a
 * kubelet's HTTPS endpoint), cached on disk by name like `issueClientCert`; reissued when its
 * SAN set changes. Throws ERR_INVALID_CONFIG for a bad or reserved name or a malformed SAN.
 */
export async function issueServingCert(pki: Pki, opts: ServingCertOptions): Promise<CertAndKey> {
  checkName(opts.name);
  if (opts.sans.length === 0) throw new BosunError('ERR_INVALID_CONFIG', `serving certificate ${opts.name} needs at least one SAN`);
  const sans = dedupe(opts.sans.map(parseSan));
  const spec: LeafSpec = { kind: 'server', subject: { commonName: opts.commonName }, sans };
  return withDirLock(pki.dir, () => ensureLeaf(pki.dir, opts.name, caOf(pki), spec, leafOptions(opts)));
}

// ---- internals ----

interface LeafSpec {
  kind: Exclude<CertKind, 'ca'>;
  subject: Subject;
  sans?: San[];
}

interface LeafOptions {
  now: Date;
  log: (msg: string) => void;
  renew: boolean;
  lifetimeSeconds: number | undefined;
}

function leafOptions(opts: { now?: () => Date; log?: (msg: string) => void; renew?: boolean; leafLifetimeSeconds?: number }): LeafOptions {
  return { now: (opts.now ?? (() => new Date()))(), log: opts.log ?? (() => {}), renew: opts.renew ?? false, lifetimeSeconds: opts.leafLifetimeSeconds };
}

/**
 * Whether a certificate valid from `notBefore` to `notAfter` is near enough to its end to be
 * replaced at start: within `renewBeforeDays`, or within `renewBeforeFraction` of its validity
 * when that is shorter.
 */
export function nearExpiry(validity: { notBefore: Date; notAfter: Date }, now: Date): boolean {
  const total = validity.notAfter.getTime() - validity.notBefore.getTime();
  const before = Math.min(renewBeforeDays * 86_400_000, total * renewBeforeFraction);
  return validity.notAfter.getTime() - now.getTime() <= before;
}

function caOf(pki: Pki): CertAndKey {
  return { certPem: pki.caCertPem, keyPem: pki.caKeyPem };
}

async function ensureCa(dir: string, now: Date, log: (msg: string) => void): Promise<CertAndKey> {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  const certPem = await readFileIfExists(certFile);
  if (certPem !== undefined) {
    const keyPem = await readFileIfExists(keyFile);
    const broken = (why: string) => new BosunError('ERR_INVALID_CONFIG', `cluster CA in ${dir}: ${why}; remove ca.crt and ca.key to create a new CA (clients must then be given the new ca.crt)`);
    if (keyPem === undefined) throw broken('ca.crt exists but ca.key is missing');
    let facts;
    try {
      facts = certFacts(certPem);
    } catch (err) {
      throw broken(`ca.crt does not parse (${(err as Error).message})`);
    }
    if (!facts.isCA) throw broken('ca.crt is not a CA certificate');
    if (!keyMatches(certPem, keyPem)) throw broken('ca.key does not match ca.crt');
    if (daysLeft(facts.notAfter, now) > renewBeforeDays) return { certPem, keyPem };
    log(`pki: the cluster CA expires ${facts.notAfter.toISOString()}; creating a new one`);
  } else {
    log('pki: creating the cluster CA');
  }
  const ca = await createCertificate({
    kind: 'ca',
    subject: { commonName: `bosun-ca@${Math.floor(now.getTime() / 1000)}` },
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter: addDays(now, caValidityDays),
  });
  await writePair(dir, 'ca', ca);
  return ca;
}

async function ensureLeaf(dir: string, name: string, ca: CertAndKey, spec: LeafSpec, opts: LeafOptions): Promise<CertAndKey> {
  const { now, log } = opts;
  const [certPem, keyPem] = await Promise.all([readFileIfExists(path.join(dir, `${name}.crt`)), readFileIfExists(path.join(dir, `${name}.key`))]);
  const why = certPem === undefined || keyPem === undefined ? 'missing' : (whyReissue({ certPem, keyPem }, ca, spec, now) ?? (opts.renew ? 'rotation' : undefined));
  if (!why) return { certPem: certPem!, keyPem: keyPem! };
  log(`pki: issuing ${name}.crt (${why})`);
  const caNotAfter = certFacts(ca.certPem).notAfter;
  const lifetimeMs = opts.lifetimeSeconds !== undefined ? opts.lifetimeSeconds * 1000 : leafValidityDays * 86_400_000;
  const wanted = new Date(now.getTime() + lifetimeMs);
  // Backdated for clock skew, but never by more than a tenth of a short test lifetime (the
  // rotation schedule counts from notBefore).
  const backdate = Math.min(backdateMs, lifetimeMs / 10);
  const pair = await createCertificate(
    { ...spec, notBefore: new Date(now.getTime() - backdate), notAfter: wanted < caNotAfter ? wanted : caNotAfter },
    ca,
  );
  await writePair(dir, name, pair);
  return pair;
}

/**
 * Why a stored leaf pair does not match what is wanted (unparsable, key, issuer, subject, SANs
 * when given), or undefined. Callers add their own rules on validity and renewal.
 */
export function pairMismatch(pair: CertAndKey, want: { caPem: string; commonName: string; organizations: readonly string[]; sans?: readonly San[] }): string | undefined {
  let f;
  try {
    f = certFacts(pair.certPem);
  } catch {
    return 'unparsable';
  }
  if (!keyMatches(pair.certPem, pair.keyPem)) return 'key does not match';
  if (!issuedBy(pair.certPem, want.caPem)) return 'not issued by the current CA';
  if (f.subject.commonName !== want.commonName || !sameList(f.subject.organizations, want.organizations)) return 'subject changed';
  if (want.sans && !sameSans(f.sans, want.sans)) return 'SANs changed';
  return undefined;
}

/** Why an existing pair must be replaced, or undefined when it is fit for use. */
function whyReissue(pair: CertAndKey, ca: CertAndKey, spec: LeafSpec, now: Date): string | undefined {
  const mismatch = pairMismatch(pair, { caPem: ca.certPem, commonName: spec.subject.commonName, organizations: spec.subject.organizations ?? [], sans: spec.kind === 'server' ? (spec.sans ?? []) : undefined });
  if (mismatch) return mismatch;
  const f = certFacts(pair.certPem);
  if (f.isCA) return 'is a CA';
  if (spec.kind === 'server' ? !f.serverAuth : !f.clientAuth) return 'wrong usage';
  if (f.notBefore.getTime() > now.getTime()) return 'not yet valid';
  if (nearExpiry(f, now)) return `expires ${f.notAfter.toISOString()}`;
  return undefined;
}

async function writePair(dir: string, name: string, pair: CertAndKey): Promise<void> {
  await writeFileAtomic(path.join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
  await writeFileAtomic(path.join(dir, `${name}.crt`), pair.certPem, { mode: 0o644 });
}

function isValidSan(text: string): boolean {
  try {
    parseSan(text);
    return true;
  } catch {
    return false;
  }
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/.test(name) || reservedNames.has(name)) {
    throw new BosunError('ERR_INVALID_CONFIG', `invalid certificate name ${JSON.stringify(name)}`);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dedupe(sans: San[]): San[] {
  const seen = new Set<string>();
  return sans.filter((s) => {
    const k = `${s.type}:${s.value}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const locks = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call for the same directory has settled (within this process). */
export function withDirLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(dir);
  const run = (locks.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.then(
    () => {},
    () => {},
  );
  locks.set(key, tail);
  void tail.then(() => {
    if (locks.get(key) === tail) locks.delete(key);
  });
  return run;
}
