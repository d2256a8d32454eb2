/**
 * Authorization stage: authorizers are asked in order; the first "allow" or "deny" decides,
 * "no opinion" passes on; if nobody allows, the request is forbidden.
 * Built in: members of system:masters may do anything (upstream's privileged group). RBAC
 * plugs in here with a later issue; until then `alwaysAllowAuthenticated` stands in.
 */
import type { UserInfo } from '../../api/types.ts';

export interface AuthorizationAttributes {
  user: UserInfo;
  verb: string;
  isResourceRequest: boolean;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

export type Decision = { decision: 'allow' | 'deny' | 'noopinion'; reason: string };

export interface Authorizer {
  readonly name: string;
  authorize(attrs: AuthorizationAttributes): Decision | Promise<Decision>;
}

export const privilegedGroup: Authorizer = {
  name: 'system:masters',
  authorize: (a) =>
    a.user.groups.includes('system:masters') ? { decision: 'allow', reason: '' } : { decision: 'noopinion', reason: '' },
};

/** Allows every authenticated user: the stand-in until RBAC arrives. */
export const alwaysAllowAuthenticated: Authorizer = {
  name: 'AlwaysAllowAuthenticated',
  authorize: (a) =>
    a.user.groups.includes('system:authenticated') ? { decision: 'allow', reason: '' } : { decision: 'noopinion', reason: '' },
};

export async function authorize(authorizers: readonly Authorizer[], attrs: AuthorizationAttributes): Promise<Decision> {
  const reasons: string[] = [];
  for (const a of authorizers) {
    const d = await a.authorize(attrs);
    if (d.decision !== 'noopinion') return d;
    if (d.reason) reasons.push(d.reason);
  }
  return { decision: 'deny', reason: reasons.join(', ') };
}
