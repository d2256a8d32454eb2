/**
 * Test helpers for the load balancer's tests (not used by the balancer): loopback TCP servers
 * that answer with their name, a polling `until`, a client connection that reads what it is
 * sent, and a free port nobody listens on.
 */
import net from 'node:net';

/** A TCP server answering every chunk with `<name>:<chunk>`; `stop()` closes it and its connections. */
export interface TagServer {
  name: string;
  port: number;
  address: string;
  sockets: Set<net.Socket>;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

export async function tagServer(name: string, port = 0): Promise<TagServer> {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      server = net.createServer((s) => {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
        s.on('data', (d) => s.write(`${name}:${d}`));
      });
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: p }, () => resolve((server.address() as net.AddressInfo).port));
    });
  const t: TagServer = {
    name,
    port: await listen(port),
    address: '',
    sockets,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
    restart: async () => {
      await listen(t.port);
    },
  };
  t.address = `127.0.0.1:${t.port}`;
  return t;
}

/** A client connection with what it received so far and whether it closed. */
export interface Probe {
  socket: net.Socket;
  received(): string;
  closed(): boolean;
}

export async function connect(port: number): Promise<Probe> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let got = '';
  let closed = false;
  socket.on('data', (d) => (got += d));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, received: () => got, closed: () => closed };
}

/** Sends `msg` and waits for an answer (or the connection closing); resolves to the answer ('' when closed). */
export async function ask(port: number, msg = 'hi'): Promise<string> {
  const p = await connect(port);
  p.socket.write(msg);
  await until(() => p.received().length > 0 || p.closed(), `an answer to ${msg}`);
  p.socket.destroy();
  return p.received();
}

/** Polls `cond` every 10 ms; throws after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A loopback port with nothing listening (taken then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
