/**
 * What the node agent's HTTPS server (server.ts) needs from the rest of the agent: the CRI
 * streaming URLs for exec, attach and port-forward sessions, container logs, the node's pods,
 * stats and metrics. The agent core implements it; the server only translates HTTP.
 */

/** A failure with the HTTP status and message the server should answer (as the kubelet's). */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.name = 'HttpError';
  }
}

export interface AgentBackend {
  /**
   * The CRI streaming URL for an exec session (the runtime's Exec). Throws HttpError (status +
   * message) for unknown pods/containers. With `tty`, `stderr` is always false (the kubelet's rule).
   */
  exec(req: { namespace: string; pod: string; container: string; command: string[]; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): Promise<string>;
  /** The CRI streaming URL for an attach session (the runtime's Attach). Throws HttpError as exec. */
  attach(req: { namespace: string; pod: string; container: string; stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): Promise<string>;
  /**
   * The CRI streaming URL for a port-forward session (the runtime's PortForward). `ports` is
   * what a WebSocket client asked for in the query (empty for SPDY clients, which name ports
   * per stream). Throws HttpError for unknown pods.
   */
  portForward(req: { namespace: string; pod: string; ports?: number[] }): Promise<string>;
  /**
   * Writes the container's log (formatted as the kubelet does) to `out` until done (follow: until
   * the container stops or `signal` aborts). Throws HttpError for failures the client should see
   * with a status (before anything was written), anything else is a 400 as the kubelet answers.
   */
  containerLogs(
    req: {
      namespace: string;
      pod: string;
      container: string;
      follow: boolean;
      previous: boolean;
      tailLines?: number;
      sinceSeconds?: number;
      sinceTime?: string;
      timestamps: boolean;
      limitBytes?: number;
    },
    out: NodeJS.WritableStream,
    signal: AbortSignal,
  ): Promise<void>;
  /** The node's pods (v1.Pod objects). */
  pods(): unknown[];
  /** The kubelet's stats/summary document. */
  statsSummary(): Promise<unknown>;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
}
