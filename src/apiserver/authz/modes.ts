/**
 * `--authorization-mode`: the authorizers a request is asked, in order (upstream's
 * pkg/kubeapiserver/authorizer/modes). Bosun serves Node, RBAC, AlwaysAllow and AlwaysDeny;
 * ABAC and Webhook are refused with a clear error rather than ignored.
 */
import type { UserInfo } from '../../api/types.ts';
import { privilegedGroup, type Authorizer } from './index.ts';
import { rbacAuthorizer, rulesFor, toRulesReviewStatus, type RbacSource } from './rbac.ts';
export type AuthorizationMode = 'AlwaysAllow' | 'AlwaysDeny' | 'Node' | 'RBAC';
export const authorizationModes: readonly AuthorizationMode[] = ['AlwaysAllow', 'AlwaysDeny', 'Node', 'RBAC'];
/** Upstream's recommended (kubeadm's, k3s's) modes. */
export const defaultAuthorizationModes: readonly AuthorizationMode[] = ['Node', 'RBAC'];
const upstreamOnly = ['ABAC', 'Webhook'];

/** Parses the flag's value (comma-separated, no repeats), as upstream's validation does. */
export function parseAuthorizationModes(text: string): AuthorizationMode[] {
  const modes = text.split(',').map((m) => m.trim()).filter(Boolean);
  if (modes.length === 0) throw new Error('at least one authorization-mode must be passed');
  const seen = new Set<string>();
  for (const m of modes) {
    if (upstreamOnly.includes(m)) throw new Error(`authorization-mode ${m} is not supported by Bosun (supported: ${authorizationModes.join(', ')})`);
    if (!(authorizationModes as readonly string[]).includes(m)) throw new Error(`authorization-mode "${m}" is not a valid mode (supported: ${authorizationModes.join(', ')})`);
    if (seen.has(m)) throw new Error(`authorization-mode "${m}" has mode specified more than once`);
    seen.add(m);
  }
  return modes as AuthorizationMode[];
}

/** Upstream's AlwaysAllow and AlwaysDeny authorizers. */
export const alwaysAllow: Authorizer = { name: 'AlwaysAllow', authorize: () => ({ decision: 'allow', reason: '' }) };
export const alwaysDeny: Authorizer = { name: 'AlwaysDeny', authorize: () => ({ decision: 'noopinion', reason: 'Everything is forbidden.' }) };

export interface AuthorizerDeps {
  rbac: RbacSource;
  /** The Node authorizer (needed when the modes name Node). */
  node?: Authorizer;
}

/**
 * The authorizer chain for the modes: members of system:masters first (upstream's privileged
 * group authorizer, always on), then each mode in order.
 */
export function buildAuthorizers(modes: readonly AuthorizationMode[], deps: AuthorizerDeps): Authorizer[] {
  const out: Authorizer[] = [privilegedGroup];
  for (const m of modes) {
    if (m === 'AlwaysAllow') out.push(alwaysAllow);
    else if (m === 'AlwaysDeny') out.push(alwaysDeny);
    else if (m === 'RBAC') out.push(rbacAuthorizer(deps.rbac));
    else if (m === 'Node') {
      if (!deps.node) throw new Error('authorization-mode Node needs the node authorizer');
      out.push(deps.node);
    }
  }
  return out;
}

const everything = { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }], incomplete: false };

/**
 * SelfSubjectRulesReview's status under the modes (upstream's union rule resolver): everything
 * for system:masters or with AlwaysAllow; else RBAC's rules (Node adds no rules it can list, as
 * upstream's node authorizer, which reports its rules as incomplete).
 */
export function rulesReview(modes: readonly AuthorizationMode[], rbac: RbacSource) {
  return (user: UserInfo, namespace: string): Record<string, unknown> => {
    if (user.groups.includes('system:masters') || modes.includes('AlwaysAllow')) return structuredClone(everything);
    if (!modes.includes('RBAC')) return { resourceRules: [], nonResourceRules: [], incomplete: true };
    return toRulesReviewStatus(rulesFor(rbac, user, namespace)) as unknown as Record<string, unknown>;
  };
}
