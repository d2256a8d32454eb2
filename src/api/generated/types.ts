/**
 * API object types, generated from the schema files (src/api/schema) by `npm run gen:types`
 * (src/api/schema/gen-types.ts, which documents the mapping and the naming rule). Do not edit.
 */

// ---- well-known types ----

export type Time = string;
export type MicroTime = string;
export type Duration = string;
export type Quantity = string;
export type IntOrString = number | string;
export type RawExtension = Record<string, unknown>;
export type FieldsV1 = Record<string, unknown>;

// ---- meta.k8s.io/v1 ----

export type APIGroup = {
  kind?: string;
  apiVersion?: string;
  name: string;
  versions: GroupVersionForDiscovery[];
  preferredVersion?: GroupVersionForDiscovery;
  serverAddressByClientCIDRs?: ServerAddressByClientCIDR[];
};
export type APIGroupList = {
  kind?: string;
  apiVersion?: string;
  groups: APIGroup[];
};
export type APIResource = {
  name: string;
  singularName: string;
  namespaced: boolean;
  group?: string;
  version?: string;
  kind: string;
  verbs: Verbs;
  shortNames?: string[];
  categories?: string[];
  storageVersionHash?: string;
};
export type APIResourceList = {
  kind?: string;
  apiVersion?: string;
  groupVersion: string;
  resources: APIResource[];
};
export type APIVersions = {
  kind?: string;
  apiVersion?: string;
  versions: string[];
  serverAddressByClientCIDRs: ServerAddressByClientCIDR[];
};
export type ApplyOptions = {
  dryRun?: string[];
  force: boolean;
  fieldManager: string;
};
export type Condition = {
  type: string;
  status: string;
  observedGeneration?: number;
  lastTransitionTime: Time | null;
  reason: string;
  message: string;
};
export type CreateOptions = {
  kind?: string;
  apiVersion?: string;
  dryRun?: string[];
  fieldManager?: string;
  fieldValidation?: string;
};
export type DeleteOptions = {
  kind?: string;
  apiVersion?: string;
  gracePeriodSeconds?: number;
  preconditions?: Preconditions;
  orphanDependents?: boolean;
  propagationPolicy?: string;
  dryRun?: string[];
  ignoreStoreReadErrorWithClusterBreakingPotential?: boolean;
};
export type FieldSelectorRequirement = {
  key: string;
  operator: string;
  values?: string[];
};
export type GetOptions = {
  kind?: string;
  apiVersion?: string;
  resourceVersion?: string;
};
export type GroupKind = {
  group: string;
  kind: string;
};
export type GroupResource = {
  group: string;
  resource: string;
};
export type GroupVersion = {
  group: string;
  version: string;
};
export type GroupVersionForDiscovery = {
  groupVersion: string;
  version: string;
};
export type GroupVersionKind = {
  group: string;
  version: string;
  kind: string;
};
export type GroupVersionResource = {
  group: string;
  version: string;
  resource: string;
};
export type LabelSelector = {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
};
export type LabelSelectorRequirement = {
  key: string;
  operator: string;
  values?: string[];
};
export type MetaV1List = {
  metadata?: ListMeta;
  items: RawExtension[];
};
export type ListMeta = {
  selfLink?: string;
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
};
export type ListOptions = {
  kind?: string;
  apiVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  watch?: boolean;
  allowWatchBookmarks?: boolean;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  timeoutSeconds?: number;
  limit?: number;
  continue?: string;
  sendInitialEvents?: boolean;
};
export type ManagedFieldsEntry = {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: Time;
  fieldsType?: string;
  fieldsV1?: FieldsV1;
  subresource?: string;
};
export type ObjectMeta = {
  name?: string;
  generateName?: string;
  namespace?: string;
  selfLink?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: Time | null;
  deletionTimestamp?: Time;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
};
export type OwnerReference = {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
};
export type PartialObjectMetadata = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
};
export type PartialObjectMetadataList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: PartialObjectMetadata[];
};
export type Patch = Record<string, never>;
export type PatchOptions = {
  kind?: string;
  apiVersion?: string;
  dryRun?: string[];
  force?: boolean;
  fieldManager?: string;
  fieldValidation?: string;
};
export type Preconditions = {
  uid?: string;
  resourceVersion?: string;
};
export type MetaV1Preconditions = Preconditions;
export type RootPaths = {
  paths: string[];
};
export type ServerAddressByClientCIDR = {
  clientCIDR: string;
  serverAddress: string;
};
export type Status = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  status?: string;
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
};
export type StatusCause = {
  reason?: string;
  message?: string;
  field?: string;
};
export type StatusDetails = {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
};
export type TableOptions = {
  kind?: string;
  apiVersion?: string;
  includeObject?: string;
};
export type UpdateOptions = {
  kind?: string;
  apiVersion?: string;
  dryRun?: string[];
  fieldManager?: string;
  fieldValidation?: string;
};
export type Verbs = string[];
export type WatchEvent = {
  kind?: string;
  apiVersion?: string;
  type: string;
  object: RawExtension;
};

// ---- core/v1 ----

