/**
 * The `bosun` command line: turns flags into one config object per command and calls the
 * command's `run`. The only place that knows every component.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import net from 'node:net';
import { parseDurationMs } from '../api/duration.ts';
import { createClient } from '../client/index.ts';
import type { SchedulerConfig } from '../scheduler/profiles.ts';
import type { ProxyMode } from '../proxy/index.ts';
import { parseAuthorizationModes, type AuthorizationMode } from '../apiserver/authz/modes.ts';
import { parseEvictionHard, type EvictionThresholds } from '../kubelet/node.ts';
import type { ControllerManagerArgs } from './server.ts';

// Each command loads its components when it runs: `bosun agent` never loads the API server,
// the store or the scheduler (tens of MB of module code and source kept by V8). The scheduler's
// profile parser loads up front only when a command is given a configuration file, so that a bad
// file still stops the command while its flags are parsed.
const wantsSchedulerConfig = process.argv.some((a) => /^--(scheduler-)?config(=|$)/.test(a));
const schedulerProfiles = wantsSchedulerConfig ? await import('../scheduler/profiles.ts') : undefined;

function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/bosun' : path.join(os.homedir(), '.bosun');
}

/**
 * When this process was launched, in ms since the epoch: `bin/bosun` passes the time it started
 * (before Node loaded); run directly, the process's own time origin. Not passed on to children.
 */
function launchedAtMs(): number {
  const ns = process.env['BOSUN_LAUNCHED_AT_NS'];
  delete process.env['BOSUN_LAUNCHED_AT_NS'];
  if (ns && /^\d{16,}$/.test(ns)) return Number(BigInt(ns) / 1_000_000n);
  return performance.timeOrigin;
}
const launchedAt = launchedAtMs();

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

const program = new Command();
program.name('bosun').description('A small-footprint Kubernetes-compatible container orchestrator').showHelpAfterError();

