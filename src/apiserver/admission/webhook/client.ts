/**
 * The HTTPS call to a webhook, as upstream's apiserver/pkg/util/webhook client manager and
 * client-go's REST client do it:
 * - `url` is used as given (https only; its path cleaned as Go's path.Join does); `service` is
 *   `https://<name>.<namespace>.svc:<port, default 443><path>`, dialled at the address
 *   `resolveService` gives (a missing Service: `service "<name>" not found`), with TLS server
 *   name and Host `<name>.<namespace>.svc`.
 * - the server is verified against clientConfig.caBundle (PEM), or the system roots without one;
 *   HTTP/1.1, JSON; `?timeout=<n>s` tells the webhook its deadline, which bounds the whole
 *   exchange (past it: `context deadline exceeded`).
 * - connections are kept alive in one agent per CA bundle, at most `maxCachedAgents` of them
 *   (upstream caches 200 clients; the least recently used agent is closed).
 * - the answer is read up to `maxResponseBytes`. Upstream's client reads it unbounded; Bosun
 *   takes the API server's own request body limit (3 MiB) as the bound.
 * Failures reject with an Error worded as Go's client words them: `Post "<url>": <reason>`, e.g.
 * `dial tcp 127.0.0.1:9443: connect: connection refused`,
 * `tls: failed to verify certificate: x509: certificate signed by unknown authority`.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { HookClient } from './source.ts';

/** The most of a webhook's answer read (bytes); one byte more fails the call. */
export const maxResponseBytes = 3 * 1024 * 1024;
/** Keep-alive agents kept, one per CA bundle (upstream's client cache size). */
export const maxCachedAgents = 200;
/** The most of a non-JSON error body quoted in a message (client-go maxUnstructuredResponseTextBytes). */
export const maxErrorTextBytes = 2048;

/** Maps a Service to the address to dial (its cluster IP); undefined when there is no such Service; throws to say why else it cannot. */
export type ServiceResolver = (namespace: string, name: string, port: number) => { host: string; port: number } | undefined;

export interface Target {
  /** The URL as upstream prints it in errors, `?timeout=` included. */
  url: string;
  /** Path and query sent. */
  path: string;
  hostHeader: string;
  /** TLS server name (SNI and verification); undefined for an IP address. */
  servername: string | undefined;
  caPem: string | undefined;
  /** Where to connect; throws (with the reason) when a Service cannot be resolved. */
  dial(): { host: string; port: number };
}

/** Go's path.Join("/", p): segments cleaned, no trailing slash, `/` for nothing. */
export function cleanPath(p: string): string {
  const segs: string[] = [];
  for (const s of p.split('/')) {
    if (!s || s === '.') continue;
    if (s === '..') segs.pop();
    else segs.push(s);
  }
  return `/${segs.join('/')}`;
}

