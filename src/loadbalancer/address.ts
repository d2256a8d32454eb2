/**
 * `host:port` server addresses as the load balancer keeps them (Go's net.SplitHostPort /
 * JoinHostPort: an IPv6 host in brackets), and the address of an https:// URL (port 443 when
 * the URL names none), as k3s's load balancer derives its default server from `--server`.
 */
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** Splits `host:port` / `[v6]:port`; throws a TypeError naming the address when it is not one. */
export function splitHostPort(address: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:[\]]+):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`invalid server address ${JSON.stringify(address)}: want host:port`);
  return { host: m[1], port };
}

/** `host:port`, bracketing an IPv6 host. */
export function joinHostPort(host: string, port: number | string): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The `host:port` an https URL connects to (443 by default). */
export function addressOfUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`invalid server URL ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'https:') throw new TypeError(`server URL must be https: ${url}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return joinHostPort(host, u.port || 443);
}
