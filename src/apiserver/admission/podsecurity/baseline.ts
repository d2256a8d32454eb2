/**
 * The baseline checks of the Pod Security Standards, as upstream's pod-security-admission
 * policy/check_*.go at v1.33 (ids, versions, reasons and details as upstream words them):
 * appArmorProfile, capabilities_baseline, hostNamespaces, hostPathVolumes, hostPorts,
 * privileged, procMount, seLinuxOptions (v1.31 allows container_engine_t), seccompProfile_baseline
 * (annotations before v1.19, fields from v1.19), sysctls (safe sets of v1.0, v1.27, v1.29, v1.32)
 * and windowsHostProcess. Absent and null fields are alike, as Go's nil pointers.
 * Not covered: the user-namespace relaxation of procMount (upstream's alpha
 * UserNamespacesPodSecurityStandards gate, off by default), and v1.34's probe/lifecycle host check.
 */
import type { PodSpec, SELinuxOptions } from '../../../api/index.ts';
import { goQuote } from '../../authz/rbac.ts';
import { allowed, forbid, joinQuote, pluralize, sortedSet, visitContainers, type Check, type CheckResult, type PodMeta } from './check.ts';

export const checkCapabilitiesBaselineID = 'capabilities_baseline';
export const checkHostPathVolumesID = 'hostPathVolumes';
export const checkSeccompBaselineID = 'seccompProfile_baseline';

