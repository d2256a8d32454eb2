/**
 * Namespaces, Nodes, ResourceQuotas and LimitRanges (core/v1): upstream's defaulting,
 * strategies (status reset on create, status kept on main updates, spec kept on status updates),
 * validation with upstream field paths and messages, printers and field selectors.
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { TableDef } from '../resource.ts';
import {
  duplicate,
  forbidden,
  invalidValue,
  isLabelValue,
  isQualifiedName,
  notSupported,
  required,
} from '../validation.ts';
import { compareQuantity, parseQuantity } from '../quantity.ts';
import {
  ageColumn,
  ageOf,
  arr,
  clone,
  col,
  ensureObj,
  isObj,
  isOvercommitAllowed,
  keepAllButStatus,
  keepStatus,
  nameColumn,
  obj,
  qs,
  quantityCell,
  str,
  validateContainerResourceName,
  validateQuantitySyntax,
  validateQuotaResourceName,
  validateResourceName,
  validateResourceQuantityValue,
  type J,
} from './core-common.ts';
import { parseCIDR, validateCIDR } from './core-net.ts';

// ---- Namespace ---------------------------------------------------------------------------------

const standardFinalizers = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

export function prepareNamespaceForCreate(ns: KubeObject): void {
  ns['status'] = { phase: 'Active' };
  const spec = ensureObj(ns, 'spec');
  const fin: unknown[] = Array.isArray(spec['finalizers']) ? spec['finalizers'] : [];
  if (!fin.includes('kubernetes')) spec['finalizers'] = [...fin, 'kubernetes'];
}

export function prepareNamespaceForUpdate(ns: KubeObject, old: KubeObject): void {
  const oldFin = obj(old['spec'])['finalizers'];
  const spec = ensureObj(ns, 'spec');
  if (oldFin === undefined) delete spec['finalizers'];
  else spec['finalizers'] = clone(oldFin);
  keepStatus(ns, old);
}

/** SetDefaults_Namespace and SetDefaults_NamespaceStatus. */
export function defaultNamespace(ns: KubeObject): void {
  const name = ns.metadata.name;
  if (name) ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
  const status = ensureObj(ns, 'status');
  if (!status['phase']) status['phase'] = 'Active';
}

function validateFinalizerName(name: unknown, field: string): StatusCause[] {
  const v = str(name);
  const errs = isQualifiedName(v).map((m) => invalidValue(field, v, m));
  if (!v.includes('/') && !standardFinalizers.has(v)) {
    errs.push(invalidValue(field, v, 'name is neither a standard finalizer name nor is it fully qualified'));
  }
  return errs;
}

