/**
 * Health checks for the load balancer's servers. k3s's agent load balancer asks each server's
 * `/ping` over HTTPS (pkg/agent/loadbalancer/httphealth.go); Bosun's API servers answer `GET
 * /livez` (and `/readyz`) unauthenticated, over HTTP/1.1 as well as HTTP/2, so the check here is
 * one HTTPS GET verified against the cluster CA: healthy on a 200, unhealthy on any other
 * status, a TLS or connection error, or the signal aborting (the balancer aborts at its
 * interval). Before the CA is known a plain TCP connect is all that can be checked.
 *
 * A check never throws: it resolves to true or false.
 */
import https from 'node:https';
import net from 'node:net';
import { splitHostPort } from './address.ts';

/** (server `host:port`, signal) → healthy. */
export type HealthCheck = (server: string, signal: AbortSignal) => Promise<boolean>;

/** Healthy when a TCP connection to the server opens before the signal aborts. */
export const tcpHealthCheck: HealthCheck = (server, signal) =>
  new Promise<boolean>((resolve) => {
    if (signal.aborted) return resolve(false);
    let hp;
    try {
      hp = splitHostPort(server);
    } catch {
      return resolve(false);
    }
    const sock = net.connect({ host: hp.host, port: hp.port });
    const done = (ok: boolean) => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(ok);
    };
    const onAbort = () => done(false);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });

export interface HttpsHealthCheckOptions {
  /** The cluster CA bundle (PEM) the server's certificate must chain to. */
  ca: string;
  /** Default `/livez`. */
  path?: string;
  /** Largest answer read, bytes (the rest is ignored). Default 4096. */
  maxBodyBytes?: number;
}

/** Healthy when `GET https://<server><path>` answers 200 with a certificate valid for the address. */
export function httpsHealthCheck(opts: HttpsHealthCheckOptions): HealthCheck {
  const path = opts.path ?? '/livez';
  const maxBody = opts.maxBodyBytes ?? 4096;
  return (server, signal) =>
    new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(false);
      let hp;
      try {
        hp = splitHostPort(server);
      } catch {
        return resolve(false);
      }
      let settled = false;
      const done = (ok: boolean) => {
        if (settled) return;
        settled = true;
        req.destroy();
        resolve(ok);
      };
      const req = https.request({ host: hp.host, port: hp.port, path, method: 'GET', ca: opts.ca, agent: false, signal, headers: { accept: 'text/plain' }, ...(net.isIP(hp.host) ? {} : { servername: hp.host }) }, (res) => {
        let seen = 0;
        res.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen > maxBody) done(res.statusCode === 200);
        });
        res.on('end', () => done(res.statusCode === 200));
        res.on('error', () => done(false));
      });
      req.on('error', () => done(false));
      req.end();
    });
}
