/**
 * The service-account token authenticator, as upstream's bound and legacy JWT token
 * authenticators (pkg/serviceaccount jwt.go, claims.go validator, legacy.go validator with
 * --service-account-lookup=true) behind the bearer-token request authenticator:
 *
 * - `Authorization: Bearer <jwt>`. A token that is not a JWT, or whose issuer is neither one of
 *   ours (--service-account-issuer) nor the legacy `kubernetes/serviceaccount`, is no opinion
 *   (null): another authenticator may take it. A token of our issuers that fails is a 401
 *   (thrown `unauthorized()`, the upstream reason in `cause.message`).
 * - Bound tokens: signature, issuer, audiences and time (tokens.ts), then the objects named in
 *   the claims must still exist with the claimed uid and not be deleted for longer than the
 *   leeway: the ServiceAccount, and the Pod, Secret or (alone) Node it is bound to. A pod-bound
 *   token's node claim is reported, not looked up (as upstream's PodNodeInfo).
 * - Legacy tokens: the Secret named in the claims must exist, not be deleting, and hold this
 *   exact token in data.token (compared in constant time); the ServiceAccount must exist, not be
 *   deleting, with the claimed uid; a Secret labelled kubernetes.io/legacy-token-invalid-since is
 *   refused with upstream's message. `onLegacyTokenUsed` is told when upstream would label the
 *   Secret kubernetes.io/legacy-token-last-used (the integrator patches it).
 * - The user: `system:serviceaccount:<ns>:<name>`, uid the ServiceAccount's, groups
 *   system:serviceaccounts, system:serviceaccounts:<ns>, system:authenticated, and extra
 *   authentication.kubernetes.io/credential-id (`JTI=<jti>`), pod-name/pod-uid, node-name/node-uid
 *   (keys in Go's sorted map order).
 *
 * Not covered: upstream's 10-second token cache, the audit annotations and metrics (stale
 * warnafter tokens, legacy token kinds) and the "auto-generated secret-based token" warning.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Node, Pod, Secret, ServiceAccount } from '../../api/index.ts';
import type { UserInfo } from '../../api/types.ts';
import { unauthorized } from '../../api/errors.ts';
import type { Authenticator } from '../authn/index.ts';
import { parseBearerToken } from '../authn/tokenfile.ts';
import type { KeySet } from './keys.ts';
import { parseCompactJws } from './jws.ts';
import {
  allServiceAccountsGroup,
  legacyIssuer,
  leewaySeconds,
  makeUsername,
  serviceAccountGroupPrefix,
  verifyBoundToken,
  verifyLegacyToken,
  type VerifiedBoundClaims,
  type VerifiedLegacyClaims,
} from './tokens.ts';

type MaybePromise<T> = T | Promise<T>;

/**
 * Reads of the objects tokens name. Each answers the object, or undefined (or throws, e.g. a
 * NotFound StatusError) when there is none. Called per authentication: keep them cache reads.
 */
export interface ServiceAccountLookups {
  getServiceAccount(namespace: string, name: string): MaybePromise<ServiceAccount | undefined>;
  getPod(namespace: string, name: string): MaybePromise<Pod | undefined>;
  getSecret(namespace: string, name: string): MaybePromise<Secret | undefined>;
  getNode(name: string): MaybePromise<Node | undefined>;
}

export const podNameKey = 'authentication.kubernetes.io/pod-name';
export const podUidKey = 'authentication.kubernetes.io/pod-uid';
export const nodeNameKey = 'authentication.kubernetes.io/node-name';
export const nodeUidKey = 'authentication.kubernetes.io/node-uid';
export const credentialIdKey = 'authentication.kubernetes.io/credential-id';
export const legacyTokenInvalidSinceLabel = 'kubernetes.io/legacy-token-invalid-since';
export const legacyTokenLastUsedLabel = 'kubernetes.io/legacy-token-last-used';

export interface ServiceAccountAuthenticatorOptions {
  keys: KeySet;
  /** --service-account-issuer values; the first signs, all are accepted. */
  issuers: readonly string[];
  /** --api-audiences (default: the issuers). */
  apiAudiences: readonly string[];
  lookups: ServiceAccountLookups;
  /** Accept legacy Secret-based tokens. Default true. */
  legacy?: boolean;
  now?: () => Date;
  /** A legacy token was used and its Secret's last-used label is not today (UTC date given). */
  onLegacyTokenUsed?: (secret: Secret, today: string) => void;
}

export type TokenAuthentication =
  | { status: 'not-ours' }
  | { status: 'invalid'; message: string }
  | { status: 'authenticated'; user: UserInfo; audiences: string[] };

