/** GET /v1/models/{alias}/websocket: the target's WebSocket endpoint, relayed both ways (src/websocket.ts). */
import type { GatewayRequest } from '../context.ts';
import { proxyWebSocket } from '../websocket.ts';

export function websocket(request: GatewayRequest): Promise<Response> {
  return proxyWebSocket(request);
}
