/**
 * TypeScript shapes of the runtime.v1 messages in api.proto, exactly as @grpc/proto-loader
 * decodes them with {keepCase, longs: String, enums: String, defaults: true, oneofs: true}:
 * snake_case field names (as on the wire), int64/uint64 as decimal strings, enums as their
 * names, bytes as Buffer, maps as plain records, absent sub-messages as null, every field present.
 *
 * Messages named *Request are what callers send: every field is optional and nested messages
 * take the `In<T>` form (deep-optional). Everything else is what the runtime returns.
 * Kept by hand beside api.proto; cri.test.ts checks a decoded sample against these shapes.
 */

/** A message as input: every field optional, nested messages likewise, bytes as any byte array. */
export type In<T> = T extends Uint8Array
  ? Uint8Array
  : T extends readonly (infer U)[]
    ? In<U>[]
    : T extends object
      ? { [K in keyof T]?: In<T[K]> }
      : T;

export type SecurityProfileProfileType = 'RuntimeDefault' | 'Unconfined' | 'Localhost';
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type SupplementalGroupsPolicy = 'Merge' | 'Strict';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type MountPropagation =
  | 'PROPAGATION_PRIVATE'
  | 'PROPAGATION_HOST_TO_CONTAINER'
  | 'PROPAGATION_BIDIRECTIONAL';
