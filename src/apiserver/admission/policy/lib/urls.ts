/**
 * The Kubernetes CEL URL library, as upstream's apiserver/pkg/cel/library/urls.go: `url(s)`,
 * `isURL(s)` and on a URL `getScheme()`, `getHost()`, `getHostname()`, `getPort()`,
 * `getEscapedPath()`, `getQuery()`.
 *
 * Parsing follows Go's net/url as upstream uses it: the string must pass ParseRequestURI (an
 * absolute URI, or an absolute path) and its parts are read as url.Parse reads them (the
 * fragment split off first). Errors are worded as Go's (`URL parse error during conversion from
 * string: parse "https://a:b:c/": invalid port ":c" after host`). Not covered: Go's handling of
 * opaque URIs beyond keeping the scheme, and of userinfo escapes.
 */
import { CelScalar, celFunc, celMethod, type CelFunc } from '@bufbuild/cel';
import { Opaque, opaqueOf } from './opaque.ts';

export class Url extends Opaque {
  readonly typeName = 'kubernetes.URL';
  readonly raw: string;
  readonly scheme: string;
  /** host[:port], IPv6 in brackets. */
  readonly host: string;
  /** The path as written (may hold escapes). */
  readonly rawPath: string;
  readonly rawQuery: string;
  constructor(p: { raw: string; scheme: string; host: string; rawPath: string; rawQuery: string }) {
    super();
    this.raw = p.raw;
    this.scheme = p.scheme;
    this.host = p.host;
    this.rawPath = p.rawPath;
    this.rawQuery = p.rawQuery;
  }
  override key(): string {
    return this.raw;
  }
  hostname(): string {
    const h = this.host;
    if (h.startsWith('[')) {
      const end = h.indexOf(']');
      return end < 0 ? h.slice(1) : h.slice(1, end);
    }
    const i = h.lastIndexOf(':');
    return i < 0 ? h : h.slice(0, i);
  }
  port(): string {
    const h = this.host;
    const from = h.startsWith('[') ? h.indexOf(']') + 1 : 0;
    const i = h.indexOf(':', from);
    if (i < 0) return '';
    const p = h.slice(i + 1);
    return /^\d*$/.test(p) ? p : '';
  }
}

const parseError = (raw: string, why: string) => new Error(`parse ${JSON.stringify(raw)}: ${why}`);

/** Go's scheme rule: a letter, then letters, digits, '+', '-', '.'. */
function splitScheme(raw: string): { scheme: string; rest: string } {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+.-]/.test(c)) {
      if (i === 0) return { scheme: '', rest: raw };
      continue;
    }
    if (c === ':') {
      if (i === 0) throw parseError(raw, 'missing protocol scheme');
      return { scheme: raw.slice(0, i).toLowerCase(), rest: raw.slice(i + 1) };
    }
    return { scheme: '', rest: raw };
  }
  return { scheme: '', rest: raw };
}

function checkEscapes(raw: string, s: string): void {
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') continue;
    if (!/^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) throw parseError(raw, `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`);
    i += 2;
  }
}

function checkHost(raw: string, host: string): void {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) throw parseError(raw, "missing ']' in host");
    const rest = host.slice(end + 1);
    if (rest !== '' && !/^:\d*$/.test(rest)) throw parseError(raw, `invalid port ${JSON.stringify(rest)} after host`);
    return;
  }
  const i = host.lastIndexOf(':');
  if (i >= 0 && !/^:\d*$/.test(host.slice(i))) throw parseError(raw, `invalid port ${JSON.stringify(host.slice(i))} after host`);
  if (/[^A-Za-z0-9\-._~!$&'()*+,;=:%\[\]]/.test(host)) throw parseError(raw, `invalid character ${JSON.stringify(host.match(/[^A-Za-z0-9\-._~!$&'()*+,;=:%\[\]]/)![0])} in host name`);
}

/** Go's url.ParseRequestURI checks, then url.Parse's reading; throws Go's error. */
export function parseUrl(raw: string): Url {
  if (raw === '') throw parseError(raw, 'empty url');
  if (/[\x00-\x1f\x7f]/.test(raw)) throw parseError(raw, 'net/url: invalid control character in URL');
  // ParseRequestURI sees the fragment as part of the path or query; url.Parse splits it off.
  const hash = raw.indexOf('#');
  const noFrag = hash < 0 ? raw : raw.slice(0, hash);
  const { scheme, rest: afterScheme } = splitScheme(noFrag);
  let rest = afterScheme;
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return new Url({ raw, scheme, host: '', rawPath: '', rawQuery });
    throw parseError(raw, 'invalid URI for request');
  }
  let host = '';
  if (scheme !== '' && rest.startsWith('//')) {
    const authority = rest.slice(2);
    const slash = authority.indexOf('/');
    const auth = slash < 0 ? authority : authority.slice(0, slash);
    rest = slash < 0 ? '' : authority.slice(slash);
    const at = auth.lastIndexOf('@');
    host = at < 0 ? auth : auth.slice(at + 1);
    checkHost(raw, host);
  }
  checkEscapes(raw, rest);
  return new Url({ raw, scheme, host, rawPath: rest, rawQuery });
}

/** Characters Go's EscapedPath leaves as they are in a path. */
const pathSafe = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/** Go's URL.EscapedPath: the path as written when it is a valid encoding, else escaped. */
function escapedPath(u: Url): string {
  const p = u.rawPath;
  let valid = true;
  for (let i = 0; i < p.length && valid; i++) {
    const c = p[i]!;
    if (c === '%') i += 2;
    else if (!pathSafe.test(c) && !"!'()*".includes(c)) valid = false;
  }
  if (valid) return p;
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    decoded = p;
  }
  let out = '';
  for (const b of Buffer.from(decoded, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && pathSafe.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function unescapeQuery(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** Go's url.ParseQuery, bad pairs (semicolons, bad escapes) skipped. */
function query(u: Url): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of u.rawQuery.split('&')) {
    if (part === '' || part.includes(';')) continue;
    const eq = part.indexOf('=');
    const k = unescapeQuery(eq < 0 ? part : part.slice(0, eq));
    const v = unescapeQuery(eq < 0 ? '' : part.slice(eq + 1));
    if (k === undefined || v === undefined) continue;
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}

const D = CelScalar.DYN;
const S = CelScalar.STRING;
const url = (fn: string, v: unknown) => opaqueOf(Url, fn, v);

export const urlFuncs: CelFunc[] = [
  celFunc('url', [S], D, (s: string) => {
    try {
      return parseUrl(s) as never;
    } catch (err) {
      throw new Error(`URL parse error during conversion from string: ${(err as Error).message}`);
    }
  }),
  celFunc('isURL', [S], CelScalar.BOOL, (s: string) => {
    try {
      parseUrl(s);
      return true;
    } catch {
      return false;
    }
  }),
  celMethod('getScheme', D, [], S, function (this: unknown) {
    return url('getScheme', this).scheme;
  }),
  celMethod('getHost', D, [], S, function (this: unknown) {
    return url('getHost', this).host;
  }),
  celMethod('getHostname', D, [], S, function (this: unknown) {
    return url('getHostname', this).hostname();
  }),
  celMethod('getPort', D, [], S, function (this: unknown) {
    return url('getPort', this).port();
  }),
  celMethod('getEscapedPath', D, [], S, function (this: unknown) {
    return escapedPath(url('getEscapedPath', this));
  }),
  celMethod('getQuery', D, [], D, function (this: unknown) {
    return query(url('getQuery', this)) as never;
  }),
];
