/** rbac.authorization.k8s.io/v1: Roles, RoleBindings, ClusterRoles, ClusterRoleBindings. */
import type { ResourceDef } from '../resource.ts';
import type { KubeObject, StatusCause } from '../types.ts';
import { immutable, notSupported, required } from '../validation.ts';
import { col, g, table } from './_mk.ts';

const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1', nameRule: 'path' as const };

function validateRules(o: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const rules = (o['rules'] ?? []) as Record<string, unknown>[];
  rules.forEach((r, i) => {
    if (!Array.isArray(r['verbs']) || r['verbs'].length === 0) out.push(required(`rules[${i}].verbs`, 'verbs must contain at least one value'));
    const nonRes = Array.isArray(r['nonResourceURLs']) && r['nonResourceURLs'].length > 0;
    if (!nonRes && (!Array.isArray(r['apiGroups']) || r['apiGroups'].length === 0)) out.push(required(`rules[${i}].apiGroups`, 'resource rules must supply at least one api group'));
    if (!nonRes && (!Array.isArray(r['resources']) || r['resources'].length === 0)) out.push(required(`rules[${i}].resources`, 'resource rules must supply at least one resource'));
  });
  return out;
}

function validateBinding(o: KubeObject, old: KubeObject | undefined, namespaced: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const ref = (o['roleRef'] ?? {}) as Record<string, unknown>;
  if (ref['apiGroup'] !== 'rbac.authorization.k8s.io') out.push(notSupported('roleRef.apiGroup', ref['apiGroup'] ?? '', ['rbac.authorization.k8s.io']));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(String(ref['kind'] ?? ''))) out.push(notSupported('roleRef.kind', ref['kind'] ?? '', kinds));
  if (!ref['name']) out.push(required('roleRef.name', ''));
  const subjects = (o['subjects'] ?? []) as Record<string, unknown>[];
  subjects.forEach((s, i) => {
    if (!['ServiceAccount', 'User', 'Group'].includes(String(s['kind'] ?? ''))) out.push(notSupported(`subjects[${i}].kind`, s['kind'] ?? '', ['ServiceAccount', 'User', 'Group']));
    if (!s['name']) out.push(required(`subjects[${i}].name`, ''));
  });
  if (old) out.push(...immutable('roleRef', o['roleRef'], old['roleRef']));
  return out;
}

function defaultBinding(o: KubeObject): void {
  for (const s of (o['subjects'] ?? []) as Record<string, unknown>[]) {
    if (s['apiGroup'] === undefined && (s['kind'] === 'User' || s['kind'] === 'Group')) s['apiGroup'] = 'rbac.authorization.k8s.io';
    if (s['apiGroup'] === undefined && s['kind'] === 'ServiceAccount') s['apiGroup'] = '';
  }
}

const subjectsCell = (o: KubeObject, kind: string) => ((o['subjects'] ?? []) as Record<string, unknown>[])
  .filter((s) => s['kind'] === kind)
  .map((s) => (kind === 'ServiceAccount' ? `${String(s['namespace'] ?? '')}/${String(s['name'])}` : String(s['name'])))
  .join(', ');

const bindingTable = table(
  [col('Role'), col('Users', 'string', 1), col('Groups', 'string', 1), col('ServiceAccounts', 'string', 1)],
  (o) => [`${String(g(o, 'roleRef', 'kind'))}/${String(g(o, 'roleRef', 'name'))}`, subjectsCell(o, 'User'), subjectsCell(o, 'Group'), subjectsCell(o, 'ServiceAccount')],
);

const createdAt = { columns: [
  { name: 'Name', type: 'string' as const, format: 'name', description: 'Name', priority: 0 as const },
  { name: 'Created At', type: 'date' as const, description: 'Created At', priority: 0 as const },
], row: (o: KubeObject) => [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''] };

export const resources: ResourceDef[] = [
  { ...rbac, kind: 'ClusterRoleBinding', plural: 'clusterrolebindings', singular: 'clusterrolebinding', namespaced: false, default: defaultBinding, validate: (o, c) => validateBinding(o, c.old, false), table: bindingTable },
  { ...rbac, kind: 'ClusterRole', plural: 'clusterroles', singular: 'clusterrole', namespaced: false, validate: (o) => validateRules(o), table: createdAt },
  { ...rbac, kind: 'RoleBinding', plural: 'rolebindings', singular: 'rolebinding', namespaced: true, default: defaultBinding, validate: (o, c) => validateBinding(o, c.old, true), table: bindingTable },
  { ...rbac, kind: 'Role', plural: 'roles', singular: 'role', namespaced: true, validate: (o) => validateRules(o), table: createdAt },
];
