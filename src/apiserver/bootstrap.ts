/**
 * Bootstrap objects every cluster has, created at start-up when absent (idempotent):
 * the default, kube-system, kube-public and kube-node-lease namespaces, the system-node-critical
 * and system-cluster-critical PriorityClasses, the `kubernetes`
 * service in `default` (first service IP, port 443 to the API server's port), and the cluster
 * DNS Service `kube-dns` in `kube-system` (10.43.0.10 unless `clusterDns` says otherwise),
 * upstream's bootstrap RBAC policy with Bosun's additions (authz/bootstrappolicy.ts), reconciled
 * as upstream's RBAC post-start hook does (authz/reconcile.ts), and, with `defaultStorageClass`,
 * the default StorageClass `local-path` of the node agents' provisioner (k3s's local-storage
 * manifest with Bosun's provisioner name; `bosun server --disable local-storage` leaves it out).
 * Like every object here it is only created when absent: a changed one is kept as it is.
 */
import type { ApiServer } from './server.ts';
import { isAlreadyExists } from '../api/errors.ts';
import type { KubeObject, UserInfo } from '../api/types.ts';
import type { StorageClass } from '../api/index.ts';
import { systemPriorityClasses } from './admission/pods.ts';
import { reconcileBootstrapPolicy, type ReconcileIO } from './authz/reconcile.ts';
import { isNotFound } from '../api/errors.ts';
import { copyJson } from '../util/freeze.ts';

const system: UserInfo = { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };

/** The default StorageClass `bosun server` creates (k3s's `local-path`, provisioned by the node agents). */
export const localPathStorageClass: StorageClass = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
  provisioner: 'bosun.dev/local-path',
  reclaimPolicy: 'Delete',
  volumeBindingMode: 'WaitForFirstConsumer',
  allowVolumeExpansion: true,
};

export interface BootstrapOptions {
  port: number;
  /** The kube-dns Service's address (default 10.43.0.10); '' creates none. */
  clusterDns?: string;
  /** Create the default StorageClass `local-path` when absent (default false). */
  defaultStorageClass?: boolean;
}

export async function bootstrap(api: ApiServer, opts: BootstrapOptions): Promise<void> {
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
  await reconcileBootstrapPolicy(rbacIO(api), (msg) => process.stdout.write(`bosun: ${msg}\n`));
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
  const scDef = opts.defaultStorageClass ? api.registry.byKind('storage.k8s.io', 'StorageClass') : undefined;
  if (scDef) {
    const classes = api.storageFor(scDef);
    if (!classes.cache.get(classes.key('', localPathStorageClass.metadata.name!))) {
      try {
        await classes.create('', structuredClone(localPathStorageClass) as KubeObject, { user: system, dryRun: false, version: 'v1' });
      } catch (err) {
        if (!isAlreadyExists(err)) process.stdout.write(`bosun: StorageClass local-path not created: ${(err as Error).message}\n`);
      }
    }
  }
  const svcDef = api.registry.byKind('', 'Service');
  if (!svcDef) return;
  const services = api.storageFor(svcDef);
  // The cluster DNS Service (upstream's kube-dns/CoreDNS Service): no selector; every node agent
  // serves DNS and publishes its own EndpointSlice, reached node-locally (src/dns).
  if (opts.clusterDns !== '' && !services.cache.get(services.key('kube-system', 'kube-dns'))) {
    const ip = opts.clusterDns ?? '10.43.0.10';
    try {
      await services.create(
        'kube-system',
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: {
            name: 'kube-dns',
            labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' },
            annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' },
          },
          spec: {
            type: 'ClusterIP',
            clusterIP: ip,
            clusterIPs: [ip],
            internalTrafficPolicy: 'Local',
            ports: [
              { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
              { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
              { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
            ],
          },
        },
        { user: system, dryRun: false, version: 'v1' },
      );
    } catch (err) {
      // An address taken by another Service must not keep the API server from starting.
      if (!isAlreadyExists(err)) process.stdout.write(`bosun: kube-system/kube-dns not created: ${(err as Error).message}\n`);
    }
  }
  const existing = services.cache.get(services.key('default', 'kubernetes'))?.obj as { spec?: { ports?: { targetPort?: unknown }[] } } | undefined;
  if (existing) {
    // Restarted on another port: the https port's targetPort follows (upstream reconciles the ports).
    if (existing.spec?.ports?.length === 1 && existing.spec.ports[0]!.targetPort !== opts.port) {
      await services
        .update('default', 'kubernetes', (cur) => {
          const next = structuredClone(cur!) as unknown as { spec: { ports: { targetPort?: unknown }[] } };
          next.spec.ports[0]!.targetPort = opts.port;
          return next as unknown as NonNullable<typeof cur>;
        }, { user: system, dryRun: false, version: 'v1' })
        .catch((err: unknown) => process.stdout.write(`bosun: default/kubernetes ports not updated: ${(err as Error).message}\n`));
    }
    return;
  }
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

/** The RBAC kinds' storage, written as the API server itself. */
function rbacIO(api: ApiServer): ReconcileIO {
  const store = (kind: string) => api.storageFor(api.registry.byKind('rbac.authorization.k8s.io', kind)!);
  const ctx = { user: system, dryRun: false, version: 'v1' };
  return {
    get: async (kind, ns, name) => {
      try {
        return await store(kind).get(ns, name);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    create: async (kind, obj) => void (await store(kind).create(obj.metadata.namespace ?? '', obj, ctx)),
    update: async (kind, obj) => void (await store(kind).update(obj.metadata.namespace ?? '', obj.metadata.name!, () => copyJson(obj), ctx)),
    delete: async (kind, ns, name) => void (await store(kind).delete(ns, name, {}, ctx)),
  };
}
