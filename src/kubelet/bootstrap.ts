/**
 * The node agent's TLS bootstrap (`bosun agent --server URL --token TOKEN`), as upstream's
 * kubelet with a bootstrap kubeconfig and k3s's agent join:
 *
 * 1. The token `K10<CA hash>::<id>.<secret>` pins the cluster CA: the agent fetches the CA bundle
 *    from `GET /cacerts` (unauthenticated, server certificate not yet trusted) and refuses it
 *    unless its sha256 is the token's hash. Only then is the secret sent, over TLS verified
 *    against that CA.
 * 2. Client identity: a fresh P-256 key and a `kubernetes.io/kube-apiserver-client-kubelet` CSR
 *    for CN=system:node:NAME, O=system:nodes, created as the bootstrap token user; the
 *    controller manager approves (nodeclient) and signs it.
 * 3. Serving identity: a `kubernetes.io/kubelet-serving` CSR (same subject, SANs: node name and
 *    node IP), created as the node itself and approved for it.
 *
 * Everything is kept in the credentials directory (`DATA_DIR/agent/tls`, 0700):
 *   ca.crt, client-kubelet.crt/.key, serving-kubelet.crt/.key, kubelet.kubeconfig
 * A restart reuses certificates that are issued by the pinned CA, match their key and subject
 * (and SANs), and have not reached 80 % of their lifetime; otherwise it requests new ones — with
 * the current client certificate while that is still valid (selfnodeclient renewal), with the
 * token only when there is none. `renewAt` tells the caller when to renew while running.
 *
 * Errors (wrong token, CA mismatch, denied or failed request, timeout) are thrown as Errors with
 * a message for the user; nothing is registered before the client certificate exists.
 */
import https from 'node:https';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { CertificateSigningRequest } from '../api/index.ts';
import { isAlreadyExists, isStatusError } from '../api/errors.ts';
import { clientset, createClient, sleepUnlessAborted, type RestClient } from '../client/index.ts';
import { kubeconfigYaml } from '../pki/kubeconfig.ts';
import { createCsr } from '../pki/csr.ts';
import { certFacts } from '../pki/x509.ts';
import { pairMismatch } from '../pki/index.ts';
import { parseSan } from '../pki/sans.ts';
import { readFileIfExists, writeFileAtomic } from '../util/fs.ts';
import { caHash, parseNodeToken } from '../apiserver/authn/bootstrap.ts';

/** A certificate is renewed once this share of its lifetime has passed (upstream's kubelet: 70–90 %, jittered). */
export const renewAtFraction = 0.8;
/** The most the CA bundle from /cacerts may weigh. */
export const maxCaBundleBytes = 1 << 20;
/** How long to wait for /cacerts. */
export const caFetchTimeoutMs = 10_000;
/** How long to wait for a request to be approved and signed (upstream's kubelet waits up to an hour; tests and humans want an answer sooner). */
export const defaultIssueTimeoutMs = 5 * 60_000;

export interface AgentCredentials {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  servingCertPem: string;
  servingKeyPem: string;
}

export interface BootstrapOptions {
  /** https://HOST:PORT of the API server. */
  server: string;
  /** The node token (see the file comment). */
  token: string;
  /** The credentials directory (DATA_DIR/agent/tls). */
  dir: string;
  nodeName: string;
  /** The node's address, a SAN of its serving certificate. */
  nodeIP: string;
  issueTimeoutMs?: number;
  now?: () => Date;
  log?: (msg: string) => void;
}

