/**
 * The controller manager: every controller of `controllers` (by upstream name) run on one shared
 * informer factory, only while this process holds the `kube-system/kube-controller-manager`
 * Lease. Losing the lease stops every controller (their signal aborts) and the manager goes
 * back to contending, so two managers against one API server never both act.
 *
 * Identities, as upstream's kube-controller-manager: the manager's own credentials serve leader
 * election, the shared informers and obtaining the controllers' credentials. With
 * `useServiceAccountCredentials` (upstream's --use-service-account-credentials) each controller
 * writes, and records its events, with a client of its own ServiceAccount
 * (`kube-system/<descriptor.serviceAccount>`, credentials.ts); a controller starts once its
 * client is ready, so one whose credentials cannot be had yet does not hold the others back.
 * Without it, every controller uses the manager's own client (which must then be granted what
 * the controllers do).
 */
import { startResourceQuotaController } from './resourcequota.ts';
import { startRootCaCertPublisher, type RootCaContext } from './rootcacertpublisher.ts';
import { startClusterRoleAggregationController } from './clusterroleaggregation.ts';
import { EventRecorder, InformerFactory, LeaderElector, type ClusterConnection, type RestClient } from '../client/index.ts';
import { defaultControllerConfig, type ControllerConfig, type ControllerContext, type ControllerDescriptor } from './context.ts';
import { ControllerCredentials, type TransportFactory } from './credentials.ts';
import { startReplicaSetController, startReplicationControllerController } from './replicaset.ts';
import { startDeploymentController } from './deployment.ts';
import { startEndpointsController, startEndpointSliceController } from './endpoints.ts';
import { startServiceAccountController } from './serviceaccount.ts';
import { startNamespaceController } from './namespace.ts';
import { startGarbageCollector } from './garbagecollector.ts';
import { startPodGCController } from './podgc.ts';
import { startNodeLifecycleController } from './nodelifecycle.ts';
import { startDisruptionController } from './disruption.ts';
import { startSystemNamespacesController } from './systemnamespaces.ts';
import { startCsrApprovingController } from './csrapproving.ts';
import { startCsrSigningController, type ClusterSigning, type CsrSigningContext } from './csrsigning.ts';
import { startNodeIpamController } from './nodeipam.ts';
import { startServiceLBController } from './servicelb.ts';
import { startPvcProtectionController } from './pvcprotection.ts';
import { startPvProtectionController } from './pvprotection.ts';
import { startValidatingAdmissionPolicyStatusController } from './validatingadmissionpolicystatus.ts';
import { startServiceAccountTokensController, type ServiceAccountTokenContext } from './serviceaccounttokens.ts';
import { startStatefulSetController } from './statefulset.ts';
import { startDaemonSetController } from './daemonset.ts';
import { startJobController } from './job.ts';
import { startCronJobController } from './cronjob.ts';
import { startTTLAfterFinishedController } from './ttlafterfinished.ts';
import { startPersistentVolumeBinderController } from './pvbinder.ts';
import { startVolumeExpandController } from './volumeexpand.ts';
import { startEphemeralVolumeController } from './ephemeralvolume.ts';
import { startHorizontalPodAutoscalerController } from './podautoscaler.ts';

/**
 * Every controller, by the name upstream's --controllers flag uses, with the ServiceAccount it
 * runs as under --use-service-account-credentials (the name upstream's controller asks its
 * client for).
 */
