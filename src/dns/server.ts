/**
 * The DNS server: UDP and TCP on one address and port, answering cluster names from the
 * `ClusterView` (records.ts) and forwarding the rest (forward.ts).
 *
 * Bounds (each a named constant below):
 * - a UDP reply fits the client's size (512 bytes, or its EDNS payload size up to 1232); a larger
 *   one is cut to the records that fit and has TC set, so the client asks again over TCP;
 * - TCP: at most `maxTcpConnections` connections, each closed after `tcpIdleTimeoutMs` without a
 *   query, at most `maxTcpQueriesInFlight` queries in flight per connection (reading pauses), a
 *   message is at most 65 535 bytes by its framing, and a connection whose unsent replies exceed
 *   `maxTcpWriteBufferBytes` is closed;
 * - at most `maxQueriesWaiting` queries wait on upstreams, and the forwarder's distinct upstream
 *   queries are bounded too (REFUSED beyond either).
 * Until `ready()` is true (informers synced) cluster names answer SERVFAIL.
 * Malformed queries get FORMERR when their header can be read; responses and shorter datagrams
 * are dropped. Only opcode QUERY is implemented (NOTIMP otherwise).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type Question } from 'dns-packet';
import { answer, type AnswerResult, type ClusterView, type Rcode, type ZoneOptions } from './records.ts';
import { ForwardBusyError, maxMessageBytes, type Forwarder } from './forward.ts';

export const maxTcpConnections = 256;
export const tcpIdleTimeoutMs = 10_000;
export const maxTcpQueriesInFlight = 16;
export const maxTcpWriteBufferBytes = 1 << 20;
/** Plain DNS's UDP size, and the largest EDNS size honoured (DNS flag day 2020). */
export const minUdpSize = 512;
export const maxUdpSize = 1232;
/** CNAME chains followed for ExternalName Services. */
export const maxCnameChain = 8;
/** Queries waiting on upstream resolvers at once (identical ones share an upstream query); beyond: REFUSED. */
export const maxQueriesWaiting = 4096;
/** Encoded cluster answers kept until the cluster view changes (cleared when full). */
export const maxAnswerCacheEntries = 10_000;

const rcodeNumber: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

export interface DnsServerOptions {
  view: ClusterView;
  zone: ZoneOptions;
  forwarder: Forwarder;
  /** False until the cluster view is synced. Default: always ready. */
  ready?: () => boolean;
  log?: (msg: string) => void;
}

export interface ServerStats {
  queries: number;
  forwarded: number;
  truncated: number;
}

/** Handles one DNS message; `maxSize` is the UDP limit (undefined over TCP). */
export class DnsHandler {
  #o: DnsServerOptions;
  readonly stats: ServerStats = { queries: 0, forwarded: 0, truncated: 0 };
  /** Encoded cluster answers by lower-case name, type and size limit, for one view generation. */
  #answers = new Map<string, Buffer>();
  #generation = -1;

  constructor(opts: DnsServerOptions) {
    this.#o = opts;
  }

  /**
   * The reply to a plain query from the answer cache, synchronously, or undefined (then call
   * `handle`). The cached bytes get the query's id, RD bit and question (so its letter case).
   */
  cached(buf: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    const q = parsePlainQuery(buf);
    if (!q) return undefined;
    if (this.#o.view.generation !== this.#generation) {
      this.#answers.clear();
      this.#generation = this.#o.view.generation;
    }
    const hit = this.#answers.get(cacheKey(q, transport));
    if (!hit) return undefined;
    this.stats.queries++;
    const out = Buffer.from(hit);
    buf.copy(out, 0, 0, 2);
    out[2] = (out[2]! & 0xfe) | (buf[2]! & 0x01);
    buf.copy(out, 12, 12, q.questionEnd);
    return out;
  }

