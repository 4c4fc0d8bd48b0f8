// @ts-check
/**
 * WebSocket mode: the first message opens a socket to the alias's WebSocket
 * route, later ones go on it, and every frame either way is listed as it
 * passes. A browser cannot set headers on a WebSocket, so the token travels
 * as the subprotocol `bearer.<token>`, beside `gateway` for the gateway to
 * select (a handshake that selects none of the offered subprotocols fails).
 */
import { call, ShownError } from './api.js';
import { appendOutput, setStatus } from './ui.js';

/** @type {WebSocket | null} */
let socket = null;

/**
 * Sends text on the alias's socket, opening one first if none is open.
 * @param {import('./api.js').Connection} connection
 * @param {string} alias
 * @param {string} text
 */
export async function sendText(connection, alias, text) {
  const open = socket?.readyState === WebSocket.OPEN ? socket : await connect(connection, alias);
  open.send(text);
  appendOutput(`→ ${text}\n`);
}

/** Closes the socket from the page; its close is listed like any other. */
export function closeSocket() {
  socket?.close(1000, 'closed in the playground');
}

/** Forgets the socket without listing its close: another alias or mode replaces it. */
export function dropSocket() {
  const old = socket;
  socket = null;
  old?.close(1000, 'closed in the playground');
}

/**
 * @param {import('./api.js').Connection} connection
 * @param {string} alias
 * @returns {Promise<WebSocket>}
 */
async function connect(connection, alias) {
  dropSocket();
  setStatus('Opening the WebSocket…');
  const ws = openSocket(connection, alias);
  ws.binaryType = 'arraybuffer';
  socket = ws;
  const opened = await new Promise((resolve) => {
    ws.addEventListener('open', () => resolve(true), { once: true });
    ws.addEventListener('close', () => resolve(false), { once: true });
  });
  if (socket !== ws) throw new DOMException('replaced', 'AbortError');
  if (!opened) {
    socket = null;
    throw await handshakeError(connection, alias);
  }
  ws.addEventListener('message', (event) => {
    if (socket === ws) appendOutput(`← ${typeof event.data === 'string' ? event.data : `[binary, ${event.data.byteLength} bytes]`}\n`);
  });
  ws.addEventListener('close', (event) => {
    if (socket !== ws) return;
    socket = null;
    appendOutput(`× closed ${event.code}${event.reason ? ` ${event.reason}` : ''}\n`);
    setStatus(`Closed with code ${event.code}. The next frame opens a new socket.`);
  });
  setStatus(`Connected${ws.protocol ? ` (subprotocol ${ws.protocol})` : ''}.`);
  return ws;
}

/**
 * @param {import('./api.js').Connection} connection
 * @param {string} alias
 */
function openSocket(connection, alias) {
  const url = `${connection.base.replace(/^http/, 'ws')}/v1/models/${encodeURIComponent(alias)}/websocket`;
  try {
    return new WebSocket(url, connection.token ? ['gateway', `bearer.${connection.token}`] : ['gateway']);
  } catch {
    throw new ShownError('This token cannot travel as a WebSocket subprotocol (it holds characters a subprotocol may not).');
  }
}

/**
 * The browser says nothing of why a handshake failed; the same route without
 * the upgrade answers the gateway's own refusal (token, alias, rate limit).
 * @param {import('./api.js').Connection} connection
 * @param {string} alias
 */
async function handshakeError(connection, alias) {
  try {
    await call(connection.base, `/v1/models/${encodeURIComponent(alias)}/websocket`, { headers: connection.headers });
  } catch (err) {
    if (err instanceof ShownError && !/invalid_request/.test(err.details)) return err;
  }
  return new ShownError('The WebSocket did not open: the model refused it or could not be reached.');
}