export const controllers: Record<string, ControllerDescriptor> = {
  deployment: { start: startDeploymentController, serviceAccount: 'deployment-controller' },
  replicaset: { start: startReplicaSetController, serviceAccount: 'replicaset-controller' },
  replicationcontroller: { start: startReplicationControllerController, serviceAccount: 'replication-controller' },
  endpoint: { start: startEndpointsController, serviceAccount: 'endpoint-controller' },
  endpointslice: { start: startEndpointSliceController, serviceAccount: 'endpointslice-controller' },
  serviceaccount: { start: startServiceAccountController, serviceAccount: 'service-account-controller' },
  namespace: { start: startNamespaceController, serviceAccount: 'namespace-controller' },
  garbagecollector: { start: startGarbageCollector, serviceAccount: 'generic-garbage-collector' },
  podgc: { start: startPodGCController, serviceAccount: 'pod-garbage-collector' },
  // Both use upstream's node-controller role, as upstream's do.
  nodelifecycle: { start: startNodeLifecycleController, serviceAccount: 'node-controller' },
  disruption: { start: startDisruptionController, serviceAccount: 'disruption-controller' },
  nodeipam: { start: startNodeIpamController, serviceAccount: 'node-controller' },
  // Upstream runs this one in kube-apiserver; see systemnamespaces.ts. Its ServiceAccount is
  // Bosun's, bound to Bosun's bosun:system-namespaces ClusterRole (bootstrappolicy.ts).
  systemnamespaces: { start: startSystemNamespacesController, serviceAccount: 'system-namespaces-controller' },
  csrapproving: { start: startCsrApprovingController, serviceAccount: 'certificate-controller' },
  csrsigning: { start: startCsrSigningController, serviceAccount: 'certificate-controller' },
  // k3s's name (`--disable servicelb`); upstream's service controller with Bosun as the load
  // balancer, so upstream's service-controller identity.
  servicelb: { start: startServiceLBController, serviceAccount: 'service-controller' },
  'clusterrole-aggregation': { start: startClusterRoleAggregationController, serviceAccount: 'clusterrole-aggregation-controller' },
  'root-ca-certificate-publisher': { start: startRootCaCertPublisher, serviceAccount: 'root-ca-cert-publisher' },
  resourcequota: { start: startResourceQuotaController, serviceAccount: 'resourcequota-controller' },
  'pvc-protection': { start: startPvcProtectionController, serviceAccount: 'pvc-protection-controller' },
  'pv-protection': { start: startPvProtectionController, serviceAccount: 'pv-protection-controller' },
  // No ServiceAccount: it mints tokens, so it runs with the manager's own credentials, as upstream's tokens controller.
  'serviceaccount-token': { start: startServiceAccountTokensController },
  'validatingadmissionpolicy-status': { start: startValidatingAdmissionPolicyStatusController, serviceAccount: 'validatingadmissionpolicy-status-controller' },
  statefulset: { start: startStatefulSetController, serviceAccount: 'statefulset-controller' },
  daemonset: { start: startDaemonSetController, serviceAccount: 'daemon-set-controller' },
  job: { start: startJobController, serviceAccount: 'job-controller' },
  cronjob: { start: startCronJobController, serviceAccount: 'cronjob-controller' },
  'ttl-after-finished': { start: startTTLAfterFinishedController, serviceAccount: 'ttl-after-finished-controller' },
  'persistentvolume-binder': { start: startPersistentVolumeBinderController, serviceAccount: 'persistent-volume-binder' },
  'persistentvolume-expander': { start: startVolumeExpandController, serviceAccount: 'expand-controller' },
  'ephemeral-volume': { start: startEphemeralVolumeController, serviceAccount: 'ephemeral-volume-controller' },
  horizontalpodautoscaling: { start: startHorizontalPodAutoscalerController, serviceAccount: 'horizontal-pod-autoscaler' },
};

export interface ControllerManagerOptions {
  client: RestClient;
  /** Leader election identity; default `<hostname>_<uuid>`. */
  identity?: string;
  /** Upstream defaults 15 s / 10 s / 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Names to run (default: all of `controllers`). */
  enabled?: readonly string[];
  /** Overrides of the controllers' tunables. */
  config?: Partial<ControllerConfig>;
  /** The CA csrsigning signs with (upstream's --cluster-signing-cert-file/--cluster-signing-key-file); none: it does nothing. */
  clusterSigning?: ClusterSigning;
  /** The CA published as kube-root-ca.crt (upstream's --root-ca-file); default the signing CA. */
  rootCaPem?: string;
  /** The key legacy ServiceAccount token Secrets are signed with (upstream's --service-account-private-key-file); none: serviceaccount-token is off. */
  serviceAccountPrivateKeyPem?: string;
  /**
   * Upstream's --use-service-account-credentials: each controller with a descriptor
   * `serviceAccount` runs with that ServiceAccount's token (needs `connection`). Default false
   * here; the commands default it to true.
   */
  useServiceAccountCredentials?: boolean;
  /** Where the controllers' own clients connect: server address and CA (its credentials are not used). */
  connection?: ClusterConnection;
  /** Builds a controller's transport from its token and User-Agent instead of connecting to `connection` (in-process). */
  transportFor?: TransportFactory;
  /** Rate limit of each controller's own client (--kube-api-qps / --kube-api-burst). */
  qps?: number;
  burst?: number;
  log?: (msg: string) => void;
}

