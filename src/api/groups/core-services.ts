/**
 * Services (core/v1), as upstream's service registry treats them:
 * - defaulting: SetDefaults_Service, plus the IP-family initialization the registry does at write
 *   time (ipFamilyPolicy, ipFamilies), for a single-stack IPv4-primary cluster;
 * - create/update preparation: clusterIP/clusterIPs normalization, carrying allocated values
 *   (cluster IPs, node ports, health-check node port) over on update, dropping fields a type
 *   change makes meaningless, keeping status on main updates;
 * - validation: ValidateService, ValidateServiceUpdate, ValidateServiceStatusUpdate;
 * - the Table printer (NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR);
 * - `allocateServiceAddresses`, a pure allocator for cluster IPs and node ports that derives what
 *   is in use from the existing Services (nothing is stored twice, nothing needs releasing).
 *
 * Allocation is not done by the declaration's hooks: it needs cluster state. The caller runs
 * `allocateServiceAddresses` on create and update; upstream allocates before validating (a
 * LoadBalancer with externalTrafficPolicy Local must have its healthCheckNodePort by then).
 */
import type { KubeObject, StatusCause } from '../types.ts';
import type { TableDef } from '../resource.ts';
import { labelsCell } from '../printers.ts';
import {
  duplicate,
  fieldError,
  forbidden,
  invalidValue,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidPortName,
  isValidPortNum,
  jsonEqual,
  notSupported,
  required,
  validateLabels,
} from '../validation.ts';
import { ageColumn, ageOf, arr, clone, col, ensureObj, isObj, keepStatus, nameColumn, obj, sameObject, str, type J } from './core-common.ts';
import { canonicalIP, cidrContains, formatCIDR, formatIP, parseCIDR, parseIP, validateCIDR, validateIP, validateNonSpecialIP, type IPFamily, type ParsedCIDR } from './core-net.ts';

/** k3s's default service range. */
export const defaultServiceCIDR = '10.43.0.0/16';
export const defaultNodePortRange: [number, number] = [30000, 32767];
/** The family services get when the cluster does not say otherwise. */
const defaultFamily: IPFamily = 'IPv4';

const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
const protocols = ['SCTP', 'TCP', 'UDP'] as const;
const sessionAffinities = ['ClientIP', 'None'] as const;
const ipFamilies = ['IPv4', 'IPv6'] as const;
const ipFamilyPolicies = ['PreferDualStack', 'RequireDualStack', 'SingleStack'] as const;
const trafficPolicies = ['Cluster', 'Local'] as const;
const maxClientIPAffinitySeconds = 86400;
const defaultClientIPAffinitySeconds = 10800;

// ---- predicates (upstream pkg/api/service helpers) ----------------------------------------------

function isHeadless(spec: J): boolean {
  const ips = arr(spec['clusterIPs']);
  return ips.length === 1 && ips[0] === 'None';
}

function externallyAccessible(spec: J): boolean {
  return (
    spec['type'] === 'LoadBalancer' ||
    spec['type'] === 'NodePort' ||
    (spec['type'] === 'ClusterIP' && arr(spec['externalIPs']).length > 0)
  );
}

function needsHealthCheck(spec: J): boolean {
  return spec['type'] === 'LoadBalancer' && spec['externalTrafficPolicy'] === 'Local';
}

function needsClusterIP(spec: J): boolean {
  return spec['type'] !== 'ExternalName';
}

function needsNodePort(spec: J): boolean {
  return spec['type'] === 'NodePort' || spec['type'] === 'LoadBalancer';
}

function shouldAllocateNodePorts(spec: J): boolean {
  if (spec['type'] === 'NodePort') return true;
  if (spec['type'] === 'LoadBalancer') return spec['allocateLoadBalancerNodePorts'] !== false;
  return false;
}

