/**
 * Reconciling the bootstrap RBAC policy at start, as upstream's RBAC PostStartHook
 * (pkg/registry/rbac/rest/storage_rbac.go, ensureRBACPolicy) with its reconcilers
 * (pkg/registry/rbac/reconciliation: reconcile_role.go, reconcile_rolebindings.go) in their
 * "union" mode (what the API server uses; `kubectl auth reconcile --remove-extra-*` is not this):
 *  - a missing object is created;
 *  - an existing one whose annotation `rbac.authorization.kubernetes.io/autoupdate` is "false"
 *    is left alone (reported as protected when it lacks something);
 *  - otherwise missing labels and annotations are added (values already set are kept), rules the
 *    existing ones do not cover are appended (upstream's Covers, from escalation.ts: the wanted
 *    rules broken down to one verb, group, resource and name each; each piece not covered is
 *    appended as such a piece, as upstream does), missing aggregation selectors are added, and
 *    missing subjects are appended. Nothing a user added is removed, with upstream's one
 *    exception: an aggregationRule on a role the policy does not aggregate is dropped (the
 *    aggregation controller would otherwise overwrite the role's rules);
 *  - a binding whose roleRef differs (roleRef is immutable) is deleted and created again.
 * Every object is tried on its own (up to `maxReconcileAttempts` times when a write loses a race:
 * conflict, already exists, not found); one that still fails is logged and the rest go on, as
 * upstream does ("try to create as many as you can"). Idempotent: a second run changes nothing.
 *
 * Then, Bosun's own migration (not upstream's): what older Bosun versions created and this one
 * no longer wants (bootstrappolicy.ts `retiredBosunPolicy`) is removed, a whole binding or some
 * of its subjects, but only from objects that carry upstream's bootstrapping label (made by the
 * bootstrap policy, not by a user) and whose autoupdate annotation is not "false" (such a
 * protected object is reported and left). After the wanted policy, so that a running controller
 * manager gains its new permissions before losing the old ones.
 *
 * Not done: upstream's one-time migrations of clusters older than v1.9/v1.14 (copying custom
 * rules of admin/edit/view to `system:aggregate-to-*`, splitting the system:discovery binding).
 */
import type { AggregationRule, ClusterRole, ClusterRoleBinding, LabelSelector, ObjectMeta, PolicyRule, Role, RoleBinding, RoleRef, Subject } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../../api/errors.ts';
import { autoUpdateAnnotation, bootstrappingLabel, bootstrapPolicy, bosunPolicy, retiredBosunPolicy, type Policy, type RetiredPolicyObject } from './bootstrappolicy.ts';
import { covers } from './escalation.ts';

export type PolicyKind = 'ClusterRole' | 'ClusterRoleBinding' | 'Role' | 'RoleBinding';

/** How the reconciler reads and writes; errors are the API's StatusErrors. */
export interface ReconcileIO {
  /** The object, or undefined when it does not exist (namespace '' for cluster-scoped kinds). */
  get(kind: PolicyKind, namespace: string, name: string): Promise<KubeObject | undefined>;
  create(kind: PolicyKind, obj: KubeObject): Promise<void>;
  /** Writes `obj`, which carries the resourceVersion it was read at (a conflict is retried). */
  update(kind: PolicyKind, obj: KubeObject): Promise<void>;
  /** Needed only to replace a binding whose roleRef differs; without it such a binding is reported and left. */
  delete?(kind: PolicyKind, namespace: string, name: string): Promise<void>;
}

/** Upstream's ReconcileRoleOptions.run retries a lost race this many times in all. */
export const maxReconcileAttempts = 4;

const rbacGroup = 'rbac.authorization.k8s.io';

// ---- decisions ---------------------------------------------------------------------------------

export interface RoleDecision<T> {
  /** What to do; 'none' for a protected object even when it lacks something. */
  action: 'none' | 'create' | 'update';
  /** The object to write (for 'none', the existing one). */
  object: T;
  /** The existing object's autoupdate annotation is "false" and it would have been changed. */
  protected: boolean;
  /** The wanted rules (as broken-down pieces when the object exists) it lacked. */
  missingRules: PolicyRule[];
}

