/**
 * The node agent (Bosun's kubelet): starts its own containerd on the pod network Bosun
 * configures, registers the node, keeps its Lease and status, runs the pods bound to it through
 * the CRI, and serves the kubelet's HTTPS endpoints (logs, exec, attach, port-forward, stats) to
 * the API server. `runAgent` resolves once the signal aborted and everything it started stopped;
 * running pods are left to containerd's shims and adopted by the next start.
 *
 * `BOSUN_NODE_HOUSEKEEPING_SECONDS` (tests only; read once when the agent starts) shortens the
 * housekeeping period, upstream's 10 s: the Lease renewal, the pressure reading and one eviction
 * pass. Unset, the period is 10 s.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ConfigMap, Node, Pod, Secret, TokenRequest } from '../api/index.ts';
import { isAlreadyExists, isNotFound } from '../api/errors.ts';
import { clientset, EventRecorder, InformerFactory, renewNodeLease, resources, rfc3339, sleepUnlessAborted, type RestClient } from '../client/index.ts';
import { CriClient } from './cri/index.ts';
import { importImages, startContainerd } from './containerd/index.ts';
import { buildPauseImage } from './images/build.ts';
import { ensureBridge, formatIpv4, linkNetworkOf, parseCidr, preparePodNetwork, RouteSyncer } from '../network/index.ts';
import { PodManager } from './agent.ts';
import { startNodeLocalPath } from './localpath.ts';
import { capacityOf, defaultEviction, machineInfo, nodeConditions, nodeImages, nodeLabels, nodeStatus, readPressure, registerNode, type EvictionThresholds, type NodeConfig, type Pressure } from './node.ts';
import { setMemoryCapacity } from './kuberuntime.ts';
import { startAgentServer } from './server/index.ts';
import { HttpError, type AgentBackend } from './server/backend.ts';
import { writeContainerLogs } from './logs.ts';
import { StatsProvider } from './stats.ts';
import { startClusterDns } from '../dns/index.ts';
import { startNetworkPolicy } from '../netpol/index.ts';
import { startServiceProxy, type ProxyMode } from '../proxy/index.ts';
import type { RotatingCert } from '../pki/rotation.ts';
import { housekeepingFromEnv } from './housekeeping.ts';

export const defaultClusterCidr = '10.42.0.0/16';
export const defaultServiceCidr = '10.43.0.0/16';
export const defaultBridge = 'bosun0';
export const pauseImageName = 'registry.k8s.io/pause:3.10';

export interface AgentOptions {
  client: RestClient;
  nodeName: string;
  /** <data-dir>/agent: containerd, CNI, pod volumes, logs, images to import. */
  dir: string;
  /** This node's pod range; default the first /24 of the cluster range (without nodeIP). */
  podCidr?: string;
  /**
   * The node's InternalIP (`--node-ip`), an address of this host on the link shared with the
   * other nodes; the agent serves on it. With it the node waits for its pod range from node IPAM
   * (unless podCidr is given) and routes other nodes' pod ranges via their InternalIPs (host-gw).
   * Without it: a single node whose address is its pod bridge's gateway.
   */
  nodeIP?: string;
  clusterCidr?: string;
  serviceCidr?: string;
  bridge?: string;
  /** The agent's HTTPS port (0: a free one); default 10250. */
  port?: number;
  /** Serving certificate of the agent's HTTPS endpoint, and the CA that signs API server clients. */
  tls: { certPem: string; keyPem: string; caPem: string };
  /** The serving certificate when it is renewed while the agent runs: used instead of `tls`'s pair, each new one from the next handshake on. */
  servingCertificate?: Pick<RotatingCert, 'current' | 'onChange'>;
  maxPods?: number;
  /** The cluster DNS Service's address for ClusterFirst pods (`--cluster-dns`); default 10.43.0.10. */
  clusterDns?: string;
  /** `--cluster-domain`; default cluster.local. */
  clusterDomain?: string;
  /** The resolver file for Default pods and the cluster DNS's upstreams (`--resolv-conf`); default /etc/resolv.conf. */
  resolvConf?: string;
  /** Hard eviction thresholds (`--eviction-hard`); default upstream's. */
  eviction?: EvictionThresholds;
  /** The service proxy's mode (`--proxy-mode`); default iptables. */
  proxyMode?: ProxyMode;
  log?: (msg: string) => void;
  /** Called once the node is registered and the agent serves (for start-up lines). */
  onReady?: (info: { nodeName: string; nodeIP: string; port: number }) => void;
}

