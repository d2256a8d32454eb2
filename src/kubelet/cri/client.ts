/**
 * The kubelet's CRI client: runtime.v1 RuntimeService and ImageService over gRPC on a unix socket.
 *
 * The rest of the kubelet depends on the `RuntimeService` / `ImageService` interfaces (composed
 * from small role interfaces, as k8s.io/cri-api's services.go does), so another runtime (e.g. a
 * WASM runtime class) can implement them. `CriClient` implements both on one gRPC channel.
 *
 * Every call has a deadline: 2 minutes by default (the kubelet's runtime-request-timeout), or
 * `opts.deadlineMs`. Exceptions: ExecSync adds the request's own timeout, PullImage has none
 * unless asked (pulls can be long; cancel them with `opts.signal`). Calls fail fast while the
 * runtime is unreachable unless `opts.waitForReady` is set. Failures are `CriError`s.
 */

import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { serviceDefinition } from './codec.ts';
import { parseProto } from './schema.ts';
import type * as T from './types.ts';

/** Default per-call deadline, as the kubelet's --runtime-request-timeout. */
export const DEFAULT_DEADLINE_MS = 2 * 60_000;
/** Default time `CriClient.connect` waits for the runtime to answer Version. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** Largest message sent or received, as the kubelet's CRI client (16 MiB). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface CallOptions {
  /** Deadline for this call in ms; Infinity for none. */
  deadlineMs?: number;
  /** Aborting cancels the call (the promise rejects with CriError code CANCELLED). */
  signal?: AbortSignal;
  /** Wait for the connection to become ready instead of failing fast (still bounded by the deadline). */
  waitForReady?: boolean;
}

/** A failed CRI call: `code` is the gRPC status code (grpc.status), `details` the runtime's message. */
export class CriError extends Error {
  readonly code: number;
  readonly details: string;
  readonly method: string;
  constructor(method: string, code: number, details: string, options?: { cause?: unknown }) {
    super(`${method}: ${grpc.status[code] ?? code}: ${details}`, options);
    this.name = 'CriError';
    this.code = code;
    this.details = details;
    this.method = method;
  }
}

/**
 * True when the runtime said the object does not exist: gRPC NOT_FOUND, or an UNKNOWN error whose
 * text says "not found" (how containerd reports some missing sandboxes, containers and images).
 */
export function isNotFound(err: unknown): boolean {
  if (!(err instanceof CriError)) return false;
  if (err.code === grpc.status.NOT_FOUND) return true;
  return err.code === grpc.status.UNKNOWN && /\bnot found\b/i.test(err.details);
}

// ---------------------------------------------------------------- role interfaces

export interface RuntimeVersioner {
  version(req?: T.VersionRequest, opts?: CallOptions): Promise<T.VersionResponse>;
  status(req?: T.StatusRequest, opts?: CallOptions): Promise<T.StatusResponse>;
}

/** Sandboxes are idempotent to stop and remove (removing an absent one succeeds). */
export interface PodSandboxManager {
  runPodSandbox(req: T.RunPodSandboxRequest, opts?: CallOptions): Promise<T.RunPodSandboxResponse>;
  stopPodSandbox(req: T.StopPodSandboxRequest, opts?: CallOptions): Promise<T.StopPodSandboxResponse>;
  removePodSandbox(req: T.RemovePodSandboxRequest, opts?: CallOptions): Promise<T.RemovePodSandboxResponse>;
  podSandboxStatus(req: T.PodSandboxStatusRequest, opts?: CallOptions): Promise<T.PodSandboxStatusResponse>;
  listPodSandbox(req?: T.ListPodSandboxRequest, opts?: CallOptions): Promise<T.ListPodSandboxResponse>;
}