export interface BindingDecision<T> {
  /** 'recreate': delete the existing binding and create `object` (the roleRef differs). */
  action: 'none' | 'create' | 'update' | 'recreate';
  object: T;
  protected: boolean;
  missingSubjects: Subject[];
}

type RuleOwner = (ClusterRole | Role) & { aggregationRule?: AggregationRule };
type Binding = ClusterRoleBinding | RoleBinding;

const isProtected = (m: ObjectMeta) => m.annotations?.[autoUpdateAnnotation] === 'false';

/** Keys of `wanted` missing from `have` added (values already in `have` win); whether anything was added. */
function mergeMap(wanted: Record<string, string> | undefined, have: Record<string, string> | undefined): { merged: Record<string, string> | undefined; changed: boolean } {
  const add = Object.entries(wanted ?? {}).filter(([k]) => !(have && k in have));
  if (!add.length) return { merged: have, changed: false };
  return { merged: { ...Object.fromEntries(add), ...have }, changed: true };
}

/** Merges labels and annotations into `obj`'s metadata; true when something was added. */
function mergeMeta(obj: { metadata: ObjectMeta }, wanted: ObjectMeta): boolean {
  const labels = mergeMap(wanted.labels, obj.metadata.labels);
  const annotations = mergeMap(wanted.annotations, obj.metadata.annotations);
  if (labels.changed) obj.metadata.labels = labels.merged;
  if (annotations.changed) obj.metadata.annotations = annotations.merged;
  return labels.changed || annotations.changed;
}

