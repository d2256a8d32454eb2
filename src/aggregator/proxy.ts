/**
 * The aggregator's proxy (kube-aggregator's handler_proxy.go): a request for a remote
 * APIService's group-version goes to the backing service over HTTPS, with the API server's
 * front-proxy client certificate and the requester's identity in the request headers the
 * extension server trusts (X-Remote-User, X-Remote-Group, X-Remote-Extra-<key>, as client-go's
 * SetAuthProxyHeaders writes them). The caller's own credentials (Authorization, Impersonate-*)
 * and any X-Remote-* it sent are dropped. Upgrade requests (exec-like streams) are tunnelled.
 * Errors are plain text as Go's http.Error writes them: `service unavailable` (503) when the
 * APIService is not Available or the service has no endpoint, `error trying to reach service:
 * ...` (503) when the dial fails.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { UserInfo } from '../api/types.ts';
import type { Request } from '../apiserver/body.ts';
import type { Response } from '../apiserver/respond.ts';

/** Where and how to reach one backend. */
export interface ProxyTarget {
  host: string;
  port: number;
  /** TLS server name: `<service>.<namespace>.svc`, as upstream. */
  serverName: string;
  /** spec.caBundle (PEM); absent: the system roots. */
  ca?: string;
  insecureSkipTLSVerify: boolean;
  clientCert: { certPem: string; keyPem: string };
}

/** How long a proxied request waits for the backend's response headers (Go's dialer and TLS handshake bounds, 30 s). */
export const proxyHeadersTimeoutMs = 30_000;

/** Timeout of the discovery and availability requests the aggregator makes itself (upstream's 5 s). */
export const backendRequestTimeoutMs = 5000;

const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'http2-settings']);

function dropped(name: string): boolean {
  return (
    name.startsWith(':') ||
    hopByHop.has(name) ||
    name === 'authorization' ||
    name === 'accept-encoding' ||
    name.startsWith('impersonate-') ||
    name.startsWith('x-remote-')
  );
}

