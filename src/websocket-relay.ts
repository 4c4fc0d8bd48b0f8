/**
 * Two accepted-in-half-open WebSockets joined: every message goes to the
 * other side unchanged (text stays text, binary stays binary), a close on one
 * side closes the other with the same code and reason, and a connection with
 * no message either way for `idleMs` is closed on both sides with 1001. What
 * the connection carried is handed to `onClose` once, when it ends.
 *
 * The runtime gives a Worker no flow control on a WebSocket (no
 * bufferedAmount, no pause): a message is sent on as soon as it arrives.
 */

export interface Tally {
  messages: number;
  bytes: number;
}

export type ClosedBy = 'client' | 'upstream' | 'idle' | 'error';

export interface WebSocketSummary {
  durationMs: number;
  fromClient: Tally;
  fromUpstream: Tally;
  /** The code the ending side closed with (1006 when it went away without a close frame). */
  closeCode: number;
  closedBy: ClosedBy;
}

export interface RelayOptions {
  idleMs: number;
  onClose: (summary: WebSocketSummary) => void;
}

const IDLE_CLOSE = { code: 1001, reason: 'idle timeout' };
const ERROR_CLOSE = { code: 1011, reason: 'connection error' };

/**
 * Joins `client` (the Worker's end of the caller's socket) and `upstream`.
 * Both must not be accepted yet: binary messages are read as ArrayBuffers
 * (a Blob would be sent on as text), and half-open mode leaves each close to
 * the relay, so a close is passed on before it is answered.
 */
export function relaySockets(client: WebSocket, upstream: WebSocket, options: RelayOptions): void {
  const startedMs = Date.now();
  const fromClient: Tally = { messages: 0, bytes: 0 };
  const fromUpstream: Tally = { messages: 0, bytes: 0 };
  let lastMessageMs = startedMs;
  let ended = false;
  let idleTimer: ReturnType<typeof setTimeout> | null = null;

  /** The first ending wins; later close events are the other side's answers. */
  const end = (closeCode: number, closedBy: ClosedBy): boolean => {
    if (ended) return false;
    ended = true;
    clearTimeout(idleTimer);
    options.onClose({ durationMs: Date.now() - startedMs, fromClient, fromUpstream, closeCode, closedBy });
    return true;
  };
  const closeBoth = (close: { code: number; reason: string }) => {
    closeQuietly(client, close.code, close.reason);
    closeQuietly(upstream, close.code, close.reason);
  };

  const forward = (to: WebSocket, tally: Tally) => (event: MessageEvent) => {
    lastMessageMs = Date.now();
    tally.messages += 1;
    tally.bytes += sizeOf(event.data);
    try {
      to.send(event.data as string | ArrayBuffer);
    } catch {
      // The other side is closing: its close event ends the relay.
    }
  };
  const passClose = (from: WebSocket, to: WebSocket, closedBy: ClosedBy) => (event: CloseEvent) => {
    const { code, reason } = sendableClose(event.code, event.reason);
    if (end(event.code, closedBy)) closeQuietly(to, code, reason);
    // Half-open: the close frame received is answered here, once the other side was told.
    closeQuietly(from, code, reason);
  };
  const failed = () => {
    if (end(ERROR_CLOSE.code, 'error')) closeBoth(ERROR_CLOSE);
  };
  const checkIdle = () => {
    const idleFor = Date.now() - lastMessageMs;
    if (idleFor < options.idleMs) {
      idleTimer = setTimeout(checkIdle, options.idleMs - idleFor);
    } else if (end(IDLE_CLOSE.code, 'idle')) {
      closeBoth(IDLE_CLOSE);
    }
  };

  for (const socket of [client, upstream]) socket.binaryType = 'arraybuffer';
  client.addEventListener('message', forward(upstream, fromClient));
  upstream.addEventListener('message', forward(client, fromUpstream));
  client.addEventListener('close', passClose(client, upstream, 'client'));
  upstream.addEventListener('close', passClose(upstream, client, 'upstream'));
  client.addEventListener('error', failed);
  upstream.addEventListener('error', failed);
  upstream.accept({ allowHalfOpen: true });
  client.accept({ allowHalfOpen: true });
  idleTimer = setTimeout(checkIdle, options.idleMs);
}

/**
 * A received close as one that may be sent: 1005 (closed without a code)
 * passes on as a close without a code; 1006 and 1015 (went away, TLS
 * failure) and other codes no endpoint may send become 1011.
 */
export function sendableClose(code: number, reason: string): { code?: number; reason?: string } {
  if (code === 1005) return {};
  const sendable = code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
  return sendable ? { code, reason } : { code: ERROR_CLOSE.code, reason: 'connection lost' };
}

function closeQuietly(socket: WebSocket, code?: number, reason?: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // Already closed on this side.
  }
}

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return utf8Length(data);
  return data instanceof ArrayBuffer ? data.byteLength : 0;
}

/** UTF-8 byte length without encoding a copy of every message. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i += 1;
      } else {
        bytes += 3;
      }
    } else bytes += 3;
  }
  return bytes;
}
