/**
 * The `extension-apiserver-authentication` ConfigMap in kube-system that kube-apiserver publishes
 * for extension API servers (upstream's ClusterAuthenticationTrust controller): the client CA
 * they may trust for client certificates, and the request-header settings under which they
 * trust the aggregator's X-Remote-* headers. Values are JSON arrays of strings, as upstream.
 */
import type { ConfigMap } from '../api/index.ts';
import type { KubeObject, UserInfo } from '../api/types.ts';
import { proxyClientCommonName } from '../pki/requestheader.ts';

export const authConfigMapNamespace = 'kube-system';
export const authConfigMapName = 'extension-apiserver-authentication';

export function authConfigMapData(p: { clientCaPem: string; requestHeaderCaPem: string }): Record<string, string> {
  return {
    'client-ca-file': p.clientCaPem,
    'requestheader-allowed-names': JSON.stringify([proxyClientCommonName]),
    'requestheader-client-ca-file': p.requestHeaderCaPem,
    'requestheader-extra-headers-prefix': JSON.stringify(['X-Remote-Extra-']),
    'requestheader-group-headers': JSON.stringify(['X-Remote-Group']),
    'requestheader-username-headers': JSON.stringify(['X-Remote-User']),
  };
}

export function authConfigMap(p: { clientCaPem: string; requestHeaderCaPem: string }): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: authConfigMapName, namespace: authConfigMapNamespace }, data: authConfigMapData(p) };
}

/** The ConfigMap store's one write the publisher needs (the API server's ResourceStore). */
export interface ConfigMapWriter {
  update(namespace: string, name: string, mutate: (cur: KubeObject | null) => KubeObject, ctx: { user: UserInfo; dryRun: boolean; version: string }, opts?: { forceAllowCreate?: boolean }): Promise<unknown>;
}

/**
 * Creates or updates the ConfigMap so that its data is exactly `p`'s (other keys replaced, as
 * upstream's controller owns the object). Idempotent; an unchanged ConfigMap is not written.
 */
export async function publishAuthConfigMap(store: ConfigMapWriter, p: { clientCaPem: string; requestHeaderCaPem: string }): Promise<void> {
  const data = authConfigMapData(p);
  await store.update(
    authConfigMapNamespace,
    authConfigMapName,
    (cur) => {
      if (cur && JSON.stringify((cur as unknown as ConfigMap).data ?? {}) === JSON.stringify(data)) return cur;
      const base = cur ? structuredClone(cur) : (authConfigMap(p) as unknown as KubeObject);
      (base as unknown as ConfigMap).data = data;
      return base;
    },
    { user: { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] }, dryRun: false, version: 'v1' },
    { forceAllowCreate: true },
  );
}