export type AWSElasticBlockStoreVolumeSource = {
  volumeID: string;
  fsType?: string;
  partition?: number;
  readOnly?: boolean;
};
export type Affinity = {
  nodeAffinity?: NodeAffinity;
  podAffinity?: PodAffinity;
  podAntiAffinity?: PodAntiAffinity;
};
export type AppArmorProfile = {
  type: string;
  localhostProfile?: string;
};
export type AttachedVolume = {
  name: string;
  devicePath: string;
};
export type AvoidPods = {
  preferAvoidPods?: PreferAvoidPodsEntry[];
};
export type AzureDiskVolumeSource = {
  diskName: string;
  diskURI: string;
  cachingMode?: string;
  fsType?: string;
  readOnly?: boolean;
  kind?: string;
};
export type AzureFilePersistentVolumeSource = {
  secretName: string;
  shareName: string;
  readOnly?: boolean;
  secretNamespace?: string | null;
};
export type AzureFileVolumeSource = {
  secretName: string;
  shareName: string;
  readOnly?: boolean;
};
export type Binding = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  target: ObjectReference;
};
export type CSIPersistentVolumeSource = {
  driver: string;
  volumeHandle: string;
  readOnly?: boolean;
  fsType?: string;
  volumeAttributes?: Record<string, string>;
  controllerPublishSecretRef?: SecretReference;
  nodeStageSecretRef?: SecretReference;
  nodePublishSecretRef?: SecretReference;
  controllerExpandSecretRef?: SecretReference;
  nodeExpandSecretRef?: SecretReference;
};
export type CSIVolumeSource = {
  driver: string;
  readOnly?: boolean;
  fsType?: string;
  volumeAttributes?: Record<string, string>;
  nodePublishSecretRef?: LocalObjectReference;
};
export type Capabilities = {
  add?: string[];
  drop?: string[];
};
export type CephFSPersistentVolumeSource = {
  monitors: string[];
  path?: string;
  user?: string;
  secretFile?: string;
  secretRef?: SecretReference;
  readOnly?: boolean;
};
export type CephFSVolumeSource = {
  monitors: string[];
  path?: string;
  user?: string;
  secretFile?: string;
  secretRef?: LocalObjectReference;
  readOnly?: boolean;
};
export type CinderPersistentVolumeSource = {
  volumeID: string;
  fsType?: string;
  readOnly?: boolean;
  secretRef?: SecretReference;
};
export type CinderVolumeSource = {
  volumeID: string;
  fsType?: string;
  readOnly?: boolean;
  secretRef?: LocalObjectReference;
};
export type ClientIPConfig = {
  timeoutSeconds?: number;
};
export type ClusterTrustBundleProjection = {
  name?: string;
  signerName?: string;
  labelSelector?: LabelSelector;
  optional?: boolean;
  path: string;
};
export type ComponentCondition = {
  type: string;
  status: string;
  message?: string;
  error?: string;
};
export type ComponentStatus = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  conditions?: ComponentCondition[];
};
export type ComponentStatusList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ComponentStatus[];
};
export type ConfigMap = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  immutable?: boolean;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
};
export type ConfigMapEnvSource = {
  name?: string;
  optional?: boolean;
};
export type ConfigMapKeySelector = {
  name?: string;
  key: string;
  optional?: boolean;
};
export type ConfigMapList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ConfigMap[];
};
export type ConfigMapNodeConfigSource = {
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  kubeletConfigKey: string;
};
export type ConfigMapProjection = {
  name?: string;
  items?: KeyToPath[];
  optional?: boolean;
};
export type ConfigMapVolumeSource = {
  name?: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
};
export type Container = {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  ports?: ContainerPort[];
  envFrom?: EnvFromSource[];
  env?: EnvVar[];
  resources?: ResourceRequirements;
  resizePolicy?: ContainerResizePolicy[];
  restartPolicy?: string;
  volumeMounts?: VolumeMount[];
  volumeDevices?: VolumeDevice[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: Lifecycle;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  imagePullPolicy?: string;
  securityContext?: SecurityContext;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
};
export type ContainerImage = {
  names?: string[];
  sizeBytes?: number;
};
export type ContainerPort = {
  name?: string;
  hostPort?: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
};
export type ContainerResizePolicy = {
  resourceName: string;
  restartPolicy: string;
};
export type ContainerState = {
  waiting?: ContainerStateWaiting;
  running?: ContainerStateRunning;
  terminated?: ContainerStateTerminated;
};
export type ContainerStateRunning = {
  startedAt?: Time | null;
};
export type ContainerStateTerminated = {
  exitCode: number;
  signal?: number;
  reason?: string;
  message?: string;
  startedAt?: Time | null;
  finishedAt?: Time | null;
  containerID?: string;
};
export type ContainerStateWaiting = {
  reason?: string;
  message?: string;
};
export type ContainerStatus = {
  name: string;
  state?: ContainerState;
  lastState?: ContainerState;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started?: boolean;
  allocatedResources?: Record<string, Quantity>;
  resources?: ResourceRequirements;
  volumeMounts?: VolumeMountStatus[];
  user?: ContainerUser;
  allocatedResourcesStatus?: ResourceStatus[];
  stopSignal?: string;
};
export type ContainerUser = {
  linux?: LinuxContainerUser;
};
export type DaemonEndpoint = {
  Port: number;
};
export type DownwardAPIProjection = {
  items?: DownwardAPIVolumeFile[];
};
export type DownwardAPIVolumeFile = {
  path: string;
  fieldRef?: ObjectFieldSelector;
  resourceFieldRef?: ResourceFieldSelector;
  mode?: number;
};
export type DownwardAPIVolumeSource = {
  items?: DownwardAPIVolumeFile[];
  defaultMode?: number;
};
export type EmptyDirVolumeSource = {
  medium?: string;
  sizeLimit?: Quantity;
};
export type EndpointAddress = {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: ObjectReference;
};
export type EndpointPort = {
  name?: string;
  port: number;
  protocol?: string;
  appProtocol?: string;
};
export type CoreV1EndpointPort = EndpointPort;
export type EndpointSubset = {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
};
export type Endpoints = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  subsets?: EndpointSubset[];
};
export type EndpointsList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Endpoints[];
};
export type EnvFromSource = {
  prefix?: string;
  configMapRef?: ConfigMapEnvSource;
  secretRef?: SecretEnvSource;
};
export type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: EnvVarSource;
};
export type EnvVarSource = {
  fieldRef?: ObjectFieldSelector;
  resourceFieldRef?: ResourceFieldSelector;
  configMapKeyRef?: ConfigMapKeySelector;
  secretKeyRef?: SecretKeySelector;
};
export type EphemeralContainer = {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  ports?: ContainerPort[];
  envFrom?: EnvFromSource[];
  env?: EnvVar[];
  resources?: ResourceRequirements;
  resizePolicy?: ContainerResizePolicy[];
  restartPolicy?: string;
  volumeMounts?: VolumeMount[];
  volumeDevices?: VolumeDevice[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: Lifecycle;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  imagePullPolicy?: string;
  securityContext?: SecurityContext;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  targetContainerName?: string;
};
export type EphemeralContainerCommon = {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  ports?: ContainerPort[];
  envFrom?: EnvFromSource[];
  env?: EnvVar[];
  resources?: ResourceRequirements;
  resizePolicy?: ContainerResizePolicy[];
  restartPolicy?: string;
  volumeMounts?: VolumeMount[];
  volumeDevices?: VolumeDevice[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: Lifecycle;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
  imagePullPolicy?: string;
  securityContext?: SecurityContext;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
};
export type EphemeralVolumeSource = {
  volumeClaimTemplate?: PersistentVolumeClaimTemplate;
};
export type Event = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  involvedObject: ObjectReference;
  reason?: string;
  message?: string;
  source?: EventSource;
  firstTimestamp?: Time | null;
  lastTimestamp?: Time | null;
  count?: number;
  type?: string;
  eventTime?: MicroTime | null;
  series?: EventSeries;
  action?: string;
  related?: ObjectReference;
  reportingComponent?: string;
  reportingInstance?: string;
};
export type CoreV1Event = Event;
export type EventList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Event[];
};
export type CoreV1EventList = EventList;
export type EventSeries = {
  count?: number;
  lastObservedTime?: MicroTime | null;
};
export type CoreV1EventSeries = EventSeries;
export type EventSource = {
  component?: string;
  host?: string;
};
export type ExecAction = {
  command?: string[];
};
export type FCVolumeSource = {
  targetWWNs?: string[];
  lun?: number;
  fsType?: string;
  readOnly?: boolean;
  wwids?: string[];
};
export type FlexPersistentVolumeSource = {
  driver: string;
  fsType?: string;
  secretRef?: SecretReference;
  readOnly?: boolean;
  options?: Record<string, string>;
};
export type FlexVolumeSource = {
  driver: string;
  fsType?: string;
  secretRef?: LocalObjectReference;
  readOnly?: boolean;
  options?: Record<string, string>;
};
export type FlockerVolumeSource = {
  datasetName?: string;
  datasetUUID?: string;
};
export type GCEPersistentDiskVolumeSource = {
  pdName: string;
  fsType?: string;
  partition?: number;
  readOnly?: boolean;
};
export type GRPCAction = {
  port: number;
  service?: string | null;
};
export type GitRepoVolumeSource = {
  repository: string;
  revision?: string;
  directory?: string;
};
export type GlusterfsPersistentVolumeSource = {
  endpoints: string;
  path: string;
  readOnly?: boolean;
  endpointsNamespace?: string;
};
export type GlusterfsVolumeSource = {
  endpoints: string;
  path: string;
  readOnly?: boolean;
};
export type HTTPGetAction = {
  path?: string;
  port: IntOrString;
  host?: string;
  scheme?: string;
  httpHeaders?: HTTPHeader[];
};
export type HTTPHeader = {
  name: string;
  value: string;
};
export type HostAlias = {
  ip: string;
  hostnames?: string[];
};
export type HostIP = {
  ip: string;
};
export type HostPathVolumeSource = {
  path: string;
  type?: string;
};
export type ISCSIPersistentVolumeSource = {
  targetPortal: string;
  iqn: string;
  lun: number;
  iscsiInterface?: string;
  fsType?: string;
  readOnly?: boolean;
  portals?: string[];
  chapAuthDiscovery?: boolean;
  chapAuthSession?: boolean;
  secretRef?: SecretReference;
  initiatorName?: string;
};
export type ISCSIVolumeSource = {
  targetPortal: string;
  iqn: string;
  lun: number;
  iscsiInterface?: string;
  fsType?: string;
  readOnly?: boolean;
  portals?: string[];
  chapAuthDiscovery?: boolean;
  chapAuthSession?: boolean;
  secretRef?: LocalObjectReference;
  initiatorName?: string;
};
export type ImageVolumeSource = {
  reference?: string;
  pullPolicy?: string;
};
export type KeyToPath = {
  key: string;
  path: string;
  mode?: number;
};
export type Lifecycle = {
  postStart?: LifecycleHandler;
  preStop?: LifecycleHandler;
  stopSignal?: string;
};
export type LifecycleHandler = {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  sleep?: SleepAction;
};
export type LimitRange = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: LimitRangeSpec;
};
export type LimitRangeItem = {
  type: string;
  max?: Record<string, Quantity>;
  min?: Record<string, Quantity>;
  default?: Record<string, Quantity>;
  defaultRequest?: Record<string, Quantity>;
  maxLimitRequestRatio?: Record<string, Quantity>;
};
export type LimitRangeList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: LimitRange[];
};
export type LimitRangeSpec = {
  limits: LimitRangeItem[];
};
export type LinuxContainerUser = {
  uid: number;
  gid: number;
  supplementalGroups?: number[];
};
export type List = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: RawExtension[];
};
export type CoreV1List = List;
export type LoadBalancerIngress = {
  ip?: string;
  hostname?: string;
  ipMode?: string;
  ports?: PortStatus[];
};
export type LoadBalancerStatus = {
  ingress?: LoadBalancerIngress[];
};
export type LocalObjectReference = {
  name?: string;
};
export type LocalVolumeSource = {
  path: string;
  fsType?: string;
};
export type ModifyVolumeStatus = {
  targetVolumeAttributesClassName?: string;
  status: string;
};
export type NFSVolumeSource = {
  server: string;
  path: string;
  readOnly?: boolean;
};
export type Namespace = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: NamespaceSpec;
  status?: NamespaceStatus;
};
export type NamespaceCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type NamespaceList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Namespace[];
};
export type NamespaceSpec = {
  finalizers?: string[];
};
export type NamespaceStatus = {
  phase?: string;
  conditions?: NamespaceCondition[];
};
export type Node = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: NodeSpec;
  status?: NodeStatus;
};
export type NodeAddress = {
  type: string;
  address: string;
};
export type NodeAffinity = {
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector;
  preferredDuringSchedulingIgnoredDuringExecution?: PreferredSchedulingTerm[];
};
export type NodeCondition = {
  type: string;
  status: string;
  lastHeartbeatTime?: Time | null;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type NodeConfigSource = {
  configMap?: ConfigMapNodeConfigSource;
};
export type NodeConfigStatus = {
  assigned?: NodeConfigSource;
  active?: NodeConfigSource;
  lastKnownGood?: NodeConfigSource;
  error?: string;
};
export type NodeDaemonEndpoints = {
  kubeletEndpoint?: DaemonEndpoint;
};
export type NodeFeatures = {
  supplementalGroupsPolicy?: boolean;
};
export type NodeList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Node[];
};
export type NodeProxyOptions = {
  kind?: string;
  apiVersion?: string;
  path?: string;
};
export type NodeRuntimeHandler = {
  name?: string;
  features?: NodeRuntimeHandlerFeatures;
};
export type NodeRuntimeHandlerFeatures = {
  recursiveReadOnlyMounts?: boolean;
  userNamespaces?: boolean;
};
export type NodeSelector = {
  nodeSelectorTerms: NodeSelectorTerm[];
};
export type NodeSelectorRequirement = {
  key: string;
  operator: string;
  values?: string[];
};
export type NodeSelectorTerm = {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
};
export type NodeSpec = {
  podCIDR?: string;
  podCIDRs?: string[];
  providerID?: string;
  unschedulable?: boolean;
  taints?: Taint[];
  configSource?: NodeConfigSource;
  externalID?: string;
};
export type NodeStatus = {
  capacity?: Record<string, Quantity>;
  allocatable?: Record<string, Quantity>;
  phase?: string;
  conditions?: NodeCondition[];
  addresses?: NodeAddress[];
  daemonEndpoints?: NodeDaemonEndpoints;
  nodeInfo?: NodeSystemInfo;
  images?: ContainerImage[];
  volumesInUse?: string[];
  volumesAttached?: AttachedVolume[];
  config?: NodeConfigStatus;
  runtimeHandlers?: NodeRuntimeHandler[];
  features?: NodeFeatures;
};
export type NodeSwapStatus = {
  capacity?: number;
};
export type NodeSystemInfo = {
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  containerRuntimeVersion: string;
  kubeletVersion: string;
  kubeProxyVersion: string;
  operatingSystem: string;
  architecture: string;
  swap?: NodeSwapStatus;
};
export type ObjectFieldSelector = {
  apiVersion?: string;
  fieldPath: string;
};
export type ObjectReference = {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
};
export type PersistentVolume = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: PersistentVolumeSpec;
  status?: PersistentVolumeStatus;
};
export type PersistentVolumeClaim = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: PersistentVolumeClaimSpec;
  status?: PersistentVolumeClaimStatus;
};
export type PersistentVolumeClaimCondition = {
  type: string;
  status: string;
  lastProbeTime?: Time | null;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type PersistentVolumeClaimList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: PersistentVolumeClaim[];
};
export type PersistentVolumeClaimSpec = {
  accessModes?: string[];
  selector?: LabelSelector;
  resources?: VolumeResourceRequirements;
  volumeName?: string;
  storageClassName?: string;
  volumeMode?: string;
  dataSource?: TypedLocalObjectReference;
  dataSourceRef?: TypedObjectReference;
  volumeAttributesClassName?: string;
};
export type PersistentVolumeClaimStatus = {
  phase?: string;
  accessModes?: string[];
  capacity?: Record<string, Quantity>;
  conditions?: PersistentVolumeClaimCondition[];
  allocatedResources?: Record<string, Quantity>;
  allocatedResourceStatuses?: Record<string, string>;
  currentVolumeAttributesClassName?: string;
  modifyVolumeStatus?: ModifyVolumeStatus;
};
export type PersistentVolumeClaimTemplate = {
  metadata?: ObjectMeta;
  spec: PersistentVolumeClaimSpec;
};
export type PersistentVolumeClaimVolumeSource = {
  claimName: string;
  readOnly?: boolean;
};
export type PersistentVolumeList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: PersistentVolume[];
};
export type PersistentVolumeSource = {
  gcePersistentDisk?: GCEPersistentDiskVolumeSource;
  awsElasticBlockStore?: AWSElasticBlockStoreVolumeSource;
  hostPath?: HostPathVolumeSource;
  glusterfs?: GlusterfsPersistentVolumeSource;
  nfs?: NFSVolumeSource;
  rbd?: RBDPersistentVolumeSource;
  iscsi?: ISCSIPersistentVolumeSource;
  cinder?: CinderPersistentVolumeSource;
  cephfs?: CephFSPersistentVolumeSource;
  fc?: FCVolumeSource;
  flocker?: FlockerVolumeSource;
  flexVolume?: FlexPersistentVolumeSource;
  azureFile?: AzureFilePersistentVolumeSource;
  vsphereVolume?: VsphereVirtualDiskVolumeSource;
  quobyte?: QuobyteVolumeSource;
  azureDisk?: AzureDiskVolumeSource;
  photonPersistentDisk?: PhotonPersistentDiskVolumeSource;
  portworxVolume?: PortworxVolumeSource;
  scaleIO?: ScaleIOPersistentVolumeSource;
  local?: LocalVolumeSource;
  storageos?: StorageOSPersistentVolumeSource;
  csi?: CSIPersistentVolumeSource;
};
export type PersistentVolumeSpec = {
  capacity?: Record<string, Quantity>;
  gcePersistentDisk?: GCEPersistentDiskVolumeSource;
  awsElasticBlockStore?: AWSElasticBlockStoreVolumeSource;
  hostPath?: HostPathVolumeSource;
  glusterfs?: GlusterfsPersistentVolumeSource;
  nfs?: NFSVolumeSource;
  rbd?: RBDPersistentVolumeSource;
  iscsi?: ISCSIPersistentVolumeSource;
  cinder?: CinderPersistentVolumeSource;
  cephfs?: CephFSPersistentVolumeSource;
  fc?: FCVolumeSource;
  flocker?: FlockerVolumeSource;
  flexVolume?: FlexPersistentVolumeSource;
  azureFile?: AzureFilePersistentVolumeSource;
  vsphereVolume?: VsphereVirtualDiskVolumeSource;
  quobyte?: QuobyteVolumeSource;
  azureDisk?: AzureDiskVolumeSource;
  photonPersistentDisk?: PhotonPersistentDiskVolumeSource;
  portworxVolume?: PortworxVolumeSource;
  scaleIO?: ScaleIOPersistentVolumeSource;
  local?: LocalVolumeSource;
  storageos?: StorageOSPersistentVolumeSource;
  csi?: CSIPersistentVolumeSource;
  accessModes?: string[];
  claimRef?: ObjectReference;
  persistentVolumeReclaimPolicy?: string;
  storageClassName?: string;
  mountOptions?: string[];
  volumeMode?: string;
  nodeAffinity?: VolumeNodeAffinity;
  volumeAttributesClassName?: string;
};
export type PersistentVolumeStatus = {
  phase?: string;
  message?: string;
  reason?: string;
  lastPhaseTransitionTime?: Time;
};
export type PhotonPersistentDiskVolumeSource = {
  pdID: string;
  fsType?: string;
};
export type Pod = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: PodSpec;
  status?: PodStatus;
};
export type PodAffinity = {
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
};
export type PodAffinityTerm = {
  labelSelector?: LabelSelector;
  namespaces?: string[];
  topologyKey: string;
  namespaceSelector?: LabelSelector;
  matchLabelKeys?: string[];
  mismatchLabelKeys?: string[];
};
export type PodAntiAffinity = {
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
};
export type PodAttachOptions = {
  kind?: string;
  apiVersion?: string;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
  container?: string;
};
export type PodCondition = {
  type: string;
  observedGeneration?: number;
  status: string;
  lastProbeTime?: Time | null;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type PodDNSConfig = {
  nameservers?: string[];
  searches?: string[];
  options?: PodDNSConfigOption[];
};
export type PodDNSConfigOption = {
  name?: string;
  value?: string;
};
export type PodExecOptions = {
  kind?: string;
  apiVersion?: string;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
  container?: string;
  command: string[];
};
export type PodIP = {
  ip: string;
};
export type PodList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Pod[];
};
export type PodLogOptions = {
  kind?: string;
  apiVersion?: string;
  container?: string;
  follow?: boolean;
  previous?: boolean;
  sinceSeconds?: number;
  sinceTime?: Time;
  timestamps?: boolean;
  tailLines?: number;
  limitBytes?: number;
  insecureSkipTLSVerifyBackend?: boolean;
  stream?: string;
};
export type PodOS = {
  name: string;
};
export type PodPortForwardOptions = {
  kind?: string;
  apiVersion?: string;
  ports?: number[];
};
export type PodProxyOptions = {
  kind?: string;
  apiVersion?: string;
  path?: string;
};
export type PodReadinessGate = {
  conditionType: string;
};
export type PodResourceClaim = {
  name: string;
  resourceClaimName?: string;
  resourceClaimTemplateName?: string;
};
export type PodResourceClaimStatus = {
  name: string;
  resourceClaimName?: string;
};
export type PodSchedulingGate = {
  name: string;
};
export type PodSecurityContext = {
  seLinuxOptions?: SELinuxOptions;
  windowsOptions?: WindowsSecurityContextOptions;
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  supplementalGroups?: number[];
  supplementalGroupsPolicy?: string;
  fsGroup?: number;
  sysctls?: Sysctl[];
  fsGroupChangePolicy?: string;
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
  seLinuxChangePolicy?: string;
};
export type PodSignature = {
  podController?: OwnerReference;
};
export type PodSpec = {
  volumes?: Volume[];
  initContainers?: Container[];
  containers: Container[];
  ephemeralContainers?: EphemeralContainer[];
  restartPolicy?: string;
  terminationGracePeriodSeconds?: number;
  activeDeadlineSeconds?: number;
  dnsPolicy?: string;
  nodeSelector?: Record<string, string>;
  serviceAccountName?: string;
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  nodeName?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  shareProcessNamespace?: boolean;
  securityContext?: PodSecurityContext;
  imagePullSecrets?: LocalObjectReference[];
  hostname?: string;
  subdomain?: string;
  affinity?: Affinity;
  schedulerName?: string;
  tolerations?: Toleration[];
  hostAliases?: HostAlias[];
  priorityClassName?: string;
  priority?: number;
  dnsConfig?: PodDNSConfig;
  readinessGates?: PodReadinessGate[];
  runtimeClassName?: string;
  enableServiceLinks?: boolean;
  preemptionPolicy?: string;
  overhead?: Record<string, Quantity>;
  topologySpreadConstraints?: TopologySpreadConstraint[];
  setHostnameAsFQDN?: boolean;
  os?: PodOS;
  hostUsers?: boolean;
  schedulingGates?: PodSchedulingGate[];
  resourceClaims?: PodResourceClaim[];
  resources?: ResourceRequirements;
};
export type PodStatus = {
  observedGeneration?: number;
  phase?: string;
  conditions?: PodCondition[];
  message?: string;
  reason?: string;
  nominatedNodeName?: string;
  hostIP?: string;
  hostIPs?: HostIP[];
  podIP?: string;
  podIPs?: PodIP[];
  startTime?: Time;
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
  qosClass?: string;
  ephemeralContainerStatuses?: ContainerStatus[];
  resize?: string;
  resourceClaimStatuses?: PodResourceClaimStatus[];
};
export type PodStatusResult = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  status?: PodStatus;
};
export type PodTemplate = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  template?: PodTemplateSpec;
};
export type PodTemplateList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: PodTemplate[];
};
export type PodTemplateSpec = {
  metadata?: ObjectMeta;
  spec?: PodSpec;
};
export type PortStatus = {
  port: number;
  protocol: string;
  error?: string;
};
export type PortworxVolumeSource = {
  volumeID: string;
  fsType?: string;
  readOnly?: boolean;
};
export type CoreV1Preconditions = {
  uid?: string;
};
export type PreferAvoidPodsEntry = {
  podSignature: PodSignature;
  evictionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type PreferredSchedulingTerm = {
  weight: number;
  preference: NodeSelectorTerm;
};
export type Probe = {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  grpc?: GRPCAction;
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
};
export type ProbeHandler = {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  grpc?: GRPCAction;
};
export type ProjectedVolumeSource = {
  sources?: VolumeProjection[];
  defaultMode?: number;
};
export type QuobyteVolumeSource = {
  registry: string;
  volume: string;
  readOnly?: boolean;
  user?: string;
  group?: string;
  tenant?: string;
};
export type RBDPersistentVolumeSource = {
  monitors: string[];
  image: string;
  fsType?: string;
  pool?: string;
  user?: string;
  keyring?: string;
  secretRef?: SecretReference;
  readOnly?: boolean;
};
export type RBDVolumeSource = {
  monitors: string[];
  image: string;
  fsType?: string;
  pool?: string;
  user?: string;
  keyring?: string;
  secretRef?: LocalObjectReference;
  readOnly?: boolean;
};
export type RangeAllocation = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  range: string;
  data: string;
};
export type ReplicationController = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ReplicationControllerSpec;
  status?: ReplicationControllerStatus;
};
export type ReplicationControllerCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type ReplicationControllerList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ReplicationController[];
};
export type ReplicationControllerSpec = {
  replicas?: number;
  minReadySeconds?: number;
  selector?: Record<string, string>;
  template?: PodTemplateSpec;
};
export type ReplicationControllerStatus = {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: ReplicationControllerCondition[];
};
export type ResourceClaim = {
  name: string;
  request?: string;
};
export type ResourceFieldSelector = {
  containerName?: string;
  resource: string;
  divisor?: Quantity;
};
export type ResourceHealth = {
  resourceID: string;
  health?: string;
};
export type ResourceQuota = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ResourceQuotaSpec;
  status?: ResourceQuotaStatus;
};
export type ResourceQuotaList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ResourceQuota[];
};
export type ResourceQuotaSpec = {
  hard?: Record<string, Quantity>;
  scopes?: string[];
  scopeSelector?: ScopeSelector;
};
export type ResourceQuotaStatus = {
  hard?: Record<string, Quantity>;
  used?: Record<string, Quantity>;
};
export type ResourceRequirements = {
  limits?: Record<string, Quantity>;
  requests?: Record<string, Quantity>;
  claims?: ResourceClaim[];
};
export type ResourceStatus = {
  name: string;
  resources?: ResourceHealth[];
};
export type SELinuxOptions = {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
};
export type ScaleIOPersistentVolumeSource = {
  gateway: string;
  system: string;
  secretRef?: SecretReference | null;
  sslEnabled?: boolean;
  protectionDomain?: string;
  storagePool?: string;
  storageMode?: string;
  volumeName?: string;
  fsType?: string;
  readOnly?: boolean;
};
export type ScaleIOVolumeSource = {
  gateway: string;
  system: string;
  secretRef?: LocalObjectReference | null;
  sslEnabled?: boolean;
  protectionDomain?: string;
  storagePool?: string;
  storageMode?: string;
  volumeName?: string;
  fsType?: string;
  readOnly?: boolean;
};
export type ScopeSelector = {
  matchExpressions?: ScopedResourceSelectorRequirement[];
};
export type ScopedResourceSelectorRequirement = {
  scopeName: string;
  operator: string;
  values?: string[];
};
export type SeccompProfile = {
  type: string;
  localhostProfile?: string;
};
export type Secret = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  immutable?: boolean;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
};
export type SecretEnvSource = {
  name?: string;
  optional?: boolean;
};
export type SecretKeySelector = {
  name?: string;
  key: string;
  optional?: boolean;
};
export type SecretList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Secret[];
};
export type SecretProjection = {
  name?: string;
  items?: KeyToPath[];
  optional?: boolean;
};
export type SecretReference = {
  name?: string;
  namespace?: string;
};
export type SecretVolumeSource = {
  secretName?: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
};
export type SecurityContext = {
  capabilities?: Capabilities;
  privileged?: boolean;
  seLinuxOptions?: SELinuxOptions;
  windowsOptions?: WindowsSecurityContextOptions;
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  procMount?: string;
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
};
export type SerializedReference = {
  kind?: string;
  apiVersion?: string;
  reference?: ObjectReference;
};
export type Service = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ServiceSpec;
  status?: ServiceStatus;
};
export type ServiceAccount = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  secrets?: ObjectReference[];
  imagePullSecrets?: LocalObjectReference[];
  automountServiceAccountToken?: boolean;
};
export type ServiceAccountList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ServiceAccount[];
};
export type ServiceAccountTokenProjection = {
  audience?: string;
  expirationSeconds?: number;
  path: string;
};
export type ServiceList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Service[];
};
export type ServicePort = {
  name?: string;
  protocol?: string;
  appProtocol?: string;
  port: number;
  targetPort?: IntOrString;
  nodePort?: number;
};
export type ServiceProxyOptions = {
  kind?: string;
  apiVersion?: string;
  path?: string;
};
export type ServiceSpec = {
  ports?: ServicePort[];
  selector?: Record<string, string>;
  clusterIP?: string;
  clusterIPs?: string[];
  type?: string;
  externalIPs?: string[];
  sessionAffinity?: string;
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  externalName?: string;
  externalTrafficPolicy?: string;
  healthCheckNodePort?: number;
  publishNotReadyAddresses?: boolean;
  sessionAffinityConfig?: SessionAffinityConfig;
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  allocateLoadBalancerNodePorts?: boolean;
  loadBalancerClass?: string;
  internalTrafficPolicy?: string;
  trafficDistribution?: string;
};
export type ServiceStatus = {
  loadBalancer?: LoadBalancerStatus;
  conditions?: Condition[];
};
export type SessionAffinityConfig = {
  clientIP?: ClientIPConfig;
};
export type SleepAction = {
  seconds: number;
};
export type StorageOSPersistentVolumeSource = {
  volumeName?: string;
  volumeNamespace?: string;
  fsType?: string;
  readOnly?: boolean;
  secretRef?: ObjectReference;
};
export type StorageOSVolumeSource = {
  volumeName?: string;
  volumeNamespace?: string;
  fsType?: string;
  readOnly?: boolean;
  secretRef?: LocalObjectReference;
};
export type Sysctl = {
  name: string;
  value: string;
};
export type TCPSocketAction = {
  port: IntOrString;
  host?: string;
};
export type Taint = {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: Time;
};
export type Toleration = {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
};
export type TopologySelectorLabelRequirement = {
  key: string;
  values: string[];
};
export type TopologySelectorTerm = {
  matchLabelExpressions?: TopologySelectorLabelRequirement[];
};
export type TopologySpreadConstraint = {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: string;
  labelSelector?: LabelSelector;
  minDomains?: number;
  nodeAffinityPolicy?: string;
  nodeTaintsPolicy?: string;
  matchLabelKeys?: string[];
};
export type TypedLocalObjectReference = {
  apiGroup?: string | null;
  kind: string;
  name: string;
};
export type TypedObjectReference = {
  apiGroup?: string | null;
  kind: string;
  name: string;
  namespace?: string;
};
export type Volume = {
  name: string;
  hostPath?: HostPathVolumeSource;
  emptyDir?: EmptyDirVolumeSource;
  gcePersistentDisk?: GCEPersistentDiskVolumeSource;
  awsElasticBlockStore?: AWSElasticBlockStoreVolumeSource;
  gitRepo?: GitRepoVolumeSource;
  secret?: SecretVolumeSource;
  nfs?: NFSVolumeSource;
  iscsi?: ISCSIVolumeSource;
  glusterfs?: GlusterfsVolumeSource;
  persistentVolumeClaim?: PersistentVolumeClaimVolumeSource;
  rbd?: RBDVolumeSource;
  flexVolume?: FlexVolumeSource;
  cinder?: CinderVolumeSource;
  cephfs?: CephFSVolumeSource;
  flocker?: FlockerVolumeSource;
  downwardAPI?: DownwardAPIVolumeSource;
  fc?: FCVolumeSource;
  azureFile?: AzureFileVolumeSource;
  configMap?: ConfigMapVolumeSource;
  vsphereVolume?: VsphereVirtualDiskVolumeSource;
  quobyte?: QuobyteVolumeSource;
  azureDisk?: AzureDiskVolumeSource;
  photonPersistentDisk?: PhotonPersistentDiskVolumeSource;
  projected?: ProjectedVolumeSource;
  portworxVolume?: PortworxVolumeSource;
  scaleIO?: ScaleIOVolumeSource;
  storageos?: StorageOSVolumeSource;
  csi?: CSIVolumeSource;
  ephemeral?: EphemeralVolumeSource;
  image?: ImageVolumeSource;
};
export type VolumeDevice = {
  name: string;
  devicePath: string;
};
export type VolumeMount = {
  name: string;
  readOnly?: boolean;
  recursiveReadOnly?: string;
  mountPath: string;
  subPath?: string;
  mountPropagation?: string;
  subPathExpr?: string;
};
export type VolumeMountStatus = {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  recursiveReadOnly?: string;
};
export type VolumeNodeAffinity = {
  required?: NodeSelector;
};
export type VolumeProjection = {
  secret?: SecretProjection;
  downwardAPI?: DownwardAPIProjection;
  configMap?: ConfigMapProjection;
  serviceAccountToken?: ServiceAccountTokenProjection;
  clusterTrustBundle?: ClusterTrustBundleProjection;
};
export type VolumeResourceRequirements = {
  limits?: Record<string, Quantity>;
  requests?: Record<string, Quantity>;
};
export type VolumeSource = {
  hostPath?: HostPathVolumeSource;
  emptyDir?: EmptyDirVolumeSource;
  gcePersistentDisk?: GCEPersistentDiskVolumeSource;
  awsElasticBlockStore?: AWSElasticBlockStoreVolumeSource;
  gitRepo?: GitRepoVolumeSource;
  secret?: SecretVolumeSource;
  nfs?: NFSVolumeSource;
  iscsi?: ISCSIVolumeSource;
  glusterfs?: GlusterfsVolumeSource;
  persistentVolumeClaim?: PersistentVolumeClaimVolumeSource;
  rbd?: RBDVolumeSource;
  flexVolume?: FlexVolumeSource;
  cinder?: CinderVolumeSource;
  cephfs?: CephFSVolumeSource;
  flocker?: FlockerVolumeSource;
  downwardAPI?: DownwardAPIVolumeSource;
  fc?: FCVolumeSource;
  azureFile?: AzureFileVolumeSource;
  configMap?: ConfigMapVolumeSource;
  vsphereVolume?: VsphereVirtualDiskVolumeSource;
  quobyte?: QuobyteVolumeSource;
  azureDisk?: AzureDiskVolumeSource;
  photonPersistentDisk?: PhotonPersistentDiskVolumeSource;
  projected?: ProjectedVolumeSource;
  portworxVolume?: PortworxVolumeSource;
  scaleIO?: ScaleIOVolumeSource;
  storageos?: StorageOSVolumeSource;
  csi?: CSIVolumeSource;
  ephemeral?: EphemeralVolumeSource;
  image?: ImageVolumeSource;
};
export type VsphereVirtualDiskVolumeSource = {
  volumePath: string;
  fsType?: string;
  storagePolicyName?: string;
  storagePolicyID?: string;
};
export type WeightedPodAffinityTerm = {
  weight: number;
  podAffinityTerm: PodAffinityTerm;
};
export type WindowsSecurityContextOptions = {
  gmsaCredentialSpecName?: string;
  gmsaCredentialSpec?: string;
  runAsUserName?: string;
  hostProcess?: boolean;
};

