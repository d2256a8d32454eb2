/**
 * Cluster DNS, served by each node agent on its node IP, port 53 (UDP and TCP), as CoreDNS's
 * kubernetes plugin answers (records.ts), forwarding other names to the host's resolvers
 * (forward.ts). The `kube-dns` Service in `kube-system` (created by the API server's bootstrap,
 * no selector, internalTrafficPolicy Local) reaches it through one EndpointSlice per node,
 * `kube-dns-<node>`, which this component keeps while it runs and deletes on a clean stop.
 *
 * `startClusterDns` resolves once the server listens (informers start syncing; cluster names
 * answer SERVFAIL until they have). Its `stopped` promise resolves after the signal aborted, the
 * slice was deleted (best effort, bounded) and the sockets closed. A bind failure is logged and
 * leaves the node without DNS (never rejects).
 */
import type { EndpointSlice } from '../api/index.ts';
import { isNotFound, isAlreadyExists } from '../api/errors.ts';
import { clientset, InformerFactory, resources, type RestClient } from '../client/index.ts';
import { ClusterView, defaultClusterDomain } from './records.ts';
import { Forwarder, parseUpstream, type Upstream } from './forward.ts';
import { DnsHandler, DnsServer } from './server.ts';
import { readResolvConf } from './resolvconf.ts';

export { answer, ClusterView, clusterTtl, defaultClusterDomain, type ZoneOptions } from './records.ts';
export { podDnsConfig, parseResolvConf, readResolvConf, type ResolverConfig, type DnsEvent, type PodDnsOptions } from './resolvconf.ts';
export { Forwarder, parseUpstream, type Upstream } from './forward.ts';
export { DnsHandler, DnsServer } from './server.ts';

export const dnsServiceName = 'kube-dns';
export const dnsServiceNamespace = 'kube-system';
export const sliceManagedBy = 'bosun-agent';

