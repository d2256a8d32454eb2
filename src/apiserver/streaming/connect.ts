/**
 * The API server's connect subresources, reaching the node agent as upstream's REST storage
 * does (pkg/registry/core/pod/rest, pkg/registry/core/node/rest):
 * - pods/log: options validated, the pod's container chosen, the agent's
 *   /containerLogs/{ns}/{pod}/{container} streamed back as text/plain (204 when the pod has no
 *   node yet, as upstream's empty location); the agent's errors become Statuses as upstream's
 *   response checker makes them.
 * - pods/exec, pods/attach: the container chosen, then an upgrade toward the agent's
 *   /exec|/attach/{ns}/{pod}/{container}: WebSocket v5/v4 clients are translated to SPDY
 *   (remotecommand.ts), every other upgrade (SPDY) is proxied raw (upgrade.ts).
 * - pods/portforward: /portForward/{ns}/{pod}; WebSocket-tunneled SPDY (tunnel.ts) or raw.
 * - nodes/{name}/proxy/{path}: any method proxied to the agent (upgrades raw).
 * - pods/proxy, services/proxy: to the pod's or a ready endpoint's IP, see proxy.ts.
 * Errors before the connection is taken are thrown as StatusErrors for the server to write.
 *
 * Departure: upstream refuses node proxying to loopback and link-local addresses; a single-host
 * cluster's agent listens on loopback, so the address check is left out.
 */
import { http } from '../../util/http.ts';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { badRequest, internalError, routeNotFound, statusError, StatusError, type Reason } from '../../api/errors.ts';
import type { KubeObject, Node, Pod } from '../../api/index.ts';
import type { Response } from '../respond.ts';
import type { Request } from '../body.ts';
import type { RequestInfo } from '../requestinfo.ts';
import { agentEndpoint, agentTarget, agentUrl, plainError, type KubeletClientConfig } from './kubelet.ts';
import { chooseContainer, logOptions, logQuery, portForwardPorts, portForwardQuery, streamOptions, streamQuery } from './options.ts';
import { translateRemoteCommand, wantsTranslation, isWebSocketUpgrade } from './remotecommand.ts';
import { tunnelPortForward, tunnelRequestHeaders, tunneledProtocols } from './tunnel.ts';
import { serveResourceProxy } from './proxy.ts';
import { BackendError, dialUpgrade, proxyUpgrade, readLimited, type UpgradeRequest, type UpstreamTarget } from '../../util/upgrade.ts';

/** Upstream's cap on an error body read from the agent (generic HTTP response checker). */
export const maxAgentErrorBytes = 50_000;

export interface ConnectContext {
  req: Request;
  /** The response; for an HTTP/1.1 upgrade it writes to the raw connection below. */
  res: Response;
  /** Set for HTTP/1.1 upgrade requests: the connection, taken over by the streaming code. */
  upgrade?: { socket: Duplex; head: Buffer };
  info: RequestInfo;
  query: URLSearchParams;
  getPod: (namespace: string, name: string) => Promise<Pod>;
  getNode: (name: string) => Promise<Node>;
  /** Any stored object by kind (services/proxy reads the Service and its Endpoints); throws NotFound. */
  getObject?: (gk: { group: string; kind: string }, namespace: string, name: string) => Promise<KubeObject>;
  /** The API server's credentials toward agents; without them these subresources answer 503. */
  kubelet: KubeletClientConfig | undefined;
  log: (msg: string) => void;
}

/** Serves one connect subresource request. Resolves when the response or session is over. */
export async function serveConnect(ctx: ConnectContext): Promise<void> {
  const { resource, subresource } = ctx.info;
  if (resource === 'pods' && subresource === 'log') return serveLog(ctx);
  if (resource === 'pods' && (subresource === 'exec' || subresource === 'attach')) return serveRemoteCommand(ctx, subresource);
  if (resource === 'pods' && subresource === 'portforward') return servePortForward(ctx);
  if (resource === 'nodes' && subresource === 'proxy') return serveNodeProxy(ctx);
  if ((resource === 'pods' || resource === 'services') && subresource === 'proxy') return serveResourceProxy(ctx, resource);
  throw routeNotFound();
}

function requireKubelet(ctx: ConnectContext): KubeletClientConfig {
  if (!ctx.kubelet) throw statusError('ServiceUnavailable', 'the API server has no credentials for node agents (kubeletClient is not configured)');
  return ctx.kubelet;
}

