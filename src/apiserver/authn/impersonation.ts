/**
 * User impersonation (`kubectl --as`, `--as-group`, `--as-uid`, `Impersonate-Extra-*`), as
 * upstream's WithImpersonation filter (apiserver endpoints/filters/impersonation.go), which runs
 * after authentication and before the request's own authorization:
 *
 * - The headers are read into a list of things to act as, in upstream's order: the user
 *   (`Impersonate-User`; a `system:serviceaccount:<ns>:<name>` name with a valid namespace and
 *   name is a service account), each `Impersonate-Group`, each value of each
 *   `Impersonate-Extra-<key>` (key lower-cased, then %-decoded; kept as sent when the escape is
 *   malformed), then `Impersonate-Uid`. Empty user and uid values count as absent, as Go's
 *   `Header.Get` does; an empty group value is a group named "".
 * - Groups, uid or extras without a user fail the request. Upstream answers this with 500 (its
 *   InternalError writer: text/plain `Internal Server Error: "<uri>": requested [...] without
 *   impersonating a user`, the list printed as Go prints ObjectReference structs); here it is a
 *   StatusError with reason InternalError and that message.
 * - Each item is authorized for the requester with verb `impersonate`: users, groups and
 *   serviceaccounts (in the account's namespace) in API group "", uids and userextras/<key> in
 *   authentication.k8s.io. The first refusal is a 403 worded as upstream's Forbidden writer
 *   (`users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group ""
 *   at the cluster scope`, the authorizer's reason appended after `: ` when it gives one).
 * - The user acted as: the requested name, uid and extras; the requested groups, or for a
 *   service account without requested groups system:serviceaccounts and
 *   system:serviceaccounts:<ns>; then system:authenticated unless system:authenticated or
 *   system:unauthenticated is among them, or, for system:anonymous, system:unauthenticated
 *   unless present. Nothing of the requester's identity carries over.
 *
 * Node joins repeated headers into one string in `req.headers` (HTTP/1 and HTTP/2 alike); pass
 * `distinctHeaders(req.rawHeaders)` so that each Impersonate-Group and Impersonate-Extra-* value
 * stays one item (HTTP/2 requests have no `headersDistinct`).
 * Not covered: upstream's alpha ServiceAccountImpersonateScheduledNode and constrained
 * impersonation modes (feature gates off by default).
 */
import type { UserInfo } from '../../api/types.ts';
import { statusError, type StatusError } from '../../api/errors.ts';
import { isDNS1123Label, isDNS1123Subdomain } from '../../api/validation.ts';
import type { AuthorizationAttributes, Decision } from '../authz/index.ts';

export type Headers = Record<string, string | string[] | undefined>;

export const impersonateUserHeader = 'impersonate-user';
export const impersonateUidHeader = 'impersonate-uid';
export const impersonateGroupHeader = 'impersonate-group';
export const impersonateExtraHeaderPrefix = 'impersonate-extra-';

export const anonymousUsername = 'system:anonymous';
export const authenticatedGroup = 'system:authenticated';
export const unauthenticatedGroup = 'system:unauthenticated';
export const serviceAccountUsernamePrefix = 'system:serviceaccount:';
export const allServiceAccountsGroup = 'system:serviceaccounts';
export const serviceAccountGroupPrefix = 'system:serviceaccounts:';

const authenticationGroup = 'authentication.k8s.io';

/** One thing the requester asks to act as (upstream lists them as ObjectReferences). */
export type ImpersonationRequest =
  | { kind: 'User'; name: string }
  | { kind: 'ServiceAccount'; namespace: string; name: string }
  | { kind: 'Group'; name: string }
  | { kind: 'UserExtra'; key: string; value: string }
  | { kind: 'UID'; uid: string };

/**
 * The impersonation headers present (names as given, matched in any case; Node lower-cases
 * them), whatever their values. Empty when the request asks for no impersonation. The integrator removes these before
 * proxying a request on, as upstream clears them once the user is switched.
 */
export function impersonationHeaders(headers: Headers): string[] {
  return Object.keys(headers).filter((k) => {
    if (headers[k] === undefined) return false;
    const n = k.toLowerCase();
    return n === impersonateUserHeader || n === impersonateUidHeader || n === impersonateGroupHeader || n.startsWith(impersonateExtraHeaderPrefix);
  });
}