/** What upstream's ServiceAccountInfo holds. */
export interface ServiceAccountInfo {
  namespace: string;
  name: string;
  uid: string;
  podName?: string;
  podUid?: string;
  nodeName?: string;
  nodeUid?: string;
  credentialId?: string;
}

/** The user of a service account (upstream's ServiceAccountInfo.UserInfo, plus system:authenticated). */
export function serviceAccountUser(sa: ServiceAccountInfo): UserInfo {
  const user: UserInfo = {
    username: makeUsername(sa.namespace, sa.name),
    uid: sa.uid,
    groups: [allServiceAccountsGroup, `${serviceAccountGroupPrefix}${sa.namespace}`, 'system:authenticated'],
  };
  const extra: Record<string, string[]> = {};
  if (sa.credentialId) extra[credentialIdKey] = [sa.credentialId];
  if (sa.nodeName) {
    extra[nodeNameKey] = [sa.nodeName];
    if (sa.nodeUid) extra[nodeUidKey] = [sa.nodeUid];
  }
  if (sa.podName && sa.podUid) {
    extra[podNameKey] = [sa.podName];
    extra[podUidKey] = [sa.podUid];
  }
  if (Object.keys(extra).length) user.extra = extra;
  return user;
}

type Lookup<T> = { ok: true; obj: T } | { ok: false; message: string };

