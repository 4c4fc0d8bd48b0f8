/**
 * Writing answers: Baseten's error and JSON shapes, cutting a connection on purpose, and the
 * backpressure-aware writes and client-aware waits every streaming answer relies on.
 */

import http from 'node:http';

/** @typedef {import('./types.mjs').Ctx} Ctx */

/**
 * Baseten's error shape: `{"error": "<message>"}`. Errors from inside a Truss server carry
 * its error-source and error-code headers.
 * @param {Ctx} ctx
 * @param {number} status
 * @param {string} message
 * @param {{truss?: boolean}} [opts]
 */
export function sendError(ctx, status, message, opts = {}) {
  if (status === 429) ctx.headers['retry-after'] = '1';
  if (opts.truss && status === 500) {
    ctx.headers['x-baseten-error-source'] = '04';
    ctx.headers['x-baseten-error-code'] = '600';
  }
  return sendJson(ctx, status, { error: message });
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
 * @param {Ctx} ctx
 * @param {number} status
 * @param {string} contentType
 * @param {string} text
 */
export function sendRaw(ctx, status, contentType, text) {
  if (ctx.res.destroyed || ctx.res.headersSent) return;
  const payload = Buffer.from(text, 'utf8');
  ctx.res.writeHead(status, { ...ctx.headers, 'content-type': contentType, 'content-length': String(payload.length) });
  ctx.res.end(payload);
}

/** @param {Ctx} ctx */
export function cutConnection(ctx) {
  ctx.selfClosed = true;
  ctx.res.socket?.destroy();
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
