/**
 * `bosun server`: wires the control plane together — PKI, store, API server, bootstrap
 * objects — and writes the admin kubeconfig once the API server is ready. Runs until the
 * signal aborts, then shuts down in reverse order. While it runs, the leaf certificates it
 * issued are renewed before they expire (pki/rotation.ts) and taken into use in place: the
 * listener's serving certificate, the components' and the kubelet client's certificates (read
 * per request), the agent's serving certificate and the admin kubeconfig (rewritten).
 */
import type { AuthorizationMode } from '../apiserver/authz/modes.ts';
import type { ProxyMode } from '../proxy/index.ts';
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { kubeconfigYaml, writeFileAtomic, type CertAndKey, type Pki } from '../pki/index.ts';
import { ensurePkiIsolated, reissueIsolated, type IsolatedPkiRequest } from '../pki/isolated.ts';
import { certLifetimeFromEnv, CertRotator, liveCertAndKey, type RotatingCert } from '../pki/rotation.ts';
import { createClient, userAgent, type ClusterConnection, type CreateClientOptions } from '../client/index.ts';
import { certificateUser } from '../apiserver/local.ts';
import type { TransportFactory } from '../controllers/credentials.ts';
import { controllers, runControllerManager } from '../controllers/manager.ts';
import { runVirtualNodes } from '../virtual/nodes.ts';
import { runScheduler } from '../scheduler/index.ts';
import type { SchedulerConfig } from '../scheduler/profiles.ts';
import { openDatastore, clusterResetDatastore, memberAdder, type Datastore } from './datastore.ts';
import type { Etcd3 } from 'etcd3';

import { ensureServerToken } from '../etcd/token.ts';
import { supervisorHandler } from '../etcd/supervisor.ts';
import { listSnapshots, saveSnapshot } from '../etcd/snapshot.ts';
import { ApiServer } from '../apiserver/server.ts';
import { builtinResources } from '../api/groups/index.ts';
import { bootstrap } from '../apiserver/bootstrap.ts';
import { x509Authenticator } from '../apiserver/authn/index.ts';
import { tokenFileAuthenticator } from '../apiserver/authn/tokenfile.ts';
import { authorize } from '../apiserver/authz/index.ts';
import { buildAuthorizers, defaultAuthorizationModes, rulesReview } from '../apiserver/authz/modes.ts';
import { createRbacSource, rbacGroup, ruleAllows } from '../apiserver/authz/rbac.ts';
import { nodeAuthorizer } from '../apiserver/authz/node.ts';
import { rbacEscalationPlugin } from '../apiserver/authz/escalation.ts';
import { nodeRestrictionPlugin } from '../apiserver/admission/noderestriction.ts';
import type { EndpointSlice, LimitRange, Namespace, Node, Pod, ResourceQuota, Secret, Service, ServiceAccount, TokenRequest } from '../api/index.ts';
import { createAuditor } from '../apiserver/audit/index.ts';
import { paramsFromRegistry, validatingAdmissionPolicyPlugin } from '../apiserver/admission/policy/index.ts';
import { encryptingStore, encryptionTransformer, loadEncryptionConfiguration, resourceResolver } from '../storage/encryption.ts';
import { mutatingWebhookPlugin, validatingWebhookPlugin, type WebhookDeps } from '../apiserver/admission/webhook/index.ts';
import { limitRangerPlugin } from '../apiserver/admission/limitranger.ts';
import { resourceQuotaPlugin } from '../apiserver/admission/resourcequota.ts';
import { runtimeClassPlugin } from '../apiserver/admission/runtimeclass.ts';
import { taintNodesByConditionPlugin } from '../apiserver/admission/nodetaint.ts';
import { certificatePlugins } from '../apiserver/admission/certificates.ts';
import { defaultIngressClassPlugin, defaultStorageClassPlugin } from '../apiserver/admission/defaultclass.ts';
import { persistentVolumeClaimResizePlugin, storageObjectInUseProtectionPlugin } from '../apiserver/admission/storage.ts';
import type { IngressClass, StorageClass } from '../api/index.ts';
import type { KubeObject } from '../api/types.ts';
import { createTokenRequest, loadServiceAccountConfig, openIdMetadata, openIdMetadataResponse, serviceAccountAuthenticator, type ServiceAccountFlags } from '../apiserver/serviceaccount/index.ts';
import { podSecurityPlugin } from '../apiserver/admission/podsecurity/index.ts';
import { bootstrapTokenAuthenticator } from '../apiserver/authn/bootstrap.ts';
import { ensureNodeToken, secretFromCache } from '../apiserver/authn/nodetoken.ts';
import { defaultAdvertiseAddress, runAdvertiser } from '../apiserver/advertise.ts';
import { agentPrerequisites, defaultClusterCidr, firstSubnet, gatewayOf, runAgent } from '../kubelet/index.ts';
import type { EvictionThresholds } from '../kubelet/node.ts';
import { admissionFlagErrors, orderAdmission } from './admission.ts';
import { MetricsServer, metricResolutionFromEnv } from '../metrics/index.ts';
import { Aggregator, publishAuthConfigMap } from '../aggregator/index.ts';
import { ensureRequestHeaderPki } from '../pki/requestheader.ts';

