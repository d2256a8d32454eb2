/**
 * Service-account token claims, issuing and verification, as upstream's pkg/serviceaccount
 * (claims.go, legacy.go, jwt.go) and apiserver authentication/serviceaccount (util.go):
 *
 * - Bound tokens (TokenRequest): iss, sub `system:serviceaccount:<ns>:<name>`, aud (always a
 *   list), iat = nbf = now, exp, jti (a UUID: ServiceAccountTokenJTI is GA) and the private
 *   claim `kubernetes.io` = {namespace, serviceaccount {name, uid}, pod | secret, node, warnafter}.
 *   Keys are written in the order go-jose's map serialization gives (sorted), `name`/`uid` left
 *   out when empty (a node known by name only has no uid).
 * - Legacy tokens (Secrets of type kubernetes.io/service-account-token): iss
 *   `kubernetes/serviceaccount`, sub, and the flat `kubernetes.io/serviceaccount/…` claims; no
 *   expiry.
 * - Verification (verifyToken): a text that is not a compact JWS, or whose unverified `iss` is
 *   not one of ours, is "not ours" (another authenticator may take it). Otherwise the signature
 *   must verify with a key of the header's kid (every key when there is none), the issuer is
 *   re-checked, and the token's audiences (the API audiences when it has none, as legacy tokens)
 *   must meet the requested ones (the API audiences unless a TokenReview names others).
 *   Failures are "invalid" with upstream's messages.
 * - Bound claims are then checked in time with go-jose's one-minute leeway (nbf, exp, iat) and
 *   decoded; legacy claims must all be present and agree with sub. The lookups of the objects
 *   the claims name are authenticator.ts's.
 *
 * Claims of the wrong JSON type are "invalid" (upstream fails to unmarshal them); the message
 * is Bosun's own there.
 */
import { randomUUID } from 'node:crypto';
import { isDNS1123Label, isDNS1123Subdomain } from '../../api/validation.ts';
import type { KeySet, SigningKey } from './keys.ts';
import { parseCompactJws, signCompactJws, verifyJwsSignature, type ParsedJws } from './jws.ts';

/** The issuer of legacy (Secret-based) tokens. */
export const legacyIssuer = 'kubernetes/serviceaccount';
/** go-jose's jwt.DefaultLeeway: clock skew allowed on nbf, exp and iat, and on deletions. */
export const leewaySeconds = 60;

export const serviceAccountUsernamePrefix = 'system:serviceaccount:';
export const allServiceAccountsGroup = 'system:serviceaccounts';
export const serviceAccountGroupPrefix = 'system:serviceaccounts:';

/** `system:serviceaccount:<namespace>:<name>` (upstream's MakeUsername). */
export function makeUsername(namespace: string, name: string): string {
  return `${serviceAccountUsernamePrefix}${namespace}:${name}`;
}

/**
 * The namespace and name in a service-account username, or undefined when it is not one
 * (upstream's SplitUsername: exactly two parts, a DNS label namespace, a DNS subdomain name).
 */
export function splitUsername(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(serviceAccountUsernamePrefix)) return undefined;
  const parts = username.slice(serviceAccountUsernamePrefix.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  if (isDNS1123Label(namespace).length || isDNS1123Subdomain(name).length) return undefined;
  return { namespace, name };
}

/** A bound object in the `kubernetes.io` claim; empty fields are left out. */
export interface ClaimRef {
  name?: string;
  uid?: string;
}

/** The `kubernetes.io` private claim of bound tokens, keys in serialization order. */
export interface KubernetesClaim {
  namespace?: string;
  node?: ClaimRef;
  pod?: ClaimRef;
  secret?: ClaimRef;
  serviceaccount: ClaimRef;
  warnafter?: number;
}

/** A bound token's payload, keys in serialization order. */
export interface BoundClaims {
  aud: string[];
  exp: number;
  iat: number;
  iss: string;
  jti?: string;
  'kubernetes.io': KubernetesClaim;
  nbf: number;
  sub: string;
}

/** A legacy token's payload, keys in serialization order. */
export interface LegacyClaims {
  iss: string;
  'kubernetes.io/serviceaccount/namespace': string;
  'kubernetes.io/serviceaccount/secret.name': string;
  'kubernetes.io/serviceaccount/service-account.name': string;
  'kubernetes.io/serviceaccount/service-account.uid': string;
  sub: string;
}

