/**
 * `bosun agent`: the node agent as its own process. Two modes:
 * - beside a server on this machine (no --token): the identity and serving certificate the
 *   server issued in its data dir (`tls/agent.*`, `tls/agent-serving.*`; for another node name
 *   its own pair from the data dir's CA) and the server's address from its kubeconfig. The agent
 *   renews these itself while it runs (pki/rotation.ts: at 70–90 % of their validity, in place:
 *   new client sessions, the serving certificate from the next handshake on);
 * - joining (`--server URL --token TOKEN`): TLS bootstrap with a node token (kubelet/bootstrap.ts),
 *   credentials kept in `DATA_DIR/agent/tls`; when a certificate reaches 80 % of its lifetime the
 *   agent requests new ones as the node and restarts itself in-process with them (pods keep
 *   running across an agent restart). Everything it sends to the API servers goes through a
 *   client-side load balancer on 127.0.0.1 (`--lb-server-port`, k3s's, default 6444; one for the
 *   process, kept across those restarts): it starts with `--server` and follows the
 *   `default/kubernetes` Endpoints, so the agent fails over to another API server (see
 *   src/loadbalancer). The kubelet kubeconfig it writes names the balancer, as k3s's does.
 */
import type { ProxyMode } from '../proxy/index.ts';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createClient, loadKubeconfig, sleepUnlessAborted } from '../client/index.ts';
import { agentPrerequisites, firstSubnet, gatewayOf, runAgent } from '../kubelet/index.ts';
import type { AgentCredentials } from '../kubelet/bootstrap.ts';
import type { EvictionThresholds } from '../kubelet/node.ts';
import type { HealthCheck, LoadBalancer } from '../loadbalancer/index.ts';

export interface AgentCommandConfig {
  dataDir: string;
  nodeName?: string;
  port: number;
  clusterCidr: string;
  /** The cluster DNS Service's address for ClusterFirst pods (--cluster-dns); default 10.43.0.10. */
  clusterDns?: string;
  /** --cluster-domain; default cluster.local. */
  clusterDomain?: string;
  /** --resolv-conf: resolver file for Default pods and the cluster DNS's upstreams; default /etc/resolv.conf. */
  resolvConf?: string;
  /** --node-ip: the node's InternalIP on the hosts' link (host-gw routing, pod range from node IPAM). */
  nodeIP?: string;
  eviction?: EvictionThresholds;
  /** --proxy-mode: the service proxy's mode; default iptables. */
  proxyMode?: ProxyMode;
  /** The API server's URL; default the one in the data dir's kubeconfig. */
  server?: string;
  /** Node token (`K10<ca hash>::<id>.<secret>`, the server's server/node-token): join through TLS bootstrap. */
  token?: string;
  /** --lb-server-port (joining only): the local load balancer's port on 127.0.0.1; default 6444, 0 picks a free one. */
  lbServerPort?: number;
}

