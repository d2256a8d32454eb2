/**
 * exec and attach for WebSocket clients, translated to SPDY toward the node agent, as upstream's
 * StreamTranslatorHandler does (k8s.io/apiserver pkg/util/proxy/streamtranslator.go): the API
 * server terminates the WebSocket (`v5.channel.k8s.io`, which kubectl ≥ 1.30 speaks; also the
 * binary `v4.channel.k8s.io`) and acts as a SPDY remote-command client (v4, else v3 or v2)
 * toward the agent.
 *
 * The WebSocket protocol: every binary message starts with a channel byte — 0 stdin, 1 stdout,
 * 2 stderr, 3 error (one metav1.Status, then the server closes), 4 resize (JSON
 * `{"Width":w,"Height":h}`); v5 adds 255, a half-close: `[255, channel]` (stdin EOF). The SPDY
 * side has one stream per channel, told apart by the `streamType` header, created in the order
 * error, stdin, stdout, stderr (not with a TTY), resize (TTY only).
 *
 * The status written on channel 3 is upstream's: `{"metadata":{},"status":"Success"}`; an exit
 * code as reason NonZeroExitCode with the code in a cause of reason ExitCode; anything else an
 * InternalError status.
 *
 * Bounds: a WebSocket message at most `maxWebSocketMessageBytes`; output queued toward the
 * WebSocket client at most about `maxWebSocketBufferedBytes` (the agent's streams pause past it);
 * a session with no data message either way for `webSocketIdleTimeoutMs` (upstream's 4 h) is
 * closed; the error stream is read up to `maxErrorStreamBytes`; SPDY streams must be accepted
 * within spdy.ts's `createStreamTimeoutMs`.
 */
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { Duplex } from 'node:stream';
import { SpdyConnection, type SpdyStream } from './spdy.ts';
import { readLimited, type DialResult, type UpgradeRequest } from '../../util/upgrade.ts';

export const protocolV5 = 'v5.channel.k8s.io';
export const protocolV4 = 'v4.channel.k8s.io';
export const protocolV3 = 'v3.channel.k8s.io';
export const protocolV2 = 'v2.channel.k8s.io';

/** WebSocket subprotocols this translator answers, in preference order. */
export const translatedWebSocketProtocols: readonly string[] = [protocolV5, protocolV4];
/** SPDY remote-command protocols asked of the agent, in preference order. */
export const spdyRemoteCommandProtocols: readonly string[] = [protocolV4, protocolV3, protocolV2];

/** Upstream's WebSocket idle deadline for the translator (as the kubelet's). */
export const webSocketIdleTimeoutMs = 4 * 60 * 60 * 1000;
/** The largest WebSocket message accepted (kubectl sends at most 32 KiB + 1). */
export const maxWebSocketMessageBytes = 1 << 20;
/** Output queued toward the WebSocket client before the agent's streams are paused. */
export const maxWebSocketBufferedBytes = 1 << 20;
/** The most read of the error stream (one Status). */
export const maxErrorStreamBytes = 64 * 1024;
/** A resize message longer than this is dropped. */
export const maxResizeMessageBytes = 4 * 1024;
/** SPDY pings toward the agent, as upstream's translator sends them. */
export const spdyPingIntervalMs = 5_000;

const channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