/** An object a token names: its name and uid (uid may be empty for a node known by name only). */
export interface ObjectIdentity {
  name: string;
  uid?: string;
}

export interface BoundClaimsInput {
  issuer: string;
  serviceAccount: { namespace: string; name: string; uid: string };
  /** At most one of pod and secret; node with a pod is the pod's node, alone it is the bound object. */
  pod?: ObjectIdentity;
  secret?: ObjectIdentity;
  node?: ObjectIdentity;
  audiences: readonly string[];
  expirationSeconds: number;
  /** Seconds after which use is only warned about (the extended-expiration transition); 0 = none. */
  warnAfterSeconds?: number;
  now: Date;
  /** Default: a random UUID. */
  jti?: string;
}

function ref(o: ObjectIdentity): ClaimRef {
  const r: ClaimRef = {};
  if (o.name) r.name = o.name;
  if (o.uid) r.uid = o.uid;
  return r;
}

/**
 * The claims of a bound token (upstream's Claims). Throws when a secret is given with a pod or
 * node (upstream's internal error: a token binds to one object type).
 */
export function boundClaims(input: BoundClaimsInput): BoundClaims {
  if (input.secret && (input.pod || input.node)) throw new Error('internal error, token can only be bound to one object type');
  const now = Math.floor(input.now.getTime() / 1000);
  const sa = input.serviceAccount;
  // Keys in serialization order: namespace, node, pod, secret, serviceaccount, warnafter.
  const k8s = {} as KubernetesClaim;
  if (sa.namespace) k8s.namespace = sa.namespace;
  if (input.node) k8s.node = ref(input.node);
  if (input.pod) k8s.pod = ref(input.pod);
  else if (input.secret) k8s.secret = ref(input.secret);
  k8s.serviceaccount = ref({ name: sa.name, uid: sa.uid });
  if (input.warnAfterSeconds) k8s.warnafter = now + input.warnAfterSeconds;
  const claims = { aud: [...input.audiences], exp: now + input.expirationSeconds, iat: now, iss: input.issuer } as BoundClaims;
  const jti = input.jti ?? randomUUID();
  if (jti) claims.jti = jti;
  claims['kubernetes.io'] = k8s;
  claims.nbf = now;
  claims.sub = makeUsername(sa.namespace, sa.name);
  return claims;
}

/** The claims of a legacy token for a ServiceAccount and its token Secret (upstream's LegacyClaims). */
export function legacyClaims(serviceAccount: { namespace: string; name: string; uid: string }, secretName: string): LegacyClaims {
  return {
    iss: legacyIssuer,
    'kubernetes.io/serviceaccount/namespace': serviceAccount.namespace,
    'kubernetes.io/serviceaccount/secret.name': secretName,
    'kubernetes.io/serviceaccount/service-account.name': serviceAccount.name,
    'kubernetes.io/serviceaccount/service-account.uid': serviceAccount.uid,
    sub: makeUsername(serviceAccount.namespace, serviceAccount.name),
  };
}

/** A signed token of the claims. */
export function issueToken(key: SigningKey, claims: BoundClaims | LegacyClaims): string {
  return signCompactJws(key, claims);
}

// ---- verification ----

export interface VerifyOptions {
  keys: KeySet;
  /** The issuers accepted (bound: every --service-account-issuer; legacy: [legacyIssuer]). */
  issuers: readonly string[];
  /** The API audiences (--api-audiences): a token without aud is taken as for them. */
  implicitAudiences: readonly string[];
  /** The audiences asked for (a TokenReview's spec.audiences). Default: the API audiences. */
  audiences?: readonly string[];
}

export type VerifyResult<T> =
  | { status: 'not-ours' }
  | { status: 'invalid'; message: string }
  | { status: 'verified'; claims: T; audiences: string[] };

