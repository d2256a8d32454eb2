/**
 * Test fixtures for the streaming path (imported by tests only): a fake CRI streaming server that
 * speaks what the kubelet's cri/streaming package speaks (SPDY remote-command v4…v2 at
 * /exec|/attach/{token}, SPDY portforward.k8s.io at /portforward/{token}, single-use tokens,
 * the kubelet's handshake errors), running a few pretend commands; and a fake AgentBackend over
 * a fixed set of pods and logs that hands out the fake CRI's URLs.
 *
 * Pretend commands: `echo ARGS…` prints ARGS; `cat` copies stdin to stdout; `exit N` (or
 * `sh -c "exit N"`) exits N; `stderr MSG` prints MSG on stderr; `size` prints the first
 * terminal size it is sent as WxH; `fail MSG` fails as a runtime error would; `flood N` writes N
 * bytes to stdout as fast as the stream takes them (FakeCri.produced counts them); `bigerror N`
 * writes N bytes on the error stream. attach behaves as cat.
 */
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { SpdyConnection, headerValue, type SpdyStream } from '../../apiserver/streaming/index.ts';
import { HttpError, type AgentBackend } from './backend.ts';

type Session =
  | { kind: 'exec' | 'attach'; command: string[]; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }
  | { kind: 'portforward'; ports: Record<number, number> };

const remoteCommandProtocols = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

export interface FakeCri {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  /** A one-use URL for a session, as the CRI's Exec/Attach/PortForward return. */
  register(session: Session): string;
  /** Sessions started so far (each token consumed). */
  started: number;
  /** SPDY connections currently open. */
  readonly open: number;
  /** Bytes `flood` has handed to its stream so far. */
  produced: number;
  close(): Promise<void>;
}

