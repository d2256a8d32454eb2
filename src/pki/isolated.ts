/**
 * PKI set-up in a child process: making certificates loads `@peculiar/x509` and its WebCrypto
 * machinery (some 10 MB that a long-running server would keep for good; a worker thread does
 * not give it back to the system either). When files are missing, `ensurePkiIsolated` issues
 * them in a short-lived child process and then reads them here; when everything is present and
 * none is near expiry it only reads. Same results and rules as `ensurePki` + `issueClientCert`.
 * `reissueIsolated` forces new pairs for some leaves, also in a child process: the server's
 * rotation (rotation.ts) uses it, so a long-running server never loads the library either.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensurePki, issueClientCert, issueServingCert, nearExpiry, type CertAndKey, type Pki } from './index.ts';
import { certFacts } from './x509.ts';

export interface IsolatedPkiRequest {
  dir: string;
  sans: string[];
  hostnames: string[];
  /** Client certificates to issue as well: file name and subject. */
  clients: { name: string; commonName: string; organizations?: string[] }[];
  /** Serving certificates for other components (a node agent's HTTPS endpoint). */
  servings?: { name: string; commonName: string; sans: string[] }[];
  /**
   * Only issue `clients` and `servings` with the existing CA; never create or renew the CA,
   * the API server's serving certificate or the admin one (a node agent beside a server).
   */
  leavesOnly?: boolean;
  /** Leaves (file base names) to reissue even when fit for use; done in the child process only. */
  renew?: string[];
  /** Validity of leaves issued now (seconds); default one year. For tests: see rotation.ts. */
  leafLifetimeSeconds?: number;
}

export interface IsolatedPkiResult {
  pki: Pki;
  clients: Record<string, CertAndKey>;
}

async function run(req: IsolatedPkiRequest, log: (msg: string) => void): Promise<IsolatedPkiResult> {
  const lifetime = { leafLifetimeSeconds: req.leafLifetimeSeconds };
  const renew = (name: string) => req.renew?.includes(name) ?? false;
  const pki = req.leavesOnly ? await caOnly(req.dir) : await ensurePki(req.dir, { sans: req.sans, hostnames: req.hostnames, log, renew: req.renew, ...lifetime });
  const clients: Record<string, CertAndKey> = {};
  for (const c of req.clients) clients[c.name] = await issueClientCert(pki, { ...c, log, renew: renew(c.name), ...lifetime });
  for (const c of req.servings ?? []) clients[c.name] = await issueServingCert(pki, { ...c, log, renew: renew(c.name), ...lifetime });
  return { pki, clients };
}

/** The CA of an existing PKI directory (the other fields are unused when only leaves are issued). */
async function caOnly(dir: string): Promise<Pki> {
  const read = (f: string) => fs.promises.readFile(path.join(dir, f), 'utf8');
  const [caCertPem, caKeyPem] = await Promise.all([read('ca.crt'), read('ca.key')]);
  return { dir, caCertPem, caKeyPem, servingCertPem: '', servingKeyPem: '', adminCertPem: '', adminKeyPem: '' };
}

/** Every file base name the request covers, the CA's included. */
function namesOf(req: IsolatedPkiRequest): string[] {
  return [...(req.leavesOnly ? ['ca'] : ['ca', 'serving', 'admin']), ...req.clients.map((c) => c.name), ...(req.servings ?? []).map((c) => c.name)];
}

/** Whether a pair is missing, or its certificate unreadable or near expiry (the CA's 30 days apply to it too, as in index.ts). */
function needsIssuing(dir: string, name: string, now: Date): boolean {
  if (!fs.existsSync(path.join(dir, `${name}.key`))) return true;
  let pem: string;
  try {
    pem = fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8');
  } catch {
    return true;
  }
  try {
    return nearExpiry(certFacts(pem), now);
  } catch {
    return true;
  }
}

export async function ensurePkiIsolated(req: IsolatedPkiRequest, log: (msg: string) => void): Promise<IsolatedPkiResult> {
  const now = new Date();
  const due = (req.renew?.length ?? 0) > 0 || namesOf(req).some((n) => needsIssuing(req.dir, n, now));
  if (due) {
    await new Promise<void>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), ['--issue'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (m: { log?: string }) => m.log && log(m.log));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`certificate issuing exited with ${code}`))));
      child.send(req);
    });
  }
  // Forced renewals happened in the child; here only what is on disk is read (and checked).
  return run({ ...req, renew: undefined }, log);
}

/**
 * Reissues the named leaves of `req` (file base names; 'serving' and 'admin' included) in a
 * child process and answers the new pairs by name. The other leaves of `req` are checked as at
 * start. Rejects when the child fails or a name is not part of `req`.
 */
export async function reissueIsolated(req: IsolatedPkiRequest, names: readonly string[], log: (msg: string) => void): Promise<Record<string, CertAndKey>> {
  const known = new Set(namesOf(req));
  for (const n of names) if (n === 'ca' || !known.has(n)) throw new Error(`no leaf certificate named ${n} to renew`);
  const { pki, clients } = await ensurePkiIsolated({ ...req, renew: [...names] }, log);
  const all: Record<string, CertAndKey> = { ...clients };
  if (!req.leavesOnly) {
    all['serving'] = { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem };
    all['admin'] = { certPem: pki.adminCertPem, keyPem: pki.adminKeyPem };
  }
  return Object.fromEntries(names.map((n) => [n, all[n]!]));
}

if (process.argv[2] === '--issue' && process.send && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.once('message', (req: IsolatedPkiRequest) => {
    run(req, (msg) => process.send!({ log: msg })).then(
      () => process.disconnect(),
      (err: unknown) => {
        process.stderr.write(`bosun: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  });
}
