/**
 * The kubelet's runtime boundary: the CRI v1 client and the interfaces the rest of the kubelet
 * depends on (`RuntimeService`, `ImageService`), plus the message types.
 */

export {
  CriClient,
  CriError,
  isNotFound,
  DEFAULT_DEADLINE_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  MAX_MESSAGE_BYTES,
} from './client.ts';
export type {
  CallOptions,
  ConnectOptions,
  RuntimeService,
  ImageService,
  RuntimeVersioner,
  PodSandboxManager,
  ContainerManager,
  ContainerStreamer,
  ContainerStatsManager,
} from './client.ts';
export type * from './types.ts';
