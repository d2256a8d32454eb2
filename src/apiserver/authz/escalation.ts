/**
 * RBAC privilege-escalation prevention, as upstream's policybased storages of
 * pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}, escalation_check.go and
 * validation (ConfirmNoEscalation, CompactRules, component-helpers' Covers):
 * - a Role or ClusterRole may be created or updated by a member of system:masters, by a user
 *   allowed to `escalate` that resource (asked with the request's namespace, and its name on an
 *   update), or by a user who already holds every permission it grants (its namespace's rules for
 *   a Role, cluster-wide rules for a ClusterRole); an aggregationRule (set, or on an update also
 *   the old one's) needs `*` on everything besides;
 * - a RoleBinding or ClusterRoleBinding: system:masters, or `bind` on the referenced role (asked
 *   in the binding's namespace, cluster-wide for a ClusterRoleBinding, with resourceNames = the
 *   role's name), or the user holds every permission of the referenced role; a role that does not
 *   exist is then 404 NotFound as the registry words it;
 * - an update that only changes ownerReferences, finalizers (what the garbage collector writes)
 *   is never checked;
 * - refusal is 403 Forbidden: `<resource>.rbac.authorization.k8s.io "<name>" is forbidden: user
 *   "<name>" (groups=[...]) is attempting to grant RBAC permissions not currently held:` followed
 *   by the missing rules one a line, compacted and sorted as upstream, then `; resolution errors:
 *   [...]` when some of the user's own bindings name roles that do not exist.
 *
 * Departures: upstream checks inside the storage, before the object is validated; here it is a
 * validating admission plugin, so an invalid object is answered 422 before 403. The GC-only
 * comparison also ignores managedFields and resourceVersion (this server rewrites both before
 * admission).
 */
import type { ClusterRole, KubeObject, PolicyRule, RoleRef, UserInfo } from '../../api/index.ts';
import { forbidden, notFound, statusError } from '../../api/errors.ts';
import type { AdmissionAttributes, AdmissionPlugin } from '../admission/types.ts';
import type { AuthorizationAttributes, Decision } from './index.ts';
import { aggregateMessage, goQuote, goQuoteList, rbacGroup, roleRefError, roleRefRules, rulesFor } from './rbac.ts';
import type { RbacSource } from './rbac.ts';

/** Upstream's user.SystemPrivilegedGroup: its members skip every escalation check. */
export const systemPrivilegedGroup = 'system:masters';

// ---- Covers (component-helpers auth/rbac/validation policy_comparator.go) ----

/** A rule split into rules of one group, resource, verb and (when it has names) one name each; URLs by verb. */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  const names = rule.resourceNames ?? [];
  for (const group of rule.apiGroups ?? []) {
    for (const resource of rule.resources ?? []) {
      for (const verb of rule.verbs ?? []) {
        if (names.length) for (const n of names) out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [n] });
        else out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
      }
    }
  }
  for (const url of rule.nonResourceURLs ?? []) for (const verb of rule.verbs ?? []) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

const has = (set: readonly string[] | undefined, e: string) => (set ?? []).includes(e);
const hasAll = (set: readonly string[] | undefined, want: readonly string[] | undefined) => (want ?? []).every((e) => has(set, e));

function resourceCoversAll(owner: readonly string[] | undefined, want: readonly string[] | undefined): boolean {
  if (has(owner, '*') || hasAll(owner, want)) return true;
  for (const path of want ?? []) {
    if (has(owner, path)) continue;
    const slash = path.indexOf('/');
    if (slash < 0 || !has(owner, `*/${path.slice(slash + 1)}`)) return false;
  }
  return true;
}

function urlCovers(owner: string, path: string): boolean {
  return owner === path || (owner.endsWith('*') && path.startsWith(owner.replace(/\*+$/, '')));
}

