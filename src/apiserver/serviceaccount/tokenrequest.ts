/**
 * The `serviceaccounts/token` subresource (create a TokenRequest), as upstream's TokenREST.Create
 * (pkg/registry/core/serviceaccount/storage/token.go) with v1 defaulting and
 * ValidateTokenRequest (pkg/apis/authentication):
 *
 * 1. metadata.name / metadata.namespace, when given, must be the URL's (Invalid, upstream's
 *    messages); the ServiceAccount must exist (NotFound); a metadata.uid that is not the
 *    ServiceAccount's is a Conflict (TokenRequestServiceAccountUIDValidation, on since 1.34).
 * 2. Defaults: audiences ← the API audiences, expirationSeconds ← 3600, name/namespace/uid ←
 *    the ServiceAccount's, creationTimestamp ← now, status cleared.
 * 3. Validation: expirationSeconds at least 600 and at most 2^32 (Invalid, name "").
 * 4. boundObjectRef: a core Pod (must run as this ServiceAccount; its node, when the pod is
 *    scheduled, goes into the claims too, by name only when the Node is gone), Secret or Node;
 *    any other kind is BadRequest; a given uid that is not the object's is a Conflict on
 *    `<Kind> "<name>"`. Missing objects are NotFound.
 * 5. --service-account-max-token-expiration shortens longer requests, with upstream's warning.
 * 6. The token is signed with the first issuer; status = {token, expirationTimestamp = now +
 *    expirationSeconds}; the audit annotation authentication.kubernetes.io/issued-credential-id
 *    is `JTI=<jti>`.
 *
 * Not covered: the extended expiration of kubelet-projected tokens (--service-account-extend-
 * token-expiration; tokens live exactly as long as asked), webhook-bound tokens and
 * attestations (alpha), and the validating-admission call between steps 3 and 4 (the handler's).
 */
import { randomUUID } from 'node:crypto';
import type { Node, Pod, Secret, TokenRequest } from '../../api/index.ts';
import type { ObjectMeta } from '../../api/generated/types.ts';
import { badRequest, conflict, internalError, invalid, isNotFound, notFound } from '../../api/errors.ts';
import type { StatusCause } from '../../api/types.ts';
import { invalidValue } from '../../api/validation.ts';
import type { SigningKey } from './keys.ts';
import type { ServiceAccountLookups } from './authenticator.ts';
import { boundClaims, issueToken, type ObjectIdentity } from './tokens.ts';

/** v1 default for spec.expirationSeconds. */
export const defaultExpirationSeconds = 3600;
/** ValidateTokenRequest's bounds. */
export const minExpirationSeconds = 600;
export const maxExpirationSecondsLimit = 2 ** 32;
export const issuedCredentialIdAnnotation = 'authentication.kubernetes.io/issued-credential-id';

const tokenRequestGK = { group: 'authentication.k8s.io', kind: 'TokenRequest' };

export interface TokenRequestInput {
  /** The URL's namespace and ServiceAccount name. */
  namespace: string;
  serviceAccountName: string;
  /** The decoded body (not changed: the answer is a copy). */
  tokenRequest: TokenRequest;
  lookups: ServiceAccountLookups;
  signingKey: SigningKey;
  /** The first --service-account-issuer: the `iss` of issued tokens. */
  issuer: string;
  /** --api-audiences: the default audiences. */
  apiAudiences: readonly string[];
  /** --service-account-max-token-expiration in seconds; 0 or absent: no limit. */
  maxExpirationSeconds?: number;
  now?: Date;
  newJti?: () => string;
  /** Warnings for the client are appended here. */
  warnings?: string[];
  /** Audit annotations are set here. */
  auditAnnotations?: Record<string, string>;
}

/** ValidateTokenRequest: field errors of spec.expirationSeconds (empty = valid). */
export function validateTokenRequest(tr: TokenRequest): StatusCause[] {
  const exp = tr.spec?.expirationSeconds ?? 0;
  const errs: StatusCause[] = [];
  if (exp < minExpirationSeconds) errs.push(invalidValue('spec.expirationSeconds', exp, 'may not specify a duration less than 10 minutes'));
  if (exp > maxExpirationSecondsLimit) errs.push(invalidValue('spec.expirationSeconds', exp, 'may not specify a duration larger than 2^32 seconds'));
  return errs;
}

/** Go's schema.FromAPIVersionAndKind: the group and version of an apiVersion ('' when unparsable). */
function groupVersion(apiVersion: string): { group: string; version: string; ok: boolean } {
  if (apiVersion === '') return { group: '', version: '', ok: true };
  const parts = apiVersion.split('/');
  if (parts.length === 1) return { group: '', version: apiVersion, ok: true };
  if (parts.length === 2) return { group: parts[0]!, version: parts[1]!, ok: true };
  return { group: '', version: '', ok: false };
}

async function getOrNotFound<T>(get: () => T | undefined | Promise<T | undefined>, resource: string, name: string): Promise<T> {
  const obj = await get();
  if (!obj) throw notFound({ group: '', resource }, name);
  return obj;
}

function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/**
 * Creates a token for the ServiceAccount (see the file comment for the rules and errors, all
 * StatusErrors as upstream's). Returns the TokenRequest answered to the client.
 */