export interface RemoteCommandStreams {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Whether a request is a WebSocket upgrade offering a protocol this translator answers. */
export function wantsTranslation(headers: Record<string, string | string[] | undefined>): boolean {
  return isWebSocketUpgrade(headers) && webSocketProtocols(headers).some((p) => translatedWebSocketProtocols.includes(p));
}

/** `Upgrade: websocket` with `Connection: upgrade` (as upstream's wsstream.IsWebSocketRequest). */
export function isWebSocketUpgrade(headers: Record<string, string | string[] | undefined>): boolean {
  const upgrade = String(headers['upgrade'] ?? '').toLowerCase();
  const connection = [headers['connection'] ?? ''].flat().join(',').toLowerCase();
  return upgrade === 'websocket' && connection.includes('upgrade');
}

/** The offered WebSocket subprotocols, in the client's order. */
export function webSocketProtocols(headers: Record<string, string | string[] | undefined>): string[] {
  return [headers['sec-websocket-protocol'] ?? '']
    .flat()
    .join(',')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** metav1.Status as Go marshals it (no kind/apiVersion; empty fields left out). */
export type WireStatus = Record<string, unknown>;

export const successStatus = (): WireStatus => ({ metadata: {}, status: 'Success' });

export function exitCodeStatus(code: number): WireStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: command terminated with exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function internalErrorStatus(message: string): WireStatus {
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 };
}

/** What the remote command ended with: success, an exit code, a Status to pass on, or an error. */
export type Outcome = { kind: 'success' } | { kind: 'exit'; code: number } | { kind: 'status'; status: WireStatus } | { kind: 'error'; message: string };

export function outcomeStatus(o: Outcome): WireStatus {
  switch (o.kind) {
    case 'success':
      return successStatus();
    case 'exit':
      return exitCodeStatus(o.code);
    case 'status':
      return o.status;
    case 'error':
      return internalErrorStatus(o.message);
  }
}

/**
 * Reads the agent's error stream as upstream's client does: v4 carries a metav1.Status (exit
 * codes as NonZeroExitCode); v2/v3 plain text. Empty means success.
 */
export function decodeErrorStream(protocol: string, message: Buffer): Outcome {
  if (!message.length) return { kind: 'success' };
  const text = message.toString('utf8');
  if (protocol !== protocolV4) return { kind: 'error', message: `error executing remote command: ${text}` };
  let status: { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } };
  try {
    status = JSON.parse(text);
    if (typeof status !== 'object' || status === null) throw new Error('not an object');
  } catch (err) {
    return { kind: 'error', message: `error stream protocol error: ${(err as Error).message} in ${JSON.stringify(text)}` };
  }
  if (status.status === 'Success') return { kind: 'success' };
  if (status.status !== 'Failure') return { kind: 'error', message: 'error stream protocol error: unknown error' };
  if (status.reason === 'NonZeroExitCode') {
    if (!status.details) return { kind: 'error', message: 'error stream protocol error: details must be set' };
    const cause = (status.details.causes ?? []).find((c) => c.reason === 'ExitCode');
    if (!cause) return { kind: 'error', message: 'error stream protocol error: no ExitCode cause given' };
    const raw = cause.message ?? '';
    if (!/^\d+$/.test(raw) || Number(raw) > 255) return { kind: 'error', message: `error stream protocol error: invalid exit code value ${JSON.stringify(raw)}` };
    return { kind: 'exit', code: Number(raw) };
  }
  return { kind: 'error', message: status.message ?? '' };
}

/**
 * Why a SPDY upgrade was refused, as upstream's client reports it: a Status body as that Status,
 * otherwise `unable to upgrade connection: <body>`.
 */
export async function upgradeRefusal(res: DialResult & { upgraded: false }): Promise<Outcome> {
  const body = (await readLimited(res.response, maxErrorStreamBytes)).toString('utf8');
  try {
    const parsed = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && parsed.kind === 'Status') return { kind: 'status', status: parsed };
  } catch {
    // not a Status
  }
  return { kind: 'error', message: `unable to upgrade connection: ${body.trim()}` };
}

/**
 * Accepts a WebSocket upgrade with `ws`, answering the subprotocol `chooseProtocol` picks (none
 * when it returns false); resolves null if the handshake was refused (ws answered 400). The
 * subprotocol is negotiated here rather than by ws: kubectl's tunneling protocols
 * (`SPDY/3.1+portforward.k8s.io`) are not RFC 7230 tokens, which ws would refuse.
 */
export function acceptWebSocket(
  client: UpgradeRequest,
  chooseProtocol: (offered: string[]) => string | false,
  maxMessageBytes = maxWebSocketMessageBytes,
): Promise<{ ws: WebSocket; protocol: string } | null> {
  const protocol = chooseProtocol(webSocketProtocols(client.req.headers)) || '';
  delete client.req.headers['sec-websocket-protocol'];
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: maxMessageBytes, clientTracking: false });
  if (protocol) wss.on('headers', (headers) => headers.push(`Sec-WebSocket-Protocol: ${protocol}`));
  return new Promise((resolve) => {
    let done = false;
    client.socket.once('close', () => {
      if (!done) resolve(null);
    });
    wss.handleUpgrade(client.req, client.socket, client.head, (ws) => {
      done = true;
      resolve({ ws, protocol });
    });
  });
}

