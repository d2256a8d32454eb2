/**
 * The Kubernetes CEL IP and CIDR libraries, as upstream's apiserver/pkg/cel/library/ip.go and
 * cidr.go:
 * - `ip(s)`, `isIP(s)`, `ip.isCanonical(s)`, `string(ip)`, and on an IP `family()`,
 *   `isUnspecified()`, `isLoopback()`, `isLinkLocalMulticast()`, `isLinkLocalUnicast()`,
 *   `isGlobalUnicast()`;
 * - `cidr(s)`, `isCIDR(s)`, `string(cidr)`, and on a CIDR `containsIP(ip or string)`,
 *   `containsCIDR(cidr or string)`, `ip()`, `masked()`, `prefixLength()`.
 * Parsing is Go's net/netip: no leading zeros in IPv4 octets, no zones, no IPv4-mapped IPv6
 * addresses (`IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed`); the canonical form
 * is netip's (RFC 5952 for IPv6).
 */
import { CelScalar, celFunc, celMethod, type CelFunc } from '@bufbuild/cel';
import { Opaque, noSuchOverload, opaqueOf } from './opaque.ts';

/** An address as bytes (4 or 16). */
export class IPAddr extends Opaque {
  readonly typeName = 'net.IP';
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    super();
    this.bytes = bytes;
  }
  override key(): string {
    return formatIP(this.bytes);
  }
}

export class Cidr extends Opaque {
  readonly typeName = 'net.CIDR';
  readonly addr: Uint8Array;
  readonly bits: number;
  constructor(addr: Uint8Array, bits: number) {
    super();
    this.addr = addr;
    this.bits = bits;
  }
  override key(): string {
    return `${formatIP(this.addr)}/${this.bits}`;
  }
  masked(): Uint8Array {
    const out = Uint8Array.from(this.addr);
    for (let i = 0; i < out.length; i++) {
      const keep = Math.max(0, Math.min(8, this.bits - i * 8));
      out[i] = out[i]! & (keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff);
    }
    return out;
  }
  contains(ip: Uint8Array): boolean {
    if (ip.length !== this.addr.length) return false;
    const net = this.masked();
    for (let i = 0; i < ip.length; i++) {
      const keep = Math.max(0, Math.min(8, this.bits - i * 8));
      const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
      if ((ip[i]! & mask) !== net[i]) return false;
    }
    return true;
  }
}

