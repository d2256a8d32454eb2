/**
 * The agent's client-side load balancer (k3s's agent load balancer, pkg/agent/loadbalancer):
 * a loopback TCP listener that forwards each connection to a healthy API server, preferring
 * the default one, failing over on dial and health-check failures, and following the
 * `default/kubernetes` Endpoints for the server list. See loadbalancer.ts for the contract.
 *
 *   const lb = new LoadBalancer({ name: 'bosun-agent-load-balancer', listen: { host: '127.0.0.1', port: 6444 },
 *     servers: ['10.0.0.1:6443'], defaultServer: '10.0.0.1:6443', healthCheck: httpsHealthCheck({ ca }) });
 *   await lb.start();
 *   const client = await createClient({ connection: { server: lb.url(), ca, cert, key }, component: 'kubelet' });
 *   void watchApiServerEndpoints(client, lb, signal);
 */
export {
  LoadBalancer,
  defaultDialTimeoutMs,
  defaultFailureThreshold,
  defaultHealthIntervalMs,
  defaultIdleTimeoutMs,
  defaultLbServerPort,
  defaultMaxConnections,
  type LoadBalancerOptions,
  type ServerStatus,
} from './loadbalancer.ts';
export { httpsHealthCheck, tcpHealthCheck, type HealthCheck, type HttpsHealthCheckOptions } from './health.ts';
export { apiServerAddresses, watchApiServerEndpoints, type ServerListTarget, type WatchEndpointsOptions } from './endpoints.ts';
export { addressOfUrl, joinHostPort, splitHostPort, type HostPort } from './address.ts';
