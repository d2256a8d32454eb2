/**
 * Subject alternative names of the API server's serving certificate: which names go in, how a
 * name is validated and put in canonical form (so "0:0::1" and "::1" are the same SAN), and how
 * two SAN sets are compared. Pure functions; the network interfaces are read only by
 * `hostAddresses`, and only when called without a list.
 */
import os from 'node:os';
import net from 'node:net';
import { BosunError } from '../util/errors.ts';

export interface San {
  type: 'dns' | 'ip';
  /** Canonical form: lower-case DNS name without a trailing dot; IPv6 compressed, lower-case. */
  value: string;
}

/** The in-cluster names of the `kubernetes` service, as every API server certificate carries. */
export const kubernetesServiceNames = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'] as const;

/** First address of the default service CIDR 10.43.0.0/16: the `kubernetes` service's ClusterIP. */
export const defaultApiServiceIP = '10.43.0.1';

const dnsLabel = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;

/**
 * Parses one SAN given as text: an IP address (v4, or v6 with an optional `%zone` that is
 * dropped) or a DNS name (an optional leading `*.` wildcard label; the last label not all
 * digits). Throws ERR_INVALID_CONFIG for anything else, e.g. a URL, a name with spaces, 010.0.0.1.
 */
export function parseSan(text: string): San {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const ip = canonicalIP(s);
  if (ip) return { type: 'ip', value: ip };
  const name = s.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  const ok =
    name.length > 0 &&
    name.length <= 253 &&
    labels.every((l, i) => dnsLabel.test(l) || (i === 0 && l === '*' && labels.length > 1)) &&
    !/^[0-9]+$/.test(labels[labels.length - 1]!); // all-numeric last label: a mistyped IP, not a name
  if (!ok) throw new BosunError('ERR_INVALID_CONFIG', `invalid TLS SAN ${JSON.stringify(text)}: not an IP address or DNS name`);
  return { type: 'dns', value: name };
}

/** The canonical text of an IP address, or undefined when `s` is not one. */
export function canonicalIP(s: string): string | undefined {
  const bare = s.includes(':') ? s.replace(/%.*$/, '') : s;
  const v = net.isIP(bare);
  if (v === 4) return bare;
  if (v === 6) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return undefined;
}

/**
 * The host's own addresses: every non-internal IPv4 and IPv6 address of the network
 * interfaces, except link-local ones (169.254.0.0/16, fe80::/10). Link-local addresses are
 * only reachable with an interface scope, and every container veth adds one, so including
 * them would change the SAN set — and reissue the certificate — on almost every start.
 */
export function hostAddresses(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  const out: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      const ip = canonicalIP(a.address);
      if (!ip || isLinkLocal(ip)) continue;
      out.push(ip);
    }
  }
  return out;
}

function isLinkLocal(ip: string): boolean {
  if (ip.includes(':')) return /^fe[89ab][0-9a-f]:/.test(ip);
  return ip.startsWith('169.254.');
}

export interface ServingSanOptions {
  /** Extra names and addresses (`--tls-san`), DNS names or IPs. */
  sans?: readonly string[];
  /** Host names of this machine. */
  hostnames?: readonly string[];
  /** Addresses of this machine. */
  addresses?: readonly string[];
  /** ClusterIP of the `kubernetes` service. */
  apiServiceIP?: string;
}

/**
 * The full SAN list of the serving certificate, de-duplicated, DNS names first:
 * localhost, the host names, the kubernetes service names, the extra DNS names; then
 * 127.0.0.1, ::1, the service IP, the host addresses, the extra IPs.
 * Throws ERR_INVALID_CONFIG when an extra SAN or host name is malformed.
 */
export function servingSans(opts: ServingSanOptions): San[] {
  const all = [
    'localhost',
    ...(opts.hostnames ?? []),
    ...kubernetesServiceNames,
    '127.0.0.1',
    '::1',
    opts.apiServiceIP ?? defaultApiServiceIP,
    ...(opts.addresses ?? []),
    ...(opts.sans ?? []),
  ].map(parseSan);
  const seen = new Set<string>();
  const unique: San[] = [];
  for (const s of all) {
    const k = sanKey(s);
    if (seen.has(k)) continue;
    seen.add(k);
    unique.push(s);
  }
  return [...unique.filter((s) => s.type === 'dns'), ...unique.filter((s) => s.type === 'ip')];
}

export function sanKey(s: San): string {
  return `${s.type}:${s.value}`;
}

/** True when both lists hold the same SANs, in any order (values are canonicalized first). */
export function sameSans(a: readonly San[], b: readonly San[]): boolean {
  const norm = (l: readonly San[]) => [...new Set(l.map((s) => sanKey(s.type === 'ip' ? { type: 'ip', value: canonicalIP(s.value) ?? s.value } : { type: 'dns', value: s.value.toLowerCase() })))].sort();
  const x = norm(a);
  const y = norm(b);
  return x.length === y.length && x.every((k, i) => k === y[i]);
}
