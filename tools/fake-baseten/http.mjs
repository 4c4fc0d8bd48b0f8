/**
 * Writing answers: Baseten's error and JSON shapes, cutting a connection on purpose, and the
 * backpressure-aware writes and client-aware waits every streaming answer relies on.
 */

import { randomBytes } from 'node:crypto';
import http from 'node:http';

/** @typedef {import('./types.mjs').Ctx} Ctx */

/** The `error_code` Baseten's edge gives each status when it, not the model, answers. */
const ERROR_CODES = /** @type {Record<number, string>} */ ({
  400: 'client_error',
  401: 'unauthorized',
  403: 'unauthorized',
  404: 'model_does_not_exist',
  413: 'payload_too_large',
  422: 'client_error',
  429: 'rate_limited',
  500: 'internal_baseten_error',
  502: 'model_unavailable',
  503: 'model_unavailable',
  504: 'timeout',
});

/**
 * @typedef {object} ErrorOptions
 * @property {string | null} [errorCode] Baseten's `error_code`; null leaves it out, undefined picks the status's.
 * @property {string} [detail]
 * @property {boolean} [truss] A Truss server's own error: `{"error"}` only, with its source and code headers.
 * @property {number} [trussCode] `X-BASETEN-ERROR-CODE`: 600 by default on 500 (the model's code raised), else 700.
 * @property {string | number | null} [retryAfter] On 429 (default `1`) and 503; null leaves it out.
 */

/**
 * Baseten's error shape: `{"error", "error_code"?, "detail"?}`. An error from inside a Truss
 * server is the model's own `{"error"}` with `X-BASETEN-ERROR-SOURCE: 04` and its code.
 * @param {Ctx} ctx
 * @param {number} status
 * @param {string} message
 * @param {ErrorOptions} [opts]
 */
export function sendError(ctx, status, message, opts = {}) {
  const retryAfter = opts.retryAfter === undefined ? (status === 429 ? '1' : null) : opts.retryAfter;
  if (retryAfter !== null && (status === 429 || status === 503)) ctx.headers['retry-after'] = String(retryAfter);
  /** @type {Record<string, unknown>} */
  const body = { error: message };
  if (opts.truss) {
    ctx.headers['x-baseten-error-source'] = '04';
    ctx.headers['x-baseten-error-code'] = String(opts.trussCode ?? (status === 500 ? 600 : 700));
  } else {
    const code = opts.errorCode === undefined ? ERROR_CODES[status] : opts.errorCode;
    if (code) body.error_code = code;
  }
  if (typeof opts.detail === 'string') body.detail = opts.detail;
  return sendJson(ctx, status, body);
}

/**
 * @param {Ctx} ctx
 * @param {number} status
 * @param {unknown} value
 */
export function sendJson(ctx, status, value) {
  return sendRaw(ctx, status, 'application/json', JSON.stringify(value));
}

/**
 * A whole small answer with its content-length; with `stall_body`, only its first half, then
 * nothing until the client gives up.
 * @param {Ctx} ctx
 * @param {number} status
 * @param {string} contentType
 * @param {string} text
 */
export async function sendRaw(ctx, status, contentType, text) {
  if (ctx.res.destroyed || ctx.res.headersSent) return;
  const payload = Buffer.from(text, 'utf8');
  ctx.res.writeHead(status, { ...ctx.headers, 'content-type': contentType, 'content-length': String(payload.length) });
  if (!ctx.stallBody) return void ctx.res.end(payload);
  ctx.res.write(payload.subarray(0, Math.floor(payload.length / 2)));
  await untilClosed(ctx.res);
}

/**
 * Baseten's request ids are only documented as strings: 32 hex characters in every example,
 * or, when steered, an opaque shape with mixed case, `-` and `_`.
 * @param {'hex' | 'opaque'} shape
 */
export function newRequestId(shape) {
  if (shape !== 'opaque') return randomBytes(16).toString('hex');
  const part = () => randomBytes(6).toString('base64url').replace(/[-_]/g, 'x');
  return `req_${part()}-${part()}_${part()}`;
}

/**
 * Ends the connection before any answer byte. `refused` sends a TCP reset, which a client
 * reports as a refused or reset connection rather than an orderly close.
 * @param {Ctx} ctx
 * @param {{refused?: boolean}} [opts]
 */
export function cutConnection(ctx, opts = {}) {
  ctx.selfClosed = true;
  const socket = ctx.res.socket;
  if (opts.refused && socket && !socket.destroyed) socket.resetAndDestroy();
  else socket?.destroy();
  ctx.res.destroy();
}

/**
 * Writes one chunk, waiting for 'drain' when the socket buffer is full so large answers stay in
 * flat memory. Resolves false once the client has gone away.
 * @param {http.ServerResponse} res
 * @param {Buffer | string} chunk
 * @param {() => void} [onFlushed] Called once the chunk has left the process.
 * @returns {Promise<boolean>}
 */
export async function writeWithBackpressure(res, chunk, onFlushed) {
  if (res.destroyed) return false;
  if (res.write(chunk, onFlushed)) return true;
  await new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve(undefined);
    };
    res.once('drain', done);
    res.once('close', done);
  });
  return !res.destroyed;
}

/**
 * Waits `ms`, or less if the client goes away meanwhile.
 * @param {number} ms
 * @param {http.ServerResponse} res
 */
export function pause(ms, res) {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve(undefined);
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve(undefined);
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    res.once('close', done);
  });
}

/** @param {http.ServerResponse} res */
export function untilClosed(res) {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve(undefined);
    res.once('close', () => resolve(undefined));
  });
}

/**
 * Adds the request headers as received (lower-cased) when `echo_headers` asks for them, so tests
 * see exactly what the gateway forwarded.
 * @template {object} T
 * @param {Ctx} ctx
 * @param {Record<string, any>} fake
 * @param {T} value
 */
export function withEchoedHeaders(ctx, fake, value) {
  return fake.echo_headers ? { ...value, headers: { ...ctx.req.headers } } : value;
}

/** @param {number} status */
export function defaultErrorMessage(status) {
  if (status === 500) return 'Internal Server Error';
  if (status === 502) return 'Error making prediction';
  if (status === 429) return 'Too many requests';
  return http.STATUS_CODES[status] ?? 'Error';
}