/** Whether one owner rule covers a broken-down rule (upstream's ruleCovers). */
function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const verbs = has(owner.verbs, '*') || hasAll(owner.verbs, sub.verbs);
  const groups = has(owner.apiGroups, '*') || hasAll(owner.apiGroups, sub.apiGroups);
  const resources = resourceCoversAll(owner.resources, sub.resources);
  const urls = (sub.nonResourceURLs ?? []).every((p) => (owner.nonResourceURLs ?? []).some((o) => urlCovers(o, p)));
  const ownerNames = owner.resourceNames ?? [];
  const names = (sub.resourceNames ?? []).length === 0 ? ownerNames.length === 0 : ownerNames.length === 0 || hasAll(ownerNames, sub.resourceNames);
  return verbs && groups && resources && urls && names;
}

/**
 * Whether the owner's rules grant everything the servant's rules do; `missing` lists the
 * broken-down servant rules no owner rule covers, in order.
 */
export function covers(ownerRules: readonly PolicyRule[], servantRules: readonly PolicyRule[]): { covered: boolean; missing: PolicyRule[] } {
  const missing: PolicyRule[] = [];
  for (const sub of servantRules.flatMap(breakdownRule)) {
    if (!ownerRules.some((o) => ruleCovers(o, sub))) missing.push(sub);
  }
  return { covered: missing.length === 0, missing };
}

// ---- messages (upstream CompactRules, CompactString, ConfirmNoEscalation) ----

/**
 * Merges rules of one group, one resource and at most one name (nothing else) that differ only
 * by verb; other rules are kept as they are, before the merged ones.
 */
export function compactRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  const simple = new Map<string, PolicyRule>();
  for (const r of rules) {
    const key = simpleKey(r);
    if (key === undefined) {
      out.push(r);
      continue;
    }
    const cur = simple.get(key);
    if (cur) cur.verbs = [...cur.verbs, ...(r.verbs ?? [])];
    else simple.set(key, structuredClone(r));
  }
  return [...out, ...simple.values()];
}

function simpleKey(r: PolicyRule): string | undefined {
  const names = r.resourceNames ?? [];
  if (names.length > 1 || (r.nonResourceURLs ?? []).length > 0) return undefined;
  if (r.apiGroups?.length !== 1 || r.resources?.length !== 1) return undefined;
  const known = new Set(['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs']);
  if (Object.keys(r).some((k) => !known.has(k))) return undefined;
  return JSON.stringify([r.apiGroups[0], r.resources[0], names.length > 0, names[0] ?? '']);
}

/** A rule as upstream's CompactString: `{APIGroups:["" "apps"], Resources:["pods"], Verbs:["get"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  if (r.apiGroups?.length) parts.push(`APIGroups:${goQuoteList(r.apiGroups)}`);
  if (r.resources?.length) parts.push(`Resources:${goQuoteList(r.resources)}`);
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${goQuoteList(r.nonResourceURLs)}`);
  if (r.resourceNames?.length) parts.push(`ResourceNames:${goQuoteList(r.resourceNames)}`);
  if (r.verbs?.length) parts.push(`Verbs:${goQuoteList(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/**
 * Upstream's ConfirmNoEscalation: undefined when the user's own rules in the namespace ('' =
 * cluster-wide only) cover `rules`, else the refusal's message (without the resource prefix).
 */
export function confirmNoEscalation(src: RbacSource, user: UserInfo, namespace: string, rules: readonly PolicyRule[]): string | undefined {
  const own = rulesFor(src, user, namespace, 'registry');
  const { covered, missing } = covers(own.rules, rules);
  if (covered) return undefined;
  const lines = [...new Set(compactRules(missing).map(compactString))].sort();
  let msg = `user ${goQuote(user.username)} (groups=${goQuoteList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`;
  if (own.errors.length) msg += `; resolution errors: [${aggregateMessage(own.errors)}]`;
  return msg;
}

// ---- the admission plugin ----

const fullAuthority: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

function hasAggregationRule(o: KubeObject | undefined): boolean {
  return ((o as ClusterRole | undefined)?.aggregationRule?.clusterRoleSelectors?.length ?? 0) > 0;
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** Deep equality where a missing field, null, [] and {} are all the same (upstream's Semantic DeepEqual on nil vs empty). */
function semanticEqual(a: unknown, b: unknown): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) if (!semanticEqual(ao[k], bo[k])) return false;
  return true;
}

