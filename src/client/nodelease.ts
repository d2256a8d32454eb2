/**
 * A node's heartbeat: its Lease in kube-node-lease (40 s duration, as the kubelet's), renewed by
 * a merge patch and created when missing. Shared by the node agent and the simulated nodes.
 */
import type { LeaseSpec } from '../api/index.ts';
import { isAlreadyExists, isNotFound } from '../api/errors.ts';
import { microTime } from './leaderelection.ts';
import type { Clientset } from './typed.ts';

export async function renewNodeLease(cs: Clientset, name: string): Promise<void> {
  const spec: LeaseSpec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(Date.now()) };
  try {
    await cs.leases.patch(name, { spec }, { type: 'merge', namespace: 'kube-node-lease' });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await cs.leases.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-node-lease' }, spec }, { namespace: 'kube-node-lease' });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
}
