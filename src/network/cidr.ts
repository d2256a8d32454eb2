/**
 * IPv4 CIDR parsing for the pod network: validation, canonical form (host bits cleared, as
 * iptables prints it) and containment. IPv6 pod ranges are not supported yet.
 */
import { BosunError } from '../util/errors.ts';

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
  /** Canonical text, e.g. `10.42.0.0/16`. */
  readonly text: string;
}

/** Parses a dotted IPv4 address into an unsigned 32-bit number; undefined if malformed. */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * Parses `a.b.c.d/n` and clears host bits (`10.42.250.7/24` → `10.42.250.0/24`).
 * Throws ERR_INVALID_CONFIG naming `what` when the text is not an IPv4 CIDR.
 */
export function parseCidr(text: string, what = 'CIDR'): Ipv4Cidr {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text.trim());
  const addr = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 32)) {
    throw new BosunError('ERR_INVALID_CONFIG', `${what} ${JSON.stringify(text)} is not an IPv4 CIDR (a.b.c.d/n)`);
  }
  const base = (addr & mask(prefix)) >>> 0;
  return { base, prefix, text: `${formatIpv4(base)}/${prefix}` };
}

/** True when `ip` (dotted) lies inside `cidr`. */
export function cidrContains(cidr: Ipv4Cidr, ip: string): boolean {
  const n = parseIpv4(ip);
  return n !== undefined && ((n & mask(cidr.prefix)) >>> 0) === cidr.base;
}

/** True when the two ranges share at least one address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** True when every address of `inner` lies inside `outer`. */
export function cidrCovers(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefix >= outer.prefix && ((inner.base & mask(outer.prefix)) >>> 0) === outer.base;
}