export interface TranslateOptions {
  streams: RemoteCommandStreams;
  /** Performs the SPDY upgrade request to the agent, offering these protocols. */
  dial: (protocols: readonly string[]) => Promise<DialResult>;
  /** Bounds; the defaults are the constants above (tests set small ones). */
  idleTimeoutMs?: number;
  maxMessageBytes?: number;
  maxBufferedBytes?: number;
  pingIntervalMs?: number;
  createStreamTimeoutMs?: number;
  log?: (msg: string) => void;
}

/**
 * Serves one exec/attach session for a WebSocket client by translating to SPDY toward the
 * agent. Takes over the client's socket; resolves when the session is over (never rejects).
 */
export async function translateRemoteCommand(client: UpgradeRequest, opts: TranslateOptions): Promise<void> {
  const accepted = await acceptWebSocket(client, (offered) => offered.find((p) => translatedWebSocketProtocols.includes(p)) ?? false, opts.maxMessageBytes);
  if (!accepted) return;
  await new Session(accepted.ws, accepted.protocol, opts).run();
}

class Session {
  #ws: WebSocket;
  #opts: TranslateOptions;
  #v5: boolean;
  #spdy: SpdyConnection | undefined;
  #stdin: SpdyStream | undefined;
  #resize: SpdyStream | undefined;
  #resizeText = '';
  #paused = new Set<Duplex>();
  #lastActivity = Date.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #finished = false;
  #wsClosed: Promise<void>;
  #maxBuffered: number;

