/**
 * Forwarding of names outside the cluster to upstream resolvers (CoreDNS `forward` + `cache`):
 *
 * - Upstreams are tried in order; each attempt has a deadline (`attemptTimeoutMs`), a failure or
 *   timeout moves to the next one. A query the client sent over UDP goes upstream over UDP (a
 *   truncated reply is passed on with TC set, so the client retries over TCP), one sent over TCP
 *   goes over TCP.
 * - At most `maxInFlight` distinct queries wait on upstreams at once; beyond that `resolve`
 *   throws `ForwardBusyError` (the server answers REFUSED, as CoreDNS's max_concurrent does).
 *   Identical questions in flight share one upstream query.
 * - Replies are checked (source, id, question) before being accepted.
 * - A bounded LRU cache (`cacheEntries`) keeps NOERROR and NXDOMAIN replies for the smallest TTL
 *   of their records (NODATA/NXDOMAIN: the SOA's, at most 1800 s; positive at most 3600 s) and
 *   hands them out with the TTLs counted down.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type Question } from 'dns-packet';
import { exchangeTcp } from './tcp.ts';

export const defaultAttemptTimeoutMs = 2000;
export const defaultMaxInFlight = 1000;
export const defaultCacheEntries = 10_000;
/** CoreDNS cache's maximum TTLs (positive, negative). */
export const maxPositiveTtl = 3600;
export const maxNegativeTtl = 1800;
/** The largest DNS message (TCP framing's limit). */
export const maxMessageBytes = 65_535;

export interface Upstream {
  host: string;
  port: number;
}

/** `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:53` → an upstream. */
export function parseUpstream(s: string): Upstream {
  const t = s.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 53 };
  if (net.isIPv6(t)) return { host: t, port: 53 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(t);
  if (!m || !net.isIP(m[1]!)) throw new TypeError(`invalid upstream resolver "${s}": want IP[:port]`);
  const port = m[2] ? Number(m[2]) : 53;
  if (!(port > 0 && port < 65536)) throw new TypeError(`invalid upstream resolver "${s}": bad port`);
  return { host: m[1]!, port };
}

export class ForwardBusyError extends Error {
  readonly code = 'ERR_DNS_FORWARD_BUSY';
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  attemptTimeoutMs?: number;
  maxInFlight?: number;
  cacheEntries?: number;
  now?: () => number;
}

interface CacheEntry {
  storedAt: number;
  ttl: number;
  packet: Packet;
}

interface Pending {
  resolve(p: DecodedPacket): void;
  reject(err: Error): void;
  upstream: Upstream;
  question: Question;
  timer: NodeJS.Timeout;
}

/** The reply's TTL for caching, or 0 (not cached). */
export function cacheTtl(p: Packet & { rcode?: string }): number {
  if (p.flags !== undefined && p.flags & dnsPacket.TRUNCATED_RESPONSE) return 0;
  const rcode = p.rcode ?? 'NOERROR';
  if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') return 0;
  const answers = (p.answers ?? []).filter((a) => a.type !== 'OPT');
  if (rcode === 'NOERROR' && answers.length) return Math.min(maxPositiveTtl, ...answers.map((a) => (a as { ttl?: number }).ttl ?? 0));
  const soa = (p.authorities ?? []).find((a) => a.type === 'SOA');
  if (!soa || soa.type !== 'SOA') return 0;
  return Math.min(maxNegativeTtl, soa.ttl ?? 0, soa.data.minimum ?? 0);
}

export class Forwarder {
  #o: Required<Omit<ForwarderOptions, 'now'>> & { now: () => number };
  #cache = new Map<string, CacheEntry>();
  #pending = new Map<number, Pending>();
  #inflight = new Map<string, Promise<DecodedPacket>>();
  #sockets = new Map<string, dgram.Socket>();
  #closed = false;

