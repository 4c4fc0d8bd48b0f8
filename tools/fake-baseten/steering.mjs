/**
 * The `fake` steering fields shared by predict, async submit and custom sync routes: errors,
 * garbage, dropped connections, delays and hangs, and generated bodies (chunked streams, huge
 * plain bodies) written in flat memory.
 */

import { cutConnection, defaultErrorMessage, pause, sendError, sendJson, sendRaw, untilClosed, writeWithBackpressure } from './http.mjs';
import { isPositive } from './request.mjs';

/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Target} Target */

/** Slice size for large generated bodies: small enough to keep memory flat. */
const WRITE_SLICE_BYTES = 64 * 1024;

/**
 * Applies the `fake` steering fields shared by predict, async submit, custom sync routes and
 * the bodyless control answers, then falls back to `answerNormally`. See README.md.
 * @param {Ctx} ctx
 * @param {Record<string, any>} fake
 * @param {Target} target
 * @param {() => unknown} answerNormally
 */
export async function answerSteered(ctx, fake, target, answerNormally) {
  if (!(await leakHangOrDelay(ctx, fake, target))) return;
  // The request arrived whole, then the connection dropped before any answer byte: the case
  // where a client cannot tell whether the model ran, so it must not retry a predict.
  if (fake.reset || fake.refuse) return cutConnection(ctx, { refused: Boolean(fake.refuse) });
  if (fake.redirect) return redirect(ctx, fake);
  // Garbage where JSON belongs, on a success or (with `status`) an error answer.
  if (fake.garbage) return sendRaw(ctx, Number.isInteger(fake.status) ? fake.status : 200, 'application/json', '{"output": <this is not json');
  // A huge error body, to check that a client reads only what it needs of it.
  if (isPositive(fake.bytes) && Number.isInteger(fake.status)) return sendBytes(ctx, Math.floor(fake.bytes), fake.status);
  if (Number.isInteger(fake.status) && fake.status >= 400) return sendSteeredError(ctx, fake);
  if (fake.stream && typeof fake.stream === 'object') return streamChunks(ctx, fake.stream, Boolean(fake.close_mid_stream));
  if (isPositive(fake.bytes)) return sendBytes(ctx, Math.floor(fake.bytes));
  return answerNormally();
}

/**
 * A steered error. Without an `error_code`, a 500 is the model's own code failing inside Truss
 * (`X-BASETEN-ERROR-SOURCE: 04`, code 600); anything else is Baseten's edge speaking, with the
 * status's `error_code`. `truss: true|false` and `error_code: null` override that.
 * @param {Ctx} ctx
 * @param {Record<string, any>} fake
 */
export function sendSteeredError(ctx, fake) {
  const status = /** @type {number} */ (fake.status);
  const truss = typeof fake.truss === 'boolean' ? fake.truss : status === 500 && fake.error_code === undefined;
  return sendError(ctx, status, typeof fake.message === 'string' ? fake.message : defaultErrorMessage(status), {
    truss,
    trussCode: Number.isInteger(fake.truss_code) ? fake.truss_code : undefined,
    errorCode: typeof fake.error_code === 'string' || fake.error_code === null ? fake.error_code : undefined,
    detail: typeof fake.detail === 'string' ? fake.detail : undefined,
    retryAfter: typeof fake.retry_after === 'string' || typeof fake.retry_after === 'number' || fake.retry_after === null ? fake.retry_after : undefined,
  });
}

/**
 * A redirect to another host (by default `localhost` on the fake's own port, under
 * `/redirected`, so a client that follows it shows up in the log with whatever it sent).
 * @param {Ctx} ctx
 * @param {Record<string, any>} fake
 */
export function redirect(ctx, fake) {
  const location = typeof fake.redirect === 'string' ? fake.redirect : `http://localhost:${ctx.req.socket.localPort}/redirected${ctx.url.pathname}`;
  const status = [301, 302, 303, 307, 308].includes(fake.redirect_status) ? fake.redirect_status : 307;
  ctx.headers.location = location;
  return sendJson(ctx, status, { error: 'Moved' });
}

/**
 * A raw chunked stream, the shape a Truss generator produces. Never sets content-length, so
 * Node uses chunked transfer encoding, which `truss predict` relies on to detect a stream.
 * @param {Ctx} ctx
 * @param {Record<string, any>} spec
 * @param {boolean} closeMidStream
 */