const hostPort = (host: string, port: number) => (net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * Where and how to call a webhook. Throws an Error with upstream's reason for a configuration
 * that cannot be called (no URL or service, a URL that does not parse, a CA bundle that is not
 * PEM); `callingWebhook: true` on it marks the first two, which upstream words as call errors.
 */
export function targetFor(client: HookClient, opts: { timeoutSeconds: number; resolveService: ServiceResolver }): Target {
  const { timeoutSeconds, resolveService } = opts;
  const query = `?timeout=${timeoutSeconds}s`;
  const caPem = client.caPem;
  if (caPem !== undefined && !caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('unable to load root certificates: unable to parse bytes as PEM block');
  }
  if (client.service) {
    const { namespace, name } = client.service;
    const port = client.service.port || 443;
    const servername = `${name}.${namespace}.svc`;
    const path = cleanPath(client.service.path ?? '') + query;
    return {
      url: `https://${servername}:${port}${path}`,
      path,
      hostHeader: `${servername}:${port}`,
      servername,
      caPem,
      dial() {
        const addr = resolveService(namespace, name, port);
        if (!addr) throw new Error(`service ${JSON.stringify(name)} not found`);
        return addr;
      },
    };
  }
  // Upstream reports these two as a call error of their own (its message then names the webhook twice).
  const calling = (msg: string) => Object.assign(new Error(msg), { callingWebhook: true });
  if (!client.url) throw calling('webhook configuration must have either service or URL');
  let u: URL;
  try {
    u = new URL(client.url);
  } catch {
    throw calling(`Unparsable URL: parse ${JSON.stringify(client.url)}: invalid URL`);
  }
  if (u.protocol !== 'https:') throw calling(`Unparsable URL: the scheme must be https, got ${JSON.stringify(u.protocol.slice(0, -1))}`);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : 443;
  const path = cleanPath(u.pathname) + query;
  return {
    url: `https://${u.host}${path}`,
    path,
    hostHeader: u.host,
    servername: net.isIP(host) ? undefined : host,
    caPem,
    dial: () => ({ host, port }),
  };
}

const agents = new Map<string, https.Agent>();

/** The keep-alive agent for a CA bundle (least recently used first out). */
function agentFor(caPem: string | undefined): https.Agent {
  const key = caPem ?? '';
  let agent = agents.get(key);
  if (agent) {
    agents.delete(key);
  } else {
    agent = new https.Agent({ keepAlive: true, ca: caPem, ALPNProtocols: ['http/1.1'] });
    if (agents.size >= maxCachedAgents) {
      const [oldest, old] = agents.entries().next().value!;
      agents.delete(oldest);
      old.destroy();
    }
  }
  agents.set(key, agent);
  return agent;
}

/** Closes every kept connection (tests; shutdown). */
export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/** How many agents are kept (tests). */
export const cachedAgents = (): number => agents.size;

const unknownAuthority = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

class DeadlineError extends Error {}
class TooLargeError extends Error {}

/** A Node error worded as Go's net/http and crypto/tls word it. */
function describe(err: Error & { code?: string; cert?: { subjectaltname?: string } }, to: { addr: { host: string; port: number }; servername: string | undefined }): string {
  const { addr, servername } = to;
  if (err instanceof DeadlineError) return 'context deadline exceeded';
  if (err instanceof TooLargeError) return err.message;
  const hp = hostPort(addr.host, addr.port);
  switch (err.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${hp}: connect: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${addr.host}: no such host`;
    case 'EHOSTUNREACH':
      return `dial tcp ${hp}: connect: no route to host`;
    case 'ENETUNREACH':
      return `dial tcp ${hp}: connect: network is unreachable`;
    case 'ETIMEDOUT':
      return `dial tcp ${hp}: i/o timeout`;
    case 'ECONNRESET':
      return 'EOF';
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const names = (err.cert?.subjectaltname ?? '').split(', ').map((s) => s.replace(/^(DNS|IP Address):/, '')).filter(Boolean);
      return `tls: failed to verify certificate: x509: certificate is valid for ${names.join(', ')}, not ${servername ?? addr.host}`;
    }
  }
  if (err.code && unknownAuthority.has(err.code)) return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  return err.message;
}

export interface WebhookAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

export interface PostOptions {
  timeoutMs: number;
  /** Default maxResponseBytes. */
  maxBytes?: number;
}

/** POSTs `body` (JSON) to the target. Rejects with `Post "<url>": <reason>`; never throws synchronously. */
export function post(target: Target, body: string, opts: PostOptions): Promise<WebhookAnswer> {
  const maxBytes = opts.maxBytes ?? maxResponseBytes;
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => reject(new Error(`Post ${JSON.stringify(target.url)}: ${reason}`));
    let addr: { host: string; port: number };
    try {
      addr = target.dial();
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
      return;
    }
    const req = https.request({
      agent: agentFor(target.caPem),
      host: addr.host,
      port: addr.port,
      servername: target.servername,
      method: 'POST',
      path: target.path,
      headers: { host: target.hostHeader, 'content-type': 'application/json', accept: 'application/json, */*', 'content-length': Buffer.byteLength(body) },
    });
    // Why we cut the exchange short, if we did: it wins over whatever error the socket reports.
    let aborted: Error | undefined;
    let response: IncomingMessage | undefined;
    const abort = (err: Error) => {
      aborted ??= err;
      // Once answered, the response owns the socket: destroying the request would leave the error unheard.
      if (response) response.destroy(err);
      else req.destroy(err);
    };
    const timer = setTimeout(() => abort(new DeadlineError('deadline')), opts.timeoutMs);
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const failWith = (err: Error) => done(() => fail(describe(aborted ?? err, { addr, servername: target.servername })));
    const eof = () => Object.assign(new Error('EOF'), { code: 'ECONNRESET' });
    req.on('error', failWith);
    req.on('response', (res: IncomingMessage) => {
      response = res;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) abort(new TooLargeError(`the response body exceeds the limit of ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('error', failWith);
      res.on('end', () => done(() => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) })));
      res.on('close', () => failWith(eof()));
    });
    req.on('close', () => failWith(eof()));
    req.end(body);
  });
}

function genericMessage(code: number, serverMessage: string): string {
  switch (code) {
    case 409:
      return 'the server reported a conflict';
    case 404:
      return 'the server could not find the requested resource';
    case 400:
      return 'the server rejected our request for an unknown reason';
    case 401:
      return 'the server has asked for the client to provide credentials';
    case 403:
    case 415:
      return serverMessage;
    case 406:
      return serverMessage && serverMessage !== 'unknown' ? serverMessage : 'the server was unable to respond with a content type that the client supports';
    case 405:
      return 'the server does not allow this method on the requested resource';
    case 422:
      return 'the server rejected our request due to an error in our request';
    case 503:
      return 'the server is currently unable to handle the request';
    case 504:
      return 'the server was unable to return a response in the time allotted, but may still be processing the request';
    case 429:
      return 'the server has received too many requests and has asked us to try again later';
  }
  if (code >= 500) return `an error on the server (${JSON.stringify(serverMessage)}) has prevented the request from succeeding`;
  return `the server responded with the status code ${code} but did not return more information`;
}

/**
 * For an answer outside 200..206: the error text client-go gives (a Status body's message, else
 * apimachinery's generic text for the code, quoting at most `maxErrorTextBytes` of a text body).
 * Undefined for a success.
 */
export function answerError(a: WebhookAnswer): string | undefined {
  if (a.status >= 200 && a.status <= 206) return undefined;
  try {
    const doc = JSON.parse(a.body.toString('utf8')) as { kind?: unknown; message?: unknown; status?: unknown };
    if (doc && doc.kind === 'Status' && typeof doc.message === 'string' && doc.status !== 'Success') return doc.message;
  } catch {
    // not JSON: quoted below
  }
  const media = a.contentType.split(';')[0]!.trim().toLowerCase();
  const isText = a.contentType === '' || media.startsWith('text/');
  const serverMessage = isText ? a.body.subarray(0, maxErrorTextBytes).toString('utf8').trim() : 'unknown';
  return genericMessage(a.status, serverMessage);
}