/** Runs until `signal` aborts; resolves once everything has stopped. */
export async function runControllerManager(opts: ControllerManagerOptions, signal: AbortSignal): Promise<void> {
  const log = opts.log ?? (() => {});
  // A bad --controllers flag ends the process with a clear message, before anything runs.
  const unknown = (opts.enabled ?? []).filter((n) => !(n in controllers));
  if (unknown.length) throw new RangeError(`unknown controller${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${Object.keys(controllers).join(', ')})`);
  if (opts.useServiceAccountCredentials && !opts.connection && !opts.transportFor) throw new TypeError('useServiceAccountCredentials needs the connection the controllers\' clients use');
  let running: Promise<void> = Promise.resolve();
  // One elector per term: after leadership is lost, campaign again with a fresh one.
  while (!signal.aborted) {
    const elector = new LeaderElector({
      client: opts.client,
      namespace: 'kube-system',
      name: 'kube-controller-manager',
      identity: opts.identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      log,
      onStartedLeading: (leading) => {
        running = runControllers(opts, leading, log);
      },
      onNewLeader: (id) => log(`controller-manager: leader is ${id}`),
    });
    await elector.run(signal);
    await running;
    if (!signal.aborted) log('controller-manager: leadership lost; campaigning again');
  }
}

async function runControllers(opts: ControllerManagerOptions, signal: AbortSignal, log: (msg: string) => void): Promise<void> {
  const informers = new InformerFactory(opts.client, { log });
  const credentials = opts.useServiceAccountCredentials
    ? new ControllerCredentials({ client: opts.client, connection: opts.connection ?? { server: '' }, transportFor: opts.transportFor, qps: opts.qps, burst: opts.burst, log })
    : undefined;
  // One recorder per (client, component): events are written as the controller that records them.
  const recorders = new Map<RestClient, Map<string, EventRecorder>>();
  const config = { ...defaultControllerConfig, ...opts.config };
  const contextFor = (client: RestClient): ControllerContext & CsrSigningContext & RootCaContext & ServiceAccountTokenContext => ({
    clusterSigning: opts.clusterSigning,
    serviceAccountPrivateKeyPem: opts.serviceAccountPrivateKeyPem,
    rootCaPem: opts.rootCaPem ?? opts.clusterSigning?.certPem,
    client,
    config,
    informers,
    signal,
    log,
    recorder(component) {
      let mine = recorders.get(client);
      if (!mine) recorders.set(client, (mine = new Map()));
      let r = mine.get(component);
      if (!r) mine.set(component, (r = new EventRecorder(client, { component, log })));
      return r;
    },
  });
  // Informers made later (as controllers start) run at once.
  informers.start(signal);
  const names = opts.enabled ?? Object.keys(controllers);
  await Promise.all(
    names.map(async (name) => {
      const d = controllers[name]!;
      let client = opts.client;
      if (credentials && d.serviceAccount) {
        try {
          client = await credentials.client(d.serviceAccount, signal);
        } catch {
          return; // only when stopping
        }
      }
      if (!signal.aborted) d.start(contextFor(client));
    }),
  );
  if (!signal.aborted) log(`controller-manager: started ${names.join(', ') || 'no controllers'}`);
  if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  await informers.stopped();
  await Promise.all([...recorders.values()].flatMap((m) => [...m.values()]).map((r) => r.close()));
  await credentials?.close();
}
