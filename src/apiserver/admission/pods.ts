/**
 * Built-in admission for pods, as upstream's plugins of the same names:
 * - ServiceAccount (plugin/pkg/admission/serviceaccount), on CREATE: a pod without a service
 *   account runs as `default` (both fields set), which must exist, else the pod is Forbidden
 *   (`error looking up service account NS/NAME: serviceaccount "NAME" not found`). A miss in the
 *   cache is looked up again: once, or ten times 100-200 ms apart for `default` (the
 *   serviceaccount controller is about to create it), as upstream's live GETs; here the re-reads
 *   are of the same watch cache, which follows the store within milliseconds. Unless the pod or
 *   its ServiceAccount says `automountServiceAccountToken: false`, every container that mounts
 *   nothing at /var/run/secrets/kubernetes.io/serviceaccount gets upstream's projected
 *   `kube-api-access-<random>` volume (a bound token, kube-root-ca.crt, the namespace; an
 *   existing `kube-api-access-*` volume is reused) mounted read-only there; a pod naming no
 *   imagePullSecrets gets the ServiceAccount's. A ServiceAccount annotated
 *   `kubernetes.io/enforce-mountable-secrets: "true"` limits the secrets its pods may use (secret
 *   volumes, env and envFrom of containers and init containers, image pull secrets) to those it
 *   lists, also for ephemeral containers added later (UPDATE of pods/ephemeralcontainers, refused
 *   with a plain 500 as upstream's unwrapped error). Mirror pods are left as they are but may
 *   reference no service account, no secret and no projected token. Other UPDATEs pass.
 * - Priority: spec.priority and spec.preemptionPolicy from the pod's PriorityClass (or the
 *   global default class, else 0); an unknown class or a hand-set priority that disagrees is
 *   Forbidden.
 * - DefaultTolerationSeconds: pods tolerate not-ready and unreachable nodes for 300 s unless they
 *   say otherwise.
 */
import { StatusError, statusError } from '../../api/errors.ts';
import type { Container, EphemeralContainer, Pod, PodSpec, ServiceAccount } from '../../api/index.ts';
import type { KubeObject } from '../../api/types.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

type J = Record<string, unknown>;

function isPodCreate(a: AdmissionAttributes): a is AdmissionAttributes & { object: KubeObject } {
  return a.operation === 'CREATE' && a.def.group === '' && a.def.kind === 'Pod' && a.subresource === '' && !!a.object;
}

/** The name admission errors give a pod: the request's, else the object's name or generateName (upstream's extractResourceName). */
function podName(a: AdmissionAttributes): string {
  return a.name || a.object?.metadata.name || a.object?.metadata.generateName || 'Unknown';
}

function forbiddenPod(a: AdmissionAttributes, message: string) {
  const name = podName(a);
  return statusError('Forbidden', `pods "${name}" is forbidden: ${message}`, { name, kind: 'pods' });
}

/** Where upstream mounts the service account volume. */
export const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Upstream's token lifetime for the projected volume (an hour and a bit, so it never lines up with others). */
export const projectedTokenSeconds = 3607;
/** The prefix of the projected service account volume's name. */
export const serviceAccountVolumePrefix = 'kube-api-access-';
/** The service account a pod names none runs as. */
export const defaultServiceAccountName = 'default';
/** A ServiceAccount with this annotation `true` limits the secrets its pods may reference. */
export const enforceMountableSecretsAnnotation = 'kubernetes.io/enforce-mountable-secrets';
/** The annotation that marks a mirror pod (a node's static pod). */
export const mirrorPodAnnotation = 'kubernetes.io/config.mirror';
/** Lookups of a ServiceAccount missing from the cache: `default` is tried this many times, others once. */
export const defaultServiceAccountAttempts = 10;

