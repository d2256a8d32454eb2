/**
 * One attempt of a container probe, as upstream's prober runs it (pkg/kubelet/prober and
 * pkg/probe/{exec,http,tcp,grpc}): exec in the container, HTTP GET, TCP connect or the gRPC
 * health check. Outputs carry upstream's wording where it reaches events, e.g.
 * `HTTP probe failed with statuscode: 500` or
 * `Get "http://10.42.0.5:8080/": dial tcp 10.42.0.5:8080: connect: connection refused`;
 * the caller prefixes them (`Liveness probe failed: …`) and owns periods, thresholds and retries.
 *
 * Results: `success` (with `warning: true` for upstream's probe.Warning, a redirect to another
 * host that was not followed: it still counts as success, the caller may record a ProbeWarning
 * event), `failure`, and `unknown` when the probe itself errored (upstream's err != nil: a port
 * that does not resolve, an exec that could not run, a body read that failed).
 */
import { http } from '../util/http.ts';
import https from 'node:https';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition } from './cri/codec.ts';
import { parseProto } from './cri/schema.ts';
import type { Container, HTTPGetAction, IntOrString, Probe } from '../api/index.ts';
import { formatDuration } from '../api/duration.ts';
import { expandCommandStatic, goQuote } from './env.ts';

export type ProbeResult = { result: 'success' | 'failure' | 'unknown'; output: string; warning?: boolean };

export interface ProbeContext {
  podIP: string;
  container: Container;
  /**
   * Runs a command in the container and resolves with its exit code and output. When the command
   * outlives `timeoutSeconds` it should reject with an error whose `code` is 'ETIMEDOUT' (or whose
   * name is 'TimeoutError'); probeOnce stops waiting after `timeoutSeconds` in any case.
   */
  exec: (cmd: string[], timeoutSeconds: number) => Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }>;
  signal?: AbortSignal;
}

/** The User-Agent of HTTP and gRPC probes (upstream: kube-probe/<major>.<minor>). */
export const PROBE_USER_AGENT = 'kube-probe/1.33';
/** Response body bytes an HTTP probe reads at most (upstream's maxRespBodyLength). */
export const MAX_PROBE_BODY_BYTES = 10 * 1024;
/** Exec probe output bytes kept at most (upstream's maxReadLength). */
export const MAX_EXEC_OUTPUT_BYTES = 10 * 1024;
/** Requests an HTTP probe makes at most while following same-host redirects (Go's default policy). */
export const MAX_PROBE_REQUESTS = 10;
/** timeoutSeconds when the probe names none (API default). */
export const DEFAULT_PROBE_TIMEOUT_SECONDS = 1;

const canceled: ProbeResult = { result: 'unknown', output: 'probe canceled' };

/**
 * One probe attempt. Never throws: every outcome is a ProbeResult. Resolves within the probe's
 * timeoutSeconds (plus scheduling slack), or as soon as `ctx.signal` aborts (`unknown`).
 */
export async function probeOnce(probe: Probe, ctx: ProbeContext): Promise<ProbeResult> {
  if (ctx.signal?.aborted) return canceled;
  const timeoutSeconds = probe.timeoutSeconds && probe.timeoutSeconds > 0 ? probe.timeoutSeconds : DEFAULT_PROBE_TIMEOUT_SECONDS;
  try {
    if (probe.exec) return await execProbe(probe.exec.command ?? [], timeoutSeconds, ctx);
    if (probe.httpGet) return await httpProbe(probe.httpGet, timeoutSeconds, ctx);
    if (probe.tcpSocket) {
      const port = resolveContainerPort(probe.tcpSocket.port, ctx.container);
      return await tcpProbe(probe.tcpSocket.host || ctx.podIP, port, timeoutSeconds * 1000, ctx.signal);
    }
    if (probe.grpc) return await grpcProbe(ctx.podIP, probe.grpc.service ?? '', probe.grpc.port, timeoutSeconds, ctx.signal);
  } catch (err) {
    return { result: 'unknown', output: (err as Error).message };
  }
  return { result: 'unknown', output: `missing probe handler for ${ctx.container.name}` };
}

// ---- helpers ----

