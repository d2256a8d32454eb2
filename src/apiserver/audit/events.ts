/**
 * audit.k8s.io/v1 Event objects as upstream's audit package builds them (audit/request.go,
 * endpoints/filters/audit.go, audit/format.go): what is known when a request arrives (verb,
 * requestURI, user, sourceIPs from X-Forwarded-For / X-Real-Ip / the peer, the user agent cut at
 * 1024 bytes, objectRef), the response status (the code, or the bounded fields of an error
 * Status), request and response objects by level, MicroTime timestamps (RFC 3339 with six
 * fractional digits, UTC), and annotations (first value of a key wins).
 *
 * `encodeEvent` writes an event as the JSON line upstream's log backend writes: Go's field order,
 * empty fields left out, annotation keys sorted (a Go map), with request/response objects
 * optionally spliced in from JSON text the server already has (no second serialization).
 * `eventString` is the `legacy` one-line format. Pure functions; no I/O.
 */
import type { Status, StatusDetails, UserInfo } from '../../api/types.ts';
import type { Level, Stage } from './policy.ts';

export interface AuditUser {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface ObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

/** metav1.Status as the event carries it (no kind/apiVersion; metadata always present). */
export interface ResponseStatus {
  metadata: Record<string, never>;
  status?: string;
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
}

export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: Level;
  auditID: string;
  stage: Stage;
  requestURI: string;
  verb: string;
  user: AuditUser;
  impersonatedUser?: AuditUser;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: ObjectReference;
  responseStatus?: ResponseStatus;
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

/** What the server knows of a request when it arrives (after authentication). */
export interface AuditRequestInfo {
  /** The request's `Audit-ID` header, if any (upstream keeps it); else a new UUID is used. */
  auditID?: string;
  /** Path and query as received (`/api/v1/namespaces/default/pods?limit=500`). */
  requestURI: string;
  verb: string;
  /** The authenticated user (before impersonation); absent for failed authentication. */
  user?: UserInfo;
  sourceIPs?: string[];
  userAgent?: string;
  isResourceRequest: boolean;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** Non-resource path (for the policy's nonResourceURLs). */
  path: string;
  /** Watches and connect/proxy/log streams: ResponseStarted is recorded for them (upstream's long-running check). */
  longRunning?: boolean;
  /** When the request arrived, epoch milliseconds (fractions carry microseconds); default now. */
  receivedAt?: number;
}

/** Upstream's maxUserAgentLength and the suffix it appends when cutting. */
export const maxUserAgentLength = 1024;
const userAgentTruncateSuffix = '...TRUNCATED';

export function truncateUserAgent(ua: string | undefined): string {
  if (!ua) return '';
  return ua.length > maxUserAgentLength ? ua.slice(0, maxUserAgentLength) + userAgentTruncateSuffix : ua;
}

/** metav1.MicroTime's JSON form: `2026-12-05T10:00:00.123456Z` (UTC, six fractional digits). */
export function microTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.round((ms - whole) * 1000));
  const iso = new Date(whole).toISOString(); // ...T10:00:00.123Z
  return `${iso.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

/** The user as authenticationv1.UserInfo carries it (empty fields left out). */
export function auditUser(u: UserInfo | undefined): AuditUser {
  const out: AuditUser = {};
  if (!u) return out;
  if (u.username) out.username = u.username;
  if (u.uid) out.uid = u.uid;
  if (u.groups?.length) out.groups = [...u.groups];
  if (u.extra && Object.keys(u.extra).length) out.extra = u.extra;
  return out;
}

/** A new event at RequestReceived for `info` at `level` (upstream NewEventFromRequest + LogRequestMetadata). */
export function newEvent(info: AuditRequestInfo, level: Level, auditID: string, receivedAt: number): AuditEvent {
  const ts = microTime(receivedAt);
  const ev: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level,
    auditID,
    stage: 'RequestReceived',
    requestURI: info.requestURI,
    verb: info.verb,
    user: auditUser(info.user),
    sourceIPs: info.sourceIPs,
    userAgent: truncateUserAgent(info.userAgent),
    requestReceivedTimestamp: ts,
    stageTimestamp: ts,
  };
  if (info.isResourceRequest) {
    ev.objectRef = {
      resource: info.resource,
      namespace: info.namespace,
      name: info.name,
      apiGroup: info.apiGroup,
      apiVersion: info.apiVersion,
      subresource: info.subresource,
    };
  }
  return ev;
}

/**
 * The responseStatus of an event: the code alone, or for a Status response (errors, and the
 * Status some deletes answer) its bounded fields as upstream's LogResponseObject copies them.
 */
export function responseStatus(code: number, status?: Status): ResponseStatus {
  const out: ResponseStatus = { metadata: {} };
  if (status) {
    if (status.status) out.status = status.status;
    if (status.message) out.message = status.message;
    if (status.reason) out.reason = status.reason;
    if (status.details) out.details = status.details;
    out.code = code || status.code; // the code written wins, as upstream's response writer sets it last
  } else if (code) out.code = code;
  return out;
}

/** Sets an annotation unless the key already has another value (upstream keeps the first). */
export function annotate(ev: AuditEvent, key: string, value: string): boolean {
  const a = (ev.annotations ??= {});
  const cur = a[key];
  if (cur !== undefined && cur !== value) return false;
  a[key] = value;
  return true;
}

/** The annotations the authorization filter adds: decision `allow` or `forbid`, and the reason. */
export const authorizationDecisionAnnotation = 'authorization.k8s.io/decision';
export const authorizationReasonAnnotation = 'authorization.k8s.io/reason';

/**
 * Source IPs as upstream's utilnet.SourceIPs: each valid address of X-Forwarded-For, then
 * X-Real-Ip when not already listed, then the peer unless it is the last one already.
 * IPv4-mapped IPv6 addresses are written as IPv4 (Go's net.IP.String).
 */
export function sourceIPs(headers: Record<string, string | string[] | undefined>, remoteAddress: string | undefined): string[] {
  const out: string[] = [];
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const fwd = first(headers['x-forwarded-for']);
  if (fwd) {
    for (const part of fwd.split(',')) {
      const ip = canonicalIP(part.trim());
      if (ip) out.push(ip);
    }
  }
  const real = first(headers['x-real-ip']);
  if (real) {
    const ip = canonicalIP(real);
    if (ip && !out.includes(ip)) out.push(ip);
  }
  const peer = remoteAddress ? canonicalIP(remoteAddress) : null;
  if (peer && (out.length === 0 || out[out.length - 1] !== peer)) out.push(peer);
  return out;
}

const ipv4Re = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function canonicalIP(s: string): string | null {
  const v4 = ipv4Re.exec(s);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) ? v4.slice(1).map(Number).join('.') : null;
  if (!s.includes(':')) return null;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  if (mapped) return canonicalIP(mapped[1]!);
  try {
    const host = new URL(`http://[${s}]/`).hostname; // RFC 5952 form, as Go prints IPv6
    return host.slice(1, -1);
  } catch {
    return null;
  }
}