export interface ServerConfig {
  dataDir: string;
  port: number;
  bindAddress: string;
  /** The address pods reach the API server at (--advertise-address); default the agent's node IP, else a non-loopback bind address. */
  advertiseAddress?: string;
  tlsSans: string[];
  /** --authorization-mode; default Node,RBAC. */
  authorizationModes?: readonly AuthorizationMode[];
  /** --enable-admission-plugins / --disable-admission-plugins (all of Bosun's plugins are on by default). */
  admissionPlugins?: { enable: readonly string[]; disable: readonly string[] };
  /** --anonymous-auth; default true. */
  anonymousAuth?: boolean;
  /** --token-auth-file: static bearer tokens. */
  tokenAuthFile?: string;
  /** --audit-policy-file, --audit-log-path, --audit-log-maxage/-maxbackup/-maxsize: audit logging when both files are given. */
  audit?: { policyFile?: string; logPath?: string; maxAgeDays?: number; maxBackups?: number; maxSizeMb?: number };
  /** --encryption-provider-config: an EncryptionConfiguration for resources at rest. */
  encryptionProviderConfig?: string;
  /** --service-account-issuer, --api-audiences, --service-account-key-file, ... (upstream's flags). */
  serviceAccount?: ServiceAccountFlags;
  kubeconfigPath: string;
  datastoreEndpoint?: string;
  disableAgent: boolean;
  /** Do not run the controller manager in this process. */
  disableControllerManager?: boolean;
  /** Simulated nodes to run in this process (0: none). */
  virtualNodes?: number;
  /** Do not run the scheduler in this process. */
  disableScheduler?: boolean;
  /** Built-in components not to run (--disable; `servicelb`: the controller manager's servicelb controller; `local-storage`: the default StorageClass `local-path`). */
  disable?: readonly string[];
  /** The in-process scheduler's profiles (--scheduler-config). */
  schedulerConfig?: SchedulerConfig;
  /** When the process was launched (ms since the epoch); the ready line reports the time since. Default: the process's time origin. */
  launchedAtMs?: number;
  /** The node agent's node name; default the host name. */
  nodeName?: string;
  /** The node agent's HTTPS port (0: a free one); default 10250. */
  agentPort?: number;
  /** Pod addresses of the cluster; the node takes the first /24. Default 10.42.0.0/16. */
  clusterCidr?: string;
  /** The cluster DNS Service's address for ClusterFirst pods (--cluster-dns); default 10.43.0.10. */
  clusterDns?: string;
  /** --cluster-domain; default cluster.local. */
  clusterDomain?: string;
  /** --resolv-conf: resolver file for Default pods and the cluster DNS's upstreams; default /etc/resolv.conf. */
  resolvConf?: string;
  /** Prefix length of each node's pod range (node IPAM); default 24. */
  nodeCidrMaskSize?: number;
  /** The node agent's InternalIP (--node-ip); default its pod bridge's gateway. */
  nodeIP?: string;
  /** The node agent's hard eviction thresholds; default upstream's. */
  eviction?: EvictionThresholds;
  /** The node agent's service proxy mode (--proxy-mode); default iptables. */
  proxyMode?: ProxyMode;
  /** The metrics server's scrape period (--metric-resolution, ms); default BOSUN_METRIC_RESOLUTION, else 15 s. */
  metricResolutionMs?: number;
  /** --datastore-cafile/-certfile/-keyfile: TLS toward an external etcd datastore. */
  datastoreTls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** --cluster-init: run an embedded etcd member (the first server of an HA cluster). */
  clusterInit?: boolean;
  /** --server: join the cluster of this server (with `token`). */
  joinServer?: string;
  /** --token: the cluster's server token (or the secret part of it for the first server). */
  token?: string;
  /** --cluster-reset (with --cluster-reset-restore-path): reset the embedded member to a cluster of one, then return. */
  clusterReset?: { restorePath?: string };
  /** The embedded etcd member's ports (default 2379 and 2380). */
  etcdPorts?: { client: number; peer: number };
  /** --event-ttl in seconds; default 1 h. */
  eventTtlSeconds?: number;
  /** --kube-controller-manager-arg: the in-process controller manager's flags. */
  controllerManagerArgs?: ControllerManagerArgs;
  /** --kube-scheduler-arg: the in-process scheduler's leader-election durations. */
  schedulerArgs?: Pick<ControllerManagerArgs, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;
}

/** The in-process controller manager's flags Bosun takes through --kube-controller-manager-arg (ms). */
export interface ControllerManagerArgs {
  nodeMonitorGracePeriodMs?: number;
  nodeMonitorPeriodMs?: number;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** The controller manager's identity: a client certificate in the data dir's tls folder. */
const controllerManagerIdentity = { name: 'controller-manager', commonName: 'system:kube-controller-manager' };
/** The scheduler's identity. */
const schedulerIdentity = { name: 'scheduler', commonName: 'system:kube-scheduler' };
/** The API server's identity toward node agents (upstream's kube-apiserver-kubelet-client). */
const kubeletClientIdentity = { name: 'apiserver-kubelet-client', commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] };
/** The simulated nodes' kubelet identity. */
const virtualNodesIdentity = { name: 'virtual-nodes', commonName: 'system:bosun:virtual-nodes' };
/**
 * The in-process metrics server's identity toward the API server (it watches nodes and pods). It
 * serves one of the API server's own groups, so it has the API server's privileges, as the API
 * server's own loopback informers do upstream.
 */
const metricsServerIdentity = { name: 'metrics-server', commonName: 'system:metrics-server', organizations: [] as string[] };