/** A probe port: a number, a named container port, or a number written as a string (upstream's ResolveContainerPort). */
export function resolveContainerPort(param: IntOrString, container: Container): number {
  let port: number;
  if (typeof param === 'number') {
    port = param;
  } else {
    const named = (container.ports ?? []).find((p) => p.name === param);
    if (named) {
      port = named.containerPort;
    } else if (/^[+-]?\d+$/.test(param)) {
      port = Number(param);
    } else {
      throw new Error(`strconv.Atoi: parsing ${goQuote(param)}: invalid syntax`);
    }
  }
  if (port > 0 && port < 65536) return port;
  throw new Error(`invalid port number: ${port}`);
}

function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const errnoText: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'connection timed out',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EINVAL: 'invalid argument',
};

/** A connect error as Go's dialer words it: `dial tcp 10.0.0.1:80: connect: connection refused`. */
function dialError(err: NodeJS.ErrnoException, host: string, port: number): string {
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `dial tcp: lookup ${host}: no such host`;
  const text = (err.code && errnoText[err.code]) || err.message;
  return `dial tcp ${joinHostPort(host, port)}: connect: ${text}`;
}

/** Races `p` against a timer and the abort signal; the loser is left to settle unobserved. */
function race<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined): Promise<{ kind: 'value'; value: T } | { kind: 'timeout' } | { kind: 'aborted' } | { kind: 'error'; error: unknown }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done({ kind: 'timeout' }), ms);
    const onAbort = () => done({ kind: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    function done(r: Parameters<typeof resolve>[0]) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    }
    p.then(
      (value) => done({ kind: 'value', value }),
      (error: unknown) => done({ kind: 'error', error }),
    );
  });
}

// ---- exec ----

function isTimeoutError(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | undefined;
  return e?.code === 'ETIMEDOUT' || e?.name === 'TimeoutError' || e?.code === grpc.status.DEADLINE_EXCEEDED;
}

async function execProbe(command: string[], timeoutSeconds: number, ctx: ProbeContext): Promise<ProbeResult> {
  const cmd = expandCommandStatic(command, ctx.container);
  const timedOut: ProbeResult = { result: 'failure', output: `command ${goQuote(cmd.join(' '))} timed out` };
  let run: Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }>;
  try {
    run = ctx.exec(cmd, timeoutSeconds);
  } catch (err) {
    return isTimeoutError(err) ? timedOut : { result: 'unknown', output: (err as Error).message };
  }
  const r = await race(run, timeoutSeconds * 1000, ctx.signal);
  switch (r.kind) {
    case 'timeout':
      return timedOut;
    case 'aborted':
      return canceled;
    case 'error':
      return isTimeoutError(r.error) ? timedOut : { result: 'unknown', output: (r.error as Error)?.message ?? String(r.error) };
    case 'value': {
      const output = Buffer.concat([r.value.stdout, r.value.stderr]).subarray(0, MAX_EXEC_OUTPUT_BYTES).toString('utf8');
      return { result: r.value.exitCode === 0 ? 'success' : 'failure', output };
    }
  }
}

// ---- tcp ----

function tcpProbe(host: string, port: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const socket = net.connect({ host, port });
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = () => finish(canceled);
    const timer = setTimeout(() => finish({ result: 'failure', output: `dial tcp ${joinHostPort(host, port)}: i/o timeout` }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      socket.end();
      finish({ result: 'success', output: '' });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ result: 'failure', output: dialError(err, host, port) }));
  });
}

// ---- http ----

const followedRedirects = new Set([301, 302, 303, 307, 308]);

interface HttpAnswer {
  status: number;
  location?: string;
  body: Buffer;
}

type HttpOutcome = { kind: 'response'; answer: HttpAnswer } | { kind: 'failure'; output: string } | { kind: 'error'; output: string } | { kind: 'aborted' };

function transportError(err: NodeJS.ErrnoException, url: URL, connected: boolean): string {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (err.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/.test(err.message)) {
    return 'tls: first record does not look like a TLS handshake';
  }
  if (err.code === 'EPROTO' || err.code?.startsWith('ERR_SSL') || err.code?.startsWith('ERR_TLS')) return `tls: ${err.message}`;
  if (err.code?.startsWith('HPE_')) return `net/http: HTTP/1.x transport connection broken: malformed HTTP response`;
  if (!connected) return dialError(err, host, port);
  if (err.message === 'socket hang up') return 'EOF';
  if (err.code === 'ECONNRESET') return 'read: connection reset by peer';
  return err.message;
}

