/**
 * Just enough DER to read a certificate's subject without loading an X.509 library: walks
 * Certificate → TBSCertificate → subject and returns its attributes in order. Node's
 * `crypto.X509Certificate` gives the subject only as escaped display text, which is not safe
 * to split; this reads the bytes. Throws on malformed input.
 */

interface Tlv {
  tag: number;
  /** Offset of the value. */
  start: number;
  /** Offset just past the value. */
  end: number;
}

function tlv(b: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error('DER: truncated');
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported');
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new Error('DER: truncated');
  return { tag, start, end };
}

function expect(b: Uint8Array, at: number, limit: number, tag: number): Tlv {
  const t = tlv(b, at, limit);
  if (t.tag !== tag) throw new Error(`DER: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

const SEQUENCE = 0x30;
const SET = 0x31;

export interface NameAttribute {
  /** Dotted OID, e.g. 2.5.4.3 (CN), 2.5.4.10 (O). */
  oid: string;
  value: string;
}

export const oidCommonName = '2.5.4.3';
export const oidOrganization = '2.5.4.10';

/** The subject attributes of a DER certificate, in encoding order (RDN by RDN). */
export function subjectAttributes(der: Uint8Array): NameAttribute[] {
  const cert = expect(der, 0, der.length, SEQUENCE);
  const tbs = expect(der, cert.start, cert.end, SEQUENCE);
  let p = tbs.start;
  const next = () => {
    const t = tlv(der, p, tbs.end);
    p = t.end;
    return t;
  };
  let t = next();
  if (t.tag === 0xa0) t = next(); // [0] version, then serialNumber
  next(); // signature algorithm
  next(); // issuer
  next(); // validity
  const subject = expect(der, p, tbs.end, SEQUENCE);
  const out: NameAttribute[] = [];
  for (let q = subject.start; q < subject.end; ) {
    const rdn = expect(der, q, subject.end, SET);
    for (let r = rdn.start; r < rdn.end; ) {
      const atv = expect(der, r, rdn.end, SEQUENCE);
      const oid = expect(der, atv.start, atv.end, 0x06);
      const val = tlv(der, oid.end, atv.end);
      out.push({ oid: decodeOid(der.subarray(oid.start, oid.end)), value: decodeString(val.tag, der.subarray(val.start, val.end)) });
      r = atv.end;
    }
    q = rdn.end;
  }
  return out;
}

function decodeOid(b: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const byte of b) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

function decodeString(tag: number, b: Uint8Array): string {
  switch (tag) {
    case 0x0c: // UTF8String
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString (treated as Latin-1, as Go does)
      return Buffer.from(b).toString('latin1');
    case 0x1e: // BMPString, UTF-16BE
      return Buffer.from(b).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString, UTF-32BE
      let s = '';
      for (let i = 0; i + 3 < b.length; i += 4) s += String.fromCodePoint(((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0);
      return s;
    }
    default:
      throw new Error(`DER: unsupported string type 0x${tag.toString(16)} in a name`);
  }
}
