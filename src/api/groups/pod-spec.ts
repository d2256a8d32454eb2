/**
 * The pod spec as upstream core/v1 treats it, for every kind that embeds one (Pods, PodTemplates,
 * ReplicationControllers, the apps and batch workloads):
 * - defaulting: SetDefaults_PodSpec and the nested defaulters (containers, ports, env, probes,
 *   lifecycle handlers, volume sources, resource lists rounded to milli and printed canonically),
 *   the v1 conversion's serviceAccount/serviceAccountName mirror; `defaultPod` adds what only Pods
 *   get (SetDefaults_Pod: requests from limits, enableServiceLinks, host-network host ports) and
 *   the podIP/podIPs, hostIP/hostIPs mirror of the status conversion;
 * - fields of features that are off by default in 1.33 dropped on write (DropDisabledPodFields);
 * - the QoS class (upstream ComputePodQOS);
 * - validation: ValidatePodSpec / ValidatePodTemplateSpec with upstream field paths and messages,
 *   the pod update rules (ValidatePodUpdate) and status update rules (ValidatePodStatusUpdate).
 *
 * Everything here is a pure function over plain JSON; defaulting is idempotent and in place.
 * Validation returns causes in upstream's order where it is deterministic (map keys are walked in
 * sorted order where Go's are random).
 */
import type { StatusCause } from '../types.ts';
import {
  duplicate,
  forbidden,
  invalidValue,
  isDNS1123Label,
  isDNS1123Subdomain,
  isLabelValue,
  isQualifiedName,
  isValidPortName,
  jsonEqual,
  notFoundField,
  notSupported,
  required,
  tooMany,
  validateAnnotations,
  validateLabels,
} from '../validation.ts';
import { compareQuantity, parseQuantity } from '../quantity.ts';
import {
  arr,
  clone,
  ensureObj,
  isConfigMapKey,
  isHugePageResourceName,
  isObj,
  isOvercommitAllowed,
  obj,
  str,
  validateContainerResourceName,
  validateResourceQuantityValue,
  type J,
} from './core-common.ts';
import { validateIP } from './core-net.ts';
import { canonicalResourceList, roundUpToMilli } from './quantity-canonical.ts';
import { inclusiveRange, isInt, validateNonnegative } from './workload-common.ts';
import { podQOSClass, type QOSClass } from '../podresources.ts';
import type { PodSpec } from '../index.ts';

/** Options for `validatePodSpec`. */
export interface PodSpecValidationOptions {
  /** The spec belongs to a Pod (not a template): pod-only rules apply. */
  isPod?: boolean;
}

const has = (o: J, k: string): boolean => o[k] !== undefined && o[k] !== null;

const maxInt32 = 2147483647;
const fileModeMessage = 'must be a number between 0 and 0777 (octal), both inclusive';

// ---- defaulting ----------------------------------------------------------------------------------

/** The tag upstream's ParseImageName finds: explicit tag, '' for digest-only or unparseable, else 'latest'. */
export function imageTag(image: string): string {
  if (!image || /\s/.test(image) || image !== image.trim()) return '';
  let ref = image;
  let digest = '';
  const at = ref.indexOf('@');
  if (at >= 0) {
    digest = ref.slice(at + 1);
    ref = ref.slice(0, at);
    if (!/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(digest)) return '';
  }
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  let tag = '';
  let name = ref;
  if (colon > slash) {
    tag = ref.slice(colon + 1);
    name = ref.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) return '';
  }
  // the repository path (after an optional registry host) must be lower case
  const parts = name.split('/');
  const path = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!) ? parts.slice(1) : parts;
  if (!path.length || path.some((p) => !/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(p))) return '';
  if (!tag && !digest) return 'latest';
  return tag;
}

function defaultHTTPGet(h: unknown): void {
  if (!isObj(h)) return;
  if (!h['path']) h['path'] = '/';
  if (!h['scheme']) h['scheme'] = 'HTTP';
}

function defaultProbe(p: unknown): void {
  if (!isObj(p)) return;
  if (!p['timeoutSeconds']) p['timeoutSeconds'] = 1;
  if (!p['periodSeconds']) p['periodSeconds'] = 10;
  if (!p['successThreshold']) p['successThreshold'] = 1;
  if (!p['failureThreshold']) p['failureThreshold'] = 3;
  defaultHTTPGet(p['httpGet']);
  if (isObj(p['grpc']) && !has(p['grpc'], 'service')) p['grpc']['service'] = '';
}

function defaultFieldRef(ref: unknown): void {
  if (isObj(ref) && !ref['apiVersion']) ref['apiVersion'] = 'v1';
}

function defaultContainer(c: J): void {
  if (!c['imagePullPolicy']) c['imagePullPolicy'] = imageTag(str(c['image'])) === 'latest' ? 'Always' : 'IfNotPresent';
  if (!c['terminationMessagePath']) c['terminationMessagePath'] = '/dev/termination-log';
  if (!c['terminationMessagePolicy']) c['terminationMessagePolicy'] = 'File';
  for (const p of arr(c['ports'])) if (isObj(p) && !p['protocol']) p['protocol'] = 'TCP';
  for (const e of arr(c['env'])) if (isObj(e) && isObj(e['valueFrom'])) defaultFieldRef(e['valueFrom']['fieldRef']);
  const res = ensureObj(c, 'resources');
  if (isObj(res['limits'])) canonicalResourceList(res['limits']);
  if (isObj(res['requests'])) canonicalResourceList(res['requests']);
  defaultProbe(c['livenessProbe']);
  defaultProbe(c['readinessProbe']);
  defaultProbe(c['startupProbe']);
  const lc = c['lifecycle'];
  if (isObj(lc)) {
    if (isObj(lc['postStart'])) defaultHTTPGet(lc['postStart']['httpGet']);
    if (isObj(lc['preStop'])) defaultHTTPGet(lc['preStop']['httpGet']);
  }
}

/** Every volume source field of core/v1 Volume. */
export const volumeSources = [
  'hostPath',
  'emptyDir',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'secret',
  'nfs',
  'iscsi',
  'glusterfs',
  'persistentVolumeClaim',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'downwardAPI',
  'fc',
  'azureFile',
  'configMap',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'projected',
  'portworxVolume',
  'scaleIO',
  'storageos',
  'csi',
  'ephemeral',
  'image',
] as const;

function setIfAbsent(o: J, k: string, v: unknown): void {
  if (!has(o, k)) o[k] = v;
}

function defaultVolume(v: J): void {
  if (!volumeSources.some((k) => has(v, k))) v['emptyDir'] = {};
  const s = v;
  if (isObj(s['hostPath'])) setIfAbsent(s['hostPath'], 'type', '');
  if (isObj(s['emptyDir']) && has(s['emptyDir'], 'sizeLimit')) {
    const c = roundUpToMilli(s['emptyDir']['sizeLimit']);
    if (c !== undefined) s['emptyDir']['sizeLimit'] = c;
  }
  if (isObj(s['secret'])) setIfAbsent(s['secret'], 'defaultMode', 420);
  if (isObj(s['configMap'])) setIfAbsent(s['configMap'], 'defaultMode', 420);
  if (isObj(s['downwardAPI'])) {
    setIfAbsent(s['downwardAPI'], 'defaultMode', 420);
    for (const it of arr(s['downwardAPI']['items'])) if (isObj(it)) defaultFieldRef(it['fieldRef']);
  }
  if (isObj(s['projected'])) {
    setIfAbsent(s['projected'], 'defaultMode', 420);
    for (const src of arr(s['projected']['sources'])) {
      if (!isObj(src)) continue;
      if (isObj(src['downwardAPI'])) for (const it of arr(src['downwardAPI']['items'])) if (isObj(it)) defaultFieldRef(it['fieldRef']);
      if (isObj(src['serviceAccountToken'])) setIfAbsent(src['serviceAccountToken'], 'expirationSeconds', 3600);
    }
  }
  if (isObj(s['iscsi']) && !s['iscsi']['iscsiInterface']) s['iscsi']['iscsiInterface'] = 'default';
  if (isObj(s['rbd'])) {
    if (!s['rbd']['pool']) s['rbd']['pool'] = 'rbd';
    if (!s['rbd']['user']) s['rbd']['user'] = 'admin';
    if (!s['rbd']['keyring']) s['rbd']['keyring'] = '/etc/ceph/keyring';
  }
  if (isObj(s['azureDisk'])) {
    setIfAbsent(s['azureDisk'], 'cachingMode', 'ReadWrite');
    setIfAbsent(s['azureDisk'], 'fsType', 'ext4');
    setIfAbsent(s['azureDisk'], 'readOnly', false);
    setIfAbsent(s['azureDisk'], 'kind', 'Shared');
  }
  if (isObj(s['scaleIO'])) {
    if (!s['scaleIO']['storageMode']) s['scaleIO']['storageMode'] = 'ThinProvisioned';
    if (!s['scaleIO']['fsType']) s['scaleIO']['fsType'] = 'xfs';
  }
  if (isObj(s['ephemeral']) && isObj(s['ephemeral']['volumeClaimTemplate'])) {
    defaultClaimSpec(ensureObj(s['ephemeral']['volumeClaimTemplate'], 'spec'));
  }
}

