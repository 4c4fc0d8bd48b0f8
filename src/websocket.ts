/**
 * A caller's WebSocket joined to the target's WebSocket endpoint. Every check
 * (token, alias access, rate limit and quota in the route's access; the
 * alias's `websocket`, the Upgrade header, Baseten's own answer to the
 * handshake) happens before the upgrade, so a refusal is the contract's JSON
 * error and no socket is opened. The connection counts as one request at the
 * door; its traffic is added to the caller's usage when it closes. Used by
 * every route that opens a model's WebSocket.
 */
import { modelFor } from './access.ts';
import { callBaseten } from './baseten.ts';
import type { ModelConfig } from './config.ts';
import { config, type GatewayRequest, onBehalfOf } from './context.ts';
import { HttpError } from './errors.ts';
import type { SocketRecord } from './meter-rules.ts';
import { offeredProtocols, selectedProtocol, upstreamProtocols } from './websocket-protocols.ts';
import { relaySockets, type WebSocketSummary } from './websocket-relay.ts';

export async function proxyWebSocket(request: GatewayRequest): Promise<Response> {
  const model = websocketModelFor(request);
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    throw new HttpError('invalid_request', 'this route opens a WebSocket: send the handshake (Upgrade: websocket)');
  }
  const offered = offeredProtocols(request.headers);
  const upstream = await openUpstream(request, model, upstreamProtocols(offered));
  const { 0: client, 1: server } = new WebSocketPair();
  let settle!: (record: SocketRecord) => void;
  const closed = new Promise<SocketRecord>((resolve) => {
    settle = resolve;
  });
  relaySockets(server, upstream.socket, {
    idleMs: config(request).settings.websocketIdleMs,
    onClose: (summary) => {
      logClose(request, model, summary);
      settle(socketRecord(summary));
    },
  });
  // The call's usage waits for this: the connection is counted once, when it closes.
  request.state.socket = closed;
  const selected = selectedProtocol(offered, upstream.protocol);
  return new Response(null, { status: 101, webSocket: client, headers: selected ? { 'sec-websocket-protocol': selected } : {} });
}

/** The alias from the path, usable by this caller and serving a WebSocket. */
function websocketModelFor(request: GatewayRequest): ModelConfig {
  const model = modelFor(request);
  if (!model.websocket) throw new HttpError('not_found', `model "${model.alias}" has no WebSocket endpoint`);
  return model;
}

/** The handshake with the target's /websocket, signed; Baseten's refusal is thrown as the contract's error. */
async function openUpstream(request: GatewayRequest, model: ModelConfig, protocols: string[]): Promise<{ socket: WebSocket; protocol: string | null }> {
  const { requestId, onStatus } = onBehalfOf(request);
  const upstream = await callBaseten(
    config(request),
    model,
    { action: 'websocket' },
    {
      method: 'GET',
      requestId,
      onStatus,
      // No caller signal: once the 101 is answered the request is over, and the socket lives on.
      timeoutMs: model.timeoutMs,
      headers: { upgrade: 'websocket', ...(protocols.length > 0 && { 'sec-websocket-protocol': protocols.join(', ') }) },
      keep: [101],
    },
  );
  if (upstream.status !== 101 || !upstream.webSocket) {
    await upstream.body?.cancel();
    throw new HttpError('upstream_error', `Baseten answered the WebSocket handshake with ${upstream.status} and did not upgrade`);
  }
  return { socket: upstream.webSocket, protocol: upstream.headers.get('sec-websocket-protocol') };
}

function socketRecord({ fromClient, fromUpstream, durationMs }: WebSocketSummary): SocketRecord {
  return {
    messagesFromClient: fromClient.messages,
    bytesFromClient: fromClient.bytes,
    messagesFromUpstream: fromUpstream.messages,
    bytesFromUpstream: fromUpstream.bytes,
    durationMs,
  };
}

/** One line per connection, at its end; never a message's content. */
function logClose(request: GatewayRequest, model: ModelConfig, summary: WebSocketSummary): void {
  console.log(
    JSON.stringify({
      event: 'websocket_closed',
      request_id: request.state.requestId,
      caller: request.state.caller?.name,
      alias: model.alias,
      duration_ms: summary.durationMs,
      messages_from_client: summary.fromClient.messages,
      bytes_from_client: summary.fromClient.bytes,
      messages_from_upstream: summary.fromUpstream.messages,
      bytes_from_upstream: summary.fromUpstream.bytes,
      close_code: summary.closeCode,
      closed_by: summary.closedBy,
    }),
  );
}