program
  .command('server')
  .description('Run the control plane (API server on an embedded store) and, unless disabled, the node agent')
  .option('--data-dir <dir>', 'folder for state, certificates and the kubeconfig', defaultDataDir())
  .addOption(new Option('--https-listen-port <port>', 'HTTPS port of the API server').default(6443).argParser((v) => parsePort(v)))
  .option('--bind-address <address>', 'address the API server listens on', '127.0.0.1')
  .option('--tls-san <name>', 'extra host name or IP for the serving certificate (repeatable)', collect, [] as string[])
  .addOption(new Option('--authorization-mode <modes>', 'authorizers in order, comma-separated: Node, RBAC, AlwaysAllow, AlwaysDeny').default(['Node', 'RBAC'], 'Node,RBAC').argParser(invalidArgument(parseAuthorizationModes)))
  .option('--enable-admission-plugins <names>', "admission plugins to turn on, comma-separated (all of Bosun's are on; one of upstream's that Bosun lacks is refused)", commaList, [] as string[])
  .option('--disable-admission-plugins <names>', 'admission plugins to turn off, comma-separated (e.g. PodSecurity)', commaList, [] as string[])
  .addOption(new Option('--anonymous-auth <bool>', 'serve requests without credentials as system:anonymous (what RBAC allows it)').default(true).argParser(parseBool))
  .option('--token-auth-file <file>', 'static bearer tokens: CSV lines token,user,uid,"group1,group2"')
  .option('--audit-policy-file <file>', 'audit policy (audit.k8s.io/v1 Policy); with --audit-log-path, requests are audited')
  .option('--audit-log-path <file>', 'audit log (JSON lines; - for standard output)')
  .addOption(new Option('--audit-log-maxage <days>', 'days to keep rotated audit logs').argParser((v) => parseCount(v)))
  .addOption(new Option('--audit-log-maxbackup <count>', 'rotated audit logs to keep').argParser((v) => parseCount(v)))
  .addOption(new Option('--audit-log-maxsize <MB>', 'size at which the audit log is rotated (default 100)').argParser((v) => parseCount(v)))
  .option('--encryption-provider-config <file>', 'EncryptionConfiguration: resources encrypted at rest (aescbc, aesgcm, secretbox, identity)')
  .option('--service-account-issuer <url>', 'issuer of service account tokens (repeatable: the first signs; default https://kubernetes.default.svc.cluster.local)', collect, [] as string[])
  .option('--api-audiences <list>', "audiences the API accepts in service account tokens (default: the issuers)", collect, [] as string[])
  .option('--service-account-signing-key-file <file>', 'private key that signs service account tokens (default: DIR/tls/service-account.key, created)')
  .option('--service-account-key-file <file>', 'public keys that verify service account tokens (repeatable; default: the signing key)', collect, [] as string[])
  .addOption(new Option('--service-account-max-token-expiration <duration>', 'longest lifetime of a requested token, e.g. 24h').argParser((v) => parseDuration(v)))
  .addOption(new Option('--advertise-address <ip>', "the API server's address for the kubernetes service's endpoints (default: the node agent's node IP, else a non-loopback bind address)").argParser((v) => {
    if (!net.isIP(v) || v === '0.0.0.0' || v === '::') throw new InvalidArgumentError('not a unicast IP address');
    if (v === '::1' || v.startsWith('127.')) throw new InvalidArgumentError('a loopback address cannot be an endpoint of the kubernetes service');
    return v;
  }))
  .option('--write-kubeconfig <file>', 'where to write the admin kubeconfig (default: DATA_DIR/kubeconfig.yaml)')
  .option('--datastore-endpoint <endpoint>', 'datastore: empty for embedded SQLite in the data dir, sqlite://PATH, or etcd endpoints https://h1:2379,https://h2:2379 (http:// without TLS)')
  .option('--datastore-cafile <file>', 'CA bundle that verifies the etcd datastore')
  .option('--datastore-certfile <file>', 'client certificate toward the etcd datastore')
  .option('--datastore-keyfile <file>', 'client key toward the etcd datastore')
  .option('--cluster-init', 'run an embedded etcd member managed by Bosun (the first server of an HA cluster)', false)
  .option('--server <url>', 'join the cluster of this server (embedded etcd: add a member; needs --token)')
  .option('--token <token>', 'the cluster\'s server token (DATA_DIR/server/token of the first server; default $BOSUN_TOKEN); a bare secret sets the first server\'s', process.env['BOSUN_TOKEN'] || undefined)
  .option('--cluster-reset', 'make the embedded etcd member a cluster of one, keeping its data, then exit', false)
  .option('--cluster-reset-restore-path <file>', 'with --cluster-reset: restore this snapshot first')
  .addOption(new Option('--etcd-client-port <port>', "the embedded etcd member's client port").default(2379).argParser((v) => parsePort(v)))
  .addOption(new Option('--etcd-peer-port <port>', "the embedded etcd member's peer port").default(2380).argParser((v) => parsePort(v)))
  .addOption(new Option('--event-ttl <duration>', 'how long Events are kept after their last write').default(3_600_000, '1h0m0s').argParser(parseDuration))
  .option('--kube-scheduler-arg <key=value>', 'a flag for the in-process scheduler (repeatable; known: leader-elect-lease-duration, leader-elect-renew-deadline, leader-elect-retry-period)', (v: string, prev: string[]) => [...prev, v], [] as string[])
  .option('--kube-controller-manager-arg <key=value>', "a flag for the in-process controller manager (repeatable; known: node-monitor-grace-period, node-monitor-period, leader-elect-lease-duration, leader-elect-renew-deadline, leader-elect-retry-period)", (v: string, prev: string[]) => [...prev, v], [] as string[])
  .option('--disable-agent', 'run the control plane only (no node agent)', false)
  .option('--disable-controller-manager', 'do not run the controller manager in this process', false)
  .option('--disable-scheduler', 'do not run the scheduler in this process', false)
  .option('--disable <components>', 'built-in components not to run (comma-separated or repeated; known: servicelb, local-storage, metrics-server)', (v: string, prev: string[]) => {
    const out = collect(v, prev);
    for (const c of out) if (!['servicelb', 'local-storage', 'metrics-server'].includes(c)) throw new InvalidArgumentError(`unknown component ${c} (known: servicelb, local-storage, metrics-server)`);
    return out;
  }, [] as string[])
  .addOption(new Option('--virtual-nodes <count>', 'simulated nodes to run in this process').default(0).argParser((v) => parseCount(v)))
  .addOption(new Option('--scheduler-config <file>', "the scheduler's KubeSchedulerConfiguration (profiles)").argParser(readSchedulerConfig))
  .option('--node-name <name>', "the node agent's node name (default: the host name)")
  .addOption(new Option('--kubelet-port <port>', "the node agent's HTTPS port (0 picks a free one)").default(10250).argParser((v) => parsePort(v)))
  .option('--cluster-cidr <cidr>', 'pod addresses; node IPAM gives each node a block of them', '10.42.0.0/16')
  .addOption(new Option('--cluster-dns <ip>', "the cluster DNS Service's address, given to ClusterFirst pods (default: the 10th address of the service range, 10.43.0.10)").argParser(parseIPv4))
  .option('--cluster-domain <domain>', 'the cluster DNS domain', 'cluster.local')
  .option('--resolv-conf <file>', "resolver file for pods with dnsPolicy Default and the cluster DNS's upstream resolvers", '/etc/resolv.conf')
  .addOption(new Option('--node-cidr-mask-size <size>', "prefix length of each node's pod range").default(24).argParser((v) => parseCount(v)))
  .option('--node-ip <ip>', "the node agent's InternalIP and serving address (default: its pod bridge's gateway)")
  .addOption(new Option('--eviction-hard <thresholds>', "the node agent's hard eviction thresholds, e.g. memory.available<100Mi,nodefs.available<10%").argParser(readEviction))
  .addOption(new Option('--proxy-mode <mode>', "the node agent's service proxy: iptables (upstream's default) or nftables (faster with many Services)").choices(['iptables', 'nftables']).default('iptables'))
  .action(async (opts: { dataDir: string; httpsListenPort: number; bindAddress: string; advertiseAddress?: string; tlsSan: string[]; writeKubeconfig?: string; datastoreEndpoint?: string; disableAgent: boolean; disableControllerManager: boolean; disableScheduler: boolean; disable: string[]; virtualNodes: number; schedulerConfig?: SchedulerConfig; nodeName?: string; kubeletPort: number; clusterCidr: string; clusterDns?: string; clusterDomain: string; resolvConf: string; nodeCidrMaskSize: number; nodeIp?: string; evictionHard?: EvictionThresholds; proxyMode: ProxyMode; datastoreCafile?: string; datastoreCertfile?: string; datastoreKeyfile?: string; clusterInit: boolean; server?: string; token?: string; clusterReset: boolean; clusterResetRestorePath?: string; etcdClientPort: number; etcdPeerPort: number; eventTtl: number; kubeControllerManagerArg: string[]; kubeSchedulerArg: string[]; authorizationMode: AuthorizationMode[]; enableAdmissionPlugins: string[]; disableAdmissionPlugins: string[]; anonymousAuth: boolean; tokenAuthFile?: string; serviceAccountIssuer: string[]; apiAudiences: string[]; serviceAccountSigningKeyFile?: string; serviceAccountKeyFile: string[]; serviceAccountMaxTokenExpiration?: number; auditPolicyFile?: string; auditLogPath?: string; auditLogMaxage?: number; auditLogMaxbackup?: number; auditLogMaxsize?: number; encryptionProviderConfig?: string }) => {
    const signal = shutdownSignal();
    const dataDir = path.resolve(opts.dataDir);
    const { runServer } = await import('./server.ts');
    await runServer(
      {
        dataDir,
        port: opts.httpsListenPort,
        bindAddress: opts.bindAddress,
        advertiseAddress: opts.advertiseAddress,
        tlsSans: opts.tlsSan,
        authorizationModes: opts.authorizationMode,
        admissionPlugins: { enable: opts.enableAdmissionPlugins, disable: opts.disableAdmissionPlugins },
        anonymousAuth: opts.anonymousAuth,
        tokenAuthFile: opts.tokenAuthFile,
        audit: { policyFile: opts.auditPolicyFile, logPath: opts.auditLogPath, maxAgeDays: opts.auditLogMaxage, maxBackups: opts.auditLogMaxbackup, maxSizeMb: opts.auditLogMaxsize },
        encryptionProviderConfig: opts.encryptionProviderConfig,
        serviceAccount: {
          issuers: opts.serviceAccountIssuer,
          apiAudiences: opts.apiAudiences,
          signingKeyFile: opts.serviceAccountSigningKeyFile,
          keyFiles: opts.serviceAccountKeyFile,
          maxTokenExpirationSeconds: opts.serviceAccountMaxTokenExpiration,
        },
        kubeconfigPath: path.resolve(opts.writeKubeconfig ?? path.join(dataDir, 'kubeconfig.yaml')),
        datastoreEndpoint: opts.datastoreEndpoint,
        datastoreTls: opts.datastoreCafile || opts.datastoreCertfile || opts.datastoreKeyfile ? { caFile: opts.datastoreCafile && path.resolve(opts.datastoreCafile), certFile: opts.datastoreCertfile && path.resolve(opts.datastoreCertfile), keyFile: opts.datastoreKeyfile && path.resolve(opts.datastoreKeyfile) } : undefined,
        clusterInit: opts.clusterInit,
        joinServer: opts.server,
        token: opts.token,
        clusterReset: opts.clusterReset ? { restorePath: opts.clusterResetRestorePath && path.resolve(opts.clusterResetRestorePath) } : undefined,
        etcdPorts: { client: opts.etcdClientPort, peer: opts.etcdPeerPort },
        eventTtlSeconds: Math.round(opts.eventTtl / 1000),
        controllerManagerArgs: invalidArgumentNow(() => parseComponentArgs('--kube-controller-manager-arg', opts.kubeControllerManagerArg, true)),
        schedulerArgs: invalidArgumentNow(() => parseComponentArgs('--kube-scheduler-arg', opts.kubeSchedulerArg, false)),
        disableAgent: opts.disableAgent,
        disableControllerManager: opts.disableControllerManager,
        virtualNodes: opts.virtualNodes,
        disableScheduler: opts.disableScheduler,
        disable: opts.disable,
        schedulerConfig: opts.schedulerConfig,
        launchedAtMs: launchedAt,
        nodeName: opts.nodeName,
        agentPort: opts.kubeletPort,
        clusterCidr: opts.clusterCidr,
        clusterDns: opts.clusterDns,
        clusterDomain: opts.clusterDomain,
        resolvConf: opts.resolvConf,
        nodeCidrMaskSize: opts.nodeCidrMaskSize,
        nodeIP: opts.nodeIp,
        eviction: opts.evictionHard,
        proxyMode: opts.proxyMode,
      },
      signal,
    );
  });