export async function runServer(cfg: ServerConfig, signal: AbortSignal): Promise<void> {
  const launchedAt = cfg.launchedAtMs ?? performance.timeOrigin;
  const admissionErrors = admissionFlagErrors(cfg.admissionPlugins?.enable ?? [], cfg.admissionPlugins?.disable ?? []);
  if (admissionErrors.length) throw new Error(admissionErrors.join('; '));
  await fs.mkdir(cfg.dataDir, { recursive: true, mode: 0o700 });
  const nodeName = (cfg.nodeName ?? os.hostname()).toLowerCase();
  const clusterCidr = cfg.clusterCidr ?? defaultClusterCidr;
  const nodeIP = cfg.nodeIP ?? gatewayOf(firstSubnet(clusterCidr));
  const agentIdentity = { name: 'agent', commonName: `system:node:${nodeName}`, organizations: ['system:nodes'] };
  const agentServing = { name: 'agent-serving', commonName: nodeName, sans: [nodeName, nodeIP, 'localhost', '127.0.0.1'] };
  // Encryption at rest and audit: bad configuration files fail the start before anything else.
  const encryption = cfg.encryptionProviderConfig ? encryptionTransformer(loadEncryptionConfiguration(cfg.encryptionProviderConfig)) : undefined;
  const auditor = cfg.audit?.policyFile && cfg.audit.logPath ? createAuditor({ ...cfg.audit, policyFile: cfg.audit.policyFile, logPath: cfg.audit.logPath, onError: (e) => process.stdout.write(`bosun: audit: ${e.message}\n`) }) : undefined;
  const pkiLog = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  const pkiRequest: IsolatedPkiRequest = {
    dir: path.join(cfg.dataDir, 'tls'),
    sans: [...cfg.tlsSans, ...(isAny(cfg.bindAddress) ? [] : [cfg.bindAddress]), ...(cfg.advertiseAddress ? [cfg.advertiseAddress] : cfg.disableAgent ? [] : [nodeIP])],
    hostnames: [os.hostname()],
    clients: [
      ...(cfg.disableControllerManager ? [] : [controllerManagerIdentity]),
      ...(cfg.disableScheduler ? [] : [schedulerIdentity]),
      ...(cfg.virtualNodes ? [virtualNodesIdentity] : []),
      kubeletClientIdentity,
      ...((cfg.disable ?? []).includes('metrics-server') ? [] : [metricsServerIdentity]),
      // Issued even with --disable-agent: `bosun agent --data-dir` on this machine uses them.
      agentIdentity,
    ],
    servings: [agentServing],
    // Testing only: short-lived leaves (pki/rotation.ts), read once here.
    leafLifetimeSeconds: certLifetimeFromEnv(process.env),
  };
  // The front-proxy CA and client certificate (k3s's request-header-ca, client-auth-proxy) for API aggregation.
  // The datastore first: a server joining a cluster takes the cluster's CA and keys before making any.
  const etcdIP = cfg.advertiseAddress ?? (!isAny(cfg.bindAddress) ? cfg.bindAddress : '127.0.0.1');
  const dsConfig = { dataDir: cfg.dataDir, nodeName, advertiseIP: etcdIP, datastoreEndpoint: cfg.datastoreEndpoint, datastoreTls: cfg.datastoreTls, clusterInit: cfg.clusterInit, joinServer: cfg.joinServer, token: cfg.token, etcdPorts: cfg.etcdPorts, log: pkiLog };
  if (cfg.clusterReset) return clusterResetDatastore(dsConfig, cfg.clusterReset.restorePath);
  const datastore = await openDatastore(dsConfig);
  const rawStore = datastore.store;
  const [{ pki, clients }, requestHeader] = await Promise.all([ensurePkiIsolated(pkiRequest, pkiLog), ensureRequestHeaderPki(pkiRequest.dir, pkiLog)]);
  // The server token (DATA_DIR/server/token): servers join with it; an external datastore keeps the bootstrap data under it.
  const serverToken = await ensureServerToken(cfg.dataDir, pki.caCertPem, cfg.token);
  // Leaf certificates renewed while the server runs (the CA is not): each consumer below takes the new pair in place.
  const rotator = new CertRotator({ reissue: (names) => reissueIsolated(pkiRequest, names, pkiLog), log: pkiLog });
  const rotating = (name: string): RotatingCert => rotator.add(name, name === 'serving' ? { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem } : name === 'admin' ? { certPem: pki.adminCertPem, keyPem: pki.adminKeyPem } : clients[name]!);
  const servingCert = rotating('serving');
  const kubeletClientCert = rotating(kubeletClientIdentity.name);
  // Read per request by the connect subresources: a renewed certificate is used from the next request on.
  const kubeletClient = {
    get certPem() {
      return kubeletClientCert.current().certPem;
    },
    get keyPem() {
      return kubeletClientCert.current().keyPem;
    },
    caPem: pki.caCertPem,
  };
  // metrics.k8s.io (metrics-server in this process, unless --disable metrics-server): BOSUN_METRIC_RESOLUTION shortens the 15 s resolution (tests).
  const metrics = (cfg.disable ?? []).includes('metrics-server') ? undefined : new MetricsServer({ resolutionMs: cfg.metricResolutionMs ?? metricResolutionFromEnv(process.env), kubelet: kubeletClient, log: (m) => process.stdout.write(`bosun: ${m}\n`) });
  const store = encryption ? encryptingStore(rawStore, encryption, resourceResolver(builtinResources), { onWatchError: (e) => process.stdout.write(`bosun: ${e.message}\n`) }) : rawStore;
  // Service account tokens: the signing key in the data dir's tls folder, upstream's flags.
  const sa = await loadServiceAccountConfig(cfg.serviceAccount ?? {}, { keyDir: path.join(cfg.dataDir, 'tls'), clusterDomain: cfg.clusterDomain });
  // Every shared file exists now (the service-account key too): an external datastore keeps them for the next servers.
  await datastore.publishBootstrap(serverToken);
  const saLookups = {
    getServiceAccount: (ns: string, n: string) => cached<ServiceAccount>('', 'ServiceAccount', ns, n),
    getPod: (ns: string, n: string) => cached<Pod>('', 'Pod', ns, n),
    getSecret: (ns: string, n: string) => cached<Secret>('', 'Secret', ns, n),
    getNode: (n: string) => cached<Node>('', 'Node', '', n),
  };
  // Issuer discovery documents, made once the port is known (none when upstream would refuse the issuer).
  let oidc: ReturnType<typeof openIdMetadata> | undefined;
  const saAuth = serviceAccountAuthenticator({ keys: sa.keys, issuers: sa.issuers, apiAudiences: sa.apiAudiences, lookups: saLookups });
  // Authorization (--authorization-mode, default Node,RBAC) over the API server's own caches.
  const rbac = createRbacSource({
    clusterRoles: () => api.cacheList(rbacGroup, 'ClusterRole'),
    roles: () => api.cacheList(rbacGroup, 'Role'),
    clusterRoleBindings: () => api.cacheList(rbacGroup, 'ClusterRoleBinding'),
    roleBindings: () => api.cacheList(rbacGroup, 'RoleBinding'),
  });
  const storeOf = (group: string, kind: string) => api.storageFor(api.registry.byKind(group, kind)!);
  const listIn = <T>(group: string, kind: string, namespace: string): T[] => {
    const s = storeOf(group, kind);
    return s.cache.listPrefix(s.key(namespace, '')).map((c) => c.obj as unknown as T);
  };
  /**
   * Admission webhooks: configurations from the cache; a webhook Service is called at a ready
   * endpoint of it (upstream's --enable-aggregator-routing), so the API server needs no service
   * proxy on its own host.
   */
  const webhookDeps = (kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration'): WebhookDeps => ({
    configurations: () => api.cacheList('admissionregistration.k8s.io', kind).objects,
    namespaceLabels: (name) => {
      const ns = cached<Namespace>('', 'Namespace', '', name);
      return ns ? (ns.metadata.labels ?? {}) : undefined;
    },
    resolveService,
    log: (m) => process.stdout.write(`bosun: admission webhook: ${m}\n`),
  });
  /** A ready endpoint of a Service port (ExternalName: its name): admission webhooks and aggregated APIs. */
  const resolveService: WebhookDeps['resolveService'] = (namespace, name, port) => {
    const svc = cached<Service>('', 'Service', namespace, name);
    if (!svc) return undefined;
    const spec = svc.spec ?? {};
    if (spec.type === 'ExternalName') return { host: spec.externalName!, port };
    const sp = (spec.ports ?? []).find((p) => p.port === port);
    if (!sp) throw new Error(`no service port ${port} found for service "${name}"`);
    for (const slice of listIn<EndpointSlice>('discovery.k8s.io', 'EndpointSlice', namespace)) {
      if (slice.metadata.labels?.['kubernetes.io/service-name'] !== name) continue;
      const target = (slice.ports ?? []).find((p) => (p.name ?? '') === (sp.name ?? ''));
      const ep = (slice.endpoints ?? []).find((e) => e.conditions?.ready !== false && e.addresses?.length);
      if (target?.port && ep) return { host: ep.addresses[0]!, port: target.port };
    }
    throw new Error(`service "${name}" has no ready endpoints`);
  };
  // API aggregation (apiregistration.k8s.io): proxies remote APIServices, keeps their availability, registers the Local ones.
  const aggregator = new Aggregator({ host: () => api, proxyClient: () => requestHeader.proxyClient, resolveService, log: (m) => process.stdout.write(`bosun: ${m}\n`) });
  const cached = <T>(group: string, kind: string, namespace: string, name: string): T | undefined => {
    const def = api.registry.byKind(group, kind);
    return def ? (api.storageFor(def).cache.get(api.storageFor(def).key(namespace, name))?.obj as T | undefined) : undefined;
  };
  const nodeGraph = nodeAuthorizer(
    {
      version: () => api.cacheList('', 'Pod').rv,
      pods: () => api.cacheList('', 'Pod').objects as unknown as Pod[],
      persistentVolumeClaim: (ns, name) => cached('', 'PersistentVolumeClaim', ns, name),
      persistentVolume: (name) => cached('', 'PersistentVolume', '', name),
    },
    { ruleAllows: (rules, a) => rules.some((r) => ruleAllows(a, r)) },
  );
  const modes = cfg.authorizationModes ?? defaultAuthorizationModes;
  const authorizers = buildAuthorizers(modes, { rbac, node: nodeGraph });
  const api: ApiServer = new ApiServer({
    store,
    resources: builtinResources,
    tls: { certPem: pki.servingCertPem, keyPem: pki.servingKeyPem, caPem: pki.caCertPem },
    bindAddress: cfg.bindAddress,
    port: cfg.port,
    kubeletClient,
    providedResources: metrics?.resources,
    aggregator,
    // CRD conversion webhooks reach a Service as the admission webhooks do.
    resolveService,
    eventTtlSeconds: cfg.eventTtlSeconds,
    // k3s's supervisor endpoints: joining servers (bootstrap data, etcd members) and snapshots.
    supervisor: supervisorHandler({
      dataDir: cfg.dataDir,
      serverToken: () => serverToken,
      etcd: datastore.etcd && { addMember: memberAdder(datastore.etcd) },
      snapshot: rawStore.snapshot ? (name) => saveSnapshot(rawStore, { dataDir: cfg.dataDir, nodeName, name }) : undefined,
      listSnapshots: () => listSnapshots(cfg.dataDir, { nodeName }),
      log: pkiLog,
    }),
    // Client certificates, bootstrap tokens (Secrets in kube-system) for joining nodes, --token-auth-file.
    authenticators: [
      x509Authenticator,
      saAuth,
      bootstrapTokenAuthenticator({ getSecret: (name) => secretFromCache(api, name) }),
      ...(cfg.tokenAuthFile ? [tokenFileAuthenticator(cfg.tokenAuthFile, { warn: (m) => process.stdout.write(`bosun: warning: ${m}\n`) })] : []),
    ],
    anonymousAuth: cfg.anonymousAuth ?? true,
    auditor,
    tokenRequest: (r) => createTokenRequest({ namespace: r.namespace, serviceAccountName: r.name, tokenRequest: r.object as TokenRequest, lookups: saLookups, signingKey: sa.signingKey, issuer: sa.issuers[0]!, apiAudiences: sa.apiAudiences, maxExpirationSeconds: sa.maxExpirationSeconds, warnings: r.warnings, auditAnnotations: r.auditAnnotations }) as Promise<KubeObject>,
    reviewToken: async (token, audiences) => {
      const r = await saAuth.authenticateToken(token, audiences.length ? audiences : undefined);
      return r.status === 'authenticated' ? { user: r.user, audiences: r.audiences } : r.status === 'invalid' ? { error: r.message } : {};
    },
    openIdDiscovery: (p) => (oidc ? openIdMetadataResponse(oidc, p) : undefined),
    authorizers,
    rulesReview: rulesReview(modes, rbac),
    admission: (builtin) => orderAdmission([
      ...Object.values(builtin),
      limitRangerPlugin({ limitRanges: (ns) => listIn<LimitRange>('', 'LimitRange', ns) }),
      nodeRestrictionPlugin({ pod: (ns, name) => cached<Pod>('', 'Pod', ns, name), node: (name) => cached<Node>('', 'Node', '', name) }),
      podSecurityPlugin({
        namespace: (name) => cached<Namespace>('', 'Namespace', '', name),
        podsInNamespace: (ns) => listIn<Pod>('', 'Pod', ns),
      }),
      taintNodesByConditionPlugin(),
      runtimeClassPlugin({ runtimeClass: (name) => cached('node.k8s.io', 'RuntimeClass', '', name) }),
      ...certificatePlugins({ authorize: (a) => authorize(authorizers, a) }),
      defaultStorageClassPlugin({ storageClasses: () => api.cacheList('storage.k8s.io', 'StorageClass').objects as unknown as StorageClass[] }),
      storageObjectInUseProtectionPlugin(),
      persistentVolumeClaimResizePlugin({ storageClass: (name) => cached<StorageClass>('storage.k8s.io', 'StorageClass', '', name) }),
      defaultIngressClassPlugin({ ingressClasses: () => api.cacheList('networking.k8s.io', 'IngressClass').objects as unknown as IngressClass[] }),
      rbacEscalationPlugin(rbac, (a) => authorize(authorizers, a)),
      mutatingWebhookPlugin(webhookDeps('MutatingWebhookConfiguration')),
      validatingAdmissionPolicyPlugin({
        policies: () => api.cacheList('admissionregistration.k8s.io', 'ValidatingAdmissionPolicy').objects,
        bindings: () => api.cacheList('admissionregistration.k8s.io', 'ValidatingAdmissionPolicyBinding').objects,
        namespace: (name) => cached<KubeObject>('', 'Namespace', '', name),
        params: paramsFromRegistry({
          byKind: (group, kind) => api.registry.byKind(group, kind),
          list: (def, namespace) => {
            const s = api.storageFor(def);
            return (namespace === undefined ? s.cache.list() : s.cache.listPrefix(s.key(namespace, ''))).map((c) => c.obj);
          },
        }),
        authorize: (a) => authorize(authorizers, a),
        log: (m) => process.stdout.write(`bosun: ValidatingAdmissionPolicy: ${m}\n`),
      }),
      validatingWebhookPlugin(webhookDeps('ValidatingWebhookConfiguration')),
      // Last (admission.ts orders the chain as upstream): a request another plugin refuses must not have been charged.
      resourceQuotaPlugin({
        quotas: (ns) => listIn<ResourceQuota>('', 'ResourceQuota', ns),
        updateQuotaStatus: async (q) => (await storeOf('', 'ResourceQuota').update(q.metadata.namespace!, q.metadata.name!, () => structuredClone(q) as unknown as KubeObject, { user: apiServerUser, dryRun: false, version: 'v1' }, { subresource: 'status' })).obj as unknown as ResourceQuota,
        refetch: async (ns, name) => (await storeOf('', 'ResourceQuota').getFromStore(ns, name))?.obj as unknown as ResourceQuota | undefined,
      }),
    ], cfg.admissionPlugins?.disable),
  });
  // The node token (server/node-token) for `bosun agent --server URL --token TOKEN`.
  const port = await api.start({ beforeReady: async (p) => {
    const host = cfg.advertiseAddress ?? (isAny(cfg.bindAddress) ? '127.0.0.1' : cfg.bindAddress);
    try {
      oidc = openIdMetadata({ issuer: sa.issuers[0]!, jwksUri: sa.jwksUri, externalAddress: `${host.includes(':') ? `[${host}]` : host}:${p}`, keys: sa.publicKeys });
    } catch (err) {
      process.stdout.write(`bosun: service account issuer discovery not served: ${(err as Error).message}\n`);
    }
    await bootstrap(api, { port: p, clusterDns: cfg.clusterDns, defaultStorageClass: !(cfg.disable ?? []).includes('local-storage') });
    await publishAuthConfigMap(storeOf('', 'ConfigMap'), { clientCaPem: pki.caCertPem, requestHeaderCaPem: requestHeader.caCertPem });
    await ensureNodeToken(api, cfg.dataDir, pki.caCertPem);
  } });
  const host = isAny(cfg.bindAddress) ? '127.0.0.1' : cfg.bindAddress;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  await writeKubeconfig(cfg.kubeconfigPath, kubeconfigYaml({ server, caPem: pki.caCertPem, certPem: pki.adminCertPem, keyPem: pki.adminKeyPem }));
  servingCert.onChange((pair) => api.setServingCertificate(pair));
  // The admin kubeconfig is rewritten (atomically) with each new admin certificate.
  rotating('admin').onChange((pair) => writeKubeconfig(cfg.kubeconfigPath, kubeconfigYaml({ server, caPem: pki.caCertPem, certPem: pair.certPem, keyPem: pair.keyPem })));
  const ms = Math.round(Date.now() - launchedAt);
  process.stdout.write(`bosun: API server ready at ${server} (${ms} ms)\n`);
  process.stdout.write(`bosun: kubeconfig written to ${cfg.kubeconfigPath}\n`);
  process.stdout.write(`bosun: export KUBECONFIG=${cfg.kubeconfigPath}\n`);
  // The controller manager's pair is read per use (liveCertAndKey): renewed certificates reach its client's credentials.
  const cm = clients[controllerManagerIdentity.name] && liveCertAndKey(rotating(controllerManagerIdentity.name));
  // In-process components reach this API server through the in-process transport (apiserver/local.ts),
  // as the identities their certificates prove; BOSUN_IN_PROCESS_TRANSPORT=https sends them over HTTPS instead.
  const viaHttps = process.env['BOSUN_IN_PROCESS_TRANSPORT'] === 'https';
  const link = (component: string, id: { commonName: string; organizations?: string[] }, credentials: () => { cert: string; key: string }): ClientLink =>
    viaHttps
      ? { client: { connection: { server, ca: pki.caCertPem }, credentials }, connection: { server, ca: pki.caCertPem } }
      : { client: { transport: api.localTransport({ user: certificateUser(id.commonName, id.organizations), userAgent: userAgent(component) }) }, transportFor: (i) => api.localTransport(i) };
  const components = cm ? [runInProcessControllerManager(pki, link('kube-controller-manager', controllerManagerIdentity, () => ({ cert: cm.certPem, key: cm.keyPem })), { clusterCidr, nodeCidrMaskSize: cfg.nodeCidrMaskSize ?? 24 }, cfg.controllerManagerArgs ?? {}, cfg.disable ?? [], sa.signingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, signal)] : [];
  const sched = clients[schedulerIdentity.name] && rotating(schedulerIdentity.name);
  if (sched) components.push(runInProcessScheduler(link('kube-scheduler', schedulerIdentity, credentialsOf(sched)), cfg.schedulerConfig, cfg.schedulerArgs ?? {}, signal));
  if (metrics && clients[metricsServerIdentity.name]) components.push(runInProcessMetricsServer(link('metrics-server', metricsServerIdentity, credentialsOf(rotating(metricsServerIdentity.name))), metrics, signal));
  const vn = cfg.virtualNodes && clients[virtualNodesIdentity.name] ? rotating(virtualNodesIdentity.name) : undefined;
  if (vn && cfg.virtualNodes) components.push(runInProcessVirtualNodes(link('virtual-nodes', virtualNodesIdentity, credentialsOf(vn)), cfg.virtualNodes, signal));
  const agentCert = clients[agentIdentity.name];
  let agentRuns = false;
  if (agentCert && !cfg.disableAgent) {
    const missing = await agentPrerequisites();
    if (missing.length) process.stdout.write(`bosun: node agent not started: ${missing.join('; ')} (run the README's setup command); running the control plane only\n`);
    else agentRuns = true;
    // Renewed only when the agent runs here: a separate `bosun agent` beside the server renews its own.
    if (agentRuns) components.push(runInProcessAgent(pki, rotating(agentIdentity.name), rotating(agentServing.name), server, { nodeName, clusterCidr, clusterDns: cfg.clusterDns, clusterDomain: cfg.clusterDomain, resolvConf: cfg.resolvConf, nodeIP: cfg.nodeIP, port: cfg.agentPort ?? 10250, dir: path.join(cfg.dataDir, 'agent'), eviction: cfg.eviction, proxyMode: cfg.proxyMode , onReady: () => void labelControlPlane(api, nodeName, ownMemberOf(datastore)) }, signal));
  }
  const advertise = defaultAdvertiseAddress({ flag: cfg.advertiseAddress, agentNodeIP: agentRuns ? nodeIP : undefined, bindAddress: cfg.bindAddress });
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  if (advertise) components.unshift(runAdvertiser(api, { address: advertise, port, bindAddress: cfg.bindAddress, hostname: os.hostname(), waitForListener: !cfg.advertiseAddress && !cfg.nodeIP, log }, signal));
  else log('no advertise address (the API server binds loopback and no node agent runs): the kubernetes service has no endpoints');
  // Embedded etcd: a deleted server's Node takes its member out of the cluster (k3s's member-removal controller).
  const ownMember = datastore.member?.();
  if (datastore.etcd && ownMember) components.push(runInProcessMemberRemoval(pki, server, datastore.etcd, ownMember.name, signal));
  components.push(rotator.run(signal));
  components.push(aggregator.run(signal));
  afterStartUp();
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.all(components);
  await api.close();
  await auditor?.close();
  // The datastore closes the store (the encrypting wrapper holds nothing of its own), then stops an embedded member.
  await datastore.close();
  process.stdout.write('bosun: stopped\n');
}

