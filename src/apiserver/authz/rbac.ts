/**
 * The RBAC authorizer, as upstream's plugin/pkg/auth/authorizer/rbac (rbac.go) over the rule
 * resolver of pkg/registry/rbac/validation (rule.go):
 * - a request is allowed when one rule of a role bound to the user allows it: ClusterRoleBindings
 *   first, then the RoleBindings of the request's namespace (a RoleBinding may name a ClusterRole,
 *   whose rules then hold in that namespace only);
 * - rules match as upstream's RuleAllows: `*` for verbs, API groups, resources and URLs;
 *   a subresource by `resource/subresource`, or by a star resource with that `/subresource`;
 *   resourceNames empty = any name, else the request's name must be listed (so a list or create,
 *   which has no name, never matches a rule with names); non-resource URLs match exactly or by
 *   a trailing `*` prefix;
 * - it never denies: no match is "no opinion", its reason `RBAC: <errors>` when some binding of
 *   the user named a role that does not exist (upstream's aggregate of resolution errors), else '';
 * - the allowed reason names the binding, role and subject in upstream's words, quirks included
 *   (`RoleBinding "name/namespace"`, `ServiceAccount "name/namespace"`).
 *
 * `rulesFor` and `toRulesReviewStatus` answer SelfSubjectRulesReview as upstream's RBAC RulesFor
 * and selfsubjectrulesreview REST do. `createRbacSource` indexes the four kinds from the watch
 * caches and rebuilds an index only when that kind's list revision moved.
 */
import type { ClusterRole, ClusterRoleBinding, KubeObject, PolicyRule, Role, RoleBinding, RoleRef, Subject, SubjectRulesReviewStatus, UserInfo } from '../../api/index.ts';
import type { AuthorizationAttributes, Authorizer, Decision } from './index.ts';

export const rbacGroup = 'rbac.authorization.k8s.io';

/** Read access to the RBAC objects. Must be cheap: it is asked on every request. */
export interface RbacSource {
  getClusterRole(name: string): ClusterRole | undefined;
  getRole(namespace: string, name: string): Role | undefined;
  clusterRoleBindings(): readonly ClusterRoleBinding[];
  roleBindings(namespace: string): readonly RoleBinding[];
  /**
   * Optional: the ClusterRoleBindings that may apply to `user` (a subject names its user name,
   * one of its groups, or its service account), in list order: what the authorizer visits
   * instead of every binding. Its answer must contain every binding that applies.
   */
  clusterRoleBindingsFor?(user: UserInfo): readonly ClusterRoleBinding[];
  /**
   * Optional: a value that changes whenever any answer of this source may change (the four
   * lists' resource versions). With it the authorizer remembers its decisions until it moves.
   */
  version?(): string;
}

/** A watch cache's current list: `rv` changes whenever `objects` does. */
export type RbacList = () => { rv: number; objects: readonly KubeObject[] };

export interface RbacLists {
  clusterRoles: RbacList;
  roles: RbacList;
  clusterRoleBindings: RbacList;
  roleBindings: RbacList;
}

/** An index of one list, rebuilt only when the list's rv is not the one it was built from. */
function cachedIndex<T>(list: RbacList, build: (objects: readonly KubeObject[]) => T): () => T {
  let rv: number | undefined;
  let index: T | undefined;
  return () => {
    const cur = list();
    if (index === undefined || cur.rv !== rv) {
      index = build(cur.objects);
      rv = cur.rv;
    }
    return index;
  };
}

function byNamespace<T extends KubeObject>(objects: readonly KubeObject[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const o of objects) {
    const ns = o.metadata.namespace ?? '';
    let l = out.get(ns);
    if (!l) out.set(ns, (l = []));
    l.push(o as T);
  }
  return out;
}

/**
 * An RbacSource over the API server's watch caches. Each call reads the list's rv and rebuilds
 * that kind's index (by name, by namespace) only when it moved; objects are shared, not copied:
 * callers must not change them.
 */