program
  .command('controller-manager')
  .description('Run the controller manager against an API server (leader-elected)')
  .requiredOption('--kubeconfig <file>', 'kubeconfig of the API server and the identity to use')
  .addOption(new Option('--leader-elect-lease-duration <duration>', 'how long a lease is valid without renewal').default(15_000, '15s').argParser(parseDuration))
  .addOption(new Option('--leader-elect-renew-deadline <duration>', 'how long the leader retries renewing before giving up').default(10_000, '10s').argParser(parseDuration))
  .addOption(new Option('--leader-elect-retry-period <duration>', 'wait between attempts to acquire or renew').default(2_000, '2s').argParser(parseDuration))
  .option('--controllers <names>', 'controllers to run (comma-separated; default all)', collect, [] as string[])
  .addOption(new Option('--node-monitor-grace-period <duration>', 'no heartbeat for this long makes a node NotReady').default(40_000, '40s').argParser(parseDuration))
  .addOption(new Option('--node-monitor-period <duration>', 'how often node health is checked').default(5_000, '5s').argParser(parseDuration))
  .addOption(new Option('--kube-api-qps <qps>', 'requests per second to the API server').default(1000).argParser((v) => parseCount(v)))
  .addOption(new Option('--kube-api-burst <count>', 'burst of requests to the API server').default(2000).argParser((v) => parseCount(v)))
  .addOption(new Option('--terminated-pod-gc-threshold <count>', 'finished pods kept before the oldest are deleted').default(12_500).argParser((v) => parseCount(v)))
  .option('--cluster-cidr <cidr>', 'pod addresses; node IPAM gives each node a block of them', '10.42.0.0/16')
  .addOption(new Option('--node-cidr-mask-size <bits>', "prefix length of each node's pod range").default(24).argParser((v) => parseCount(v)))
  .addOption(new Option('--horizontal-pod-autoscaler-sync-period <duration>', 'how often every HorizontalPodAutoscaler is re-evaluated').default(15_000, '15s').argParser(parseDuration))
  .addOption(new Option('--horizontal-pod-autoscaler-downscale-stabilization <duration>', 'a scale-down takes the highest recommendation of this window (HPAs without their own scale-down window)').default(300_000, '5m0s').argParser(parseDuration))
  .addOption(new Option('--horizontal-pod-autoscaler-tolerance <ratio>', 'how far the usage ratio must be from 1.0 for an HPA to scale').default(0.1).argParser(invalidArgument(parseTolerance)))
  .addOption(new Option('--horizontal-pod-autoscaler-cpu-initialization-period <duration>', 'after a pod starts, how long CPU samples are skipped unless taken a whole window after the pod turned ready').default(300_000, '5m0s').argParser(parseDuration))
  .addOption(new Option('--horizontal-pod-autoscaler-initial-readiness-delay <duration>', 'after a pod starts, how long a readiness change is taken as its initial readiness').default(30_000, '30s').argParser(parseDuration))
  .option('--cluster-signing-cert-file <file>', 'CA certificate (PEM) that csrsigning signs with (with --cluster-signing-key-file; without both, CSRs are not signed)')
  .option('--cluster-signing-key-file <file>', 'private key (PEM) of that CA')
  .option('--service-account-private-key-file <file>', 'PEM private key that legacy ServiceAccount token Secrets are signed with (the API server\'s signing key); without it the serviceaccount-token controller is off')
  .addOption(new Option('--use-service-account-credentials [bool]', 'run each controller as its own ServiceAccount in kube-system (tokens from the TokenRequest API); false: every controller as the kubeconfig\'s identity').default(true).argParser(parseBool))
  .action(async (opts: { kubeconfig: string; useServiceAccountCredentials: boolean; serviceAccountPrivateKeyFile?: string; leaderElectLeaseDuration: number; leaderElectRenewDeadline: number; leaderElectRetryPeriod: number; controllers?: string[]; nodeMonitorGracePeriod: number; nodeMonitorPeriod: number; terminatedPodGcThreshold: number; kubeApiQps: number; kubeApiBurst: number; clusterCidr: string; nodeCidrMaskSize: number; clusterSigningCertFile?: string; clusterSigningKeyFile?: string; horizontalPodAutoscalerSyncPeriod: number; horizontalPodAutoscalerDownscaleStabilization: number; horizontalPodAutoscalerTolerance: number; horizontalPodAutoscalerCpuInitializationPeriod: number; horizontalPodAutoscalerInitialReadinessDelay: number }) => {
    const { runControllerManagerCommand } = await import('./controller-manager.ts');
    await runControllerManagerCommand(
      {
        kubeconfig: path.resolve(opts.kubeconfig),
        leaseDurationMs: opts.leaderElectLeaseDuration,
        renewDeadlineMs: opts.leaderElectRenewDeadline,
        retryPeriodMs: opts.leaderElectRetryPeriod,
        controllers: opts.controllers?.length ? opts.controllers : undefined,
        config: { nodeMonitorGracePeriodMs: opts.nodeMonitorGracePeriod, nodeMonitorPeriodMs: opts.nodeMonitorPeriod, terminatedPodGCThreshold: opts.terminatedPodGcThreshold, clusterCidr: opts.clusterCidr, nodeCidrMaskSize: opts.nodeCidrMaskSize,
          horizontalPodAutoscalerSyncPeriodMs: opts.horizontalPodAutoscalerSyncPeriod,
          horizontalPodAutoscalerDownscaleStabilizationMs: opts.horizontalPodAutoscalerDownscaleStabilization,
          horizontalPodAutoscalerTolerance: opts.horizontalPodAutoscalerTolerance,
          horizontalPodAutoscalerCpuInitializationPeriodMs: opts.horizontalPodAutoscalerCpuInitializationPeriod,
          horizontalPodAutoscalerInitialReadinessDelayMs: opts.horizontalPodAutoscalerInitialReadinessDelay },
        signingFiles: opts.clusterSigningCertFile || opts.clusterSigningKeyFile ? { cert: opts.clusterSigningCertFile, key: opts.clusterSigningKeyFile } : undefined,
        qps: opts.kubeApiQps,
        burst: opts.kubeApiBurst,
        useServiceAccountCredentials: opts.useServiceAccountCredentials,
        serviceAccountPrivateKeyFile: opts.serviceAccountPrivateKeyFile ? path.resolve(opts.serviceAccountPrivateKeyFile) : undefined,
      },
      shutdownSignal(),
    );
  });