/**
 * The items the headers ask to impersonate, in the order upstream authorizes them; empty when
 * none. Throws a 500 StatusError when groups, extras or a uid come without a user.
 */
export function impersonationRequests(headers: Headers): ImpersonationRequest[] {
  const out: ImpersonationRequest[] = [];
  const user = values(headers, impersonateUserHeader)[0] ?? '';
  if (user) {
    const sa = splitServiceAccountUsername(user);
    out.push(sa ? { kind: 'ServiceAccount', ...sa } : { kind: 'User', name: user });
  }
  const groups = values(headers, impersonateGroupHeader);
  for (const name of groups) out.push({ kind: 'Group', name });
  let hasExtra = false;
  for (const header of Object.keys(headers)) {
    const lower = header.toLowerCase();
    const v = headers[header];
    if (!lower.startsWith(impersonateExtraHeaderPrefix) || v === undefined) continue;
    hasExtra = true;
    const key = unescapeExtraKey(lower.slice(impersonateExtraHeaderPrefix.length));
    for (const value of Array.isArray(v) ? v : [v]) out.push({ kind: 'UserExtra', key, value });
  }
  const uid = values(headers, impersonateUidHeader)[0] ?? '';
  if (uid) out.push({ kind: 'UID', uid });
  if (!user && (groups.length > 0 || hasExtra || uid)) {
    throw statusError('InternalError', sanitize(`requested [${out.map(goObjectReference).join(' ')}] without impersonating a user`));
  }
  return out;
}

/** The authorization check for one item: verb impersonate, as the requester. */
export function impersonationAttributes(requester: UserInfo, r: ImpersonationRequest): AuthorizationAttributes {
  // Upstream's references for users, groups and service accounts carry no apiVersion; uids and
  // extras are authentication.k8s.io/v1.
  const base = { user: requester, verb: 'impersonate', isResourceRequest: true, apiGroup: '', apiVersion: '', subresource: '', namespace: '', path: '' };
  const authn = { ...base, apiGroup: authenticationGroup, apiVersion: 'v1' };
  switch (r.kind) {
    case 'User':
      return { ...base, resource: 'users', name: r.name };
    case 'ServiceAccount':
      return { ...base, resource: 'serviceaccounts', namespace: r.namespace, name: r.name };
    case 'Group':
      return { ...base, resource: 'groups', name: r.name };
    case 'UserExtra':
      return { ...authn, resource: 'userextras', subresource: r.key, name: r.value };
    case 'UID':
      return { ...authn, resource: 'uids', name: r.uid };
  }
}

/**
 * The user the request acts as, or undefined when it asks for no impersonation. Asks `authorize`
 * once per item, in order, and throws the 403 of the first one not allowed (an authorizer that
 * throws counts as a refusal naming its error), or the 500 of impersonationRequests.
 */
export async function impersonate(
  headers: Headers,
  requester: UserInfo,
  authorize: (attrs: AuthorizationAttributes) => Decision | Promise<Decision>,
): Promise<UserInfo | undefined> {
  const requests = impersonationRequests(headers);
  if (requests.length === 0) return undefined;
  const groupsSpecified = values(headers, impersonateGroupHeader).length > 0;
  let username = '';
  let uid = '';
  let groups: string[] = [];
  const extra: Record<string, string[]> = {};
  for (const r of requests) {
    switch (r.kind) {
      case 'ServiceAccount':
        username = `${serviceAccountUsernamePrefix}${r.namespace}:${r.name}`;
        if (!groupsSpecified) groups = [allServiceAccountsGroup, `${serviceAccountGroupPrefix}${r.namespace}`];
        break;
      case 'User':
        username = r.name;
        break;
      case 'Group':
        groups.push(r.name);
        break;
      case 'UserExtra':
        (extra[r.key] ??= []).push(r.value);
        break;
      case 'UID':
        uid = r.uid;
        break;
    }
    const attrs = impersonationAttributes(requester, r);
    let decision: Decision;
    try {
      decision = await authorize(attrs);
    } catch (err) {
      throw impersonationForbidden(attrs, err instanceof Error ? err.message : String(err));
    }
    if (decision.decision !== 'allow') throw impersonationForbidden(attrs, decision.reason);
  }
  if (username !== anonymousUsername) {
    if (!groups.includes(authenticatedGroup) && !groups.includes(unauthenticatedGroup)) groups.push(authenticatedGroup);
  } else if (!groups.includes(unauthenticatedGroup)) {
    groups.push(unauthenticatedGroup);
  }
  const user: UserInfo = { username, groups };
  if (uid) user.uid = uid;
  if (Object.keys(extra).length > 0) user.extra = extra;
  return user;
}

