/**
 * How the metrics server reaches a node agent, as metrics-server's resource client with
 * `--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname --kubelet-use-node-status-port`
 * (k3s's settings): the node's first address of those types, the port its
 * `status.daemonEndpoints.kubeletEndpoint.Port` (10250 when unset), path `/metrics/resource`
 * unless the node's `metrics.k8s.io/resource-metrics-path` annotation names another; HTTPS
 * verified against the cluster CA and authenticated with the API server's kubelet-client
 * certificate (read per request, so a renewed one is used from the next scrape on).
 *
 * Bounds: the caller's signal (the per-node timeout) aborts the request; an answer larger than
 * maxResourceMetricsBytes is refused; at most maxKubeletSockets connections are kept open.
 */
import https from 'node:https';
import type { Node } from '../api/index.ts';

/** Credentials toward node agents (getters are read per request). */
export interface KubeletCredentials {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
}

/** Address types tried in order (metrics-server's flag as k3s sets it). */
export const preferredAddressTypes: readonly string[] = ['InternalIP', 'ExternalIP', 'Hostname'];
/** The kubelet's default port. */
export const defaultKubeletPort = 10250;
/** metrics-server's annotation for another resource metrics path. */
export const resourceMetricsPathAnnotation = 'metrics.k8s.io/resource-metrics-path';
/** The largest `/metrics/resource` answer read (a 110-pod node answers a few tens of KiB). */
export const maxResourceMetricsBytes = 16 << 20;
/** Connections kept open toward node agents at most. */
export const maxKubeletSockets = 64;

/** Fetches a node's resource metrics text; rejects on failure (`signal` aborts it). */
export type ResourceMetricsGetter = (node: Node, signal: AbortSignal) => Promise<{ text: string; requestTimeMs: number }>;

/** The URL of a node's resource metrics; throws when the node reports no usable address. */
export function resourceMetricsUrl(node: Node): URL {
  const addresses = node.status?.addresses ?? [];
  for (const type of preferredAddressTypes) {
    const a = addresses.find((x) => x.type === type && x.address);
    if (!a) continue;
    const p = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
    const port = p && p > 0 ? p : defaultKubeletPort;
    const host = a.address.includes(':') ? `[${a.address}]` : a.address;
    const path = node.metadata.annotations?.[resourceMetricsPathAnnotation] || '/metrics/resource';
    return new URL(`https://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`);
  }
  throw new Error(`node ${node.metadata.name} had no addresses that matched types [${preferredAddressTypes.join(' ')}]`);
}

/**
 * A getter over HTTPS with the kubelet-client credentials; its connections close when `signal`
 * aborts. `maxBytes` (default maxResourceMetricsBytes) caps an answer.
 */
export function kubeletResourceMetrics(creds: KubeletCredentials, signal: AbortSignal, opts: { maxBytes?: number } = {}): ResourceMetricsGetter {
  const maxBytes = opts.maxBytes ?? maxResourceMetricsBytes;
  const agent = new https.Agent({ keepAlive: true, maxTotalSockets: maxKubeletSockets, maxSockets: 2 });
  signal.addEventListener('abort', () => agent.destroy(), { once: true });
  return (node, signal) =>
    new Promise((resolve, reject) => {
      const url = resourceMetricsUrl(node);
      const requestTimeMs = Date.now();
      const req = https.request(url, { method: 'GET', agent, ca: creds.caPem, cert: creds.certPem, key: creds.keyPem, signal, headers: { accept: 'text/plain' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`request failed, status: "${res.statusCode} ${res.statusMessage ?? ''}"`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > maxBytes) {
            res.destroy(new Error(`answer larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(d);
        });
        res.on('error', reject);
        res.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), requestTimeMs }));
      });
      req.on('error', reject);
      req.end();
    });
}