  constructor(opts: ForwarderOptions) {
    this.#o = {
      upstreams: opts.upstreams,
      attemptTimeoutMs: opts.attemptTimeoutMs ?? defaultAttemptTimeoutMs,
      maxInFlight: opts.maxInFlight ?? defaultMaxInFlight,
      cacheEntries: opts.cacheEntries ?? defaultCacheEntries,
      now: opts.now ?? Date.now,
    };
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  /**
   * The upstream reply to a question (answers, authorities, additionals without OPT, rcode,
   * flags); from the cache when fresh. Throws when every upstream failed, or ForwardBusyError.
   */
  async resolve(question: Question, opts: { tcp: boolean; rd?: boolean }): Promise<Packet & { rcode?: string }> {
    const key = `${question.name.toLowerCase().replace(/\.$/, '')}|${question.type}|${question.class ?? 'IN'}`;
    const hit = this.#fromCache(key);
    if (hit) return hit;
    const flightKey = `${key}|${opts.tcp ? 'tcp' : 'udp'}`;
    let p = this.#inflight.get(flightKey);
    if (!p) {
      if (this.#inflight.size >= this.#o.maxInFlight) throw new ForwardBusyError('too many queries waiting on upstream resolvers');
      p = this.#ask(question, opts.tcp, opts.rd ?? true).finally(() => this.#inflight.delete(flightKey));
      this.#inflight.set(flightKey, p);
    }
    const reply = await p;
    const out = strip(reply);
    const ttl = cacheTtl(out);
    if (ttl > 0) this.#store(key, { storedAt: this.#o.now(), ttl, packet: out });
    return out;
  }

  #fromCache(key: string): (Packet & { rcode?: string }) | undefined {
    const e = this.#cache.get(key);
    if (!e) return undefined;
    const elapsed = Math.floor((this.#o.now() - e.storedAt) / 1000);
    if (elapsed >= e.ttl) {
      this.#cache.delete(key);
      return undefined;
    }
    // Least recently used goes first: re-insert on a hit.
    this.#cache.delete(key);
    this.#cache.set(key, e);
    const age = (list: Answer[] | undefined) => (list ?? []).map((a) => ({ ...a, ttl: Math.max(0, ((a as { ttl?: number }).ttl ?? 0) - elapsed) }) as Answer);
    return { ...e.packet, answers: age(e.packet.answers), authorities: age(e.packet.authorities), additionals: age(e.packet.additionals) };
  }

  #store(key: string, e: CacheEntry): void {
    this.#cache.delete(key);
    this.#cache.set(key, e);
    while (this.#cache.size > this.#o.cacheEntries) this.#cache.delete(this.#cache.keys().next().value!);
  }

  async #ask(question: Question, tcp: boolean, rd: boolean): Promise<DecodedPacket> {
    if (!this.#o.upstreams.length) throw new Error('no upstream resolvers configured');
    let last: Error | undefined;
    for (const up of this.#o.upstreams) {
      if (this.#closed) break;
      try {
        return tcp ? await this.#askTcp(up, question, rd) : await this.#askUdp(up, question, rd);
      } catch (err) {
        last = err as Error;
      }
    }
    throw last ?? new Error('forwarder closed');
  }

  #socket(family: 4 | 6): dgram.Socket {
    const k = `udp${family}`;
    let s = this.#sockets.get(k);
    if (s) return s;
    s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('error', () => {});
    s.on('message', (msg, rinfo) => this.#onReply(msg, rinfo));
    s.unref();
    this.#sockets.set(k, s);
    return s;
  }

  #onReply(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.#pending.get(id);
    if (!p || rinfo.address !== p.upstream.host || rinfo.port !== p.upstream.port) return;
    let reply: DecodedPacket;
    try {
      reply = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = reply.questions?.[0];
    if (reply.type !== 'response' || !q || q.name.toLowerCase() !== p.question.name.toLowerCase() || q.type !== p.question.type) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  #askUdp(up: Upstream, question: Question, rd: boolean): Promise<DecodedPacket> {
    let id = 0;
    for (let i = 0; i < 64; i++) {
      id = (Math.random() * 65536) | 0;
      if (!this.#pending.has(id)) break;
    }
    if (this.#pending.has(id)) return Promise.reject(new ForwardBusyError('no free query id'));
    const buf = dnsPacket.encode({
      type: 'query',
      id,
      flags: rd ? dnsPacket.RECURSION_DESIRED : 0,
      questions: [{ name: question.name, type: question.type, class: question.class ?? 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    return new Promise<DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`upstream ${up.host}:${up.port} timed out`));
      }, this.#o.attemptTimeoutMs);
      this.#pending.set(id, { resolve, reject, upstream: up, question, timer });
      this.#socket(net.isIPv6(up.host) ? 6 : 4).send(buf, up.port, up.host, (err) => {
        if (!err) return;
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  async #askTcp(up: Upstream, question: Question, rd: boolean): Promise<DecodedPacket> {
    const id = (Math.random() * 65536) | 0;
    const body = dnsPacket.encode({ type: 'query', id, flags: rd ? dnsPacket.RECURSION_DESIRED : 0, questions: [{ name: question.name, type: question.type, class: question.class ?? 'IN' }] });
    const reply = dnsPacket.decode(await exchangeTcp(up.host, up.port, body, { timeoutMs: this.#o.attemptTimeoutMs, maxBytes: maxMessageBytes, peer: `upstream ${up.host}:${up.port}` }));
    if (reply.id !== id || reply.type !== 'response') throw new Error('unexpected upstream reply');
    return reply;
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('forwarder closed'));
    }
    this.#pending.clear();
  }
}

/** The parts of a reply worth keeping: records without OPT, rcode and the TC flag. */
function strip(p: DecodedPacket): Packet & { rcode?: string } {
  const rcode = (p as DecodedPacket & { rcode?: string }).rcode;
  return {
    flags: (p.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE,
    rcode,
    answers: p.answers ?? [],
    authorities: p.authorities ?? [],
    additionals: (p.additionals ?? []).filter((a) => a.type !== 'OPT'),
  };
}
