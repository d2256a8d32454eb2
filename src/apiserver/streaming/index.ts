/**
 * The streaming path between clients, the API server and the node agent (public entry):
 * - `serveConnect`: the API server's connect subresources (pods/log, exec, attach,
 *   portforward; nodes/proxy), see connect.ts;
 * - `proxyUpgrade` and friends: the raw HTTP upgrade proxy, which the node agent also uses
 *   toward the CRI streaming server (upgrade.ts);
 * - SPDY/3.1 framing and connections (spdy.ts), for whoever speaks remote-command or
 *   port-forward SPDY themselves.
 */
export { serveConnect, type ConnectContext } from './connect.ts';
export { type KubeletClientConfig } from './kubelet.ts';
export { connectSubresources, connectDeclaration } from './subresources.ts';
export { connectOptions } from './options.ts';
export {
  proxyUpgrade,
  dialUpgrade,
  forwardedHeaders,
  pipeSockets,
  BackendError,
  proxyIdleTimeoutMs,
  upgradeResponseTimeoutMs,
  type UpgradeRequest,
  type UpstreamTarget,
  type DialResult,
} from '../../util/upgrade.ts';
export { SpdyConnection, SpdyStream, SpdyError, headerValue, type SpdyHeaders } from './spdy.ts';
export { isWebSocketUpgrade, webSocketProtocols } from './remotecommand.ts';
