/**
 * Bootstrap objects every cluster has, created at start-up when absent (idempotent):
 * the default, kube-system, kube-public and kube-node-lease namespaces.
 */
import type { ApiServer } from './server.ts';
import { isAlreadyExists } from '../api/errors.ts';
import type { UserInfo } from '../api/types.ts';

const system: UserInfo = { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };

export async function bootstrap(api: ApiServer): Promise<void> {
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
}
