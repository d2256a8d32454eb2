/**
 * Which Local APIServices kube-apiserver registers for its own group-versions, with upstream's
 * groupPriorityMinimum/versionPriority table (cmd/kube-apiserver/app/aggregator.go): a
 * group-version missing from the table is not registered (as upstream), except the groups of
 * CustomResourceDefinitions (crdregistration: 1000/100) and Bosun's in-process metrics API
 * (metrics-server's own APIService: 100/100).
 */

export interface Priority {
  group: number;
  version: number;
}

const table: Record<string, Priority> = {
  '/v1': { group: 18000, version: 1 },
  'apps/v1': { group: 17800, version: 15 },
  'events.k8s.io/v1': { group: 17750, version: 15 },
  'authentication.k8s.io/v1': { group: 17700, version: 15 },
  'authorization.k8s.io/v1': { group: 17600, version: 15 },
  'autoscaling/v1': { group: 17500, version: 15 },
  'autoscaling/v2': { group: 17500, version: 30 },
  'batch/v1': { group: 17400, version: 15 },
  'certificates.k8s.io/v1': { group: 17300, version: 15 },
  'networking.k8s.io/v1': { group: 17200, version: 15 },
  'policy/v1': { group: 17100, version: 15 },
  'rbac.authorization.k8s.io/v1': { group: 17000, version: 15 },
  'storage.k8s.io/v1': { group: 16800, version: 15 },
  'apiextensions.k8s.io/v1': { group: 16700, version: 15 },
  'admissionregistration.k8s.io/v1': { group: 16700, version: 15 },
  'scheduling.k8s.io/v1': { group: 16600, version: 15 },
  'coordination.k8s.io/v1': { group: 16500, version: 15 },
  'node.k8s.io/v1': { group: 16300, version: 15 },
  'discovery.k8s.io/v1': { group: 16200, version: 15 },
  'flowcontrol.apiserver.k8s.io/v1': { group: 16100, version: 21 },
  // The aggregator's own group, as kube-apiserver lists it (discovery puts it first: 20001).
  'apiregistration.k8s.io/v1': { group: 18000, version: 15 },
  'metrics.k8s.io/v1beta1': { group: 100, version: 100 },
};

/** The priorities crdregistration gives a CustomResourceDefinition's group-versions. */
export const crdPriority: Priority = { group: 1000, version: 100 };

/** The built-in priority of a group-version, if upstream registers one. */
export function builtinPriority(group: string, version: string): Priority | undefined {
  return table[`${group}/${version}`];
}

/** A local group's priority for ordering discovery: the highest of its versions', else the CRD one. */
export function localGroupPriority(group: string): number {
  let best = 0;
  for (const k of Object.keys(table)) if (k.startsWith(`${group}/`)) best = Math.max(best, table[k]!.group);
  return best || crdPriority.group;
}