/**
 * The controller manager in this process, as its own identity (system:kube-controller-manager)
 * over HTTPS to this API server, exactly as a separate `bosun controller-manager` would run:
 * each controller with its own ServiceAccount's credentials (--use-service-account-credentials).
 */
async function runInProcessControllerManager(pki: Pki, link: ClientLink, config: { clusterCidr: string; nodeCidrMaskSize: number }, args: ControllerManagerArgs, disable: readonly string[], serviceAccountPrivateKeyPem: string, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  try {
    const client = await createClient({ component: 'kube-controller-manager', qps: 1000, burst: 2000, ...link.client });
    try {
      // --disable servicelb: every controller but that one.
      const enabled = disable.length ? Object.keys(controllers).filter((n) => !disable.includes(n)) : undefined;
      const { leaseDurationMs, renewDeadlineMs, retryPeriodMs, nodeMonitorGracePeriodMs, nodeMonitorPeriodMs } = args;
      const monitor = { ...(nodeMonitorGracePeriodMs !== undefined ? { nodeMonitorGracePeriodMs } : {}), ...(nodeMonitorPeriodMs !== undefined ? { nodeMonitorPeriodMs } : {}) };
      await runControllerManager({ client, log, config: { ...config, ...monitor }, leaseDurationMs, renewDeadlineMs, retryPeriodMs, enabled, clusterSigning: { certPem: pki.caCertPem, keyPem: pki.caKeyPem }, useServiceAccountCredentials: true, connection: link.connection, transportFor: link.transportFor, qps: 1000, burst: 2000, serviceAccountPrivateKeyPem }, signal);
    } finally {
      await client.transport.close();
    }
  } catch (err) {
    log(`controller-manager failed: ${(err as Error).message}`);
  }
}