/**
 * Upstream's Forbidden writer for a resource request: `<resource[.group]> "<name>" is forbidden:
 * User "<u>" cannot <verb> resource "<resource[/sub]>" in API group "<g>" <scope>[: <reason>]`.
 */
export function impersonationForbidden(attrs: AuthorizationAttributes, reason: string): StatusError {
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const scope = attrs.namespace ? `in the namespace ${goQuote(attrs.namespace)}` : 'at the cluster scope';
  const msg = sanitize(`User ${goQuote(attrs.user.username)} cannot ${attrs.verb} resource ${goQuote(resource)} in API group ${goQuote(attrs.apiGroup)} ${scope}`);
  const err = reason ? `${msg}: ${reason}` : msg;
  const qualified = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
  const target = attrs.name ? `${qualified} ${goQuote(attrs.name)}` : qualified;
  return statusError('Forbidden', `${target} is forbidden: ${err}`, { name: attrs.name || undefined, group: attrs.apiGroup, kind: attrs.resource });
}

/**
 * Namespace and name of a service account username (`system:serviceaccount:<ns>:<name>`, the
 * namespace a DNS-1123 label, the name a DNS-1123 subdomain), or undefined, as upstream's SplitUsername.
 */
export function splitServiceAccountUsername(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(serviceAccountUsernamePrefix)) return undefined;
  const parts = username.slice(serviceAccountUsernamePrefix.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  if (isDNS1123Label(namespace).length > 0 || isDNS1123Subdomain(name).length > 0) return undefined;
  return { namespace, name };
}

/**
 * Headers with every value kept apart, from Node's `rawHeaders` ([name, value, name, value, …]):
 * names lower-cased, values in the order received. HTTP/2 pseudo-headers (`:path`, …) are left out.
 */
export function distinctHeaders(rawHeaders: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name.startsWith(':')) continue;
    (out[name] ??= []).push(rawHeaders[i + 1]!);
  }
  return out;
}

/** All values of a header (case-insensitive name): an array as given, a string as one value. */
function values(headers: Headers, name: string): string[] {
  for (const k of Object.keys(headers)) {
    if (k.toLowerCase() !== name) continue;
    const v = headers[k];
    if (v !== undefined) return Array.isArray(v) ? v : [v];
  }
  return [];
}

/**
 * Go's url.PathUnescape: %XX escapes decoded as bytes (then read as UTF-8), `+` kept; a `%` not
 * followed by two hex digits leaves the key as sent.
 */
export function unescapeExtraKey(encoded: string): string {
  if (!encoded.includes('%')) return encoded;
  const bytes: number[] = [];
  const raw = Buffer.from(encoded, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) {
      bytes.push(raw[i]!);
      continue;
    }
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return encoded;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Upstream escapes &, < and > in these messages so they never read as HTML. */
function sanitize(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Go's %q for the strings that reach these messages (printable text as is; quotes, backslashes and controls escaped). */
export function goQuote(s: string): string {
  const named: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (named[ch]) out += named[ch];
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** How Go's %v prints a v1.ObjectReference value: its seven fields, space-separated, in braces. */
function goObjectReference(r: ImpersonationRequest): string {
  const authV1 = `${authenticationGroup}/v1`;
  // Kind, Namespace, Name, UID, APIVersion, ResourceVersion, FieldPath
  const f = (kind: string, ns: string, name: string, apiVersion: string, fieldPath: string) => `{${[kind, ns, name, '', apiVersion, '', fieldPath].join(' ')}}`;
  switch (r.kind) {
    case 'User':
      return f('User', '', r.name, '', '');
    case 'ServiceAccount':
      return f('ServiceAccount', r.namespace, r.name, '', '');
    case 'Group':
      return f('Group', '', r.name, '', '');
    case 'UserExtra':
      return f('UserExtra', '', r.value, authV1, r.key);
    case 'UID':
      return f('UID', '', r.uid, authV1, '');
  }
}