const seg = encodeURIComponent;

// ---- pods/log ------------------------------------------------------------------------------------

async function serveLog(ctx: ConnectContext): Promise<void> {
  const { namespace, name } = ctx.info;
  const opts = logOptions(ctx.query, name);
  const pod = await ctx.getPod(namespace, name);
  const container = chooseContainer(pod, opts.container);
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) {
    ctx.res.writeHead(204);
    ctx.res.end();
    return;
  }
  const kubelet = requireKubelet(ctx);
  const node = await ctx.getNode(nodeName);
  const url = agentUrl(agentEndpoint(node), `/containerLogs/${seg(namespace)}/${seg(name)}/${seg(container)}`, logQuery(opts));
  const target = agentTarget(kubelet, url, { insecureSkipVerify: opts.insecureSkipTLSVerifyBackend });
  const upstream = await agentGet(target, ctx);
  const code = upstream.statusCode ?? 0;
  if (code < 200 || code > 206) {
    const body = (await readLimited(upstream, maxAgentErrorBytes)).toString('utf8');
    throw checkedResponse(code, body, { group: '', resource: 'pods/log' }, name);
  }
  ctx.res.writeHead(200, { 'content-type': 'text/plain' });
  await pipeBody(upstream, ctx.res);
}

/** GET on the agent; aborted when the client goes away. Rejects with upstream's client error. */
function agentGet(target: UpstreamTarget, ctx: ConnectContext): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: target.url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(target.url.port),
        path: `${target.url.pathname}${target.url.search}`,
        ca: target.tls?.caPem,
        cert: target.tls?.certPem,
        key: target.tls?.keyPem,
        rejectUnauthorized: !target.tls?.insecureSkipVerify,
        agent: false,
      },
      resolve,
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      const dial = dialError(err, target.url);
      reject(plainError(`Get ${JSON.stringify(target.url.toString())}: ${dial}`));
    });
    ctx.res.on('close', () => req.destroy());
  });
}

function dialError(err: NodeJS.ErrnoException, url: URL): string {
  const hp = url.host;
  if (err.code === 'ECONNREFUSED') return `dial tcp ${hp}: connect: connection refused`;
  if (err.code === 'EHOSTUNREACH') return `dial tcp ${hp}: connect: no route to host`;
  if (err.code === 'ETIMEDOUT') return `dial tcp ${hp}: i/o timeout`;
  return err.message;
}

/** Streams a body to the response, with backpressure; ends it when the body ends or breaks. */
function pipeBody(from: IncomingMessage, res: Response): Promise<void> {
  const out = res as unknown as NodeJS.WritableStream & Response;
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (!res.writableEnded) res.end();
      resolve();
    };
    from.on('data', (chunk: Buffer) => {
      if (!res.write(chunk)) {
        from.pause();
        out.once('drain', () => from.resume());
      }
    });
    from.on('end', finish);
    from.on('error', finish);
    from.on('close', finish);
    res.on('close', () => {
      from.destroy();
      finish();
    });
  });
}

