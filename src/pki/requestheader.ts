/**
 * The front-proxy (request-header) PKI that API aggregation uses, named as k3s names it: a CA of
 * its own (`request-header-ca.crt`/`.key`, upstream's --requestheader-client-ca-file) and the
 * API server's client certificate toward extension API servers (`client-auth-proxy.crt`/`.key`,
 * CN `system:auth-proxy`: upstream's --proxy-client-cert-file and the
 * requestheader-allowed-names the extension servers check). Extension servers learn both from
 * the `extension-apiserver-authentication` ConfigMap (src/aggregator/authconfigmap.ts).
 *
 * Like isolated.ts, certificates are made in a short-lived child process (the x509 library stays
 * out of the server's memory); a present pair that is valid, matches and is not near expiry is
 * only read. Not rotated while the server runs (a restart renews what is near expiry).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { caValidityDays, leafValidityDays, nearExpiry, type CertAndKey } from './index.ts';
import { addDays, backdateMs, certFacts, createCertificate, issuedBy, keyMatches } from './x509.ts';
import { writeFileAtomic } from '../util/fs.ts';

/** k3s's file base names and the proxy's user name. */
export const requestHeaderCaName = 'request-header-ca';
export const proxyClientName = 'client-auth-proxy';
export const proxyClientCommonName = 'system:auth-proxy';

export interface RequestHeaderPki {
  /** The CA extension servers check the proxy's client certificate against. */
  caCertPem: string;
  /** The API server's client certificate and key toward extension servers. */
  proxyClient: CertAndKey;
}

function readPair(dir: string, name: string): CertAndKey | undefined {
  try {
    return { certPem: fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8'), keyPem: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8') };
  } catch {
    return undefined;
  }
}

/** The stored pairs, when both are present, consistent and not near expiry. */
function usable(dir: string, now: Date): RequestHeaderPki | undefined {
  const ca = readPair(dir, requestHeaderCaName);
  const leaf = readPair(dir, proxyClientName);
  if (!ca || !leaf) return undefined;
  try {
    const caFacts = certFacts(ca.certPem);
    const leafFacts = certFacts(leaf.certPem);
    if (!caFacts.isCA || !keyMatches(ca.certPem, ca.keyPem) || !keyMatches(leaf.certPem, leaf.keyPem)) return undefined;
    if (!issuedBy(leaf.certPem, ca.certPem) || leafFacts.subject.commonName !== proxyClientCommonName) return undefined;
    if (nearExpiry(caFacts, now) || nearExpiry(leafFacts, now)) return undefined;
  } catch {
    return undefined;
  }
  return { caCertPem: ca.certPem, proxyClient: leaf };
}

/** Issues what is missing or unfit (in this process: the child's side). */
async function issue(dir: string, now: Date): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  let ca = readPair(dir, requestHeaderCaName);
  let caOk = false;
  try {
    caOk = !!ca && certFacts(ca.certPem).isCA && keyMatches(ca.certPem, ca.keyPem) && !nearExpiry(certFacts(ca.certPem), now);
  } catch {
    caOk = false;
  }
  if (!ca || !caOk) {
    ca = await createCertificate({ kind: 'ca', subject: { commonName: `bosun-request-header-ca@${Math.floor(now.getTime() / 1000)}` }, notBefore: new Date(now.getTime() - backdateMs), notAfter: addDays(now, caValidityDays) });
    await writePair(dir, requestHeaderCaName, ca);
  }
  const leaf = await createCertificate({ kind: 'client', subject: { commonName: proxyClientCommonName }, notBefore: new Date(now.getTime() - backdateMs), notAfter: addDays(now, leafValidityDays) }, ca);
  await writePair(dir, proxyClientName, leaf);
}

async function writePair(dir: string, name: string, pair: CertAndKey): Promise<void> {
  await writeFileAtomic(path.join(dir, `${name}.key`), pair.keyPem, { mode: 0o600 });
  await writeFileAtomic(path.join(dir, `${name}.crt`), pair.certPem, { mode: 0o644 });
}

/**
 * The request-header CA and the proxy client pair in `dir` (the data dir's tls folder), created
 * when missing or unfit. Idempotent; rejects when issuing fails.
 */
export async function ensureRequestHeaderPki(dir: string, log: (msg: string) => void = () => {}): Promise<RequestHeaderPki> {
  const now = new Date();
  const have = usable(dir, now);
  if (have) return have;
  log(`pki: issuing ${requestHeaderCaName}.crt and ${proxyClientName}.crt`);
  await new Promise<void>((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--issue-request-header', dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`request-header certificate issuing exited with ${code}`))));
  });
  const made = usable(dir, new Date());
  if (!made) throw new Error(`request-header certificates in ${dir} are not usable after issuing`);
  return made;
}

if (process.argv[2] === '--issue-request-header' && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  issue(process.argv[3]!, new Date()).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bosun: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