/** Upstream's IsOnlyMutatingGCFields: the update changes nothing but ownerReferences and finalizers. */
export function isOnlyMutatingGCFields(obj: KubeObject, old: KubeObject): boolean {
  const gcFields = ['ownerReferences', 'finalizers', 'selfLink', 'managedFields', 'resourceVersion'] as const;
  const meta: Record<string, unknown> = { ...obj.metadata };
  for (const f of gcFields) meta[f] = old.metadata[f];
  return semanticEqual({ ...obj, metadata: meta }, old);
}

function resourceAttrs(user: UserInfo, verb: string, resource: string, namespace: string, name: string): AuthorizationAttributes {
  return { user, verb, isResourceRequest: true, apiGroup: rbacGroup, apiVersion: '*', resource, subresource: '', namespace, name, path: '' };
}

/**
 * The admission plugin that refuses RBAC writes granting more than the writer holds (see the
 * file comment). `authorize` is the server's whole authorizer chain; `src` the RBAC objects.
 * Only CREATE and UPDATE of the four rbac.authorization.k8s.io kinds are looked at.
 */
export function rbacEscalationPlugin(src: RbacSource, authorize: (attrs: AuthorizationAttributes) => Promise<Decision>): AdmissionPlugin {
  const allowed = async (attrs: AuthorizationAttributes) => (await authorize(attrs)).decision === 'allow';

  /** Upstream's BindingAuthorized: `bind` on the referenced role, asked in the binding's namespace. */
  const bindingAuthorized = (user: UserInfo, ref: RoleRef, namespace: string) => {
    if (ref.kind !== 'Role' && ref.kind !== 'ClusterRole') return Promise.resolve(false);
    const attrs = resourceAttrs(user, 'bind', ref.kind === 'Role' ? 'roles' : 'clusterroles', namespace, ref.name);
    attrs.apiGroup = ref.apiGroup;
    return allowed(attrs);
  };

  const refuse = (a: AdmissionAttributes, name: string, msg: string) => forbidden({ group: rbacGroup, resource: a.def.plural }, name, msg);

  return {
    name: 'RBACEscalation',
    async validate(a) {
      if (a.def.group !== rbacGroup || a.subresource || !a.object) return;
      if (a.operation !== 'CREATE' && a.operation !== 'UPDATE') return;
      if (a.user.groups.includes(systemPrivilegedGroup)) return;
      const obj = a.object;
      const old = a.operation === 'UPDATE' ? a.oldObject : undefined;
      const name = obj.metadata.name ?? a.name;
      switch (a.def.kind) {
        case 'Role':
        case 'ClusterRole': {
          // The request's own name: none for a create (a POST to the collection).
          if (await allowed(resourceAttrs(a.user, 'escalate', a.def.plural, a.namespace, a.operation === 'CREATE' ? '' : a.name))) return;
          if (old && isOnlyMutatingGCFields(obj, old)) return;
          const msg = confirmNoEscalation(src, a.user, a.namespace, (obj['rules'] as PolicyRule[] | undefined) ?? []);
          if (msg) throw refuse(a, name, msg);
          if (a.def.kind === 'ClusterRole' && (hasAggregationRule(obj) || hasAggregationRule(old))) {
            if (confirmNoEscalation(src, a.user, a.namespace, fullAuthority)) {
              throw refuse(a, name, 'must have cluster-admin privileges to use the aggregationRule');
            }
          }
          return;
        }
        case 'RoleBinding':
        case 'ClusterRoleBinding': {
          if (old && isOnlyMutatingGCFields(obj, old)) return;
          const ref = obj['roleRef'] as RoleRef;
          const ns = a.def.kind === 'RoleBinding' ? a.namespace : '';
          if (await bindingAuthorized(a.user, ref, ns)) return;
          const res = roleRefRules(src, ref, ns);
          if (!res.ok) {
            if (res.unsupported) throw statusError('InternalError', roleRefError(res, 'registry'));
            throw notFound({ group: rbacGroup, resource: ref.kind === 'Role' ? 'roles' : 'clusterroles' }, ref.name);
          }
          const msg = confirmNoEscalation(src, a.user, a.namespace, res.rules);
          if (msg) throw refuse(a, name, msg);
          return;
        }
      }
    },
  };
}