export async function startFakeCri(): Promise<FakeCri> {
  const sessions = new Map<string, Session>();
  const conns = new Set<SpdyConnection>();
  const sockets = new Set<Duplex>();
  const srv = http.createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  });
  const self: FakeCri = {
    url: '',
    started: 0,
    produced: 0,
    get open() {
      return conns.size;
    },
    register(session) {
      const token = randomBytes(6).toString('base64url');
      sessions.set(token, session);
      return `${self.url}/${session.kind}/${token}`;
    },
    async close() {
      for (const c of conns) c.destroy();
      for (const s of sockets) s.destroy();
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    },
  };
  srv.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const [, kind, token] = (req.url ?? '').split('/');
    const session = token ? sessions.get(token) : undefined;
    if (!session || session.kind !== kind) return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\n\r\n404 page not found\n');
    sessions.delete(token!);
    const offered = String(req.headers['x-stream-protocol-version'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const supported = session.kind === 'portforward' ? ['portforward.k8s.io'] : remoteCommandProtocols;
    const protocol = offered.find((p) => supported.includes(p));
    if (!protocol) {
      const msg = `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${supported.join(' ')}]\n`;
      return void socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${msg.length}\r\n\r\n${msg}`);
    }
    self.started++;
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    if (session.kind === 'portforward') return servePortForward(socket, head, session.ports, conns);
    serveRemoteCommand(socket, head, session, protocol, conns, self);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  self.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return self;
}

function serveRemoteCommand(socket: Duplex, head: Buffer, s: Extract<Session, { kind: 'exec' | 'attach' }>, protocol: string, conns: Set<SpdyConnection>, cri: FakeCri): void {
  const expected = 1 + Number(s.stdin) + Number(s.stdout) + Number(s.stderr) + Number(s.tty && protocol !== 'v2.channel.k8s.io' && protocol !== 'channel.k8s.io');
  const streams = new Map<string, SpdyStream>();
  const conn = new SpdyConnection(socket, {
    role: 'server',
    head,
    onStream: (stream) => {
      stream.reply();
      streams.set(headerValue(stream.headers, 'streamType') ?? '', stream);
      if (streams.size === expected) void run();
    },
  });
  conns.add(conn);
  conn.on('close', () => conns.delete(conn));
  const run = async () => {
    const stdin = streams.get('stdin');
    const stdout = streams.get('stdout');
    const stderr = streams.get('stderr');
    const resize = streams.get('resize');
    const error = streams.get('error')!;
    const cmd = s.kind === 'attach' ? ['cat'] : s.command;
    let exit = 0;
    let failure: string | undefined;
    const [name, ...args] = cmd[0] === 'sh' && cmd[1] === '-c' ? (cmd[2] ?? '').split(' ') : cmd;
    switch (name) {
      case 'echo':
        stdout?.write(`${args.join(' ')}\n`);
        break;
      case 'cat':
        if (stdin && stdout) {
          stdin.pipe(stdout, { end: false });
          await new Promise((r) => stdin.once('end', r));
        }
        break;
      case 'exit':
        exit = Number(args[0] ?? 1);
        break;
      case 'stderr':
        (stderr ?? stdout)?.write(`${args.join(' ')}\n`);
        break;
      case 'size': {
        const line = await new Promise<string>((resolve) => {
          let text = '';
          resize?.on('data', (c: Buffer) => {
            text += c.toString();
            if (text.includes('\n')) resolve(text.split('\n')[0]!);
          });
        });
        const size = JSON.parse(line) as { Width: number; Height: number };
        stdout?.write(`${size.Width}x${size.Height}\n`);
        break;
      }
      case 'fail':
        failure = args.join(' ');
        break;
      case 'flood': {
        const chunk = Buffer.alloc(32 * 1024, 0x61);
        for (let left = Number(args[0]); left > 0 && stdout && !stdout.destroyed; left -= chunk.length) {
          const piece = chunk.subarray(0, Math.min(chunk.length, left));
          cri.produced += piece.length;
          if (!stdout.write(piece)) await new Promise((r) => stdout.once('drain', r));
        }
        break;
      }
      case 'bigerror':
        error.write(Buffer.alloc(Number(args[0]), 0x62));
        await new Promise((r) => setTimeout(r, 20));
        conn.close();
        return;
      default:
        exit = 127;
    }
    // As the kubelet's ServeExec: output streams end, the status is written, the connection closes.
    stdout?.end();
    stderr?.end();
    stdin?.resume();
    const status =
      failure !== undefined
        ? { metadata: {}, status: 'Failure', message: `Internal error occurred: error executing command in container: ${failure}`, reason: 'InternalError', details: { causes: [{ message: `error executing command in container: ${failure}` }] }, code: 500 }
        : exit
          ? {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${exit}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
            }
          : { metadata: {}, status: 'Success' };
    if (protocol === 'v4.channel.k8s.io') error.write(JSON.stringify(status));
    else if (status.status !== 'Success') error.write(String(status.message));
    await new Promise((r) => setTimeout(r, 20));
    conn.close();
  };
}

function servePortForward(socket: Duplex, head: Buffer, ports: Record<number, number>, conns: Set<SpdyConnection>): void {
  const conn = new SpdyConnection(socket, {
    role: 'server',
    head,
    onStream: (stream) => {
      stream.reply();
      const type = headerValue(stream.headers, 'streamType');
      const port = Number(headerValue(stream.headers, 'port'));
      if (type === 'error') return void stream.resume();
      const target = ports[port];
      if (!target) return void stream.reset();
      const tcp = net.connect(target, '127.0.0.1');
      tcp.on('error', () => stream.reset());
      stream.pipe(tcp);
      tcp.pipe(stream);
      stream.on('close', () => tcp.destroy());
    },
  });
  conns.add(conn);
  conn.on('close', () => conns.delete(conn));
}

export interface FakeLog {
  lines: string[];
  /** Follow ends when this is false and no more lines come; `events` 'line'/'end' drive it. */
  running: boolean;
  events: EventEmitter;
  /** The backend throws this instead of writing. */
  error?: HttpError;
}

export function fakeLog(lines: string[], opts: { running?: boolean; error?: HttpError } = {}): FakeLog {
  return { lines, running: opts.running ?? false, events: new EventEmitter(), error: opts.error };
}

/**
 * A fake AgentBackend: `pods` are the node's pods, `logs` keyed `ns/pod/container`, sessions go
 * to `cri` (exec/attach of an unknown container is a 400, as a container not running).
 */
export function fakeBackend(opts: { pods: unknown[]; logs?: Record<string, FakeLog>; cri?: FakeCri; portMap?: Record<number, number> }): AgentBackend & { calls: unknown[] } {
  const calls: unknown[] = [];
  const known = (ns: string, pod: string, container?: string) => {
    const p = (opts.pods as { metadata: { namespace: string; name: string }; spec: { containers: { name: string }[] } }[]).find((x) => x.metadata.namespace === ns && x.metadata.name === pod);
    if (!p) throw new HttpError(404, `pod ${ns}/${pod} not found`);
    if (container !== undefined && !p.spec.containers.some((c) => c.name === container)) throw new HttpError(400, `container ${container} is not running in pod ${pod}`);
  };
  return {
    calls,
    async exec(req) {
      calls.push({ exec: req });
      known(req.namespace, req.pod, req.container);
      if (!opts.cri) throw new Error('no CRI');
      return opts.cri.register({ kind: 'exec', command: req.command, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, tty: req.tty });
    },
    async attach(req) {
      calls.push({ attach: req });
      known(req.namespace, req.pod, req.container);
      if (!opts.cri) throw new Error('no CRI');
      return opts.cri.register({ kind: 'attach', command: [], stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, tty: req.tty });
    },
    async portForward(req) {
      calls.push({ portForward: req });
      known(req.namespace, req.pod);
      if (!opts.cri) throw new Error('no CRI');
      return opts.cri.register({ kind: 'portforward', ports: opts.portMap ?? {} });
    },
    async containerLogs(req, out, signal) {
      calls.push({ containerLogs: req });
      const log = opts.logs?.[`${req.namespace}/${req.pod}/${req.container}`];
      if (!log) throw new HttpError(400, `container "${req.container}" in pod "${req.pod}" is waiting to start: ContainerCreating`);
      if (log.error) throw log.error;
      const stamp = (l: string) => (req.timestamps ? `2024-01-01T00:00:00.000000000Z ${l}` : l);
      let lines = log.lines;
      if (req.tailLines !== undefined) lines = lines.slice(Math.max(0, lines.length - req.tailLines));
      let budget = req.limitBytes ?? Infinity;
      const write = (l: string) => {
        if (budget <= 0) return;
        const text = `${stamp(l)}\n`.slice(0, budget);
        budget -= text.length;
        out.write(text);
      };
      for (const l of lines) write(l);
      if (!req.follow || !log.running) return;
      await new Promise<void>((resolve) => {
        const onLine = (l: string) => write(l);
        const stop = () => {
          log.events.off('line', onLine);
          resolve();
        };
        log.events.on('line', onLine);
        log.events.once('end', stop);
        signal.addEventListener('abort', stop, { once: true });
      });
    },
    pods() {
      return opts.pods;
    },
    async statsSummary() {
      return { node: { nodeName: 'node-1', cpu: { usageNanoCores: 1 } }, pods: [] };
    },
    async metrics() {
      return '# HELP kubelet_running_pods Number of pods\n# TYPE kubelet_running_pods gauge\nkubelet_running_pods 2\n';
    },
  };
}