program
  .command('scheduler')
  .description('Run the scheduler against an API server (leader-elected)')
  .requiredOption('--kubeconfig <file>', 'kubeconfig of the API server and the identity to use')
  .addOption(new Option('--config <file>', 'KubeSchedulerConfiguration (profiles)').argParser(readSchedulerConfig))
  .addOption(new Option('--leader-elect-lease-duration <duration>', 'how long a lease is valid without renewal').default(15_000, '15s').argParser(parseDuration))
  .addOption(new Option('--leader-elect-renew-deadline <duration>', 'how long the leader retries renewing before giving up').default(10_000, '10s').argParser(parseDuration))
  .addOption(new Option('--leader-elect-retry-period <duration>', 'wait between attempts to acquire or renew').default(2_000, '2s').argParser(parseDuration))
  .action(async (opts: { kubeconfig: string; config?: SchedulerConfig; leaderElectLeaseDuration: number; leaderElectRenewDeadline: number; leaderElectRetryPeriod: number }) => {
    const signal = shutdownSignal();
    const log = (m: string) => process.stdout.write(`bosun: ${m}\n`);
    const { runScheduler } = await import('../scheduler/index.ts');
    const client = await createClient({ kubeconfig: path.resolve(opts.kubeconfig), component: 'kube-scheduler', qps: 1000, burst: 2000 });
    try {
      await runScheduler({ client, log, config: opts.config, leaseDurationMs: opts.leaderElectLeaseDuration, renewDeadlineMs: opts.leaderElectRenewDeadline, retryPeriodMs: opts.leaderElectRetryPeriod }, signal);
    } finally {
      await client.transport.close();
    }
    log('scheduler stopped');
  });