/** A copy of an object (or of a list's items) without metadata.managedFields (omitManagedFields). */
export function withoutManagedFields(obj: unknown): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj;
  const o = obj as Record<string, unknown>;
  let out = o;
  const meta = o['metadata'] as Record<string, unknown> | undefined;
  if (meta && typeof meta === 'object' && 'managedFields' in meta) {
    const { managedFields: _drop, ...rest } = meta;
    out = { ...o, metadata: rest };
  }
  const items = o['items'];
  if (Array.isArray(items) && items.some((i) => (i as { metadata?: { managedFields?: unknown } })?.metadata?.managedFields !== undefined)) {
    out = { ...out, items: items.map(withoutManagedFields) };
  }
  return out;
}

/** JSON text of request/response objects to splice into an encoded event instead of re-serializing. */
export interface RawObjects {
  requestObject?: string;
  responseObject?: string;
}

/**
 * One event as a JSON line (without the newline), fields in Go's order and empty ones left out,
 * as upstream's JSON encoder writes audit.k8s.io/v1 Events. `raw` texts must be valid JSON
 * without line breaks (see `compactJson`).
 */
export function encodeEvent(ev: AuditEvent, raw?: RawObjects): string {
  const s = JSON.stringify;
  let out = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":${s(ev.level)},"auditID":${s(ev.auditID)},"stage":${s(ev.stage)},"requestURI":${s(ev.requestURI)},"verb":${s(ev.verb)},"user":${encodeUser(ev.user)}`;
  if (ev.impersonatedUser) out += `,"impersonatedUser":${encodeUser(ev.impersonatedUser)}`;
  if (ev.sourceIPs?.length) out += `,"sourceIPs":${s(ev.sourceIPs)}`;
  if (ev.userAgent) out += `,"userAgent":${s(ev.userAgent)}`;
  if (ev.objectRef) out += `,"objectRef":${encodeObjectRef(ev.objectRef)}`;
  if (ev.responseStatus) out += `,"responseStatus":${encodeStatus(ev.responseStatus)}`;
  const req = raw?.requestObject ?? (ev.requestObject !== undefined ? s(ev.requestObject) : undefined);
  if (req !== undefined) out += `,"requestObject":${req}`;
  const res = raw?.responseObject ?? (ev.responseObject !== undefined ? s(ev.responseObject) : undefined);
  if (res !== undefined) out += `,"responseObject":${res}`;
  out += `,"requestReceivedTimestamp":${s(ev.requestReceivedTimestamp)},"stageTimestamp":${s(ev.stageTimestamp)}`;
  if (ev.annotations) {
    const keys = Object.keys(ev.annotations);
    if (keys.length) {
      keys.sort();
      out += `,"annotations":{${keys.map((k) => `${s(k)}:${s(ev.annotations![k])}`).join(',')}}`;
    }
  }
  return out + '}';
}

