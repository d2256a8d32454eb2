/**
 * The system-namespaces controller, as upstream's (pkg/controlplane/controller/systemnamespaces):
 * `default`, `kube-system`, `kube-public` and `kube-node-lease` always exist. Each is created
 * again when it is missing: promptly when the namespace informer sees one finish deleting, and
 * on a one-minute period otherwise. Creation is idempotent (AlreadyExists is success), so running
 * it under leader election, or twice, is harmless.
 *
 * Where it runs: upstream runs it inside kube-apiserver. Bosun runs it in the controller manager
 * (`systemnamespaces` in the controller list), so `bosun server` runs it in-process and a separate
 * `bosun controller-manager` runs it too; without any controller manager the namespaces are
 * only created by the API server's bootstrap at start.
 */
import { isAlreadyExists, isStatusError } from '../api/errors.ts';
import { clientset, resources } from '../client/index.ts';
import type { ControllerContext } from './context.ts';
import { startQueue } from './controller-utils.ts';

/** The namespaces kept alive, as upstream's list. */
export const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

/** Upstream's systemNamespacesInterval: every namespace is checked this often. */
export const systemNamespacesIntervalMs = 60_000;

export function startSystemNamespacesController(ctx: ControllerContext): void {
  const namespaces = ctx.informers.typedInformerFor(resources.namespaces);
  const cs = clientset(ctx.client);
  const wanted = new Set<string>(systemNamespaces);
  const queue = startQueue(ctx, sync, { name: 'system-namespaces-controller', workers: 1, waitFor: [namespaces] });
  const all = () => systemNamespaces.forEach((n) => queue.add(n));
  namespaces.addEventHandler({ onDelete: (ns) => wanted.has(ns.metadata.name!) && queue.add(ns.metadata.name!) });
  all();
  const timer = setInterval(all, systemNamespacesIntervalMs);
  timer.unref();
  ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });

  async function sync(name: string): Promise<void> {
    // Present, or still terminating: its deletion event brings it back here.
    if (namespaces.store.get(name)) return;
    try {
      await cs.namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
      ctx.log(`system-namespaces-controller: created namespace ${name}`);
    } catch (err) {
      if (isAlreadyExists(err)) return;
      // Still being deleted (the cache lagged): try again shortly; anything else backs off.
      if (isStatusError(err) && err.status.code === 409) return void queue.addAfter(name, 1000);
      throw err;
    }
  }
}