program
  .command('virtual-nodes')
  .description('Run simulated nodes against an API server (for tests and scale experiments)')
  .requiredOption('--kubeconfig <file>', 'kubeconfig of the API server and the identity to use')
  .addOption(new Option('--count <count>', 'how many nodes').default(1).argParser((v) => parseCount(v)))
  .option('--prefix <prefix>', 'node name prefix', 'virtual-node-')
  .option('--cpu <quantity>', 'capacity and allocatable CPU per node', '32')
  .option('--memory <quantity>', 'capacity and allocatable memory per node', '256Gi')
  .addOption(new Option('--pods <count>', 'pods per node').default(110).argParser((v) => parseCount(v)))
  .action(async (opts: { kubeconfig: string; count: number; prefix: string; cpu: string; memory: string; pods: number }) => {
    const signal = shutdownSignal();
    const { runVirtualNodes } = await import('../virtual/nodes.ts');
    const client = await createClient({ kubeconfig: path.resolve(opts.kubeconfig), component: 'virtual-nodes', qps: 1000, burst: 2000 });
    try {
      await runVirtualNodes({ client, count: opts.count, prefix: opts.prefix, cpu: opts.cpu, memory: opts.memory, pods: opts.pods, log: (m) => process.stdout.write(`bosun: ${m}\n`) }, signal);
    } finally {
      await client.transport.close();
    }
  });