// ---- apps/v1 ----

export type ControllerRevision = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  data?: RawExtension;
  revision: number;
};
export type ControllerRevisionList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ControllerRevision[];
};
export type DaemonSet = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: DaemonSetSpec;
  status?: DaemonSetStatus;
};
export type DaemonSetCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type DaemonSetList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: DaemonSet[];
};
export type DaemonSetSpec = {
  selector?: LabelSelector | null;
  template: PodTemplateSpec;
  updateStrategy?: DaemonSetUpdateStrategy;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
};
export type DaemonSetStatus = {
  currentNumberScheduled: number;
  numberMisscheduled: number;
  desiredNumberScheduled: number;
  numberReady: number;
  observedGeneration?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  numberUnavailable?: number;
  collisionCount?: number;
  conditions?: DaemonSetCondition[];
};
export type DaemonSetUpdateStrategy = {
  type?: string;
  rollingUpdate?: RollingUpdateDaemonSet;
};
export type Deployment = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: DeploymentSpec;
  status?: DeploymentStatus;
};
export type DeploymentCondition = {
  type: string;
  status: string;
  lastUpdateTime?: Time | null;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type DeploymentList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Deployment[];
};
export type DeploymentSpec = {
  replicas?: number;
  selector?: LabelSelector | null;
  template: PodTemplateSpec;
  strategy?: DeploymentStrategy;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  paused?: boolean;
  progressDeadlineSeconds?: number;
};
export type DeploymentStatus = {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  terminatingReplicas?: number;
  conditions?: DeploymentCondition[];
  collisionCount?: number;
};
export type DeploymentStrategy = {
  type?: string;
  rollingUpdate?: RollingUpdateDeployment;
};
export type ReplicaSet = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ReplicaSetSpec;
  status?: ReplicaSetStatus;
};
export type ReplicaSetCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type ReplicaSetList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ReplicaSet[];
};
export type ReplicaSetSpec = {
  replicas?: number;
  minReadySeconds?: number;
  selector?: LabelSelector | null;
  template?: PodTemplateSpec;
};
export type ReplicaSetStatus = {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  terminatingReplicas?: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
};
export type RollingUpdateDaemonSet = {
  maxUnavailable?: IntOrString;
  maxSurge?: IntOrString;
};
export type RollingUpdateDeployment = {
  maxUnavailable?: IntOrString;
  maxSurge?: IntOrString;
};
export type RollingUpdateStatefulSetStrategy = {
  partition?: number;
  maxUnavailable?: IntOrString;
};
export type StatefulSet = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: StatefulSetSpec;
  status?: StatefulSetStatus;
};
export type StatefulSetCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type StatefulSetList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: StatefulSet[];
};
export type StatefulSetOrdinals = {
  start?: number;
};
export type StatefulSetPersistentVolumeClaimRetentionPolicy = {
  whenDeleted?: string;
  whenScaled?: string;
};
export type StatefulSetSpec = {
  replicas?: number;
  selector?: LabelSelector | null;
  template: PodTemplateSpec;
  volumeClaimTemplates?: PersistentVolumeClaim[];
  serviceName?: string;
  podManagementPolicy?: string;
  updateStrategy?: StatefulSetUpdateStrategy;
  revisionHistoryLimit?: number;
  minReadySeconds?: number;
  persistentVolumeClaimRetentionPolicy?: StatefulSetPersistentVolumeClaimRetentionPolicy;
  ordinals?: StatefulSetOrdinals;
};
export type StatefulSetStatus = {
  observedGeneration?: number;
  replicas: number;
  readyReplicas?: number;
  currentReplicas?: number;
  updatedReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  collisionCount?: number;
  conditions?: StatefulSetCondition[];
  availableReplicas?: number;
};
export type StatefulSetUpdateStrategy = {
  type?: string;
  rollingUpdate?: RollingUpdateStatefulSetStrategy;
};