export async function createTokenRequest(input: TokenRequestInput): Promise<TokenRequest> {
  const { namespace, serviceAccountName: name, lookups } = input;
  const req = input.tokenRequest;
  const meta: ObjectMeta = { ...(req.metadata ?? {}) };
  if (meta.name && meta.name !== name) {
    throw invalid(tokenRequestGK, name, [invalidValue('metadata.name', meta.name, 'must match the service account name if specified')]);
  }
  if (meta.namespace && meta.namespace !== namespace) {
    throw invalid(tokenRequestGK, name, [invalidValue('metadata.namespace', meta.namespace, 'must match the service account namespace if specified')]);
  }
  const sa = await getOrNotFound(() => lookups.getServiceAccount(namespace, name), 'serviceaccounts', name);
  const saUid = sa.metadata.uid ?? '';
  if (meta.uid && meta.uid !== saUid) {
    throw conflict({ group: tokenRequestGK.group, resource: tokenRequestGK.kind }, name, `the UID in the token request (${meta.uid}) does not match the UID of the service account (${saUid})`);
  }
  const spec = req.spec ?? { audiences: [] };
  const audiences = spec.audiences?.length ? [...spec.audiences] : [...input.apiAudiences];
  let expirationSeconds = spec.expirationSeconds ?? defaultExpirationSeconds;
  const boundObjectRef = spec.boundObjectRef ?? null;
  const now = input.now ?? new Date();
  const outMeta: ObjectMeta = { ...meta, name: meta.name || sa.metadata.name || name, namespace: meta.namespace || sa.metadata.namespace || namespace };
  if (!outMeta.uid) outMeta.uid = saUid;
  outMeta.creationTimestamp = rfc3339(now);
  const out: TokenRequest = {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: orderedMeta(outMeta),
    spec: { audiences, expirationSeconds, boundObjectRef: boundObjectRef ? { ...boundObjectRef } : null },
  };
  const errs = validateTokenRequest(out);
  if (errs.length) throw invalid(tokenRequestGK, '', errs);

  let pod: ObjectIdentity | undefined;
  let secret: ObjectIdentity | undefined;
  let node: ObjectIdentity | undefined;
  if (boundObjectRef) {
    const refName = boundObjectRef.name ?? '';
    const kind = boundObjectRef.kind ?? '';
    const gv = groupVersion(boundObjectRef.apiVersion ?? '');
    let uid = '';
    if (gv.ok && gv.group === '' && kind === 'Pod') {
      const p = await getOrNotFound<Pod>(() => lookups.getPod(namespace, refName), 'pods', refName);
      if (name !== (p.spec?.serviceAccountName ?? '')) {
        throw badRequest(`cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`);
      }
      uid = p.metadata.uid ?? '';
      pod = { name: p.metadata.name ?? refName, uid };
      const nodeName = p.spec?.nodeName;
      if (nodeName) node = await podNode(lookups, nodeName);
    } else if (gv.ok && gv.group === '' && kind === 'Node') {
      const n = await getOrNotFound<Node>(() => lookups.getNode(refName), 'nodes', refName);
      uid = n.metadata.uid ?? '';
      node = { name: n.metadata.name ?? refName, uid };
    } else if (gv.ok && gv.group === '' && kind === 'Secret') {
      const s = await getOrNotFound<Secret>(() => lookups.getSecret(namespace, refName), 'secrets', refName);
      uid = s.metadata.uid ?? '';
      secret = { name: s.metadata.name ?? refName, uid };
    } else {
      throw badRequest(`cannot bind token to object of type ${gv.group}/${gv.version}, Kind=${kind}`);
    }
    if (boundObjectRef.uid && boundObjectRef.uid !== uid) {
      throw conflict(
        { group: gv.group, resource: kind },
        refName,
        `the UID in the bound object reference (${boundObjectRef.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
  }

  const max = input.maxExpirationSeconds ?? 0;
  if (max > 0 && expirationSeconds > max) {
    input.warnings?.push(`requested expiration of ${expirationSeconds} seconds shortened to ${max} seconds`);
    expirationSeconds = max;
    out.spec.expirationSeconds = max;
  }
  const jti = (input.newJti ?? randomUUID)();
  const claims = boundClaims({
    issuer: input.issuer,
    serviceAccount: { namespace: sa.metadata.namespace ?? namespace, name: sa.metadata.name ?? name, uid: saUid },
    pod,
    secret,
    node,
    audiences,
    expirationSeconds,
    now,
    jti,
  });
  let token: string;
  try {
    token = issueToken(input.signingKey, claims);
  } catch (err) {
    throw internalError(new Error(`failed to generate token: ${(err as Error).message}`));
  }
  out.status = { token, expirationTimestamp: rfc3339(new Date(now.getTime() + expirationSeconds * 1000)) };
  if (input.auditAnnotations && jti) input.auditAnnotations[issuedCredentialIdAnnotation] = `JTI=${jti}`;
  return out;
}

/** The node of a scheduled pod for its claims: the Node, or its name alone when it is gone. */
async function podNode(lookups: ServiceAccountLookups, nodeName: string): Promise<ObjectIdentity> {
  try {
    const n = await lookups.getNode(nodeName);
    return n ? { name: n.metadata.name ?? nodeName, uid: n.metadata.uid ?? '' } : { name: nodeName };
  } catch (err) {
    if (isNotFound(err)) return { name: nodeName };
    throw internalError(err);
  }
}

const metaOrder: (keyof ObjectMeta)[] = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
];

/** ObjectMeta with its fields in Go's declaration order (unknown ones after). */
function orderedMeta(m: ObjectMeta): ObjectMeta {
  const out: Record<string, unknown> = {};
  for (const k of metaOrder) if (m[k] !== undefined && m[k] !== '') out[k] = m[k];
  for (const [k, v] of Object.entries(m)) if (!metaOrder.includes(k as keyof ObjectMeta) && v !== undefined) out[k] = v;
  return out as ObjectMeta;
}