program
  .command('agent')
  .description("Run the node agent as its own process: beside a server on this machine (the server's data dir holds its credentials), or joining one with --server and --token")
  .option('--data-dir <dir>', "the server's data dir (joining: this agent's own, credentials in DATA_DIR/agent/tls)", defaultDataDir())
  .option('--node-name <name>', 'node name (default: the host name)')
  .addOption(new Option('--kubelet-port <port>', 'HTTPS port (0 picks a free one)').default(10250).argParser((v) => parsePort(v)))
  .option('--cluster-cidr <cidr>', 'pod addresses of the cluster (the guard keeps them on this machine)', '10.42.0.0/16')
  .addOption(new Option('--cluster-dns <ip>', "the cluster DNS Service's address, given to ClusterFirst pods (default: the 10th address of the service range, 10.43.0.10)").argParser(parseIPv4))
  .option('--cluster-domain <domain>', 'the cluster DNS domain', 'cluster.local')
  .option('--resolv-conf <file>', "resolver file for pods with dnsPolicy Default and the cluster DNS's upstream resolvers", '/etc/resolv.conf')
  .option('--node-ip <ip>', 'InternalIP and serving address; with it the node takes its pod range from node IPAM and routes to the other nodes (default: the pod bridge gateway, first /24)')
  .addOption(new Option('--eviction-hard <thresholds>', 'hard eviction thresholds, e.g. memory.available<100Mi,nodefs.available<10%').argParser(readEviction))
  .addOption(new Option('--proxy-mode <mode>', "the service proxy: iptables (upstream's default) or nftables (faster with many Services)").choices(['iptables', 'nftables']).default('iptables'))
  .option('--server <url>', "the API server (default: the one in the data dir's kubeconfig)")
  .option('--token <token>', "join with this node token (the server's DATA_DIR/server/node-token; default $BOSUN_TOKEN)", process.env['BOSUN_TOKEN'] || undefined)
  .addOption(new Option('--lb-server-port <port>', 'joining: the port on 127.0.0.1 of the local load balancer the agent reaches the API servers through (0 picks a free one)').default(6444).argParser((v) => parsePort(v)))
  .action(async (opts: { dataDir: string; nodeName?: string; kubeletPort: number; clusterCidr: string; clusterDns?: string; clusterDomain: string; resolvConf: string; nodeIp?: string; evictionHard?: EvictionThresholds; proxyMode: ProxyMode; server?: string; token?: string; lbServerPort: number }) => {
    const { runAgentCommand } = await import('./agent.ts');
    await runAgentCommand({ dataDir: path.resolve(opts.dataDir), nodeName: opts.nodeName, port: opts.kubeletPort, clusterCidr: opts.clusterCidr, clusterDns: opts.clusterDns, clusterDomain: opts.clusterDomain, resolvConf: opts.resolvConf, nodeIP: opts.nodeIp, eviction: opts.evictionHard, proxyMode: opts.proxyMode, server: opts.server, token: opts.token, lbServerPort: opts.lbServerPort }, shutdownSignal());
  });