export function validateNamespace(ns: KubeObject, ctx: { subresource: string }): StatusCause[] {
  if (ctx.subresource === 'status') {
    const phase = obj(ns['status'])['phase'] ?? '';
    if (!ns.metadata.deletionTimestamp) {
      if (phase !== 'Active') return [invalidValue('status.Phase', phase, "may only be 'Active' if `deletionTimestamp` is empty")];
    } else if (phase !== 'Terminating') {
      return [invalidValue('status.Phase', phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")];
    }
    return [];
  }
  return arr(obj(ns['spec'])['finalizers']).flatMap((f) => validateFinalizerName(f, 'spec.finalizers'));
}

export const namespaceTable: TableDef = {
  columns: [nameColumn, col('Status', 'The status of the namespace.'), ageColumn],
  row: (ns, now) => [ns.metadata.name ?? '', str(obj(ns['status'])['phase']), ageOf(ns, now)],
};

// ---- Node --------------------------------------------------------------------------------------

/** The v1 podCIDR/podCIDRs pairing (podCIDR wins when they disagree) and SetDefaults_NodeStatus. */
export function defaultNode(node: KubeObject): void {
  if (isObj(node['spec'])) {
    const spec = node['spec'];
    const cidr = str(spec['podCIDR']);
    const cidrs = arr(spec['podCIDRs']);
    if (cidr && (cidrs.length === 0 || cidrs[0] !== cidr)) spec['podCIDRs'] = [cidr];
    if (arr(spec['podCIDRs']).length) spec['podCIDR'] = spec['podCIDRs'][0];
  }
  if (isObj(node['status'])) {
    const st = node['status'];
    if (st['allocatable'] === undefined && isObj(st['capacity'])) st['allocatable'] = clone(st['capacity']);
  }
}

export function prepareNodeForCreate(node: KubeObject): void {
  if (isObj(node['spec'])) delete node['spec']['configSource'];
  if (isObj(node['status'])) delete node['status']['config'];
}

export function prepareNodeForUpdate(node: KubeObject, old: KubeObject): void {
  keepStatus(node, old);
  if (!isObj(obj(old['spec'])['configSource']) && isObj(node['spec'])) delete node['spec']['configSource'];
}

export function prepareNodeForStatusUpdate(node: KubeObject, old: KubeObject): void {
  keepAllButStatus(node, old);
  if (!isObj(obj(old['status'])['config']) && isObj(node['status'])) delete node['status']['config'];
}

const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

function validateTaints(taints: unknown[], path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const seen = new Map<string, Set<string>>();
  taints.forEach((raw, i) => {
    const t = obj(raw);
    const p = `${path}[${i}]`;
    const key = str(t['key']);
    for (const m of isQualifiedName(key)) errs.push(invalidValue(`${p}.key`, key, m));
    const vErrs = isLabelValue(str(t['value']));
    if (vErrs.length) errs.push(invalidValue(`${p}.value`, t['value'] ?? '', vErrs.join(';')));
    const effect = str(t['effect']);
    if (!effect) errs.push(required(`${p}.effect`));
    else if (!(taintEffects as readonly string[]).includes(effect)) errs.push(notSupported(`${p}.effect`, effect, taintEffects));
    const keys = seen.get(effect) ?? new Set<string>();
    if (keys.has(key)) {
      const d = duplicate(p, raw);
      errs.push({ ...d, message: `${d.message}: taints must be unique by key and effect pair` });
      return;
    }
    keys.add(key);
    seen.set(effect, keys);
  });
  return errs;
}

function validateNodeResources(node: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  const st = obj(node['status']);
  for (const which of ['capacity', 'allocatable']) {
    for (const [k, v] of Object.entries(obj(st[which]))) errs.push(...validateResourceQuantityValue(k, v, `status.${which}.${k}`));
  }
  return errs;
}

/** Upstream ValidateNode (metadata aside). */
function validateNodeCreate(node: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  const spec = obj(node['spec']);
  const taints = arr(spec['taints']);
  // Upstream reports spec.taints errors under metadata.taints.
  if (taints.length) errs.push(...validateTaints(taints, 'metadata.taints'));
  errs.push(...validateNodeResources(node));
  const cidrs = arr(spec['podCIDRs']);
  if (cidrs.length) {
    cidrs.forEach((c, i) => errs.push(...validateCIDR(`spec.podCIDRs[${i}]`, c)));
    if (cidrs.length > 1) {
      const fams = cidrs.map((c) => (typeof c === 'string' ? parseCIDR(c)?.family : undefined));
      if (cidrs.length > 2 || fams[0] === fams[1]) errs.push(invalidValue('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
    }
  }
  return errs;
}

/** Upstream ValidateNodeUpdate (metadata aside). */
function validateNodeUpdate(node: KubeObject, old: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  errs.push(...validateNodeResources(node));
  const seen: unknown[] = [];
  arr(obj(node['status'])['addresses']).forEach((a, i) => {
    if (seen.some((s) => JSON.stringify(s) === JSON.stringify(a))) errs.push(duplicate(`status.addresses[${i}]`, a));
    seen.push(a);
  });
  const spec = obj(node['spec']);
  const o = obj(old['spec']);
  const oldCidrs = arr(o['podCIDRs']);
  if (oldCidrs.length) {
    const cidrs = arr(spec['podCIDRs']);
    const msg = 'node updates may not change podCIDR except from "" to valid';
    if (cidrs.length !== oldCidrs.length) errs.push(forbidden('spec.podCIDRs', msg));
    else oldCidrs.forEach((c, i) => c !== cidrs[i] && errs.push(forbidden('spec.podCIDRs', msg)));
  }
  if (str(o['providerID']) && o['providerID'] !== spec['providerID']) {
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  const taints = arr(spec['taints']);
  if (taints.length) errs.push(...validateTaints(taints, 'metadata.taints'));
  if ((spec['externalID'] ?? '') !== (o['externalID'] ?? '')) errs.push(forbidden('spec.externalID', 'may not be updated'));
  return errs;
}

export function validateNode(node: KubeObject, ctx: { old?: KubeObject; subresource: string }): StatusCause[] {
  if (!ctx.old) return validateNodeCreate(node);
  if (ctx.subresource === 'status') return validateNodeUpdate(node, ctx.old);
  return [...validateNodeCreate(node), ...validateNodeUpdate(node, ctx.old)];
}

function nodeRoles(node: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(',') : '<none>';
}

function nodeStatusCell(node: KubeObject): string {
  const status: string[] = [];
  const ready = arr(obj(node['status'])['conditions']).find((c) => obj(c)['type'] === 'Ready');
  if (ready) status.push(obj(ready)['status'] === 'True' ? 'Ready' : 'NotReady');
  if (status.length === 0) status.push('Unknown');
  if (obj(node['spec'])['unschedulable'] === true) status.push('SchedulingDisabled');
  return status.join(',');
}

function nodeAddress(node: KubeObject, type: string): string {
  const a = arr(obj(node['status'])['addresses']).find((x) => obj(x)['type'] === type);
  return a ? str(obj(a)['address']) : '<none>';
}

export const nodeTable: TableDef = {
  columns: [
    nameColumn,
    col('Status', 'The status of the node.'),
    col('Roles', 'The roles of the node.'),
    ageColumn,
    col('Version', 'The kubelet version the node reports.'),
    col('Internal-IP', 'The first internal IP address of the node.', 1),
    col('External-IP', 'The first external IP address of the node.', 1),
    col('OS-Image', 'The operating system image the node reports.', 1),
    col('Kernel-Version', 'The kernel version the node reports.', 1),
    col('Container-Runtime', 'The container runtime and version the node reports.', 1),
  ],
  row(node, now) {
    const info = obj(obj(node['status'])['nodeInfo']);
    const unknown = (v: unknown) => str(v) || '<unknown>';
    return [
      node.metadata.name ?? '',
      nodeStatusCell(node),
      nodeRoles(node),
      ageOf(node, now),
      str(info['kubeletVersion']),
      nodeAddress(node, 'InternalIP'),
      nodeAddress(node, 'ExternalIP'),
      unknown(info['osImage']),
      unknown(info['kernelVersion']),
      unknown(info['containerRuntimeVersion']),
    ];
  },
};

// ---- ResourceQuota -----------------------------------------------------------------------------

const quotaScopes = ['BestEffort', 'CrossNamespacePodAffinity', 'NotBestEffort', 'NotTerminating', 'PriorityClass', 'Terminating'];
const podComputeResources = new Set(['cpu', 'memory', 'limits.cpu', 'limits.memory', 'requests.cpu', 'requests.memory']);
const standardQuotaNames = new Set([
  'cpu', 'memory', 'ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.storage', 'requests.ephemeral-storage',
  'limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'pods', 'services', 'replicationcontrollers', 'resourcequotas',
  'secrets', 'persistentvolumeclaims', 'configmaps', 'services.nodeports', 'services.loadbalancers',
]);

function scopeValidForResource(scope: string, resource: string): boolean {
  switch (scope) {
    case 'Terminating':
    case 'NotTerminating':
    case 'NotBestEffort':
    case 'PriorityClass':
    case 'CrossNamespacePodAffinity':
      return resource === 'pods' || podComputeResources.has(resource);
    case 'BestEffort':
      return resource === 'pods';
    default:
      return true;
  }
}

function isStandardQuotaName(r: string): boolean {
  return standardQuotaNames.has(r) || r.startsWith('hugepages-') || r.startsWith('requests.hugepages-');
}

function validateQuotaList(list: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  for (const [k, v] of Object.entries(obj(list))) {
    const p = `${path}[${k}]`;
    errs.push(...validateQuotaResourceName(k, p), ...validateResourceQuantityValue(k, v, p));
  }
  return errs;
}

const conflictingScopes: [string, string][] = [
  ['BestEffort', 'NotBestEffort'],
  ['Terminating', 'NotTerminating'],
];

function validateQuotaSpec(spec: J): StatusCause[] {
  const errs = validateQuotaList(spec['hard'], 'spec.hard');
  const hard = Object.keys(obj(spec['hard'])).sort();
  const scopes = arr(spec['scopes']);
  if (scopes.length) {
    for (const scope of scopes) {
      if (!quotaScopes.includes(scope)) errs.push(invalidValue('spec.scopes', scopes, 'unsupported scope'));
      for (const r of hard) if (isStandardQuotaName(r) && !scopeValidForResource(scope, r)) errs.push(invalidValue('spec.scopes', scopes, 'unsupported scope applied to resource'));
    }
    for (const [a, b] of conflictingScopes) if (scopes.includes(a) && scopes.includes(b)) errs.push(invalidValue('spec.scopes', scopes, 'conflicting scopes'));
  }
  if (isObj(spec['scopeSelector'])) {
    const path = 'spec.scopeSelector.matchExpressions';
    const seen = new Set<string>();
    for (const raw of arr(spec['scopeSelector']['matchExpressions'])) {
      const req = obj(raw);
      const scope = str(req['scopeName']);
      if (!quotaScopes.includes(scope)) errs.push(invalidValue(`${path}.scopeName`, scope, 'unsupported scope'));
      for (const r of hard) if (isStandardQuotaName(r) && !scopeValidForResource(scope, r)) errs.push(invalidValue(path, spec['scopeSelector'], 'unsupported scope applied to resource'));
      if (['BestEffort', 'NotBestEffort', 'Terminating', 'NotTerminating', 'CrossNamespacePodAffinity'].includes(scope) && req['operator'] !== 'Exists') {
        errs.push(
          invalidValue(
            `${path}.operator`,
            req['operator'] ?? '',
            "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
          ),
        );
      }
      const values = arr(req['values']);
      switch (req['operator']) {
        case 'In':
        case 'NotIn':
          if (!values.length) errs.push(required(`${path}.values`, "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"));
          break;
        case 'Exists':
        case 'DoesNotExist':
          if (values.length) errs.push(invalidValue(`${path}.values`, values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"));
          break;
        default:
          errs.push(invalidValue(`${path}.operator`, req['operator'] ?? '', 'not a valid selector operator'));
      }
      seen.add(scope);
    }
    for (const [a, b] of conflictingScopes) if (seen.has(a) && seen.has(b)) errs.push(invalidValue(path, spec['scopes'] ?? null, 'conflicting scopes'));
  }
  return errs;
}

function validateQuotaStatus(status: J): StatusCause[] {
  return [...validateQuotaList(status['hard'], 'status.hard'), ...validateQuotaList(status['used'], 'status.used')];
}

export function validateResourceQuota(rq: KubeObject, ctx: { old?: KubeObject; subresource: string }): StatusCause[] {
  if (ctx.subresource === 'status') return validateQuotaStatus(obj(rq['status']));
  const spec = obj(rq['spec']);
  if (!ctx.old) return [...validateQuotaSpec(spec), ...validateQuotaStatus(obj(rq['status']))];
  const errs = validateQuotaSpec(spec);
  const now = new Set(arr(spec['scopes']).map(String));
  const before = new Set(arr(obj(ctx.old['spec'])['scopes']).map(String));
  if (now.size !== before.size || [...now].some((s) => !before.has(s))) errs.push(invalidValue('spec.scopes', spec['scopes'] ?? null, 'field is immutable'));
  return errs;
}

export function prepareResourceQuotaForCreate(rq: KubeObject): void {
  rq['status'] = {};
}

export const resourceQuotaTable: TableDef = {
  columns: [
    nameColumn,
    col('Request', 'Used and hard amounts of the quota resources other than limits.*.'),
    col('Limit', 'Used and hard amounts of the limits.* quota resources.'),
    ageColumn,
  ],
  row(rq, now) {
    const status = obj(rq['status']);
    const hard = obj(status['hard']);
    const used = obj(status['used']);
    const request: string[] = [];
    const limit: string[] = [];
    for (const r of Object.keys(hard).sort()) {
      const parts = r.split('.');
      (parts.length > 1 && parts[0] === 'limits' ? limit : request).push(`${r}: ${quantityCell(used[r])}/${quantityCell(hard[r])}`);
    }
    return [rq.metadata.name ?? '', request.join(', '), limit.join(', '), ageOf(rq, now)];
  },
};

// ---- LimitRange --------------------------------------------------------------------------------

/** SetDefaults_LimitRangeItem: container defaults fall back to max, default requests to default, then min. */
export function defaultLimitRange(lr: KubeObject): void {
  for (const raw of arr(obj(lr['spec'])['limits'])) {
    if (!isObj(raw) || raw['type'] !== 'Container') continue;
    const def: J = isObj(raw['default']) ? raw['default'] : {};
    const defReq: J = isObj(raw['defaultRequest']) ? raw['defaultRequest'] : {};
    for (const [k, v] of Object.entries(obj(raw['max']))) if (!(k in def)) def[k] = clone(v);
    for (const [k, v] of Object.entries(def)) if (!(k in defReq)) defReq[k] = clone(v);
    for (const [k, v] of Object.entries(obj(raw['min']))) if (!(k in defReq)) defReq[k] = clone(v);
    if (Object.keys(def).length) raw['default'] = def;
    if (Object.keys(defReq).length) raw['defaultRequest'] = defReq;
  }
}

const standardLimitTypes = new Set(['Pod', 'Container', 'PersistentVolumeClaim']);

export function validateLimitRange(lr: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  const types = new Set<string>();
  arr(obj(lr['spec'])['limits']).forEach((raw, i) => {
    const item = obj(raw);
    const p = `spec.limits[${i}]`;
    const type = str(item['type']);
    const typeErrs = isQualifiedName(type).map((m) => invalidValue(`${p}.type`, type, m));
    if (!typeErrs.length && !type.includes('/') && !standardLimitTypes.has(type)) {
      typeErrs.push(invalidValue(`${p}.type`, type, 'must be a standard limit type or fully qualified'));
    }
    errs.push(...typeErrs);
    if (types.has(type)) errs.push(duplicate(`${p}.type`, type));
    types.add(type);
    const nameCheck = (k: string, path: string) =>
      type === 'Pod' || type === 'Container' ? validateContainerResourceName(k, path) : validateResourceName(k, path);
    const keys: string[] = [];
    const collect = (field: string): Record<string, unknown> => {
      const m = obj(item[field]);
      for (const [k, v] of Object.entries(m)) {
        errs.push(...nameCheck(k, `${p}.${field}[${k}]`), ...validateQuantitySyntax(v, `${p}.${field}[${k}]`));
        if (!keys.includes(k)) keys.push(k);
      }
      return m;
    };
    const max = collect('max');
    const min = collect('min');
    let def: Record<string, unknown> = {};
    let defReq: Record<string, unknown> = {};
    if (type === 'Pod') {
      if (Object.keys(obj(item['default'])).length) errs.push(forbidden(`${p}.default`, "may not be specified when `type` is 'Pod'"));
      if (Object.keys(obj(item['defaultRequest'])).length) errs.push(forbidden(`${p}.defaultRequest`, "may not be specified when `type` is 'Pod'"));
    } else {
      def = collect('default');
      defReq = collect('defaultRequest');
    }
    if (type === 'PersistentVolumeClaim' && !('storage' in min) && !('storage' in max)) {
      errs.push(required(`${p}.limits`, 'either minimum or maximum storage value is required, but neither was provided'));
    }
    const ratio = collect('maxLimitRequestRatio');
    const ok = (q: unknown) => q !== undefined && parseQuantity(q) !== undefined;
    for (const k of keys) {
      const [mn, mx, d, dr, r] = [min[k], max[k], def[k], defReq[k], ratio[k]];
      if (ok(mn) && ok(mx) && compareQuantity(mn, mx) > 0) {
        errs.push(invalidValue(`${p}.min[${k}]`, qs(mn), `min value ${qs(mn)} is greater than max value ${qs(mx)}`));
      }
      if (ok(dr) && ok(mn) && compareQuantity(mn, dr) > 0) {
        errs.push(invalidValue(`${p}.defaultRequest[${k}]`, qs(dr), `min value ${qs(mn)} is greater than default request value ${qs(dr)}`));
      }
      if (ok(dr) && ok(mx) && compareQuantity(dr, mx) > 0) {
        errs.push(invalidValue(`${p}.defaultRequest[${k}]`, qs(dr), `default request value ${qs(dr)} is greater than max value ${qs(mx)}`));
      }
      if (ok(dr) && ok(d) && compareQuantity(dr, d) > 0) {
        errs.push(invalidValue(`${p}.defaultRequest[${k}]`, qs(dr), `default request value ${qs(dr)} is greater than default limit value ${qs(d)}`));
      }
      if (ok(d) && ok(mn) && compareQuantity(mn, d) > 0) {
        errs.push(invalidValue(`${p}.default[${k}]`, qs(mn), `min value ${qs(mn)} is greater than default value ${qs(d)}`));
      }
      if (ok(d) && ok(mx) && compareQuantity(d, mx) > 0) {
        errs.push(invalidValue(`${p}.default[${k}]`, qs(mx), `default value ${qs(d)} is greater than max value ${qs(mx)}`));
      }
      if (ok(r) && compareQuantity(r, 1) < 0) {
        errs.push(invalidValue(`${p}.maxLimitRequestRatio[${k}]`, qs(r), `ratio ${qs(r)} is less than 1`));
      }
      if (ok(r) && ok(mn) && ok(mx)) {
        const limit = parseQuantity(mx)! / parseQuantity(mn)!;
        if (parseQuantity(r)! > limit) {
          errs.push(invalidValue(`${p}.maxLimitRequestRatio[${k}]`, qs(r), `ratio ${qs(r)} is greater than max/min = ${limit.toFixed(6)}`));
        }
      }
      if (!isOvercommitAllowed(k) && ok(d) && ok(dr) && compareQuantity(d, dr) !== 0) {
        errs.push(invalidValue(`${p}.defaultRequest[${k}]`, qs(dr), `default value ${qs(d)} must equal to defaultRequest value ${qs(dr)} in ${k}`));
      }
    }
  });
  return errs;
}

export const limitRangeTable: TableDef = {
  columns: [nameColumn, { name: 'Created At', type: 'date', description: 'The time the object was created.', priority: 0 }],
  row: (lr) => [lr.metadata.name ?? '', lr.metadata.creationTimestamp ?? ''],
};