/** SetDefaults_PersistentVolumeClaimSpec plus the resource lists (for ephemeral and StatefulSet claim templates). */
export function defaultClaimSpec(spec: J): void {
  if (!has(spec, 'volumeMode')) spec['volumeMode'] = 'Filesystem';
  const res = ensureObj(spec, 'resources');
  if (isObj(res['limits'])) canonicalResourceList(res['limits']);
  if (isObj(res['requests'])) canonicalResourceList(res['requests']);
}

/**
 * SetDefaults_PodSpec and everything nested in a pod spec (what templates get). In place,
 * idempotent.
 */
export function defaultPodSpec(spec: J): void {
  if (!spec['dnsPolicy']) spec['dnsPolicy'] = 'ClusterFirst';
  if (!spec['restartPolicy']) spec['restartPolicy'] = 'Always';
  if (!isObj(spec['securityContext'])) spec['securityContext'] = {};
  if (!has(spec, 'terminationGracePeriodSeconds')) spec['terminationGracePeriodSeconds'] = 30;
  if (!spec['schedulerName']) spec['schedulerName'] = 'default-scheduler';
  // v1 conversion: serviceAccountName wins, and the deprecated serviceAccount mirrors it
  if (!spec['serviceAccountName'] && spec['serviceAccount']) spec['serviceAccountName'] = spec['serviceAccount'];
  if (spec['serviceAccountName']) spec['serviceAccount'] = spec['serviceAccountName'];
  else delete spec['serviceAccount'];
  for (const v of arr(spec['volumes'])) if (isObj(v)) defaultVolume(v);
  for (const c of arr(spec['initContainers'])) if (isObj(c)) defaultContainer(c);
  for (const c of arr(spec['containers'])) if (isObj(c)) defaultContainer(c);
  for (const c of arr(spec['ephemeralContainers'])) if (isObj(c)) defaultContainer(c);
  if (isObj(spec['overhead'])) canonicalResourceList(spec['overhead']);
}

/** A pod template: `metadata` and `spec` present (Go always prints the structs), spec defaulted. */
export function defaultPodTemplateSpec(tpl: J): void {
  ensureObj(tpl, 'metadata');
  defaultPodSpec(ensureObj(tpl, 'spec'));
}

/** Requests default to limits, for pods only (upstream SetDefaults_Pod). */
function requestsFromLimits(c: J): void {
  const res = ensureObj(c, 'resources');
  if (!isObj(res['limits'])) return;
  const req = ensureObj(res, 'requests');
  for (const [k, v] of Object.entries(res['limits'] as J)) if (!has(req, k)) req[k] = clone(v);
}

/** The v1 status conversion: podIP is podIPs[0] (podIP wins when they differ); likewise hostIP. */
function mirrorIPs(status: J, single: 'podIP' | 'hostIP', plural: 'podIPs' | 'hostIPs'): void {
  const list = arr(status[plural]).filter(isObj);
  const one = str(status[single]);
  if (one && (!list.length || str(list[0]!['ip']) !== one)) status[plural] = [{ ip: one }];
  else if (!one && list.length) status[single] = str(list[0]!['ip']);
  if (!arr(status[plural]).length) delete status[plural];
  if (!status[single]) delete status[single];
}

/** A whole Pod: SetDefaults_Pod, the pod spec, and the status IP mirrors. In place, idempotent. */
export function defaultPod(pod: J): void {
  const spec = ensureObj(pod, 'spec');
  for (const c of arr(spec['containers'])) if (isObj(c)) requestsFromLimits(c);
  for (const c of arr(spec['initContainers'])) if (isObj(c)) requestsFromLimits(c);
  if (!has(spec, 'enableServiceLinks')) spec['enableServiceLinks'] = true;
  if (spec['hostNetwork'] === true) {
    for (const c of [...arr(spec['containers']), ...arr(spec['initContainers'])]) {
      for (const p of arr(obj(c)['ports'])) if (isObj(p) && !p['hostPort']) p['hostPort'] = p['containerPort'];
    }
  }
  defaultPodSpec(spec);
  if (isObj(pod['status'])) {
    mirrorIPs(pod['status'], 'podIP', 'podIPs');
    mirrorIPs(pod['status'], 'hostIP', 'hostIPs');
  }
}

// ---- fields of features off by default in 1.33 ------------------------------------------------------

function usesPodLevelResources(spec: J | undefined): boolean {
  return !!spec && isObj(spec['resources']);
}

function usesResourceClaims(spec: J | undefined): boolean {
  if (!spec) return false;
  if (arr(spec['resourceClaims']).length) return true;
  return [...arr(spec['containers']), ...arr(spec['initContainers'])].some((c) => arr(obj(obj(c)['resources'])['claims']).length > 0);
}

function usesStopSignal(spec: J | undefined): boolean {
  if (!spec) return false;
  return [...arr(spec['containers']), ...arr(spec['initContainers']), ...arr(spec['ephemeralContainers'])].some((c) =>
    has(obj(obj(c)['lifecycle']), 'stopSignal'),
  );
}

function usesImageVolumes(spec: J | undefined): boolean {
  return !!spec && arr(spec['volumes']).some((v) => isObj(v) && has(v, 'image'));
}

/**
 * Upstream DropDisabledPodFields for the gates that are off in 1.33 (PodLevelResources,
 * DynamicResourceAllocation, ContainerStopSignals, ImageVolume): their fields are dropped from a
 * written spec unless the stored spec already uses them.
 */
export function dropDisabledPodSpecFields(spec: J, oldSpec?: J): void {
  if (!usesPodLevelResources(oldSpec)) delete spec['resources'];
  if (!usesResourceClaims(oldSpec)) {
    delete spec['resourceClaims'];
    for (const c of [...arr(spec['containers']), ...arr(spec['initContainers']), ...arr(spec['ephemeralContainers'])]) {
      if (isObj(c) && isObj(c['resources'])) delete c['resources']['claims'];
    }
  }
  if (!usesStopSignal(oldSpec)) {
    for (const c of [...arr(spec['containers']), ...arr(spec['initContainers']), ...arr(spec['ephemeralContainers'])]) {
      if (isObj(c) && isObj(c['lifecycle'])) delete c['lifecycle']['stopSignal'];
    }
  }
  if (!usesImageVolumes(oldSpec) && Array.isArray(spec['volumes'])) {
    spec['volumes'] = spec['volumes'].filter((v: unknown) => !(isObj(v) && has(v, 'image')));
    if (!spec['volumes'].length) delete spec['volumes'];
  }
}

// ---- QoS ------------------------------------------------------------------------------------------

/** Upstream ComputePodQOS over init and regular containers (cpu and memory only). */
export function computeQOSClass(spec: J): QOSClass {
  return podQOSClass(spec as PodSpec);
}

// ---- validation: small pieces ---------------------------------------------------------------------

function dns1123Label(v: unknown, path: string): StatusCause[] {
  return isDNS1123Label(str(v)).map((m) => invalidValue(path, v, m));
}

function dns1123Subdomain(v: unknown, path: string): StatusCause[] {
  return isDNS1123Subdomain(str(v)).map((m) => invalidValue(path, v, m));
}

function qualifiedName(v: unknown, path: string): StatusCause[] {
  return isQualifiedName(str(v)).map((m) => invalidValue(path, v, m));
}

function portNumber(v: unknown, path: string): StatusCause[] {
  return isInt(v) && v >= 1 && v <= 65535 ? [] : [invalidValue(path, v, inclusiveRange(1, 65535))];
}

function fileMode(v: unknown, path: string): StatusCause[] {
  if (v === undefined || v === null) return [];
  return isInt(v) && v >= 0 && v <= 0o777 ? [] : [invalidValue(path, v, fileModeMessage)];
}

const relaxedEnvNameMessage = "a valid environment variable name must consist only of printable ASCII characters other than '='";