/** The cluster DNS Service's address by default: the 10th address of the service range (10.43.0.10). */
export function defaultClusterDnsIP(serviceCidr: string): string {
  const [base] = serviceCidr.split('/');
  const o = (base ?? '10.43.0.0').split('.').map(Number);
  const n = (((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0) + 10;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface ClusterDnsOptions {
  client: RestClient;
  /** The agent's informer factory, shared so that one watch per kind serves every component (default: a new one). */
  informers?: InformerFactory;
  nodeName: string;
  /** The address to serve on (the node's address on the pod bridge). */
  nodeIP: string;
  /** Default 53. */
  port?: number;
  /** The address the EndpointSlice names; default nodeIP (a different one only in tests that serve on loopback). */
  advertiseIP?: string;
  clusterDomain?: string;
  /** The kube-dns Service's address (answers `ns.dns.<domain>`); default 10.43.0.10. */
  clusterDnsIP?: string;
  serviceCidr?: string;
  clusterCidr?: string;
  /** Upstream resolvers (`IP[:port]`); default the nameservers of `resolvConf`. */
  upstreams?: string[];
  /** Default /etc/resolv.conf. */
  resolvConf?: string;
  /** Keep the kube-dns EndpointSlice for this node (default true). */
  publishSlice?: boolean;
  log?: (msg: string) => void;
}

export interface ClusterDns {
  /** The port served on (0: not serving). */
  port: number;
  view: ClusterView;
  /** What ClusterFirst pods get as nameservers and cluster domain (the kube-dns Service's address). */
  forPods: { servers: string[]; domain: string };
  /** Resolves once the server stopped after the signal aborted. */
  stopped: Promise<void>;
}

export async function startClusterDns(opts: ClusterDnsOptions, signal: AbortSignal): Promise<ClusterDns> {
  const log = opts.log ?? (() => {});
  const domain = (opts.clusterDomain || defaultClusterDomain).replace(/\.$/, '');
  const serviceCidr = opts.serviceCidr ?? '10.43.0.0/16';
  const dnsIP = opts.clusterDnsIP || defaultClusterDnsIP(serviceCidr);
  let upstreams: Upstream[];
  if (opts.upstreams) upstreams = opts.upstreams.map(parseUpstream);
  else {
    const host = await readResolvConf(opts.resolvConf);
    // Never forward to ourselves (a host resolv.conf naming the node or the cluster DNS address).
    upstreams = host.servers.filter((s) => s !== opts.nodeIP && s !== dnsIP).flatMap((s) => {
      try {
        return [parseUpstream(s)];
      } catch {
        return [];
      }
    });
  }
  if (!upstreams.length) log('dns: no upstream resolvers; names outside the cluster answer SERVFAIL');

  const view = new ClusterView();
  const informers = opts.informers ?? new InformerFactory(opts.client, { log });
  const services = informers.typedInformerFor(resources.services);
  const slices = informers.typedInformerFor(resources.endpointSlices, { labelSelector: 'kubernetes.io/service-name' });
  const namespaces = informers.typedInformerFor(resources.namespaces);
  services.addEventHandler({ onAdd: (s) => view.upsertService(s), onUpdate: (_o, s) => view.upsertService(s), onDelete: (s) => view.deleteService(s) });
  namespaces.addEventHandler({ onAdd: (n) => view.upsertNamespace(n.metadata.name!), onUpdate: (_o, n) => view.upsertNamespace(n.metadata.name!), onDelete: (n) => view.deleteNamespace(n.metadata.name!) });
  view.namespacesWatched();

  const sliceName = `${dnsServiceName}-${opts.nodeName}`;
  // The port actually bound (opts.port 0 picks one); set before the slice is first written.
  let servedPort = opts.port ?? 53;
  const cs = clientset(opts.client);
  const publish = opts.publishSlice !== false;
  const ourSlice = (): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName,
      namespace: dnsServiceNamespace,
      labels: { 'kubernetes.io/service-name': dnsServiceName, 'endpointslice.kubernetes.io/managed-by': sliceManagedBy },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [opts.advertiseIP ?? opts.nodeIP], conditions: { ready: true, serving: true, terminating: false }, nodeName: opts.nodeName }],
    ports: [
      { name: 'dns', protocol: 'UDP', port: servedPort },
      { name: 'dns-tcp', protocol: 'TCP', port: servedPort },
    ],
  });
  const sameSlice = (s: EndpointSlice) => JSON.stringify([s.endpoints, s.ports, s.metadata.labels]) === JSON.stringify([ourSlice().endpoints, ourSlice().ports, ourSlice().metadata.labels]);
  let ensuring = false;
  let again = false;
  const ensureSlice = async (): Promise<void> => {
    if (!publish || signal.aborted) return;
    if (ensuring) {
      again = true;
      return;
    }
    ensuring = true;
    try {
      do {
        again = false;
        try {
          const cur = await cs.endpointSlices.get(sliceName, { namespace: dnsServiceNamespace });
          if (!sameSlice(cur)) await cs.endpointSlices.update({ ...ourSlice(), metadata: { ...ourSlice().metadata, resourceVersion: cur.metadata.resourceVersion } }, { namespace: dnsServiceNamespace });
        } catch (err) {
          if (!isNotFound(err)) throw err;
          await cs.endpointSlices.create(ourSlice(), { namespace: dnsServiceNamespace }).catch((e: unknown) => {
            if (!isAlreadyExists(e)) throw e;
            again = true;
          });
        }
      } while (again && !signal.aborted);
    } catch (err) {
      log(`dns: endpointslice ${dnsServiceNamespace}/${sliceName}: ${(err as Error).message}`);
      setTimeout(() => void ensureSlice(), 5_000).unref();
    } finally {
      ensuring = false;
    }
  };
  slices.addEventHandler({
    onAdd: (s) => view.upsertSlice(s),
    onUpdate: (_o, s) => {
      view.upsertSlice(s);
      if (s.metadata.namespace === dnsServiceNamespace && s.metadata.name === sliceName && !sameSlice(s)) void ensureSlice();
    },
    onDelete: (s) => {
      view.deleteSlice(s);
      if (s.metadata.namespace === dnsServiceNamespace && s.metadata.name === sliceName) void ensureSlice();
    },
  });

  const forwarder = new Forwarder({ upstreams });
  const handler = new DnsHandler({
    view,
    zone: { domain, dnsIP, reverseCidrs: [serviceCidr, ...(opts.clusterCidr ? [opts.clusterCidr] : [])] },
    forwarder,
    ready: () => services.hasSynced() && slices.hasSynced(),
    log,
  });
  const server = new DnsServer(handler, { log });
  const forPods = { servers: [dnsIP], domain };
  let port: number;
  try {
    ({ port } = await server.listen({ address: opts.nodeIP, port: opts.port ?? 53 }));
    servedPort = port;
  } catch (err) {
    // Not fatal for the node: its pods still run; their cluster lookups fail until DNS serves.
    log(`dns: cannot serve on ${opts.nodeIP}:${opts.port ?? 53}: ${(err as Error).message}; cluster DNS disabled on this node`);
    forwarder.close();
    return { port: 0, view, forPods, stopped: Promise.resolve() };
  }
  const runSignal = new AbortController();
  informers.start(runSignal.signal);
  log(`dns: serving ${domain} on ${opts.nodeIP}:${port} (udp, tcp); upstream ${upstreams.map((u) => `${u.host}:${u.port}`).join(', ') || 'none'}`);

  const stopped = (async () => {
    const synced = informers.waitForCacheSync(signal);
    if (await synced) await ensureSlice();
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    if (publish) {
      const timeout = AbortSignal.timeout(3_000);
      await Promise.race([
        cs.endpointSlices.delete(sliceName, { namespace: dnsServiceNamespace }).catch((err: unknown) => {
          if (!isNotFound(err)) log(`dns: deleting endpointslice ${sliceName}: ${(err as Error).message}`);
        }),
        new Promise<void>((resolve) => timeout.addEventListener('abort', () => resolve(), { once: true })),
      ]);
    }
    runSignal.abort();
    await server.close();
    forwarder.close();
    await informers.stopped();
  })();
  return { port, view, forPods, stopped };
}