export interface ContainerManager {
  createContainer(req: T.CreateContainerRequest, opts?: CallOptions): Promise<T.CreateContainerResponse>;
  startContainer(req: T.StartContainerRequest, opts?: CallOptions): Promise<T.StartContainerResponse>;
  stopContainer(req: T.StopContainerRequest, opts?: CallOptions): Promise<T.StopContainerResponse>;
  removeContainer(req: T.RemoveContainerRequest, opts?: CallOptions): Promise<T.RemoveContainerResponse>;
  listContainers(req?: T.ListContainersRequest, opts?: CallOptions): Promise<T.ListContainersResponse>;
  containerStatus(req: T.ContainerStatusRequest, opts?: CallOptions): Promise<T.ContainerStatusResponse>;
  updateContainerResources(
    req: T.UpdateContainerResourcesRequest,
    opts?: CallOptions,
  ): Promise<T.UpdateContainerResourcesResponse>;
  reopenContainerLog(req: T.ReopenContainerLogRequest, opts?: CallOptions): Promise<T.ReopenContainerLogResponse>;
}

/** exec/attach/port-forward answer a URL on the runtime's streaming server; execSync runs to completion. */
export interface ContainerStreamer {
  execSync(req: T.ExecSyncRequest, opts?: CallOptions): Promise<T.ExecSyncResponse>;
  exec(req: T.ExecRequest, opts?: CallOptions): Promise<T.ExecResponse>;
  attach(req: T.AttachRequest, opts?: CallOptions): Promise<T.AttachResponse>;
  portForward(req: T.PortForwardRequest, opts?: CallOptions): Promise<T.PortForwardResponse>;
}

export interface ContainerStatsManager {
  containerStats(req: T.ContainerStatsRequest, opts?: CallOptions): Promise<T.ContainerStatsResponse>;
  listContainerStats(req?: T.ListContainerStatsRequest, opts?: CallOptions): Promise<T.ListContainerStatsResponse>;
  podSandboxStats(req: T.PodSandboxStatsRequest, opts?: CallOptions): Promise<T.PodSandboxStatsResponse>;
  listPodSandboxStats(req?: T.ListPodSandboxStatsRequest, opts?: CallOptions): Promise<T.ListPodSandboxStatsResponse>;
}

/** Everything the kubelet asks of a container runtime. */
export interface RuntimeService
  extends RuntimeVersioner, PodSandboxManager, ContainerManager, ContainerStreamer, ContainerStatsManager {}

/** ImageStatus of an absent image answers `image: null`; RemoveImage of an absent image succeeds. */
export interface ImageService {
  listImages(req?: T.ListImagesRequest, opts?: CallOptions): Promise<T.ListImagesResponse>;
  imageStatus(req: T.ImageStatusRequest, opts?: CallOptions): Promise<T.ImageStatusResponse>;
  pullImage(req: T.PullImageRequest, opts?: CallOptions): Promise<T.PullImageResponse>;
  removeImage(req: T.RemoveImageRequest, opts?: CallOptions): Promise<T.RemoveImageResponse>;
  imageFsInfo(req?: T.ImageFsInfoRequest, opts?: CallOptions): Promise<T.ImageFsInfoResponse>;
}

// ---------------------------------------------------------------- the client

type Method = grpc.MethodDefinition<object, unknown>;
let methods: Map<string, Method> | undefined;

/**
 * The proto is parsed once per process, on first use, by the project's own codec (./schema.ts,
 * ./codec.ts): it decodes to the same objects @grpc/proto-loader gave, without loading it.
 */
function method(name: string): Method {
  if (!methods) {
    const schema = parseProto(readFileSync(new URL('./api.proto', import.meta.url), 'utf8'));
    methods = new Map();
    for (const service of ['RuntimeService', 'ImageService']) {
      for (const [rpc, m] of Object.entries(serviceDefinition(schema, `runtime.v1.${service}`))) {
        methods.set(rpc, m as Method);
      }
    }
  }
  const m = methods.get(name);
  if (!m) throw new Error(`CRI method ${name} is not declared in api.proto`);
  return m;
}