function encodeUser(u: AuditUser): string {
  const parts: string[] = [];
  if (u.username) parts.push(`"username":${JSON.stringify(u.username)}`);
  if (u.uid) parts.push(`"uid":${JSON.stringify(u.uid)}`);
  if (u.groups?.length) parts.push(`"groups":${JSON.stringify(u.groups)}`);
  if (u.extra && Object.keys(u.extra).length) {
    const keys = Object.keys(u.extra).sort();
    parts.push(`"extra":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(u.extra![k])}`).join(',')}}`);
  }
  return `{${parts.join(',')}}`;
}

const objectRefFields = ['resource', 'namespace', 'name', 'uid', 'apiGroup', 'apiVersion', 'resourceVersion', 'subresource'] as const;

function encodeObjectRef(r: ObjectReference): string {
  const parts: string[] = [];
  for (const f of objectRefFields) if (r[f]) parts.push(`"${f}":${JSON.stringify(r[f])}`);
  return `{${parts.join(',')}}`;
}

function encodeStatus(st: ResponseStatus): string {
  let out = '{"metadata":{}';
  if (st.status) out += `,"status":${JSON.stringify(st.status)}`;
  if (st.message) out += `,"message":${JSON.stringify(st.message)}`;
  if (st.reason) out += `,"reason":${JSON.stringify(st.reason)}`;
  if (st.details) out += `,"details":${JSON.stringify(st.details)}`;
  if (st.code) out += `,"code":${st.code}`;
  return out + '}';
}

/**
 * JSON text fit to splice into a JSON line: returned as is when it has no line break; else
 * re-serialized compactly (pretty-printed responses). Undefined when it is not JSON.
 */
export function compactJson(text: string): string | undefined {
  if (!text.includes('\n') && !text.includes('\r')) {
    const c = text.trimStart()[0];
    return c === '{' || c === '[' ? text : undefined;
  }
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Go's %q for the legacy format (printable ASCII kept, the rest escaped as JSON does). */
function q(s: string): string {
  return JSON.stringify(s);
}

/**
 * The `legacy` log format line (upstream audit.EventString, without the newline):
 * `<received, RFC 3339 nanos> AUDIT: id="..." stage="..." ip="..." method="..." user="..." ...`.
 */
export function eventString(ev: AuditEvent): string {
  let username = '<none>';
  let groups = '<none>';
  if (ev.user.username) {
    username = ev.user.username;
    if (ev.user.groups?.length) groups = ev.user.groups.map(q).join(',');
  }
  let asUser = '<self>';
  let asGroups = '<lookup>';
  if (ev.impersonatedUser) {
    asUser = ev.impersonatedUser.username ?? '';
    if (ev.impersonatedUser.groups) asGroups = ev.impersonatedUser.groups.map(q).join(',');
  }
  const namespace = ev.objectRef?.namespace || '<none>';
  const response = ev.responseStatus ? String(ev.responseStatus.code ?? 0) : '<deferred>';
  const ip = ev.sourceIPs?.[0] ?? '<unknown>';
  // RFC3339Nano drops trailing zeros of the fraction.
  const received = ev.requestReceivedTimestamp.replace(/\.?0+Z$/, 'Z');
  return `${received} AUDIT: id=${q(ev.auditID)} stage=${q(ev.stage)} ip=${q(ip)} method=${q(ev.verb)} user=${q(username)} groups=${q(groups)} as=${q(asUser)} asgroups=${q(asGroups)} user-agent=${q(ev.userAgent ?? '')} namespace=${q(namespace)} uri=${q(ev.requestURI)} response="${response}"`;
}