/** The scheduler in this process, as its own identity over HTTPS. */
async function runInProcessScheduler(link: ClientLink, config: SchedulerConfig | undefined, args: NonNullable<ServerConfig['schedulerArgs']>, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  try {
    const client = await createClient({ component: 'kube-scheduler', ...link.client, qps: 5000, burst: 10000 });
    try {
      await runScheduler({ client, log, config, leaseDurationMs: args.leaseDurationMs, renewDeadlineMs: args.renewDeadlineMs, retryPeriodMs: args.retryPeriodMs }, signal);
    } finally {
      await client.transport.close();
    }
  } catch (err) {
    log(`scheduler failed: ${(err as Error).message}`);
  }
}

/** The metrics server in this process: watches nodes and pods as its own identity over HTTPS, scrapes until the signal aborts. */
async function runInProcessMetricsServer(link: ClientLink, metrics: MetricsServer, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  try {
    const client = await createClient({ component: 'metrics-server', ...link.client, qps: 100, burst: 200 });
    try {
      await metrics.run(client, signal);
    } finally {
      await client.transport.close();
    }
  } catch (err) {
    log(`metrics server failed: ${(err as Error).message}`);
  }
}

/** Simulated nodes in this process, as their own identity over HTTPS (as `bosun virtual-nodes` would). */
async function runInProcessVirtualNodes(link: ClientLink, count: number, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  try {
    const client = await createClient({ component: 'virtual-nodes', ...link.client, qps: 1000, burst: 2000 });
    try {
      await runVirtualNodes({ client, count, log }, signal);
    } finally {
      await client.transport.close();
    }
  } catch (err) {
    log(`virtual nodes failed: ${(err as Error).message}`);
  }
}

