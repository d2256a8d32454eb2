/**
 * Response compression, as upstream's `deferredResponseWriter` does it: a response body written
 * whole with `end(body)` that is larger than 128 KiB, to a request whose Accept-Encoding lists
 * `gzip`, is sent gzip-compressed (level 1, upstream's choice) with `Content-Encoding: gzip` and
 * `Vary: Accept-Encoding`. Streams (a body begun with `write`, as watches are) are never
 * compressed. Handlers need no change: the server hands them `gzipResponse(res)` instead of
 * `res` when the client accepts gzip; small bodies pass straight through.
 */
import zlib from 'node:zlib';
import type { Response } from './respond.ts';

/** Upstream `defaultGzipThresholdBytes`: bodies at most this large are sent as they are. */
export const gzipThresholdBytes = 128 * 1024;
/** Upstream `gzipContentEncodingLevel`. */
export const gzipLevel = 1;

/** Whether an Accept-Encoding header asks for gzip (a `gzip` token, as upstream matches it). */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  if (!acceptEncoding) return false;
  const v = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding;
  if (!v.includes('gzip')) return false;
  return v.split(',').some((t) => t.trim() === 'gzip');
}

/** Whether a body is over the threshold, without measuring strings that are clearly on one side. */
function overThreshold(chunk: string | Uint8Array): boolean {
  if (typeof chunk !== 'string') return chunk.byteLength > gzipThresholdBytes;
  // UTF-8 takes 1 to 3 bytes per UTF-16 code unit.
  if (chunk.length > gzipThresholdBytes) return true;
  if (chunk.length * 3 <= gzipThresholdBytes) return false;
  return Buffer.byteLength(chunk) > gzipThresholdBytes;
}

/** The response with the header write held until the body shows whether to compress it. */
interface Deferrable extends Response {
  flushHeaders?: () => void;
  readonly writableEnded: boolean;
}

/**
 * Wraps a response so that a large body sent with `end(body)` is gzip-compressed. The status
 * and headers given to `writeHead` are held until the first `write`, `flushHeaders` or `end`.
 * Compression runs on the thread pool; a client gone before it finishes gets nothing more.
 */
export function gzipResponse(res: Deferrable): Response & { flushHeaders(): void; destroy(): void } {
  let held: { code: number; headers?: Record<string, string> } | undefined;
  let ended = false;
  const flush = () => {
    if (!held) return;
    const h = held;
    held = undefined;
    res.writeHead(h.code, h.headers);
  };
  return {
    writeHead(code: number, headers?: Record<string, string>) {
      held = { code, headers };
      return this;
    },
    write(chunk: string | Uint8Array) {
      flush();
      return res.write(chunk);
    },
    flushHeaders() {
      flush();
      res.flushHeaders?.();
    },
    end(chunk?: string | Uint8Array) {
      ended = true;
      if (!held || chunk === undefined || !overThreshold(chunk) || held.code === 204 || held.code === 304) {
        flush();
        return res.end(chunk);
      }
      const h = held;
      held = undefined;
      zlib.gzip(chunk, { level: gzipLevel }, (err, gz) => {
        if (res.writableEnded) return;
        try {
          if (err) {
            res.writeHead(h.code, h.headers);
            res.end(chunk);
            return;
          }
          res.writeHead(h.code, compressedHeaders(h.headers, gz.byteLength));
          res.end(gz);
        } catch {
          // the stream was closed by the client meanwhile
        }
      });
      return this;
    },
    on(event: 'close' | 'drain', fn: () => void) {
      (res as { on(event: string, fn: () => void): unknown }).on(event, fn);
      return this;
    },
    /** An abandoned stream (a watch nobody reads) is destroyed, freeing its buffer. */
    destroy() {
      (res as { destroy?: () => void }).destroy?.();
    },
    get headersSent() {
      return held !== undefined || res.headersSent;
    },
    get writableEnded() {
      return ended || res.writableEnded;
    },
  };
}

/** The held headers plus the encoding's; an existing Vary keeps its values, Accept-Encoding appended. */
function compressedHeaders(headers: Record<string, string> | undefined, length: number): Record<string, string> {
  const out: Record<string, string> = {};
  let vary = 'Accept-Encoding';
  for (const [k, v] of Object.entries(headers ?? {})) {
    const lower = k.toLowerCase();
    if (lower === 'vary') vary = v ? `${v}, Accept-Encoding` : vary;
    else if (lower !== 'content-length') out[k] = v;
  }
  out['content-encoding'] = 'gzip';
  out['vary'] = vary;
  out['content-length'] = String(length);
  return out;
}
