// @ts-check
/**
 * Talking to the gateway: its address, the caller's token, and every failure
 * turned into words the page can show.
 */

/**
 * Where to call and with which credentials, read from the connection fields at each call.
 * `token` is for the WebSocket, which cannot send headers and carries it as a subprotocol.
 * @typedef {{ base: string, headers: Record<string, string>, token: string }} Connection
 */

/** What the page can explain to the user: the gateway's error envelope, or why no answer came. */
export class ShownError extends Error {
  /**
   * @param {string} message
   * @param {string} [details] type, status and request id, shown after the message
   */
  constructor(message, details = '') {
    super(message);
    this.details = details;
  }
}

/**
 * @param {string} url the gateway URL as typed
 * @param {string} token the client token as typed, or empty
 * @returns {Connection}
 */
export function connectionOf(url, token) {
  let parsed;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ShownError('The gateway URL is not a valid URL.');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ShownError('The gateway URL must start with http:// or https://.');
  const bearer = token.trim();
  return {
    base: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`,
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    token: bearer,
  };
}

/** @param {unknown} err */
export function isAbort(err) {
  return err instanceof Error && err.name === 'AbortError';
}

/**
 * fetch, with every failure turned into something the user can read.
 * @param {string} base
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function call(base, path, init = {}) {
  let res;
  try {
    res = await fetch(`${base}${path}`, init);
  } catch (err) {
    if (isAbort(err)) throw err;
    // The browser gives the page no detail here, on purpose: an unreachable host and a CORS refusal look the same.
    throw new ShownError(
      `No answer from ${base}: the gateway is unreachable, or the browser blocked its answer because this page's origin (${location.origin}) is not in the gateway's ALLOWED_ORIGINS.`,
    );
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/**
 * The envelope's message, with its type, status and request id as details.
 * @param {Response} res
 */
async function errorOf(res) {
  /** @type {{ type?: unknown, message?: unknown, request_id?: unknown } | undefined} */
  let envelope;
  try {
    envelope = JSON.parse(await res.text())?.error;
  } catch {
    envelope = undefined;
  }
  const message = typeof envelope?.message === 'string' ? envelope.message : `The gateway answered HTTP ${res.status}.`;
  const requestId = envelope?.request_id ?? res.headers.get('x-request-id');
  const details = [envelope?.type, `HTTP ${res.status}`, requestId && `request ${requestId}`].filter(Boolean).join(' · ');
  return new ShownError(message, details);
}

/**
 * Reads a body as text as it arrives; returns the byte count.
 * @param {ReadableStream<Uint8Array> | null} body
 * @param {(text: string) => void} onText
 * @returns {Promise<number>}
 */
export async function readStream(body, onText) {
  if (!body) return 0;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((err) => {
        throw isAbort(err) ? err : new ShownError(`The answer was cut off after ${bytes} bytes: the connection closed before the stream ended.`);
      });
      if (done) break;
      bytes += value.byteLength;
      onText(decoder.decode(value, { stream: true }));
    }
    onText(decoder.decode());
    return bytes;
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
}

/** @param {Response} res */
export function mediaType(res) {
  return (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * The aliases this caller may use, from the gateway's OpenAI-style list, each
 * with the modes the gateway says it takes (absent from an older gateway).
 * @param {Connection} connection
 * @returns {Promise<import('./models.js').ModelEntry[]>}
 */
export async function listModels(connection) {
  const list = await (await call(connection.base, '/v1/models', { headers: connection.headers })).json();
  return (Array.isArray(list?.data) ? list.data : []).map((/** @type {{ id: unknown, modes?: unknown }} */ model) => ({
    id: String(model.id),
    modes: Array.isArray(model.modes) ? model.modes.map(String) : undefined,
  }));
}

/**
 * The gateway's OpenAPI document as this caller sees it; optional, so any failure just means none.
 * @param {Connection} connection
 * @returns {Promise<Record<string, unknown> | null>}
 */
export async function fetchOpenApi(connection) {
  try {
    const res = await fetch(`${connection.base}/openapi.json`, { headers: connection.headers });
    return res.ok ? await res.json() : null;
  } catch {
    return null; // no document: no schemas shown, every mode offered; the gateway still checks each call
  }
}
