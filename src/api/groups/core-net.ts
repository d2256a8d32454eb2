/**
 * IP and CIDR parsing for the core kinds (Service cluster IPs, Endpoints, EndpointSlices, Node pod
 * CIDRs) and the field checks upstream applies to them: IsValidIP, IsValidIPv4Address,
 * IsValidIPv6Address, IsValidCIDR and ValidateNonSpecialIP, with upstream's messages.
 * Parsing is "sloppy" as upstream's legacy parser is (IPv4 octets may carry leading zeros), and an
 * IPv4-mapped IPv6 address counts as IPv4. Values are BigInts so IPv6 ranges work the same way.
 */
import type { StatusCause } from '../types.ts';
import { invalidValue } from '../validation.ts';

export type IPFamily = 'IPv4' | 'IPv6';

export interface ParsedIP {
  family: IPFamily;
  /** The address as an integer (32 bits for IPv4, 128 for IPv6). */
  value: bigint;
}

export interface ParsedCIDR {
  family: IPFamily;
  /** The network address (host bits cleared). */
  base: bigint;
  prefix: number;
  /** Number of addresses in the range (2^(bits-prefix)). */
  size: bigint;
}

const v4Re = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(s: string): bigint | undefined {
  const m = v4Re.exec(s);
  if (!m) return undefined;
  let v = 0n;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 part may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** Parses an IP address; undefined when it is not one. */
export function parseIP(s: string): ParsedIP | undefined {
  if (typeof s !== 'string' || s === '') return undefined;
  if (!s.includes(':')) {
    const v = parseV4(s);
    return v === undefined ? undefined : { family: 'IPv4', value: v };
  }
  const v = parseV6(s);
  if (v === undefined) return undefined;
  if (v >> 32n === 0xffffn) return { family: 'IPv4', value: v & 0xffffffffn };
  return { family: 'IPv6', value: v };
}

export function bitsOf(family: IPFamily): number {
  return family === 'IPv4' ? 32 : 128;
}

/** Canonical text form: dotted quad, or RFC 5952 compressed lower-case IPv6. */
export function formatIP(ip: ParsedIP): string {
  if (ip.family === 'IPv4') {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical form of an address string, or undefined when it is not one. */
export function canonicalIP(s: string): string | undefined {
  const ip = parseIP(s);
  return ip ? formatIP(ip) : undefined;
}

/** Parses a CIDR ("10.43.0.0/16"); the base is the network address. */
export function parseCIDR(s: string): ParsedCIDR | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const text = s.slice(0, slash);
  const family: IPFamily = text.includes(':') ? 'IPv6' : 'IPv4';
  const value = family === 'IPv6' ? parseV6(text) : parseV4(text);
  const ps = s.slice(slash + 1);
  if (value === undefined || !/^\d{1,3}$/.test(ps)) return undefined;
  const prefix = Number(ps);
  const bits = bitsOf(family);
  if (prefix > bits) return undefined;
  const hostBits = BigInt(bits - prefix);
  const base = (value >> hostBits) << hostBits;
  return { family, base, prefix, size: 1n << hostBits };
}

export function formatCIDR(c: ParsedCIDR): string {
  return `${formatIP({ family: c.family, value: c.base })}/${c.prefix}`;
}

export function cidrContains(c: ParsedCIDR, ip: ParsedIP): boolean {
  return ip.family === c.family && ip.value >= c.base && ip.value < c.base + c.size;
}

// ---- field checks ----------------------------------------------------------------------------

export function validateIP(field: string, value: unknown): StatusCause[] {
  return typeof value === 'string' && parseIP(value)
    ? []
    : [invalidValue(field, value, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')];
}

export function validateIPv4(field: string, value: unknown): StatusCause[] {
  const ip = typeof value === 'string' ? parseIP(value) : undefined;
  return ip?.family === 'IPv4' ? [] : [invalidValue(field, value, 'must be a valid IPv4 address')];
}

export function validateIPv6(field: string, value: unknown): StatusCause[] {
  const ip = typeof value === 'string' ? parseIP(value) : undefined;
  return ip?.family === 'IPv6' ? [] : [invalidValue(field, value, 'must be a valid IPv6 address')];
}

export function validateCIDR(field: string, value: unknown): StatusCause[] {
  return typeof value === 'string' && parseCIDR(value)
    ? []
    : [invalidValue(field, value, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')];
}

function inRange(ip: ParsedIP, cidr: string): boolean {
  const c = parseCIDR(cidr)!;
  return cidrContains(c, ip);
}

/**
 * Upstream ValidateNonSpecialIP: no unspecified, loopback, link-local unicast or link-local
 * multicast addresses (used for Endpoints, EndpointSlices and external IPs).
 */
export function validateNonSpecialIP(value: unknown, field: string): StatusCause[] {
  const ip = typeof value === 'string' ? parseIP(value) : undefined;
  if (!ip) return [invalidValue(field, value, 'must be a valid IP address')];
  const out: StatusCause[] = [];
  if (ip.value === 0n) out.push(invalidValue(field, value, `may not be unspecified (${String(value)})`));
  if (ip.family === 'IPv4' ? inRange(ip, '127.0.0.0/8') : ip.value === 1n) {
    out.push(invalidValue(field, value, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  }
  if (ip.family === 'IPv4' ? inRange(ip, '169.254.0.0/16') : inRange(ip, 'fe80::/10')) {
    out.push(invalidValue(field, value, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  }
  const llMulticast =
    ip.family === 'IPv4' ? inRange(ip, '224.0.0.0/24') : ip.value >> 120n === 0xffn && ((ip.value >> 112n) & 0x0fn) === 2n;
  if (llMulticast) out.push(invalidValue(field, value, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  return out;
}