function parseV4(s: string): Uint8Array | string {
  const parts = s.split('.');
  if (parts.length !== 4) return 'IPv4 address too short';
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return p === '' ? 'IPv4 field must have at least one digit' : 'unexpected character';
    if (p.length > 1 && p[0] === '0') return 'IPv4 field has octet with leading zero';
    const n = Number(p);
    if (n > 255) return 'IPv4 field has value >255';
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | string {
  if (s.includes('%')) return 'zone';
  const out = new Uint8Array(16);
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::') && dbl >= 0) return 'multiple :: in address';
  const head = dbl < 0 ? s : s.slice(0, dbl);
  const tail = dbl < 0 ? '' : s.slice(dbl + 2);
  const groups = (part: string): number[] | string => {
    if (part === '') return [];
    const words: number[] = [];
    const fields = part.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes('.')) {
        const v4 = parseV4(f);
        if (typeof v4 === 'string') return v4;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return f === '' ? 'unexpected character, want colon' : 'each colon-separated field must have at least one digit';
      words.push(parseInt(f, 16));
    }
    return words;
  };
  const h = groups(head);
  if (typeof h === 'string') return h;
  const t = groups(tail);
  if (typeof t === 'string') return t;
  if (dbl < 0 && h.length !== 8) return 'address string too short';
  if (dbl >= 0 && h.length + t.length > 7) return 'address string too long';
  const words = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

const isV4Mapped = (b: Uint8Array) => b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** netip.ParseAddr plus upstream's refusals; throws upstream's message. */
export function parseIP(raw: string): Uint8Array {
  const res = raw.includes(':') ? parseV6(raw) : parseV4(raw);
  if (res === 'zone') throw new Error(`IP address ${JSON.stringify(raw)} with zone value is not allowed`);
  if (typeof res === 'string') throw new Error(`IP Address ${JSON.stringify(raw)} parse error during conversion from string: ParseAddr(${JSON.stringify(raw)}): ${res}`);
  if (isV4Mapped(res)) throw new Error(`IPv4-mapped IPv6 address ${JSON.stringify(raw)} is not allowed`);
  return res;
}

/** netip's String: dotted IPv4, RFC 5952 IPv6 (longest run of two or more zero words as ::). */
export function formatIP(b: Uint8Array): string {
  if (b.length === 4) return b.join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

export function parseCidr(raw: string): Cidr {
  const slash = raw.lastIndexOf('/');
  const fail = (why: string) => new Error(`network address ${JSON.stringify(raw)} parse error during conversion from string: netip.ParsePrefix(${JSON.stringify(raw)}): ${why}`);
  if (slash < 0) throw fail('no \'/\'');
  const addrPart = raw.slice(0, slash);
  const bitsPart = raw.slice(slash + 1);
  const addr = addrPart.includes(':') ? parseV6(addrPart) : parseV4(addrPart);
  if (addr === 'zone') throw new Error(`CIDR ${JSON.stringify(raw)} with zone value is not allowed`);
  if (typeof addr === 'string') throw fail(`ParseAddr(${JSON.stringify(addrPart)}): ${addr}`);
  if (!/^\d+$/.test(bitsPart) || (bitsPart.length > 1 && bitsPart[0] === '0')) throw fail(`bad bits after slash: ${JSON.stringify(bitsPart)}`);
  const bits = Number(bitsPart);
  if (bits > addr.length * 8) throw fail(`prefix length out of range`);
  if (isV4Mapped(addr)) throw new Error(`IPv4-mapped IPv6 address ${JSON.stringify(raw)} is not allowed`);
  return new Cidr(addr, bits);
}

function inRange(b: Uint8Array, prefix: number[], bits: number): boolean {
  const c = new Cidr(Uint8Array.from(prefix), bits);
  return c.contains(b);
}

const D = CelScalar.DYN;
const S = CelScalar.STRING;
const B = CelScalar.BOOL;
const ipOf = (fn: string, v: unknown) => opaqueOf(IPAddr, fn, v);
const cidrOf = (fn: string, v: unknown) => opaqueOf(Cidr, fn, v);
const tryParse = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

const v6 = (...words: number[]) => words.flatMap((w) => [w >> 8, w & 0xff]);

export const ipFuncs: CelFunc[] = [
  celFunc('ip', [S], D, (s: string) => new IPAddr(parseIP(s)) as never),
  celFunc('isIP', [S], B, (s: string) => tryParse(() => parseIP(s))),
  celFunc('ip.isCanonical', [S], B, (s: string) => formatIP(parseIP(s)) === s),
  celFunc('string', [D], S, (v: unknown) => {
    if (v instanceof IPAddr || v instanceof Cidr) return v.key();
    throw noSuchOverload('string', v);
  }),
  celMethod('family', D, [], CelScalar.INT, function (this: unknown) {
    return ipOf('family', this).bytes.length === 4 ? 4n : 6n;
  }),
  celMethod('isUnspecified', D, [], B, function (this: unknown) {
    return ipOf('isUnspecified', this).bytes.every((x) => x === 0);
  }),
  celMethod('isLoopback', D, [], B, function (this: unknown) {
    const b = ipOf('isLoopback', this).bytes;
    return b.length === 4 ? b[0] === 127 : b.slice(0, 15).every((x) => x === 0) && b[15] === 1;
  }),
  celMethod('isLinkLocalMulticast', D, [], B, function (this: unknown) {
    const b = ipOf('isLinkLocalMulticast', this).bytes;
    return b.length === 4 ? inRange(b, [224, 0, 0, 0], 24) : inRange(b, v6(0xff02, 0, 0, 0, 0, 0, 0, 0), 16);
  }),
  celMethod('isLinkLocalUnicast', D, [], B, function (this: unknown) {
    const b = ipOf('isLinkLocalUnicast', this).bytes;
    return b.length === 4 ? inRange(b, [169, 254, 0, 0], 16) : inRange(b, v6(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10);
  }),
  celMethod('isGlobalUnicast', D, [], B, function (this: unknown) {
    const b = ipOf('isGlobalUnicast', this).bytes;
    if (b.length === 4) {
      if (b.every((x) => x === 0) || b.every((x) => x === 255)) return false;
      return !(b[0] === 127 || b[0]! >= 224 || inRange(b, [169, 254, 0, 0], 16));
    }
    if (b.every((x) => x === 0) || (b.slice(0, 15).every((x) => x === 0) && b[15] === 1)) return false;
    return !(b[0] === 0xff || inRange(b, v6(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10));
  }),
  celFunc('cidr', [S], D, (s: string) => parseCidr(s) as never),
  celFunc('isCIDR', [S], B, (s: string) => tryParse(() => parseCidr(s))),
  celMethod('containsIP', D, [D], B, function (this: unknown, other: unknown) {
    const c = cidrOf('containsIP', this);
    const ip = typeof other === 'string' ? parseIP(other) : ipOf('containsIP', other).bytes;
    return c.contains(ip);
  }),
  celMethod('containsCIDR', D, [D], B, function (this: unknown, other: unknown) {
    const c = cidrOf('containsCIDR', this);
    const o = typeof other === 'string' ? parseCidr(other) : cidrOf('containsCIDR', other);
    return o.addr.length === c.addr.length && o.bits >= c.bits && c.contains(o.addr);
  }),
  celMethod('ip', D, [], D, function (this: unknown) {
    return new IPAddr(cidrOf('ip', this).addr) as never;
  }),
  celMethod('masked', D, [], D, function (this: unknown) {
    const c = cidrOf('masked', this);
    return new Cidr(c.masked(), c.bits) as never;
  }),
  celMethod('prefixLength', D, [], CelScalar.INT, function (this: unknown) {
    return BigInt(cidrOf('prefixLength', this).bits);
  }),
];
