/**
 * Kubeconfig files: one cluster, one user, one context, with the CA and the client
 * certificate and key embedded as base64 data (no file references), named 'default' like k3s.
 */
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  /** API server URL, e.g. https://127.0.0.1:6443. */
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  clusterName?: string;
  userName?: string;
  contextName?: string;
}

/** Renders the kubeconfig as YAML (a `kind: Config`, `apiVersion: v1` document). Pure. */
export function kubeconfigYaml(opts: KubeconfigOptions): string {
  const cluster = opts.clusterName ?? 'default';
  const user = opts.userName ?? 'default';
  const context = opts.contextName ?? 'default';
  const b64 = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(opts.certPem), 'client-key-data': b64(opts.keyPem) } }],
    contexts: [{ name: context, context: { cluster, user } }],
    'current-context': context,
    preferences: {},
  };
  // lineWidth 0: never fold, so the base64 blobs stay on one line each.
  return stringify(config, { lineWidth: 0 });
}
