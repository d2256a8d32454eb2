/**
 * Reading a kubeconfig into the connection settings a transport needs: the server URL, the CA
 * to verify it with, and the client identity (certificate and key, or a bearer token). The
 * current context (or a named one) picks the cluster and user. Credentials may be inline
 * (`*-data`, base64) or file paths, which are resolved against the kubeconfig's directory as
 * kubectl does. Errors are ERR_INVALID_CONFIG naming what is missing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';

/** The YAML parser, loaded on first use (it costs a process several MB; many never parse YAML). */
const parse = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
import { BosunError } from '../util/errors.ts';

/** Everything needed to reach and authenticate to one API server. PEM strings. */
export interface ClusterConnection {
  /** e.g. https://127.0.0.1:6443 */
  server: string;
  /** CA bundle that signs the server certificate; the system roots when absent. */
  ca?: string;
  /** Client certificate (the component's identity) and its key. */
  cert?: string;
  key?: string;
  /** Bearer token, when the identity is a token rather than a certificate. */
  token?: string;
  /** Skip server certificate verification (kubeconfig `insecure-skip-tls-verify`). */
  insecureSkipTlsVerify?: boolean;
  /** Name to verify the server certificate against instead of the URL's host. */
  tlsServerName?: string;
}

/** A context's settings with file references made absolute but not yet read. */
export interface KubeconfigSelection {
  server: string;
  ca?: { data: string } | { file: string };
  cert?: { data: string } | { file: string };
  key?: { data: string } | { file: string };
  token?: { data: string } | { file: string };
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
}

type Named<T> = { name?: unknown; cluster?: T; user?: T; context?: T };

function invalid(msg: string): BosunError {
  return new BosunError('ERR_INVALID_CONFIG', `kubeconfig: ${msg}`);
}

function pick<T>(list: unknown, name: string, field: 'cluster' | 'user' | 'context'): T {
  if (!Array.isArray(list)) throw invalid(`no ${field}s`);
  const entry = (list as Named<T>[]).find((e) => e && e.name === name);
  if (!entry || !entry[field]) throw invalid(`${field} ${JSON.stringify(name)} not found`);
  return entry[field] as T;
}

function source(obj: Record<string, unknown>, dataKey: string, fileKey: string, dir: string): { data: string } | { file: string } | undefined {
  const data = obj[dataKey];
  if (typeof data === 'string' && data) return { data: Buffer.from(data, 'base64').toString('utf8') };
  const file = obj[fileKey];
  if (typeof file === 'string' && file) return { file: path.resolve(dir, file) };
  return undefined;
}

/**
 * Picks the context (`opts.context` or current-context) out of kubeconfig text. Pure: decodes
 * inline data, resolves file paths against `opts.dir` (default: the working directory).
 */
export function parseKubeconfig(text: string, opts: { context?: string; dir?: string } = {}): KubeconfigSelection {
  let doc: Record<string, unknown>;
  try {
    doc = (parse(text) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw invalid(`not valid YAML (${(err as Error).message})`);
  }
  if (!doc || typeof doc !== 'object') throw invalid('not a mapping');
  const dir = opts.dir ?? process.cwd();
  const ctxName = opts.context ?? (doc['current-context'] as string | undefined);
  if (!ctxName) throw invalid('no current-context and no context given');
  const ctx = pick<Record<string, unknown>>(doc['contexts'], ctxName, 'context');
  const cluster = pick<Record<string, unknown>>(doc['clusters'], String(ctx['cluster'] ?? ''), 'cluster');
  const user = ctx['user'] ? pick<Record<string, unknown>>(doc['users'], String(ctx['user']), 'user') : {};
  const server = cluster['server'];
  if (typeof server !== 'string' || !server) throw invalid(`cluster ${JSON.stringify(ctx['cluster'])} has no server`);
  const out: KubeconfigSelection = { server };
  const ca = source(cluster, 'certificate-authority-data', 'certificate-authority', dir);
  if (ca) out.ca = ca;
  const cert = source(user, 'client-certificate-data', 'client-certificate', dir);
  if (cert) out.cert = cert;
  const key = source(user, 'client-key-data', 'client-key', dir);
  if (key) out.key = key;
  if (typeof user['token'] === 'string' && user['token']) out.token = { data: user['token'] };
  else if (typeof user['tokenFile'] === 'string' && user['tokenFile']) out.token = { file: path.resolve(dir, user['tokenFile']) };
  if (cluster['insecure-skip-tls-verify'] === true) out.insecureSkipTlsVerify = true;
  if (typeof cluster['tls-server-name'] === 'string' && cluster['tls-server-name']) out.tlsServerName = cluster['tls-server-name'];
  if (!!out.cert !== !!out.key) throw invalid(`user ${JSON.stringify(ctx['user'])} has a client certificate without a key or a key without a certificate`);
  return out;
}

async function read(src: { data: string } | { file: string } | undefined, what: string): Promise<string | undefined> {
  if (!src) return undefined;
  if ('data' in src) return src.data;
  try {
    return await fs.readFile(src.file, 'utf8');
  } catch (err) {
    throw new BosunError('ERR_INVALID_CONFIG', `kubeconfig: cannot read ${what} ${src.file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Resolves a selection into a connection, reading the referenced files. */
export async function resolveSelection(sel: KubeconfigSelection): Promise<ClusterConnection> {
  const [ca, cert, key, token] = await Promise.all([
    read(sel.ca, 'certificate-authority'),
    read(sel.cert, 'client-certificate'),
    read(sel.key, 'client-key'),
    read(sel.token, 'tokenFile'),
  ]);
  const conn: ClusterConnection = { server: sel.server };
  if (ca) conn.ca = ca;
  if (cert) conn.cert = cert;
  if (key) conn.key = key;
  if (token) conn.token = token.trim();
  if (sel.insecureSkipTlsVerify) conn.insecureSkipTlsVerify = true;
  if (sel.tlsServerName) conn.tlsServerName = sel.tlsServerName;
  return conn;
}

/** Reads the kubeconfig at `file` and returns the chosen context's connection settings. */
export async function loadKubeconfig(file: string, opts: { context?: string } = {}): Promise<ClusterConnection> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new BosunError('ERR_INVALID_CONFIG', `kubeconfig: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return resolveSelection(parseKubeconfig(text, { context: opts.context, dir: path.dirname(path.resolve(file)) }));
}
