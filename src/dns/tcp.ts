/**
 * One DNS message exchange over one TCP connection (RFC 1035 §4.2.2: each message preceded by
 * its two-byte length): sends `body`, resolves with the first reply's bytes. Bounded by a
 * deadline and a reply size; the connection is closed either way. Used by the forwarder and by
 * the small client of tests and benchmarks.
 */
import net from 'node:net';

export interface TcpExchangeOptions {
  timeoutMs: number;
  /** The largest reply accepted (bytes, without the length prefix). */
  maxBytes: number;
  /** Who answers, for error messages: e.g. `upstream 10.0.0.2:53`. */
  peer: string;
}

export function exchangeTcp(host: string, port: number, body: Buffer, opts: TcpExchangeOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (err: Error | undefined, reply?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(new Error(`no DNS reply from ${opts.peer} (tcp): timed out`)), opts.timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(body.length);
      sock.write(Buffer.concat([len, body]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > opts.maxBytes + 2) return done(new Error(`DNS reply from ${opts.peer} too large`));
      if (buf.length < 2) return;
      const n = buf.readUInt16BE(0);
      if (buf.length >= n + 2) done(undefined, buf.subarray(2, n + 2));
    });
    sock.on('end', () => done(new Error(`${opts.peer} closed the connection before a reply`)));
  });
}
