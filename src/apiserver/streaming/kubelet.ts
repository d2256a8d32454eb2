/**
 * How the API server reaches a node's agent, as upstream's NodeConnectionInfoGetter does: the
 * host is the node's first reported address of the preferred types, the port its
 * `status.daemonEndpoints.kubeletEndpoint.Port` (10250 when unset), over HTTPS verified with the
 * cluster CA and authenticated with the API server's kubelet-client certificate.
 */
import { StatusError } from '../../api/errors.ts';
import type { Node } from '../../api/index.ts';
import type { UpstreamTarget } from '../../util/upgrade.ts';

/** The API server's credentials toward node agents (ApiServerOptions.kubeletClient). */
export interface KubeletClientConfig {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/** Upstream's default kubelet port. */
export const defaultKubeletPort = 10250;
/** Address types tried in order (k3s's --kubelet-preferred-address-types: InternalIP first). */
export const preferredAddressTypes: readonly string[] = ['InternalIP', 'ExternalIP', 'Hostname'];

/**
 * A failure that upstream reports as a plain error (500, no reason): a Status whose message is
 * the error's text, as upstream writes errors that are not API statuses.
 */
export function plainError(message: string, code = 500): StatusError {
  return new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code });
}

/** The agent's host and port for a node. Throws (500) when the node reports no usable address. */
export function agentEndpoint(node: Node): { host: string; port: number } {
  const addresses = node.status?.addresses ?? [];
  for (const type of preferredAddressTypes) {
    const a = addresses.find((x) => x.type === type && x.address);
    if (a) {
      const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
      return { host: a.address, port: port && port > 0 ? port : defaultKubeletPort };
    }
  }
  const known = addresses.map((a) => `{${a.type} ${a.address}}`).join(' ');
  throw plainError(`no preferred addresses found; known addresses: [${known}]`);
}

/** An https URL on the agent: `path` (already escaped) and `query`. */
export function agentUrl(endpoint: { host: string; port: number }, path: string, query = ''): URL {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return new URL(`https://${host}:${endpoint.port}${path}${query ? `?${query}` : ''}`);
}

/** The target for a request to the agent with the kubelet-client credentials. */
export function agentTarget(client: KubeletClientConfig, url: URL, opts: { insecureSkipVerify?: boolean } = {}): UpstreamTarget {
  return { url, tls: { caPem: client.caPem, certPem: client.certPem, keyPem: client.keyPem, insecureSkipVerify: opts.insecureSkipVerify } };
}