export type Signal =
  | 'SIGNAL_RUNTIME_DEFAULT' | 'SIGNAL_SIGABRT' | 'SIGNAL_SIGALRM' | 'SIGNAL_SIGBUS' | 'SIGNAL_SIGCHLD'
  | 'SIGNAL_SIGCLD' | 'SIGNAL_SIGCONT' | 'SIGNAL_SIGFPE' | 'SIGNAL_SIGHUP' | 'SIGNAL_SIGILL'
  | 'SIGNAL_SIGINT' | 'SIGNAL_SIGIO' | 'SIGNAL_SIGIOT' | 'SIGNAL_SIGKILL' | 'SIGNAL_SIGPIPE'
  | 'SIGNAL_SIGPOLL' | 'SIGNAL_SIGPROF' | 'SIGNAL_SIGPWR' | 'SIGNAL_SIGQUIT' | 'SIGNAL_SIGSEGV'
  | 'SIGNAL_SIGSTKFLT' | 'SIGNAL_SIGSTOP' | 'SIGNAL_SIGSYS' | 'SIGNAL_SIGTERM' | 'SIGNAL_SIGTRAP'
  | 'SIGNAL_SIGTSTP' | 'SIGNAL_SIGTTIN' | 'SIGNAL_SIGTTOU' | 'SIGNAL_SIGURG' | 'SIGNAL_SIGUSR1'
  | 'SIGNAL_SIGUSR2' | 'SIGNAL_SIGVTALRM' | 'SIGNAL_SIGWINCH' | 'SIGNAL_SIGXCPU' | 'SIGNAL_SIGXFSZ'
  | 'SIGNAL_SIGRTMIN' | 'SIGNAL_SIGRTMINPLUS1' | 'SIGNAL_SIGRTMINPLUS2' | 'SIGNAL_SIGRTMINPLUS3' | 'SIGNAL_SIGRTMINPLUS4'
  | 'SIGNAL_SIGRTMINPLUS5' | 'SIGNAL_SIGRTMINPLUS6' | 'SIGNAL_SIGRTMINPLUS7' | 'SIGNAL_SIGRTMINPLUS8' | 'SIGNAL_SIGRTMINPLUS9'
  | 'SIGNAL_SIGRTMINPLUS10' | 'SIGNAL_SIGRTMINPLUS11' | 'SIGNAL_SIGRTMINPLUS12' | 'SIGNAL_SIGRTMINPLUS13' | 'SIGNAL_SIGRTMINPLUS14'
  | 'SIGNAL_SIGRTMINPLUS15' | 'SIGNAL_SIGRTMAXMINUS14' | 'SIGNAL_SIGRTMAXMINUS13' | 'SIGNAL_SIGRTMAXMINUS12' | 'SIGNAL_SIGRTMAXMINUS11'
  | 'SIGNAL_SIGRTMAXMINUS10' | 'SIGNAL_SIGRTMAXMINUS9' | 'SIGNAL_SIGRTMAXMINUS8' | 'SIGNAL_SIGRTMAXMINUS7' | 'SIGNAL_SIGRTMAXMINUS6'
  | 'SIGNAL_SIGRTMAXMINUS5' | 'SIGNAL_SIGRTMAXMINUS4' | 'SIGNAL_SIGRTMAXMINUS3' | 'SIGNAL_SIGRTMAXMINUS2' | 'SIGNAL_SIGRTMAXMINUS1'
  | 'SIGNAL_SIGRTMAX';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface Int64Value {
  value: string;
}
export interface UInt64Value {
  value: string;
}
export interface KeyValue {
  key: string;
  value: string;
}
export interface IDMapping {
  host_id: number;
  container_id: number;
  length: number;
}
export interface SELinuxOption {
  user: string;
  role: string;
  type: string;
  level: string;
}
export interface SecurityProfile {
  profile_type: SecurityProfileProfileType;
  localhost_ref: string;
}
export interface UserNamespace {
  mode: NamespaceMode;
  uids: IDMapping[];
  gids: IDMapping[];
}
export interface NamespaceOption {
  network: NamespaceMode;
  pid: NamespaceMode;
  ipc: NamespaceMode;
  target_id: string;
  userns_options: UserNamespace | null;
}
export interface LinuxContainerResources {
  cpu_period: string;
  cpu_quota: string;
  cpu_shares: string;
  memory_limit_in_bytes: string;
  oom_score_adj: string;
  cpuset_cpus: string;
  cpuset_mems: string;
  hugepage_limits: HugepageLimit[];
  unified: Record<string, string>;
  memory_swap_limit_in_bytes: string;
}
export interface HugepageLimit {
  page_size: string;
  limit: string;
}
export interface WindowsContainerResources {
  cpu_shares: string;
  cpu_count: string;
  cpu_maximum: string;
  memory_limit_in_bytes: string;
  rootfs_size_in_bytes: string;
  affinity_cpus: WindowsCpuGroupAffinity[];
}
export interface WindowsCpuGroupAffinity {
  cpu_mask: string;
  cpu_group: number;
}
export interface ImageSpec {
  image: string;
  annotations: Record<string, string>;
  user_specified_image: string;
  runtime_handler: string;
  image_ref: string;
}
export interface VersionRequest {
  version?: string;
}
export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}
export interface StatusRequest {
  verbose?: boolean;
}
export interface RuntimeCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}
export interface RuntimeStatus {
  conditions: RuntimeCondition[];
}
export interface RuntimeHandlerFeatures {
  recursive_read_only_mounts: boolean;
  user_namespaces: boolean;
}
export interface RuntimeHandler {
  name: string;
  features: RuntimeHandlerFeatures | null;
}
export interface RuntimeFeatures {
  supplemental_groups_policy: boolean;
  user_namespaces_host_network: boolean;
  mount_options: boolean;
}
export interface StatusResponse {
  status: RuntimeStatus | null;
  info: Record<string, string>;
  runtime_handlers: RuntimeHandler[];
  features: RuntimeFeatures | null;
}
export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}
export interface PortMapping {
  protocol: Protocol;
  container_port: number;
  host_port: number;
  host_ip: string;
}
export interface LinuxSandboxSecurityContext {
  namespace_options: NamespaceOption | null;
  selinux_options: SELinuxOption | null;
  run_as_user: Int64Value | null;
  readonly_rootfs: boolean;
  supplemental_groups: string[];
  privileged: boolean;
  seccomp_profile_path: string;
  run_as_group: Int64Value | null;
  seccomp: SecurityProfile | null;
  apparmor: SecurityProfile | null;
  supplemental_groups_policy: SupplementalGroupsPolicy;
}
export interface LinuxPodSandboxConfig {
  cgroup_parent: string;
  security_context: LinuxSandboxSecurityContext | null;
  sysctls: Record<string, string>;
  overhead: LinuxContainerResources | null;
  resources: LinuxContainerResources | null;
}
export interface WindowsNamespaceOption {
  network: NamespaceMode;
}
export interface WindowsSandboxSecurityContext {
  run_as_username: string;
  credential_spec: string;
  host_process: boolean;
  namespace_options: WindowsNamespaceOption | null;
}
export interface WindowsPodSandboxConfig {
  security_context: WindowsSandboxSecurityContext | null;
}
export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}
export interface PodSandboxConfig {
  metadata: PodSandboxMetadata | null;
  hostname: string;
  log_directory: string;
  dns_config: DNSConfig | null;
  port_mappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  linux: LinuxPodSandboxConfig | null;
  windows: WindowsPodSandboxConfig | null;
}
export interface RunPodSandboxRequest {
  config?: In<PodSandboxConfig> | null;
  runtime_handler?: string;
}
export interface RunPodSandboxResponse {
  pod_sandbox_id: string;
}
export interface StopPodSandboxRequest {
  pod_sandbox_id?: string;
}
export interface StopPodSandboxResponse {}
export interface RemovePodSandboxRequest {
  pod_sandbox_id?: string;
}
export interface RemovePodSandboxResponse {}
export interface PodSandboxStatusRequest {
  pod_sandbox_id?: string;
  verbose?: boolean;
}
export interface PodIP {
  ip: string;
}
export interface PodSandboxNetworkStatus {
  ip: string;
  additional_ips: PodIP[];
}
export interface Namespace {
  options: NamespaceOption | null;
}
export interface LinuxPodSandboxStatus {
  namespaces: Namespace | null;
}
export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  created_at: string;
  network: PodSandboxNetworkStatus | null;
  linux: LinuxPodSandboxStatus | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}