export async function runAgentCommand(cfg: AgentCommandConfig, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  const missing = await agentPrerequisites();
  if (missing.length) throw new Error(`node agent cannot start: ${missing.join('; ')}`);
  if (cfg.token !== undefined) return runJoinedAgent(cfg, signal, log);
  const tls = path.join(cfg.dataDir, 'tls');
  const read = (f: string) => fs.readFile(path.join(tls, f), 'utf8');
  const nodeName = (cfg.nodeName ?? os.hostname()).toLowerCase();
  let cert: string;
  try {
    [, cert] = await Promise.all([read('ca.crt'), read('agent.crt'), read('agent.key'), read('agent-serving.crt'), read('agent-serving.key')]);
  } catch (err) {
    throw new Error(`no agent credentials in ${tls} (start \`bosun server --data-dir ${cfg.dataDir}\` once first): ${(err as Error).message}`);
  }
  // The server's agent credentials name its own node; another node name gets its own pair from the
  // data dir's CA (the Node authorizer and NodeRestriction keep a node to its own objects).
  const { X509Certificate } = await import('node:crypto');
  const own = new X509Certificate(cert).subject.split('\n').includes(`CN=system:node:${nodeName}`);
  const names = own ? { client: 'agent', serving: 'agent-serving' } : { client: `agent-${nodeName}`, serving: `agent-serving-${nodeName}` };
  const { ensurePkiIsolated, reissueIsolated } = await import('../pki/isolated.ts');
  const { CertRotator, certLifetimeFromEnv } = await import('../pki/rotation.ts');
  const nodeIP = cfg.nodeIP ?? gatewayOf(firstSubnet(cfg.clusterCidr));
  const request = {
    dir: tls,
    sans: [],
    hostnames: [],
    leavesOnly: true,
    clients: [{ name: names.client, commonName: `system:node:${nodeName}`, organizations: ['system:nodes'] }],
    servings: [{ name: names.serving, commonName: nodeName, sans: [nodeName, nodeIP, 'localhost', '127.0.0.1'] }],
    // Testing only: short-lived leaves (pki/rotation.ts), read once here.
    leafLifetimeSeconds: certLifetimeFromEnv(process.env),
  };
  const { pki, clients } = await ensurePkiIsolated(request, log);
  const rotator = new CertRotator({ reissue: (n) => reissueIsolated(request, n, log), log });
  const identity = rotator.add(names.client, clients[names.client]!);
  const serving = rotator.add(names.serving, clients[names.serving]!);
  const ca = pki.caCertPem;
  const server = cfg.server ?? (await loadKubeconfig(path.join(cfg.dataDir, 'kubeconfig.yaml'))).server;
  const credentials = () => ({ cert: identity.current().certPem, key: identity.current().keyPem });
  const client = await createClient({ component: 'kubelet', connection: { server, ca }, credentials, qps: 50, burst: 100 });
  const stopRotation = new AbortController();
  const rotation = rotator.run(AbortSignal.any([signal, stopRotation.signal]));
  try {
    await runAgent({ client, nodeName, dir: path.join(cfg.dataDir, 'agent'), clusterCidr: cfg.clusterCidr, clusterDns: cfg.clusterDns, clusterDomain: cfg.clusterDomain, resolvConf: cfg.resolvConf, nodeIP: cfg.nodeIP, port: cfg.port, eviction: cfg.eviction, proxyMode: cfg.proxyMode, tls: { ...serving.current(), caPem: ca }, servingCertificate: serving, log }, signal);
  } finally {
    stopRotation.abort();
    await rotation;
    await client.transport.close();
  }
  log('agent stopped');
}

/** Join mode: bootstrap (or reuse) credentials, run, renew and restart before they are due. */
async function runJoinedAgent(cfg: AgentCommandConfig, signal: AbortSignal, log: (msg: string) => void): Promise<void> {
  if (!cfg.server) throw new Error('--token needs --server https://HOST:PORT');
  // TLS bootstrap (and the yaml and PKI code it brings) loads only when joining: an agent beside
  // its server never needs it.
  const { ensureAgentCredentials, nextRenewal } = await import('../kubelet/bootstrap.ts');
  const nodeName = (cfg.nodeName ?? os.hostname()).toLowerCase();
  // One balancer for the process: it outlives the in-process restarts below.
  const balancer = await startAgentLoadBalancer(cfg.server, cfg.lbServerPort, log);
  try {
    const opts = { server: balancer.lb.url(), token: cfg.token!, dir: path.join(cfg.dataDir, 'agent', 'tls'), nodeName, nodeIP: cfg.nodeIP ?? gatewayOf(firstSubnet(cfg.clusterCidr)), log };
    let creds = await ensureAgentCredentials(opts, signal);
    balancer.trust(creds.caPem);
    log(`agent: joined ${cfg.server} as system:node:${nodeName}`);
    while (!signal.aborted) {
      const inner = new AbortController();
      const stop = () => inner.abort();
      signal.addEventListener('abort', stop, { once: true });
      let renewed: AgentCredentials | undefined;
      // Renewal runs beside the agent: new certificates first, then a restart with them.
      const renewal = (async () => {
        while (!inner.signal.aborted) {
          if (!(await sleepUntil(nextRenewal(creds), inner.signal))) return;
          try {
            renewed = await ensureAgentCredentials(opts, inner.signal);
            log('agent: certificates renewed; restarting the agent with them');
            inner.abort();
            return;
          } catch (err) {
            log(`agent: certificate renewal failed (${(err as Error).message}); retrying in a minute`);
            if (!(await sleepUnlessAborted(60_000, { signal: inner.signal }))) return;
          }
        }
      })();
      try {
        await runWith(cfg, creds, nodeName, balancer.lb, inner.signal, log);
      } finally {
        inner.abort();
        signal.removeEventListener('abort', stop);
        await renewal;
      }
      if (!renewed) break;
      creds = renewed;
      balancer.trust(creds.caPem);
    }
  } finally {
    await balancer.lb.close();
  }
  log('agent stopped');
}

