/**
 * The benchmarks' HTTPS clients: one keep-alive HTTP/1.1 connection per agent, or one HTTP/2
 * session with multiplexed streams, with the client's certificate; JSON requests answered with
 * status and body.
 */
import http2 from 'node:http2';
import https from 'node:https';
import type { Creds } from '../test/e2e/api.ts';

/** One connection (keep-alive) authenticated as `creds`. */
export function agentFor(creds: Creds): https.Agent {
  return new https.Agent({ keepAlive: true, maxSockets: 1, ca: creds.ca, cert: creds.cert, key: creds.key });
}

export function call(creds: Creds, agent: https.Agent, method: string, p: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(p, creds.server), { method, agent, headers: { 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One HTTP/2 session authenticated as `creds`; requests on it are multiplexed streams. */
export function h2Session(creds: Creds): http2.ClientHttp2Session {
  const s = http2.connect(creds.server, { ca: creds.ca, cert: creds.cert, key: creds.key });
  s.on('error', () => {});
  return s;
}

/** A JSON request on an HTTP/2 session (`headers` override the JSON content type and accept). */
export function h2Send(s: http2.ClientHttp2Session, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = s.request({ ':method': method, ':path': path, 'content-type': 'application/json', accept: 'application/json', ...headers });
    let status = 0;
    const chunks: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
    req.on('error', reject);
    req.end(body);
  });
}