/** The gateway (first host) address of an IPv4 range: the node's address on its pod bridge. */
export function gatewayOf(cidr: string): string {
  return formatIpv4(parseCidr(cidr).base + 1);
}

/** The node's pod range when none is assigned: the first /24 of the cluster range. */
export function firstSubnet(clusterCidr: string): string {
  return `${formatIpv4(parseCidr(clusterCidr).base)}/24`;
}

export async function runAgent(opts: AgentOptions, signal: AbortSignal): Promise<void> {
  const log = opts.log ?? (() => {});
  const housekeepingEvery = housekeepingFromEnv(process.env);
  const cs = clientset(opts.client);
  const dir = opts.dir;
  const bridge = opts.bridge ?? defaultBridge;
  const clusterCidr = opts.clusterCidr ?? defaultClusterCidr;
  const serviceCidr = opts.serviceCidr ?? defaultServiceCidr;
  for (const d of ['images', 'pods', 'logs/pods', 'cni/net.d', 'cni/ipam', 'cache']) await fs.mkdir(path.join(dir, d), { recursive: true, mode: 0o700 });

  const machine = await machineInfo(dir);
  setMemoryCapacity(machine.memoryBytes);
  const maxPods = opts.maxPods ?? 110;
  const eviction = opts.eviction ?? defaultEviction;

  // Pod network first: guard rules before any pod exists, then the bridge the agent serves on.
  const hostNet = opts.nodeIP ? await linkNetworkOf(opts.nodeIP) : undefined;
  const hostLink = hostNet?.link;
  let podCidr = opts.podCidr ?? (opts.nodeIP ? undefined : firstSubnet(clusterCidr));
  try {
    const existing = await cs.nodes.get(opts.nodeName);
    if (existing.spec?.podCIDR) podCidr = existing.spec.podCIDR;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!podCidr) {
    podCidr = await awaitPodCidr(cs, opts.nodeName, { log }, signal);
    if (!podCidr) return;
  }
  const nodeIP = opts.nodeIP ?? gatewayOf(podCidr);
  await preparePodNetwork({ confDir: path.join(dir, 'cni/net.d'), podCidr, dataDir: path.join(dir, 'cni/ipam'), bridge, clusterCidr, serviceCidr, hostLink, hostLinkCidr: hostNet?.cidr });
  await ensureBridge({ name: bridge, address: `${gatewayOf(podCidr)}/${podCidr.split('/')[1]}` });

  // containerd with Bosun's own pause image, then the images waiting in <dir>/images.
  const pauseFile = path.join(dir, 'cache', 'pause.tar');
  await buildPauseImage(pauseFile, { cacheDir: path.join(dir, 'cache') });
  const containerd = await startContainerd({ dir: path.join(dir, 'containerd'), cniConfDir: path.join(dir, 'cni/net.d'), sandboxImage: pauseImageName, log, registriesFile: path.join(path.dirname(dir), 'registries.yaml') }, signal);
  let cri: CriClient | undefined;
  try {
    const archives = (await fs.readdir(path.join(dir, 'images'))).filter((f) => /\.(tar|tar\.gz|tgz|oci)$/.test(f)).map((f) => path.join(dir, 'images', f));
    await importImages(containerd.socket, [pauseFile, ...archives]);
    cri = await CriClient.connect(containerd.socket);
    const version = await cri.version({ version: 'v1' });
    const cfg: NodeConfig = { name: opts.nodeName, nodeIP, podCidr, kubeletPort: 0, maxPods, runtimeVersion: `${version.runtime_name}://${version.runtime_version}` };

    const podManagerRef: { current?: PodManager } = {};
    const stats = new StatsProvider();
    const server = await startAgentServer(
      { bindAddress: nodeIP, port: opts.port ?? 10250, tls: opts.servingCertificate ? { ...opts.servingCertificate.current(), caPem: opts.tls.caPem } : opts.tls, backend: backend(() => podManagerRef.current!, cri, stats, { nodeName: opts.nodeName, dir }), log },
      signal,
    );
    cfg.kubeletPort = server.port;
    const unsubscribeServing = opts.servingCertificate?.onChange((pair) => server.setCertificate(pair));

    await registerNode(cs, cfg);
    let pressure: Pressure = await readPressure(dir, eviction);
    const postStatus = async (prevConditions?: Node['status']) => {
      const conditions = nodeConditions(prevConditions?.conditions, pressure, { ok: true, message: '' }, rfc3339(Date.now()));
      const images = await nodeImages(cri!).catch(() => []);
      await cs.nodes.patchStatus(opts.nodeName, { status: nodeStatus(cfg, machine, conditions, images) }, { type: 'merge' });
    };
    await postStatus();
    await renewNodeLease(cs, opts.nodeName);
    // One informer factory for the agent's components: one watch per kind, one copy of each object.
    const informers = new InformerFactory(opts.client, { log });
    const clusterDns = await startClusterDns({ client: opts.client, informers, nodeName: opts.nodeName, nodeIP, clusterDnsIP: opts.clusterDns, clusterDomain: opts.clusterDomain, serviceCidr, clusterCidr, resolvConf: opts.resolvConf, log }, signal); // serves nodeIP:53 until the signal
    void startNetworkPolicy({ client: opts.client, informers, nodeName: opts.nodeName, log }, signal); // never rejects; stops with the signal
    const localPath = startNodeLocalPath({ client: opts.client, informers, nodeName: opts.nodeName, agentDir: dir, signal, log }); // <dir>/storage; stops with the signal
    startServiceProxy({ client: opts.client, informers, mode: opts.proxyMode, podCidr, nodeName: opts.nodeName, nodeIPs: [nodeIP], clusterCidr, endpointCidrs: hostNet ? [clusterCidr, `${nodeIP}/32`, hostNet.cidr] : undefined, log }, signal); // runs until the signal; its rules stay

    const pods = informers.typedInformerFor(resources.pods, { fieldSelector: `spec.nodeName=${opts.nodeName}` });
    const recorder = new EventRecorder(opts.client, { component: 'kubelet', host: opts.nodeName, log });
    const getConfigMap = async (ns: string, name: string): Promise<ConfigMap | undefined> => {
      try {
        return await cs.configMaps.get(name, { namespace: ns });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };
    const getSecret = async (ns: string, name: string): Promise<Secret | undefined> => {
      try {
        return await cs.secrets.get(name, { namespace: ns });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };
    // Projected service account tokens: a TokenRequest bound to the pod, as the node (the Node
    // authorizer lets a node ask for its own pods' service accounts only).
    const requestToken = async (r: { namespace: string; serviceAccount: string; audience?: string; expirationSeconds: number; podName: string; podUid: string }): Promise<string> => {
      const tr = await opts.client.create<TokenRequest>(
        resources.serviceAccounts,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: { name: r.serviceAccount, namespace: r.namespace }, spec: { audiences: r.audience ? [r.audience] : [], expirationSeconds: r.expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: r.podName, uid: r.podUid } } },
        { namespace: r.namespace, subresource: 'token' },
      );
      if (!tr.status?.token) throw new Error(`TokenRequest for ${r.namespace}/${r.serviceAccount} returned no token`);
      return tr.status.token;
    };
    const { allocatable } = capacityOf(machine, maxPods, eviction);
    const manager = new PodManager(
      { nodeName: opts.nodeName, nodeIP, cs, runtime: cri, images: cri, recorder, rootDir: dir, allocatable: () => allocatable, nodeLabels: nodeLabels(cfg), memoryPressure: () => pressure.memory, dns: await hostDns(opts.resolvConf), clusterDns: clusterDns.forPods, getConfigMap, getSecret, requestToken, log },
      signal,
    );
    podManagerRef.current = manager;
    await manager.start();
    pods.addEventHandler({
      onAdd: (p: Pod) => manager.upsert(p),
      onUpdate: (_o: Pod, p: Pod) => manager.upsert(p),
      onDelete: (p: Pod) => manager.remove(p),
    });
    // host-gw: a route to every other node's pod range via its InternalIP (with --node-ip only).
    let routing: Promise<void> = Promise.resolve();
    if (opts.nodeIP) {
      const nodes = informers.typedInformerFor(resources.nodes);
      const routes = new RouteSyncer({ nodes: () => nodes.store.list(), nodeName: opts.nodeName, podCidr, nodeIP, clusterCidr, log });
      nodes.addEventHandler({ onAdd: () => routes.poke(), onUpdate: () => routes.poke(), onDelete: () => routes.poke() });
      routing = nodes.waitForSync(signal).then(() => routes.run(signal));
    }
    informers.start(signal);
    const relist = manager.runRelist(
      (uid) => pods.store.list().some((p) => p.metadata.uid === uid),
      () => pods.hasSynced(),
    );
    log(`agent: node ${opts.nodeName} ready (${nodeIP}, pods ${podCidr}, agent port ${server.port})`);
    opts.onReady?.({ nodeName: opts.nodeName, nodeIP, port: server.port });

    // Heartbeats: the Lease every 10 s (housekeepingEvery), the node status every minute or when
    // pressure changes; under memory pressure one pod is evicted per pass (upstream's eviction
    // manager, 10 s).
    let lastStatus = Date.now();
    const flags = (p: Pressure) => `${p.memory}/${p.disk}/${p.pid}`;
    let lastPressure = flags(pressure);
    while (!signal.aborted) {
      await sleepUnlessAborted(housekeepingEvery, { signal });
      if (signal.aborted) break;
      await renewNodeLease(cs, opts.nodeName).catch((err: unknown) => log(`agent: lease: ${(err as Error).message}`));
      pressure = await readPressure(dir, eviction).catch(() => pressure);
      if (pressure.memory) {
        await manager
          .evictForMemoryPressure({ threshold: eviction.memoryAvailableText, availableBytes: pressure.memoryAvailableBytes, usage: await podMemoryUsage(cri) })
          .catch((err: unknown) => log(`agent: eviction: ${(err as Error).message}`));
      }
      if (Date.now() - lastStatus >= 60_000 || flags(pressure) !== lastPressure) {
        lastStatus = Date.now();
        lastPressure = flags(pressure);
        const node = await cs.nodes.get(opts.nodeName).catch(() => undefined);
        await postStatus(node?.status).catch((err: unknown) => log(`agent: node status: ${(err as Error).message}`));
      }
    }
    manager.stop();
    await relist;
    await routing;
    await localPath.stopped;
    await informers.stopped();
    await recorder.flush().catch(() => {});
    unsubscribeServing?.();
    await server.close();
    await clusterDns.stopped;
  } finally {
    cri?.close();
    await containerd.stop();
  }
}