/** Go's %q of a string list: `["a" "b"]`. */
function quoteList(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

function audiencesOf(payload: Record<string, unknown>): string[] | undefined {
  const aud = payload['aud'];
  if (aud === undefined || aud === null) return [];
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return aud as string[];
  return undefined;
}

/** The payload of a token whose unverified issuer is one of `issuers`, or undefined. */
export function jwsForIssuers(token: string | ParsedJws, issuers: readonly string[]): ParsedJws | undefined {
  const jws = typeof token === 'string' ? parseCompactJws(token) : token;
  if (!jws) return undefined;
  const iss = jws.payload['iss'];
  return typeof iss === 'string' && issuers.includes(iss) ? jws : undefined;
}

/**
 * Upstream's JWT authenticator up to the validator: issuer (unverified, then verified),
 * signature, audiences. Never throws.
 */
export function verifyToken(token: string | ParsedJws, opts: VerifyOptions): VerifyResult<Record<string, unknown>> {
  const jws = jwsForIssuers(token, opts.issuers);
  if (!jws) return { status: 'not-ours' };
  const keys = opts.keys.get(jws.header.kid ?? '');
  if (keys.length === 0) return { status: 'invalid', message: 'invalid signature, no keys found' };
  if (!keys.some((k) => verifyJwsSignature(jws, k))) return { status: 'invalid', message: 'square/go-jose: error in cryptographic primitive' };
  const payload = jws.payload;
  const iss = payload['iss'];
  if (typeof iss !== 'string' || !opts.issuers.includes(iss)) return { status: 'invalid', message: `token issuer ${JSON.stringify(String(iss))} is invalid` };
  const tokenAuds = audiencesOf(payload);
  if (!tokenAuds) return { status: 'invalid', message: 'json: cannot unmarshal the aud claim: want a string or a list of strings' };
  const have = tokenAuds.length ? tokenAuds : opts.implicitAudiences;
  const want = opts.audiences ?? opts.implicitAudiences;
  const auds = want.filter((a) => have.includes(a));
  if (auds.length === 0 && opts.implicitAudiences.length !== 0) {
    return { status: 'invalid', message: `token audiences ${quoteList(have)} is invalid for the target audiences ${quoteList(want)}` };
  }
  return { status: 'verified', claims: payload, audiences: auds };
}

/** Bound claims after decoding: refs with both fields present (possibly empty). */
export interface VerifiedBoundClaims {
  sub: string;
  jti: string;
  namespace: string;
  serviceAccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
  secret?: { name: string; uid: string };
  node?: { name: string; uid: string };
  /** Seconds since the epoch, when the token carries one. */
  warnAfter?: number;
}

type Decoded<T> = { ok: true; value: T } | { ok: false; message: string };

function numericDate(payload: Record<string, unknown>, claim: string): Decoded<number | undefined> {
  const v = payload[claim];
  if (v === undefined || v === null) return { ok: true, value: undefined };
  if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, message: `json: cannot unmarshal the ${claim} claim: want a NumericDate` };
  return { ok: true, value: Math.trunc(v) };
}

function stringClaim(obj: Record<string, unknown>, key: string, where: string): Decoded<string> {
  const v = obj[key];
  if (v === undefined || v === null) return { ok: true, value: '' };
  if (typeof v !== 'string') return { ok: false, message: `json: cannot unmarshal the ${where} claim: want a string` };
  return { ok: true, value: v };
}

function refClaim(obj: Record<string, unknown>, key: string): Decoded<{ name: string; uid: string } | undefined> {
  const v = obj[key];
  if (v === undefined || v === null) return { ok: true, value: undefined };
  if (typeof v !== 'object' || Array.isArray(v)) return { ok: false, message: `json: cannot unmarshal the kubernetes.io ${key} claim: want an object` };
  const name = stringClaim(v as Record<string, unknown>, 'name', `kubernetes.io ${key}.name`);
  if (!name.ok) return name;
  const uid = stringClaim(v as Record<string, unknown>, 'uid', `kubernetes.io ${key}.uid`);
  if (!uid.ok) return uid;
  return { ok: true, value: { name: name.value, uid: uid.value } };
}

/**
 * Upstream's bound-token checks on verified claims: nbf, exp and iat against `now` with the
 * leeway (messages as upstream), then the `kubernetes.io` claim decoded.
 */