program
  .command('images')
  .description("Manage the node agent's images")
  .command('import')
  .description("Import image archives (OCI or docker save) into the running node agent's containerd")
  .option('--data-dir <dir>', 'the server\'s data dir', defaultDataDir())
  .argument('<files...>', 'image archives')
  .action(async (files: string[], opts: { dataDir: string }) => {
    const { containerdSocket, importImages } = await import('../kubelet/containerd/index.ts');
    const socket = containerdSocket(path.join(path.resolve(opts.dataDir), 'agent', 'containerd'));
    if (!fs.existsSync(socket)) throw new Error(`no node agent is running on ${opts.dataDir} (no ${socket})`);
    await importImages(socket, files.map((f) => path.resolve(f)));
    for (const f of files) process.stdout.write(`bosun: imported ${f}\n`);
  });

// `bosun etcd-snapshot` (k3s's): save/ls/delete/prune through the running server's /db/snapshot; restore offline.
const snapshots = program.command('etcd-snapshot').description('Snapshots of the datastore (SQLite or embedded etcd): save, ls, delete, prune, restore');
const snapshotCommand = (name: string, description: string) =>
  snapshots
    .command(name)
    .description(description)
    .option('--data-dir <dir>', "the server's data dir", defaultDataDir())
    .option('--server <url>', "the server (default: the one in the data dir's kubeconfig)")
    .option('--token <token>', "the server token (default: DATA_DIR/server/token, or $BOSUN_TOKEN)", process.env['BOSUN_TOKEN'] || undefined)
    .option('--kubeconfig <file>', 'kubeconfig whose server to use');
type SnapshotOpts = { dataDir: string; server?: string; token?: string; kubeconfig?: string; name?: string; snapshotRetention?: number; output?: string; datastoreEndpoint?: string; etcdDataDir?: string };
const runSnapshot = async (sub: 'save' | 'ls' | 'delete' | 'prune' | 'restore', o: SnapshotOpts, extra: { names?: string[]; file?: string } = {}) => {
  const { runEtcdSnapshotCommand } = await import('./etcd-snapshot.ts');
  await runEtcdSnapshotCommand(sub, { dataDir: path.resolve(o.dataDir), server: o.server, token: o.token, kubeconfig: o.kubeconfig && path.resolve(o.kubeconfig), name: o.name, retention: o.snapshotRetention, output: o.output, datastoreEndpoint: o.datastoreEndpoint, etcdDataDir: o.etcdDataDir, ...extra });
};
snapshotCommand('save', 'Save a snapshot in DATA_DIR/server/db/snapshots').option('--name <name>', 'snapshot name prefix', 'on-demand').action((o: SnapshotOpts) => runSnapshot('save', o));
snapshotCommand('ls', 'List the snapshots').alias('list').addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'yaml'])).action((o: SnapshotOpts) => runSnapshot('ls', o));
snapshotCommand('delete', 'Delete snapshots').argument('<names...>', 'snapshot names').action((names: string[], o: SnapshotOpts) => runSnapshot('delete', o, { names }));
snapshotCommand('prune', 'Keep only the newest snapshots of a name')
  .addOption(new Option('--snapshot-retention <count>', 'how many to keep').default(5).argParser((v) => parseCount(v)))
  .option('--name <name>', 'snapshot name prefix', 'on-demand')
  .action((o: SnapshotOpts) => runSnapshot('prune', o));