/**
 * Registers the Node without a pod range and waits until node IPAM gives it one (upstream's
 * kubelet waits for spec.podCIDR too). Answers undefined when the signal aborted first.
 */
async function awaitPodCidr(cs: ReturnType<typeof clientset>, nodeName: string, o: { log: (msg: string) => void }, signal: AbortSignal): Promise<string | undefined> {
  const labels = nodeLabels({ name: nodeName, nodeIP: '', podCidr: '', kubeletPort: 0, maxPods: 0, runtimeVersion: '' });
  let waited = 0;
  while (!signal.aborted) {
    let node: Node | undefined;
    try {
      node = await cs.nodes.get(nodeName);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await cs.nodes.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels } } as Node).catch((e: unknown) => {
        if (!isAlreadyExists(e)) throw e;
      });
      o.log(`agent: node ${nodeName} registered; waiting for its pod CIDR from node IPAM`);
    }
    if (node?.spec?.podCIDR) return node.spec.podCIDR;
    await sleepUnlessAborted(500, { signal });
    if ((waited += 500) % 30_000 === 0) o.log(`agent: still waiting for a pod CIDR on node ${nodeName} (is the controller manager's nodeipam running?)`);
  }
  return undefined;
}

/** The host's resolver settings (pods use them until cluster DNS exists: upstream's fallback). */
async function hostDns(file = '/etc/resolv.conf'): Promise<{ servers: string[]; searches: string[]; options: string[] }> {
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {}
  const servers: string[] = [];
  const searches: string[] = [];
  const options: string[] = [];
  for (const line of text.split('\n')) {
    const [k, ...rest] = line.trim().split(/\s+/);
    if (k === 'nameserver' && rest[0] && !rest[0].startsWith('127.')) servers.push(rest[0]);
    else if (k === 'search') searches.push(...rest);
    else if (k === 'options') options.push(...rest);
  }
  return { servers, searches, options };
}