export interface PodSandboxStatusResponse {
  status: PodSandboxStatus | null;
  info: Record<string, string>;
  containers_statuses: ContainerStatus[];
  timestamp: string;
}
export interface PodSandboxStateValue {
  state: PodSandboxState;
}
export interface PodSandboxFilter {
  id: string;
  state: PodSandboxStateValue | null;
  label_selector: Record<string, string>;
}
export interface ListPodSandboxRequest {
  filter?: In<PodSandboxFilter> | null;
}
export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}
export interface ListPodSandboxResponse {
  items: PodSandbox[];
}
export interface Mount {
  container_path: string;
  host_path: string;
  readonly: boolean;
  selinux_relabel: boolean;
  propagation: MountPropagation;
  uidMappings: IDMapping[];
  gidMappings: IDMapping[];
  recursive_read_only: boolean;
  image: ImageSpec | null;
  image_sub_path: string;
  mount_options: string[];
}
export interface Capability {
  add_capabilities: string[];
  drop_capabilities: string[];
  add_ambient_capabilities: string[];
}
export interface LinuxContainerSecurityContext {
  capabilities: Capability | null;
  privileged: boolean;
  namespace_options: NamespaceOption | null;
  selinux_options: SELinuxOption | null;
  run_as_user: Int64Value | null;
  run_as_username: string;
  readonly_rootfs: boolean;
  supplemental_groups: string[];
  apparmor_profile: string;
  seccomp_profile_path: string;
  no_new_privs: boolean;
  run_as_group: Int64Value | null;
  masked_paths: string[];
  readonly_paths: string[];
  seccomp: SecurityProfile | null;
  apparmor: SecurityProfile | null;
  supplemental_groups_policy: SupplementalGroupsPolicy;
}
export interface LinuxContainerConfig {
  resources: LinuxContainerResources | null;
  security_context: LinuxContainerSecurityContext | null;
}
export interface WindowsContainerSecurityContext {
  run_as_username: string;
  credential_spec: string;
  host_process: boolean;
}
export interface WindowsContainerConfig {
  resources: WindowsContainerResources | null;
  security_context: WindowsContainerSecurityContext | null;
}
export interface ContainerMetadata {
  name: string;
  attempt: number;
}
export interface Device {
  container_path: string;
  host_path: string;
  permissions: string;
}
export interface CDIDevice {
  name: string;
}
export interface ContainerConfig {
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  command: string[];
  args: string[];
  working_dir: string;
  envs: KeyValue[];
  mounts: Mount[];
  devices: Device[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  log_path: string;
  stdin: boolean;
  stdin_once: boolean;
  tty: boolean;
  linux: LinuxContainerConfig | null;
  windows: WindowsContainerConfig | null;
  CDI_devices: CDIDevice[];
  stop_signal: Signal;
}
export interface CreateContainerRequest {
  pod_sandbox_id?: string;
  config?: In<ContainerConfig> | null;
  sandbox_config?: In<PodSandboxConfig> | null;
}
export interface CreateContainerResponse {
  container_id: string;
}
export interface StartContainerRequest {
  container_id?: string;
}
export interface StartContainerResponse {}
export interface StopContainerRequest {
  container_id?: string;
  timeout?: string;
}
export interface StopContainerResponse {}
export interface RemoveContainerRequest {
  container_id?: string;
}
export interface RemoveContainerResponse {}
export interface ContainerStateValue {
  state: ContainerState;
}
export interface ContainerFilter {
  id: string;
  state: ContainerStateValue | null;
  pod_sandbox_id: string;
  label_selector: Record<string, string>;
}
export interface ListContainersRequest {
  filter?: In<ContainerFilter> | null;
}
export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: ContainerMetadata | null;
  image: ImageSpec | null;
  image_ref: string;
  state: ContainerState;
  created_at: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  image_id: string;
}
export interface ListContainersResponse {
  containers: Container[];
}
export interface ContainerStatusRequest {
  container_id?: string;
  verbose?: boolean;
}
export interface ContainerResources {
  linux: LinuxContainerResources | null;
  windows: WindowsContainerResources | null;
}
export interface LinuxContainerUser {
  uid: string;
  gid: string;
  supplemental_groups: string[];
}
export interface ContainerUser {
  linux: LinuxContainerUser | null;
}
export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata | null;
  state: ContainerState;
  created_at: string;
  started_at: string;
  finished_at: string;
  exit_code: number;
  image: ImageSpec | null;
  image_ref: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: Mount[];
  log_path: string;
  resources: ContainerResources | null;
  image_id: string;
  user: ContainerUser | null;
  stop_signal: Signal;
}
export interface ContainerStatusResponse {
  status: ContainerStatus | null;
  info: Record<string, string>;
}
export interface UpdateContainerResourcesRequest {
  container_id?: string;
  linux?: In<LinuxContainerResources> | null;
  windows?: In<WindowsContainerResources> | null;
  annotations?: Record<string, string>;
}
export interface UpdateContainerResourcesResponse {}
export interface ReopenContainerLogRequest {
  container_id?: string;
}
export interface ReopenContainerLogResponse {}
export interface ExecSyncRequest {
  container_id?: string;
  cmd?: string[];
  timeout?: string;
}
export interface ExecSyncResponse {
  stdout: Buffer;
  stderr: Buffer;
  exit_code: number;
}
export interface ExecRequest {
  container_id?: string;
  cmd?: string[];
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}
export interface ExecResponse {
  url: string;
}
export interface AttachRequest {
  container_id?: string;
  stdin?: boolean;
  tty?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}
