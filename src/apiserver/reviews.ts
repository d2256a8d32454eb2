/**
 * Review kinds: objects that are never stored; a create is answered with the computed status.
 * authorization.k8s.io SubjectAccessReview, SelfSubjectAccessReview, LocalSubjectAccessReview,
 * SelfSubjectRulesReview; authentication.k8s.io TokenReview and SelfSubjectReview.
 */
import type { ServedResource } from './registry.ts';
import type { KubeObject, UserInfo } from '../api/types.ts';
import { badRequest, methodNotAllowed } from '../api/errors.ts';
import type { AuthorizationAttributes, Decision } from './authz/index.ts';
import type { NonResourceAttributes, ResourceAttributes } from '../api/index.ts';

export interface ReviewDeps {
  authorize(attrs: AuthorizationAttributes): Promise<Decision>;
  /** SelfSubjectRulesReview's status (the authorizers' rules for the user in the namespace). */
  rulesReview?: (user: UserInfo, namespace: string) => Record<string, unknown>;
  authenticateToken(token: string): Promise<UserInfo | null>;
  /** TokenReview with audiences (service account tokens); when absent, authenticateToken without them. */
  reviewToken?: (token: string, audiences: readonly string[]) => Promise<{ user?: UserInfo; audiences?: string[]; error?: string }>;
}

function attrsFrom(user: UserInfo, spec: { resourceAttributes?: ResourceAttributes; nonResourceAttributes?: NonResourceAttributes }): AuthorizationAttributes {
  const r = spec.resourceAttributes;
  if (r) {
    return {
      user,
      verb: r.verb ?? '',
      isResourceRequest: true,
      apiGroup: r.group ?? '',
      apiVersion: r.version ?? '',
      resource: r.resource ?? '',
      subresource: r.subresource ?? '',
      namespace: r.namespace ?? '',
      name: r.name ?? '',
      path: '',
    };
  }
  const n = spec.nonResourceAttributes ?? {};
  return { user, verb: n.verb ?? '', isResourceRequest: false, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '', path: n.path ?? '' };
}

async function accessStatus(deps: ReviewDeps, attrs: AuthorizationAttributes): Promise<Record<string, unknown>> {
  const d = await deps.authorize(attrs);
  const status: Record<string, unknown> = { allowed: d.decision === 'allow' };
  if (d.decision === 'deny' && d.reason) status['denied'] = false;
  if (d.reason) status['reason'] = d.reason;
  return status;
}

export async function reviewHandler(served: ServedResource, obj: KubeObject, user: UserInfo, namespace: string, deps: ReviewDeps): Promise<KubeObject> {
  const out: KubeObject = { ...obj, metadata: { ...obj.metadata } };
  delete out.metadata.uid;
  delete out.metadata.resourceVersion;
  out.metadata.creationTimestamp = null;
  const spec = (obj['spec'] ?? {}) as Record<string, unknown>;
  switch (`${served.def.group}/${served.def.kind}`) {
    case 'authorization.k8s.io/SelfSubjectAccessReview':
      out['status'] = await accessStatus(deps, attrsFrom(user, spec));
      return out;
    case 'authorization.k8s.io/SubjectAccessReview':
    case 'authorization.k8s.io/LocalSubjectAccessReview': {
      const subject: UserInfo = {
        username: String(spec['user'] ?? ''),
        uid: spec['uid'] as string | undefined,
        groups: (spec['groups'] as string[] | undefined) ?? [],
        extra: spec['extra'] as Record<string, string[]> | undefined,
      };
      const attrs = attrsFrom(subject, spec);
      if (served.def.kind === 'LocalSubjectAccessReview') attrs.namespace = namespace;
      out['status'] = await accessStatus(deps, attrs);
      return out;
    }
    case 'authorization.k8s.io/SelfSubjectRulesReview': {
      const ns = String(spec['namespace'] ?? '');
      if (!ns) throw badRequest('no namespace on request');
      if (deps.rulesReview) {
        out['status'] = deps.rulesReview(user, ns);
        return out;
      }
      const all = await deps.authorize({ user, verb: '*', isResourceRequest: true, apiGroup: '*', apiVersion: '*', resource: '*', subresource: '', namespace: ns, name: '', path: '' });
      out['status'] = all.decision === 'allow'
        ? { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false }
        : { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: 'rules are not known to this authorizer' };
      return out;
    }
    case 'authentication.k8s.io/SelfSubjectReview':
      out['status'] = { userInfo: userInfoJson(user) };
      return out;
    case 'authentication.k8s.io/TokenReview': {
      const token = String(spec['token'] ?? '');
      const audiences = (spec['audiences'] as string[] | undefined) ?? [];
      if (token && deps.reviewToken) {
        const r = await deps.reviewToken(token, audiences);
        if (r.user) {
          out['status'] = { authenticated: true, user: userInfoJson(r.user), audiences: r.audiences ?? audiences };
          return out;
        }
        if (r.error) {
          out['status'] = { user: {}, error: r.error };
          return out;
        }
      }
      const u = token ? await deps.authenticateToken(token).catch(() => null) : null;
      out['status'] = u ? { authenticated: true, user: userInfoJson(u), audiences: spec['audiences'] ?? [] } : { authenticated: false, user: {}, error: 'invalid bearer token' };
      return out;
    }
    default:
      throw methodNotAllowed('create', { group: served.def.group, resource: served.def.plural });
  }
}

function userInfoJson(u: UserInfo): Record<string, unknown> {
  const j: Record<string, unknown> = { username: u.username, groups: u.groups };
  if (u.uid) j['uid'] = u.uid;
  if (u.extra) j['extra'] = u.extra;
  return j;
}
