/**
 * PKI set-up in a child process: making certificates loads `@peculiar/x509` and its WebCrypto
 * machinery (some 10 MB that a long-running server would keep for good; a worker thread does
 * not give it back to the system either). When files are missing, `ensurePkiIsolated` issues
 * them in a short-lived child process and then reads them here; when everything is present it
 * only reads. Same results and rules as `ensurePki` + `issueClientCert`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensurePki, issueClientCert, issueServingCert, type CertAndKey, type Pki } from './index.ts';

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
}

export interface IsolatedPkiResult {
  pki: Pki;
  clients: Record<string, CertAndKey>;
}

async function run(req: IsolatedPkiRequest, log: (msg: string) => void): Promise<IsolatedPkiResult> {
  const pki = req.leavesOnly ? await caOnly(req.dir) : await ensurePki(req.dir, { sans: req.sans, hostnames: req.hostnames, log });
  const clients: Record<string, CertAndKey> = {};
  for (const c of req.clients) clients[c.name] = await issueClientCert(pki, { ...c, log });
  for (const c of req.servings ?? []) clients[c.name] = await issueServingCert(pki, { ...c, log });
  return { pki, clients };
}

/** The CA of an existing PKI directory (the other fields are unused when only leaves are issued). */
async function caOnly(dir: string): Promise<Pki> {
  const read = (f: string) => fs.promises.readFile(path.join(dir, f), 'utf8');
  const [caCertPem, caKeyPem] = await Promise.all([read('ca.crt'), read('ca.key')]);
  return { dir, caCertPem, caKeyPem, servingCertPem: '', servingKeyPem: '', adminCertPem: '', adminKeyPem: '' };
}

export async function ensurePkiIsolated(req: IsolatedPkiRequest, log: (msg: string) => void): Promise<IsolatedPkiResult> {
  const names = [...(req.leavesOnly ? ['ca'] : ['ca', 'serving', 'admin']), ...req.clients.map((c) => c.name), ...(req.servings ?? []).map((c) => c.name)];
  const missing = names.some((n) => !fs.existsSync(path.join(req.dir, `${n}.crt`)) || !fs.existsSync(path.join(req.dir, `${n}.key`)));
  if (missing) {
    await new Promise<void>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), ['--issue'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (m: { log?: string }) => m.log && log(m.log));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`certificate issuing exited with ${code}`))));
      child.send(req);
    });
  }
  return run(req, log);
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