export function checkBoundClaims(payload: Record<string, unknown>, now: Date): Decoded<VerifiedBoundClaims> {
  const nbf = numericDate(payload, 'nbf');
  if (!nbf.ok) return nbf;
  const exp = numericDate(payload, 'exp');
  if (!exp.ok) return exp;
  const iat = numericDate(payload, 'iat');
  if (!iat.ok) return iat;
  const t = now.getTime();
  const leeway = leewaySeconds * 1000;
  if (nbf.value !== undefined && t + leeway < nbf.value * 1000) return { ok: false, message: 'service account token is not valid yet' };
  if (exp.value !== undefined && t - leeway > exp.value * 1000) return { ok: false, message: 'service account token has expired' };
  if (iat.value !== undefined && t + leeway < iat.value * 1000) return { ok: false, message: 'service account token is issued in the future' };
  const sub = stringClaim(payload, 'sub', 'sub');
  if (!sub.ok) return sub;
  const jti = stringClaim(payload, 'jti', 'jti');
  if (!jti.ok) return jti;
  const raw = payload['kubernetes.io'] ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, message: 'json: cannot unmarshal the kubernetes.io claim: want an object' };
  const k8s = raw as Record<string, unknown>;
  const namespace = stringClaim(k8s, 'namespace', 'kubernetes.io namespace');
  if (!namespace.ok) return namespace;
  const sa = refClaim(k8s, 'serviceaccount');
  if (!sa.ok) return sa;
  const pod = refClaim(k8s, 'pod');
  if (!pod.ok) return pod;
  const secret = refClaim(k8s, 'secret');
  if (!secret.ok) return secret;
  const node = refClaim(k8s, 'node');
  if (!node.ok) return node;
  const warnAfter = numericDate(k8s, 'warnafter');
  if (!warnAfter.ok) return warnAfter;
  const value: VerifiedBoundClaims = {
    sub: sub.value,
    jti: jti.value,
    namespace: namespace.value,
    serviceAccount: sa.value ?? { name: '', uid: '' },
  };
  if (pod.value) value.pod = pod.value;
  if (secret.value) value.secret = secret.value;
  if (node.value) value.node = node.value;
  if (warnAfter.value) value.warnAfter = warnAfter.value;
  return { ok: true, value };
}

/** Legacy claims after the presence checks. */
export interface VerifiedLegacyClaims {
  namespace: string;
  secretName: string;
  serviceAccountName: string;
  serviceAccountUID: string;
}

/** Upstream's legacy validator checks on the claims alone (every claim present, sub agreeing). */
export function checkLegacyClaims(payload: Record<string, unknown>): Decoded<VerifiedLegacyClaims> {
  const get = (k: string) => stringClaim(payload, k, k);
  const sub = get('sub');
  if (!sub.ok) return sub;
  if (!sub.value) return { ok: false, message: 'sub claim is missing' };
  const ns = get('kubernetes.io/serviceaccount/namespace');
  if (!ns.ok) return ns;
  if (!ns.value) return { ok: false, message: 'namespace claim is missing' };
  const secret = get('kubernetes.io/serviceaccount/secret.name');
  if (!secret.ok) return secret;
  if (!secret.value) return { ok: false, message: 'secretName claim is missing' };
  const saName = get('kubernetes.io/serviceaccount/service-account.name');
  if (!saName.ok) return saName;
  if (!saName.value) return { ok: false, message: 'serviceAccountName claim is missing' };
  const saUid = get('kubernetes.io/serviceaccount/service-account.uid');
  if (!saUid.ok) return saUid;
  if (!saUid.value) return { ok: false, message: 'serviceAccountUID claim is missing' };
  const split = splitUsername(sub.value);
  if (!split || split.namespace !== ns.value || split.name !== saName.value) return { ok: false, message: 'sub claim is invalid' };
  return { ok: true, value: { namespace: ns.value, secretName: secret.value, serviceAccountName: saName.value, serviceAccountUID: saUid.value } };
}

/** verifyToken, then the bound-token time and claim checks. */
export function verifyBoundToken(token: string | ParsedJws, opts: VerifyOptions & { now: Date }): VerifyResult<VerifiedBoundClaims> {
  const r = verifyToken(token, opts);
  if (r.status !== 'verified') return r;
  const c = checkBoundClaims(r.claims, opts.now);
  return c.ok ? { status: 'verified', claims: c.value, audiences: r.audiences } : { status: 'invalid', message: c.message };
}

/** verifyToken for the legacy issuer, then the legacy claim checks. */
export function verifyLegacyToken(token: string | ParsedJws, opts: Omit<VerifyOptions, 'issuers'>): VerifyResult<VerifiedLegacyClaims> {
  const r = verifyToken(token, { ...opts, issuers: [legacyIssuer] });
  if (r.status !== 'verified') return r;
  const c = checkLegacyClaims(r.claims);
  return c.ok ? { status: 'verified', claims: c.value, audiences: r.audiences } : { status: 'invalid', message: c.message };
}