/**
 * The joined agent's load balancer on 127.0.0.1:`port` (default 6444), starting from the
 * `--server` address (its default server). Until the cluster CA is known (`trust`) servers are
 * checked with a TCP connect; then with an HTTPS GET /livez verified against the CA.
 */
async function startAgentLoadBalancer(server: string, port: number | undefined, log: (msg: string) => void): Promise<{ lb: LoadBalancer; trust(caPem: string): void }> {
  const { LoadBalancer, addressOfUrl, httpsHealthCheck, tcpHealthCheck, defaultLbServerPort } = await import('../loadbalancer/index.ts');
  let address: string;
  try {
    address = addressOfUrl(server);
  } catch {
    throw new Error(`--server must be an https:// URL, not ${server}`);
  }
  let check: HealthCheck = tcpHealthCheck;
  let trusted: string | undefined;
  const listen = { host: '127.0.0.1', port: port ?? defaultLbServerPort };
  const lb = new LoadBalancer({ name: 'bosun-agent-load-balancer', listen, servers: [address], defaultServer: address, healthCheck: (s, sig) => check(s, sig), log });
  try {
    await lb.start();
  } catch (err) {
    throw new Error(`the agent load balancer cannot listen on ${listen.host}:${listen.port} (--lb-server-port): ${(err as Error).message}`);
  }
  return {
    lb,
    trust(caPem: string) {
      if (caPem === trusted) return;
      trusted = caPem;
      check = httpsHealthCheck({ ca: caPem });
    },
  };
}

async function runWith(cfg: AgentCommandConfig, creds: AgentCredentials, nodeName: string, lb: LoadBalancer, signal: AbortSignal, log: (msg: string) => void): Promise<void> {
  const client = await createClient({ component: 'kubelet', connection: { server: creds.server, ca: creds.caPem, cert: creds.certPem, key: creds.keyPem }, qps: 50, burst: 100 });
  // The server list follows the kubernetes Endpoints, read through the balancer itself.
  const { watchApiServerEndpoints } = await import('../loadbalancer/index.ts');
  const stopWatch = new AbortController();
  const endpoints = watchApiServerEndpoints(client, lb, AbortSignal.any([signal, stopWatch.signal]), { log });
  try {
    await runAgent({ client, nodeName, dir: path.join(cfg.dataDir, 'agent'), clusterCidr: cfg.clusterCidr, clusterDns: cfg.clusterDns, clusterDomain: cfg.clusterDomain, resolvConf: cfg.resolvConf, nodeIP: cfg.nodeIP, port: cfg.port, eviction: cfg.eviction, proxyMode: cfg.proxyMode, tls: { certPem: creds.servingCertPem, keyPem: creds.servingKeyPem, caPem: creds.caPem }, log }, signal);
  } finally {
    stopWatch.abort();
    await endpoints;
    await client.transport.close();
  }
}

/** Sleeps until `at` (in steps under setTimeout's 24.8-day limit); false when aborted. */
async function sleepUntil(at: Date, signal: AbortSignal): Promise<boolean> {
  for (;;) {
    const left = at.getTime() - Date.now();
    if (left <= 0) return !signal.aborted;
    if (!(await sleepUnlessAborted(Math.min(left, 2 ** 31 - 1), { signal }))) return false;
  }
}