/** The request headers sent to the backend: the client's, cleaned, plus the identity headers. */
export function backendHeaders(incoming: Record<string, string | string[] | undefined>, user: UserInfo, opts: { upgrade?: boolean; clientIP?: string } = {}): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(incoming)) {
    const name = k.toLowerCase();
    if (v === undefined || dropped(name)) continue;
    out[name] = v;
  }
  if (opts.upgrade) {
    out['connection'] = 'Upgrade';
    const up = incoming['upgrade'];
    if (up !== undefined) out['upgrade'] = up;
  }
  if (opts.clientIP) {
    const prior = incoming['x-forwarded-for'];
    out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${opts.clientIP}` : opts.clientIP;
  }
  Object.assign(out, identityHeaders(user));
  return out;
}

/** X-Remote-User, X-Remote-Group (one per group), X-Remote-Extra-<url-escaped key> (one per value). */
export function identityHeaders(user: Pick<UserInfo, 'username' | 'groups' | 'extra'>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { 'x-remote-user': user.username };
  if (user.groups?.length) out['x-remote-group'] = [...user.groups];
  for (const [key, values] of Object.entries(user.extra ?? {})) {
    if (values.length) out[`x-remote-extra-${escapeExtraKey(key)}`] = [...values];
  }
  return out;
}

/** client-go's headerKeyEscape: URL path escaping, so that keys with '/' survive as header names. */
export function escapeExtraKey(key: string): string {
  return encodeURIComponent(key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Go's http.Error: text/plain, nosniff, the message and a newline. */
export function plainError(res: Response, code: number, message: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(`${message}\n`);
}

/** The dial error as Go's net package words it, for `error trying to reach service: ...`. */
export function dialError(err: NodeJS.ErrnoException, target: { host: string; port: number }): string {
  const addr = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  if (err.code === 'ECONNREFUSED') return `dial tcp ${addr}: connect: connection refused`;
  if (err.code === 'ETIMEDOUT') return `dial tcp ${addr}: i/o timeout`;
  if (err.code === 'EHOSTUNREACH') return `dial tcp ${addr}: connect: no route to host`;
  if (err.code === 'ENOTFOUND') return `dial tcp: lookup ${target.host}: no such host`;
  return err.message;
}

export function requestOptions(target: ProxyTarget, method: string, path: string, headers: Record<string, string | string[]>): https.RequestOptions {
  const opts: https.RequestOptions & { autoSelectFamily: boolean } = {
    host: target.host,
    port: target.port,
    method,
    path,
    headers: { ...headers, host: `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}` },
    servername: target.serverName,
    ca: target.ca,
    rejectUnauthorized: !target.insecureSkipTLSVerify,
    cert: target.clientCert.certPem,
    key: target.clientCert.keyPem,
    agent: false,
    // A name with several addresses (an ExternalName `localhost`: ::1 and 127.0.0.1) is tried
    // address by address, as Go's dialer does.
    autoSelectFamily: true,
  };
  return opts;
}

/**
 * Proxies one request to `target`, streaming both bodies; resolves when the response is done (or
 * the tunnel of an upgrade request closed). Never rejects: failures are written as responses.
 */
export function proxyRequest(p: {
  req: Request;
  res: Response;
  target: ProxyTarget;
  user: UserInfo;
  upgrade?: { socket: Duplex; head: Buffer };
  headersTimeoutMs?: number;
  /** Told when the backend could not be reached (the availability check then runs again soon). */
  onUnreachable?: () => void;
}): Promise<void> {
  const { req, res, target } = p;
  const headers = backendHeaders(req.headers as Record<string, string | string[] | undefined>, p.user, { upgrade: !!p.upgrade, clientIP: req.socket?.remoteAddress });
  const out = https.request(requestOptions(target, req.method ?? 'GET', req.url ?? '/', headers));
  return new Promise<void>((resolve) => {
    let done = false;
    // A backend that does not answer (dial, TLS, response headers) within the bound is an i/o timeout.
    const headersTimer = setTimeout(() => out.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })), p.headersTimeoutMs ?? proxyHeadersTimeoutMs);
    const finish = () => {
      clearTimeout(headersTimer);
      if (!done) {
        done = true;
        resolve();
      }
    };
    res.on('close', () => {
      if (!done) out.destroy();
      finish();
    });
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (!done) p.onUnreachable?.();
      if (!res.headersSent) plainError(res, 503, `error trying to reach service: ${dialError(err, target)}`);
      else res.end();
      finish();
    });
    out.on('upgrade', (up: IncomingMessage, backend: Socket, head: Buffer) => {
      clearTimeout(headersTimer);
      const client = p.upgrade?.socket;
      if (!client) {
        backend.destroy();
        plainError(res, 502, 'unexpected upgrade from the backend');
        return finish();
      }
      // The 101 goes to the client as the backend wrote it; then bytes flow both ways.
      let head101 = `HTTP/1.1 ${up.statusCode} ${up.statusMessage ?? 'Switching Protocols'}\r\n`;
      for (let i = 0; i < up.rawHeaders.length; i += 2) head101 += `${up.rawHeaders[i]}: ${up.rawHeaders[i + 1]}\r\n`;
      client.write(`${head101}\r\n`);
      if (head.length) client.write(head);
      if (p.upgrade!.head.length) backend.write(p.upgrade!.head);
      backend.on('error', () => client.destroy());
      client.on('error', () => backend.destroy());
      backend.pipe(client);
      client.pipe(backend);
      backend.on('close', () => {
        client.destroy();
        finish();
      });
      client.on('close', () => backend.destroy());
    });
    out.on('response', (r: IncomingMessage) => {
      clearTimeout(headersTimer);
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) {
        if (v === undefined || hopByHop.has(k)) continue;
        h[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      res.writeHead(r.statusCode ?? 502, h);
      (res as { flushHeaders?: () => void }).flushHeaders?.();
      (res as unknown as { on(e: string, fn: () => void): void }).on('drain', () => r.resume());
      r.on('data', (chunk: Buffer) => {
        if (!res.write(chunk)) r.pause();
      });
      r.on('end', () => {
        res.end();
        finish();
      });
      r.on('error', () => {
        res.end();
        finish();
      });
    });
    if (p.upgrade) out.end();
    else (req as unknown as NodeJS.ReadableStream).pipe(out);
  });
}
