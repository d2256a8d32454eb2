/**
 * The agent's client-side TCP load balancer, after k3s's (pkg/agent/loadbalancer): it listens
 * on loopback (k3s: 127.0.0.1:6444) and splices each accepted connection to one API server,
 * without looking inside (TLS passes through, so the server's certificate must name the
 * loopback address, as Bosun's do).
 *
 * Choosing a server, as k3s does:
 * - the default server (the agent's `--server`) is preferred whenever it is healthy and still
 *   listed; otherwise the balancer sticks to the server it last reached while that one stays
 *   healthy, then tries the other healthy servers (in a shuffled order, so that agents spread),
 *   then, when none is healthy, every server anyway (the healthy unlisted default first);
 * - a dial that fails (refused, or not connected within `dialTimeoutMs`) marks that server
 *   unhealthy and the next one is tried; when all fail the client's connection is closed;
 * - the default server is never dropped: when `setServers` no longer lists it, it is kept as a
 *   last resort (k3s treats it as failing its health check), and its connections are closed
 *   once a listed server is healthy, so clients move to the listed ones.
 *
 * Health: every `healthIntervalMs` each server is checked (default: a TCP connect; the agent
 * passes an HTTPS `/livez` check), bounded by the interval; `failureThreshold` failures in a row
 * (default 2) make it unhealthy, one success healthy again. A server turning unhealthy gets no
 * new connections and its open ones are closed, so HTTP/2 sessions and watches reconnect
 * through the balancer to another server; turning healthy again makes it eligible (the
 * default becomes preferred again for new connections; open ones are left where they are).
 * A server removed by `setServers` has its connections closed too.
 *
 * Bytes are spliced as they come, half-closes included (a client's FIN is passed on and the
 * answer still flows back), as Go's tcpproxy does.
 *
 * Bounds (each a named default): dial timeout, idle timeout (no byte either way), and a cap
 * on open connections (a connection over the cap is closed at once).
 *
 * Concurrency: all state changes happen on the event loop; `setServers` takes effect for the
 * next connection. `close()` stops listening and closes every connection. Idempotent.
 *
 * Time: real timers (sockets are real anyway); tests run health passes with `checkNow()`
 * instead of waiting for the interval.
 */
import net from 'node:net';
import { joinHostPort, splitHostPort, type HostPort } from './address.ts';
import { tcpHealthCheck, type HealthCheck } from './health.ts';

/** k3s's `--lb-server-port` default. */
export const defaultLbServerPort = 6444;
/** Failed health checks in a row before a server is marked unhealthy (one slow answer is not a failure of the server). */
export const defaultFailureThreshold = 2;
/** A dial not connected by then fails over to the next server, ms. */
export const defaultDialTimeoutMs = 5_000;
/** A connection with no byte in either direction for this long is closed, ms (HTTP/2 clients ping busy sessions every 30 s; idle ones reconnect). */
export const defaultIdleTimeoutMs = 15 * 60_000;
/** Open client connections at most. */
export const defaultMaxConnections = 1024;
/** How often each server is health-checked, ms (each check is a fresh TLS handshake on the server, so not every second). */
export const defaultHealthIntervalMs = 2_000;

export interface LoadBalancerOptions {
  /** Names the balancer in logs (k3s: `k3s-agent-load-balancer`). */
  name: string;
  /** Where to listen; port 0 picks a free one. */
  listen: { host: string; port: number };
  /** Initial servers, `host:port`. */
  servers: string[];
  /** The server always kept and preferred (`host:port` of the agent's `--server`). */
  defaultServer: string;
  healthCheck?: HealthCheck;
  /** 0: no periodic checks (`checkNow()` still runs one). */
  healthIntervalMs?: number;
  /** A check not answered by then counts as failed, ms; default the interval. */
  healthTimeoutMs?: number;
  /** Health checks failed in a row that make a server unhealthy (a failed dial does at once); default 2. */
  failureThreshold?: number;
  dialTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
  log?: (msg: string) => void;
}

export interface ServerStatus {
  address: string;
  healthy: boolean;
  /** Open connections proxied to it. */
  connections: number;
  /** It is the default server. */
  default: boolean;
  /** It is listed by the last `setServers` (the default may be kept unlisted). */
  listed: boolean;
}

interface Backend extends HostPort {
  address: string;
  healthy: boolean;
  /** Health checks failed in a row. */
  failures: number;
  conns: Set<Pair>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
}

export class LoadBalancer {
  #opts: LoadBalancerOptions;
  #log: (msg: string) => void;
  #check: HealthCheck;
  #interval: number;
  #healthTimeout: number;
  #threshold: number;
  #dialTimeout: number;
  #idleTimeout: number;
  #max: number;
  #default: string;
  #listed: string[] = [];
  #backends = new Map<string, Backend>();
  /** Listed non-default servers, shuffled. */
  #others: string[] = [];
  #current: string | undefined;
  #server: net.Server | null = null;
  #port = 0;
  #open = new Set<Pair>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #pass: Promise<void> | null = null;
  #closed = false;
  #refusedSince = 0;