export function createRbacSource(lists: RbacLists): RbacSource {
  const clusterRoles = cachedIndex(lists.clusterRoles, (objs) => new Map(objs.map((o) => [o.metadata.name ?? '', o as unknown as ClusterRole])));
  const roles = cachedIndex(lists.roles, (objs) => {
    const out = new Map<string, Map<string, Role>>();
    for (const [ns, l] of byNamespace(objs)) out.set(ns, new Map(l.map((o) => [o.metadata.name ?? '', o as unknown as Role])));
    return out;
  });
  const crbs = cachedIndex(lists.clusterRoleBindings, (objs) => objs as unknown as readonly ClusterRoleBinding[]);
  // Subject key (`User:<name>`, `Group:<name>`, `ServiceAccount:<ns>:<name>`) → positions in the list.
  const crbIndex = cachedIndex(lists.clusterRoleBindings, (objs) => {
    const out = new Map<string, number[]>();
    (objs as unknown as readonly ClusterRoleBinding[]).forEach((b, i) => {
      for (const sub of b.subjects ?? []) {
        const key = sub.kind === 'ServiceAccount' ? `ServiceAccount:${sub.namespace ?? ''}:${sub.name}` : `${sub.kind}:${sub.name}`;
        const list = out.get(key);
        if (!list) out.set(key, [i]);
        else if (list[list.length - 1] !== i) list.push(i);
      }
    });
    return out;
  });
  const rbs = cachedIndex(lists.roleBindings, (objs) => byNamespace(objs) as unknown as Map<string, RoleBinding[]>);
  return {
    version: () => `${lists.clusterRoles().rv}:${lists.roles().rv}:${lists.clusterRoleBindings().rv}:${lists.roleBindings().rv}`,
    getClusterRole: (name) => clusterRoles().get(name),
    getRole: (ns, name) => roles().get(ns)?.get(name),
    clusterRoleBindings: () => crbs(),
    roleBindings: (ns) => rbs().get(ns) ?? [],
    clusterRoleBindingsFor: (user) => {
      const all = crbs();
      const index = crbIndex();
      const keys = [`User:${user.username}`, ...user.groups.map((g) => `Group:${g}`)];
      const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user.username);
      if (sa) keys.push(`ServiceAccount:${sa[1]}:${sa[2]}`);
      const at = new Set<number>();
      for (const k of keys) for (const i of index.get(k) ?? []) at.add(i);
      return [...at].sort((a, b) => a - b).map((i) => all[i]!);
    },
  };
}

// ---- rule matching (upstream pkg/apis/rbac/v1 evaluation_helpers.go) ----

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  return (rule.verbs ?? []).some((v) => v === '*' || v === verb);
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === '*' || g === group);
}

/** `combined` is `resource` or `resource/subresource`. */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource && r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true;
  }
  return false;
}

export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name);
}

export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))) return true;
  }
  return false;
}

/** Upstream's RuleAllows. */
export function ruleAllows(attrs: AuthorizationAttributes, rule: PolicyRule): boolean {
  if (attrs.isResourceRequest) {
    const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    return verbMatches(rule, attrs.verb) && apiGroupMatches(rule, attrs.apiGroup) && resourceMatches(rule, combined, attrs.subresource) && resourceNameMatches(rule, attrs.name);
  }
  return verbMatches(rule, attrs.verb) && nonResourceURLMatches(rule, attrs.path);
}

// ---- subjects and role references (upstream pkg/registry/rbac/validation rule.go) ----