/** Upstream IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is on in 1.33). */
function envVarName(v: unknown, path: string): StatusCause[] {
  const s = str(v);
  const errs: StatusCause[] = [];
  if (!s) errs.push(invalidValue(path, v ?? '', 'environment variable name must be non-empty'));
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (code < 32 || code > 126 || ch === '=') {
      errs.push(invalidValue(path, v, relaxedEnvNameMessage));
      break;
    }
  }
  return errs;
}

/** Upstream validateLocalDescendingPath: relative, no '..' element. */
function localDescendingPath(p: string, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  if (p.startsWith('/')) errs.push(invalidValue(path, p, 'must be a relative path'));
  if (p.split(/[\\/]/).includes('..')) errs.push(invalidValue(path, p, "must not contain '..'"));
  return errs;
}

/** Upstream validateLocalNonReservedPath: a descending path that does not start with '..'. */
function localNonReservedPath(p: string, path: string): StatusCause[] {
  const errs = localDescendingPath(p, path);
  if (p.startsWith('..')) errs.push(invalidValue(path, p, "must not start with '..'"));
  return errs;
}

/** Upstream ValidateNonnegativeQuantity-like checks for a resource list (names and values). */
function validateResourceList(list: unknown, path: string, nameCheck: (name: string, p: string) => StatusCause[]): StatusCause[] {
  const errs: StatusCause[] = [];
  for (const name of Object.keys(obj(list)).sort()) {
    const p = `${path}[${name}]`;
    errs.push(...nameCheck(name, p), ...validateResourceQuantityValue(name, obj(list)[name], p));
  }
  return errs;
}