/** One GET, reading at most MAX_PROBE_BODY_BYTES of the body, within `deadline` (ms since epoch). */
function getOnce(url: URL, headers: Record<string, string | string[]>, hostHeader: string, deadline: number, signal: AbortSignal | undefined): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const isHttps = url.protocol === 'https:';
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname,
      port: url.port || (isHttps ? 443 : 80),
      path: url.pathname + url.search,
      method: 'GET',
      headers: { ...headers, Host: hostHeader },
      agent: false,
      setHost: false,
    };
    if (isHttps) {
      options.rejectUnauthorized = false;
      if (net.isIP(hostname) === 0) options.servername = hostname;
    }
    let settled = false;
    let connected = false;
    let phase: 'headers' | 'body' = 'headers';
    const chunks: Buffer[] = [];
    let size = 0;
    const req = (isHttps ? https : http).request(options);
    const finish = (o: HttpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(o);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const timer = setTimeout(() => {
      if (phase === 'headers') {
        finish({ kind: 'failure', output: `context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
      } else {
        finish({ kind: 'error', output: `context deadline exceeded (Client.Timeout or context cancellation while reading body)` });
      }
    }, Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('socket', (s) => {
      s.once(isHttps ? 'secureConnect' : 'connect', () => {
        connected = true;
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (phase === 'body') finish({ kind: 'error', output: transportError(err, url, true) });
      else finish({ kind: 'failure', output: transportError(err, url, connected) });
    });
    req.on('response', (res) => {
      phase = 'body';
      const answer = (): HttpAnswer => ({
        status: res.statusCode ?? 0,
        ...(typeof res.headers.location === 'string' ? { location: res.headers.location } : {}),
        body: Buffer.concat(chunks).subarray(0, MAX_PROBE_BODY_BYTES),
      });
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_PROBE_BODY_BYTES) finish({ kind: 'response', answer: answer() });
      });
      res.on('end', () => finish({ kind: 'response', answer: answer() }));
      res.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'error', output: transportError(err, url, true) }));
    });
    req.end();
  });
}

/** The URL upstream builds (formatURL): the path as given, the host joined with the port. */
function formatUrl(scheme: string, host: string, port: number, p: string): string {
  const hp = joinHostPort(host, port);
  if (p === '') return `${scheme}://${hp}`;
  return `${scheme}://${hp}${p.startsWith('/') || p.startsWith('?') ? '' : '/'}${p}`;
}

async function httpProbe(action: HTTPGetAction, timeoutSeconds: number, ctx: ProbeContext): Promise<ProbeResult> {
  const scheme = (action.scheme || 'HTTP').toLowerCase();
  const host = action.host || ctx.podIP;
  const port = resolveContainerPort(action.port, ctx.container);
  const urlText = formatUrl(scheme, host, port, action.path ?? '');

  // Headers as Go's http.Header: names case-insensitive, repeated names are repeated values.
  const grouped = new Map<string, { name: string; values: string[] }>();
  for (const h of action.httpHeaders ?? []) {
    const key = h.name.toLowerCase();
    const g = grouped.get(key) ?? { name: h.name, values: [] };
    g.values.push(h.value);
    grouped.set(key, g);
  }
  if (!grouped.has('user-agent')) grouped.set('user-agent', { name: 'User-Agent', values: [PROBE_USER_AGENT] });
  const accept = grouped.get('accept');
  if (!accept) grouped.set('accept', { name: 'Accept', values: ['*/*'] });
  else if (accept.values[0] === '') grouped.delete('accept');
  const hostOverride = grouped.get('host')?.values[0] || '';
  grouped.delete('host');
  const headers: Record<string, string | string[]> = {};
  for (const g of grouped.values()) headers[g.name] = g.values.length === 1 ? g.values[0]! : g.values;

  if (scheme !== 'http' && scheme !== 'https') {
    return { result: 'failure', output: `Get ${goQuote(urlText)}: unsupported protocol scheme ${goQuote(scheme)}` };
  }
  let url: URL;
  try {
    url = new URL(urlText);
  } catch (err) {
    return { result: 'failure', output: `parse ${goQuote(urlText)}: ${(err as Error).message}` };
  }

  const deadline = Date.now() + timeoutSeconds * 1000;
  const firstHost = url.hostname;
  let shownUrl = urlText;
  let hostHeader = hostOverride || url.host;
  let requests = 0;
  for (;;) {
    requests++;
    const o = await getOnce(url, headers, hostHeader, deadline, ctx.signal);
    if (o.kind === 'aborted') return canceled;
    if (o.kind === 'failure') return { result: 'failure', output: `Get ${goQuote(shownUrl)}: ${o.output}` };
    if (o.kind === 'error') return { result: 'unknown', output: o.output };
    const { status, location, body } = o.answer;
    if (followedRedirects.has(status) && location) {
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (err) {
        return { result: 'failure', output: `Get ${goQuote(shownUrl)}: failed to parse Location header ${goQuote(location)}: ${(err as Error).message}` };
      }
      if (next.hostname === firstHost) {
        if (requests >= MAX_PROBE_REQUESTS) {
          return { result: 'failure', output: `Get ${goQuote(location)}: stopped after ${MAX_PROBE_REQUESTS} redirects` };
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          return { result: 'failure', output: `Get ${goQuote(location)}: unsupported protocol scheme ${goQuote(next.protocol.replace(/:$/, ''))}` };
        }
        // A custom Host header survives only a relative Location, as in Go's client.
        const relative = !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location) && !location.startsWith('//');
        hostHeader = hostOverride && relative ? hostOverride : next.host;
        url = next;
        shownUrl = next.href;
        continue;
      }
    }
    const text = body.toString('utf8');
    if (status >= 200 && status < 400) {
      if (status >= 300) return { result: 'success', warning: true, output: `Probe terminated redirects, Response body: ${text}` };
      return { result: 'success', output: text };
    }
    return { result: 'failure', output: `HTTP probe failed with statuscode: ${status}` };
  }
}

// ---- grpc ----

/** grpc.health.v1 (Check only), read by the CRI client's protobuf codec. */
export const healthProtoText = `
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

type HealthClient = grpc.Client & {
  Check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): grpc.ClientUnaryCall;
};

let healthCtor: grpc.ServiceClientConstructor | undefined;

function healthClient(addr: string): HealthClient {
  if (!healthCtor) {
    healthCtor = grpc.makeGenericClientConstructor(serviceDefinition(parseProto(healthProtoText), 'grpc.health.v1.Health'), 'Health');
  }
  return new healthCtor(addr, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': PROBE_USER_AGENT,
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
  }) as unknown as HealthClient;
}

const grpcCodeNames = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable',
  'DataLoss', 'Unauthenticated',
];

async function grpcProbe(host: string, service: string, port: number, timeoutSeconds: number, signal: AbortSignal | undefined): Promise<ProbeResult> {
  const addr = joinHostPort(host, port);
  const dur = formatDuration(timeoutSeconds * 1e9);
  const deadline = Date.now() + timeoutSeconds * 1000;
  const client = healthClient(addr);
  try {
    const ready = await race(
      new Promise<void>((resolve, reject) => client.waitForReady(deadline, (err) => (err ? reject(err) : resolve()))),
      timeoutSeconds * 1000 + 1000,
      signal,
    );
    if (ready.kind === 'aborted') return canceled;
    if (ready.kind !== 'value') {
      return { result: 'failure', output: `timeout: failed to connect service ${goQuote(addr)} within ${dur}: context deadline exceeded` };
    }
    const call = await race(
      new Promise<{ status: string }>((resolve, reject) =>
        client.Check({ service }, { deadline }, (err, res) => (err ? reject(err) : resolve(res ?? { status: 'UNKNOWN' }))),
      ),
      timeoutSeconds * 1000 + 1000,
      signal,
    );
    if (call.kind === 'aborted') return canceled;
    if (call.kind === 'timeout') return { result: 'failure', output: `timeout: health rpc did not complete within ${dur}` };
    if (call.kind === 'error') {
      const err = call.error as grpc.ServiceError;
      if (err.code === grpc.status.UNIMPLEMENTED) {
        return { result: 'failure', output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${err.details}` };
      }
      if (err.code === grpc.status.DEADLINE_EXCEEDED) return { result: 'failure', output: `timeout: health rpc did not complete within ${dur}` };
      const code = grpcCodeNames[err.code] ?? `Code(${err.code})`;
      return { result: 'failure', output: `error: health rpc probe failed: rpc error: code = ${code} desc = ${err.details ?? err.message}` };
    }
    if (call.value.status !== 'SERVING') {
      return { result: 'failure', output: `service unhealthy (responded with ${goQuote(call.value.status)})` };
    }
    return { result: 'success', output: 'service healthy' };
  } finally {
    client.close();
  }
}
