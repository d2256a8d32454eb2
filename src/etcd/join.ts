/**
 * The client side of joining a server to a cluster (k3s's pkg/cluster httpBootstrap and
 * clientaccess): `bosun server --server https://first:6443 --token T`.
 *
 * 1. The token's CA hash pins the cluster CA: the CA bundle from the unauthenticated `/cacerts`
 *    must hash to it (src/kubelet/bootstrap.ts's fetchCaBundle). Only then is the password sent,
 *    over TLS verified against that CA. A bare-password token has no hash: the CA is then
 *    trusted on first use, with k3s's warning.
 * 2. `GET /v1-bosun/server-bootstrap` with basic auth `server:<password>` answers the bootstrap
 *    data encrypted with the password (bootstrap.ts); its cluster CA must be the pinned one.
 * 3. With embedded etcd, `POST /v1-bosun/etcd/members` adds this server as a member and answers
 *    the member list.
 * Responses are bounded (`maxResponseBytes`) and each request times out after
 * `requestTimeoutMs` (k3s's client timeout: 10 s). Failures throw Errors with a message for the
 * user; a Status body's message is quoted.
 */
import https from 'node:https';
import { fetchCaBundle } from '../kubelet/bootstrap.ts';
import { caHash } from '../apiserver/authn/bootstrap.ts';
import { decryptBootstrap, type BootstrapData } from './bootstrap.ts';
import { parseServerToken, serverTokenUser } from './token.ts';
import { bootstrapPath, memberOnWire, membersPath, type MemberListEntry } from './supervisor.ts';
import type { MemberInfo } from './cluster.ts';

/** Most a supervisor response may weigh. */
export const maxResponseBytes = 1 << 20;
/** k3s's client timeout. */
export const requestTimeoutMs = 10_000;

export interface SupervisorRequest {
  /** https://HOST:PORT of a server. */
  server: string;
  token: string;
  /** The cluster CA the server's certificate must chain to. */
  caPem: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** One authenticated request to a server's supervisor endpoints; answers the body of a 2xx. */
export async function supervisorRequest(r: SupervisorRequest): Promise<Buffer> {
  const url = new URL(r.path, r.server);
  if (url.protocol !== 'https:') throw new Error(`only https:// URLs are supported, invalid scheme: ${r.server}`);
  const { password } = parseServerToken(r.token);
  const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
  const timeout = r.timeoutMs ?? requestTimeoutMs;
  return new Promise<Buffer>((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(`${serverTokenUser}:${password}`).toString('base64')}`, accept: 'application/json, application/octet-stream' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const req = https.request(url, { method: r.method, ca: r.caPem, headers, timeout, signal: r.signal, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxResponseBytes) {
          req.destroy(new Error(`the answer of ${url.href} is larger than ${maxResponseBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) return resolve(body);
        let message = '';
        try {
          message = (JSON.parse(body.toString('utf8')) as { message?: string }).message ?? '';
        } catch {
          message = body.toString('utf8').slice(0, 200);
        }
        reject(new Error(`${r.method} ${url.href}: ${code} ${res.statusMessage ?? ''}${code === 401 ? ' (wrong token)' : ''}${message ? `: ${message}` : ''}`.trim()));
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${r.method} ${url.href}: no answer within ${timeout} ms`)), timeout);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`${r.method} ${url.href}: no answer within ${timeout} ms`)));
    req.on('error', (err) => reject(err.message.startsWith(r.method) ? err : new Error(`${r.method} ${url.href}: ${err.message}`)));
    req.end(payload);
  });
}

/**
 * The cluster CA of `server`, checked against the token's CA hash (k3s's wording on mismatch).
 * A token without a hash trusts the CA as fetched, warning through `log`.
 */
export async function pinnedServerCa(server: string, token: string, opts: { signal?: AbortSignal; log?: (msg: string) => void } = {}): Promise<string> {
  const t = parseServerToken(token);
  const ca = await fetchCaBundle(server, opts.signal);
  const got = caHash(ca);
  if (t.caHash === undefined) {
    opts.log?.('Cluster CA certificate is not trusted by the host CA bundle, but the token does not include a CA hash. Use the full token from the server\'s token file to enable Cluster CA validation.');
  } else if (got !== t.caHash) {
    throw new Error(`token CA hash does not match the Cluster CA certificate hash: ${t.caHash} != ${got}`);
  }
  return ca;
}

export interface FetchBootstrapOptions {
  server: string;
  token: string;
  signal?: AbortSignal;
  log?: (msg: string) => void;
}

/** Fetches and decrypts the bootstrap data of the cluster `server` belongs to (steps 1–2). */
export async function fetchBootstrap(opts: FetchBootstrapOptions): Promise<BootstrapData> {
  const caPem = await pinnedServerCa(opts.server, opts.token, opts);
  const blob = await supervisorRequest({ server: opts.server, token: opts.token, caPem, method: 'GET', path: bootstrapPath, signal: opts.signal });
  const data = decryptBootstrap(blob, parseServerToken(opts.token).password);
  const ca = data.files.find((f) => f.path === 'tls/ca.crt')?.content;
  if (ca !== caPem) throw new Error(`the bootstrap data of ${opts.server} carries a cluster CA other than the one it serves`);
  return data;
}

export interface MemberAddOptions {
  server: string;
  token: string;
  caPem: string;
  /** This server's member name. */
  name: string;
  /** This member's peer URL, https://IP:2380. */
  peerURL: string;
  signal?: AbortSignal;
}

/**
 * Asks `server` to add this server as an etcd member; answers the member list (step 3), ready
 * for cluster.ts's `initialClusterFor(members, name, peerURL)`.
 */
export async function requestMemberAdd(opts: MemberAddOptions): Promise<MemberInfo[]> {
  const body = await supervisorRequest({ server: opts.server, token: opts.token, caPem: opts.caPem, method: 'POST', path: membersPath, body: { name: opts.name, peerURL: opts.peerURL }, signal: opts.signal });
  const v = JSON.parse(body.toString('utf8')) as { members?: MemberListEntry[] };
  if (!Array.isArray(v.members) || v.members.some((m) => !m || !Array.isArray(m.peerURLs))) throw new Error(`POST ${membersPath}: the answer has no member list`);
  return v.members.map(memberOnWire);
}