/** Upstream ValidateResourceRequirements for a container. */
function validateResources(res: unknown, path: string): StatusCause[] {
  const r = obj(res);
  const limits = obj(r['limits']);
  const requests = obj(r['requests']);
  const limPath = `${path}.limits`;
  const reqPath = `${path}.requests`;
  const errs: StatusCause[] = [];
  let limCpuMem = false;
  let reqCpuMem = false;
  let hugePages = false;
  for (const name of Object.keys(limits).sort()) {
    const p = `${limPath}[${name}]`;
    errs.push(...validateContainerResourceName(name, p), ...validateResourceQuantityValue(name, limits[name], p));
    if (isHugePageResourceName(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') limCpuMem = true;
  }
  for (const name of Object.keys(requests).sort()) {
    const p = `${reqPath}[${name}]`;
    const q = requests[name];
    errs.push(...validateContainerResourceName(name, p), ...validateResourceQuantityValue(name, q, p));
    if (name in limits) {
      const lim = limits[name];
      if (parseQuantity(q) !== undefined && parseQuantity(lim) !== undefined) {
        const cmp = compareQuantity(q, lim);
        if (cmp !== 0 && !isOvercommitAllowed(name)) {
          errs.push(invalidValue(reqPath, String(q), `must be equal to ${name} limit of ${String(lim)}`));
        } else if (cmp > 0) {
          errs.push(invalidValue(reqPath, String(q), `must be less than or equal to ${name} limit of ${String(lim)}`));
        }
      }
    } else if (!isOvercommitAllowed(name)) {
      errs.push(required(limPath, 'Limit must be set for non overcommitable resources'));
    }
    if (isHugePageResourceName(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') reqCpuMem = true;
  }
  if (hugePages && !limCpuMem && !reqCpuMem) errs.push(forbidden(path, 'HugePages require cpu or memory'));
  return errs;
}

// ---- validation: containers -------------------------------------------------------------------------

const protocols = ['SCTP', 'TCP', 'UDP'] as const;
const pullPolicies = ['Always', 'IfNotPresent', 'Never'] as const;
const terminationMessagePolicies = ['File', 'FallbackToLogsOnError'] as const;
const envFieldPaths = new Set([
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
]);
const volumeFieldPaths = new Set(['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid']);
const resourceFieldRefResources = [
  'limits.cpu',
  'limits.ephemeral-storage',
  'limits.memory',
  'requests.cpu',
  'requests.ephemeral-storage',
  'requests.memory',
];

function validatePorts(ports: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const names = new Set<string>();
  arr(ports).forEach((raw, i) => {
    const p = obj(raw);
    const at = `${path}[${i}]`;
    const name = str(p['name']);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) for (const m of msgs) errs.push(invalidValue(`${at}.name`, name, m));
      else if (names.has(name)) errs.push(duplicate(`${at}.name`, name));
      else names.add(name);
    }
    if (!p['containerPort']) errs.push(required(`${at}.containerPort`));
    else errs.push(...portNumber(p['containerPort'], `${at}.containerPort`));
    if (p['hostPort']) errs.push(...portNumber(p['hostPort'], `${at}.hostPort`));
    if (!p['protocol']) errs.push(required(`${at}.protocol`));
    else if (!(protocols as readonly string[]).includes(p['protocol'])) errs.push(notSupported(`${at}.protocol`, p['protocol'], protocols));
    if (p['hostIP']) errs.push(...validateIP(`${at}.hostIP`, p['hostIP']));
  });
  return errs;
}

function validateObjectFieldSelector(ref: J, allowed: Set<string>, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  if (!ref['apiVersion']) errs.push(required(`${path}.apiVersion`));
  const fp = str(ref['fieldPath']);
  if (!fp) {
    errs.push(required(`${path}.fieldPath`));
    return errs;
  }
  if (ref['apiVersion'] && ref['apiVersion'] !== 'v1') {
    errs.push(invalidValue(`${path}.fieldPath`, fp, `error converting fieldPath: field label not supported: ${fp}`));
    return errs;
  }
  const sub = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fp);
  if (sub) {
    const key = sub[2]!;
    const msgs = sub[1] === 'labels' ? isQualifiedName(key) : isQualifiedName(key.toLowerCase());
    for (const m of msgs) errs.push(invalidValue(`${path}.fieldPath`, key, m));
    return errs;
  }
  if (!allowed.has(fp)) errs.push(notSupported(`${path}.fieldPath`, fp, [...allowed].sort()));
  return errs;
}

function validateResourceFieldRef(ref: J, path: string, volume: boolean): StatusCause[] {
  const errs: StatusCause[] = [];
  if (volume && !ref['containerName']) errs.push(required(`${path}.containerName`));
  const res = str(ref['resource']);
  if (!res) errs.push(required(`${path}.resource`));
  else if (!resourceFieldRefResources.includes(res) && !res.startsWith('limits.hugepages-') && !res.startsWith('requests.hugepages-')) {
    errs.push(notSupported(`${path}.resource`, res, resourceFieldRefResources));
  }
  if (has(ref, 'divisor')) {
    const d = parseQuantity(ref['divisor']);
    if (d === undefined || d <= 0) errs.push(invalidValue(`${path}.divisor`, ref['divisor'], 'must be a positive quantity'));
  }
  return errs;
}

function validateKeySelector(ref: J, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  for (const m of isDNS1123Subdomain(str(ref['name']))) errs.push(invalidValue(`${path}.name`, ref['name'] ?? '', m));
  const key = str(ref['key']);
  if (!key) errs.push(required(`${path}.key`));
  else for (const m of isConfigMapKey(key)) errs.push(invalidValue(`${path}.key`, key, m));
  return errs;
}

function validateEnv(env: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  arr(env).forEach((raw, i) => {
    const e = obj(raw);
    const at = `${path}[${i}]`;
    if (!e['name']) errs.push(required(`${at}.name`));
    errs.push(...envVarName(e['name'], `${at}.name`));
    if (!isObj(e['valueFrom'])) return;
    const vf = e['valueFrom'];
    const vp = `${at}.valueFrom`;
    let sources = 0;
    if (isObj(vf['fieldRef'])) {
      sources++;
      errs.push(...validateObjectFieldSelector(vf['fieldRef'], envFieldPaths, `${vp}.fieldRef`));
    }
    if (isObj(vf['resourceFieldRef'])) {
      sources++;
      errs.push(...validateResourceFieldRef(vf['resourceFieldRef'], `${vp}.resourceFieldRef`, false));
    }
    if (isObj(vf['configMapKeyRef'])) {
      sources++;
      errs.push(...validateKeySelector(vf['configMapKeyRef'], `${vp}.configMapKeyRef`));
    }
    if (isObj(vf['secretKeyRef'])) {
      sources++;
      errs.push(...validateKeySelector(vf['secretKeyRef'], `${vp}.secretKeyRef`));
    }
    if (sources === 0) errs.push(invalidValue(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (str(e['value'])) errs.push(invalidValue(vp, '', 'may not be specified when `value` is not empty'));
    else if (sources > 1) errs.push(invalidValue(vp, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateEnvFrom(envFrom: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  arr(envFrom).forEach((raw, i) => {
    const e = obj(raw);
    const at = `${path}[${i}]`;
    if (str(e['prefix'])) for (const m of envVarName(e['prefix'], `${at}.prefix`)) errs.push(m);
    let sources = 0;
    for (const k of ['configMapRef', 'secretRef']) {
      if (!isObj(e[k])) continue;
      sources++;
      for (const m of isDNS1123Subdomain(str(e[k]['name']))) errs.push(invalidValue(`${at}.${k}.name`, e[k]['name'] ?? '', m));
    }
    if (sources === 0) errs.push(invalidValue(at, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (sources > 1) errs.push(invalidValue(at, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateVolumeMounts(mounts: unknown, volumes: Map<string, J>, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const seen = new Set<string>();
  arr(mounts).forEach((raw, i) => {
    const m = obj(raw);
    const at = `${path}[${i}]`;
    const name = str(m['name']);
    if (!name) errs.push(required(`${at}.name`));
    if (!volumes.has(name)) errs.push(notFoundField(`${at}.name`, name));
    const mp = str(m['mountPath']);
    if (!mp) errs.push(required(`${at}.mountPath`));
    if (seen.has(mp)) errs.push(invalidValue(`${at}.mountPath`, mp, 'must be unique'));
    seen.add(mp);
    if (str(m['subPath'])) errs.push(...localDescendingPath(str(m['subPath']), `${path}.subPath`));
    if (str(m['subPathExpr'])) {
      if (str(m['subPath'])) errs.push(invalidValue(`${at}.subPathExpr`, m['subPathExpr'], 'subPathExpr and subPath are mutually exclusive'));
      errs.push(...localDescendingPath(str(m['subPathExpr']), `${at}.subPathExpr`));
    }
    if (has(m, 'mountPropagation')) {
      const mode = m['mountPropagation'];
      const supported = ['Bidirectional', 'HostToContainer', 'None'];
      if (!supported.includes(mode)) errs.push(notSupported(`${at}.mountPropagation`, mode, supported));
    }
    if (has(m, 'recursiveReadOnly')) {
      const supported = ['Disabled', 'IfPossible', 'Enabled'];
      if (!supported.includes(m['recursiveReadOnly'])) errs.push(notSupported(`${at}.recursiveReadOnly`, m['recursiveReadOnly'], supported));
      else if (m['recursiveReadOnly'] !== 'Disabled' && m['readOnly'] !== true) {
        errs.push(forbidden(`${at}.recursiveReadOnly`, 'may only be specified when readOnly is true'));
      }
    }
  });
  return errs;
}

/** Upstream validateHandler / validateLifecycleHandler: exactly one action. */
function validateHandler(h: J, path: string, kinds: readonly string[]): StatusCause[] {
  const errs: StatusCause[] = [];
  let count = 0;
  for (const k of kinds) {
    if (!has(h, k)) continue;
    if (count > 0) {
      errs.push(forbidden(`${path}.${k}`, 'may not specify more than 1 handler type'));
      continue;
    }
    count++;
    const a = obj(h[k]);
    const ap = `${path}.${k}`;
    switch (k) {
      case 'exec':
        if (!arr(a['command']).length) errs.push(required(`${ap}.command`));
        break;
      case 'httpGet': {
        if (!a['path']) errs.push(required(`${ap}.path`));
        errs.push(...validatePortNumOrName(a['port'], `${ap}.port`));
        const schemes = ['HTTP', 'HTTPS'];
        if (!schemes.includes(a['scheme'])) errs.push(notSupported(`${ap}.scheme`, a['scheme'] ?? '', schemes));
        arr(a['httpHeaders']).forEach((hdr, j) => {
          const n = str(obj(hdr)['name']);
          if (!/^[-!#$%&'*+.^_`|~0-9A-Za-z]+$/.test(n)) {
            errs.push(invalidValue(`${ap}.httpHeaders[${j}].name`, n, "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')"));
          }
        });
        break;
      }
      case 'tcpSocket':
        errs.push(...validatePortNumOrName(a['port'], `${ap}.port`));
        break;
      case 'grpc':
        errs.push(...portNumber(a['port'], `${ap}.port`));
        break;
      case 'sleep':
        if (!isInt(a['seconds']) || a['seconds'] < 0 || a['seconds'] > 2147483647) {
          errs.push(invalidValue(`${ap}.seconds`, a['seconds'], inclusiveRange(0, 2147483647)));
        }
        break;
    }
  }
  if (count === 0) errs.push(required(path, 'must specify a handler type'));
  return errs;
}

function validatePortNumOrName(port: unknown, path: string): StatusCause[] {
  if (typeof port === 'number') return portNumber(port, path);
  if (typeof port === 'string') {
    if (!port) return [required(path)];
    return isValidPortName(port).map((m) => invalidValue(path, port, m));
  }
  return [required(path)];
}

const probeHandlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const;
const lifecycleHandlers = ['exec', 'httpGet', 'tcpSocket', 'sleep'] as const;

function validateProbe(p: unknown, path: string): StatusCause[] {
  if (!isObj(p)) return [];
  const errs = validateHandler(p, path, probeHandlers);
  for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    errs.push(...validateNonnegative(p[k], `${path}.${k}`));
  }
  if (has(p, 'terminationGracePeriodSeconds') && !(p['terminationGracePeriodSeconds'] > 0)) {
    errs.push(invalidValue(`${path}.terminationGracePeriodSeconds`, p['terminationGracePeriodSeconds'], 'must be greater than 0'));
  }
  return errs;
}

function validateLifecycle(lc: unknown, path: string): StatusCause[] {
  if (!isObj(lc)) return [];
  const errs: StatusCause[] = [];
  for (const k of ['postStart', 'preStop']) if (isObj(lc[k])) errs.push(...validateHandler(lc[k], `${path}.${k}`, lifecycleHandlers));
  return errs;
}

function validateContainerSecurityContext(sc: unknown, path: string): StatusCause[] {
  if (!isObj(sc)) return [];
  const errs: StatusCause[] = [];
  for (const k of ['runAsUser', 'runAsGroup']) errs.push(...validateNonnegative(sc[k], `${path}.${k}`));
  if (sc['allowPrivilegeEscalation'] === false && sc['privileged'] === true) {
    errs.push(invalidValue(path, sc, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
  }
  if (has(sc, 'procMount')) {
    const supported = ['Default', 'Unmasked'];
    if (!supported.includes(sc['procMount'])) errs.push(notSupported(`${path}.procMount`, sc['procMount'], supported));
  }
  return errs;
}

interface ContainerContext {
  volumes: Map<string, J>;
  names: Set<string>;
  kind: 'container' | 'init' | 'ephemeral';
}

/** The checks every container kind shares (upstream validateContainerCommon). */
function validateContainer(c: J, at: string, ctx: ContainerContext): StatusCause[] {
  const errs: StatusCause[] = [];
  const name = c['name'];
  if (!name) errs.push(required(`${at}.name`));
  else {
    errs.push(...dns1123Label(name, `${at}.name`));
    if (ctx.names.has(name)) errs.push(duplicate(`${at}.name`, name));
    else ctx.names.add(name);
  }
  if (!str(c['image'])) errs.push(required(`${at}.image`));
  if (!c['terminationMessagePolicy']) errs.push(required(`${at}.terminationMessagePolicy`));
  else if (!(terminationMessagePolicies as readonly string[]).includes(c['terminationMessagePolicy'])) {
    errs.push(notSupported(`${at}.terminationMessagePolicy`, c['terminationMessagePolicy'], terminationMessagePolicies));
  }
  errs.push(...validateLifecycle(c['lifecycle'], `${at}.lifecycle`));
  errs.push(...validatePorts(c['ports'], `${at}.ports`));
  errs.push(...validateEnv(c['env'], `${at}.env`));
  errs.push(...validateEnvFrom(c['envFrom'], `${at}.envFrom`));
  errs.push(...validateVolumeMounts(c['volumeMounts'], ctx.volumes, `${at}.volumeMounts`));
  if (!c['imagePullPolicy']) errs.push(required(`${at}.imagePullPolicy`));
  else if (!(pullPolicies as readonly string[]).includes(c['imagePullPolicy'])) errs.push(notSupported(`${at}.imagePullPolicy`, c['imagePullPolicy'], pullPolicies));
  errs.push(...validateResources(c['resources'], `${at}.resources`));
  errs.push(...validateContainerSecurityContext(c['securityContext'], `${at}.securityContext`));
  arr(c['resizePolicy']).forEach((raw, i) => {
    const rp = obj(raw);
    const p = `${at}.resizePolicy[${i}]`;
    if (!['cpu', 'memory'].includes(rp['resourceName'])) errs.push(notSupported(`${p}.resourceName`, rp['resourceName'] ?? '', ['cpu', 'memory']));
    if (!['NotRequired', 'RestartContainer'].includes(rp['restartPolicy'])) {
      errs.push(notSupported(`${p}.restartPolicy`, rp['restartPolicy'] ?? '', ['NotRequired', 'RestartContainer']));
    }
  });
  return errs;
}

function validateRegularContainer(c: J, at: string, ctx: ContainerContext): StatusCause[] {
  const errs = validateContainer(c, at, ctx);
  errs.push(...validateProbe(c['livenessProbe'], `${at}.livenessProbe`));
  errs.push(...validateProbe(c['readinessProbe'], `${at}.readinessProbe`));
  errs.push(...validateProbe(c['startupProbe'], `${at}.startupProbe`));
  for (const k of ['livenessProbe', 'startupProbe']) {
    const p = c[k];
    if (isObj(p) && has(p, 'successThreshold') && p['successThreshold'] !== 1) errs.push(invalidValue(`${at}.${k}.successThreshold`, p['successThreshold'], 'must be 1'));
  }
  if (isObj(c['readinessProbe']) && has(c['readinessProbe'], 'terminationGracePeriodSeconds')) {
    errs.push(invalidValue(`${at}.readinessProbe.terminationGracePeriodSeconds`, c['readinessProbe']['terminationGracePeriodSeconds'], 'must not be set for readinessProbes'));
  }
  if (has(c, 'restartPolicy')) errs.push(forbidden(`${at}.restartPolicy`, 'may not be set for non-init containers'));
  return errs;
}

function validateInitContainer(c: J, at: string, ctx: ContainerContext): StatusCause[] {
  const errs = validateContainer(c, at, ctx);
  const sidecar = c['restartPolicy'] === 'Always';
  if (has(c, 'restartPolicy') && !sidecar) errs.push(notSupported(`${at}.restartPolicy`, c['restartPolicy'], ['Always']));
  if (sidecar) {
    errs.push(...validateProbe(c['livenessProbe'], `${at}.livenessProbe`));
    errs.push(...validateProbe(c['readinessProbe'], `${at}.readinessProbe`));
    errs.push(...validateProbe(c['startupProbe'], `${at}.startupProbe`));
    for (const k of ['livenessProbe', 'startupProbe']) {
      const p = c[k];
      if (isObj(p) && has(p, 'successThreshold') && p['successThreshold'] !== 1) errs.push(invalidValue(`${at}.${k}.successThreshold`, p['successThreshold'], 'must be 1'));
    }
  } else {
    for (const k of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
      if (has(c, k)) errs.push(forbidden(`${at}.${k}`, 'may not be set for init containers without restartPolicy=Always'));
    }
  }
  return errs;
}

function validateEphemeralContainer(c: J, at: string, ctx: ContainerContext): StatusCause[] {
  const errs = validateContainer(c, at, ctx);
  for (const k of ['ports', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'resizePolicy', 'restartPolicy']) {
    if (has(c, k) && !(Array.isArray(c[k]) && c[k].length === 0)) errs.push(forbidden(`${at}.${k}`, 'cannot be set for an Ephemeral Container'));
  }
  if (isObj(c['resources']) && Object.keys(c['resources']).some((k) => Object.keys(obj(c['resources'][k])).length > 0)) {
    errs.push(forbidden(`${at}.resources`, 'cannot be set for an Ephemeral Container'));
  }
  return errs;
}

// ---- validation: volumes ------------------------------------------------------------------------------

const hostPathTypes = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];

function validateKeyToPaths(items: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  arr(items).forEach((raw, i) => {
    const it = obj(raw);
    const at = `${path}[${i}]`;
    if (!it['key']) errs.push(required(`${at}.key`));
    if (!it['path']) errs.push(required(`${at}.path`));
    errs.push(...localNonReservedPath(str(it['path']), `${at}.path`));
    errs.push(...fileMode(it['mode'], `${at}.mode`));
  });
  return errs;
}

function validateDownwardAPIItems(items: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  arr(items).forEach((raw, i) => {
    const it = obj(raw);
    const at = `${path}[${i}]`;
    if (!it['path']) errs.push(required(`${at}.path`));
    errs.push(...localNonReservedPath(str(it['path']), `${at}.path`));
    errs.push(...fileMode(it['mode'], `${at}.mode`));
    const hasField = isObj(it['fieldRef']);
    const hasRes = isObj(it['resourceFieldRef']);
    if (hasField) errs.push(...validateObjectFieldSelector(it['fieldRef'], volumeFieldPaths, `${at}.fieldRef`));
    if (hasRes) errs.push(...validateResourceFieldRef(it['resourceFieldRef'], `${at}.resourceFieldRef`, true));
    if (hasField && hasRes) errs.push(invalidValue(at, '', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
    else if (!hasField && !hasRes) errs.push(required(at, 'one of fieldRef and resourceFieldRef is required'));
  });
  return errs;
}

function validateVolumeSource(v: J, at: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const present = volumeSources.filter((k) => has(v, k));
  if (present.length === 0) return [required(at, 'must specify a volume type')];
  for (const k of present.slice(1)) errs.push(forbidden(`${at}.${k}`, 'may not specify more than 1 volume type'));
  const k = present[0]!;
  const s = obj(v[k]);
  const p = `${at}.${k}`;
  switch (k) {
    case 'hostPath': {
      const hp = str(s['path']);
      if (!hp) errs.push(required(`${p}.path`));
      else if (hp.split('/').includes('..')) errs.push(invalidValue(`${p}.path`, hp, "must not contain '..'"));
      if (has(s, 'type') && !hostPathTypes.includes(s['type'])) errs.push(notSupported(`${p}.type`, s['type'], hostPathTypes));
      break;
    }
    case 'emptyDir':
      if (has(s, 'sizeLimit') && !((parseQuantity(s['sizeLimit']) ?? -1) >= 0)) {
        errs.push(forbidden(`${p}.sizeLimit`, 'SizeLimit field must be a valid resource quantity'));
      }
      break;
    case 'secret':
      if (!s['secretName']) errs.push(required(`${p}.secretName`));
      errs.push(...fileMode(s['defaultMode'], `${p}.defaultMode`), ...validateKeyToPaths(s['items'], `${p}.items`));
      break;
    case 'configMap':
      if (!s['name']) errs.push(required(`${p}.name`));
      else errs.push(...dns1123Subdomain(s['name'], `${p}.name`));
      errs.push(...fileMode(s['defaultMode'], `${p}.defaultMode`), ...validateKeyToPaths(s['items'], `${p}.items`));
      break;
    case 'persistentVolumeClaim':
      if (!s['claimName']) errs.push(required(`${p}.claimName`));
      break;
    case 'downwardAPI':
      errs.push(...fileMode(s['defaultMode'], `${p}.defaultMode`), ...validateDownwardAPIItems(s['items'], `${p}.items`));
      break;
    case 'projected': {
      errs.push(...fileMode(s['defaultMode'], `${p}.defaultMode`));
      const paths = new Set<string>();
      arr(s['sources']).forEach((raw, i) => {
        const src = obj(raw);
        const sp = `${p}.sources[${i}]`;
        const kinds = ['secret', 'downwardAPI', 'configMap', 'serviceAccountToken', 'clusterTrustBundle'].filter((x) => isObj(src[x]));
        if (kinds.length === 0) errs.push(required(sp, 'must specify exactly 1 of: `secret`, `downwardAPI`, `configMap`, `serviceAccountToken` or `clusterTrustBundle`'));
        for (const extra of kinds.slice(1)) errs.push(forbidden(`${sp}.${extra}`, 'may not specify more than 1 volume type per source'));
        for (const kind of kinds.slice(0, 1)) {
          const o = obj(src[kind]);
          const op = `${sp}.${kind}`;
          if (kind === 'secret' || kind === 'configMap') {
            errs.push(...validateKeyToPaths(o['items'], `${op}.items`));
            for (const it of arr(o['items'])) paths.add(str(obj(it)['path']));
          } else if (kind === 'downwardAPI') {
            errs.push(...validateDownwardAPIItems(o['items'], `${op}.items`));
          } else if (kind === 'serviceAccountToken') {
            const exp = o['expirationSeconds'];
            if (isInt(exp) && exp < 600) errs.push(invalidValue(`${op}.expirationSeconds`, exp, 'may not specify a duration less than 10 minutes'));
            else if (isInt(exp) && exp > 2 ** 32) errs.push(invalidValue(`${op}.expirationSeconds`, exp, 'may not specify a duration larger than 2^32 seconds'));
            if (!o['path']) errs.push(required(`${op}.path`));
            else errs.push(...localNonReservedPath(str(o['path']), `${op}.path`));
          } else if (kind === 'clusterTrustBundle') {
            if (!o['path']) errs.push(required(`${op}.path`));
          }
        }
      });
      break;
    }
    case 'nfs':
      if (!s['server']) errs.push(required(`${p}.server`));
      if (!s['path']) errs.push(required(`${p}.path`));
      else if (!str(s['path']).startsWith('/')) errs.push(invalidValue(`${p}.path`, s['path'], 'must be an absolute path'));
      break;
    case 'csi':
      if (!s['driver']) errs.push(required(`${p}.driver`));
      break;
    case 'ephemeral': {
      const t = s['volumeClaimTemplate'];
      if (!isObj(t)) errs.push(required(`${p}.volumeClaimTemplate`));
      else {
        const tm = obj(t['metadata']);
        errs.push(...validateLabels(tm['labels'], `${p}.volumeClaimTemplate.metadata.labels`));
        errs.push(...validateAnnotations(tm['annotations'], `${p}.volumeClaimTemplate.metadata.annotations`));
        const spec = obj(t['spec']);
        if (!arr(spec['accessModes']).length) errs.push(required(`${p}.volumeClaimTemplate.spec.accessModes`, 'at least 1 access mode is required'));
      }
      break;
    }
    case 'gitRepo':
      if (!s['repository']) errs.push(required(`${p}.repository`));
      break;
    case 'image':
      if (!s['reference']) errs.push(required(`${p}.reference`));
      break;
  }
  return errs;
}

function validateVolumes(volumes: unknown, path: string): { errs: StatusCause[]; byName: Map<string, J> } {
  const errs: StatusCause[] = [];
  const byName = new Map<string, J>();
  const allNames = new Set<string>();
  arr(volumes).forEach((raw, i) => {
    const v = obj(raw);
    const at = `${path}[${i}]`;
    const verrs = validateVolumeSource(v, at);
    const name = str(v['name']);
    if (!name) verrs.push(required(`${at}.name`));
    else verrs.push(...dns1123Label(name, `${at}.name`));
    if (allNames.has(name)) verrs.push(duplicate(`${at}.name`, name));
    // as upstream, only valid volumes can be mounted
    if (!verrs.length) byName.set(name, v);
    allNames.add(name);
    errs.push(...verrs);
  });
  return { errs, byName };
}

// ---- validation: the pod spec ----------------------------------------------------------------------------

const restartPolicies = ['Always', 'OnFailure', 'Never'] as const;
const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] as const;
const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

/** Upstream ValidateTolerations. */
export function validateTolerations(tolerations: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  arr(tolerations).forEach((raw, i) => {
    const t = obj(raw);
    const at = `${path}[${i}]`;
    const key = str(t['key']);
    const op = str(t['operator']);
    if (key) errs.push(...qualifiedName(key, `${at}.key`));
    if (!key && op !== 'Exists') {
      errs.push(invalidValue(`${at}.operator`, op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (has(t, 'tolerationSeconds') && t['effect'] !== 'NoExecute') {
      errs.push(invalidValue(`${at}.effect`, str(t['effect']), "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    switch (op) {
      case 'Equal':
      case '': {
        const msgs = isLabelValue(str(t['value']));
        if (msgs.length) errs.push(invalidValue(`${at}.operator`, str(t['value']), msgs.join(';')));
        break;
      }
      case 'Exists':
        if (str(t['value'])) errs.push(invalidValue(`${at}.operator`, t, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(notSupported(`${at}.operator`, op, ['Equal', 'Exists']));
    }
    if (str(t['effect']) && !(taintEffects as readonly string[]).includes(t['effect'])) errs.push(notSupported(`${at}.effect`, t['effect'], taintEffects));
  });
  return errs;
}

function validatePodSecurityContext(sc: unknown, path: string): StatusCause[] {
  if (!isObj(sc)) return [];
  const errs: StatusCause[] = [];
  for (const k of ['runAsUser', 'runAsGroup', 'fsGroup']) errs.push(...validateNonnegative(sc[k], `${path}.${k}`));
  arr(sc['supplementalGroups']).forEach((g, i) => errs.push(...validateNonnegative(g, `${path}.supplementalGroups[${i}]`)));
  if (has(sc, 'fsGroupChangePolicy')) {
    const supported = ['OnRootMismatch', 'Always'];
    if (!supported.includes(sc['fsGroupChangePolicy'])) errs.push(notSupported(`${path}.fsGroupChangePolicy`, sc['fsGroupChangePolicy'], supported));
  }
  if (has(sc, 'supplementalGroupsPolicy')) {
    const supported = ['Merge', 'Strict'];
    if (!supported.includes(sc['supplementalGroupsPolicy'])) errs.push(notSupported(`${path}.supplementalGroupsPolicy`, sc['supplementalGroupsPolicy'], supported));
  }
  arr(sc['sysctls']).forEach((raw, i) => {
    const s = obj(raw);
    if (!s['name']) errs.push(required(`${path}.sysctls[${i}].name`));
    else if (!/^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/.test(str(s['name']))) {
      errs.push(invalidValue(`${path}.sysctls[${i}].name`, s['name'], "sysctl name must have at most 253 characters and match the regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"));
    }
  });
  return errs;
}

function validateDNSConfig(spec: J, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const cfg = spec['dnsConfig'];
  if (spec['dnsPolicy'] === 'None' && !isObj(cfg)) {
    return [required(path, 'must provide `dnsConfig` when `dnsPolicy` is None')];
  }
  if (!isObj(cfg)) return [];
  const ns = arr(cfg['nameservers']);
  if (spec['dnsPolicy'] === 'None' && ns.length === 0) errs.push(required(`${path}.nameservers`, 'must provide at least one DNS nameserver when DNSPolicy is None'));
  if (ns.length > 3) errs.push(invalidValue(`${path}.nameservers`, ns, 'must not have more than 3 nameservers'));
  ns.forEach((n, i) => errs.push(...validateIP(`${path}.nameservers[${i}]`, n)));
  const searches = arr(cfg['searches']);
  if (searches.length > 32) errs.push(invalidValue(`${path}.searches`, searches, 'must not have more than 32 search paths'));
  searches.forEach((s, i) => {
    const d = str(s) === '.' ? '.' : str(s).replace(/\.$/, '');
    if (d !== '.') errs.push(...dns1123Subdomain(d, `${path}.searches[${i}]`));
  });
  arr(cfg['options']).forEach((o, i) => {
    if (!str(obj(o)['name'])) errs.push(required(`${path}.options[${i}]`, 'Option.Name must not be empty'));
  });
  return errs;
}

function validateTopologySpread(constraints: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const seen = new Set<string>();
  arr(constraints).forEach((raw, i) => {
    const c = obj(raw);
    const at = `${path}[${i}]`;
    if (!(isInt(c['maxSkew']) && c['maxSkew'] > 0)) errs.push(invalidValue(`${at}.maxSkew`, c['maxSkew'], 'must be greater than zero'));
    if (has(c, 'minDomains')) {
      if (!(isInt(c['minDomains']) && c['minDomains'] > 0)) errs.push(invalidValue(`${at}.minDomains`, c['minDomains'], 'must be greater than 0'));
      else if (c['whenUnsatisfiable'] !== 'DoNotSchedule') {
        errs.push(invalidValue(`${at}.minDomains`, c['minDomains'], 'can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ' + str(c['whenUnsatisfiable'])));
      }
    }
    const key = str(c['topologyKey']);
    if (!key) errs.push(required(`${at}.topologyKey`, 'can not be empty'));
    else errs.push(...qualifiedName(key, `${at}.topologyKey`));
    const wu = c['whenUnsatisfiable'];
    if (!['DoNotSchedule', 'ScheduleAnyway'].includes(wu)) errs.push(notSupported(`${at}.whenUnsatisfiable`, wu ?? '', ['DoNotSchedule', 'ScheduleAnyway']));
    const pair = `${key}/${str(wu)}`;
    if (seen.has(pair)) errs.push(duplicate(`${at}.{topologyKey, whenUnsatisfiable}`, pair));
    seen.add(pair);
    for (const k of ['nodeAffinityPolicy', 'nodeTaintsPolicy']) {
      if (has(c, k) && !['Ignore', 'Honor'].includes(c[k])) errs.push(notSupported(`${at}.${k}`, c[k], ['Ignore', 'Honor']));
    }
  });
  return errs;
}

function validateNodeSelectorTerms(terms: unknown, path: string): StatusCause[] {
  const errs: StatusCause[] = [];
  const ops = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'];
  arr(terms).forEach((raw, i) => {
    const t = obj(raw);
    for (const kind of ['matchExpressions', 'matchFields']) {
      arr(t[kind]).forEach((r, j) => {
        const req = obj(r);
        const at = `${path}[${i}].${kind}[${j}]`;
        const values = arr(req['values']);
        switch (req['operator']) {
          case 'In':
          case 'NotIn':
            if (!values.length) errs.push(required(`${at}.values`, 'must be specified when `operator` is \'In\' or \'NotIn\''));
            break;
          case 'Exists':
          case 'DoesNotExist':
            if (values.length) errs.push(forbidden(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
            break;
          case 'Gt':
          case 'Lt':
            if (values.length !== 1) errs.push(required(`${at}.values`, "must be specified single value when `operator` is 'Lt' or 'Gt'"));
            break;
          default:
            errs.push(notSupported(`${at}.operator`, req['operator'] ?? '', ops));
        }
        if (kind === 'matchExpressions') errs.push(...qualifiedName(req['key'], `${at}.key`));
      });
    }
  });
  return errs;
}

function validateAffinity(aff: unknown, path: string): StatusCause[] {
  if (!isObj(aff)) return [];
  const errs: StatusCause[] = [];
  const na = obj(aff['nodeAffinity']);
  const req = na['requiredDuringSchedulingIgnoredDuringExecution'];
  if (isObj(req)) {
    const p = `${path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`;
    if (!arr(req['nodeSelectorTerms']).length) errs.push(required(p, 'must have at least one node selector term'));
    errs.push(...validateNodeSelectorTerms(req['nodeSelectorTerms'], p));
  }
  arr(na['preferredDuringSchedulingIgnoredDuringExecution']).forEach((raw, i) => {
    const t = obj(raw);
    const p = `${path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
    if (!(isInt(t['weight']) && t['weight'] >= 1 && t['weight'] <= 100)) errs.push(invalidValue(`${p}.weight`, t['weight'], 'must be in the range 1-100'));
  });
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const pa = obj(aff[kind]);
    arr(pa['requiredDuringSchedulingIgnoredDuringExecution']).forEach((raw, i) => {
      const t = obj(raw);
      const p = `${path}.${kind}.requiredDuringSchedulingIgnoredDuringExecution[${i}]`;
      if (!str(t['topologyKey'])) errs.push(required(`${p}.topologyKey`, 'can not be empty'));
      else errs.push(...qualifiedName(t['topologyKey'], `${p}.topologyKey`));
    });
    arr(pa['preferredDuringSchedulingIgnoredDuringExecution']).forEach((raw, i) => {
      const t = obj(raw);
      const p = `${path}.${kind}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
      if (!(isInt(t['weight']) && t['weight'] >= 1 && t['weight'] <= 100)) errs.push(invalidValue(`${p}.weight`, t['weight'], 'must be in the range 1-100'));
      const term = obj(t['podAffinityTerm']);
      if (!str(term['topologyKey'])) errs.push(required(`${p}.podAffinityTerm.topologyKey`, 'can not be empty'));
    });
  }
  return errs;
}

/**
 * Upstream ValidatePodSpec. `path` is the spec's own path ('spec' for a Pod,
 * 'spec.template.spec' for a Deployment).
 */
export function validatePodSpec(spec: unknown, path: string, opts: PodSpecValidationOptions = {}): StatusCause[] {
  const s = obj(spec);
  const errs: StatusCause[] = [];
  const vols = validateVolumes(s['volumes'], `${path}.volumes`);
  errs.push(...vols.errs);
  const names = new Set<string>();
  const containers = arr(s['containers']);
  if (!containers.length) errs.push(required(`${path}.containers`));
  containers.forEach((c, i) => errs.push(...validateRegularContainer(obj(c), `${path}.containers[${i}]`, { volumes: vols.byName, names, kind: 'container' })));
  arr(s['initContainers']).forEach((c, i) => errs.push(...validateInitContainer(obj(c), `${path}.initContainers[${i}]`, { volumes: vols.byName, names, kind: 'init' })));
  arr(s['ephemeralContainers']).forEach((c, i) =>
    errs.push(...validateEphemeralContainer(obj(c), `${path}.ephemeralContainers[${i}]`, { volumes: vols.byName, names, kind: 'ephemeral' })),
  );
  // host ports are unique across the pod's regular containers
  const hostPorts = new Set<string>();
  containers.forEach((c, ci) => {
    arr(obj(c)['ports']).forEach((raw, pi) => {
      const p = obj(raw);
      if (!p['hostPort']) return;
      const key = `${str(p['protocol'])}/${str(p['hostIP'])}/${p['hostPort']}`;
      if (hostPorts.has(key)) errs.push(duplicate(`${path}.containers[${ci}].ports[${pi}].hostPort`, key));
      hostPorts.add(key);
    });
  });
  const rp = s['restartPolicy'];
  if (!rp) errs.push(required(`${path}.restartPolicy`));
  else if (!(restartPolicies as readonly string[]).includes(rp)) errs.push(notSupported(`${path}.restartPolicy`, rp, restartPolicies));
  const dp = s['dnsPolicy'];
  if (!dp) errs.push(required(`${path}.dnsPolicy`));
  else if (!(dnsPolicies as readonly string[]).includes(dp)) errs.push(notSupported(`${path}.dnsPolicy`, dp, dnsPolicies));
  errs.push(...validateLabels(s['nodeSelector'], `${path}.nodeSelector`));
  errs.push(...validatePodSecurityContext(s['securityContext'], `${path}.securityContext`));
  if (str(s['nodeName'])) errs.push(...dns1123Subdomain(s['nodeName'], `${path}.nodeName`));
  if (str(s['serviceAccountName'])) errs.push(...dns1123Subdomain(s['serviceAccountName'], `${path}.serviceAccountName`));
  if (has(s, 'activeDeadlineSeconds')) {
    const v = s['activeDeadlineSeconds'];
    if (!isInt(v) || v < 1 || v > maxInt32) errs.push(invalidValue(`${path}.activeDeadlineSeconds`, v, inclusiveRange(1, maxInt32)));
  }
  if (has(s, 'terminationGracePeriodSeconds') && !isInt(s['terminationGracePeriodSeconds'])) {
    errs.push(invalidValue(`${path}.terminationGracePeriodSeconds`, s['terminationGracePeriodSeconds'], 'must be an integer'));
  }
  if (str(s['hostname'])) errs.push(...dns1123Label(s['hostname'], `${path}.hostname`));
  if (str(s['subdomain'])) errs.push(...dns1123Label(s['subdomain'], `${path}.subdomain`));
  errs.push(...validateTolerations(s['tolerations'], `${path}.tolerations`));
  errs.push(...validateAffinity(s['affinity'], `${path}.affinity`));
  errs.push(...validateDNSConfig(s, `${path}.dnsConfig`));
  arr(s['readinessGates']).forEach((g, i) => errs.push(...qualifiedName(obj(g)['conditionType'], `${path}.readinessGates[${i}].conditionType`)));
  errs.push(...validateTopologySpread(s['topologySpreadConstraints'], `${path}.topologySpreadConstraints`));
  arr(s['hostAliases']).forEach((raw, i) => {
    const a = obj(raw);
    errs.push(...validateIP(`${path}.hostAliases[${i}].ip`, a['ip']));
    arr(a['hostnames']).forEach((h, j) => errs.push(...dns1123Subdomain(h, `${path}.hostAliases[${i}].hostnames[${j}]`)));
  });
  if (str(s['priorityClassName'])) errs.push(...dns1123Subdomain(s['priorityClassName'], `${path}.priorityClassName`));
  if (str(s['runtimeClassName'])) errs.push(...dns1123Subdomain(s['runtimeClassName'], `${path}.runtimeClassName`));
  if (has(s, 'preemptionPolicy') && !['Never', 'PreemptLowerPriority'].includes(s['preemptionPolicy'])) {
    errs.push(notSupported(`${path}.preemptionPolicy`, s['preemptionPolicy'], ['Never', 'PreemptLowerPriority']));
  }
  errs.push(...validateResourceList(s['overhead'], `${path}.overhead`, validateContainerResourceName));
  const gates = new Set<string>();
  arr(s['schedulingGates']).forEach((raw, i) => {
    const name = str(obj(raw)['name']);
    errs.push(...qualifiedName(name, `${path}.schedulingGates[${i}].name`));
    if (gates.has(name)) errs.push(duplicate(`${path}.schedulingGates[${i}].name`, name));
    gates.add(name);
  });
  if (has(s, 'os')) {
    const name = obj(s['os'])['name'];
    if (!name) errs.push(required(`${path}.os.name`));
    else if (!['linux', 'windows'].includes(name)) errs.push(notSupported(`${path}.os.name`, name, ['linux', 'windows']));
  }
  if (opts.isPod) {
    containers.forEach((c, i) => {
      const img = str(obj(c)['image']);
      if (img && img.trim() !== img) errs.push(invalidValue(`${path}.containers[${i}].image`, img, 'must not have leading or trailing whitespace'));
    });
  }
  return errs;
}

/**
 * Upstream ValidatePodTemplateSpec: template labels and annotations (paths `<path>.labels`,
 * `<path>.annotations`, as upstream writes them), the pod spec, no ephemeral containers.
 */
export function validatePodTemplateSpec(tpl: unknown, path: string): StatusCause[] {
  const t = obj(tpl);
  const meta = obj(t['metadata']);
  const errs = [...validateLabels(meta['labels'], `${path}.labels`), ...validateAnnotations(meta['annotations'], `${path}.annotations`)];
  errs.push(...validatePodSpec(t['spec'], `${path}.spec`));
  if (arr(obj(t['spec'])['ephemeralContainers']).length) errs.push(forbidden(`${path}.spec.ephemeralContainers`, 'ephemeral containers not allowed in pod template'));
  return errs;
}

// ---- pod updates ----------------------------------------------------------------------------------------

const updatablePodSpecFields = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
].join(',');

function validateContainerUpdates(next: unknown[], prev: unknown[], path: string): { errs: StatusCause[]; stop: boolean } {
  if (next.length !== prev.length) return { errs: [forbidden(path, 'pod updates may not add or remove containers')], stop: true };
  const errs: StatusCause[] = [];
  next.forEach((c, i) => {
    const img = str(obj(c)['image']);
    if (!img) errs.push(required(`${path}[${i}].image`));
    if (img.trim() !== img) errs.push(invalidValue(`${path}[${i}].image`, img, 'must not have leading or trailing whitespace'));
  });
  return { errs, stop: false };
}

function withoutKey(o: J, k: string): J {
  const c = { ...o };
  delete c[k];
  return c;
}

/** Upstream ValidatePodUpdate's spec rules (the new spec is validated separately). */
export function validatePodSpecUpdate(spec: unknown, oldSpec: unknown): StatusCause[] {
  const s = obj(spec);
  const o = obj(oldSpec);
  const errs: StatusCause[] = [];
  let r = validateContainerUpdates(arr(s['containers']), arr(o['containers']), 'spec.containers');
  errs.push(...r.errs);
  if (r.stop) return errs;
  r = validateContainerUpdates(arr(s['initContainers']), arr(o['initContainers']), 'spec.initContainers');
  errs.push(...r.errs);
  if (r.stop) return errs;
  const ads = s['activeDeadlineSeconds'];
  const oldAds = o['activeDeadlineSeconds'];
  if (has(s, 'activeDeadlineSeconds')) {
    if (!isInt(ads) || ads < 0 || ads > maxInt32) return [...errs, invalidValue('spec.activeDeadlineSeconds', ads, inclusiveRange(0, maxInt32))];
    if (isInt(oldAds) && oldAds < ads) return [...errs, invalidValue('spec.activeDeadlineSeconds', ads, 'must be less than or equal to previous value')];
  } else if (has(o, 'activeDeadlineSeconds')) {
    errs.push(invalidValue('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }
  // tolerations: only additions (a toleration's tolerationSeconds may change)
  const newTols = arr(s['tolerations']).map(obj);
  for (const old of arr(o['tolerations']).map(obj)) {
    if (!newTols.some((t) => jsonEqual(withoutKey(old, 'tolerationSeconds'), withoutKey(t, 'tolerationSeconds')))) {
      errs.push(forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'));
      break;
    }
  }
  // scheduling gates: only removals
  const oldGates = new Set(arr(o['schedulingGates']).map((g) => str(obj(g)['name'])));
  for (const g of arr(s['schedulingGates'])) {
    const name = str(obj(g)['name']);
    if (!oldGates.has(name)) {
      errs.push(forbidden('spec.schedulingGates', `only deletion is allowed, but found new scheduling gate '${name}'`));
      break;
    }
  }
  if (jsonEqual(s, o)) return errs;
  const munged: J = clone(s);
  munged['containers'] = arr(munged['containers']).map((c, i) => ({ ...obj(c), image: obj(arr(o['containers'])[i])['image'] }));
  if (has(munged, 'initContainers')) {
    munged['initContainers'] = arr(munged['initContainers']).map((c, i) => ({ ...obj(c), image: obj(arr(o['initContainers'])[i])['image'] }));
  }
  for (const k of ['activeDeadlineSeconds', 'schedulingGates', 'tolerations']) {
    if (has(o, k)) munged[k] = clone(o[k]);
    else delete munged[k];
  }
  const oldGrace = o['terminationGracePeriodSeconds'];
  if (isInt(oldGrace) && oldGrace < 0 && munged['terminationGracePeriodSeconds'] === 1) munged['terminationGracePeriodSeconds'] = oldGrace;
  if (oldGates.size > 0) {
    // a gated pod may gain node selector entries and node affinity
    const oldSel = obj(o['nodeSelector']);
    const newSel = obj(munged['nodeSelector']);
    if (Object.entries(oldSel).every(([k, v]) => newSel[k] === v)) {
      if (has(o, 'nodeSelector')) munged['nodeSelector'] = clone(o['nodeSelector']);
      else delete munged['nodeSelector'];
    }
    if (!has(o, 'affinity') || jsonEqual(withoutKey(obj(o['affinity']), 'nodeAffinity'), withoutKey(obj(munged['affinity']), 'nodeAffinity'))) {
      if (has(o, 'affinity')) munged['affinity'] = clone(o['affinity']);
      else if (isObj(munged['affinity']) && Object.keys(withoutKey(munged['affinity'], 'nodeAffinity')).length === 0) delete munged['affinity'];
    }
  }
  if (!jsonEqual(munged, o)) errs.push(forbidden('spec', `pod updates may not change fields other than ${updatablePodSpecFields}`));
  return errs;
}

const systemPodConditions = new Set(['PodScheduled', 'Ready', 'Initialized', 'ContainersReady', 'DisruptionTarget', 'PodReadyToStartContainers']);

/** Upstream ValidatePodStatusUpdate, the parts that do not depend on cluster state. */
export function validatePodStatusUpdate(pod: J, old: J): StatusCause[] {
  const errs: StatusCause[] = [];
  const status = obj(pod['status']);
  const oldStatus = obj(old['status']);
  arr(status['conditions']).forEach((c, i) => {
    const t = str(obj(c)['type']);
    if (!systemPodConditions.has(t)) errs.push(...qualifiedName(t, `status.conditions[${i}].type`));
  });
  if (str(obj(pod['spec'])['nodeName']) !== str(obj(old['spec'])['nodeName'])) errs.push(forbidden('status.nodeName', 'may not be changed directly'));
  const nnn = str(status['nominatedNodeName']);
  if (nnn && nnn !== str(oldStatus['nominatedNodeName'])) errs.push(...dns1123Subdomain(nnn, 'status.nominatedNodeName'));
  // Pod QoS is immutable (upstream ValidatePodStatusUpdate).
  if (str(status['qosClass']) !== str(oldStatus['qosClass'])) errs.push(invalidValue('status.qosClass', str(status['qosClass']), 'field is immutable'));
  const restartPolicy = str(obj(old['spec'])['restartPolicy']);
  if (restartPolicy === 'Never') {
    const oldByName = new Map(arr(oldStatus['containerStatuses']).map((c) => [str(obj(c)['name']), obj(c)] as const));
    arr(status['containerStatuses']).forEach((raw, i) => {
      const c = obj(raw);
      const prev = oldByName.get(str(c['name']));
      if (prev && isObj(obj(prev['state'])['terminated']) && !isObj(obj(c['state'])['terminated'])) {
        errs.push(forbidden(`status.containerStatuses[${i}].state`, `may not be transitioned to non-terminated state`));
      }
    });
  }
  const podIPs = arr(status['podIPs']);
  if (podIPs.length > 2) errs.push(tooMany('status.podIPs', podIPs.length, 2));
  const seen = new Set<string>();
  podIPs.forEach((p, i) => {
    const ip = str(obj(p)['ip']);
    errs.push(...validateIP(`status.podIPs[${i}]`, ip));
    if (seen.has(ip)) errs.push(duplicate(`status.podIPs[${i}]`, ip));
    seen.add(ip);
  });
  arr(status['hostIPs']).forEach((p, i) => errs.push(...validateIP(`status.hostIPs[${i}].ip`, str(obj(p)['ip']))));
  return errs;
}
