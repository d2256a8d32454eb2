/**
 * Port-forward for WebSocket clients (kubectl ≥ 1.31), as upstream's TunnelingHandler does
 * (k8s.io/apiserver pkg/util/proxy/streamtunnel.go): the client offers `SPDY/3.1+<protocol>`
 * subprotocols and then sends SPDY bytes inside binary WebSocket messages. The API server makes
 * a SPDY upgrade request to the agent with the offered protocols (prefix removed); once the
 * agent switches protocols it completes the WebSocket handshake with the agent's choice
 * (prefixed again) and pipes message payloads to the agent's connection and back. The SPDY
 * itself is not parsed here. If the agent refuses, its answer is relayed to the client as is.
 *
 * Bounds: a WebSocket message at most remotecommand.ts's `maxWebSocketMessageBytes`; output
 * queued toward the client past `maxWebSocketBufferedBytes` pauses the agent's socket; no
 * traffic either way for upgrade.ts's `proxyIdleTimeoutMs` closes both.
 */
import type { RawData } from 'ws';
import { acceptWebSocket, maxWebSocketBufferedBytes, webSocketProtocols } from './remotecommand.ts';
import { BackendError, forwardedHeaders, proxyIdleTimeoutMs, relayResponse, type DialResult, type RawHeaders, type UpgradeRequest, type UpstreamTarget } from '../../util/upgrade.ts';

/** The prefix kubectl puts before the SPDY protocols it tunnels (upstream WebsocketsSPDYTunnelingPrefix). */
export const tunnelingPrefix = 'SPDY/3.1+';

/** The SPDY protocols a WebSocket request offers to tunnel (`SPDY/3.1+….k8s.io`), prefix removed. */
export function tunneledProtocols(headers: Record<string, string | string[] | undefined>): string[] {
  return webSocketProtocols(headers)
    .filter((p) => p.startsWith(tunnelingPrefix) && p.endsWith('.k8s.io'))
    .map((p) => p.slice(tunnelingPrefix.length));
}

/** The SPDY upgrade request's headers: the client's, without its WebSocket ones. */
export function tunnelRequestHeaders(client: UpgradeRequest, target: UpstreamTarget, protocols: readonly string[]): RawHeaders {
  const h = forwardedHeaders(client.req, target, ['sec-websocket-protocol', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'upgrade', 'connection', 'x-stream-protocol-version']);
  h.push('Connection', 'Upgrade', 'Upgrade', 'SPDY/3.1');
  for (const p of protocols) h.push('X-Stream-Protocol-Version', p);
  return h;
}

/**
 * Serves one tunneled port-forward session. `dial` performs the SPDY upgrade request (POST) to
 * the agent with the given headers. Throws BackendError before touching the client socket when
 * the agent cannot be reached or gives a 1xx–3xx answer other than 101, or when the client
 * offered no tunneling protocol (message as upstream); resolves when the session is over.
 */
export async function tunnelPortForward(client: UpgradeRequest, opts: { protocols: readonly string[]; dial: () => Promise<DialResult>; idleTimeoutMs?: number; log?: (msg: string) => void }): Promise<void> {
  if (!opts.protocols.length) throw new BackendError('unable to upgrade: no tunneling spdy protocols provided');
  const dialed = await opts.dial();
  if (!dialed.upgraded) {
    const status = dialed.response.statusCode ?? 0;
    if (status < 400) {
      dialed.response.destroy();
      throw new BackendError(`invalid upgrade response: status code ${status}`);
    }
    await relayResponse(dialed.response, client.socket);
    return;
  }
  const upstream = dialed.socket;
  const connection = String(dialed.response.headers['connection'] ?? '').toLowerCase();
  const upgrade = String(dialed.response.headers['upgrade'] ?? '').toLowerCase();
  if (!connection.includes('upgrade') || !upgrade.includes('spdy/3.1')) {
    upstream.destroy();
    throw new BackendError('unable to upgrade: missing upgrade headers in response');
  }
  const chosen = String(dialed.response.headers['x-stream-protocol-version'] ?? '').trim();
  const accepted = await acceptWebSocket(client, (offered) => (chosen && offered.includes(tunnelingPrefix + chosen) ? tunnelingPrefix + chosen : false));
  if (!accepted) {
    upstream.destroy();
    return;
  }
  const ws = accepted.ws;
  const idle = opts.idleTimeoutMs ?? proxyIdleTimeoutMs;
  let last = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (!idle) return;
    timer = setTimeout(() => {
      if (Date.now() - last >= idle) {
        opts.log?.(`port-forward: tunnel idle for ${idle} ms, closing`);
        ws.terminate();
        upstream.destroy();
        return;
      }
      arm();
    }, Math.max(1, last + idle - Date.now()));
    timer.unref();
  };
  arm();
  ws.on('error', (err) => opts.log?.(`port-forward websocket: ${err.message}`));
  if (dialed.head.length) ws.send(dialed.head, { binary: true });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) {
      ws.close(1003, 'invalid message type received');
      return;
    }
    last = Date.now();
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!upstream.write(buf)) {
      ws.pause();
      upstream.once('drain', () => ws.resume());
    }
  });
  upstream.on('data', (chunk: Buffer) => {
    last = Date.now();
    ws.send(chunk, { binary: true }, () => {
      if (upstream.isPaused() && ws.bufferedAmount <= maxWebSocketBufferedBytes / 2) upstream.resume();
    });
    if (ws.bufferedAmount > maxWebSocketBufferedBytes) upstream.pause();
  });
  const closed = Promise.all([new Promise((r) => ws.once('close', r)), new Promise((r) => (upstream.destroyed ? r(null) : upstream.once('close', r)))]);
  ws.once('close', () => upstream.end());
  upstream.once('end', () => ws.close(1000));
  upstream.once('close', () => ws.close(1000));
  upstream.on('error', (err) => opts.log?.(`port-forward: agent connection: ${err.message}`));
  await closed;
  clearTimeout(timer);
  upstream.destroy();
}