/** Fetches the CA bundle from `server`/cacerts without trusting the server yet. */
export async function fetchCaBundle(server: string, signal?: AbortSignal): Promise<string> {
  const url = new URL('/cacerts', server);
  if (url.protocol !== 'https:') throw new Error(`--server must be an https:// URL, not ${server}`);
  return new Promise<string>((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: caFetchTimeoutMs, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxCaBundleBytes) {
          req.destroy(new Error(`the CA bundle from ${url.href} is larger than ${maxCaBundleBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.href}: no answer within ${caFetchTimeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`cannot fetch the cluster CA from ${url.href}: ${err.message}`)));
  });
}

/** The pinned CA: fetched and checked against the token's hash. Throws on mismatch. */
export async function pinnedCa(server: string, token: string, signal?: AbortSignal): Promise<string> {
  const t = parseNodeToken(token);
  const ca = await fetchCaBundle(server, signal);
  const got = caHash(ca);
  if (got !== t.caHash) throw new Error(`the cluster CA at ${server} (sha256 ${got}) does not match the token's CA hash ${t.caHash}: wrong server, or a token of another cluster`);
  return ca;
}

/** The `<id>.<secret>` part of a node token. */
function bootstrapToken(nodeToken: string): string {
  const t = parseNodeToken(nodeToken).token;
  return `${t.id}.${t.secret}`;
}

interface Files {
  cert: string;
  key: string;
}

const files = {
  ca: 'ca.crt',
  client: { cert: 'client-kubelet.crt', key: 'client-kubelet.key' },
  serving: { cert: 'serving-kubelet.crt', key: 'serving-kubelet.key' },
  kubeconfig: 'kubelet.kubeconfig',
};

/** When a certificate is due for renewal (renewAtFraction of its lifetime). */
export function renewAt(certPem: string): Date {
  const f = certFacts(certPem);
  return new Date(f.notBefore.getTime() + renewAtFraction * (f.notAfter.getTime() - f.notBefore.getTime()));
}

/** Why a stored pair cannot be used as is, or undefined. */
export function whyRenew(pair: { certPem: string; keyPem: string } | undefined, want: { caPem: string; commonName: string; sans?: string[] }, now: Date): string | undefined {
  if (!pair) return 'missing';
  const mismatch = pairMismatch(pair, { caPem: want.caPem, commonName: want.commonName, organizations: ['system:nodes'], sans: want.sans?.map(parseSan) });
  if (mismatch) return mismatch;
  const f = certFacts(pair.certPem);
  if (f.notAfter.getTime() <= now.getTime()) return 'expired';
  if (renewAt(pair.certPem).getTime() <= now.getTime()) return `${Math.round(renewAtFraction * 100)} % of its lifetime has passed`;
  return undefined;
}

async function readPair(dir: string, f: Files): Promise<{ certPem: string; keyPem: string } | undefined> {
  const [certPem, keyPem] = await Promise.all([readFileIfExists(path.join(dir, f.cert)), readFileIfExists(path.join(dir, f.key))]);
  return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
}

async function writePair(dir: string, f: Files, pair: { certPem: string; keyPem: string }): Promise<void> {
  await writeFileAtomic(path.join(dir, f.key), pair.keyPem, { mode: 0o600 });
  await writeFileAtomic(path.join(dir, f.cert), pair.certPem, { mode: 0o644 });
}

/**
 * Submits a CSR as `client` and waits until it is issued. Throws when it is denied or fails,
 * when the wait times out, or when the server refuses the request (a 401 names the token).
 */
export async function requestCertificate(
  client: RestClient,
  req: { csrPem: string; signerName: string; usages: string[]; expirationSeconds?: number },
  opts: { timeoutMs: number; signal?: AbortSignal; log: (msg: string) => void },
): Promise<string> {
  const cs = clientset(client);
  const name = `node-csr-${createHash('sha256').update(req.csrPem).digest('hex').slice(0, 20)}`;
  const body: CertificateSigningRequest = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(req.csrPem).toString('base64'), signerName: req.signerName, usages: req.usages, ...(req.expirationSeconds ? { expirationSeconds: req.expirationSeconds } : {}) },
  };
  try {
    await cs.certificateSigningRequests.create(body);
  } catch (err) {
    if (isStatusError(err) && err.code === 401) throw new Error('the API server refused the token (401 Unauthorized): wrong, expired or deleted token');
    if (!isAlreadyExists(err)) throw err;
  }
  opts.log(`bootstrap: waiting for certificate request ${name} (${req.signerName}) to be approved and signed`);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const csr = await cs.certificateSigningRequests.get(name);
    const bad = csr.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
    if (bad) throw new Error(`certificate request ${name} was ${bad.type === 'Denied' ? 'denied' : 'not signed'}: ${bad.reason ?? ''} ${bad.message ?? ''}`.trim());
    if (csr.status?.certificate) return Buffer.from(csr.status.certificate, 'base64').toString('utf8');
    if (Date.now() > deadline) throw new Error(`certificate request ${name} was not issued within ${Math.round(opts.timeoutMs / 1000)} s (is the controller manager running with the cluster CA?)`);
    if (!(await sleepUnlessAborted(250, { signal: opts.signal }))) throw new Error('stopped while waiting for a certificate');
  }
}

/**
 * Makes sure the credentials directory holds a usable client and serving certificate for the
 * node, requesting what is missing or due (see the file comment). Idempotent.
 */
export async function ensureAgentCredentials(opts: BootstrapOptions, signal?: AbortSignal): Promise<AgentCredentials> {
  const log = opts.log ?? (() => {});
  const now = opts.now ?? (() => new Date());
  const timeoutMs = opts.issueTimeoutMs ?? defaultIssueTimeoutMs;
  await fs.mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const caPem = await pinnedCa(opts.server, opts.token, signal);
  await writeFileAtomic(path.join(opts.dir, files.ca), caPem, { mode: 0o644 });
  const commonName = `system:node:${opts.nodeName}`;
  const subject = { commonName, organizations: ['system:nodes'] };

  let client = await readPair(opts.dir, files.client);
  const clientWhy = whyRenew(client, { caPem, commonName }, now());
  if (clientWhy) {
    // Renew as the node while its certificate still works; otherwise bootstrap with the token.
    const usable = client && whyRenew(client, { caPem, commonName }, new Date(0)) === undefined && certFacts(client.certPem).notAfter > now();
    log(`bootstrap: requesting a client certificate for ${commonName} (${clientWhy}) as ${usable ? 'the node' : 'the bootstrap token'}`);
    const rc = await createClient({
      component: 'kubelet-bootstrap',
      connection: usable ? { server: opts.server, ca: caPem, cert: client!.certPem, key: client!.keyPem } : { server: opts.server, ca: caPem, token: bootstrapToken(opts.token) },
    });
    try {
      const { csrPem, keyPem } = await createCsr({ subject });
      const certPem = await requestCertificate(rc, { csrPem, signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['digital signature', 'client auth'] }, { timeoutMs, signal, log });
      client = { certPem, keyPem };
      await writePair(opts.dir, files.client, client);
    } finally {
      await rc.transport.close();
    }
  }
  const sans = [...new Set([opts.nodeName, opts.nodeIP])];
  let serving = await readPair(opts.dir, files.serving);
  const servingWhy = whyRenew(serving, { caPem, commonName, sans }, now());
  if (servingWhy) {
    log(`bootstrap: requesting a serving certificate for ${sans.join(', ')} (${servingWhy})`);
    const nc = await createClient({ component: 'kubelet-bootstrap', connection: { server: opts.server, ca: caPem, cert: client!.certPem, key: client!.keyPem } });
    try {
      const { csrPem, keyPem } = await createCsr({ subject, sans });
      const certPem = await requestCertificate(nc, { csrPem, signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'] }, { timeoutMs, signal, log });
      serving = { certPem, keyPem };
      await writePair(opts.dir, files.serving, serving);
    } finally {
      await nc.transport.close();
    }
  }
  const creds: AgentCredentials = { server: opts.server, caPem, certPem: client!.certPem, keyPem: client!.keyPem, servingCertPem: serving!.certPem, servingKeyPem: serving!.keyPem };
  await writeFileAtomic(path.join(opts.dir, files.kubeconfig), kubeconfigYaml({ server: opts.server, caPem, certPem: creds.certPem, keyPem: creds.keyPem }), { mode: 0o600 });
  return creds;
}

/** The earlier of the two certificates' renewal times. */
export function nextRenewal(creds: AgentCredentials): Date {
  const a = renewAt(creds.certPem);
  const b = renewAt(creds.servingCertPem);
  return a < b ? a : b;
}