async function lookup<T>(get: () => MaybePromise<T | undefined>, notFoundMessage: string): Promise<Lookup<T>> {
  try {
    const obj = await get();
    return obj ? { ok: true, obj } : { ok: false, message: notFoundMessage };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

function deletedBefore(meta: { deletionTimestamp?: string } | undefined, limitMs: number): boolean {
  const ts = meta?.deletionTimestamp;
  return ts !== undefined && Date.parse(ts) < limitMs;
}

async function validateBound(c: VerifiedBoundClaims, lookups: ServiceAccountLookups, now: Date): Promise<{ info: ServiceAccountInfo } | { message: string }> {
  const invalidIfDeletedBefore = now.getTime() - leewaySeconds * 1000;
  const ns = c.namespace;
  const saRef = c.serviceAccount;
  const sa = await lookup(() => lookups.getServiceAccount(ns, saRef.name), `serviceaccounts "${saRef.name}" not found`);
  if (!sa.ok) return sa;
  const saUid = sa.obj.metadata.uid ?? '';
  if (saUid !== saRef.uid) return { message: `service account UID (${saUid}) does not match claim (${saRef.uid})` };
  if (deletedBefore(sa.obj.metadata, invalidIfDeletedBefore)) return { message: `service account ${ns}/${saRef.name} has been deleted` };
  const invalidated = { message: 'service account token has been invalidated' };
  if (c.secret) {
    const ref = c.secret;
    const s = await lookup(() => lookups.getSecret(ns, ref.name), '');
    if (!s.ok) return invalidated;
    const uid = s.obj.metadata.uid ?? '';
    if (ref.uid !== uid) return { message: `secret UID (${uid}) does not match service account secret ref claim (${ref.uid})` };
    if (deletedBefore(s.obj.metadata, invalidIfDeletedBefore)) return invalidated;
  }
  const info: ServiceAccountInfo = { namespace: ns, name: saRef.name, uid: saRef.uid };
  if (c.pod) {
    const ref = c.pod;
    const p = await lookup(() => lookups.getPod(ns, ref.name), '');
    if (!p.ok) return invalidated;
    const uid = p.obj.metadata.uid ?? '';
    if (ref.uid !== uid) return { message: `pod UID (${uid}) does not match service account pod ref claim (${ref.uid})` };
    if (deletedBefore(p.obj.metadata, invalidIfDeletedBefore)) return invalidated;
    info.podName = ref.name;
    info.podUid = ref.uid;
  }
  if (c.node) {
    const ref = c.node;
    if (!c.pod) {
      const n = await lookup(() => lookups.getNode(ref.name), '');
      if (!n.ok) return invalidated;
      const uid = n.obj.metadata.uid ?? '';
      if (ref.uid !== uid) return { message: `node UID (${uid}) does not match service account node ref claim (${ref.uid})` };
      if (deletedBefore(n.obj.metadata, invalidIfDeletedBefore)) return invalidated;
    }
    info.nodeName = ref.name;
    info.nodeUid = ref.uid;
  }
  if (c.jti) info.credentialId = `JTI=${c.jti}`;
  return { info };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function utcDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

async function validateLegacy(
  token: string,
  c: VerifiedLegacyClaims,
  opts: ServiceAccountAuthenticatorOptions,
  now: Date,
): Promise<{ info: ServiceAccountInfo } | { message: string }> {
  const { namespace: ns, secretName, serviceAccountName: saName, serviceAccountUID: saUid } = c;
  const invalidated = { message: 'Token has been invalidated' };
  const s = await lookup(() => opts.lookups.getSecret(ns, secretName), '');
  if (!s.ok) return invalidated;
  const secret = s.obj;
  if (secret.metadata.deletionTimestamp) return invalidated;
  const stored = Buffer.from(secret.data?.['token'] ?? '', 'base64');
  if (!sameBytes(stored, Buffer.from(token))) return { message: "Token does not match server's copy" };
  const sa = await lookup(() => opts.lookups.getServiceAccount(ns, saName), `serviceaccounts "${saName}" not found`);
  if (!sa.ok) return sa;
  if (sa.obj.metadata.deletionTimestamp) return { message: `ServiceAccount ${ns}/${saName} has been deleted` };
  const uid = sa.obj.metadata.uid ?? '';
  if (uid !== saUid) return { message: `ServiceAccount UID (${uid}) does not match claim (${saUid})` };
  const labels = secret.metadata.labels ?? {};
  const today = utcDate(now);
  const lastUsed = labels[legacyTokenLastUsedLabel];
  if (opts.onLegacyTokenUsed && lastUsed !== today && lastUsed !== utcDate(new Date(now.getTime() + 86_400_000))) opts.onLegacyTokenUsed(secret, today);
  if (labels[legacyTokenInvalidSinceLabel]) {
    return {
      message: `the token in secret ${ns}/${secretName} for service account ${ns}/${saName} has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the '${legacyTokenInvalidSinceLabel}' label from the secret to temporarily allow use of this token`,
    };
  }
  return { info: { namespace: ns, name: saName, uid: saUid } };
}

/**
 * Authenticates a bearer token as a service account (see the file comment). `audiences` are
 * those asked for (a TokenReview's); default the API audiences. Never throws: lookup errors
 * become "invalid".
 */
export async function authenticateServiceAccountToken(
  token: string,
  opts: ServiceAccountAuthenticatorOptions,
  audiences?: readonly string[],
): Promise<TokenAuthentication> {
  const jws = parseCompactJws(token);
  if (!jws) return { status: 'not-ours' };
  const iss = jws.payload['iss'];
  if (typeof iss !== 'string') return { status: 'not-ours' };
  const isLegacy = iss === legacyIssuer && opts.legacy !== false;
  const isBound = opts.issuers.includes(iss);
  if (!isLegacy && !isBound) return { status: 'not-ours' };
  const now = (opts.now ?? (() => new Date()))();
  const common = { keys: opts.keys, implicitAudiences: opts.apiAudiences, audiences };
  let failure: string | undefined;
  if (isLegacy) {
    const r = verifyLegacyToken(jws, common);
    if (r.status === 'verified') {
      const v = await validateLegacy(token, r.claims, opts, now);
      if ('info' in v) return { status: 'authenticated', user: serviceAccountUser(v.info), audiences: r.audiences };
      failure = v.message;
    } else if (r.status === 'invalid') failure = r.message;
  }
  if (isBound) {
    const r = verifyBoundToken(jws, { ...common, issuers: opts.issuers, now });
    if (r.status === 'verified') {
      const v = await validateBound(r.claims, opts.lookups, now);
      if ('info' in v) return { status: 'authenticated', user: serviceAccountUser(v.info), audiences: r.audiences };
      failure = failure ? `[${failure}, ${v.message}]` : v.message;
    } else if (r.status === 'invalid') failure = failure ? `[${failure}, ${r.message}]` : r.message;
  }
  return failure === undefined ? { status: 'not-ours' } : { status: 'invalid', message: failure };
}

export interface ServiceAccountAuthenticator extends Authenticator {
  /** The full outcome, for TokenReview (audiences as in its spec). */
  authenticateToken(token: string, audiences?: readonly string[]): Promise<TokenAuthentication>;
}

/**
 * The request authenticator: the bearer token of the Authorization header, if any; null when
 * it is not a service-account token; throws `unauthorized()` (cause: upstream's reason) when it
 * is one that fails.
 */
export function serviceAccountAuthenticator(opts: ServiceAccountAuthenticatorOptions): ServiceAccountAuthenticator {
  return {
    name: 'serviceaccount',
    authenticateToken: (token, audiences) => authenticateServiceAccountToken(token, opts, audiences),
    async authenticate(req) {
      const token = parseBearerToken(req.headers['authorization']);
      if (token === undefined) return null;
      const r = await authenticateServiceAccountToken(token, opts);
      if (r.status === 'authenticated') return r.user;
      if (r.status === 'not-ours') return null;
      const err = unauthorized();
      err.cause = new Error(r.message);
      throw err;
    },
  };
}