/** Semantic equality of two label selectors (key order and nil-vs-empty do not matter). */
function selectorEqual(a: LabelSelector, b: LabelSelector): boolean {
  const norm = (s: LabelSelector) => JSON.stringify({
    l: Object.entries(s.matchLabels ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
    e: (s.matchExpressions ?? []).map((e) => [e.key, e.operator, e.values ?? []]),
  });
  return norm(a) === norm(b);
}

/**
 * What to do to make `existing` grant at least what `wanted` grants (upstream's
 * computeReconciledRole in union mode). Pure: `existing` and `wanted` are not modified.
 */
export function reconcileRole<T extends RuleOwner>(existing: T | undefined, wanted: T): RoleDecision<T> {
  if (!existing) return { action: 'create', object: structuredClone(wanted), protected: false, missingRules: structuredClone(wanted.rules ?? []) };
  const out = structuredClone(existing);
  let changed = mergeMeta(out, wanted.metadata);
  // Union mode: extra rules (upstream also computes them, for --remove-extra-permissions) stay.
  const missingRules = covers(existing.rules ?? [], wanted.rules ?? []).missing;
  if (missingRules.length) {
    out.rules = [...(out.rules ?? []), ...missingRules];
    changed = true;
  }
  const wantedSelectors = wanted.aggregationRule?.clusterRoleSelectors;
  if (!wanted.aggregationRule && existing.aggregationRule) {
    delete out.aggregationRule;
    changed = true;
  } else if (wanted.aggregationRule) {
    const have = existing.aggregationRule?.clusterRoleSelectors ?? [];
    const missing = (wantedSelectors ?? []).filter((w) => !have.some((h) => selectorEqual(h, w)));
    if (missing.length) {
      out.aggregationRule = { ...out.aggregationRule, clusterRoleSelectors: [...have.map((s) => structuredClone(s)), ...structuredClone(missing)] };
      changed = true;
    }
  }
  if (changed && isProtected(existing.metadata)) return { action: 'none', object: existing, protected: true, missingRules };
  return { action: changed ? 'update' : 'none', object: changed ? out : existing, protected: false, missingRules };
}

/** A subject as the API stores it (apiGroup defaulted by kind, namespace '' when absent), for comparison. */
function subjectKey(s: Subject): string {
  const apiGroup = s.apiGroup ?? (s.kind === 'User' || s.kind === 'Group' ? rbacGroup : '');
  return JSON.stringify([s.kind, apiGroup, s.name, s.namespace ?? '']);
}

const roleRefEqual = (a: RoleRef, b: RoleRef) => a.apiGroup === b.apiGroup && a.kind === b.kind && a.name === b.name;

/**
 * What to do to make `existing` bind at least the subjects of `wanted` to its role (upstream's
 * computeReconciledRoleBinding in union mode). Pure.
 */
export function reconcileBinding<T extends Binding>(existing: T | undefined, wanted: T): BindingDecision<T> {
  if (!existing) return { action: 'create', object: structuredClone(wanted), protected: false, missingSubjects: structuredClone(wanted.subjects ?? []) };
  const prot = isProtected(existing.metadata);
  if (!roleRefEqual(existing.roleRef, wanted.roleRef)) {
    if (prot) return { action: 'none', object: existing, protected: true, missingSubjects: [] };
    return { action: 'recreate', object: structuredClone(wanted), protected: false, missingSubjects: structuredClone(wanted.subjects ?? []) };
  }
  const out = structuredClone(existing);
  let changed = mergeMeta(out, wanted.metadata);
  const have = new Set((existing.subjects ?? []).map(subjectKey));
  const missingSubjects = structuredClone((wanted.subjects ?? []).filter((s) => !have.has(subjectKey(s))));
  if (missingSubjects.length) {
    out.subjects = [...(out.subjects ?? []), ...missingSubjects];
    changed = true;
  }
  if (changed && prot) return { action: 'none', object: existing, protected: true, missingSubjects };
  return { action: changed ? 'update' : 'none', object: changed ? out : existing, protected: false, missingSubjects };
}

// ---- the start-up pass -------------------------------------------------------------------------

export interface ReconcileSummary {
  created: number;
  updated: number;
  recreated: number;
  /** Retired objects deleted, or bindings that lost retired subjects. */
  retired: number;
  /** Protected objects that lacked something (left as they are). */
  protected: number;
  unchanged: number;
  /** `kind/namespace/name` of objects that could not be reconciled. */
  failed: string[];
}

export interface ReconcileOptions {
  /** What to reconcile; default upstream's bootstrap policy followed by Bosun's additions. */
  policy?: Policy;
  /** What to remove afterwards; default `retiredBosunPolicy()`. */
  retired?: RetiredPolicyObject[];
}

/** One policy of `a` then `b`, list by list. */
export function concatPolicies(a: Policy, b: Policy): Policy {
  return {
    clusterRoles: [...a.clusterRoles, ...b.clusterRoles],
    clusterRoleBindings: [...a.clusterRoleBindings, ...b.clusterRoleBindings],
    roles: [...a.roles, ...b.roles],
    roleBindings: [...a.roleBindings, ...b.roleBindings],
  };
}

/** `clusterrole.rbac.authorization.k8s.io/NAME` or `role.rbac.authorization.k8s.io/NAME in NS`, as upstream logs them. */
function describe(kind: PolicyKind, meta: { name?: string; namespace?: string }): string {
  const ref = `${kind.toLowerCase()}.${rbacGroup}/${meta.name}`;
  return meta.namespace ? `${ref} in ${meta.namespace}` : ref;
}

const retriable = (err: unknown) => isConflict(err) || isAlreadyExists(err) || isNotFound(err);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Creates or reconciles every object of the policy: cluster roles, cluster role bindings, then
 * the namespaced roles and role bindings (their namespaces, kube-system and kube-public, must
 * exist). Never throws for one object's failure: it is logged and counted in `failed`.
 */
export async function reconcileBootstrapPolicy(io: ReconcileIO, log: (msg: string) => void, opts: ReconcileOptions = {}): Promise<ReconcileSummary> {
  const policy = opts.policy ?? concatPolicies(bootstrapPolicy(), bosunPolicy());
  const sum: ReconcileSummary = { created: 0, updated: 0, recreated: 0, retired: 0, protected: 0, unchanged: 0, failed: [] };

  async function one(kind: PolicyKind, wanted: KubeObject): Promise<void> {
    const ns = wanted.metadata.namespace ?? '';
    const name = wanted.metadata.name ?? '';
    const what = describe(kind, wanted.metadata);
    const isRole = kind === 'ClusterRole' || kind === 'Role';
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = await io.get(kind, ns, name);
        if (isRole) {
          const d = reconcileRole(existing as RuleOwner | undefined, wanted as RuleOwner);
          if (d.protected) {
            log(`skipped reconcile-protected ${what} with missing permissions: ${JSON.stringify(d.missingRules)}`);
            sum.protected++;
          } else if (d.action === 'create') {
            await io.create(kind, d.object as KubeObject);
            log(`created ${what}`);
            sum.created++;
          } else if (d.action === 'update') {
            await io.update(kind, d.object as KubeObject);
            log(`updated ${what} with additional permissions: ${JSON.stringify(d.missingRules)}`);
            sum.updated++;
          } else sum.unchanged++;
          return;
        }
        const d = reconcileBinding(existing as Binding | undefined, wanted as unknown as Binding);
        if (d.protected) {
          log(`skipped reconcile-protected ${what} with missing subjects: ${JSON.stringify(d.missingSubjects)}`);
          sum.protected++;
        } else if (d.action === 'create') {
          await io.create(kind, d.object as KubeObject);
          log(`created ${what}`);
          sum.created++;
        } else if (d.action === 'update') {
          await io.update(kind, d.object as KubeObject);
          log(`updated ${what} with additional subjects: ${JSON.stringify(d.missingSubjects)}`);
          sum.updated++;
        } else if (d.action === 'recreate') {
          if (!io.delete) throw new Error(`its roleRef differs from ${JSON.stringify(d.object.roleRef)} and cannot be replaced here`);
          await io.delete(kind, ns, name);
          await io.create(kind, d.object as KubeObject);
          log(`recreated ${what}`);
          sum.recreated++;
        } else sum.unchanged++;
        return;
      } catch (err) {
        if (retriable(err) && attempt < maxReconcileAttempts) continue;
        log(`unable to reconcile ${what}: ${errorText(err)}`);
        sum.failed.push(`${kind}/${ns}/${name}`);
        return;
      }
    }
  }

  for (const r of policy.clusterRoles) await one('ClusterRole', r as KubeObject);
  for (const b of policy.clusterRoleBindings) await one('ClusterRoleBinding', b as unknown as KubeObject);
  for (const r of policy.roles) await one('Role', r as KubeObject);
  for (const b of policy.roleBindings) await one('RoleBinding', b as unknown as KubeObject);

  async function retire(r: RetiredPolicyObject): Promise<void> {
    const what = describe(r.kind, { name: r.name });
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = (await io.get(r.kind, '', r.name)) as unknown as Binding | undefined;
        // Only what the bootstrap policy made; never a user's object of the same name.
        if (!existing || existing.metadata.labels?.[bootstrappingLabel] !== 'rbac-defaults') return;
        const gone = new Set((r.subjects ?? []).map(subjectKey));
        const left = (existing.subjects ?? []).filter((s) => !gone.has(subjectKey(s)));
        if (r.subjects && left.length === (existing.subjects ?? []).length) return;
        if (isProtected(existing.metadata)) {
          log(`skipped reconcile-protected ${what}: ${r.subjects ? `its retired subjects ${JSON.stringify(r.subjects)} stay` : 'it is no longer wanted but stays'}`);
          sum.protected++;
          return;
        }
        if (r.subjects) {
          const next = structuredClone(existing);
          if (left.length) next.subjects = left;
          else delete next.subjects;
          await io.update(r.kind, next as unknown as KubeObject);
          log(`updated ${what}: removed retired subjects ${JSON.stringify(r.subjects)}`);
        } else {
          if (!io.delete) throw new Error('it is no longer wanted and cannot be deleted here');
          await io.delete(r.kind, '', r.name);
          log(`deleted ${what}: no longer wanted`);
        }
        sum.retired++;
        return;
      } catch (err) {
        if (isNotFound(err)) return; // gone meanwhile: nothing left to do
        if (retriable(err) && attempt < maxReconcileAttempts) continue;
        log(`unable to reconcile ${what}: ${errorText(err)}`);
        sum.failed.push(`${r.kind}//${r.name}`);
        return;
      }
    }
  }
  for (const r of opts.retired ?? retiredBosunPolicy()) await retire(r);
  return sum;
}