const containersPhrase = (names: readonly string[]) => `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;

// ---- appArmorProfile --------------------------------------------------------------------------

const appArmorAnnotationPrefix = 'container.apparmor.security.beta.kubernetes.io/';
const allowedAppArmorAnnotation = (v: string) => v === '' || v === 'runtime/default' || v.startsWith('localhost/');
const allowedAppArmorType = (t: string) => t === 'RuntimeDefault' || t === 'Localhost';

function appArmorProfile(meta: PodMeta, spec: PodSpec): CheckResult {
  const setters: string[] = [];
  const values = new Set<string>();
  const podProfile = spec.securityContext?.appArmorProfile;
  if (podProfile != null && !allowedAppArmorType(podProfile.type ?? '')) {
    setters.push('pod');
    values.add(podProfile.type ?? '');
  }
  const containers: string[] = [];
  visitContainers(spec, (c) => {
    const p = c.securityContext?.appArmorProfile;
    if (p != null && !allowedAppArmorType(p.type ?? '')) {
      containers.push(c.name);
      values.add(p.type ?? '');
    }
  });
  if (containers.length) setters.push(containersPhrase(containers));
  const annotations: string[] = [];
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    if (k.startsWith(appArmorAnnotationPrefix) && !allowedAppArmorAnnotation(v)) annotations.push(`${k}=${goQuote(v)}`);
  }
  const badValues = sortedSet(values);
  if (annotations.length) {
    badValues.push(...annotations.sort());
    setters.push(pluralize('annotation', 'annotations', annotations.length));
  }
  if (!setters.length) return allowed;
  return forbid(
    pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', badValues.length),
    `${setters.join(' and ')} must not set AppArmor profile type to ${joinQuote(badValues)}`,
  );
}

// ---- capabilities_baseline --------------------------------------------------------------------

const defaultCapabilities: ReadonlySet<string> = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD',
  'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

function capabilitiesBaseline(_meta: PodMeta, spec: PodSpec): CheckResult {
  const containers: string[] = [];
  const caps = new Set<string>();
  visitContainers(spec, (c) => {
    const add = c.securityContext?.capabilities?.add ?? [];
    let bad = false;
    for (const cap of add) {
      if (!defaultCapabilities.has(cap)) {
        bad = true;
        caps.add(cap);
      }
    }
    if (bad) containers.push(c.name);
  });
  if (!containers.length) return allowed;
  return forbid('non-default capabilities', `${containersPhrase(containers)} must not include ${joinQuote(sortedSet(caps))} in securityContext.capabilities.add`);
}

// ---- hostNamespaces ---------------------------------------------------------------------------

function hostNamespaces(_meta: PodMeta, spec: PodSpec): CheckResult {
  const set: string[] = [];
  if (spec.hostNetwork) set.push('hostNetwork=true');
  if (spec.hostPID) set.push('hostPID=true');
  if (spec.hostIPC) set.push('hostIPC=true');
  return set.length ? forbid('host namespaces', set.join(', ')) : allowed;
}

// ---- hostPathVolumes --------------------------------------------------------------------------

function hostPathVolumes(_meta: PodMeta, spec: PodSpec): CheckResult {
  const names = (spec.volumes ?? []).filter((v) => v.hostPath != null).map((v) => v.name);
  if (!names.length) return allowed;
  return forbid('hostPath volumes', `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)}`);
}

// ---- hostPorts --------------------------------------------------------------------------------

function hostPorts(_meta: PodMeta, spec: PodSpec): CheckResult {
  const containers: string[] = [];
  const ports = new Set<string>();
  visitContainers(spec, (c) => {
    let bad = false;
    for (const p of c.ports ?? []) {
      if (p.hostPort) {
        bad = true;
        ports.add(String(p.hostPort));
      }
    }
    if (bad) containers.push(c.name);
  });
  if (!containers.length) return allowed;
  return forbid(
    'hostPort',
    `${containersPhrase(containers)} ${pluralize('uses', 'use', containers.length)} ${pluralize('hostPort', 'hostPorts', ports.size)} ${sortedSet(ports).join(', ')}`,
  );
}

// ---- privileged -------------------------------------------------------------------------------

function privileged(_meta: PodMeta, spec: PodSpec): CheckResult {
  const containers: string[] = [];
  visitContainers(spec, (c) => {
    if (c.securityContext?.privileged === true) containers.push(c.name);
  });
  if (!containers.length) return allowed;
  return forbid('privileged', `${containersPhrase(containers)} must not set securityContext.privileged=true`);
}

// ---- procMount --------------------------------------------------------------------------------

function procMount(_meta: PodMeta, spec: PodSpec): CheckResult {
  const containers: string[] = [];
  const types = new Set<string>();
  visitContainers(spec, (c) => {
    const pm = c.securityContext?.procMount;
    if (pm != null && pm !== 'Default') {
      containers.push(c.name);
      types.add(pm);
    }
  });
  if (!containers.length) return allowed;
  return forbid('procMount', `${containersPhrase(containers)} must not set securityContext.procMount to ${joinQuote(sortedSet(types))}`);
}

// ---- seLinuxOptions ---------------------------------------------------------------------------

const seLinuxTypesV1Dot0: ReadonlySet<string> = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
const seLinuxTypesV1Dot31: ReadonlySet<string> = new Set([...seLinuxTypesV1Dot0, 'container_engine_t']);

function seLinuxOptions(allowedTypes: ReadonlySet<string>) {
  return (_meta: PodMeta, spec: PodSpec): CheckResult => {
    const badTypes = new Set<string>();
    let setUser = false;
    let setRole = false;
    const valid = (o: SELinuxOptions): boolean => {
      let ok = true;
      const t = o.type ?? '';
      if (!allowedTypes.has(t)) {
        ok = false;
        badTypes.add(t);
      }
      if (o.user) {
        ok = false;
        setUser = true;
      }
      if (o.role) {
        ok = false;
        setRole = true;
      }
      return ok;
    };
    const setters: string[] = [];
    const podOpts = spec.securityContext?.seLinuxOptions;
    if (podOpts != null && !valid(podOpts)) setters.push('pod');
    const containers: string[] = [];
    visitContainers(spec, (c) => {
      const o = c.securityContext?.seLinuxOptions;
      if (o != null && !valid(o)) containers.push(c.name);
    });
    if (containers.length) setters.push(containersPhrase(containers));
    if (!setters.length) return allowed;
    const data: string[] = [];
    if (badTypes.size) data.push(`${pluralize('type', 'types', badTypes.size)} ${joinQuote(sortedSet(badTypes))}`);
    if (setUser) data.push('user may not be set');
    if (setRole) data.push('role may not be set');
    return forbid('seLinuxOptions', `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${data.join('; ')}`);
  };
}

// ---- seccompProfile_baseline ------------------------------------------------------------------

export const seccompPodAnnotation = 'seccomp.security.alpha.kubernetes.io/pod';
export const seccompContainerAnnotationPrefix = 'container.seccomp.security.alpha.kubernetes.io/';
export const validSeccompType = (t: string | undefined): boolean => t === 'Localhost' || t === 'RuntimeDefault';
const validSeccompAnnotation = (v: string) => v === 'runtime/default' || v === 'docker/default' || v.startsWith('localhost/');

/** Before v1.19: the alpha annotations. */
function seccompProfileBaselineV1Dot0(meta: PodMeta, spec: PodSpec): CheckResult {
  const annotations = meta.annotations ?? {};
  const bad = new Set<string>();
  const podValue = annotations[seccompPodAnnotation];
  if (podValue !== undefined && !validSeccompAnnotation(podValue)) bad.add(`${seccompPodAnnotation}=${goQuote(podValue)}`);
  visitContainers(spec, (c) => {
    const key = seccompContainerAnnotationPrefix + c.name;
    const v = annotations[key];
    if (v !== undefined && !validSeccompAnnotation(v)) bad.add(`${key}=${goQuote(v)}`);
  });
  if (!bad.size) return allowed;
  return forbid('seccompProfile', `forbidden ${pluralize('annotation', 'annotations', bad.size)} ${sortedSet(bad).join(', ')}`);
}

/** From v1.19: securityContext.seccompProfile.type, where set, must be RuntimeDefault or Localhost. */
function seccompProfileBaselineV1Dot19(_meta: PodMeta, spec: PodSpec): CheckResult {
  const setters: string[] = [];
  const values = new Set<string>();
  const podProfile = spec.securityContext?.seccompProfile;
  if (podProfile != null && !validSeccompType(podProfile.type)) {
    setters.push('pod');
    values.add(podProfile.type ?? '');
  }
  const containers: string[] = [];
  visitContainers(spec, (c) => {
    const p = c.securityContext?.seccompProfile;
    if (p != null && !validSeccompType(p.type)) {
      containers.push(c.name);
      values.add(p.type ?? '');
    }
  });
  if (containers.length) setters.push(containersPhrase(containers));
  if (!setters.length) return allowed;
  return forbid('seccompProfile', `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(values))}`);
}

// ---- sysctls ----------------------------------------------------------------------------------

const sysctlsV1Dot0: ReadonlySet<string> = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
]);
const sysctlsV1Dot27: ReadonlySet<string> = new Set([...sysctlsV1Dot0, 'net.ipv4.ip_local_reserved_ports']);
const sysctlsV1Dot29: ReadonlySet<string> = new Set([
  ...sysctlsV1Dot27,
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const sysctlsV1Dot32: ReadonlySet<string> = new Set([...sysctlsV1Dot29, 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem']);

function sysctls(safe: ReadonlySet<string>) {
  return (_meta: PodMeta, spec: PodSpec): CheckResult => {
    const bad = (spec.securityContext?.sysctls ?? []).map((s) => s.name).filter((n) => !safe.has(n));
    return bad.length ? forbid('forbidden sysctls', bad.join(', ')) : allowed;
  };
}

// ---- windowsHostProcess -----------------------------------------------------------------------

function windowsHostProcess(_meta: PodMeta, spec: PodSpec): CheckResult {
  const containers: string[] = [];
  visitContainers(spec, (c) => {
    if (c.securityContext?.windowsOptions?.hostProcess === true) containers.push(c.name);
  });
  const setters: string[] = [];
  if (spec.securityContext?.windowsOptions?.hostProcess === true) setters.push('pod');
  if (containers.length) setters.push(containersPhrase(containers));
  if (!setters.length) return allowed;
  return forbid('hostProcess', `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true`);
}

/** The baseline checks, each with its versions (upstream's ids). */
export const baselineChecks: readonly Check[] = [
  { id: 'appArmorProfile', level: 'baseline', versions: [{ minimumVersion: 0, check: appArmorProfile }] },
  { id: checkCapabilitiesBaselineID, level: 'baseline', versions: [{ minimumVersion: 0, check: capabilitiesBaseline }] },
  { id: 'hostNamespaces', level: 'baseline', versions: [{ minimumVersion: 0, check: hostNamespaces }] },
  { id: checkHostPathVolumesID, level: 'baseline', versions: [{ minimumVersion: 0, check: hostPathVolumes }] },
  { id: 'hostPorts', level: 'baseline', versions: [{ minimumVersion: 0, check: hostPorts }] },
  { id: 'privileged', level: 'baseline', versions: [{ minimumVersion: 0, check: privileged }] },
  { id: 'procMount', level: 'baseline', versions: [{ minimumVersion: 0, check: procMount }] },
  {
    id: 'seLinuxOptions',
    level: 'baseline',
    versions: [
      { minimumVersion: 0, check: seLinuxOptions(seLinuxTypesV1Dot0) },
      { minimumVersion: 31, check: seLinuxOptions(seLinuxTypesV1Dot31) },
    ],
  },
  {
    id: checkSeccompBaselineID,
    level: 'baseline',
    versions: [
      { minimumVersion: 0, check: seccompProfileBaselineV1Dot0 },
      { minimumVersion: 19, check: seccompProfileBaselineV1Dot19 },
    ],
  },
  {
    id: 'sysctls',
    level: 'baseline',
    versions: [
      { minimumVersion: 0, check: sysctls(sysctlsV1Dot0) },
      { minimumVersion: 27, check: sysctls(sysctlsV1Dot27) },
      { minimumVersion: 29, check: sysctls(sysctlsV1Dot29) },
      { minimumVersion: 32, check: sysctls(sysctlsV1Dot32) },
    ],
  },
  { id: 'windowsHostProcess', level: 'baseline', versions: [{ minimumVersion: 0, check: windowsHostProcess }] },
];