snapshotCommand('restore', 'Restore a snapshot with the server stopped (SQLite; embedded etcd: bosun server --cluster-reset --cluster-reset-restore-path FILE)')
  .argument('<file>', 'snapshot file')
  .option('--datastore-endpoint <endpoint>', 'the datastore the server uses (sqlite://PATH)')
  .option('--etcd-data-dir <dir>', "the embedded etcd member's data dir (default DATA_DIR/server/db/etcd)")
  .action((file: string, o: SnapshotOpts) => runSnapshot('restore', o, { file: path.resolve(file) }));

program
  .command('operator')
  .description('Tools for operators written with bosun/operator')
  .command('gen-types')
  .description('Print TypeScript types for the custom resources a CustomResourceDefinition file declares')
  .option('--import <module>', 'module the generated file imports ObjectMeta from', 'bosun/operator')
  .argument('<crd-file>', 'CustomResourceDefinition YAML (- for standard input)')
  .action(async (file: string, opts: { import: string }) => {
    const { main } = await import('../operator/gen-types.ts');
    process.exitCode = main([file, '--import', opts.import]);
  });

/** Aborts on the first SIGTERM/SIGINT; a second one exits at once. */
function shutdownSignal(): AbortSignal {
  const ac = new AbortController();
  let signals = 0;
  const stop = (sig: string) => {
    signals++;
    if (signals > 1) process.exit(1);
    process.stderr.write(`bosun: ${sig} received, shutting down\n`);
    ac.abort();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return ac.signal;
}

/** Reads and validates a scheduler configuration file; a bad one stops the command before it starts. */
function readSchedulerConfig(file: string): SchedulerConfig {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(file), 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return schedulerProfiles!.parseSchedulerConfig(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function readEviction(v: string): EvictionThresholds {
  try {
    return parseEvictionHard(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A dotted-quad IPv4 address (`--cluster-dns`). */
function parseIPv4(v: string): string {
  if (!net.isIPv4(v)) throw new InvalidArgumentError(`"${v}" is not an IPv4 address`);
  return v;
}

/** Go durations as upstream flags take them (300ms, 15s, 1m30s, 1h), in milliseconds. */
function parseDuration(v: string): number {
  const ms = parseDurationMs(v);
  if (ms === undefined || ms < 0) throw new Error(`invalid duration: ${v}`);
  return ms;
}

/** --horizontal-pod-autoscaler-tolerance: a non-negative ratio (0.1 = 10%). */
function parseTolerance(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`invalid tolerance: ${v}`);
  return n;
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`invalid count: ${v}`);
  return n;
}

/**
 * --kube-controller-manager-arg and --kube-scheduler-arg (k3s's flags): `key=value` flags of the
 * in-process controller manager or scheduler; the ones Bosun's components have, others refused.
 */
function parseComponentArgs(flag: string, args: readonly string[], controllerManager: boolean): ControllerManagerArgs {
  const out: ControllerManagerArgs = {};
  const durations: Record<string, keyof ControllerManagerArgs> = {
    ...(controllerManager ? { 'node-monitor-grace-period': 'nodeMonitorGracePeriodMs', 'node-monitor-period': 'nodeMonitorPeriodMs' } as const : {}),
    'leader-elect-lease-duration': 'leaseDurationMs',
    'leader-elect-renew-deadline': 'renewDeadlineMs',
    'leader-elect-retry-period': 'retryPeriodMs',
  };
  for (const arg of args) {
    const m = /^-{0,2}([a-z-]+)=(.*)$/.exec(arg);
    if (!m || !durations[m[1]!]) throw new Error(`${flag} ${JSON.stringify(arg)}: want KEY=VALUE with KEY one of ${Object.keys(durations).join(', ')}`);
    out[durations[m[1]!]!] = parseDuration(m[2]!);
  }
  return out;
}

/** Runs a parse while the command's options are turned into its config; errors stop the command with the message. */
function invalidArgumentNow<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    process.stderr.write(`bosun: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** A comma-separated, repeatable list flag (`--x a,b --x c`). */
function commaList(v: string, prev: string[]): string[] {
  return [...prev, ...v.split(',').map((n) => n.trim()).filter(Boolean)];
}

/** A parser whose errors commander reports as an invalid argument of the option. */
function invalidArgument<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function parseBool(v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidArgumentError(`invalid boolean: ${v} (true or false)`);
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port: ${v}`);
  return n;
}

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`bosun: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