  constructor(ws: WebSocket, protocol: string, opts: TranslateOptions) {
    this.#ws = ws;
    this.#opts = opts;
    this.#maxBuffered = opts.maxBufferedBytes ?? maxWebSocketBufferedBytes;
    this.#v5 = protocol === protocolV5;
    this.#wsClosed = new Promise((r) => ws.once('close', () => r()));
    ws.on('error', (err) => opts.log?.(`exec websocket: ${err.message}`));
    ws.once('close', () => this.#teardown());
  }

  async run(): Promise<void> {
    const ws = this.#ws;
    const s = this.#opts.streams;
    // Nothing from the client is read until the agent's streams exist.
    ws.pause();
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    this.#armIdle();
    // The first (empty) message on the lowest writable channel tells the client it is connected.
    this.#send(s.stdout ? channel.stdout : s.stderr ? channel.stderr : channel.error, Buffer.alloc(0));
    const outcome = await this.#stream().catch((err: Error): Outcome => ({ kind: 'error', message: err.message }));
    this.#finish(outcome);
    await this.#wsClosed;
  }

  async #stream(): Promise<Outcome> {
    const s = this.#opts.streams;
    const dialed = await this.#opts.dial(spdyRemoteCommandProtocols);
    if (!dialed.upgraded) return upgradeRefusal(dialed);
    const protocol = String(dialed.response.headers['x-stream-protocol-version'] ?? '');
    if (!spdyRemoteCommandProtocols.includes(protocol)) {
      dialed.socket.destroy();
      return { kind: 'error', message: `unsupported streaming protocol ${JSON.stringify(protocol)}` };
    }
    const spdy = new SpdyConnection(dialed.socket, {
      role: 'client',
      head: dialed.head,
      pingIntervalMs: this.#opts.pingIntervalMs ?? spdyPingIntervalMs,
      createStreamTimeoutMs: this.#opts.createStreamTimeoutMs,
    });
    this.#spdy = spdy;
    spdy.on('close', (err?: Error | null) => {
      if (err) this.#opts.log?.(`exec: connection to the agent closed: ${err.message}`);
    });
    if (this.#finished) {
      spdy.close();
      return { kind: 'success' };
    }
    const open = (type: string) => spdy.createStream({ streamtype: [type] });
    const errorStream = await open('error');
    const stdin = s.stdin ? await open('stdin') : undefined;
    const stdout = s.stdout ? await open('stdout') : undefined;
    const stderr = s.stderr && !s.tty ? await open('stderr') : undefined;
    const resize = s.tty && protocol !== protocolV2 ? await open('resize') : undefined;
    this.#stdin = stdin;
    this.#resize = resize;
    if (this.#finished) return { kind: 'success' };

    // The agent closing stdin means the command no longer reads it: stop sending (as upstream).
    stdin?.on('end', () => stdin.end());
    stdin?.resume();
    resize?.resume();
    const outputs = [stdout && this.#forward(stdout, channel.stdout), stderr && this.#forward(stderr, channel.stderr)];
    const errorText = readStream(errorStream, maxErrorStreamBytes);
    this.#ws.resume();
    await Promise.all(outputs);
    return decodeErrorStream(protocol, await errorText);
  }

  /** Copies one agent stream to a WebSocket channel; resolves at the stream's end. */
  #forward(stream: SpdyStream, ch: number): Promise<void> {
    return new Promise((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        this.#send(ch, chunk);
        if (this.#ws.bufferedAmount > this.#maxBuffered) {
          stream.pause();
          this.#paused.add(stream);
        }
      });
      stream.once('end', resolve);
      stream.once('close', resolve);
    });
  }

  #send(ch: number, data: Buffer): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    this.#lastActivity = Date.now();
    this.#ws.send(Buffer.concat([Buffer.from([ch]), data]), { binary: true }, () => {
      if (this.#paused.size && this.#ws.bufferedAmount <= this.#maxBuffered / 2) {
        for (const p of this.#paused) p.resume();
        this.#paused.clear();
      }
    });
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!isBinary || !buf.length) return;
    this.#lastActivity = Date.now();
    if (this.#v5 && buf[0] === channel.close) {
      if (buf.length !== 2) {
        this.#opts.log?.('exec websocket: a close signal must name exactly one channel');
        this.#ws.close(1002);
        return;
      }
      if (buf[1] === channel.stdin) this.#stdin?.end();
      if (buf[1] === channel.resize) this.#resize?.end();
      return;
    }
    const payload = buf.subarray(1);
    if (buf[0] === channel.stdin && this.#stdin && !this.#stdin.writableEnded) {
      if (!this.#stdin.write(payload)) {
        this.#ws.pause();
        this.#stdin.once('drain', () => this.#ws.resume());
      }
    } else if (buf[0] === channel.resize && this.#resize && !this.#resize.writableEnded) {
      this.#onResize(payload.toString('utf8'));
    }
  }

  /** Resize events: JSON objects, possibly split or joined across messages; re-encoded one per line. */
  #onResize(text: string): void {
    this.#resizeText += text;
    if (this.#resizeText.length > maxResizeMessageBytes) {
      this.#resizeText = '';
      return;
    }
    for (;;) {
      const t = this.#resizeText.trimStart();
      const end = t.indexOf('}');
      if (!t || end < 0) {
        this.#resizeText = t;
        return;
      }
      this.#resizeText = t.slice(end + 1);
      try {
        const size = JSON.parse(t.slice(0, end + 1)) as { Width?: number; Height?: number };
        this.#resize!.write(`${JSON.stringify({ Width: size.Width ?? 0, Height: size.Height ?? 0 })}\n`);
      } catch {
        // not a size: dropped, as upstream's decoder stops at bad input
      }
    }
  }

  #finish(outcome: Outcome): void {
    if (this.#finished) return;
    this.#finished = true;
    if (outcome.kind === 'error') this.#opts.log?.(`exec: ${outcome.message}`);
    const ws = this.#ws;
    ws.resume();
    if (ws.readyState === ws.OPEN) {
      ws.send(Buffer.concat([Buffer.from([channel.error]), Buffer.from(JSON.stringify(outcomeStatus(outcome)))]), { binary: true }, () => ws.close(1000));
    }
    this.#spdy?.close();
  }

  #armIdle(): void {
    const idle = this.#opts.idleTimeoutMs ?? webSocketIdleTimeoutMs;
    if (!idle) return;
    this.#idleTimer = setTimeout(
      () => {
        if (Date.now() - this.#lastActivity >= idle) {
          this.#opts.log?.(`exec: session idle for ${idle} ms, closing`);
          this.#ws.terminate();
          return;
        }
        this.#armIdle();
      },
      Math.max(1, this.#lastActivity + idle - Date.now()),
    );
    this.#idleTimer.unref();
  }

  #teardown(): void {
    clearTimeout(this.#idleTimer);
    this.#finished = true;
    this.#spdy?.close();
  }
}

/** Reads a stream to its end, keeping at most `limit` bytes. */
function readStream(s: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    s.on('data', (c: Buffer) => {
      if (n >= limit) return;
      chunks.push(c.subarray(0, limit - n));
      n += Math.min(c.length, limit - n);
    });
    const done = () => resolve(Buffer.concat(chunks));
    s.once('end', done);
    s.once('close', done);
  });
}