/** Upstream's generated volume name: `kube-api-access-` and 5 characters of [bcdfghjklmnpqrstvwxz2456789]. */
function apiAccessVolumeName(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = serviceAccountVolumePrefix;
  for (let i = 0; i < 5; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/** Every secret name a pod references (upstream's VisitPodSecretNames over all containers), empty names left out. */
export function podSecretNames(spec: PodSpec): string[] {
  const names: (string | undefined)[] = [];
  for (const r of spec.imagePullSecrets ?? []) names.push(r.name);
  const containers: (Container | EphemeralContainer)[] = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const c of containers) {
    for (const e of c.envFrom ?? []) if (e.secretRef) names.push(e.secretRef.name);
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) names.push(e.valueFrom.secretKeyRef.name);
  }
  for (const v of spec.volumes ?? []) {
    if (v.azureFile) names.push(v.azureFile.secretName);
    else if (v.cephfs) names.push(v.cephfs.secretRef?.name);
    else if (v.cinder) names.push(v.cinder.secretRef?.name);
    else if (v.flexVolume) names.push(v.flexVolume.secretRef?.name);
    else if (v.projected) for (const s of v.projected.sources ?? []) names.push(s.secret?.name);
    else if (v.rbd) names.push(v.rbd.secretRef?.name);
    else if (v.secret) names.push(v.secret.secretName);
    else if (v.scaleIO) names.push(v.scaleIO.secretRef?.name);
    else if (v.iscsi) names.push(v.iscsi.secretRef?.name);
    else if (v.storageos) names.push(v.storageos.secretRef?.name);
    else if (v.csi) names.push(v.csi.nodePublishSecretRef?.name);
  }
  return names.filter((n): n is string => !!n);
}

/** Whether the ServiceAccount limits its pods to the secrets it lists (the annotation parsed as Go's ParseBool). */
function enforcesMountableSecrets(sa: ServiceAccount): boolean {
  return ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(sa.metadata.annotations?.[enforceMountableSecretsAnnotation] ?? '');
}

/** Why the pod may not run as `sa` under enforced mountable secrets (upstream's limitSecretReferences), or undefined. */
export function secretReferenceViolation(sa: ServiceAccount, spec: PodSpec): string | undefined {
  const mountable = new Set((sa.secrets ?? []).map((s) => s.name));
  const saName = sa.metadata.name;
  for (const v of spec.volumes ?? []) {
    if (v.secret && !mountable.has(v.secret.secretName)) return `volume with secret.secretName="${v.secret.secretName ?? ''}" is not allowed because service account ${saName} does not reference that secret`;
  }
  const containers = (list: Container[] | undefined, what: string) => {
    for (const c of list ?? []) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !mountable.has(ref.name)) return `${what} ${c.name} with envVar ${e.name} referencing secret.secretName="${ref.name ?? ''}" is not allowed because service account ${saName} does not reference that secret`;
      }
      for (const e of c.envFrom ?? []) {
        if (e.secretRef && !mountable.has(e.secretRef.name)) return `${what} ${c.name} with envFrom referencing secret.secretName="${e.secretRef.name ?? ''}" is not allowed because service account ${saName} does not reference that secret`;
      }
    }
    return undefined;
  };
  const why = containers(spec.initContainers, 'init container') ?? containers(spec.containers, 'container');
  if (why) return why;
  const pull = new Set((sa.imagePullSecrets ?? []).map((s) => s.name));
  for (const [i, r] of (spec.imagePullSecrets ?? []).entries()) {
    if (!pull.has(r.name)) return `imagePullSecrets[${i}].name="${r.name ?? ''}" is not allowed because service account ${saName} does not reference that imagePullSecret`;
  }
  return undefined;
}

/** The same for the pod's ephemeral containers (upstream's limitEphemeralContainerSecretReferences). */
export function ephemeralSecretReferenceViolation(sa: ServiceAccount, spec: PodSpec): string | undefined {
  const mountable = new Set((sa.secrets ?? []).map((s) => s.name));
  const saName = sa.metadata.name;
  for (const c of spec.ephemeralContainers ?? []) {
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref && !mountable.has(ref.name)) return `ephemeral container ${c.name} with envVar ${e.name} referencing secret.secretName="${ref.name ?? ''}" is not allowed because service account ${saName} does not reference that secret`;
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef && !mountable.has(e.secretRef.name)) return `ephemeral container ${c.name} with envFrom referencing secret.secretName="${e.secretRef.name ?? ''}" is not allowed because service account ${saName} does not reference that secret`;
    }
  }
  return undefined;
}