  constructor(opts: LoadBalancerOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? (() => {});
    this.#check = opts.healthCheck ?? tcpHealthCheck;
    this.#interval = opts.healthIntervalMs ?? defaultHealthIntervalMs;
    this.#healthTimeout = opts.healthTimeoutMs ?? (this.#interval > 0 ? this.#interval : defaultHealthIntervalMs);
    this.#threshold = Math.max(1, opts.failureThreshold ?? defaultFailureThreshold);
    this.#dialTimeout = opts.dialTimeoutMs ?? defaultDialTimeoutMs;
    this.#idleTimeout = opts.idleTimeoutMs ?? defaultIdleTimeoutMs;
    this.#max = opts.maxConnections ?? defaultMaxConnections;
    splitHostPort(opts.defaultServer);
    this.#default = opts.defaultServer;
    this.#backends.set(this.#default, this.#backend(this.#default));
    this.#apply(opts.servers.length ? opts.servers : [opts.defaultServer]);
  }

  /** Starts listening and health-checking; resolves to the port listened on. */
  async start(): Promise<number> {
    if (this.#server) return this.#port;
    if (this.#closed) throw new Error(`load balancer ${this.#opts.name} is closed`);
    const server = net.createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (c) => this.#accept(c));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.#opts.listen.host, port: this.#opts.listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.#log(`load balancer ${this.#opts.name}: ${err.message}`));
    this.#port = (server.address() as net.AddressInfo).port;
    if (this.#interval > 0) {
      this.#timer = setInterval(() => void this.checkNow(), this.#interval);
      this.#timer.unref();
    }
    void this.checkNow();
    this.#log(`Running load balancer ${this.#opts.name} ${this.address()} -> [${this.#listed.join(' ')}] [default: ${this.#default}]`);
    return this.#port;
  }

  /** `host:port` listened on. */
  address(): string {
    return joinHostPort(this.#opts.listen.host, this.#port);
  }

  /** `https://<listen address>`: what a client points at. */
  url(): string {
    return `https://${this.address()}`;
  }

  /**
   * Replaces the server list (duplicates and invalid addresses dropped, the latter logged). An
   * empty list changes nothing (as k3s, which never empties its list). Returns whether the list
   * changed. Removed servers' connections are closed; the default server is kept regardless.
   */
  setServers(servers: string[]): boolean {
    const valid: string[] = [];
    for (const s of servers) {
      try {
        splitHostPort(s);
        if (!valid.includes(s)) valid.push(s);
      } catch (err) {
        this.#log(`load balancer ${this.#opts.name}: ignoring ${(err as Error).message}`);
      }
    }
    if (!valid.length) return false;
    const same = valid.length === this.#listed.length && valid.every((s) => this.#listed.includes(s));
    if (same) return false;
    this.#apply(valid);
    this.#log(`Updated load balancer ${this.#opts.name} server addresses -> [${this.#listed.join(' ')}] [default: ${this.#default}]`);
    return true;
  }

  #apply(list: string[]): void {
    const before = new Set(this.#listed);
    this.#listed = [...new Set(list)];
    for (const a of this.#listed) if (!this.#backends.has(a)) this.#backends.set(a, this.#backend(a));
    for (const a of before) {
      if (this.#listed.includes(a)) continue;
      const b = this.#backends.get(a);
      if (a !== this.#default) this.#backends.delete(a);
      if (b) this.#closeAll(b, 'removed from the server list');
    }
    if (this.#current && !this.#listed.includes(this.#current)) this.#current = undefined;
    this.#others = shuffle(this.#listed.filter((a) => a !== this.#default));
  }

  #backend(address: string): Backend {
    return { address, ...splitHostPort(address), healthy: true, failures: 0, conns: new Set() };
  }

  /** Each server's state: the listed ones in order, then the default when unlisted. */
  servers(): ServerStatus[] {
    const order = [...this.#listed];
    if (!order.includes(this.#default)) order.push(this.#default);
    return order.map((a) => {
      const b = this.#backends.get(a)!;
      return { address: a, healthy: b.healthy, connections: b.conns.size, default: a === this.#default, listed: this.#listed.includes(a) };
    });
  }

  /** Open client connections (including those still dialing). */
  get connections(): number {
    return this.#open.size;
  }

  /** Runs one health pass over every server now (a pass already running is joined). */
  checkNow(): Promise<void> {
    if (this.#pass) return this.#pass;
    const limit = this.#healthTimeout;
    this.#pass = (async () => {
      const all = [...this.#backends.values()];
      const results = await Promise.all(all.map((b) => this.#check(b.address, AbortSignal.timeout(limit)).catch(() => false)));
      if (this.#closed) return;
      all.forEach((b, i) => {
        if (this.#backends.get(b.address) !== b) return;
        b.failures = results[i] ? 0 : b.failures + 1;
        if (results[i]) this.#setHealth(b, true, '');
        else if (b.failures >= this.#threshold) this.#setHealth(b, false, `failed ${b.failures} health check(s) in a row`);
      });
      // The unlisted default is a last resort: once a listed server is healthy, move clients off it.
      const def = this.#backends.get(this.#default)!;
      if (!this.#listed.includes(this.#default) && def.conns.size && this.#listed.some((a) => this.#backends.get(a)?.healthy)) {
        this.#closeAll(def, 'no longer listed and another server is healthy');
      }
    })().finally(() => {
      this.#pass = null;
    });
    return this.#pass;
  }

  #setHealth(b: Backend, ok: boolean, why: string): void {
    if (b.healthy === ok) return;
    b.healthy = ok;
    if (ok) {
      this.#log(`load balancer ${this.#opts.name}: server ${b.address} is healthy again`);
      return;
    }
    this.#log(`load balancer ${this.#opts.name}: server ${b.address} ${why}; marked unhealthy`);
    if (this.#current === b.address) this.#current = undefined;
    this.#closeAll(b, why);
  }

  #closeAll(b: Backend, why: string): void {
    if (!b.conns.size) return;
    this.#log(`load balancer ${this.#opts.name}: closing ${b.conns.size} connection(s) to ${b.address} (${why})`);
    for (const p of [...b.conns]) destroyPair(p);
  }

  /** Servers in the order a new connection tries them. */
  #candidates(): Backend[] {
    const defListed = this.#listed.includes(this.#default);
    const order: string[] = [];
    if (defListed) order.push(this.#default);
    if (this.#current && !order.includes(this.#current)) order.push(this.#current);
    for (const a of this.#others) if (!order.includes(a)) order.push(a);
    if (!defListed) order.push(this.#default);
    const backends = order.map((a) => this.#backends.get(a)!).filter(Boolean);
    // Healthy listed servers, then the healthy unlisted default, then the rest in the same order.
    const tier = (b: Backend) => (!b.healthy ? 2 : defListed || b.address !== this.#default ? 0 : 1);
    return [0, 1, 2].flatMap((n) => backends.filter((b) => tier(b) === n));
  }

  #accept(client: net.Socket): void {
    client.on('error', () => {});
    if (this.#closed || this.#open.size >= this.#max) {
      const now = Date.now();
      if (!this.#closed && now - this.#refusedSince > 10_000) {
        this.#refusedSince = now;
        this.#log(`load balancer ${this.#opts.name}: ${this.#open.size} connections open (the most allowed); refusing new ones`);
      }
      client.destroy();
      return;
    }
    const pair: Pair = { client, upstream: null };
    this.#open.add(pair);
    client.once('close', () => {
      this.#open.delete(pair);
      destroyPair(pair);
    });
    if (this.#idleTimeout > 0) {
      // The client socket sees every byte both ways: idle on it is idle on the pair.
      client.setTimeout(this.#idleTimeout, () => destroyPair(pair));
    }
    void this.#connect(pair);
  }

  async #connect(pair: Pair): Promise<void> {
    for (const b of this.#candidates()) {
      if (pair.client.destroyed || this.#closed) return;
      let upstream: net.Socket;
      try {
        upstream = await dial(b, this.#dialTimeout);
      } catch (err) {
        if (this.#backends.get(b.address) === b) {
          b.failures = this.#threshold;
          this.#setHealth(b, false, `dial failed (${(err as Error).message})`);
        }
        continue;
      }
      if (pair.client.destroyed || this.#closed) {
        upstream.destroy();
        return;
      }
      if (this.#current !== b.address && this.#listed.includes(b.address)) {
        if (this.#current) this.#log(`load balancer ${this.#opts.name}: failed over from ${this.#current} to ${b.address}`);
        this.#current = b.address;
      }
      pair.upstream = upstream;
      b.conns.add(pair);
      upstream.on('error', () => {});
      upstream.once('close', () => {
        b.conns.delete(pair);
        destroyPair(pair);
      });
      upstream.setNoDelay(true);
      upstream.setKeepAlive(true, 30_000);
      pair.client.pipe(upstream);
      upstream.pipe(pair.client);
      pair.client.resume();
      return;
    }
    destroyPair(pair);
  }

  /** Stops listening and health checks and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const p of [...this.#open]) destroyPair(p);
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function destroyPair(p: Pair): void {
  p.client.destroy();
  p.upstream?.destroy();
}

function dial(b: Backend, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: b.host, port: b.port, allowHalfOpen: true });
    const timer = timeoutMs > 0
      ? setTimeout(() => {
          sock.destroy();
          reject(new Error(`dial ${b.address}: no connection after ${timeoutMs} ms`));
        }, timeoutMs)
      : null;
    sock.once('connect', () => {
      if (timer) clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.on('error', () => {});
      resolve(sock);
    });
    sock.once('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
  });
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
