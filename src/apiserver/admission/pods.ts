/**
 * Built-in admission for pods, as upstream's plugins of the same names do on CREATE:
 * - ServiceAccount: a pod without a service account runs as `default` (both fields set); unless
 *   the pod or its ServiceAccount says `automountServiceAccountToken: false`, it gets upstream's
 *   projected `kube-api-access-<random>` volume (a bound token, kube-root-ca.crt, the namespace)
 *   mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container, and
 *   the ServiceAccount's imagePullSecrets when it names none.
 * - Priority: spec.priority and spec.preemptionPolicy from the pod's PriorityClass (or the
 *   global default class, else 0); an unknown class or a hand-set priority that disagrees is
 *   Forbidden.
 * - DefaultTolerationSeconds: pods tolerate not-ready and unreachable nodes for 300 s unless they
 *   say otherwise.
 */
import { statusError } from '../../api/errors.ts';
import type { KubeObject } from '../../api/types.ts';
import type { AdmissionAttributes, AdmissionPlugin } from './types.ts';

type J = Record<string, unknown>;

function isPodCreate(a: AdmissionAttributes): a is AdmissionAttributes & { object: KubeObject } {
  return a.operation === 'CREATE' && a.def.group === '' && a.def.kind === 'Pod' && a.subresource === '' && !!a.object;
}

function forbiddenPod(a: AdmissionAttributes, message: string) {
  return statusError('Forbidden', `pods "${a.name}" is forbidden: ${message}`, { name: a.name, kind: 'pods' });
}

/** Where upstream mounts the service account volume. */
export const serviceAccountMountPath = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Upstream's token lifetime for the projected volume (an hour and a bit, so it never lines up with others). */
export const projectedTokenSeconds = 3607;

/** Upstream's generated volume name: `kube-api-access-` and 5 characters of [bcdfghjklmnpqrstvwxz2456789]. */
function apiAccessVolumeName(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = 'kube-api-access-';
  for (let i = 0; i < 5; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/** The ServiceAccount plugin; `getServiceAccount` reads the API server's cache. */
export function serviceAccountAdmission(getServiceAccount: (namespace: string, name: string) => KubeObject | undefined): AdmissionPlugin {
  return {
    name: 'ServiceAccount',
    admit(a) {
      if (!isPodCreate(a)) return;
      // Mirror pods (static pods of a node) get no service account, as upstream.
      if ((a.object.metadata.annotations ?? {})['kubernetes.io/config.mirror'] !== undefined) return;
      const spec = (a.object['spec'] ??= {}) as J;
      const name = (spec['serviceAccountName'] as string | undefined) || (spec['serviceAccount'] as string | undefined) || 'default';
      spec['serviceAccountName'] = name;
      spec['serviceAccount'] = name;
      const sa = getServiceAccount(a.namespace, name);
      const pullSecrets = (sa?.['imagePullSecrets'] as unknown[] | undefined) ?? [];
      if (pullSecrets.length && !(spec['imagePullSecrets'] as unknown[] | undefined)?.length) spec['imagePullSecrets'] = structuredClone(pullSecrets);
      const automount = (spec['automountServiceAccountToken'] as boolean | undefined) ?? (sa?.['automountServiceAccountToken'] as boolean | undefined) ?? true;
      if (!automount) return;
      const containers = [...((spec['initContainers'] as J[] | undefined) ?? []), ...((spec['containers'] as J[] | undefined) ?? [])];
      const mounted = (c: J) => ((c['volumeMounts'] as J[] | undefined) ?? []).some((m) => m['mountPath'] === serviceAccountMountPath);
      // A pod that mounts something there itself keeps it (upstream checks every container).
      if (containers.some(mounted)) return;
      const volumes = (spec['volumes'] ??= []) as J[];
      let volName = apiAccessVolumeName();
      while (volumes.some((v) => v['name'] === volName)) volName = apiAccessVolumeName();
      volumes.push({
        name: volName,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: projectedTokenSeconds, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      });
      for (const c of containers) ((c['volumeMounts'] ??= []) as J[]).push({ name: volName, readOnly: true, mountPath: serviceAccountMountPath });
    },
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
