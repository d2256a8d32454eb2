/**
 * A minimal DNS client over UDP and TCP (one query each, with a deadline), for tests and
 * benchmarks. Not a resolver: no retries, no search path.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type DecodedPacket, type Packet, type RecordType } from 'dns-packet';
import { exchangeTcp } from './tcp.ts';

export interface QueryOptions {
  host: string;
  port: number;
  timeoutMs?: number;
  /** Advertise EDNS with this UDP payload size. */
  edns?: number;
}

export function queryPacket(name: string, type: RecordType, edns?: number): Packet {
  return {
    type: 'query',
    id: (Math.random() * 65536) | 0,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  };
}

/** Sends `packet` (or raw bytes) over UDP; resolves with the reply and its size. */
export function queryUdp(packet: Packet | Buffer, opts: QueryOptions): Promise<DecodedPacket & { size: number }> {
  const buf = Buffer.isBuffer(packet) ? packet : dnsPacket.encode(packet);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(opts.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no DNS reply from ${opts.host}:${opts.port} (udp)`));
    }, opts.timeoutMs ?? 3000);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      try {
        resolve(Object.assign(dnsPacket.decode(msg), { size: msg.length }));
      } catch (err) {
        reject(err as Error);
      }
    });
    sock.send(buf, opts.port, opts.host);
  });
}

/** Sends `packet` over one TCP connection; resolves with the reply. */
export async function queryTcp(packet: Packet, opts: QueryOptions): Promise<DecodedPacket & { size: number }> {
  const reply = await exchangeTcp(opts.host, opts.port, dnsPacket.encode(packet), { timeoutMs: opts.timeoutMs ?? 3000, maxBytes: 65535, peer: `${opts.host}:${opts.port}` });
  return Object.assign(dnsPacket.decode(reply), { size: reply.length });
}

/** The reply's rcode (dns-packet decodes it beside the typed fields). */
export function rcodeOf(p: DecodedPacket): string {
  return (p as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
}