// ---- batch/v1 ----

export type CronJob = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: CronJobSpec;
  status?: CronJobStatus;
};
export type CronJobList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: CronJob[];
};
export type CronJobSpec = {
  schedule: string;
  timeZone?: string;
  startingDeadlineSeconds?: number;
  concurrencyPolicy?: string;
  suspend?: boolean;
  jobTemplate: JobTemplateSpec;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
};
export type CronJobStatus = {
  active?: ObjectReference[];
  lastScheduleTime?: Time;
  lastSuccessfulTime?: Time;
};
export type Job = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: JobSpec;
  status?: JobStatus;
};
export type JobCondition = {
  type: string;
  status: string;
  lastProbeTime?: Time | null;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type JobList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Job[];
};
export type JobSpec = {
  parallelism?: number;
  completions?: number;
  activeDeadlineSeconds?: number;
  podFailurePolicy?: PodFailurePolicy;
  successPolicy?: SuccessPolicy;
  backoffLimit?: number;
  backoffLimitPerIndex?: number;
  maxFailedIndexes?: number;
  selector?: LabelSelector;
  manualSelector?: boolean;
  template: PodTemplateSpec;
  ttlSecondsAfterFinished?: number;
  completionMode?: string;
  suspend?: boolean;
  podReplacementPolicy?: string;
  managedBy?: string;
};
export type JobStatus = {
  conditions?: JobCondition[];
  startTime?: Time;
  completionTime?: Time;
  active?: number;
  succeeded?: number;
  failed?: number;
  terminating?: number;
  completedIndexes?: string;
  failedIndexes?: string;
  uncountedTerminatedPods?: UncountedTerminatedPods;
  ready?: number;
};
export type JobTemplateSpec = {
  metadata?: ObjectMeta;
  spec?: JobSpec;
};
export type PodFailurePolicy = {
  rules: PodFailurePolicyRule[];
};
export type PodFailurePolicyOnExitCodesRequirement = {
  containerName?: string;
  operator: string;
  values: number[];
};
export type PodFailurePolicyOnPodConditionsPattern = {
  type: string;
  status: string;
};
export type PodFailurePolicyRule = {
  action: string;
  onExitCodes?: PodFailurePolicyOnExitCodesRequirement;
  onPodConditions?: PodFailurePolicyOnPodConditionsPattern[];
};
export type SuccessPolicy = {
  rules: SuccessPolicyRule[];
};
export type SuccessPolicyRule = {
  succeededIndexes?: string;
  succeededCount?: number;
};
export type UncountedTerminatedPods = {
  succeeded?: string[];
  failed?: string[];
};