/**
 * An error upstream returns unwrapped from admission: the API server answers it as a 500 Status
 * with no reason and the error's text as the message (apimachinery's ErrorToAPIStatus).
 */
function plainError(message: string): StatusError {
  return new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 });
}

/** Upstream's mountServiceAccountToken: the projected volume, mounted by every container that has nothing at the path. */
function mountServiceAccountToken(spec: PodSpec): void {
  const existing = (spec.volumes ?? []).find((v) => v.name.startsWith(serviceAccountVolumePrefix));
  const volumeName = existing?.name ?? apiAccessVolumeName();
  let needsVolume = false;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    if ((c.volumeMounts ?? []).some((m) => m.mountPath === serviceAccountMountPath)) continue;
    (c.volumeMounts ??= []).push({ name: volumeName, readOnly: true, mountPath: serviceAccountMountPath });
    needsVolume = true;
  }
  if (existing || !needsVolume) return;
  (spec.volumes ??= []).push({
    name: volumeName,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: projectedTokenSeconds, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  });
}

export interface ServiceAccountAdmissionOptions {
  /** The pause between lookups of a ServiceAccount missing from the cache; default upstream's random 100-199 ms. */
  retryIntervalMs?: () => number;
}

/**
 * The ServiceAccount plugin. `getServiceAccount` reads the API server's cache (it may be called
 * again after a pause when it answers nothing; see the file comment).
 */
export function serviceAccountAdmission(
  getServiceAccount: (namespace: string, name: string) => KubeObject | undefined | Promise<KubeObject | undefined>,
  opts: ServiceAccountAdmissionOptions = {},
): AdmissionPlugin {
  const retryIntervalMs = opts.retryIntervalMs ?? (() => 100 + Math.floor(Math.random() * 100));

  /** The ServiceAccount, or a Forbidden naming upstream's lookup error. */
  async function lookup(a: AdmissionAttributes, name: string): Promise<ServiceAccount> {
    let sa = await getServiceAccount(a.namespace, name);
    if (!sa) {
      // Upstream: a cache miss is fetched live, ten times for the default account.
      const attempts = name === defaultServiceAccountName ? defaultServiceAccountAttempts : 1;
      const pause = retryIntervalMs();
      for (let i = 0; i < attempts && !sa; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, pause));
        sa = await getServiceAccount(a.namespace, name);
      }
    }
    if (!sa) throw forbiddenPod(a, `error looking up service account ${a.namespace}/${name}: serviceaccount "${name}" not found`);
    return sa as unknown as ServiceAccount;
  }

  /** Which requests the plugin looks at (upstream's shouldIgnore, inverted). */
  const applies = (a: AdmissionAttributes): a is AdmissionAttributes & { object: KubeObject } =>
    a.def.group === '' && a.def.kind === 'Pod' && (a.subresource === '' || a.subresource === 'ephemeralcontainers') && !!a.object;

  const isMirror = (pod: Pod) => pod.metadata.annotations?.[mirrorPodAnnotation] !== undefined;

  async function validate(a: AdmissionAttributes): Promise<void> {
    if (!applies(a)) return;
    const pod = a.object as unknown as Pod;
    const spec: PodSpec = pod.spec ?? { containers: [] };
    const saName = spec.serviceAccountName || spec.serviceAccount || '';
    if (a.operation === 'UPDATE' && a.subresource === 'ephemeralcontainers') {
      if (!saName) throw forbiddenPod(a, `no service account specified for pod ${a.namespace}/${pod.metadata.name ?? ''}`);
      const sa = await lookup(a, saName);
      if (!enforcesMountableSecrets(sa)) return;
      const why = ephemeralSecretReferenceViolation(sa, spec);
      if (why) throw plainError(why);
      return;
    }
    if (a.operation !== 'CREATE' || a.subresource !== '') return;
    if (isMirror(pod)) {
      if (saName) throw forbiddenPod(a, 'a mirror pod may not reference service accounts');
      if (podSecretNames(spec).length) throw forbiddenPod(a, 'a mirror pod may not reference secrets');
      if ((spec.volumes ?? []).some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))) throw forbiddenPod(a, 'a mirror pod may not use ServiceAccountToken volume projections');
      return;
    }
    if (!saName) throw forbiddenPod(a, `no service account specified for pod ${a.namespace}/${pod.metadata.name ?? ''}`);
    const sa = await lookup(a, saName);
    if (enforcesMountableSecrets(sa)) {
      const why = secretReferenceViolation(sa, spec);
      if (why) throw forbiddenPod(a, why);
    }
  }

  async function admitPod(a: AdmissionAttributes): Promise<void> {
    const pod = a.object as unknown as Pod;
    // Mirror pods are never changed (the kubelet would see a spec it did not write), only checked.
    if (isMirror(pod)) return validate(a);
    const spec = (pod.spec ??= { containers: [] });
    const name = spec.serviceAccountName || spec.serviceAccount || defaultServiceAccountName;
    spec.serviceAccountName = name;
    spec.serviceAccount = name;
    const sa = await lookup(a, name);
    if (spec.automountServiceAccountToken ?? sa.automountServiceAccountToken ?? true) mountServiceAccountToken(spec);
    if (!spec.imagePullSecrets?.length && sa.imagePullSecrets?.length) spec.imagePullSecrets = sa.imagePullSecrets.map((r) => ({ name: r.name }));
    return validate(a);
  }

  // Requests other than for pods pass at once (not awaited by the chain).
  return {
    name: 'ServiceAccount',
    admit: (a) => (isPodCreate(a) ? admitPod(a) : undefined),
    validate: (a) => (applies(a) ? validate(a) : undefined),
  };
}