/** The node agent in this process, as its node identity (system:node:NAME) over HTTPS. */
async function runInProcessAgent(pki: Pki, id: RotatingCert, serving: RotatingCert, server: string, opts: { nodeName: string; clusterCidr: string; clusterDns?: string; clusterDomain?: string; resolvConf?: string; nodeIP?: string; port: number; dir: string; eviction?: EvictionThresholds; proxyMode?: ProxyMode; onReady?: () => void }, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  try {
    const client = await createClient({ component: 'kubelet', connection: { server, ca: pki.caCertPem }, credentials: credentialsOf(id), qps: 50, burst: 100 });
    try {
      await runAgent({ client, nodeName: opts.nodeName, dir: opts.dir, clusterCidr: opts.clusterCidr, clusterDns: opts.clusterDns, clusterDomain: opts.clusterDomain, resolvConf: opts.resolvConf, nodeIP: opts.nodeIP, port: opts.port, eviction: opts.eviction, proxyMode: opts.proxyMode, onReady: opts.onReady, tls: { ...serving.current(), caPem: pki.caCertPem }, servingCertificate: serving, log }, signal);
    } finally {
      await client.transport.close();
    }
  } catch (err) {
    log(`node agent failed: ${(err as Error).stack ?? err}`);
  }
}

/** The member-removal controller in this process, as the API server's admin identity. */
async function runInProcessMemberRemoval(pki: Pki, server: string, etcd: Etcd3, ownMember: string, signal: AbortSignal): Promise<void> {
  const log = (msg: string) => process.stdout.write(`bosun: ${msg}\n`);
  try {
    const client = await createClient({ component: 'etcd-member-removal', connection: { server, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem }, qps: 20, burst: 40 });
    try {
      const { runMemberRemoval } = await import('../etcd/memberremoval.ts');
      await runMemberRemoval({ client, etcd, log, ownMember }, signal);
    } finally {
      await client.transport.close();
    }
  } catch (err) {
    log(`etcd member removal failed: ${(err as Error).message}`);
  }
}