// ---- autoscaling/v1 ----

export type AutoscalingV1ContainerResourceMetricSource = {
  name: string;
  targetAverageUtilization?: number;
  targetAverageValue?: Quantity;
  container: string;
};
export type AutoscalingV1ContainerResourceMetricStatus = {
  name: string;
  currentAverageUtilization?: number;
  currentAverageValue: Quantity;
  container: string;
};
export type AutoscalingV1CrossVersionObjectReference = {
  kind: string;
  name: string;
  apiVersion?: string;
};
export type AutoscalingV1ExternalMetricSource = {
  metricName: string;
  metricSelector?: LabelSelector;
  targetValue?: Quantity;
  targetAverageValue?: Quantity;
};
export type AutoscalingV1ExternalMetricStatus = {
  metricName: string;
  metricSelector?: LabelSelector;
  currentValue: Quantity;
  currentAverageValue?: Quantity;
};
export type AutoscalingV1HorizontalPodAutoscaler = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: AutoscalingV1HorizontalPodAutoscalerSpec;
  status?: AutoscalingV1HorizontalPodAutoscalerStatus;
};
export type AutoscalingV1HorizontalPodAutoscalerCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type AutoscalingV1HorizontalPodAutoscalerList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: AutoscalingV1HorizontalPodAutoscaler[];
};
export type AutoscalingV1HorizontalPodAutoscalerSpec = {
  scaleTargetRef: AutoscalingV1CrossVersionObjectReference;
  minReplicas?: number;
  maxReplicas: number;
  targetCPUUtilizationPercentage?: number;
};
export type AutoscalingV1HorizontalPodAutoscalerStatus = {
  observedGeneration?: number;
  lastScaleTime?: Time;
  currentReplicas: number;
  desiredReplicas: number;
  currentCPUUtilizationPercentage?: number;
};
export type AutoscalingV1MetricSpec = {
  type: string;
  object?: AutoscalingV1ObjectMetricSource;
  pods?: AutoscalingV1PodsMetricSource;
  resource?: AutoscalingV1ResourceMetricSource;
  containerResource?: AutoscalingV1ContainerResourceMetricSource;
  external?: AutoscalingV1ExternalMetricSource;
};
export type AutoscalingV1MetricStatus = {
  type: string;
  object?: AutoscalingV1ObjectMetricStatus;
  pods?: AutoscalingV1PodsMetricStatus;
  resource?: AutoscalingV1ResourceMetricStatus;
  containerResource?: AutoscalingV1ContainerResourceMetricStatus;
  external?: AutoscalingV1ExternalMetricStatus;
};
export type AutoscalingV1ObjectMetricSource = {
  target: AutoscalingV1CrossVersionObjectReference;
  metricName: string;
  targetValue: Quantity;
  selector?: LabelSelector;
  averageValue?: Quantity;
};
export type AutoscalingV1ObjectMetricStatus = {
  target: AutoscalingV1CrossVersionObjectReference;
  metricName: string;
  currentValue: Quantity;
  selector?: LabelSelector;
  averageValue?: Quantity;
};
export type AutoscalingV1PodsMetricSource = {
  metricName: string;
  targetAverageValue: Quantity;
  selector?: LabelSelector;
};
export type AutoscalingV1PodsMetricStatus = {
  metricName: string;
  currentAverageValue: Quantity;
  selector?: LabelSelector;
};
export type AutoscalingV1ResourceMetricSource = {
  name: string;
  targetAverageUtilization?: number;
  targetAverageValue?: Quantity;
};
export type AutoscalingV1ResourceMetricStatus = {
  name: string;
  currentAverageUtilization?: number;
  currentAverageValue: Quantity;
};
export type Scale = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ScaleSpec;
  status?: ScaleStatus;
};
export type ScaleSpec = {
  replicas?: number;
};
export type ScaleStatus = {
  replicas: number;
  selector?: string;
};