export interface ConnectOptions {
  /** How long to wait for the runtime to answer Version (default 30 s). */
  timeoutMs?: number;
}

export class CriClient implements RuntimeService, ImageService {
  readonly address: string;
  #client: grpc.Client;

  /** Prefer `CriClient.connect`, which also waits for the runtime to answer. */
  constructor(socketPath: string) {
    this.address = socketPath.startsWith('unix:') ? socketPath : `unix://${socketPath}`;
    this.#client = new grpc.Client(this.address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // A local socket: reconnect quickly after the runtime (re)starts.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
  }

  /**
   * Opens a client and waits until the runtime answers Version (retrying while the socket is
   * absent or refusing). Rejects with the last CriError after `timeoutMs`, or at once if the
   * server does not implement the CRI (UNIMPLEMENTED).
   */
  static async connect(socketPath: string, opts: ConnectOptions = {}): Promise<CriClient> {
    const client = new CriClient(socketPath);
    const end = Date.now() + (opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    for (;;) {
      try {
        await client.version({ version: 'v1' }, { deadlineMs: Math.max(end - Date.now(), 1), waitForReady: true });
        return client;
      } catch (err) {
        const retry = err instanceof CriError && err.code !== grpc.status.UNIMPLEMENTED && Date.now() < end;
        if (!retry) {
          client.close();
          throw err;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Closes the channel; calls in flight fail with CANCELLED. */
  close(): void {
    this.#client.close();
  }

  #call<Res>(name: string, req: object, opts: CallOptions = {}, defaultDeadlineMs = DEFAULT_DEADLINE_MS): Promise<Res> {
    const m = method(name);
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(new CriError(name, grpc.status.CANCELLED, 'aborted before the call'));
    const deadlineMs = opts.deadlineMs ?? defaultDeadlineMs;
    const callOpts: grpc.CallOptions = Number.isFinite(deadlineMs) ? { deadline: Date.now() + deadlineMs } : {};
    const metadata = new grpc.Metadata(opts.waitForReady ? { waitForReady: true } : undefined);
    return new Promise<Res>((resolve, reject) => {
      const call = this.#client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        req,
        metadata,
        callOpts,
        (err, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(new CriError(name, err.code, err.details, { cause: err }));
          else resolve(res as Res);
        },
      );
      const onAbort = () => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  version(req: T.VersionRequest = { version: 'v1' }, opts?: CallOptions) {
    return this.#call<T.VersionResponse>('Version', req, opts);
  }
  status(req: T.StatusRequest = {}, opts?: CallOptions) {
    return this.#call<T.StatusResponse>('Status', req, opts);
  }

  runPodSandbox(req: T.RunPodSandboxRequest, opts?: CallOptions) {
    return this.#call<T.RunPodSandboxResponse>('RunPodSandbox', req, opts);
  }
  stopPodSandbox(req: T.StopPodSandboxRequest, opts?: CallOptions) {
    return this.#call<T.StopPodSandboxResponse>('StopPodSandbox', req, opts);
  }
  removePodSandbox(req: T.RemovePodSandboxRequest, opts?: CallOptions) {
    return this.#call<T.RemovePodSandboxResponse>('RemovePodSandbox', req, opts);
  }
  podSandboxStatus(req: T.PodSandboxStatusRequest, opts?: CallOptions) {
    return this.#call<T.PodSandboxStatusResponse>('PodSandboxStatus', req, opts);
  }
  listPodSandbox(req: T.ListPodSandboxRequest = {}, opts?: CallOptions) {
    return this.#call<T.ListPodSandboxResponse>('ListPodSandbox', req, opts);
  }

  createContainer(req: T.CreateContainerRequest, opts?: CallOptions) {
    return this.#call<T.CreateContainerResponse>('CreateContainer', req, opts);
  }
  startContainer(req: T.StartContainerRequest, opts?: CallOptions) {
    return this.#call<T.StartContainerResponse>('StartContainer', req, opts);
  }
  stopContainer(req: T.StopContainerRequest, opts?: CallOptions) {
    // The runtime may wait `timeout` seconds before killing: allow for it, as ExecSync does.
    return this.#call<T.StopContainerResponse>('StopContainer', req, opts, DEFAULT_DEADLINE_MS + secondsMs(req.timeout));
  }
  removeContainer(req: T.RemoveContainerRequest, opts?: CallOptions) {
    return this.#call<T.RemoveContainerResponse>('RemoveContainer', req, opts);
  }
  listContainers(req: T.ListContainersRequest = {}, opts?: CallOptions) {
    return this.#call<T.ListContainersResponse>('ListContainers', req, opts);
  }
  containerStatus(req: T.ContainerStatusRequest, opts?: CallOptions) {
    return this.#call<T.ContainerStatusResponse>('ContainerStatus', req, opts);
  }
  updateContainerResources(req: T.UpdateContainerResourcesRequest, opts?: CallOptions) {
    return this.#call<T.UpdateContainerResourcesResponse>('UpdateContainerResources', req, opts);
  }
  reopenContainerLog(req: T.ReopenContainerLogRequest, opts?: CallOptions) {
    return this.#call<T.ReopenContainerLogResponse>('ReopenContainerLog', req, opts);
  }

  execSync(req: T.ExecSyncRequest, opts?: CallOptions) {
    return this.#call<T.ExecSyncResponse>('ExecSync', req, opts, DEFAULT_DEADLINE_MS + secondsMs(req.timeout));
  }
  exec(req: T.ExecRequest, opts?: CallOptions) {
    return this.#call<T.ExecResponse>('Exec', req, opts);
  }
  attach(req: T.AttachRequest, opts?: CallOptions) {
    return this.#call<T.AttachResponse>('Attach', req, opts);
  }
  portForward(req: T.PortForwardRequest, opts?: CallOptions) {
    return this.#call<T.PortForwardResponse>('PortForward', req, opts);
  }

  containerStats(req: T.ContainerStatsRequest, opts?: CallOptions) {
    return this.#call<T.ContainerStatsResponse>('ContainerStats', req, opts);
  }
  listContainerStats(req: T.ListContainerStatsRequest = {}, opts?: CallOptions) {
    return this.#call<T.ListContainerStatsResponse>('ListContainerStats', req, opts);
  }
  podSandboxStats(req: T.PodSandboxStatsRequest, opts?: CallOptions) {
    return this.#call<T.PodSandboxStatsResponse>('PodSandboxStats', req, opts);
  }
  listPodSandboxStats(req: T.ListPodSandboxStatsRequest = {}, opts?: CallOptions) {
    return this.#call<T.ListPodSandboxStatsResponse>('ListPodSandboxStats', req, opts);
  }

  listImages(req: T.ListImagesRequest = {}, opts?: CallOptions) {
    return this.#call<T.ListImagesResponse>('ListImages', req, opts);
  }
  imageStatus(req: T.ImageStatusRequest, opts?: CallOptions) {
    return this.#call<T.ImageStatusResponse>('ImageStatus', req, opts);
  }
  pullImage(req: T.PullImageRequest, opts?: CallOptions) {
    return this.#call<T.PullImageResponse>('PullImage', req, opts, Infinity);
  }
  removeImage(req: T.RemoveImageRequest, opts?: CallOptions) {
    return this.#call<T.RemoveImageResponse>('RemoveImage', req, opts);
  }
  imageFsInfo(req: T.ImageFsInfoRequest = {}, opts?: CallOptions) {
    return this.#call<T.ImageFsInfoResponse>('ImageFsInfo', req, opts);
  }
}

function secondsMs(timeout: string | undefined): number {
  const s = Number(timeout ?? 0);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 0;
}
