/**
 * Built-in admission for pods, as upstream's plugins of the same names do on CREATE:
 * - ServiceAccount: a pod without a service account runs as `default` (both fields set).
 * - Priority: spec.priority and spec.preemptionPolicy from the pod's PriorityClass (or the
 *   global default class, else 0); an unknown class or a hand-set priority that disagrees is
 *   Forbidden.
 * - DefaultTolerationSeconds: pods tolerate not-ready and unreachable nodes for 300 s unless they
 *   say otherwise.
 * Token volumes for service accounts come with the token controller in a later issue.
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

export const serviceAccountAdmission: AdmissionPlugin = {
  name: 'ServiceAccount',
  admit(a) {
    if (!isPodCreate(a)) return;
    // Mirror pods (static pods of a node) get no service account, as upstream.
    if ((a.object.metadata.annotations ?? {})['kubernetes.io/config.mirror'] !== undefined) return;
    const spec = (a.object['spec'] ??= {}) as J;
    const sa = (spec['serviceAccountName'] as string | undefined) || (spec['serviceAccount'] as string | undefined) || 'default';
    spec['serviceAccountName'] = sa;
    spec['serviceAccount'] = sa;
  },
};

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