// ---- autoscaling/v2 ----

export type ContainerResourceMetricSource = {
  name: string;
  target: MetricTarget;
  container: string;
};
export type AutoscalingV2ContainerResourceMetricSource = ContainerResourceMetricSource;
export type ContainerResourceMetricStatus = {
  name: string;
  current: MetricValueStatus;
  container: string;
};
export type AutoscalingV2ContainerResourceMetricStatus = ContainerResourceMetricStatus;
export type CrossVersionObjectReference = {
  kind: string;
  name: string;
  apiVersion?: string;
};
export type AutoscalingV2CrossVersionObjectReference = CrossVersionObjectReference;
export type ExternalMetricSource = {
  metric: MetricIdentifier;
  target: MetricTarget;
};
export type AutoscalingV2ExternalMetricSource = ExternalMetricSource;
export type ExternalMetricStatus = {
  metric: MetricIdentifier;
  current: MetricValueStatus;
};
export type AutoscalingV2ExternalMetricStatus = ExternalMetricStatus;
export type HPAScalingPolicy = {
  type: string;
  value: number;
  periodSeconds: number;
};
export type HPAScalingRules = {
  stabilizationWindowSeconds?: number;
  selectPolicy?: string;
  policies?: HPAScalingPolicy[];
  tolerance?: Quantity;
};
export type HorizontalPodAutoscaler = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: HorizontalPodAutoscalerSpec;
  status?: HorizontalPodAutoscalerStatus;
};
export type AutoscalingV2HorizontalPodAutoscaler = HorizontalPodAutoscaler;
export type HorizontalPodAutoscalerBehavior = {
  scaleUp?: HPAScalingRules;
  scaleDown?: HPAScalingRules;
};
export type HorizontalPodAutoscalerCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type AutoscalingV2HorizontalPodAutoscalerCondition = HorizontalPodAutoscalerCondition;
export type HorizontalPodAutoscalerList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: HorizontalPodAutoscaler[];
};
export type AutoscalingV2HorizontalPodAutoscalerList = HorizontalPodAutoscalerList;
export type HorizontalPodAutoscalerSpec = {
  scaleTargetRef: CrossVersionObjectReference;
  minReplicas?: number;
  maxReplicas: number;
  metrics?: MetricSpec[];
  behavior?: HorizontalPodAutoscalerBehavior;
};
export type AutoscalingV2HorizontalPodAutoscalerSpec = HorizontalPodAutoscalerSpec;
export type HorizontalPodAutoscalerStatus = {
  observedGeneration?: number;
  lastScaleTime?: Time;
  currentReplicas?: number;
  desiredReplicas: number;
  currentMetrics?: MetricStatus[];
  conditions?: HorizontalPodAutoscalerCondition[];
};
export type AutoscalingV2HorizontalPodAutoscalerStatus = HorizontalPodAutoscalerStatus;
export type MetricIdentifier = {
  name: string;
  selector?: LabelSelector;
};
export type MetricSpec = {
  type: string;
  object?: ObjectMetricSource;
  pods?: PodsMetricSource;
  resource?: ResourceMetricSource;
  containerResource?: ContainerResourceMetricSource;
  external?: ExternalMetricSource;
};
export type AutoscalingV2MetricSpec = MetricSpec;
export type MetricStatus = {
  type: string;
  object?: ObjectMetricStatus;
  pods?: PodsMetricStatus;
  resource?: ResourceMetricStatus;
  containerResource?: ContainerResourceMetricStatus;
  external?: ExternalMetricStatus;
};
export type AutoscalingV2MetricStatus = MetricStatus;
export type MetricTarget = {
  type: string;
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
};
export type MetricValueStatus = {
  value?: Quantity;
  averageValue?: Quantity;
  averageUtilization?: number;
};
export type ObjectMetricSource = {
  describedObject: CrossVersionObjectReference;
  target: MetricTarget;
  metric: MetricIdentifier;
};
export type AutoscalingV2ObjectMetricSource = ObjectMetricSource;
export type ObjectMetricStatus = {
  metric: MetricIdentifier;
  current: MetricValueStatus;
  describedObject: CrossVersionObjectReference;
};
export type AutoscalingV2ObjectMetricStatus = ObjectMetricStatus;
export type PodsMetricSource = {
  metric: MetricIdentifier;
  target: MetricTarget;
};
export type AutoscalingV2PodsMetricSource = PodsMetricSource;
export type PodsMetricStatus = {
  metric: MetricIdentifier;
  current: MetricValueStatus;
};
export type AutoscalingV2PodsMetricStatus = PodsMetricStatus;
export type ResourceMetricSource = {
  name: string;
  target: MetricTarget;
};
export type AutoscalingV2ResourceMetricSource = ResourceMetricSource;
export type ResourceMetricStatus = {
  name: string;
  current: MetricValueStatus;
};
export type AutoscalingV2ResourceMetricStatus = ResourceMetricStatus;

// ---- networking.k8s.io/v1 ----

export type HTTPIngressPath = {
  path?: string;
  pathType?: string | null;
  backend: IngressBackend;
};
export type HTTPIngressRuleValue = {
  paths: HTTPIngressPath[];
};
export type IPAddress = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: IPAddressSpec;
};
export type IPAddressList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: IPAddress[];
};
export type IPAddressSpec = {
  parentRef?: ParentReference;
};
export type IPBlock = {
  cidr: string;
  except?: string[];
};
export type Ingress = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: IngressSpec;
  status?: IngressStatus;
};
export type IngressBackend = {
  service?: IngressServiceBackend;
  resource?: TypedLocalObjectReference;
};
export type IngressClass = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: IngressClassSpec;
};
export type IngressClassList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: IngressClass[];
};
export type IngressClassParametersReference = {
  apiGroup?: string;
  kind: string;
  name: string;
  scope?: string | null;
  namespace?: string;
};
export type IngressClassSpec = {
  controller?: string;
  parameters?: IngressClassParametersReference;
};
export type IngressList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Ingress[];
};
export type IngressLoadBalancerIngress = {
  ip?: string;
  hostname?: string;
  ports?: IngressPortStatus[];
};
export type IngressLoadBalancerStatus = {
  ingress?: IngressLoadBalancerIngress[];
};
export type IngressPortStatus = {
  port: number;
  protocol: string;
  error?: string;
};
export type IngressRule = {
  host?: string;
  http?: HTTPIngressRuleValue;
};
export type IngressRuleValue = {
  http?: HTTPIngressRuleValue;
};
export type IngressServiceBackend = {
  name: string;
  port?: ServiceBackendPort;
};
export type IngressSpec = {
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  tls?: IngressTLS[];
  rules?: IngressRule[];
};
export type IngressStatus = {
  loadBalancer?: IngressLoadBalancerStatus;
};
export type IngressTLS = {
  hosts?: string[];
  secretName?: string;
};
export type NetworkPolicy = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: NetworkPolicySpec;
};
export type NetworkPolicyEgressRule = {
  ports?: NetworkPolicyPort[];
  to?: NetworkPolicyPeer[];
};
export type NetworkPolicyIngressRule = {
  ports?: NetworkPolicyPort[];
  from?: NetworkPolicyPeer[];
};
export type NetworkPolicyList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: NetworkPolicy[];
};
export type NetworkPolicyPeer = {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
};
export type NetworkPolicyPort = {
  protocol?: string;
  port?: IntOrString;
  endPort?: number;
};
export type NetworkPolicySpec = {
  podSelector: LabelSelector;
  ingress?: NetworkPolicyIngressRule[];
  egress?: NetworkPolicyEgressRule[];
  policyTypes?: string[];
};
export type ParentReference = {
  group?: string;
  resource?: string;
  namespace?: string;
  name?: string;
};
export type ServiceBackendPort = {
  name?: string;
  number?: number;
};
export type ServiceCIDR = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ServiceCIDRSpec;
  status?: ServiceCIDRStatus;
};
export type ServiceCIDRList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ServiceCIDR[];
};
export type ServiceCIDRSpec = {
  cidrs?: string[];
};
export type ServiceCIDRStatus = {
  conditions?: Condition[];
};

// ---- rbac.authorization.k8s.io/v1 ----

export type AggregationRule = {
  clusterRoleSelectors?: LabelSelector[];
};
export type ClusterRole = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  rules?: PolicyRule[];
  aggregationRule?: AggregationRule;
};
export type ClusterRoleBinding = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  subjects?: Subject[];
  roleRef: RoleRef;
};
export type ClusterRoleBindingList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ClusterRoleBinding[];
};
export type ClusterRoleList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ClusterRole[];
};
export type PolicyRule = {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
};
export type Role = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  rules?: PolicyRule[];
};
export type RoleBinding = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  subjects?: Subject[];
  roleRef: RoleRef;
};
export type RoleBindingList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: RoleBinding[];
};
export type RoleList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Role[];
};
export type RoleRef = {
  apiGroup: string;
  kind: string;
  name: string;
};
export type Subject = {
  kind: string;
  apiGroup?: string;
  name: string;
  namespace?: string;
};

// ---- storage.k8s.io/v1 ----