export function priorityAdmission(listPriorityClasses: () => readonly KubeObject[]): AdmissionPlugin {
  return {
    name: 'Priority',
    admit(a) {
      if (!isPodCreate(a)) return;
      const spec = (a.object['spec'] ??= {}) as J;
      const className = spec['priorityClassName'] as string | undefined;
      let value = 0;
      let policy = 'PreemptLowerPriority';
      const classes = listPriorityClasses();
      if (className) {
        const pc = classes.find((c) => c.metadata.name === className);
        if (!pc) throw forbiddenPod(a, `no PriorityClass with name ${className} was found`);
        value = Number(pc['value'] ?? 0);
        policy = (pc['preemptionPolicy'] as string | undefined) ?? policy;
      } else {
        const def = classes.find((c) => c['globalDefault'] === true);
        if (def) {
          value = Number(def['value'] ?? 0);
          policy = (def['preemptionPolicy'] as string | undefined) ?? policy;
          spec['priorityClassName'] = def.metadata.name;
        }
      }
      if (spec['priority'] !== undefined && spec['priority'] !== value) {
        throw forbiddenPod(
          a,
          `the integer value of priority (${String(spec['priority'])}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`,
        );
      }
      spec['priority'] = value;
      if (spec['preemptionPolicy'] === undefined) spec['preemptionPolicy'] = policy;
    },
  };
}

const defaultTolerations = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

export const defaultTolerationSeconds: AdmissionPlugin = {
  name: 'DefaultTolerationSeconds',
  admit(a) {
    if (!isPodCreate(a)) return;
    const spec = (a.object['spec'] ??= {}) as J;
    const tols = (Array.isArray(spec['tolerations']) ? spec['tolerations'] : []) as J[];
    for (const d of defaultTolerations) {
      const covered = tols.some(
        (t) => (t['key'] === d.key || (t['key'] === undefined && t['operator'] === 'Exists')) && (t['effect'] === undefined || t['effect'] === 'NoExecute'),
      );
      if (!covered) tols.push({ ...d });
    }
    spec['tolerations'] = tols;
  },
};

/** PriorityClasses every cluster has (upstream creates them at start-up). */
export const systemPriorityClasses: KubeObject[] = [
  { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'system-node-critical' }, value: 2000001000, description: 'Used for system critical pods that must not be moved from their current node.' },
  { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'system-cluster-critical' }, value: 2000000000, description: 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.' },
];
