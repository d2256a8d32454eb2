/**
 * The ServiceAccount controller: every active namespace has a `default` ServiceAccount; one that
 * is deleted is created again. Namespaces being deleted are left alone.
 */
import { isAlreadyExists, isNotFound, isForbidden } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';

const accounts = ['default'];

export function startServiceAccountController(ctx: ControllerContext): void {
  const namespaces = ctx.informers.typedInformerFor(resources.namespaces);
  const serviceAccounts = ctx.informers.typedInformerFor(resources.serviceAccounts);
  const cs = clientset(ctx.client);
  const queue = startQueue(ctx, sync, { name: 'serviceaccount-controller', workers: 2, waitFor: [namespaces, serviceAccounts] });
  namespaces.addEventHandler({ onAdd: (ns) => queue.add(ns.metadata.name!), onUpdate: (_o, ns) => queue.add(ns.metadata.name!) });
  serviceAccounts.addEventHandler({ onDelete: (sa) => queue.add(sa.metadata.namespace!) });

  async function sync(namespace: string): Promise<void> {
    const ns = namespaces.store.get(namespace);
    if (!ns || ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating') return;
    for (const name of accounts) {
      if (serviceAccounts.store.get(`${namespace}/${name}`)) continue;
      try {
        await cs.serviceAccounts.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } }, { namespace });
      } catch (err) {
        // Already there (the cache lags), or the namespace started terminating meanwhile.
        if (isAlreadyExists(err) || isNotFound(err) || isForbidden(err)) continue;
        throw err;
      }
    }
  }
}
