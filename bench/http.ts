/**
 * The benchmarks' HTTPS client: one keep-alive connection per agent with the client's
 * certificate, JSON requests answered with status and body.
 */
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