export interface AttachResponse {
  url: string;
}
export interface PortForwardRequest {
  pod_sandbox_id?: string;
  port?: number[];
}
export interface PortForwardResponse {
  url: string;
}
export interface PsiData {
  Total: string;
  Avg10: number;
  Avg60: number;
  Avg300: number;
}
export interface PsiStats {
  Full: PsiData | null;
  Some: PsiData | null;
}
export interface CpuUsage {
  timestamp: string;
  usage_core_nano_seconds: UInt64Value | null;
  usage_nano_cores: UInt64Value | null;
  psi: PsiStats | null;
}
export interface MemoryUsage {
  timestamp: string;
  working_set_bytes: UInt64Value | null;
  available_bytes: UInt64Value | null;
  usage_bytes: UInt64Value | null;
  rss_bytes: UInt64Value | null;
  page_faults: UInt64Value | null;
  major_page_faults: UInt64Value | null;
  psi: PsiStats | null;
}
export interface SwapUsage {
  timestamp: string;
  swap_available_bytes: UInt64Value | null;
  swap_usage_bytes: UInt64Value | null;
}
export interface IoUsage {
  timestamp: string;
  psi: PsiStats | null;
}
export interface FilesystemIdentifier {
  mountpoint: string;
}
export interface FilesystemUsage {
  timestamp: string;
  fs_id: FilesystemIdentifier | null;
  used_bytes: UInt64Value | null;
  inodes_used: UInt64Value | null;
}
export interface NetworkInterfaceUsage {
  name: string;
  rx_bytes: UInt64Value | null;
  rx_errors: UInt64Value | null;
  tx_bytes: UInt64Value | null;
  tx_errors: UInt64Value | null;
}
export interface NetworkUsage {
  timestamp: string;
  default_interface: NetworkInterfaceUsage | null;
  interfaces: NetworkInterfaceUsage[];
}
export interface ProcessUsage {
  timestamp: string;
  process_count: UInt64Value | null;
}
export interface ContainerAttributes {
  id: string;
  metadata: ContainerMetadata | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface ContainerStats {
  attributes: ContainerAttributes | null;
  cpu: CpuUsage | null;
  memory: MemoryUsage | null;
  writable_layer: FilesystemUsage | null;
  swap: SwapUsage | null;
  io: IoUsage | null;
}
export interface ContainerStatsRequest {
  container_id?: string;
}
export interface ContainerStatsResponse {
  stats: ContainerStats | null;
}
export interface ContainerStatsFilter {
  id: string;
  pod_sandbox_id: string;
  label_selector: Record<string, string>;
}
export interface ListContainerStatsRequest {
  filter?: In<ContainerStatsFilter> | null;
}
export interface ListContainerStatsResponse {
  stats: ContainerStats[];
}
export interface PodSandboxAttributes {
  id: string;
  metadata: PodSandboxMetadata | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
export interface LinuxPodSandboxStats {
  cpu: CpuUsage | null;
  memory: MemoryUsage | null;
  network: NetworkUsage | null;
  process: ProcessUsage | null;
  containers: ContainerStats[];
  io: IoUsage | null;
}
export interface WindowsCpuUsage {
  timestamp: string;
  usage_core_nano_seconds: UInt64Value | null;
  usage_nano_cores: UInt64Value | null;
}
export interface WindowsMemoryUsage {
  timestamp: string;
  working_set_bytes: UInt64Value | null;
  available_bytes: UInt64Value | null;
  page_faults: UInt64Value | null;
  commit_memory_bytes: UInt64Value | null;
}
export interface WindowsNetworkInterfaceUsage {
  name: string;
  rx_bytes: UInt64Value | null;
  rx_packets_dropped: UInt64Value | null;
  tx_bytes: UInt64Value | null;
  tx_packets_dropped: UInt64Value | null;
}
export interface WindowsNetworkUsage {
  timestamp: string;
  default_interface: WindowsNetworkInterfaceUsage | null;
  interfaces: WindowsNetworkInterfaceUsage[];
}
export interface WindowsProcessUsage {
  timestamp: string;
  process_count: UInt64Value | null;
}
export interface WindowsFilesystemUsage {
  timestamp: string;
  fs_id: FilesystemIdentifier | null;
  used_bytes: UInt64Value | null;
}
export interface WindowsContainerStats {
  attributes: ContainerAttributes | null;
  cpu: WindowsCpuUsage | null;
  memory: WindowsMemoryUsage | null;
  writable_layer: WindowsFilesystemUsage | null;
}
export interface WindowsPodSandboxStats {
  cpu: WindowsCpuUsage | null;
  memory: WindowsMemoryUsage | null;
  network: WindowsNetworkUsage | null;
  process: WindowsProcessUsage | null;
  containers: WindowsContainerStats[];
}
export interface PodSandboxStats {
  attributes: PodSandboxAttributes | null;
  linux: LinuxPodSandboxStats | null;
  windows: WindowsPodSandboxStats | null;
}
export interface PodSandboxStatsRequest {
  pod_sandbox_id?: string;
}
export interface PodSandboxStatsResponse {
  stats: PodSandboxStats | null;
}
export interface PodSandboxStatsFilter {
  id: string;
  label_selector: Record<string, string>;
}
export interface ListPodSandboxStatsRequest {
  filter?: In<PodSandboxStatsFilter> | null;
}
export interface ListPodSandboxStatsResponse {
  stats: PodSandboxStats[];
}
export interface Image {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: string;
  uid: Int64Value | null;
  username: string;
  spec: ImageSpec | null;
  pinned: boolean;
}
export interface ImageFilter {
  image: ImageSpec | null;
}
export interface ListImagesRequest {
  filter?: In<ImageFilter> | null;
}
export interface ListImagesResponse {
  images: Image[];
}
export interface ImageStatusRequest {
  image?: In<ImageSpec> | null;
  verbose?: boolean;
}
export interface ImageStatusResponse {
  image: Image | null;
  info: Record<string, string>;
}
export interface AuthConfig {
  username: string;
  password: string;
  auth: string;
  server_address: string;
  identity_token: string;
  registry_token: string;
}
export interface PullImageRequest {
  image?: In<ImageSpec> | null;
  auth?: In<AuthConfig> | null;
  sandbox_config?: In<PodSandboxConfig> | null;
}
export interface PullImageResponse {
  image_ref: string;
}
export interface RemoveImageRequest {
  image?: In<ImageSpec> | null;
}
export interface RemoveImageResponse {}
export interface ImageFsInfoRequest {}
export interface ImageFsInfoResponse {
  image_filesystems: FilesystemUsage[];
  container_filesystems: FilesystemUsage[];
}
