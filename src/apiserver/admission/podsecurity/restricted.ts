/**
 * The restricted checks of the Pod Security Standards, as upstream's pod-security-admission
 * policy/check_*.go at v1.33 (ids, versions, reasons and details as upstream words them):
 * allowPrivilegeEscalation (from v1.8), capabilities_restricted (from v1.22, replacing
 * capabilities_baseline), restrictedVolumes (replacing hostPathVolumes), runAsNonRoot, runAsUser
 * (from v1.23) and seccompProfile_restricted (from v1.19, replacing seccompProfile_baseline).
 * From v1.25 a Windows pod (spec.os.name=windows) passes the Linux-only ones (privilege
 * escalation, capabilities, seccomp). Not covered: the user-namespace relaxation of runAsNonRoot
 * and runAsUser (upstream's alpha UserNamespacesPodSecurityStandards gate, off by default).
 */
import type { PodSpec, Volume } from '../../../api/index.ts';
import { checkCapabilitiesBaselineID, checkHostPathVolumesID, checkSeccompBaselineID, validSeccompType } from './baseline.ts';
import { allowed, forbid, isWindowsPod, joinQuote, pluralize, sortedSet, visitContainers, type Check, type CheckPod, type CheckResult, type PodMeta } from './check.ts';

const containersPhrase = (names: readonly string[]) => `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;

/** From v1.25 the check passes Windows pods (their API validation forbids the Linux fields). */
const exceptWindows = (check: CheckPod): CheckPod => (meta, spec) => (isWindowsPod(spec) ? allowed : check(meta, spec));

// ---- allowPrivilegeEscalation -----------------------------------------------------------------

function allowPrivilegeEscalation(_meta: PodMeta, spec: PodSpec): CheckResult {
  const containers: string[] = [];
  visitContainers(spec, (c) => {
    if (c.securityContext?.allowPrivilegeEscalation !== false) containers.push(c.name);
  });
  if (!containers.length) return allowed;
  return forbid('allowPrivilegeEscalation != false', `${containersPhrase(containers)} must set securityContext.allowPrivilegeEscalation=false`);
}

// ---- capabilities_restricted ------------------------------------------------------------------

function capabilitiesRestricted(_meta: PodMeta, spec: PodSpec): CheckResult {
  const missingDropAll: string[] = [];
  const adding: string[] = [];
  const caps = new Set<string>();
  visitContainers(spec, (c) => {
    const capabilities = c.securityContext?.capabilities;
    if (capabilities == null) {
      missingDropAll.push(c.name);
      return;
    }
    if (!(capabilities.drop ?? []).includes('ALL')) missingDropAll.push(c.name);
    let bad = false;
    for (const cap of capabilities.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') {
        bad = true;
        caps.add(cap);
      }
    }
    if (bad) adding.push(c.name);
  });
  const details: string[] = [];
  if (missingDropAll.length) details.push(`${containersPhrase(missingDropAll)} must set securityContext.capabilities.drop=["ALL"]`);
  if (adding.length) details.push(`${containersPhrase(adding)} must not include ${joinQuote(sortedSet(caps))} in securityContext.capabilities.add`);
  return details.length ? forbid('unrestricted capabilities', details.join('; ')) : allowed;
}

// ---- restrictedVolumes ------------------------------------------------------------------------

const allowedVolumeSources = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'image', 'persistentVolumeClaim', 'projected', 'secret'] as const;
/** Restricted sources, in the order upstream names the first one a volume sets. */
const restrictedVolumeSources = [
  'hostPath', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'nfs', 'iscsi', 'glusterfs', 'rbd', 'flexVolume',
  'cinder', 'cephfs', 'flocker', 'fc', 'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk',
  'portworxVolume', 'scaleIO', 'storageos',
] as const;

function restrictedVolumes(_meta: PodMeta, spec: PodSpec): CheckResult {
  const names: string[] = [];
  const types = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (allowedVolumeSources.some((s) => v[s as keyof Volume] != null)) continue;
    names.push(v.name);
    types.add(restrictedVolumeSources.find((s) => v[s as keyof Volume] != null) ?? 'unknown');
  }
  if (!names.length) return allowed;
  return forbid(
    'restricted volume types',
    `${pluralize('volume', 'volumes', names.length)} ${joinQuote(names)} ${pluralize('uses', 'use', names.length)} ${pluralize('restricted volume type', 'restricted volume types', types.size)} ${joinQuote(sortedSet(types))}`,
  );
}

// ---- runAsNonRoot -----------------------------------------------------------------------------

function runAsNonRoot(_meta: PodMeta, spec: PodSpec): CheckResult {
  const setters: string[] = [];
  let podNonRoot = false;
  const podValue = spec.securityContext?.runAsNonRoot;
  if (podValue != null) {
    if (!podValue) setters.push('pod');
    else podNonRoot = true;
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  visitContainers(spec, (c) => {
    const v = c.securityContext?.runAsNonRoot;
    if (v != null) {
      if (!v) explicit.push(c.name);
    } else if (!podNonRoot) implicit.push(c.name);
  });
  if (explicit.length) setters.push(containersPhrase(explicit));
  if (setters.length) return forbid('runAsNonRoot != true', `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false`);
  if (implicit.length) return forbid('runAsNonRoot != true', `pod or ${containersPhrase(implicit)} must set securityContext.runAsNonRoot=true`);
  return allowed;
}

// ---- runAsUser --------------------------------------------------------------------------------

function runAsUser(_meta: PodMeta, spec: PodSpec): CheckResult {
  const setters: string[] = [];
  if (spec.securityContext?.runAsUser === 0) setters.push('pod');
  const containers: string[] = [];
  visitContainers(spec, (c) => {
    if (c.securityContext?.runAsUser === 0) containers.push(c.name);
  });
  if (containers.length) setters.push(containersPhrase(containers));
  return setters.length ? forbid('runAsUser=0', `${setters.join(' and ')} must not set runAsUser=0`) : allowed;
}

// ---- seccompProfile_restricted ----------------------------------------------------------------

function seccompProfileRestricted(_meta: PodMeta, spec: PodSpec): CheckResult {
  const setters: string[] = [];
  const values = new Set<string>();
  let podSet = false;
  const podProfile = spec.securityContext?.seccompProfile;
  if (podProfile != null) {
    if (!validSeccompType(podProfile.type)) {
      setters.push('pod');
      values.add(podProfile.type ?? '');
    } else podSet = true;
  }
  const explicit: string[] = [];
  const implicit: string[] = [];
  visitContainers(spec, (c) => {
    const p = c.securityContext?.seccompProfile;
    if (p != null) {
      if (!validSeccompType(p.type)) {
        explicit.push(c.name);
        values.add(p.type ?? '');
      }
    } else if (!podSet) implicit.push(c.name);
  });
  if (explicit.length) setters.push(containersPhrase(explicit));
  if (setters.length) {
    return forbid('seccompProfile', `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(values))}`);
  }
  if (implicit.length) {
    return forbid('seccompProfile', `pod or ${containersPhrase(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`);
  }
  return allowed;
}

/** The restricted checks, each with its versions and the baseline checks it replaces. */
export const restrictedChecks: readonly Check[] = [
  {
    id: 'allowPrivilegeEscalation',
    level: 'restricted',
    versions: [
      { minimumVersion: 8, check: allowPrivilegeEscalation },
      { minimumVersion: 25, check: exceptWindows(allowPrivilegeEscalation) },
    ],
  },
  {
    id: 'capabilities_restricted',
    level: 'restricted',
    versions: [
      { minimumVersion: 22, check: capabilitiesRestricted, overrides: [checkCapabilitiesBaselineID] },
      { minimumVersion: 25, check: exceptWindows(capabilitiesRestricted), overrides: [checkCapabilitiesBaselineID] },
    ],
  },
  {
    id: 'restrictedVolumes',
    level: 'restricted',
    versions: [{ minimumVersion: 0, check: restrictedVolumes, overrides: [checkHostPathVolumesID] }],
  },
  { id: 'runAsNonRoot', level: 'restricted', versions: [{ minimumVersion: 0, check: runAsNonRoot }] },
  { id: 'runAsUser', level: 'restricted', versions: [{ minimumVersion: 23, check: runAsUser }] },
  {
    id: 'seccompProfile_restricted',
    level: 'restricted',
    versions: [
      { minimumVersion: 19, check: seccompProfileRestricted, overrides: [checkSeccompBaselineID] },
      { minimumVersion: 25, check: exceptWindows(seccompProfileRestricted), overrides: [checkSeccompBaselineID] },
    ],
  },
];
