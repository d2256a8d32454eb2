/**
 * Fixtures shared by the proxy's tests: Services and EndpointSlices as the API holds them, a
 * deterministic pseudo-random sequence (no flaky inputs), and a random world of every kind of
 * Service the rule generators know.
 */
import type { EndpointSlice, Service, ServiceSpec } from '../api/index.ts';

export function svc(name: string, spec: ServiceSpec, ingress?: string): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'ns', name }, spec: { type: 'ClusterIP', ...spec }, ...(ingress ? { status: { loadBalancer: { ingress: [{ ip: ingress }] } } } : {}) };
}

export function slice(service: string, ips: string[], opts: { node?: string; ready?: boolean; protocol?: string } = {}): EndpointSlice {
  return {
    metadata: { namespace: 'ns', name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'p', port: 8080, protocol: opts.protocol ?? 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: opts.node ?? 'node1', conditions: { ready: opts.ready ?? true } })),
  };
}

export function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
}

/** `n` Services (ClusterIP, NodePort, NodePort Local, ClientIP affinity, internal Local, LoadBalancer) and their slices. */
export function world(r: () => number, n: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(r() * 6);
    const protocol = r() < 0.2 ? 'UDP' : 'TCP';
    const spec: ServiceSpec = { clusterIP: `172.30.0.${i + 1}`, ports: [{ name: 'p', port: 80, protocol }] };
    const np = [{ name: 'p', port: 80, protocol, nodePort: 30000 + i }];
    if (kind === 1) Object.assign(spec, { type: 'NodePort', ports: np });
    if (kind === 2) Object.assign(spec, { type: 'NodePort', externalTrafficPolicy: 'Local', ports: np });
    if (kind === 3) Object.assign(spec, { sessionAffinity: 'ClientIP' });
    if (kind === 4) Object.assign(spec, { internalTrafficPolicy: 'Local' });
    if (kind === 5) Object.assign(spec, { type: 'LoadBalancer', ports: np, ...(r() < 0.5 ? { loadBalancerSourceRanges: ['192.168.5.0/24'] } : {}) });
    services.push(svc(`s${i}`, spec, kind === 5 ? `192.168.1.${i + 1}` : undefined));
    const ips = Array.from({ length: Math.floor(r() * 4) }, (_, k) => `10.1.${i}.${k + Math.floor(r() * 3)}`);
    if (ips.length) slices.push(slice(`s${i}`, ips, { node: r() < 0.5 ? 'node1' : 'node2', ready: r() < 0.9, protocol }));
  }
  return { services, slices };
}