  /** The reply bytes to a query, or undefined to drop it. */
  async handle(buf: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    if (buf.length < 12) return undefined;
    // A response (QR set) is never answered.
    if (buf[2]! & 0x80) return undefined;
    const hit = this.cached(buf, transport);
    if (hit) return hit;
    const generation = this.#o.view.generation;
    this.stats.queries++;
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(buf);
    } catch {
      return headerOnly(buf.readUInt16BE(0), (buf[2]! >> 3) & 0xf, rcodeNumber.FORMERR);
    }
    const opcode = (buf[2]! >> 3) & 0xf;
    if (opcode !== 0) return headerOnly(q.id ?? 0, opcode, rcodeNumber.NOTIMP);
    const questions = q.questions ?? [];
    if (questions.length !== 1) return headerOnly(q.id ?? 0, 0, rcodeNumber.FORMERR);
    const question = questions[0]!;
    const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const limit = transport === 'tcp' ? maxMessageBytes : Math.max(minUdpSize, Math.min(maxUdpSize, opt?.udpPayloadSize ?? minUdpSize));
    const rd = !!q.flag_rd;
    const result = await this.#resolve(question, transport, rd);
    const plain = result.cacheable ? parsePlainQuery(buf) : undefined;
    const reply: Packet = {
      type: 'response',
      id: q.id,
      flags: (result.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | (result.truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | rcodeNumber[result.rcode],
      questions: [question],
      answers: result.answers,
      authorities: result.authorities,
      additionals: opt ? [...result.additionals, ednsOpt()] : result.additionals,
    };
    const encoded = this.#encodeFitting(reply, limit, !!opt);
    if (plain && generation === this.#o.view.generation && generation === this.#generation) {
      if (this.#answers.size >= maxAnswerCacheEntries) this.#answers.clear();
      this.#answers.set(cacheKey(plain, transport), encoded);
    }
    return encoded;
  }

  async #resolve(question: Question, transport: 'udp' | 'tcp', rd: boolean): Promise<AnswerResult & { truncated?: boolean; cacheable?: boolean }> {
    const fail = (rcode: Rcode, authoritative = false): AnswerResult => ({ kind: 'answer', rcode, authoritative, answers: [], authorities: [], additionals: [] });
    if ((question.class ?? 'IN') !== 'IN') return fail('REFUSED');
    const local = answer(question, this.#o.view, this.#o.zone);
    if (local.kind === 'forward') return this.#forward(question, transport, rd);
    if (this.#o.ready && !this.#o.ready()) return fail('SERVFAIL');
    if (!local.chase) return { ...local, cacheable: true };
    // An ExternalName Service: the CNAME, then what its target resolves to.
    let target = local.chase;
    const answers = [...local.answers];
    for (let i = 0; i < maxCnameChain; i++) {
      const next = answer({ name: target, type: question.type, class: 'IN' }, this.#o.view, this.#o.zone);
      if (next.kind === 'forward') {
        const up = await this.#forward({ name: target, type: question.type, class: 'IN' }, transport, rd);
        if (up.rcode === 'SERVFAIL' || up.rcode === 'REFUSED') return { ...local, answers };
        return { ...local, rcode: up.rcode, answers: [...answers, ...up.answers], truncated: up.truncated };
      }
      answers.push(...next.answers);
      if (!next.chase) return { ...local, rcode: next.rcode, answers, authorities: next.answers.length ? [] : next.authorities };
      target = next.chase;
    }
    return { ...local, answers };
  }

  #waiting = 0;
  #lastLog = 0;

  async #forward(question: Question, transport: 'udp' | 'tcp', rd: boolean): Promise<AnswerResult & { truncated?: boolean }> {
    this.stats.forwarded++;
    if (this.#waiting >= maxQueriesWaiting) return { kind: 'answer', rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };
    this.#waiting++;
    try {
      const r = await this.#o.forwarder.resolve(question, { tcp: transport === 'tcp', rd });
      const rcode = (['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED', 'FORMERR', 'NOTIMP'] as const).find((c) => c === r.rcode) ?? 'SERVFAIL';
      return {
        kind: 'answer',
        rcode,
        authoritative: false,
        answers: r.answers ?? [],
        authorities: r.authorities ?? [],
        additionals: r.additionals ?? [],
        truncated: !!((r.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE),
      };
    } catch (err) {
      const rcode: Rcode = err instanceof ForwardBusyError ? 'REFUSED' : 'SERVFAIL';
      // At most one line per 10 s: a failing upstream must not flood the agent's log.
      if (rcode === 'SERVFAIL' && Date.now() - this.#lastLog >= 10_000) {
        this.#lastLog = Date.now();
        this.#o.log?.(`dns: forwarding ${question.name} ${question.type}: ${(err as Error).message}`);
      }
      return { kind: 'answer', rcode, authoritative: false, answers: [], authorities: [], additionals: [] };
    } finally {
      this.#waiting--;
    }
  }

  /** The encoded reply, cut to `limit` bytes (records dropped from the end, TC set) when larger. */
  #encodeFitting(reply: Packet, limit: number, hasOpt: boolean): Buffer {
    const full = dnsPacket.encode(reply);
    if (full.length <= limit) return full;
    this.stats.truncated++;
    const answers = reply.answers ?? [];
    const base: Packet = { ...reply, flags: (reply.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, authorities: [], additionals: hasOpt ? [ednsOpt()] : [] };
    // The most answers that fit, by bisection (encoding is the only exact measure of compression).
    let lo = 0;
    let hi = answers.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (dnsPacket.encodingLength({ ...base, answers: answers.slice(0, mid) }) <= limit) lo = mid;
      else hi = mid - 1;
    }
    const out = dnsPacket.encode({ ...base, answers: answers.slice(0, lo) });
    return out.length <= limit ? out : dnsPacket.encode({ ...base, answers: [] });
  }
}

interface PlainQuery {
  name: string;
  qtype: number;
  qclass: number;
  questionEnd: number;
  /** The EDNS UDP size, when the query has an OPT record. */
  edns?: number;
}

/**
 * A query of the common shape (opcode QUERY, one question without compression, at most an OPT
 * record, a name of letters, digits, `-`, `_`), read without a full decode; else undefined.
 */
function parsePlainQuery(buf: Buffer): PlainQuery | undefined {
  if (buf.length < 17 || buf.length > 512) return undefined;
  if (buf.readUInt16BE(2) & 0xf800) return undefined;
  if (buf.readUInt16BE(4) !== 1 || buf.readUInt16BE(6) !== 0 || buf.readUInt16BE(8) !== 0) return undefined;
  const ar = buf.readUInt16BE(10);
  if (ar > 1) return undefined;
  let o = 12;
  for (;;) {
    const len = buf[o];
    if (len === undefined || len > 63) return undefined;
    if (len === 0) break;
    if (o + 1 + len > buf.length) return undefined;
    for (let i = o + 1; i <= o + len; i++) {
      const c = buf[i]!;
      // a-z A-Z 0-9 - _
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)) return undefined;
    }
    o += 1 + len;
  }
  const name = o === 12 ? '' : buf.toString('latin1', 12, o);
  o++;
  if (o + 4 > buf.length) return undefined;
  const qtype = buf.readUInt16BE(o);
  const qclass = buf.readUInt16BE(o + 2);
  o += 4;
  const questionEnd = o;
  let edns: number | undefined;
  if (ar === 1) {
    if (o + 11 > buf.length || buf[o] !== 0 || buf.readUInt16BE(o + 1) !== 41) return undefined;
    edns = buf.readUInt16BE(o + 3);
    if (o + 11 + buf.readUInt16BE(o + 9) !== buf.length) return undefined;
  } else if (o !== buf.length) return undefined;
  // The wire name with its length bytes is unambiguous as a key once lower-cased.
  return { name: name.toLowerCase(), qtype, qclass, questionEnd, edns };
}

function cacheKey(q: PlainQuery, transport: 'udp' | 'tcp'): string {
  const limit = transport === 'tcp' ? 't' : q.edns === undefined ? 'u' : `e${Math.max(minUdpSize, Math.min(maxUdpSize, q.edns))}`;
  return `${q.name}|${q.qtype}|${q.qclass}|${limit}`;
}

function ednsOpt(): Answer {
  return { type: 'OPT', name: '.', udpPayloadSize: maxUdpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/** A reply of just a header (no question): for queries that cannot be read. */
function headerOnly(id: number, opcode: number, rcode: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x8000 | (opcode << 11) | dnsPacket.RECURSION_AVAILABLE | rcode, 2);
  return b;
}

export interface ListenOptions {
  address: string;
  port: number;
}

/** A DNS server on UDP and TCP; `close()` stops both and every connection. */
export class DnsServer {
  #handler: DnsHandler;
  #udp?: dgram.Socket;
  #tcp?: net.Server;
  #conns = new Set<net.Socket>();
  #log: (msg: string) => void;
  #limits: { maxConnections: number; idleTimeoutMs: number };

  constructor(handler: DnsHandler, opts: { log?: (msg: string) => void; maxConnections?: number; idleTimeoutMs?: number } = {}) {
    this.#handler = handler;
    this.#log = opts.log ?? (() => {});
    this.#limits = { maxConnections: opts.maxConnections ?? maxTcpConnections, idleTimeoutMs: opts.idleTimeoutMs ?? tcpIdleTimeoutMs };
  }

  /**
   * Binds UDP and TCP on the same port. With port 0 the UDP socket's port is reused for TCP, and
   * when another process holds that TCP port, both are bound again on a new port (a few tries).
   */
  async listen(opts: ListenOptions): Promise<{ port: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#listenOnce(opts);
      } catch (err) {
        if (opts.port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw err;
      }
    }
  }

  async #listenOnce(opts: ListenOptions): Promise<{ port: number }> {
    const udp = dgram.createSocket({ type: net.isIPv6(opts.address) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(opts.port, opts.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.#log(`dns: udp: ${err.message}`));
    udp.on('message', (msg, rinfo) => {
      const hit = this.#handler.cached(msg, 'udp');
      if (hit) return void udp.send(hit, rinfo.port, rinfo.address);
      this.#handler.handle(msg, 'udp').then(
        (reply) => {
          if (reply) udp.send(reply, rinfo.port, rinfo.address);
        },
        (err: unknown) => this.#log(`dns: ${(err as Error).message}`),
      );
    });
    this.#udp = udp;
    const port = udp.address().port;
    const tcp = net.createServer((sock) => this.#onConnection(sock));
    tcp.maxConnections = this.#limits.maxConnections;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ port, host: opts.address }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    tcp.on('error', (err) => this.#log(`dns: tcp: ${err.message}`));
    this.#tcp = tcp;
    return { port };
  }

  #onConnection(sock: net.Socket): void {
    this.#conns.add(sock);
    sock.on('close', () => this.#conns.delete(sock));
    sock.on('error', () => {});
    sock.setTimeout(this.#limits.idleTimeoutMs, () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let inflight = 0;
    const pump = () => {
      while (buf.length >= 2 && inflight < maxTcpQueriesInFlight) {
        const n = buf.readUInt16BE(0);
        if (n === 0) return void sock.destroy();
        if (buf.length < n + 2) break;
        const msg = Buffer.from(buf.subarray(2, n + 2));
        buf = buf.subarray(n + 2);
        inflight++;
        this.#handler.handle(msg, 'tcp').then(
          (reply) => {
            inflight--;
            if (reply && !sock.destroyed) {
              const len = Buffer.alloc(2);
              len.writeUInt16BE(reply.length);
              sock.write(Buffer.concat([len, reply]));
              if (sock.writableLength > maxTcpWriteBufferBytes) sock.destroy();
            }
            if (sock.isPaused() && inflight < maxTcpQueriesInFlight) sock.resume();
            pump();
          },
          () => {
            inflight--;
            sock.destroy();
          },
        );
      }
      if (inflight >= maxTcpQueriesInFlight) sock.pause();
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      // One message and its length, plus what one read may bring while paused.
      if (buf.length > 2 * (maxMessageBytes + 2)) return void sock.destroy();
      pump();
    });
  }

  async close(): Promise<void> {
    this.#udp?.close();
    for (const s of this.#conns) s.destroy();
    await new Promise<void>((resolve) => (this.#tcp ? this.#tcp.close(() => resolve()) : resolve()));
  }
}