async function streamChunks(ctx, spec, closeMidStream) {
  const chunks = Number.isInteger(spec.chunks) && spec.chunks >= 0 ? spec.chunks : 3;
  const chunkBytes = isPositive(spec.chunk_bytes) ? Math.floor(spec.chunk_bytes) : undefined;
  const delayMs = isPositive(spec.delay_ms) ? spec.delay_ms : 0;
  const firstDelayMs = isPositive(spec.first_delay_ms) ? spec.first_delay_ms : 0;
  const cutAfter = closeMidStream ? Math.max(1, Math.floor(chunks / 2)) : Infinity;
  const maker = createChunkMaker(chunkBytes);
  const { res } = ctx;

  res.writeHead(200, { ...ctx.headers, 'content-type': spec.content_type ?? 'application/octet-stream' });
  res.flushHeaders();
  for (let i = 0; i < chunks; i++) {
    const wait = i === 0 ? firstDelayMs : delayMs;
    if (wait > 0) await pause(wait, res);
    const chunk = maker.make(i);
    /** @type {() => void} */
    let markFlushed = () => {};
    const flushed = new Promise((resolve) => (markFlushed = () => resolve(undefined)));
    const written = await writeWithBackpressure(res, chunk, () => {
      maker.recycle(chunk);
      markFlushed();
    });
    if (!written) return;
    if (i + 1 >= cutAfter) {
      // Let the chunks already promised reach the client, so it sees a truncated stream.
      await Promise.race([flushed, untilClosed(res)]);
      return cutConnection(ctx);
    }
  }
  res.end();
}

/**
 * A plain body of `size` bytes with content-length, written slice by slice.
 * @param {Ctx} ctx
 * @param {number} size
 * @param {number} [status]
 */
async function sendBytes(ctx, size, status = 200) {
  const { res } = ctx;
  res.writeHead(status, { ...ctx.headers, 'content-type': 'application/octet-stream', 'content-length': String(size) });
  for (let sent = 0; sent < size; sent += WRITE_SLICE_BYTES) {
    const slice = PATTERN_BLOCK.subarray(0, Math.min(WRITE_SLICE_BYTES, size - sent));
    if (!(await writeWithBackpressure(res, slice))) return;
  }
  res.end();
}

/**
 * The steering every kind of answer honours before it starts: `leak_headers`, `stall_body`,
 * `hang` (until the client gives up) and `delay_ms`. The OpenAI routes share it, then answer in their own shapes.
 * @param {Ctx} ctx
 * @param {Record<string, any>} fake
 * @param {Target} target
 * @returns {Promise<boolean>} false when there is no one left to answer.
 */
export async function leakHangOrDelay(ctx, fake, target) {
  if (fake.leak_headers) addLeakyHeaders(ctx, target);
  if (fake.stall_body) ctx.stallBody = true;
  if (fake.hang) {
    await untilClosed(ctx.res);
    return false;
  }
  if (isPositive(fake.delay_ms)) {
    await pause(fake.delay_ms, ctx.res);
    if (ctx.res.destroyed) return false;
  }
  return true;
}

/**
 * Adds the headers a careless proxy would leak, so gateway tests can prove it drops them.
 * @param {Ctx} ctx
 * @param {Target} target
 */
function addLeakyHeaders(ctx, target) {
  Object.assign(ctx.headers, {
    'set-cookie': 'session=abc',
    'x-baseten-model-id': target.id,
    server: 'uvicorn',
    'x-internal-debug': '1',
  });
}

/**
 * Makes stream chunks. Chunk `i` is the line `chunk <i>` padded with dots to `size` bytes and
 * ending in a newline, so a reader can check order and completeness; without a size it is just
 * `chunk <i>\n`. Buffers are recycled once the socket has flushed them, so a 100 MB answer
 * uses a couple of buffers instead of a hundred waiting for the garbage collector.
 * @param {number | undefined} size
 */
function createChunkMaker(size) {
  /** @type {Buffer[]} */
  const spare = [];
  return {
    /** @param {number} i */
    make(i) {
      const line = `chunk ${i}\n`;
      if (size === undefined) return Buffer.from(line);
      const chunk = spare.pop() ?? Buffer.alloc(size, '.');
      chunk.fill('.', 0, Math.min(size, 32)); // clears the previous chunk's label
      chunk.write(`chunk ${i} `, 0, 'utf8');
      if (size > line.length) chunk[size - 1] = 0x0a;
      return chunk;
    },
    /** @param {Buffer} chunk */
    recycle(chunk) {
      if (size !== undefined) spare.push(chunk);
    },
  };
}

/** 64 KiB of a repeating 64-byte line: deterministic content for `bytes` answers. */
const PATTERN_BLOCK = Buffer.alloc(WRITE_SLICE_BYTES, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\n');