/** This server's etcd member's name and client address, when it runs one. */
function ownMemberOf(datastore: Datastore): { name: string; address: string } | undefined {
  const m = datastore.member?.();
  return m ? { name: m.name, address: new URL(m.clientURL).hostname } : undefined;
}

/**
 * How an in-process component reaches this API server: the client's transport (in-process, or
 * HTTPS with its rotating certificate), and for the controller manager's per-controller clients
 * the in-process transport factory or the HTTPS connection.
 */
interface ClientLink {
  client: Pick<CreateClientOptions, 'transport' | 'connection' | 'credentials'>;
  connection?: ClusterConnection;
  transportFor?: TransportFactory;
}

/** A client's credentials read per request from a rotating certificate (a renewed one opens a new session). */
function credentialsOf(id: RotatingCert): () => { cert: string; key: string } {
  return () => {
    const { certPem, keyPem } = id.current();
    return { cert: certPem, key: keyPem };
  };
}

function isAny(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::' || addr === '';
}

async function writeKubeconfig(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, content, { mode: 0o600 });
}

/**
 * Labels the server's own node `node-role.kubernetes.io/control-plane` as the server (k3s does
 * the same): a node may not set that label on itself (NodeRestriction).
 */
async function labelControlPlane(api: ApiServer, nodeName: string, member?: { name: string; address: string }): Promise<void> {
  const nodes = api.storageFor(api.registry.byKind('', 'Node')!);
  const key = 'node-role.kubernetes.io/control-plane';
  // An etcd member's node (k3s): the etcd role label and the member's name and address, which the member-removal controller reads.
  const labels: Record<string, string> = { [key]: 'true' };
  const annotations: Record<string, string> = {};
  if (member) {
    const { etcdRoleLabel, nodeAddressAnnotation, nodeNameAnnotation } = await import('../etcd/memberremoval.ts');
    labels[etcdRoleLabel] = 'true';
    Object.assign(annotations, { [nodeNameAnnotation]: member.name, [nodeAddressAnnotation]: member.address });
  }
  try {
    await nodes.update('', nodeName, (cur) => {
      if (!cur) throw new Error(`node ${nodeName} not found`);
      const has = (want: Record<string, string>, got: Record<string, string> | undefined) => Object.entries(want).every(([k, v]) => got?.[k] === v);
      if (has(labels, cur.metadata.labels) && has(annotations, cur.metadata.annotations)) return cur;
      return { ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, ...labels }, annotations: { ...cur.metadata.annotations, ...annotations } } };
    }, { user: apiServerUser, dryRun: false, version: 'v1' });
  } catch (err) {
    process.stdout.write(`bosun: labelling node ${nodeName} as control-plane failed: ${(err as Error).message}\n`);
  }
}

/** The API server's own writes (quota status, the control-plane label). */
const apiServerUser = { username: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };

/**
 * Once start-up's burst of allocation is over, one memory-reducing full collection gives back
 * what it grew (the young generation above all: `bin/bosun` lets it grow to 16 MB a half under
 * load). The collection stops the thread (~50 ms for a small heap, more with many objects
 * cached), so it waits for an idle moment: the first quarter second after start-up in which the
 * event loop was busy less than 5 % of the time. A server busy all through its first minute
 * skips it: under load the heap grows back anyway. Needs `--expose-gc` (bin/bosun passes it to
 * the server); without it, nothing.
 */
function afterStartUp(): void {
  const gc = (globalThis as { gc?: (opts: { type: string; execution: string; flavor: string }) => unknown }).gc;
  if (typeof gc !== 'function') return;
  const windowMs = 250;
  let windows = 0;
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    const idle = busy < 0.05;
    if (idle || ++windows >= 240) clearInterval(timer);
    if (idle) gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  }, windowMs);
  timer.unref();
}