export type CSIDriver = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: CSIDriverSpec;
};
export type CSIDriverList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: CSIDriver[];
};
export type CSIDriverSpec = {
  attachRequired?: boolean;
  podInfoOnMount?: boolean;
  volumeLifecycleModes?: string[];
  storageCapacity?: boolean;
  fsGroupPolicy?: string;
  tokenRequests?: StorageV1TokenRequest[];
  requiresRepublish?: boolean;
  seLinuxMount?: boolean;
  nodeAllocatableUpdatePeriodSeconds?: number;
};
export type CSINode = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: CSINodeSpec;
};
export type CSINodeDriver = {
  name: string;
  nodeID: string;
  topologyKeys?: string[];
  allocatable?: VolumeNodeResources;
};
export type CSINodeList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: CSINode[];
};
export type CSINodeSpec = {
  drivers: CSINodeDriver[];
};
export type CSIStorageCapacity = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  nodeTopology?: LabelSelector;
  storageClassName: string;
  capacity?: Quantity;
  maximumVolumeSize?: Quantity;
};
export type CSIStorageCapacityList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: CSIStorageCapacity[];
};
export type StorageClass = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  provisioner: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: string;
  mountOptions?: string[];
  allowVolumeExpansion?: boolean;
  volumeBindingMode?: string;
  allowedTopologies?: TopologySelectorTerm[];
};
export type StorageClassList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: StorageClass[];
};
export type StorageV1TokenRequest = {
  audience: string;
  expirationSeconds?: number;
};
export type VolumeAttachment = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: VolumeAttachmentSpec;
  status?: VolumeAttachmentStatus;
};
export type VolumeAttachmentList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: VolumeAttachment[];
};
export type VolumeAttachmentSource = {
  persistentVolumeName?: string;
  inlineVolumeSpec?: PersistentVolumeSpec;
};
export type VolumeAttachmentSpec = {
  attacher: string;
  source: VolumeAttachmentSource;
  nodeName: string;
};
export type VolumeAttachmentStatus = {
  attached: boolean;
  attachmentMetadata?: Record<string, string>;
  attachError?: VolumeError;
  detachError?: VolumeError;
};
export type VolumeError = {
  time?: Time | null;
  message?: string;
  errorCode?: number;
};
export type VolumeNodeResources = {
  count?: number;
};

// ---- coordination.k8s.io/v1 ----

export type Lease = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: LeaseSpec;
};
export type LeaseList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: Lease[];
};
export type LeaseSpec = {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: MicroTime;
  renewTime?: MicroTime;
  leaseTransitions?: number;
  strategy?: string;
  preferredHolder?: string;
};

// ---- discovery.k8s.io/v1 ----

export type Endpoint = {
  addresses: string[];
  conditions?: EndpointConditions;
  hostname?: string;
  targetRef?: ObjectReference;
  deprecatedTopology?: Record<string, string>;
  nodeName?: string;
  zone?: string;
  hints?: EndpointHints;
};
export type EndpointConditions = {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
};
export type EndpointHints = {
  forZones?: ForZone[];
  forNodes?: ForNode[];
};
export type DiscoveryV1EndpointPort = {
  name?: string;
  protocol?: string;
  port?: number;
  appProtocol?: string;
};
export type EndpointSlice = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  addressType: string;
  endpoints: Endpoint[];
  ports?: DiscoveryV1EndpointPort[];
};
export type EndpointSliceList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: EndpointSlice[];
};
export type ForNode = {
  name: string;
};
export type ForZone = {
  name: string;
};

// ---- policy/v1 ----

export type Eviction = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  deleteOptions?: DeleteOptions;
};
export type PodDisruptionBudget = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: PodDisruptionBudgetSpec;
  status?: PodDisruptionBudgetStatus;
};
export type PodDisruptionBudgetList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: PodDisruptionBudget[];
};
export type PodDisruptionBudgetSpec = {
  minAvailable?: IntOrString;
  selector?: LabelSelector;
  maxUnavailable?: IntOrString;
  unhealthyPodEvictionPolicy?: string;
};
export type PodDisruptionBudgetStatus = {
  observedGeneration?: number;
  disruptedPods?: Record<string, Time>;
  disruptionsAllowed: number;
  currentHealthy: number;
  desiredHealthy: number;
  expectedPods: number;
  conditions?: Condition[];
};

// ---- scheduling.k8s.io/v1 ----

export type PriorityClass = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  value: number;
  globalDefault?: boolean;
  description?: string;
  preemptionPolicy?: string;
};
export type PriorityClassList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: PriorityClass[];
};

// ---- node.k8s.io/v1 ----

export type Overhead = {
  podFixed?: Record<string, Quantity>;
};
export type RuntimeClass = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  handler: string;
  overhead?: Overhead;
  scheduling?: Scheduling;
};
export type RuntimeClassList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: RuntimeClass[];
};
export type Scheduling = {
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
};

// ---- admissionregistration.k8s.io/v1 ----

export type AuditAnnotation = {
  key: string;
  valueExpression: string;
};
export type ExpressionWarning = {
  fieldRef: string;
  warning: string;
};
export type MatchCondition = {
  name: string;
  expression: string;
};
export type MatchResources = {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  resourceRules?: NamedRuleWithOperations[];
  excludeResourceRules?: NamedRuleWithOperations[];
  matchPolicy?: string;
};
export type MutatingWebhook = {
  name: string;
  clientConfig: WebhookClientConfig;
  rules?: RuleWithOperations[];
  failurePolicy?: string;
  matchPolicy?: string;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  sideEffects?: string | null;
  timeoutSeconds?: number;
  admissionReviewVersions: string[];
  reinvocationPolicy?: string;
  matchConditions?: MatchCondition[];
};
export type MutatingWebhookConfiguration = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  webhooks?: MutatingWebhook[];
};
export type MutatingWebhookConfigurationList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: MutatingWebhookConfiguration[];
};
export type NamedRuleWithOperations = {
  resourceNames?: string[];
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
};
export type ParamKind = {
  apiVersion?: string;
  kind?: string;
};
export type ParamRef = {
  name?: string;
  namespace?: string;
  selector?: LabelSelector;
  parameterNotFoundAction?: string;
};
export type Rule = {
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
};
export type RuleWithOperations = {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
};
export type ServiceReference = {
  namespace: string;
  name: string;
  path?: string;
  port?: number;
};
export type AdmissionregistrationV1ServiceReference = ServiceReference;
export type TypeChecking = {
  expressionWarnings?: ExpressionWarning[];
};
export type ValidatingAdmissionPolicy = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ValidatingAdmissionPolicySpec;
  status?: ValidatingAdmissionPolicyStatus;
};
export type ValidatingAdmissionPolicyBinding = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: ValidatingAdmissionPolicyBindingSpec;
};
export type ValidatingAdmissionPolicyBindingList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ValidatingAdmissionPolicyBinding[];
};
export type ValidatingAdmissionPolicyBindingSpec = {
  policyName?: string;
  paramRef?: ParamRef;
  matchResources?: MatchResources;
  validationActions?: string[];
};
export type ValidatingAdmissionPolicyList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ValidatingAdmissionPolicy[];
};
export type ValidatingAdmissionPolicySpec = {
  paramKind?: ParamKind;
  matchConstraints?: MatchResources;
  validations?: Validation[];
  failurePolicy?: string;
  auditAnnotations?: AuditAnnotation[];
  matchConditions?: MatchCondition[];
  variables?: Variable[];
};
export type ValidatingAdmissionPolicyStatus = {
  observedGeneration?: number;
  typeChecking?: TypeChecking;
  conditions?: Condition[];
};
export type ValidatingWebhook = {
  name: string;
  clientConfig: WebhookClientConfig;
  rules?: RuleWithOperations[];
  failurePolicy?: string;
  matchPolicy?: string;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  sideEffects?: string | null;
  timeoutSeconds?: number;
  admissionReviewVersions: string[];
  matchConditions?: MatchCondition[];
};
export type ValidatingWebhookConfiguration = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  webhooks?: ValidatingWebhook[];
};
export type ValidatingWebhookConfigurationList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: ValidatingWebhookConfiguration[];
};
export type Validation = {
  expression: string;
  message?: string;
  reason?: string;
  messageExpression?: string;
};
export type Variable = {
  name: string;
  expression: string;
};
export type WebhookClientConfig = {
  url?: string;
  service?: ServiceReference;
  caBundle?: string;
};
export type AdmissionregistrationV1WebhookClientConfig = WebhookClientConfig;

// ---- apiextensions.k8s.io/v1 ----

export type ConversionRequest = {
  uid: string;
  desiredAPIVersion: string;
  objects: RawExtension[];
};
export type ConversionResponse = {
  uid: string;
  convertedObjects: RawExtension[];
  result: Status;
};
export type ConversionReview = {
  kind?: string;
  apiVersion?: string;
  request?: ConversionRequest;
  response?: ConversionResponse;
};
export type CustomResourceColumnDefinition = {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
};
export type CustomResourceConversion = {
  strategy: string;
  webhook?: WebhookConversion;
};
export type CustomResourceDefinition = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: CustomResourceDefinitionSpec;
  status?: CustomResourceDefinitionStatus;
};
export type CustomResourceDefinitionCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type CustomResourceDefinitionList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: CustomResourceDefinition[];
};
export type CustomResourceDefinitionNames = {
  plural: string;
  singular?: string;
  shortNames?: string[];
  kind: string;
  listKind?: string;
  categories?: string[];
};
export type CustomResourceDefinitionSpec = {
  group: string;
  names: CustomResourceDefinitionNames;
  scope: string;
  versions: CustomResourceDefinitionVersion[];
  conversion?: CustomResourceConversion;
  preserveUnknownFields?: boolean;
};
export type CustomResourceDefinitionStatus = {
  conditions?: CustomResourceDefinitionCondition[];
  acceptedNames?: CustomResourceDefinitionNames;
  storedVersions?: string[];
};
export type CustomResourceDefinitionVersion = {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema?: CustomResourceValidation;
  subresources?: CustomResourceSubresources;
  additionalPrinterColumns?: CustomResourceColumnDefinition[];
  selectableFields?: SelectableField[];
};
export type CustomResourceSubresourceScale = {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
};
export type CustomResourceSubresourceStatus = Record<string, never>;
export type CustomResourceSubresources = {
  status?: CustomResourceSubresourceStatus;
  scale?: CustomResourceSubresourceScale;
};
export type CustomResourceValidation = {
  openAPIV3Schema?: JSONSchemaProps;
};
export type ExternalDocumentation = {
  description?: string;
  url?: string;
};
export type JSONSchemaProps = {
  id?: string;
  $schema?: string;
  $ref?: string;
  description?: string;
  type?: string;
  format?: string;
  title?: string;
  default?: unknown;
  maximum?: number;
  exclusiveMaximum?: boolean;
  minimum?: number;
  exclusiveMinimum?: boolean;
  maxLength?: number;
  minLength?: number;
  pattern?: string;
  maxItems?: number;
  minItems?: number;
  uniqueItems?: boolean;
  multipleOf?: number;
  enum?: unknown[];
  maxProperties?: number;
  minProperties?: number;
  required?: string[];
  items?: JSONSchemaPropsOrArray;
  allOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaPropsOrBool;
  patternProperties?: Record<string, JSONSchemaProps>;
  dependencies?: Record<string, JSONSchemaPropsOrStringArray>;
  additionalItems?: JSONSchemaPropsOrBool;
  definitions?: Record<string, JSONSchemaProps>;
  externalDocs?: ExternalDocumentation;
  example?: unknown;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-validations'?: ValidationRule[];
};
export type JSONSchemaPropsOrArray = JSONSchemaProps | JSONSchemaProps[];
export type JSONSchemaPropsOrBool = boolean | JSONSchemaProps;
export type JSONSchemaPropsOrStringArray = JSONSchemaProps | string[];
export type SelectableField = {
  jsonPath: string;
};
export type ApiextensionsV1ServiceReference = {
  namespace: string;
  name: string;
  path?: string;
  port?: number;
};
export type ValidationRule = {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: string;
  fieldPath?: string;
  optionalOldSelf?: boolean;
};
export type ApiextensionsV1WebhookClientConfig = {
  url?: string;
  service?: ApiextensionsV1ServiceReference;
  caBundle?: string;
};
export type WebhookConversion = {
  clientConfig?: ApiextensionsV1WebhookClientConfig;
  conversionReviewVersions: string[];
};