/** Whether a binding subject is the user; `namespace` is the binding's ('' for a ClusterRoleBinding). */
export function subjectMatches(user: UserInfo, s: Subject, namespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return user.username === s.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || namespace;
      return ns !== '' && user.username === `system:serviceaccount:${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

function appliesTo(user: UserInfo, subjects: readonly Subject[] | undefined, namespace: string): Subject | undefined {
  return subjects?.find((s) => subjectMatches(user, s, namespace));
}

/**
 * The result of resolving a roleRef: its rules, or why not. Who reports the failure words it:
 * the authorizer reads listers (`clusterrole.rbac.authorization.k8s.io "x" not found`), the
 * escalation checks read the registry (`clusterroles.rbac.authorization.k8s.io "x" not found`).
 */
export type RoleRefResult =
  | { ok: true; rules: readonly PolicyRule[] }
  | { ok: false; kind: string; name: string; unsupported: boolean };

/** Upstream's GetRoleReferenceRules: a Role is looked up in the binding's namespace. */
export function roleRefRules(src: RbacSource, ref: RoleRef, bindingNamespace: string): RoleRefResult {
  switch (ref.kind) {
    case 'Role': {
      const r = src.getRole(bindingNamespace, ref.name);
      return r ? { ok: true, rules: r.rules ?? [] } : { ok: false, kind: ref.kind, name: ref.name, unsupported: false };
    }
    case 'ClusterRole': {
      const r = src.getClusterRole(ref.name);
      return r ? { ok: true, rules: r.rules ?? [] } : { ok: false, kind: ref.kind, name: ref.name, unsupported: false };
    }
    default:
      return { ok: false, kind: ref.kind, name: ref.name, unsupported: true };
  }
}

export type ErrorWording = 'lister' | 'registry';

/** The message of a failed roleRef resolution, as the lister or the registry words it. */
export function roleRefError(r: Extract<RoleRefResult, { ok: false }>, wording: ErrorWording): string {
  if (r.unsupported) return `unsupported role reference kind: ${goQuote(r.kind)}`;
  const resource = r.kind === 'Role' ? 'role' : 'clusterrole';
  return `${wording === 'lister' ? resource : `${resource}s`}.${rbacGroup} ${goQuote(r.name)} not found`;
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} ${goQuote(`${s.name}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind} ${goQuote(s.name)}`;
}

/**
 * Visits each rule that applies to the user in the namespace ('' = cluster-wide rules only) and
 * each resolution error, in upstream's order: ClusterRoleBindings, then the namespace's
 * RoleBindings. `describe` names the binding that granted the rule (built only when called).
 * The visitor returns false to stop.
 */
export function visitRulesFor(
  src: RbacSource,
  user: UserInfo,
  namespace: string,
  visit: (rule: PolicyRule | undefined, describe: (() => string) | undefined, err: string | undefined) => boolean,
  wording: ErrorWording = 'lister',
): void {
  for (const b of src.clusterRoleBindingsFor?.(user) ?? src.clusterRoleBindings()) {
    const subject = appliesTo(user, b.subjects, '');
    if (!subject) continue;
    const res = roleRefRules(src, b.roleRef, '');
    if (!res.ok) {
      if (!visit(undefined, undefined, roleRefError(res, wording))) return;
      continue;
    }
    const describe = () => `ClusterRoleBinding ${goQuote(b.metadata.name ?? '')} of ${b.roleRef.kind} ${goQuote(b.roleRef.name)} to ${describeSubject(subject, '')}`;
    for (const rule of res.rules) if (!visit(rule, describe, undefined)) return;
  }
  if (!namespace) return;
  for (const b of src.roleBindings(namespace)) {
    const subject = appliesTo(user, b.subjects, namespace);
    if (!subject) continue;
    const res = roleRefRules(src, b.roleRef, namespace);
    if (!res.ok) {
      if (!visit(undefined, undefined, roleRefError(res, wording))) return;
      continue;
    }
    const bns = b.metadata.namespace ?? '';
    const describe = () => `RoleBinding ${goQuote(`${b.metadata.name ?? ''}/${bns}`)} of ${b.roleRef.kind} ${goQuote(b.roleRef.name)} to ${describeSubject(subject, bns)}`;
    for (const rule of res.rules) if (!visit(rule, describe, undefined)) return;
  }
}

export interface RulesForResult {
  rules: PolicyRule[];
  /** Always false for RBAC (every rule is known); kept for the union of resolvers. */
  incomplete: boolean;
  /** Resolution errors (roles that bindings of the user name but that do not exist). */
  errors: string[];
}

/** Every rule that applies to the user in the namespace, cluster-wide ones first; upstream's RulesFor. */
export function rulesFor(src: RbacSource, user: UserInfo, namespace: string, wording: ErrorWording = 'lister'): RulesForResult {
  const rules: PolicyRule[] = [];
  const errors: string[] = [];
  visitRulesFor(src, user, namespace, (rule, _d, err) => {
    if (rule) rules.push(rule);
    if (err) errors.push(err);
    return true;
  }, wording);
  return { rules, incomplete: false, errors };
}

/**
 * The message of upstream's utilerrors.NewAggregate over these messages: '' for none, the one
 * message, or `[a, b]` with repeated messages shown once.
 */
export function aggregateMessage(errors: readonly string[]): string {
  if (errors.length === 0) return '';
  if (errors.length === 1) return errors[0]!;
  const seen = [...new Set(errors)];
  return seen.length === 1 ? seen[0]! : `[${seen.join(', ')}]`;
}

/** An Authorizer that answers synchronously. */
export interface SyncAuthorizer extends Authorizer {
  authorize(attrs: AuthorizationAttributes): Decision;
}

/** Decisions remembered per RBAC state; cleared when full. */
const decisionMemoLimit = 4096;

/**
 * The RBAC authorizer: allow with upstream's reason, else no opinion (never deny). A decision
 * depends only on the user's name and groups, the request's attributes and the RBAC objects, so
 * when the source has a `version` the authorizer remembers decisions until that moves (a write
 * to any Role, ClusterRole or binding forgets them all).
 */
export function rbacAuthorizer(src: RbacSource): SyncAuthorizer {
  let memoVersion = '';
  const memo = new Map<string, Decision>();
  const decide = (attrs: AuthorizationAttributes): Decision => {
    let reason = '';
    const errors: string[] = [];
    visitRulesFor(src, attrs.user, attrs.namespace, (rule, describe, err) => {
      if (rule && describe && ruleAllows(attrs, rule)) {
        reason = `RBAC: allowed by ${describe()}`;
        return false;
      }
      if (err) errors.push(err);
      return true;
    });
    if (reason) return { decision: 'allow', reason };
    return { decision: 'noopinion', reason: errors.length ? `RBAC: ${aggregateMessage(errors)}` : '' };
  };
  return {
    name: 'RBAC',
    authorize(attrs): Decision {
      const version = src.version?.();
      if (version === undefined) return decide(attrs);
      if (version !== memoVersion || memo.size >= decisionMemoLimit) {
        memo.clear();
        memoVersion = version;
      }
      const u = attrs.user;
      const key = `${u.username}\0${u.groups.join('\x01')}\0${attrs.isResourceRequest ? `${attrs.verb}\0${attrs.namespace}\0${attrs.apiGroup}\0${attrs.resource}\0${attrs.subresource}\0${attrs.name}` : `${attrs.verb}\0${attrs.path}`}`;
      const hit = memo.get(key);
      if (hit) return { ...hit };
      const d = decide(attrs);
      memo.set(key, d);
      return { ...d };
    },
  };
}

/**
 * A SelfSubjectRulesReview's status from the rules found (upstream's RBAC RulesFor split into
 * resource rules (rules with resources) and non-resource rules (rules with URLs), then the REST
 * handler's conversion): fields in Go's order, empty lists left out of each rule, and
 * `evaluationError` only when resolution failed somewhere.
 */
export function toRulesReviewStatus(r: RulesForResult): SubjectRulesReviewStatus {
  const resourceRules: SubjectRulesReviewStatus['resourceRules'] = [];
  const nonResourceRules: SubjectRulesReviewStatus['nonResourceRules'] = [];
  for (const rule of r.rules) {
    if (rule.resources?.length) {
      const out: SubjectRulesReviewStatus['resourceRules'][number] = { verbs: rule.verbs };
      if (rule.apiGroups?.length) out.apiGroups = rule.apiGroups;
      out.resources = rule.resources;
      if (rule.resourceNames?.length) out.resourceNames = rule.resourceNames;
      resourceRules.push(out);
    }
    if (rule.nonResourceURLs?.length) nonResourceRules.push({ verbs: rule.verbs, nonResourceURLs: rule.nonResourceURLs });
  }
  const status: SubjectRulesReviewStatus = { resourceRules, nonResourceRules, incomplete: r.incomplete };
  const err = aggregateMessage(r.errors);
  if (err) status.evaluationError = err;
  return status;
}

/**
 * A string as Go's %q writes it (strconv.Quote): double quotes, backslash escapes for quotes,
 * backslashes and control characters, other printable characters as they are.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (escapes[ch]) out += escapes[ch];
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

const escapes: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

/** A list of strings as Go's %q writes a []string: `["a" "b"]`. */
export function goQuoteList(l: readonly string[]): string {
  return `[${l.map(goQuote).join(' ')}]`;
}