/** Working-set bytes per pod uid and container name, from the runtime's container stats. */
async function podMemoryUsage(cri: CriClient): Promise<Map<string, Map<string, number>>> {
  const { stats } = await cri.listContainerStats({});
  const out = new Map<string, Map<string, number>>();
  for (const st of stats ?? []) {
    const uid = st.attributes?.labels?.['io.kubernetes.pod.uid'];
    const name = st.attributes?.labels?.['io.kubernetes.container.name'] ?? st.attributes?.metadata?.name;
    if (!uid || !name) continue;
    let m = out.get(uid);
    if (!m) out.set(uid, (m = new Map()));
    m.set(name, Number(st.memory?.working_set_bytes?.value ?? 0));
  }
  return out;
}

/** The network namespace path of a sandbox, from containerd's verbose status (its runtime spec). */
async function sandboxNetns(cri: CriClient, id: string): Promise<string | undefined> {
  try {
    const { info } = await cri.podSandboxStatus({ pod_sandbox_id: id, verbose: true });
    const parsed = JSON.parse(info?.['info'] ?? '{}') as { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } };
    return parsed.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path || undefined;
  } catch {
    return undefined;
  }
}

function backend(manager: () => PodManager, cri: CriClient, stats: StatsProvider, ctx: { nodeName: string; dir: string }): AgentBackend {
  const netnsPaths = new Map<string, string | undefined>();
  const find = (namespace: string, name: string): Pod => {
    const pod = manager()
      ?.pods()
      .find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
    if (!pod) throw new HttpError(404, `pod ${namespace}/${name} not found`);
    return pod;
  };
  const runningContainer = (namespace: string, podName: string, container: string) => {
    const pod = find(namespace, podName);
    const rp = manager().runtimePod(pod.metadata.uid!);
    const c = rp?.containers.find((x) => x.metadata?.name === container && x.state === 'CONTAINER_RUNNING');
    if (!c) throw new HttpError(400, `container ${container} is not running in pod ${podName}`);
    return c;
  };
  return {
    async exec(req) {
      const c = runningContainer(req.namespace, req.pod, req.container);
      const { url } = await cri.exec({ container_id: c.id, cmd: req.command, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
      return url;
    },
    async attach(req) {
      const c = runningContainer(req.namespace, req.pod, req.container);
      const { url } = await cri.attach({ container_id: c.id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
      return url;
    },
    async portForward(req) {
      const pod = find(req.namespace, req.pod);
      const sb = manager().runtimePod(pod.metadata.uid!)?.sandboxes.find((s) => s.state === 'SANDBOX_READY');
      if (!sb) throw new HttpError(400, `pod ${req.pod} has no running sandbox`);
      const { url } = await cri.portForward({ pod_sandbox_id: sb.id, port: req.ports ?? [] });
      return url;
    },
    async containerLogs(req, out, signal) {
      const pod = find(req.namespace, req.pod);
      const log = manager().containerLog(pod.metadata.uid!, req.container, req.previous);
      if (!log) {
        if (req.previous) throw new HttpError(400, `previous terminated container "${req.container}" in pod "${req.pod}" not found`);
        throw new HttpError(400, `container "${req.container}" in pod "${req.pod}" is waiting to start: ContainerCreating`);
      }
      const sinceTime = req.sinceTime ? new Date(req.sinceTime) : req.sinceSeconds ? new Date(Date.now() - req.sinceSeconds * 1000) : undefined;
      await writeContainerLogs(log.file, { follow: req.follow, tailLines: req.tailLines, sinceTime, timestamps: req.timestamps, limitBytes: req.limitBytes }, out, { signal, stopped: async () => !log.running() });
    },
    pods() {
      return manager()?.pods() ?? [];
    },
    async statsSummary() {
      const m = manager();
      const podsNow = m.pods();
      const { stats: containerStats } = await cri.listContainerStats({});
      // Each sandbox's network namespace (from the runtime's verbose status, once per sandbox).
      for (const p of podsNow) {
        const sb = m.runtimePod(p.metadata.uid!)?.sandboxes.find((s) => s.state === 'SANDBOX_READY');
        if (sb && !netnsPaths.has(sb.id)) netnsPaths.set(sb.id, await sandboxNetns(cri, sb.id));
      }
      if (netnsPaths.size > 4 * podsNow.length + 16) netnsPaths.clear();
      return stats.summary({
        nodeName: ctx.nodeName,
        startTime: rfc3339(Date.now() - process.uptime() * 1000),
        rootDir: ctx.dir,
        imageFsDir: path.join(ctx.dir, 'containerd'),
        containerStats: containerStats ?? [],
        pods: podsNow.flatMap((p) => {
          const rp = m.runtimePod(p.metadata.uid!);
          const sb = rp?.sandboxes.find((s) => s.state === 'SANDBOX_READY');
          if (!rp || !sb) return [];
          return [
            {
              namespace: p.metadata.namespace!,
              name: p.metadata.name!,
              uid: p.metadata.uid!,
              startTime: p.status?.startTime ?? rfc3339(Date.now()),
              sandboxId: sb.id,
              netnsPath: netnsPaths.get(sb.id),
              containers: rp.containers
                .filter((c) => c.state === 'CONTAINER_RUNNING')
                .map((c) => ({ name: c.metadata?.name ?? '', startTime: rfc3339(Number(BigInt(c.started_at || '0') / 1_000_000n)), containerId: c.id })),
              volumes: [],
            },
          ];
        }),
      });
    },
    async metrics() {
      const m = manager();
      const podsNow = m?.pods() ?? [];
      const containers = podsNow.reduce((n, p) => n + (m.runtimePod(p.metadata.uid!)?.containers.filter((c) => c.state === 'CONTAINER_RUNNING').length ?? 0), 0);
      return [
        '# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox',
        '# TYPE kubelet_running_pods gauge',
        `kubelet_running_pods ${podsNow.length}`,
        '# HELP kubelet_running_containers [ALPHA] Number of containers currently running',
        '# TYPE kubelet_running_containers gauge',
        `kubelet_running_containers{container_state="running"} ${containers}`,
        '',
      ].join('\n');
    },
  };
}

/** What the agent needs from the machine; empty when everything is there. */
export async function agentPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('the node agent needs root');
  const need: Array<[string, string]> = [
    ['/usr/bin/containerd', 'containerd'],
    ['/usr/bin/ctr', 'containerd (ctr)'],
    ['/usr/sbin/runc', 'runc'],
    ['/usr/lib/cni/bridge', 'containernetworking-plugins'],
    ['/usr/sbin/iptables', 'iptables'],
    ['/usr/sbin/ip', 'iproute2'],
  ];
  for (const [file, pkg] of need) {
    try {
      await fs.access(file);
    } catch {
      missing.push(`${pkg} is not installed (${file})`);
    }
  }
  return missing;
}
