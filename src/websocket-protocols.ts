/**
 * The subprotocols of a WebSocket handshake (`Sec-WebSocket-Protocol`).
 * Browsers cannot set headers on a WebSocket, so a caller may carry its token
 * as the subprotocol `bearer.<token>`: it authenticates the caller, and is
 * never sent upstream nor selected in the answer. `gateway` names the gateway
 * itself: a browser fails a handshake whose answer selects none of what it
 * offered, so it offers `gateway` for the gateway to select when upstream
 * selects nothing.
 */

const TOKEN_PREFIX = 'bearer.';
export const GATEWAY_PROTOCOL = 'gateway';

/** The subprotocols offered, in order. */
export function offeredProtocols(headers: Headers): string[] {
  return (headers.get('sec-websocket-protocol') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** A token offered as `bearer.<token>` on a WebSocket handshake, as an Authorization value; null when there is none. */
export function protocolAuthorization(headers: Headers): string | null {
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return null;
  const offered = offeredProtocols(headers).find((p) => p.startsWith(TOKEN_PREFIX));
  return offered === undefined ? null : `Bearer ${offered.slice(TOKEN_PREFIX.length)}`;
}

/** What upstream is offered: the caller's subprotocols without its token and without the gateway's own. */
export function upstreamProtocols(offered: readonly string[]): string[] {
  return offered.filter((p) => !p.startsWith(TOKEN_PREFIX) && p !== GATEWAY_PROTOCOL);
}

/** The subprotocol the answer selects: upstream's choice among those it was offered, else `gateway` if offered. */
export function selectedProtocol(offered: readonly string[], upstreamSelected: string | null): string | undefined {
  if (upstreamSelected && upstreamProtocols(offered).includes(upstreamSelected)) return upstreamSelected;
  return offered.includes(GATEWAY_PROTOCOL) ? GATEWAY_PROTOCOL : undefined;
}