// ---- events.k8s.io/v1 ----

export type EventsV1Event = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  eventTime: MicroTime | null;
  series?: EventsV1EventSeries;
  reportingController?: string;
  reportingInstance?: string;
  action?: string;
  reason?: string;
  regarding?: ObjectReference;
  related?: ObjectReference;
  note?: string;
  type?: string;
  deprecatedSource?: EventSource;
  deprecatedFirstTimestamp?: Time | null;
  deprecatedLastTimestamp?: Time | null;
  deprecatedCount?: number;
};
export type EventsV1EventList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: EventsV1Event[];
};
export type EventsV1EventSeries = {
  count: number;
  lastObservedTime: MicroTime | null;
};

// ---- certificates.k8s.io/v1 ----

export type CertificateSigningRequest = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: CertificateSigningRequestSpec;
  status?: CertificateSigningRequestStatus;
};
export type CertificateSigningRequestCondition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: Time | null;
  lastTransitionTime?: Time | null;
};
export type CertificateSigningRequestList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: CertificateSigningRequest[];
};
export type CertificateSigningRequestSpec = {
  request: string;
  signerName: string;
  expirationSeconds?: number;
  usages?: string[];
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, ExtraValue>;
};
export type CertificateSigningRequestStatus = {
  conditions?: CertificateSigningRequestCondition[];
  certificate?: string;
};
export type ExtraValue = string[];
export type CertificatesV1ExtraValue = ExtraValue;

// ---- authentication.k8s.io/v1 ----

export type BoundObjectReference = {
  kind?: string;
  apiVersion?: string;
  name?: string;
  uid?: string;
};
export type AuthenticationV1ExtraValue = string[];
export type SelfSubjectReview = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  status?: SelfSubjectReviewStatus;
};
export type SelfSubjectReviewStatus = {
  userInfo?: UserInfo;
};
export type TokenRequest = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: TokenRequestSpec;
  status?: TokenRequestStatus;
};
export type AuthenticationV1TokenRequest = TokenRequest;
export type TokenRequestSpec = {
  audiences: string[];
  expirationSeconds?: number | null;
  boundObjectRef?: BoundObjectReference | null;
};
export type TokenRequestStatus = {
  token: string;
  expirationTimestamp: Time | null;
};
export type TokenReview = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: TokenReviewSpec;
  status?: TokenReviewStatus;
};
export type TokenReviewSpec = {
  token?: string;
  audiences?: string[];
};
export type TokenReviewStatus = {
  authenticated?: boolean;
  user?: UserInfo;
  audiences?: string[];
  error?: string;
};
export type UserInfo = {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, AuthenticationV1ExtraValue>;
};

// ---- authorization.k8s.io/v1 ----

export type AuthorizationV1ExtraValue = string[];
export type FieldSelectorAttributes = {
  rawSelector?: string;
  requirements?: FieldSelectorRequirement[];
};
export type LabelSelectorAttributes = {
  rawSelector?: string;
  requirements?: LabelSelectorRequirement[];
};
export type LocalSubjectAccessReview = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: SubjectAccessReviewSpec;
  status?: SubjectAccessReviewStatus;
};
export type NonResourceAttributes = {
  path?: string;
  verb?: string;
};
export type NonResourceRule = {
  verbs: string[];
  nonResourceURLs?: string[];
};
export type ResourceAttributes = {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  fieldSelector?: FieldSelectorAttributes;
  labelSelector?: LabelSelectorAttributes;
};
export type ResourceRule = {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
};
export type SelfSubjectAccessReview = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: SelfSubjectAccessReviewSpec;
  status?: SubjectAccessReviewStatus;
};
export type SelfSubjectAccessReviewSpec = {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: NonResourceAttributes;
};
export type SelfSubjectRulesReview = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: SelfSubjectRulesReviewSpec;
  status?: SubjectRulesReviewStatus;
};
export type SelfSubjectRulesReviewSpec = {
  namespace?: string;
};
export type SubjectAccessReview = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec: SubjectAccessReviewSpec;
  status?: SubjectAccessReviewStatus;
};
export type SubjectAccessReviewSpec = {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: NonResourceAttributes;
  user?: string;
  groups?: string[];
  extra?: Record<string, AuthorizationV1ExtraValue>;
  uid?: string;
};
export type SubjectAccessReviewStatus = {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
};
export type SubjectRulesReviewStatus = {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
  incomplete: boolean;
  evaluationError?: string;
};

// ---- apiregistration.k8s.io/v1 ----

export type APIService = {
  kind?: string;
  apiVersion?: string;
  metadata: ObjectMeta;
  spec?: APIServiceSpec;
  status?: APIServiceStatus;
};
export type APIServiceList = {
  kind?: string;
  apiVersion?: string;
  metadata: ListMeta;
  items: APIService[];
};
export type ApiregistrationV1ServiceReference = {
  namespace?: string;
  name?: string;
  port?: number;
};
export type APIServiceSpec = {
  service?: ApiregistrationV1ServiceReference;
  group?: string;
  version?: string;
  insecureSkipTLSVerify?: boolean;
  caBundle?: string;
  groupPriorityMinimum: number;
  versionPriority: number;
};
export type APIServiceCondition = {
  type: string;
  status: string;
  lastTransitionTime?: Time | null;
  reason?: string;
  message?: string;
};
export type APIServiceStatus = {
  conditions?: APIServiceCondition[];
};

// ---- object kinds by apiVersion/kind ----

export interface ObjectKinds {
  'meta.k8s.io/v1/PartialObjectMetadata': PartialObjectMetadata;
  'v1/Binding': Binding;
  'v1/ComponentStatus': ComponentStatus;
  'v1/ConfigMap': ConfigMap;
  'v1/Endpoints': Endpoints;
  'v1/Event': Event;
  'v1/LimitRange': LimitRange;
  'v1/Namespace': Namespace;
  'v1/Node': Node;
  'v1/PersistentVolume': PersistentVolume;
  'v1/PersistentVolumeClaim': PersistentVolumeClaim;
  'v1/Pod': Pod;
  'v1/PodStatusResult': PodStatusResult;
  'v1/PodTemplate': PodTemplate;
  'v1/RangeAllocation': RangeAllocation;
  'v1/ReplicationController': ReplicationController;
  'v1/ResourceQuota': ResourceQuota;
  'v1/Secret': Secret;
  'v1/Service': Service;
  'v1/ServiceAccount': ServiceAccount;
  'apps/v1/ControllerRevision': ControllerRevision;
  'apps/v1/DaemonSet': DaemonSet;
  'apps/v1/Deployment': Deployment;
  'apps/v1/ReplicaSet': ReplicaSet;
  'apps/v1/StatefulSet': StatefulSet;
  'batch/v1/CronJob': CronJob;
  'batch/v1/Job': Job;
  'autoscaling/v1/HorizontalPodAutoscaler': AutoscalingV1HorizontalPodAutoscaler;
  'autoscaling/v1/Scale': Scale;
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler;
  'networking.k8s.io/v1/IPAddress': IPAddress;
  'networking.k8s.io/v1/Ingress': Ingress;
  'networking.k8s.io/v1/IngressClass': IngressClass;
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy;
  'networking.k8s.io/v1/ServiceCIDR': ServiceCIDR;
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole;
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding;
  'rbac.authorization.k8s.io/v1/Role': Role;
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding;
  'storage.k8s.io/v1/CSIDriver': CSIDriver;
  'storage.k8s.io/v1/CSINode': CSINode;
  'storage.k8s.io/v1/CSIStorageCapacity': CSIStorageCapacity;
  'storage.k8s.io/v1/StorageClass': StorageClass;
  'storage.k8s.io/v1/VolumeAttachment': VolumeAttachment;
  'coordination.k8s.io/v1/Lease': Lease;
  'discovery.k8s.io/v1/EndpointSlice': EndpointSlice;
  'policy/v1/Eviction': Eviction;
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget;
  'scheduling.k8s.io/v1/PriorityClass': PriorityClass;
  'node.k8s.io/v1/RuntimeClass': RuntimeClass;
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration;
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy;
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': ValidatingAdmissionPolicyBinding;
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': ValidatingWebhookConfiguration;
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition;
  'events.k8s.io/v1/Event': EventsV1Event;
  'certificates.k8s.io/v1/CertificateSigningRequest': CertificateSigningRequest;
  'authentication.k8s.io/v1/SelfSubjectReview': SelfSubjectReview;
  'authentication.k8s.io/v1/TokenRequest': TokenRequest;
  'authentication.k8s.io/v1/TokenReview': TokenReview;
  'authorization.k8s.io/v1/LocalSubjectAccessReview': LocalSubjectAccessReview;
  'authorization.k8s.io/v1/SelfSubjectAccessReview': SelfSubjectAccessReview;
  'authorization.k8s.io/v1/SelfSubjectRulesReview': SelfSubjectRulesReview;
  'authorization.k8s.io/v1/SubjectAccessReview': SubjectAccessReview;
  'apiregistration.k8s.io/v1/APIService': APIService;
}