const genericMessages: Partial<Record<number, [Reason | '', string]>> = {
  401: ['Unauthorized', 'the server has asked for the client to provide credentials'],
  404: ['NotFound', 'the server could not find the requested resource'],
  405: ['MethodNotAllowed', 'the server does not allow this method on the requested resource'],
  409: ['Conflict', 'the server reported a conflict'],
  422: ['Invalid', 'the server rejected our request due to an error in our request'],
  429: ['TooManyRequests', 'the server has received too many requests and has asked us to try again later'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: ['Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'],
};

/**
 * An agent's non-2xx answer as upstream's GenericHttpResponseChecker turns it into a Status:
 * 500 InternalError and 400 BadRequest carry the body; others the generic wording for the
 * code, naming the resource (with the empty verb upstream leaves there).
 */
export function checkedResponse(code: number, body: string, gr: { group: string; resource: string }, name: string): StatusError {
  if (code === 500) return internalError(new Error(body));
  if (code === 400) return badRequest(body);
  let [reason, message] = genericMessages[code] ?? ['', `the server responded with the status code ${code} but did not return more information`];
  if (code === 403) [reason, message] = ['Forbidden', body];
  if (code === 406) [reason, message] = ['NotAcceptable', body && body !== 'unknown' ? body : 'the server was unable to respond with a content type that the client supports'];
  if (code === 415) [reason, message] = ['UnsupportedMediaType', body];
  if (!genericMessages[code] && code >= 500 && code !== 503 && code !== 504) [reason, message] = ['InternalError', `an error on the server (${JSON.stringify(body)}) has prevented the request from succeeding`];
  const qualified = gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
  const status = {
    kind: 'Status' as const,
    apiVersion: 'v1' as const,
    metadata: {},
    status: 'Failure' as const,
    message: `${message} ( ${qualified} ${name})`,
    ...(reason ? { reason } : {}),
    details: { name, ...(gr.group ? { group: gr.group } : {}), kind: gr.resource },
    code,
  };
  return new StatusError(status);
}

// ---- pods/exec, pods/attach, pods/portforward ------------------------------------------------------

function upgradeOf(ctx: ConnectContext): UpgradeRequest {
  if (!ctx.upgrade || !isUpgrade(ctx.req.headers as Record<string, string | string[] | undefined>)) throw badRequest('Upgrade request required');
  return { req: ctx.req as IncomingMessage, socket: ctx.upgrade.socket, head: ctx.upgrade.head };
}

function isUpgrade(headers: Record<string, string | string[] | undefined>): boolean {
  return [headers['connection'] ?? ''].flat().join(',').toLowerCase().includes('upgrade');
}

/** Whether the request asks for an HTTP/1.1 upgrade (`Connection: upgrade`). */
export const isUpgradeRequest = isUpgrade;
/** The raw upgrade proxy with the connect subresources' error reporting. */
export const proxyRawUpgrade = (client: UpgradeRequest, target: UpstreamTarget): Promise<void> => proxyRaw(client, target);

/** A raw upgrade proxy whose failures before the switch are reported as upstream's responder does. */
async function proxyRaw(client: UpgradeRequest, target: UpstreamTarget): Promise<void> {
  try {
    await proxyUpgrade(client, target);
  } catch (err) {
    if (!(err instanceof BackendError)) throw err;
    throw plainError(err.message.startsWith('invalid upgrade response') ? err.message : `error dialing backend: ${err.message}`);
  }
}

async function serveRemoteCommand(ctx: ConnectContext, kind: 'exec' | 'attach'): Promise<void> {
  const { namespace, name } = ctx.info;
  const opts = streamOptions(ctx.query, kind);
  const pod = await ctx.getPod(namespace, name);
  const container = chooseContainer(pod, opts.container);
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  const kubelet = requireKubelet(ctx);
  const node = await ctx.getNode(nodeName);
  const url = agentUrl(agentEndpoint(node), `/${kind}/${seg(namespace)}/${seg(name)}/${seg(container)}`, streamQuery(opts));
  const target = agentTarget(kubelet, url);
  const client = upgradeOf(ctx);
  if (wantsTranslation(client.req.headers)) {
    await translateRemoteCommand(client, {
      streams: opts,
      dial: (protocols) => dialUpgrade(target, { method: 'POST', headers: spdyUpgradeHeaders(target, protocols) }),
      log: ctx.log,
    });
    return;
  }
  await proxyRaw(client, target);
}

function spdyUpgradeHeaders(target: UpstreamTarget, protocols: readonly string[]): string[] {
  const h = ['Host', target.url.host, 'Connection', 'Upgrade', 'Upgrade', 'SPDY/3.1'];
  for (const p of protocols) h.push('X-Stream-Protocol-Version', p);
  return h;
}

async function servePortForward(ctx: ConnectContext): Promise<void> {
  const { namespace, name } = ctx.info;
  const ports = portForwardPorts(ctx.query);
  const pod = await ctx.getPod(namespace, name);
  const nodeName = pod.spec?.nodeName;
  if (!nodeName) throw badRequest(`pod ${name} does not have a host assigned`);
  const kubelet = requireKubelet(ctx);
  const node = await ctx.getNode(nodeName);
  const target = agentTarget(kubelet, agentUrl(agentEndpoint(node), `/portForward/${seg(namespace)}/${seg(name)}`, portForwardQuery(ports)));
  const client = upgradeOf(ctx);
  const protocols = isWebSocketUpgrade(client.req.headers) ? tunneledProtocols(client.req.headers) : [];
  if (!protocols.length) return proxyRaw(client, target);
  try {
    await tunnelPortForward(client, {
      protocols,
      dial: () => dialUpgrade(target, { method: 'POST', headers: tunnelRequestHeaders(client, target, protocols) }),
      log: ctx.log,
    });
  } catch (err) {
    if (!(err instanceof BackendError)) throw err;
    throw plainError(err.message.startsWith('invalid upgrade response') || err.message.startsWith('unable to upgrade') ? err.message : `error dialing backend: ${err.message}`);
  }
}

// ---- nodes/proxy -----------------------------------------------------------------------------------

const hopByHop = new Set(['connection', 'proxy-connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** `name`, `name:port` or `scheme:name:port` (upstream SplitSchemeNamePort). */
export function splitSchemeNamePort(id: string): { scheme: string; name: string; port: string } | undefined {
  const parts = id.split(':');
  const [scheme, name, port] = parts.length === 1 ? ['', parts[0]!, ''] : parts.length === 2 ? ['', parts[0]!, parts[1]!] : parts.length === 3 ? [parts[0]!, parts[1]!, parts[2]!] : ['', '', ''];
  if (!name || !['', 'http', 'https'].includes(scheme)) return undefined;
  return { scheme, name, port };
}

async function serveNodeProxy(ctx: ConnectContext): Promise<void> {
  const id = ctx.info.name;
  const parsed = splitSchemeNamePort(id);
  if (!parsed) throw badRequest(`invalid node request ${JSON.stringify(id)}`);
  const kubelet = requireKubelet(ctx);
  const node = await ctx.getNode(parsed.name);
  const endpoint = agentEndpoint(node);
  // The path after …/proxy, as the client escaped it; a trailing slash is kept.
  const raw = new URL(ctx.req.url ?? '/', 'https://localhost');
  const segments = raw.pathname.split('/');
  const at = segments.indexOf('proxy', 4);
  const rest = at >= 0 ? segments.slice(at + 1).join('/') : '';
  const path = `/${rest}`;
  let target: UpstreamTarget;
  if (!parsed.port || parsed.port === String(endpoint.port)) {
    target = agentTarget(kubelet, agentUrl(endpoint, path, raw.search.slice(1)));
  } else {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    target = { url: new URL(`${parsed.scheme || 'http'}://${host}:${parsed.port}${path}${raw.search}`), tls: { caPem: kubelet.caPem } };
  }
  if (ctx.upgrade && isUpgrade(ctx.req.headers as Record<string, string | string[] | undefined>)) {
    return proxyRaw({ req: ctx.req as IncomingMessage, socket: ctx.upgrade.socket, head: ctx.upgrade.head }, target);
  }
  await proxyHttp(ctx, target);
}

/** A plain request proxied to the agent and its answer streamed back (hop-by-hop headers dropped). */
export function proxyHttp(ctx: ConnectContext, target: UpstreamTarget): Promise<void> {
  const req = ctx.req;
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase();
    if (n.startsWith(':') || n === 'host' || n === 'authorization' || n.startsWith('impersonate-') || n === 'x-forwarded-for' || hopByHop.has(n)) continue;
    headers.push(raw[i]!, raw[i + 1]!);
  }
  const client = req.socket?.remoteAddress?.replace(/^::ffff:/, '');
  const prior = req.headers['x-forwarded-for'];
  if (client) headers.push('X-Forwarded-For', prior ? `${prior}, ${client}` : client);
  headers.unshift('Host', target.url.host);
  const secure = target.url.protocol === 'https:';
  const options = {
    host: target.url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(target.url.port),
    method: req.method ?? 'GET',
    path: `${target.url.pathname}${target.url.search}`,
    headers: headers as unknown as OutgoingHttpHeaders,
    setHost: false,
    agent: false as const,
  };
  return new Promise((resolve, reject) => {
    const out = secure
      ? https.request({ ...options, ca: target.tls?.caPem, cert: target.tls?.certPem, key: target.tls?.keyPem, rejectUnauthorized: !target.tls?.insecureSkipVerify })
      : http.request(options);
    let responded = false;
    out.on('response', (upstream) => {
      responded = true;
      const h: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upstream.headers)) if (v !== undefined && !hopByHop.has(k)) h[k] = v;
      (ctx.res as unknown as ServerResponse).writeHead(upstream.statusCode ?? 502, h);
      pipeBody(upstream, ctx.res).then(resolve);
    });
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (responded) return resolve();
      reject(statusError('ServiceUnavailable', `error trying to reach service: ${dialError(err, target.url)}`));
    });
    ctx.res.on('close', () => out.destroy());
    (req as NodeJS.ReadableStream).pipe(out);
  });
}