function sameStrings(a: unknown, b: unknown): boolean {
  const x = arr(a);
  const y = arr(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function sameClusterIPs(a: J, b: J): boolean {
  return str(a['clusterIP']) === str(b['clusterIP']) && sameStrings(a['clusterIPs'], b['clusterIPs']);
}

function nodePortsOf(spec: J): Set<number> {
  const out = new Set<number>();
  for (const p of arr(spec['ports'])) if (isObj(p) && p['nodePort']) out.add(p['nodePort']);
  return out;
}

// ---- defaulting --------------------------------------------------------------------------------

/** Upstream SetDefaults_Service (and the ipMode default of load-balancer ingress status). */
export function serviceDefaults(svc: KubeObject): void {
  const spec = ensureObj(svc, 'spec');
  if (!spec['sessionAffinity']) spec['sessionAffinity'] = 'None';
  if (spec['sessionAffinity'] === 'ClientIP') {
    const t = obj(obj(spec['sessionAffinityConfig'])['clientIP'])['timeoutSeconds'];
    if (t === undefined || t === null) spec['sessionAffinityConfig'] = { clientIP: { timeoutSeconds: defaultClientIPAffinitySeconds } };
  }
  if (!spec['type']) spec['type'] = 'ClusterIP';
  for (const p of arr(spec['ports'])) {
    if (!isObj(p)) continue;
    if (!p['protocol']) p['protocol'] = 'TCP';
    if (p['targetPort'] === undefined || p['targetPort'] === null || p['targetPort'] === 0 || p['targetPort'] === '') {
      if (p['port'] !== undefined) p['targetPort'] = p['port'];
    }
  }
  if (externallyAccessible(spec) && !spec['externalTrafficPolicy']) spec['externalTrafficPolicy'] = 'Cluster';
  if ((spec['internalTrafficPolicy'] === undefined || spec['internalTrafficPolicy'] === null) && ['ClusterIP', 'NodePort', 'LoadBalancer'].includes(spec['type'])) {
    spec['internalTrafficPolicy'] = 'Cluster';
  }
  if (spec['type'] === 'LoadBalancer' && (spec['allocateLoadBalancerNodePorts'] === undefined || spec['allocateLoadBalancerNodePorts'] === null)) {
    spec['allocateLoadBalancerNodePorts'] = true;
  }
  for (const ing of arr(obj(obj(svc['status'])['loadBalancer'])['ingress'])) {
    if (isObj(ing) && ing['ip'] && !ing['ipMode']) ing['ipMode'] = 'VIP';
  }
}

function altFamily(f: IPFamily): IPFamily {
  return f === 'IPv4' ? 'IPv6' : 'IPv4';
}

/**
 * The part of upstream's initIPFamilyFields that needs no cluster state: a missing policy becomes
 * SingleStack (RequireDualStack for headless services without a selector), ipFamilies are inferred
 * from clusterIPs, and otherwise default to the primary family (IPv4).
 */
export function initServiceIPFamilies(svc: KubeObject): void {
  const spec = ensureObj(svc, 'spec');
  if (spec['type'] === 'ExternalName') return;
  const selectorless = Object.keys(obj(spec['selector'])).length === 0;
  const headlessSelectorless = spec['clusterIP'] === 'None' && selectorless;
  if (spec['ipFamilyPolicy'] === undefined || spec['ipFamilyPolicy'] === null) {
    spec['ipFamilyPolicy'] = headlessSelectorless ? 'RequireDualStack' : 'SingleStack';
  }
  const families: string[] = Array.isArray(spec['ipFamilies']) ? spec['ipFamilies'] : [];
  const ips = arr(spec['clusterIPs']);
  for (let i = 0; i < ips.length; i++) {
    if (ips[i] === 'None') break;
    if (i < families.length) continue;
    const ip = typeof ips[i] === 'string' ? parseIP(ips[i]) : undefined;
    if (!ip) break;
    families.push(ip.family);
  }
  if (headlessSelectorless) {
    if (families.length === 0) families.push(defaultFamily);
    if (families.length < 2 && spec['ipFamilyPolicy'] !== 'SingleStack' && (families[0] === 'IPv4' || families[0] === 'IPv6')) {
      families.push(altFamily(families[0] as IPFamily));
    }
  } else if (families.length === 0) {
    families.push(defaultFamily);
  }
  spec['ipFamilies'] = families;
}

/** What `-o yaml` shows for a Service before allocation: upstream defaults and IP families. */
export function defaultService(svc: KubeObject): void {
  serviceDefaults(svc);
  initServiceIPFamilies(svc);
}

// ---- create / update preparation ----------------------------------------------------------------

/** Upstream normalizeClusterIPs: keeps clusterIP and clusterIPs in step for old and new clients. */
export function normalizeClusterIPs(svc: KubeObject, old?: KubeObject): void {
  const spec = ensureObj(svc, 'spec');
  const ip = str(spec['clusterIP']);
  const ips = arr(spec['clusterIPs']);
  if (!old) {
    if (ip && ips.length === 0) spec['clusterIPs'] = [ip];
    return;
  }
  const o = obj(old['spec']);
  if (arr(o['clusterIPs']).length > 0 && ips.length === 0 && str(o['clusterIP']) === ip) {
    spec['clusterIPs'] = clone(o['clusterIPs']);
  }
  if (str(o['clusterIP']) !== str(spec['clusterIP'])) {
    if (str(o['clusterIP']) && !str(spec['clusterIP'])) {
      if (sameStrings(o['clusterIPs'], spec['clusterIPs'])) delete spec['clusterIPs'];
    } else if (sameStrings(o['clusterIPs'], spec['clusterIPs'])) {
      spec['clusterIPs'] = [spec['clusterIP']];
    }
  }
}

/** Upstream patchAllocatedValues: an update that omits allocated values keeps the stored ones. */
function patchAllocatedValues(svc: KubeObject, old: KubeObject): void {
  const spec = ensureObj(svc, 'spec');
  const o = obj(old['spec']);
  if (needsClusterIP(o) && needsClusterIP(spec)) {
    if (!spec['clusterIP'] && o['clusterIP']) spec['clusterIP'] = o['clusterIP'];
    if (arr(spec['clusterIPs']).length === 0 && arr(o['clusterIPs']).length > 0) spec['clusterIPs'] = clone(o['clusterIPs']);
  }
  if (needsNodePort(o) && needsNodePort(spec)) {
    const newPorts = nodePortsOf(spec);
    const used = new Set([...nodePortsOf(o)].filter((p) => newPorts.has(p)));
    const byName = new Map<string, number>();
    for (const p of arr(o['ports'])) if (isObj(p)) byName.set(str(p['name']), p['nodePort'] ?? 0);
    for (const p of arr(spec['ports'])) {
      if (!isObj(p) || p['nodePort']) continue;
      const v = byName.get(str(p['name']));
      if (v && !used.has(v)) p['nodePort'] = v;
    }
  }
  if (needsHealthCheck(o) && needsHealthCheck(spec) && !spec['healthCheckNodePort'] && o['healthCheckNodePort']) {
    spec['healthCheckNodePort'] = o['healthCheckNodePort'];
  }
}

/** Upstream dropTypeDependentFields: a type change clears what the old type had allocated or defaulted. */
function dropTypeDependentFields(svc: KubeObject, old: KubeObject): void {
  const spec = ensureObj(svc, 'spec');
  const o = obj(old['spec']);
  if (needsClusterIP(o) && !needsClusterIP(spec)) {
    if (sameClusterIPs(o, spec)) {
      delete spec['clusterIP'];
      delete spec['clusterIPs'];
    }
    if (jsonEqual(o['ipFamilies'], spec['ipFamilies'])) delete spec['ipFamilies'];
    if ((o['ipFamilyPolicy'] ?? '') === (spec['ipFamilyPolicy'] ?? '')) delete spec['ipFamilyPolicy'];
  }
  if (needsNodePort(o) && !needsNodePort(spec)) {
    const oldPorts = nodePortsOf(o);
    if ([...nodePortsOf(spec)].every((p) => oldPorts.has(p))) {
      for (const p of arr(spec['ports'])) if (isObj(p)) delete p['nodePort'];
    }
  }
  if (needsHealthCheck(o) && !needsHealthCheck(spec) && (o['healthCheckNodePort'] ?? 0) === (spec['healthCheckNodePort'] ?? 0)) {
    delete spec['healthCheckNodePort'];
  }
  if (o['type'] === 'LoadBalancer' && spec['type'] !== 'LoadBalancer') {
    const a = spec['allocateLoadBalancerNodePorts'];
    const b = o['allocateLoadBalancerNodePorts'];
    if (typeof a === 'boolean' && typeof b === 'boolean' && a === b) delete spec['allocateLoadBalancerNodePorts'];
    if ((o['loadBalancerClass'] ?? null) === (spec['loadBalancerClass'] ?? null)) delete spec['loadBalancerClass'];
  }
  if (externallyAccessible(o) && !externallyAccessible(spec) && (o['externalTrafficPolicy'] ?? '') === (spec['externalTrafficPolicy'] ?? '')) {
    delete spec['externalTrafficPolicy'];
  }
  if (spec['type'] !== 'LoadBalancer' && isObj(svc['status'])) svc['status']['loadBalancer'] = {};
}

export function prepareServiceForCreate(svc: KubeObject): void {
  svc['status'] = { loadBalancer: {} };
  normalizeClusterIPs(svc);
}

export function prepareServiceForUpdate(svc: KubeObject, old: KubeObject): void {
  // Upstream decodes (and so defaults) the request before any of this runs.
  serviceDefaults(svc);
  patchAllocatedValues(svc, old);
  normalizeClusterIPs(svc, old);
  const spec = ensureObj(svc, 'spec');
  const o = obj(old['spec']);
  if (needsClusterIP(spec)) {
    if ((spec['ipFamilyPolicy'] === undefined || spec['ipFamilyPolicy'] === null) && o['ipFamilyPolicy']) spec['ipFamilyPolicy'] = o['ipFamilyPolicy'];
    if (spec['ipFamilyPolicy'] === 'SingleStack') {
      if (sameClusterIPs(o, spec) && arr(spec['clusterIPs']).length > 1) spec['clusterIPs'] = spec['clusterIPs'].slice(0, 1);
      if (jsonEqual(o['ipFamilies'], spec['ipFamilies']) && arr(spec['ipFamilies']).length > 1) spec['ipFamilies'] = spec['ipFamilies'].slice(0, 1);
    }
  }
  keepStatus(svc, old);
  dropTypeDependentFields(svc, old);
}

// ---- validation --------------------------------------------------------------------------------

function validatePortNumOrName(v: unknown, field: string): StatusCause[] {
  if (typeof v === 'string') return isValidPortName(v).map((m) => invalidValue(field, v, m));
  const n = v === undefined || v === null ? 0 : v;
  return isValidPortNum(n) ? [] : [invalidValue(field, n, 'must be between 1 and 65535, inclusive')];
}

function validateServicePort(p: J, requireName: boolean, names: Set<string>, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const name = str(p['name']);
  if (requireName && !name) errs.push(required(`${path}.name`));
  else if (name) {
    for (const m of isDNS1123Label(name)) errs.push(invalidValue(`${path}.name`, name, m));
    if (names.has(name)) errs.push(duplicate(`${path}.name`, name));
    else names.add(name);
  }
  if (!isValidPortNum(p['port'])) errs.push(invalidValue(`${path}.port`, p['port'] ?? 0, 'must be between 1 and 65535, inclusive'));
  if (!p['protocol']) errs.push(required(`${path}.protocol`));
  else if (!protocols.includes(p['protocol'])) errs.push(notSupported(`${path}.protocol`, p['protocol'], protocols));
  errs.push(...validatePortNumOrName(p['targetPort'], `${path}.targetPort`));
  if (p['appProtocol'] !== undefined && p['appProtocol'] !== null) {
    for (const m of isQualifiedName(str(p['appProtocol']))) errs.push(invalidValue(`${path}.appProtocol`, p['appProtocol'], m));
  }
  return errs;
}

function validateClientIPAffinity(cfg: unknown, path: string): StatusCause[] {
  const detail = 'when session affinity type is ClientIP';
  if (!isObj(cfg)) return [required(path, detail)];
  if (!isObj(cfg['clientIP'])) return [required(`${path}.clientIP`, detail)];
  const t = cfg['clientIP']['timeoutSeconds'];
  if (t === undefined || t === null) return [required(`${path}.clientIP.timeoutSeconds`, detail)];
  if (!Number.isInteger(t) || t <= 0 || t > maxClientIPAffinitySeconds) {
    return [invalidValue(`${path}.clientIP.timeoutSeconds`, t, `must be greater than 0 and less than ${maxClientIPAffinitySeconds}`)];
  }
  return [];
}

/** Upstream ValidateServiceClusterIPsRelatedFields. */
function validateClusterIPsRelated(spec: J): StatusCause[] {
  if (spec['type'] === 'ExternalName') return [];
  const errs: StatusCause[] = [];
  const clusterIP = str(spec['clusterIP']);
  const ips = arr(spec['clusterIPs']);
  if (clusterIP) {
    if (ips.length === 0) errs.push(required('spec.clusterIPs'));
    else if (ips[0] !== clusterIP) errs.push(invalidValue('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  } else if (ips.length) {
    errs.push(invalidValue('spec.clusterIPs', ips, 'must be empty when `clusterIP` is not specified'));
  }
  const families = arr(spec['ipFamilies']);
  const seen = new Set<unknown>();
  families.forEach((f, i) => {
    if (!ipFamilies.includes(f)) errs.push(notSupported(`spec.ipFamilies[${i}]`, f, ipFamilies));
    if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, f));
    seen.add(f);
  });
  const policy = spec['ipFamilyPolicy'];
  if (policy !== undefined && policy !== null && !ipFamilyPolicies.includes(policy)) {
    errs.push(notSupported('spec.ipFamilyPolicy', policy, ipFamilyPolicies));
  }
  let hasInvalid = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        hasInvalid = true;
        errs.push(invalidValue('spec.clusterIPs', ips, "'None' must be the first and only value"));
      }
      return;
    }
    const e = validateIP(`spec.clusterIPs[${i}]`, ip);
    if (e.length) hasInvalid = true;
    errs.push(...e);
  });
  if (ips.length > 2) errs.push(invalidValue('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  if (hasInvalid) return errs;
  if (ips.length > 1) {
    const fams = ips.map((ip) => parseIP(ip)?.family);
    if (new Set(fams).size !== fams.length) errs.push(invalidValue('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
  }
  if (!isHeadless(spec) && ips.length && families.length) {
    ips.forEach((ip, i) => {
      if (i >= families.length) return;
      const fam = parseIP(ip)?.family;
      if (families[i] === 'IPv4' && fam === 'IPv6') errs.push(invalidValue(`spec.clusterIPs[${i}]`, ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (families[i] === 'IPv6' && fam !== 'IPv6') errs.push(invalidValue(`spec.clusterIPs[${i}]`, ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

/** Upstream ValidateService (everything but metadata, which the generic machinery checks). */
export function validateServiceSpec(svc: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  const ann = obj(svc.metadata.annotations);
  const hintsKey = 'service.kubernetes.io/topology-aware-hints';
  const modeKey = 'service.kubernetes.io/topology-mode';
  if (ann[hintsKey] !== undefined && ann[modeKey] !== undefined && ann[hintsKey] !== ann[modeKey]) {
    errs.push(invalidValue(`metadata.annotations[${modeKey}]`, ann[modeKey], `must match annotations[${hintsKey}] when both are specified`));
  }
  const spec = obj(svc['spec']);
  const ports = arr(spec['ports']);
  const headless = isHeadless(spec);
  const type = spec['type'];
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'));
  if (type === 'LoadBalancer' && headless) errs.push(invalidValue('spec.clusterIPs[0]', 'None', "may not be set to 'None' for LoadBalancer services"));
  if (type === 'NodePort' && headless) errs.push(invalidValue('spec.clusterIPs[0]', 'None', "may not be set to 'None' for NodePort services"));
  if (type === 'ExternalName') {
    if (arr(spec['clusterIPs']).length) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if (arr(spec['ipFamilies']).length) errs.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (spec['ipFamilyPolicy'] !== undefined && spec['ipFamilyPolicy'] !== null) errs.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    const cname = str(spec['externalName']).replace(/\.$/, '');
    if (cname) for (const m of isDNS1123Subdomain(cname)) errs.push(invalidValue('spec.externalName', cname, m));
    else errs.push(required('spec.externalName'));
  }
  const names = new Set<string>();
  ports.forEach((p, i) => errs.push(...validateServicePort(obj(p), ports.length > 1, names, `spec.ports[${i}]`)));
  if (spec['selector'] !== undefined && spec['selector'] !== null) errs.push(...validateLabels(spec['selector'], 'spec.selector'));
  const affinity = spec['sessionAffinity'];
  if (!affinity) errs.push(required('spec.sessionAffinity'));
  else if (!sessionAffinities.includes(affinity)) errs.push(notSupported('spec.sessionAffinity', affinity, sessionAffinities));
  if (affinity === 'ClientIP') errs.push(...validateClientIPAffinity(spec['sessionAffinityConfig'], 'spec.sessionAffinityConfig'));
  else if (affinity === 'None' && spec['sessionAffinityConfig'] !== undefined && spec['sessionAffinityConfig'] !== null) {
    errs.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }
  errs.push(...validateClusterIPsRelated(spec));
  arr(spec['externalIPs']).forEach((ip, i) => {
    const path = `spec.externalIPs[${i}]`;
    const e = validateIP(path, ip);
    errs.push(...(e.length ? e : validateNonSpecialIP(ip, path)));
  });
  if (!type) errs.push(required('spec.type'));
  else if (!serviceTypes.includes(type)) errs.push(notSupported('spec.type', type, serviceTypes));
  if (type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (obj(p)['nodePort']) errs.push(forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePortKeys = new Set<string>();
  ports.forEach((p, i) => {
    const o = obj(p);
    if (!o['nodePort']) return;
    const key = `${str(o['protocol'])}/${o['nodePort']}`;
    if (nodePortKeys.has(key)) errs.push(duplicate(`spec.ports[${i}].nodePort`, o['nodePort']));
    nodePortKeys.add(key);
  });
  const portKeys = new Set<string>();
  ports.forEach((p, i) => {
    const o = obj(p);
    const key = `${str(o['protocol'])}/${o['port']}`;
    if (portKeys.has(key)) errs.push(duplicate(`spec.ports[${i}]`, { protocol: o['protocol'], port: o['port'] }));
    portKeys.add(key);
  });
  const ranges = arr(spec['loadBalancerSourceRanges']);
  if (ranges.length) {
    const path = 'spec.LoadBalancerSourceRanges';
    if (type !== 'LoadBalancer') errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => errs.push(...validateCIDR(`${path}[${i}]`, str(r).trim())));
  } else if (ann['service.beta.kubernetes.io/load-balancer-source-ranges'] !== undefined) {
    const path = 'metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]';
    if (type !== 'LoadBalancer') errs.push(forbidden(path, "may only be used when `type` is 'LoadBalancer'"));
    const v = str(ann['service.beta.kubernetes.io/load-balancer-source-ranges']).trim();
    if (v) for (const c of v.split(',')) errs.push(...validateCIDR(path, c.trim()));
  }
  if (spec['allocateLoadBalancerNodePorts'] !== undefined && spec['allocateLoadBalancerNodePorts'] !== null && type !== 'LoadBalancer') {
    errs.push(forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  if (type === 'LoadBalancer' && (spec['allocateLoadBalancerNodePorts'] === undefined || spec['allocateLoadBalancerNodePorts'] === null)) {
    errs.push(required('allocateLoadBalancerNodePorts'));
  }
  const lbClass = spec['loadBalancerClass'];
  if (lbClass !== undefined && lbClass !== null) {
    if (type === 'LoadBalancer') for (const m of isQualifiedName(str(lbClass))) errs.push(invalidValue('spec.loadBalancerClass', lbClass, m));
    else errs.push(forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
  }
  // external traffic policy
  const etp = spec['externalTrafficPolicy'];
  if (!externallyAccessible(spec)) {
    if (etp) errs.push(invalidValue('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  } else if (!etp) errs.push(required('spec.externalTrafficPolicy'));
  else if (!trafficPolicies.includes(etp)) errs.push(notSupported('spec.externalTrafficPolicy', etp, trafficPolicies));
  const hc = spec['healthCheckNodePort'];
  if (!needsHealthCheck(spec)) {
    if (hc) errs.push(invalidValue('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  } else if (!hc) errs.push(required('spec.healthCheckNodePort'));
  else if (!isValidPortNum(hc)) errs.push(invalidValue('spec.healthCheckNodePort', hc, 'must be between 1 and 65535, inclusive'));
  // internal traffic policy
  const itp = spec['internalTrafficPolicy'];
  if (itp === undefined || itp === null) {
    if (type === 'NodePort' || type === 'LoadBalancer' || type === 'ClusterIP') errs.push(required('spec.internalTrafficPolicy'));
  } else if (!trafficPolicies.includes(itp)) errs.push(notSupported('spec.internalTrafficPolicy', itp, trafficPolicies));
  const td = spec['trafficDistribution'];
  if (td !== undefined && td !== null && td !== 'PreferClose') errs.push(notSupported('spec.trafficDistribution', td, ['PreferClose']));
  return errs;
}

/** Upstream validateUpgradeDowngradeClusterIPs / IPFamilies, and the update-only immutabilities. */
function validateServiceUpdate(svc: KubeObject, old: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  const spec = obj(svc['spec']);
  const o = obj(old['spec']);
  if (spec['type'] !== 'ExternalName' && o['type'] !== 'ExternalName') {
    const nh = isHeadless(spec);
    const oh = isHeadless(o);
    const ips = arr(spec['clusterIPs']);
    const oips = arr(o['clusterIPs']);
    if (!(oh && nh)) {
      if (oips.length === ips.length) {
        oips.forEach((ip, i) => {
          if (ip !== ips[i]) errs.push(invalidValue(`spec.clusterIPs[${i}]`, ips, 'may not change once set'));
        });
      } else if (oips.length > ips.length) {
        if (ips.length === 0) errs.push(invalidValue('spec.clusterIPs[0]', ips, 'primary clusterIP can not be unset'));
        if (oips.length > 0 && ips.length > 0 && ips[0] !== oips[0]) errs.push(invalidValue('spec.clusterIPs[0]', ips, 'may not change once set'));
        if (ips.length === 1 && spec['ipFamilyPolicy'] !== 'SingleStack') {
          errs.push(invalidValue('spec.ipFamilyPolicy', spec['ipFamilyPolicy'] ?? null, "must be set to 'SingleStack' when releasing the secondary clusterIP"));
        }
      } else if (oips.length > 0 && ips[0] !== oips[0]) {
        errs.push(invalidValue('spec.clusterIPs[0]', ips, 'may not change once set'));
      }
    }
    if (nh === oh && !nh) {
      const fams = arr(spec['ipFamilies']);
      const ofams = arr(o['ipFamilies']);
      if (ofams.length === fams.length) {
        if (ofams.some((f, i) => f !== fams[i])) errs.push(invalidValue('spec.ipFamilies[0]', fams, 'may not change once set'));
      } else if (ofams.length > fams.length) {
        if (ips.length === 0) errs.push(invalidValue('spec.ipFamilies[0]', fams, 'primary ipFamily can not be unset'));
        if (fams.length > 0 && fams[0] !== ofams[0]) errs.push(invalidValue('spec.ipFamilies[0]', ips, 'may not change once set'));
        if (fams.length === 1 && spec['ipFamilyPolicy'] !== 'SingleStack') {
          errs.push(invalidValue('spec.ipFamilyPolicy', spec['ipFamilyPolicy'] ?? null, "must be set to 'SingleStack' when releasing the secondary ipFamily"));
        }
      } else if (ofams.length > 0 && fams.length > 0 && fams[0] !== ofams[0]) {
        errs.push(invalidValue('spec.ipFamilies[0]', ips, 'may not change once set'));
      }
    }
  }
  if (o['type'] === 'LoadBalancer' && spec['type'] === 'LoadBalancer' && (o['loadBalancerClass'] ?? null) !== (spec['loadBalancerClass'] ?? null)) {
    errs.push(invalidValue('spec.loadBalancerClass', spec['loadBalancerClass'] ?? null, 'may not change once set'));
  }
  if (needsHealthCheck(o) && needsHealthCheck(spec) && o['healthCheckNodePort'] !== spec['healthCheckNodePort']) {
    errs.push(forbidden('spec.healthCheckNodePort', 'field is immutable'));
  }
  return errs;
}

/** Upstream ValidateLoadBalancerStatus, for status updates. */
function validateServiceStatus(svc: KubeObject): StatusCause[] {
  const errs: StatusCause[] = [];
  const spec = obj(svc['spec']);
  const ingress = arr(obj(obj(svc['status'])['loadBalancer'])['ingress']);
  const path = 'status.loadBalancer.ingress';
  if (spec['type'] !== 'LoadBalancer' && ingress.length) return [forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'")];
  ingress.forEach((raw, i) => {
    const ing = obj(raw);
    const p = `${path}[${i}]`;
    if (ing['ip']) errs.push(...validateIP(`${p}.ip`, ing['ip']));
    if (!ing['ipMode']) {
      if (ing['ip']) errs.push(required(`${p}.ipMode`, 'must be specified when `ip` is set'));
    } else if (!ing['ip']) errs.push(forbidden(`${p}.ipMode`, 'may not be specified when `ip` is not set'));
    else if (!['Proxy', 'VIP'].includes(ing['ipMode'])) errs.push(notSupported(`${p}.ipMode`, ing['ipMode'], ['Proxy', 'VIP']));
    if (ing['hostname']) {
      for (const m of isDNS1123Subdomain(str(ing['hostname']))) errs.push(invalidValue(`${p}.hostname`, ing['hostname'], m));
      if (parseIP(str(ing['hostname']))) errs.push(invalidValue(`${p}.hostname`, ing['hostname'], 'must be a DNS name, not an IP address'));
    }
  });
  return errs;
}

export function validateService(svc: KubeObject, ctx: { old?: KubeObject; subresource: string }): StatusCause[] {
  if (ctx.subresource === 'status') return validateServiceStatus(svc);
  return [...(ctx.old ? validateServiceUpdate(svc, ctx.old) : []), ...validateServiceSpec(svc)];
}

// ---- table -------------------------------------------------------------------------------------

function externalIPCell(spec: J, status: J): string {
  const external = arr(spec['externalIPs']).map(String);
  switch (spec['type']) {
    case 'ClusterIP':
    case 'NodePort':
      return external.length ? external.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = new Set<string>();
      for (const ing of arr(obj(status['loadBalancer'])['ingress'])) {
        const o = obj(ing);
        if (o['ip']) lb.add(String(o['ip']));
        else if (o['hostname']) lb.add(String(o['hostname']));
      }
      const lbs = [...lb].sort();
      if (external.length) return [...lbs, ...external].join(',');
      return lbs.length ? lbs.join(',') : '<pending>';
    }
    case 'ExternalName':
      return str(spec['externalName']);
  }
  return '<unknown>';
}

function portsCell(ports: unknown[]): string {
  const s = ports
    .map((raw) => {
      const p = obj(raw);
      return p['nodePort'] ? `${p['port'] ?? 0}:${p['nodePort']}/${str(p['protocol'])}` : `${p['port'] ?? 0}/${str(p['protocol'])}`;
    })
    .join(',');
  return s || '<none>';
}

export const serviceTable: TableDef = {
  columns: [
    nameColumn,
    col('Type', 'How the Service is exposed (ClusterIP, NodePort, LoadBalancer, ExternalName).'),
    col('Cluster-IP', 'The primary cluster IP of the Service.'),
    col('External-IP', 'Addresses the Service is reachable on from outside the cluster.'),
    col('Port(s)', 'The ports the Service exposes (port[:nodePort]/protocol).'),
    ageColumn,
    col('Selector', 'The label selector that picks the Service backends.', 1),
  ],
  row(svc, now) {
    const spec = obj(svc['spec']);
    const ips = arr(spec['clusterIPs']);
    return [
      svc.metadata.name ?? '',
      str(spec['type']),
      ips.length ? String(ips[0]) : '<none>',
      externalIPCell(spec, obj(svc['status'])),
      portsCell(arr(spec['ports'])),
      ageOf(svc, now),
      labelsCell(isObj(spec['selector']) ? (spec['selector'] as Record<string, string>) : undefined),
    ];
  },
};

// ---- allocation --------------------------------------------------------------------------------

export interface ServiceAllocationOptions {
  /** One CIDR, or two comma-separated (dual-stack); the first is the primary family. */
  serviceCIDR: string;
  /** Inclusive node port range. */
  nodePortRange: [number, number];
}

/**
 * Upstream's split of a range into a low band for requested values and a high band that dynamic
 * allocation uses first: min(max(lo, size/step), hi).
 */
function bandOffset(size: bigint, lo: bigint, hi: bigint, step: bigint): bigint {
  if (size <= lo) return 0n;
  const o = size / step;
  if (o < lo) return lo;
  if (o > hi) return hi;
  return o;
}

interface IPRange {
  cidr: ParsedCIDR;
  /** First and last usable addresses (the network address, and IPv4 broadcast, excluded). */
  first: bigint;
  last: bigint;
  text: string;
}

function rangeOf(c: ParsedCIDR): IPRange {
  const last = c.family === 'IPv4' && c.size > 2n ? c.base + c.size - 2n : c.base + c.size - 1n;
  return { cidr: c, first: c.base + 1n, last, text: formatCIDR(c) };
}

function isKubernetesService(svc: KubeObject): boolean {
  return svc.metadata.name === 'kubernetes' && (svc.metadata.namespace ?? 'default') === 'default';
}

function allocError(field: string, value: unknown, detail: string): StatusCause {
  return invalidValue(field, value, detail);
}

/**
 * Assigns spec.clusterIP/clusterIPs (unless ExternalName or headless) and node ports (NodePort and
 * LoadBalancer, plus healthCheckNodePort for LoadBalancer with externalTrafficPolicy Local) in
 * place, choosing values no other Service in `existing` holds, and checks requested values are in
 * range and free. The Service's own stored version (same namespace and name) does not count as
 * holding anything, so the same call serves create and update.
 *
 * Dynamic cluster IPs come from the upper band of the range first (as upstream does), lowest free
 * first, so well-known requested addresses such as the DNS service's .10 stay free; the
 * `default/kubernetes` Service gets the first address. Returns causes shaped as upstream's errors;
 * on any error the Service may be partly assigned and must not be stored.
 */
export function allocateServiceAddresses(svc: KubeObject, existing: Iterable<KubeObject>, opts: ServiceAllocationOptions): StatusCause[] {
  const spec = ensureObj(svc, 'spec');
  const ranges = new Map<IPFamily, IPRange>();
  let primary: IPFamily | undefined;
  for (const part of opts.serviceCIDR.split(',').map((s) => s.trim()).filter(Boolean)) {
    const c = parseCIDR(part);
    if (!c) return [fieldError('InternalError', 'spec.clusterIPs', `Internal error: invalid service CIDR ${JSON.stringify(part)}`)];
    if (!ranges.has(c.family)) ranges.set(c.family, rangeOf(c));
    primary ??= c.family;
  }
  const usedIPs = new Set<string>();
  const usedPorts = new Set<number>();
  for (const o of existing) {
    if (sameObject(o, svc)) continue;
    const s = obj(o['spec']);
    const ips = arr(s['clusterIPs']).length ? arr(s['clusterIPs']) : [s['clusterIP']];
    for (const ip of ips) {
      const c = typeof ip === 'string' ? canonicalIP(ip) : undefined;
      if (c) usedIPs.add(c);
    }
    for (const p of nodePortsOf(s)) usedPorts.add(p);
    if (s['healthCheckNodePort']) usedPorts.add(s['healthCheckNodePort']);
  }
  const errs: StatusCause[] = [];
  if (spec['type'] !== 'ExternalName') errs.push(...allocateClusterIPs(svc, spec, ranges, primary, usedIPs));
  if (errs.length) return errs;
  const mine = new Set<number>();
  if (needsNodePort(spec)) errs.push(...allocateNodePorts(spec, opts.nodePortRange, usedPorts, mine));
  if (!errs.length && needsHealthCheck(spec)) errs.push(...allocateHealthCheckPort(spec, opts.nodePortRange, usedPorts, mine));
  return errs;
}

function allocateClusterIPs(svc: KubeObject, spec: J, ranges: Map<IPFamily, IPRange>, primary: IPFamily | undefined, used: Set<string>): StatusCause[] {
  const ips: string[] = Array.isArray(spec['clusterIPs']) ? spec['clusterIPs'] : [];
  if (ips[0] === 'None' || spec['clusterIP'] === 'None') return [];
  const families: string[] = Array.isArray(spec['ipFamilies']) ? [...spec['ipFamilies']] : [];
  const policy = spec['ipFamilyPolicy'] ?? 'SingleStack';
  const errs: StatusCause[] = [];
  if (policy === 'RequireDualStack' && ranges.size < 2) {
    errs.push(invalidValue('spec.ipFamilyPolicy', policy, 'this cluster is not configured for dual-stack services'));
  }
  families.forEach((f, i) => {
    if (!ranges.has(f as IPFamily)) errs.push(invalidValue(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
  });
  if (errs.length) return errs;
  if (families.length === 0 && primary) families.push(primary);
  if (policy !== 'SingleStack' && families.length === 1 && ranges.size === 2) families.push(altFamily(families[0] as IPFamily));
  spec['ipFamilies'] = families;
  const out = [...ips];
  for (let i = 0; i < families.length; i++) {
    const range = ranges.get(families[i] as IPFamily)!;
    const requested = typeof out[i] === 'string' ? out[i]! : '';
    if (requested) {
      const ip = parseIP(requested);
      if (!ip || !cidrContains(range.cidr, ip) || ip.value < range.first || ip.value > range.last) {
        return [
          allocError(
            'spec.clusterIPs',
            ips,
            `failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${range.text}`,
          ),
        ];
      }
      if (used.has(formatIP(ip))) return [allocError('spec.clusterIPs', ips, `failed to allocate IP ${requested}: provided IP is already allocated`)];
      continue;
    }
    const next = i === 0 && isKubernetesService(svc) && !used.has(formatIP({ family: range.cidr.family, value: range.first }))
      ? range.first
      : nextFreeIP(range, used);
    if (next === undefined) {
      return [fieldError('InternalError', 'spec.clusterIPs', `Internal error: failed to allocate a serviceIP for Service ${JSON.stringify(svc.metadata.name ?? '')}: range is full`)];
    }
    out[i] = formatIP({ family: range.cidr.family, value: next });
  }
  spec['clusterIPs'] = out;
  spec['clusterIP'] = out[0];
  return [];
}

function nextFreeIP(range: IPRange, used: Set<string>): bigint | undefined {
  const count = range.last - range.first + 1n;
  if (count <= 0n) return undefined;
  const offset = bandOffset(range.cidr.size, 16n, 256n, 16n);
  const fam = range.cidr.family;
  const scan = (from: bigint, to: bigint): bigint | undefined => {
    for (let v = from; v <= to; v++) if (!used.has(formatIP({ family: fam, value: v }))) return v;
    return undefined;
  };
  const split = range.first + (offset < count ? offset : 0n);
  return scan(split, range.last) ?? (split > range.first ? scan(range.first, split - 1n) : undefined);
}

function portRangeText(r: [number, number]): string {
  return `${r[0]}-${r[1]}`;
}

function checkRequestedPort(port: number, r: [number, number], used: Set<number>): string | undefined {
  if (!Number.isInteger(port) || port < r[0] || port > r[1]) {
    return `provided port is not in the valid range. The range of valid ports is ${portRangeText(r)}`;
  }
  if (used.has(port)) return 'provided port is already allocated';
  return undefined;
}

function nextFreePort(r: [number, number], used: Set<number>, mine: Set<number>): number | undefined {
  const size = r[1] - r[0] + 1;
  const offset = Number(bandOffset(BigInt(size), 16n, 128n, 32n));
  const free = (p: number) => !used.has(p) && !mine.has(p);
  for (let p = r[0] + offset; p <= r[1]; p++) if (free(p)) return p;
  for (let p = r[0]; p < r[0] + offset; p++) if (free(p)) return p;
  return undefined;
}

function allocateNodePorts(spec: J, r: [number, number], used: Set<number>, mine: Set<number>): StatusCause[] {
  const ports = arr(spec['ports']);
  const allocate = shouldAllocateNodePorts(spec);
  const byServicePort = new Map<unknown, number>();
  for (let i = 0; i < ports.length; i++) {
    const p = obj(ports[i]);
    if (!p['nodePort'] && !allocate) continue;
    const field = `spec.ports[${i}].nodePort`;
    let want: number = p['nodePort'] || byServicePort.get(p['port']) || 0;
    if (!want) {
      // A port number served over several protocols shares one node port; honour a request made on a later entry.
      for (let j = i + 1; j < ports.length; j++) {
        const q = obj(ports[j]);
        if (q['port'] === p['port'] && q['nodePort']) {
          want = q['nodePort'];
          break;
        }
      }
    }
    if (want) {
      if (!mine.has(want)) {
        const err = checkRequestedPort(want, r, used);
        if (err) return [invalidValue(field, want, err)];
        mine.add(want);
      }
      p['nodePort'] = want;
    } else {
      const next = nextFreePort(r, used, mine);
      if (next === undefined) return [fieldError('InternalError', field, 'Internal error: failed to allocate a nodePort: range is full')];
      mine.add(next);
      p['nodePort'] = next;
    }
    if (!byServicePort.has(p['port'])) byServicePort.set(p['port'], p['nodePort']);
  }
  return [];
}

function allocateHealthCheckPort(spec: J, r: [number, number], used: Set<number>, mine: Set<number>): StatusCause[] {
  const want = spec['healthCheckNodePort'];
  if (want) {
    const err = checkRequestedPort(want, r, used) ?? (mine.has(want) ? 'provided port is already allocated' : undefined);
    return err ? [invalidValue('spec.healthCheckNodePort', want, `failed to allocate requested HealthCheck NodePort ${want}: ${err}`)] : [];
  }
  const next = nextFreePort(r, used, mine);
  if (next === undefined) return [fieldError('InternalError', 'spec.healthCheckNodePort', 'Internal error: failed to allocate a HealthCheck NodePort: range is full')];
  mine.add(next);
  spec['healthCheckNodePort'] = next;
  return [];
}
