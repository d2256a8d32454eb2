/**
 * Bootstrap objects every cluster has, created at start-up when absent (idempotent):
 * the default, kube-system, kube-public and kube-node-lease namespaces, the system-node-critical
 * and system-cluster-critical PriorityClasses, and the `kubernetes`
 * service in `default` (first service IP, port 443 to the API server's port).
 */
import type { ApiServer } from './server.ts';
import { isAlreadyExists } from '../api/errors.ts';
import type { UserInfo } from '../api/types.ts';
import { systemPriorityClasses } from './admission/pods.ts';

const system: UserInfo = { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };

export async function bootstrap(api: ApiServer, opts: { port: number }): Promise<void> {
  const nsDef = api.registry.byKind('', 'Namespace');
  if (!nsDef) return;
  const namespaces = api.storageFor(nsDef);
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    if (namespaces.cache.get(namespaces.key('', name))) continue;
    try {
      await namespaces.create('', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { user: system, dryRun: false, version: 'v1' });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  const pcDef = api.registry.byKind('scheduling.k8s.io', 'PriorityClass');
  if (pcDef) {
    const pcs = api.storageFor(pcDef);
    for (const pc of systemPriorityClasses) {
      if (pcs.cache.get(pcs.key('', pc.metadata.name!))) continue;
      try {
        await pcs.create('', structuredClone(pc), { user: system, dryRun: false, version: 'v1' });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  }
  const svcDef = api.registry.byKind('', 'Service');
  if (!svcDef) return;
  const services = api.storageFor(svcDef);
  if (services.cache.get(services.key('default', 'kubernetes'))) return;
  try {
    await services.create(
      'default',
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
        spec: { type: 'ClusterIP', sessionAffinity: 'None', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.port }] },
      },
      { user: system, dryRun: false, version: 'v1' },
    );
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}
