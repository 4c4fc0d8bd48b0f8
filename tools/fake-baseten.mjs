#!/usr/bin/env node
/**
 * A local stand-in for Baseten's inference API, for the gateway's tests and for `npm run dev`.
 *
 * The gateway reaches it through the URL template `http://127.0.0.1:PORT/{subdomain}`, so every
 * path starts with `/model-<id>` or `/chain-<id>` and continues with Baseten's real path:
 * `/production/predict`, `/environments/<env>/async_predict`, `/async_request/<id>`,
 * `/deployment/<id>/sync/v1/chat/completions`, and so on.
 *
 * It follows Baseten's documented behaviour (auth, error shape, predict echo, chunked streaming,
 * async lifecycle, signed webhooks, wake, sync routes, OpenAI-compatible engines) and lets a test
 * steer each request through a `fake` object in the JSON body, so gateway tests can provoke the
 * situations that are hard to get from the real service: errors, slow or broken streams, huge
 * bodies, leaked headers, failing webhooks.
 *
 * Run directly: `node tools/fake-baseten.mjs [--port 8788]`.
 */

import http from 'node:http';
import https from 'node:https';
import { createHmac, createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Baseten's async payload cap (256 KiB by default). */
const ASYNC_PAYLOAD_CAP = 262_144;
/** Baseten's edge cap on any request body (100 MB); larger bodies are answered 413. */
const EDGE_BODY_CAP = 100 * 1024 * 1024;
/** How much of each request body the log keeps as text. */
const LOGGED_BODY_BYTES = 64 * 1024;
/** Slice size for large generated bodies: small enough to keep memory flat. */
const WRITE_SLICE_BYTES = 64 * 1024;
/** Baseten waits about 2 s before its single webhook retry, and gives each attempt 10 s. */
const WEBHOOK_RETRY_DELAY_MS = 2_000;
const WEBHOOK_TIMEOUT_MS = 10_000;
const WEBHOOK_RETRYABLE = new Set([500, 502, 503, 504]);
const DEFAULT_QUEUE_MS = 50;
const DEFAULT_RUN_MS = 50;
/** Baseten's default `max_time_in_queue_seconds`. */
const DEFAULT_MAX_QUEUE_SECONDS = 600;

/**
 * @typedef {object} FakeOptions
 * @property {number} [port] 0 picks a free port.
 * @property {string} [host]
 * @property {string} [apiKey] Accepted as `Api-Key <key>` or `Bearer <key>`.
 * @property {string[]} [webhookSecrets] Newest first; one `v1=` signature is sent per secret.
 * @property {Record<string, string>} [servedNames] model id -> served model name on `/sync/v1`.
 * @property {number} [timeScale] Multiplies the webhook retry delay and per-attempt timeout.
 * @property {201 | 202} [asyncStatusCode] Baseten's docs show both for a queued async request.
 */

/**
 * @typedef {object} RecordedRequest
 * @property {string} method
 * @property {string} path
 * @property {string} query Raw query string without `?`.
 * @property {Record<string, string | string[] | undefined>} headers Lower-cased names.
 * @property {string} body First 64 KiB as UTF-8 text.
 * @property {number} bodyBytes Total body length.
 * @property {number} time Arrival, ms since epoch.
 * @property {boolean} aborted Set when the client went away before the answer finished.
 * @property {boolean} finished Set once the whole answer has been handed to the socket.
 */

/**
 * @typedef {object} WebhookDelivery
 * @property {string} request_id
 * @property {string} url
 * @property {number} attempt 1 for the first try, 2 for the retry.
 * @property {number | 'refused' | 'error'} status Receiver's HTTP status, or why none.
 * @property {string} body Exact bytes sent (or that would have been sent).
 * @property {string | null} signature The `X-BASETEN-SIGNATURE` value.
 * @property {string} [error]
 * @property {number} time
 */

/**
 * @typedef {object} AsyncRecord
 * @property {string} request_id
 * @property {'model' | 'chain'} kind
 * @property {string} ownerId
 * @property {string} deploymentLabel
 * @property {string} deploymentId
 * @property {string} status
 * @property {string} webhook_status
 * @property {string} created_at
 * @property {string} status_at
 * @property {{code: string, message: string}[]} errors
 * @property {unknown} model_input
 * @property {Record<string, any>} fake
 * @property {string | null} webhook_endpoint
 * @property {number} maxQueueSeconds
 * @property {unknown} data
 * @property {number} statusResets Status lookups cut so far (`reset_status_first`).
 */

/**
 * @typedef {object} FakeBaseten
 * @property {string} url
 * @property {number} port
 * @property {RecordedRequest[]} requests
 * @property {WebhookDelivery[]} webhookDeliveries
 * @property {() => void} reset
 * @property {() => Promise<void>} close
 * @property {(id: string) => (Record<string, unknown> | undefined)} asyncRequest
 */

/**
 * @typedef {object} Target
 * @property {'model' | 'chain'} kind
 * @property {string} id
 * @property {string[]} segments Path segments after `/model-<id>`.
 */

/**
 * @typedef {object} Deployment
 * @property {string} label `production`, `development`, `environments/<env>` or `deployment/<id>`.
 * @property {string} deploymentId
 * @property {string[]} endpoint Remaining segments, e.g. `['predict']` or `['sync', 'v1', 'models']`.
 */

/**
 * @typedef {object} Body
 * @property {Buffer[]} chunks
 * @property {number} length
 * @property {boolean} tooLarge
 */

/**
 * Per-request working state.
 * @typedef {object} Ctx
 * @property {http.IncomingMessage} req
 * @property {http.ServerResponse} res
 * @property {URL} url
 * @property {RecordedRequest} entry
 * @property {Record<string, string>} headers Added to every answer to this request.
 * @property {boolean} selfClosed True when the fake cut the connection on purpose.
 * @property {Body} body
 */

/**
 * Starts the fake on a local port.
 * @param {FakeOptions} [options]
 * @returns {Promise<FakeBaseten>}
 */
export async function startFakeBaseten(options = {}) {
  const config = {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    apiKey: options.apiKey ?? 'fake-baseten-key',
    webhookSecrets: options.webhookSecrets ?? ['whsec_fake'],
    servedNames: options.servedNames ?? {},
    timeScale: options.timeScale ?? 1,
    asyncStatusCode: options.asyncStatusCode ?? 201,
  };

  const state = {
    /** @type {RecordedRequest[]} */
    requests: [],
    /** @type {WebhookDelivery[]} */
    webhookDeliveries: [],
    /** @type {Map<string, AsyncRecord>} */
    asyncRequests: new Map(),
    /** @type {Set<NodeJS.Timeout>} */
    timers: new Set(),
    // Aborted by reset() and close() so in-flight webhook work from an earlier test stops.
    lifetime: new AbortController(),
  };

  const app = createApp(config, state);
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    app.handle(req, res).catch((err) => answerCrash(res, err));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve(undefined));
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const hostForUrl = address.address.includes(':') ? `[${address.address}]` : address.address;

  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    requests: state.requests,
    webhookDeliveries: state.webhookDeliveries,
    reset: app.reset,
    async close() {
      // The logs stay readable after close; only the work that could outlive the server stops.
      app.stopAsyncWork();
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      server.closeAllConnections();
      await closed;
    },
    asyncRequest(id) {
      const record = state.asyncRequests.get(id);
      return record && asyncSnapshot(record);
    },
  };
}

/**
 * Builds the request handler around the shared config and state.
 * @param {Required<FakeOptions>} config
 * @param {{requests: RecordedRequest[], webhookDeliveries: WebhookDelivery[], asyncRequests: Map<string, AsyncRecord>, timers: Set<NodeJS.Timeout>, lifetime: AbortController}} state
 */
function createApp(config, state) {
  /**
   * Runs `fn` after `ms` without keeping the process alive; reset() and close() cancel it.
   * @param {() => void} fn
   * @param {number} ms
   */
  function schedule(fn, ms) {
    const timer = setTimeout(() => {
      state.timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    timer.unref();
    state.timers.add(timer);
  }

  /** @param {number} ms */
  function later(ms) {
    return new Promise((resolve) => schedule(() => resolve(undefined), ms));
  }

  /** Stops pending lifecycle timers and webhook deliveries. */
  function stopAsyncWork() {
    for (const timer of state.timers) clearTimeout(timer);
    state.timers.clear();
    state.lifetime.abort();
    state.lifetime = new AbortController();
  }

  /** Forgets the log and all async requests. */
  function reset() {
    // Emptied in place: tests may hold references to these arrays.
    state.requests.length = 0;
    state.webhookDeliveries.length = 0;
    state.asyncRequests.clear();
    stopAsyncWork();
  }

  /**
   * @param {http.IncomingMessage} req
   * @param {http.ServerResponse} res
   */
  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    if (url.pathname.startsWith('/__fake/')) return handleControl(req, res, url);

    /** @type {RecordedRequest} */
    const entry = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search.slice(1),
      headers: { ...req.headers },
      body: '',
      bodyBytes: 0,
      time: Date.now(),
      aborted: false,
      finished: false,
    };
    const seq = state.requests.push(entry) - 1;
    /** @type {Ctx} */
    const ctx = { req, res, url, entry, headers: { 'x-fake-request-seq': String(seq) }, selfClosed: false, body: { chunks: [], length: 0, tooLarge: false } };
    // Tests prove the gateway cancelled its upstream fetch by this flag.
    res.on('close', () => {
      if (!res.writableFinished && !ctx.selfClosed) entry.aborted = true;
    });
    // Lets a test see that a streamed answer reached it while the fake was still writing.
    res.on('finish', () => {
      entry.finished = true;
    });

    const body = await readBody(req, entry);
    if (!body) return; // the client went away while sending
    ctx.body = body;
    await route(ctx);
  }

  /**
   * Control routes for tests running in another process. Not logged, so the log shows only
   * what the gateway sent.
   * @param {http.IncomingMessage} req
   * @param {http.ServerResponse} res
   * @param {URL} url
   */
  function handleControl(req, res, url) {
    req.resume();
    const send = (/** @type {number} */ status, /** @type {unknown} */ value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const key = `${req.method} ${url.pathname}`;
    if (key === 'GET /__fake/requests') return send(200, state.requests);
    if (key === 'GET /__fake/webhooks') return send(200, state.webhookDeliveries);
    if (key === 'POST /__fake/reset') {
      reset();
      return send(200, { ok: true });
    }
    if (key === 'GET /__fake/stats') {
      // Lets an out-of-process test check that big streams stay in flat memory.
      return send(200, { rss: process.memoryUsage.rss(), maxRss: process.resourceUsage().maxRSS * 1024 });
    }
    const asyncMatch = /^\/__fake\/async\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && asyncMatch) {
      const record = state.asyncRequests.get(asyncMatch[1] ?? '');
      if (!record) return send(404, { error: 'Unknown async request' });
      return send(200, asyncSnapshot(record));
    }
    return send(404, { error: 'Unknown control route' });
  }

  /**
   * Baseten's edge checks auth, size and the model before the model sees anything.
   * @param {Ctx} ctx
   */
  async function route(ctx) {
    const target = parseTarget(ctx.url.pathname);
    if (!target) return sendError(ctx, 404, 'Route not found');
    if (!isAuthorized(ctx.req.headers.authorization, config.apiKey)) {
      return sendError(ctx, 401, ctx.req.headers.authorization ? 'Invalid API key' : 'Missing API key');
    }
    if (ctx.body.tooLarge) return sendError(ctx, 413, 'Request Entity Too Large');
    if (target.id.startsWith('gone')) return sendError(ctx, 404, 'Model not found');

    const [first, requestId, ...extra] = target.segments;
    if (first === 'async_request' && requestId && extra.length === 0) {
      if (ctx.req.method === 'GET') return getAsyncStatus(ctx, target, requestId);
      if (ctx.req.method === 'DELETE') return cancelAsync(ctx, target, requestId);
      return sendError(ctx, 405, 'Method not allowed');
    }

    const deployment = parseDeployment(target.segments);
    if (!deployment) return sendError(ctx, 404, 'Route not found');
    return routeEndpoint(ctx, target, deployment);
  }

  /**
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {Deployment} deployment
   */
  async function routeEndpoint(ctx, target, deployment) {
    const [name, ...rest] = deployment.endpoint;
    const method = ctx.req.method;
    const predictName = target.kind === 'model' ? 'predict' : 'run_remote';
    const only = (/** @type {string} */ allowed, /** @type {() => unknown} */ fn) =>
      method === allowed ? fn() : sendError(ctx, 405, 'Method not allowed');

    if (name === 'sync') return handleSync(ctx, target, deployment, rest);
    if (rest.length > 0) return sendError(ctx, 404, 'Route not found');
    if (name === predictName) return only('POST', () => handlePredict(ctx, target, deployment));
    if (name === `async_${predictName}`) return only('POST', () => submitAsync(ctx, target, deployment));
    if (name === 'async_queue_status') return only('GET', () => queueStatus(ctx, target, deployment));
    if (name === 'wake') return only('POST', () => sendJson(ctx, 202, {}));
    return sendError(ctx, 404, 'Route not found');
  }

  // ---------------------------------------------------------------------------------------------
  // Predict / run_remote

  /**
   * Echoes the input the way a simple Truss model would; binary (msgpack) bodies come back as is.
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {Deployment} deployment
   */
  async function handlePredict(ctx, target, deployment) {
    if (isBinary(ctx.req)) return echoBinary(ctx);
    const parsed = parseJson(ctx.body);
    if (!parsed.ok) return sendError(ctx, 400, 'Invalid JSON payload');
    const input = parsed.value;
    const fake = steeringOf(input);
    return answerSteered(ctx, fake, target, () =>
      sendJson(ctx, 200, withEchoedHeaders(ctx, fake, { model: target.id, kind: target.kind, deployment: deployment.label, input })),
    );
  }

  /**
   * Applies the `fake` steering fields shared by predict, async submit and custom sync routes,
   * then falls back to `answerNormally`.
   * @param {Ctx} ctx
   * @param {Record<string, any>} fake
   * @param {Target} target
   * @param {() => unknown} answerNormally
   */
  async function answerSteered(ctx, fake, target, answerNormally) {
    if (fake.leak_headers) addLeakyHeaders(ctx, target);
    if (fake.hang) return untilClosed(ctx.res);
    if (isPositive(fake.delay_ms)) {
      await pause(fake.delay_ms, ctx.res);
      if (ctx.res.destroyed) return;
    }
    // The request arrived whole, then the connection dropped before any answer byte: the case
    // where a client cannot tell whether the model ran, so it must not retry a predict.
    if (fake.reset) return cutConnection(ctx);
    // Garbage where JSON belongs, on a success or (with `status`) an error answer.
    if (fake.garbage) return sendRaw(ctx, Number.isInteger(fake.status) ? fake.status : 200, 'application/json', '{"output": <this is not json');
    // A huge error body, to check that a client reads only what it needs of it.
    if (isPositive(fake.bytes) && Number.isInteger(fake.status)) return sendBytes(ctx, Math.floor(fake.bytes), fake.status);
    if (Number.isInteger(fake.status) && fake.status >= 400) {
      return sendError(ctx, fake.status, typeof fake.message === 'string' ? fake.message : defaultErrorMessage(fake.status), { truss: true });
    }
    if (fake.stream && typeof fake.stream === 'object') return streamChunks(ctx, fake.stream, Boolean(fake.close_mid_stream));
    if (isPositive(fake.bytes)) return sendBytes(ctx, Math.floor(fake.bytes));
    return answerNormally();
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
   * Sends back exactly the bytes received, as Truss does for `application/octet-stream` I/O.
   * @param {Ctx} ctx
   */
  async function echoBinary(ctx) {
    const { res } = ctx;
    res.writeHead(200, { ...ctx.headers, 'content-type': 'application/octet-stream', 'content-length': String(ctx.body.length) });
    for (const chunk of ctx.body.chunks) {
      if (!(await writeWithBackpressure(res, chunk))) return;
    }
    res.end();
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
   * `?fake_reset_first=N` on a custom route (bodiless requests cannot carry `fake`): the first N
   * requests with this x-request-id lose their connection before any answer byte, so a test can
   * watch a client retry.
   * @param {Ctx} ctx
   */
  function dropFirstAttempts(ctx) {
    const drops = Number(ctx.url.searchParams.get('fake_reset_first') ?? 0);
    if (!(drops > 0)) return false;
    const id = ctx.req.headers['x-request-id'];
    const seen = state.requests.filter((r) => r.headers['x-request-id'] === id && r.path === ctx.entry.path).length;
    return seen <= drops;
  }

  // ---------------------------------------------------------------------------------------------
  // Async inference

  /**
   * `POST .../async_predict` (chains: `.../async_run_remote`).
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {Deployment} deployment
   */
  async function submitAsync(ctx, target, deployment) {
    if (ctx.body.length > ASYNC_PAYLOAD_CAP) {
      return sendError(ctx, 413, `payload size of ${ctx.body.length} bytes exceeds maximum size of ${ASYNC_PAYLOAD_CAP} bytes`);
    }
    const parsed = parseJson(ctx.body);
    if (!parsed.ok) return sendError(ctx, 400, 'Invalid JSON payload');
    const problem = validateAsyncBody(parsed.value);
    if (problem) return sendError(ctx, 400, problem);

    const body = /** @type {Record<string, any>} */ (parsed.value);
    const fake = steeringOf(body.model_input);
    return answerSteered(ctx, fake, target, () => {
      const record = createAsyncRecord(target, deployment, body, fake);
      startLifecycle(record);
      // `async_status: 202` (or 201) picks the documented success code for this one request.
      const status = fake.async_status === 201 || fake.async_status === 202 ? fake.async_status : config.asyncStatusCode;
      return sendJson(ctx, status, { request_id: record.request_id });
    });
  }

  /**
   * @param {Target} target
   * @param {Deployment} deployment
   * @param {Record<string, any>} body
   * @param {Record<string, any>} fake
   * @returns {AsyncRecord}
   */
  function createAsyncRecord(target, deployment, body, fake) {
    const now = new Date().toISOString();
    /** @type {AsyncRecord} */
    const record = {
      request_id: randomBytes(16).toString('hex'),
      kind: target.kind,
      ownerId: target.id,
      deploymentLabel: deployment.label,
      deploymentId: deployment.deploymentId,
      status: 'QUEUED',
      webhook_status: body.webhook_endpoint ? 'PENDING' : 'NO_WEBHOOK_PROVIDED',
      created_at: now,
      status_at: now,
      errors: [],
      model_input: body.model_input,
      fake,
      webhook_endpoint: body.webhook_endpoint ?? null,
      maxQueueSeconds: body.max_time_in_queue_seconds ?? DEFAULT_MAX_QUEUE_SECONDS,
      data: null,
      statusResets: 0,
    };
    state.asyncRequests.set(record.request_id, record);
    return record;
  }

  /**
   * QUEUED -> IN_PROGRESS -> SUCCEEDED | FAILED, or QUEUED -> EXPIRED, on timers.
   * @param {AsyncRecord} record
   */
  function startLifecycle(record) {
    const { fake } = record;
    const queueMs = isNonNegative(fake.queue_ms) ? fake.queue_ms : DEFAULT_QUEUE_MS;
    const runMs = isNonNegative(fake.run_ms) ? fake.run_ms : DEFAULT_RUN_MS;
    const maxQueueMs = record.maxQueueSeconds * 1000;
    const expires = Boolean(fake.expire) || queueMs > maxQueueMs;

    schedule(() => {
      if (record.status !== 'QUEUED') return; // canceled meanwhile
      if (expires) {
        setStatus(record, 'EXPIRED');
        if (record.webhook_endpoint) record.webhook_status = 'CANCELED';
        return;
      }
      setStatus(record, 'IN_PROGRESS');
      schedule(() => finishInference(record), runMs);
    }, expires ? Math.min(queueMs, maxQueueMs) : queueMs);
  }

  /** @param {AsyncRecord} record */
  function finishInference(record) {
    if (record.fake.fail) {
      record.errors = [{ code: 'MODEL_PREDICT_ERROR', message: typeof record.fake.message === 'string' ? record.fake.message : 'Exception while running predict' }];
      record.data = null;
      setStatus(record, 'FAILED');
    } else {
      record.data = { echo: record.model_input };
      setStatus(record, 'SUCCEEDED');
    }
    if (record.webhook_endpoint) {
      deliverWebhook(record).catch(() => {
        // Only reachable after reset()/close() aborted the delivery; nothing left to update.
      });
    }
  }

  /**
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {string} requestId
   */
  function getAsyncStatus(ctx, target, requestId) {
    const record = findAsync(target, requestId);
    if (!record) return sendError(ctx, 404, `Async request ${requestId} not found`);
    // `model_input.fake.reset_status_first: N`: the first N status lookups lose their connection
    // before any answer byte, so a test can watch the client retry a safe GET.
    if ((record.fake.reset_status_first ?? 0) > record.statusResets) {
      record.statusResets += 1;
      return cutConnection(ctx);
    }
    return sendJson(ctx, 200, asyncStatusBody(record));
  }

  /**
   * Only QUEUED requests can be canceled; an IN_PROGRESS one runs to completion.
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {string} requestId
   */
  function cancelAsync(ctx, target, requestId) {
    const record = findAsync(target, requestId);
    if (!record) return sendError(ctx, 404, `Async request ${requestId} not found`);
    if (record.status !== 'QUEUED') {
      return sendJson(ctx, 200, { request_id: requestId, canceled: false, message: `request is ${record.status} and cannot be canceled` });
    }
    setStatus(record, 'CANCELED');
    if (record.webhook_endpoint) record.webhook_status = 'CANCELED';
    return sendJson(ctx, 200, { request_id: requestId, canceled: true, message: 'request canceled' });
  }

  /**
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {Deployment} deployment
   */
  function queueStatus(ctx, target, deployment) {
    let queued = 0;
    let inProgress = 0;
    for (const record of state.asyncRequests.values()) {
      if (record.kind !== target.kind || record.ownerId !== target.id || record.deploymentLabel !== deployment.label) continue;
      if (record.status === 'QUEUED') queued++;
      if (record.status === 'IN_PROGRESS') inProgress++;
    }
    return sendJson(ctx, 200, {
      [`${target.kind}_id`]: target.id,
      deployment_id: deployment.deploymentId,
      num_queued_requests: queued,
      num_in_progress_requests: inProgress,
    });
  }

  /**
   * Request ids are global, but an id asked for under the wrong model is treated as unknown.
   * @param {Target} target
   * @param {string} requestId
   */
  function findAsync(target, requestId) {
    const record = state.asyncRequests.get(requestId);
    return record && record.kind === target.kind && record.ownerId === target.id ? record : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Webhooks

  /**
   * Delivers the result like Baseten: signed compact JSON, one retry after ~2 s on 5xx or a
   * connection error, WEBHOOK_FAILED when both attempts fail.
   * @param {AsyncRecord} record
   */
  async function deliverWebhook(record) {
    const { signal } = state.lifetime;
    const { fake } = record;
    const sentAt = fake.stale ? new Date(Date.now() - 10 * 60 * 1000) : new Date();
    const body = JSON.stringify({
      request_id: record.request_id,
      [`${record.kind}_id`]: record.ownerId,
      deployment_id: record.deploymentId,
      type: 'async_request_completed',
      time: sentAt.toISOString(),
      data: record.data,
      errors: record.errors,
    });
    const secrets = fake.bad_signature ? config.webhookSecrets.map((_, i) => `whsec_wrong_${i}`) : config.webhookSecrets;
    const signature = secrets.length > 0 ? secrets.map((secret) => `v1=${hmacHex(secret, body)}`).join(',') : null;
    const url = /** @type {string} */ (record.webhook_endpoint);

    let delivered = await attemptWithRetry(record, url, body, signature, signal);
    // A duplicate delivery of the same bytes, to test that receivers are idempotent.
    if (fake.deliver_twice && !signal.aborted) {
      const again = await attemptWebhook(record, url, body, signature, 1, signal);
      delivered = delivered || again === 'ok';
    }
    if (signal.aborted) return;
    record.webhook_status = delivered ? 'SUCCEEDED' : 'FAILED';
    // "Inference succeeded but webhook delivery failed"; a failed inference stays FAILED.
    if (!delivered && record.status === 'SUCCEEDED') setStatus(record, 'WEBHOOK_FAILED');
  }

  /**
   * @param {AsyncRecord} record
   * @param {string} url
   * @param {string} body
   * @param {string | null} signature
   * @param {AbortSignal} signal
   * @returns {Promise<boolean>}
   */
  async function attemptWithRetry(record, url, body, signature, signal) {
    const first = await attemptWebhook(record, url, body, signature, 1, signal);
    if (first !== 'retry' || signal.aborted) return first === 'ok';
    await later(WEBHOOK_RETRY_DELAY_MS * config.timeScale);
    if (signal.aborted) return false;
    return (await attemptWebhook(record, url, body, signature, 2, signal)) === 'ok';
  }

  /**
   * One POST to the receiver. Only loopback hosts are contacted: the fake never reaches out.
   * @param {AsyncRecord} record
   * @param {string} url
   * @param {string} body
   * @param {string | null} signature
   * @param {number} attempt
   * @param {AbortSignal} signal
   * @returns {Promise<'ok' | 'retry' | 'fail'>}
   */
  async function attemptWebhook(record, url, body, signature, attempt, signal) {
    /** @type {WebhookDelivery} */
    const delivery = { request_id: record.request_id, url, attempt, status: 'refused', body, signature, time: Date.now() };
    if (!isLoopbackUrl(url)) {
      delivery.error = 'not a loopback host; the fake only delivers locally';
      state.webhookDeliveries.push(delivery);
      return 'fail';
    }
    /** @type {Record<string, string>} */
    const headers = { 'content-type': 'application/json', 'x-baseten-request-id': record.request_id };
    if (signature) headers['x-baseten-signature'] = signature;
    try {
      const status = await postOnce(url, headers, body, WEBHOOK_TIMEOUT_MS * config.timeScale, signal);
      if (signal.aborted) return 'fail';
      delivery.status = status;
      state.webhookDeliveries.push(delivery);
      if (status >= 200 && status < 300) return 'ok';
      return WEBHOOK_RETRYABLE.has(status) ? 'retry' : 'fail';
    } catch (err) {
      if (signal.aborted) return 'fail';
      delivery.status = 'error';
      delivery.error = err instanceof Error ? err.message : String(err);
      state.webhookDeliveries.push(delivery);
      return 'retry';
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Sync routes: custom servers and OpenAI-compatible engines

  /**
   * `.../sync/<route>` reaches the container's `/<route>`.
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {Deployment} deployment
   * @param {string[]} routeSegments
   */
  async function handleSync(ctx, target, deployment, routeSegments) {
    const routePath = `/${routeSegments.join('/')}`;
    if (dropFirstAttempts(ctx)) return cutConnection(ctx);
    if (routeSegments[0] === 'v1') return handleOpenAI(ctx, target, routePath);
    if (routePath === '/health') return sendJson(ctx, 200, { status: 'ok' });

    const text = bodyText(ctx.body);
    const parsed = parseJson(ctx.body);
    const fake = parsed.ok ? steeringOf(parsed.value) : {};
    return answerSteered(ctx, fake, target, () =>
      sendJson(ctx, 200, withEchoedHeaders(ctx, fake, { route: routePath, method: ctx.req.method, query: ctx.url.search.slice(1), body: text })),
    );
  }

  /**
   * An OpenAI-compatible engine (vLLM, BIS-LLM and the like) behind `/sync/v1`.
   * @param {Ctx} ctx
   * @param {Target} target
   * @param {string} routePath
   */
  async function handleOpenAI(ctx, target, routePath) {
    const servedName = config.servedNames[target.id];
    const method = ctx.req.method;
    if (routePath === '/v1/models') {
      if (method !== 'GET') return sendOpenAIError(ctx, 405, 'Method Not Allowed');
      return sendJson(ctx, 200, {
        object: 'list',
        data: [{ id: servedName ?? target.id, object: 'model', created: nowSeconds(), owned_by: 'baseten' }],
      });
    }
    const handlers = { '/v1/chat/completions': chatCompletions, '/v1/completions': textCompletions, '/v1/embeddings': embeddings };
    const handler = handlers[/** @type {keyof typeof handlers} */ (routePath)];
    if (!handler) return sendOpenAIError(ctx, 404, 'Not Found');
    if (method !== 'POST') return sendOpenAIError(ctx, 405, 'Method Not Allowed');

    const parsed = parseJson(ctx.body);
    if (!parsed.ok || !isObject(parsed.value)) return sendOpenAIError(ctx, 400, 'Request body must be a JSON object');
    const body = /** @type {Record<string, any>} */ (parsed.value);
    const fake = steeringOf(body);
    if (fake.leak_headers) addLeakyHeaders(ctx, target);
    if (fake.hang) return untilClosed(ctx.res);
    if (isPositive(fake.delay_ms)) {
      await pause(fake.delay_ms, ctx.res);
      if (ctx.res.destroyed) return;
    }
    if (Number.isInteger(fake.status) && fake.status >= 400) {
      return sendOpenAIError(ctx, fake.status, typeof fake.message === 'string' ? fake.message : defaultErrorMessage(fake.status));
    }
    if (servedName !== undefined && body.model !== servedName) {
      return sendOpenAIError(ctx, 404, `The model \`${body.model}\` does not exist.`);
    }
    return handler(ctx, body, fake, servedName ?? (typeof body.model === 'string' ? body.model : target.id));
  }

  /**
   * @param {Ctx} ctx
   * @param {Record<string, any>} body
   * @param {Record<string, any>} fake
   * @param {string} model
   */
  async function chatCompletions(ctx, body, fake, model) {
    if (!Array.isArray(body.messages)) return sendOpenAIError(ctx, 400, '`messages` must be an array');
    const prompt = lastUserText(body.messages);
    const words = replyWords(`echo: ${prompt}`, fake.tokens);
    const content = words.join(' ');
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
    const created = nowSeconds();
    const usage = makeUsage(prompt, words.length);

    if (!body.stream) {
      return sendJson(ctx, 200, withEchoedHeaders(ctx, fake, {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
        usage,
      }));
    }
    const chunk = (/** @type {object} */ delta, /** @type {string | null} */ finish) => ({
      id, object: 'chat.completion.chunk', created, model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    /** @type {object[]} */
    const events = [
      chunk({ role: 'assistant', content: '' }, null),
      ...words.map((word, i) => chunk({ content: i === 0 ? word : ` ${word}` }, null)),
      chunk({}, 'stop'),
    ];
    if (body.stream_options?.include_usage) events.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
    return streamSse(ctx, events, fake);
  }

  /**
   * @param {Ctx} ctx
   * @param {Record<string, any>} body
   * @param {Record<string, any>} fake
   * @param {string} model
   */
  async function textCompletions(ctx, body, fake, model) {
    const prompt = Array.isArray(body.prompt) ? body.prompt.join(' ') : body.prompt;
    if (typeof prompt !== 'string') return sendOpenAIError(ctx, 400, '`prompt` must be a string or an array of strings');
    const words = replyWords(`echo: ${prompt}`, fake.tokens);
    const id = `cmpl-${randomBytes(12).toString('hex')}`;
    const created = nowSeconds();
    const usage = makeUsage(prompt, words.length);

    if (!body.stream) {
      return sendJson(ctx, 200, withEchoedHeaders(ctx, fake, {
        id, object: 'text_completion', created, model,
        choices: [{ index: 0, text: words.join(' '), logprobs: null, finish_reason: 'stop' }],
        usage,
      }));
    }
    const chunk = (/** @type {string} */ text, /** @type {string | null} */ finish) => ({
      id, object: 'text_completion', created, model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
    });
    /** @type {object[]} */
    const events = [...words.map((word, i) => chunk(i === 0 ? word : ` ${word}`, null)), chunk('', 'stop')];
    if (body.stream_options?.include_usage) events.push({ id, object: 'text_completion', created, model, choices: [], usage });
    return streamSse(ctx, events, fake);
  }

  /**
   * @param {Ctx} ctx
   * @param {Record<string, any>} body
   * @param {Record<string, any>} fake
   * @param {string} model
   */
  async function embeddings(ctx, body, fake, model) {
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(inputs) || inputs.length === 0) return sendOpenAIError(ctx, 400, '`input` must be a string or a non-empty array');
    const tokens = inputs.reduce((sum, item) => sum + countWords(typeof item === 'string' ? item : JSON.stringify(item)), 0);
    // The openai clients ask for base64 (little-endian float32) unless told otherwise; vLLM honours it.
    const encode = body.encoding_format === 'base64'
      ? (/** @type {number[]} */ vector) => Buffer.from(new Float32Array(vector).buffer).toString('base64')
      : (/** @type {number[]} */ vector) => vector;
    return sendJson(ctx, 200, withEchoedHeaders(ctx, fake, {
      object: 'list',
      data: inputs.map((item, index) => ({ object: 'embedding', index, embedding: encode(embed(item)) })),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }));
  }

  /**
   * OpenAI server-sent events: one `data:` line per chunk, then `data: [DONE]`.
   * `mid_event_pause_ms` writes the second event in two halves with a pause between, the way a
   * slow engine or a proxy can split an event across TCP segments.
   * @param {Ctx} ctx
   * @param {object[]} events
   * @param {Record<string, any>} fake
   */
  async function streamSse(ctx, events, fake) {
    const { res } = ctx;
    const firstDelayMs = isPositive(fake.first_delay_ms) ? fake.first_delay_ms : 0;
    const tokenDelayMs = isPositive(fake.token_delay_ms) ? fake.token_delay_ms : 0;
    const midEventPauseMs = isPositive(fake.mid_event_pause_ms) ? fake.mid_event_pause_ms : 0;
    res.writeHead(200, { ...ctx.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    for (const [i, event] of events.entries()) {
      const wait = i === 0 ? firstDelayMs : tokenDelayMs;
      if (wait > 0) await pause(wait, res);
      const text = `data: ${JSON.stringify(event)}\n\n`;
      if (i === 1 && midEventPauseMs > 0) {
        const half = Math.floor(text.length / 2);
        if (!(await writeWithBackpressure(res, text.slice(0, half)))) return;
        await pause(midEventPauseMs, res);
        if (!(await writeWithBackpressure(res, text.slice(half)))) return;
        continue;
      }
      if (!(await writeWithBackpressure(res, text))) return;
    }
    if (!(await writeWithBackpressure(res, 'data: [DONE]\n\n'))) return;
    res.end();
  }

  /**
   * OpenAI-style error, the shape OpenAI-compatible engines return.
   * @param {Ctx} ctx
   * @param {number} status
   * @param {string} message
   */
  function sendOpenAIError(ctx, status, message) {
    if (status === 429) ctx.headers['retry-after'] = '1';
    return sendJson(ctx, status, { error: { message, type: openAIErrorType(status), code: status } });
  }

  /**
   * Baseten's error shape: `{"error": "<message>"}`. Errors from inside a Truss server carry
   * its error-source and error-code headers.
   * @param {Ctx} ctx
   * @param {number} status
   * @param {string} message
   * @param {{truss?: boolean}} [opts]
   */
  function sendError(ctx, status, message, opts = {}) {
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
  function sendJson(ctx, status, value) {
    return sendRaw(ctx, status, 'application/json', JSON.stringify(value));
  }

  /**
   * @param {Ctx} ctx
   * @param {number} status
   * @param {string} contentType
   * @param {string} text
   */
  function sendRaw(ctx, status, contentType, text) {
    if (ctx.res.destroyed || ctx.res.headersSent) return;
    const payload = Buffer.from(text, 'utf8');
    ctx.res.writeHead(status, { ...ctx.headers, 'content-type': contentType, 'content-length': String(payload.length) });
    ctx.res.end(payload);
  }

  /** @param {Ctx} ctx */
  function cutConnection(ctx) {
    ctx.selfClosed = true;
    ctx.res.socket?.destroy();
    ctx.res.destroy();
  }

  return { handle, reset, stopAsyncWork };
}

// -----------------------------------------------------------------------------------------------
// Pure helpers

/**
 * @param {string} pathname
 * @returns {Target | null}
 */
function parseTarget(pathname) {
  const match = /^\/(model|chain)-([^/]+)(?:\/(.*))?$/.exec(pathname);
  if (!match) return null;
  return { kind: /** @type {'model' | 'chain'} */ (match[1]), id: match[2] ?? '', segments: (match[3] ?? '').split('/') };
}

/**
 * Accepts the four path-based forms; a fake deployment id keeps status bodies realistic.
 * @param {string[]} segments
 * @returns {Deployment | null}
 */
function parseDeployment(segments) {
  const [first, second] = segments;
  if (first === 'production' || first === 'development') {
    return { label: first, deploymentId: `dep-${first}`, endpoint: segments.slice(1) };
  }
  if (first === 'environments' && second) {
    return { label: `environments/${second}`, deploymentId: `dep-env-${second}`, endpoint: segments.slice(2) };
  }
  if (first === 'deployment' && second) {
    return { label: `deployment/${second}`, deploymentId: second, endpoint: segments.slice(2) };
  }
  return null;
}

/**
 * @param {string | undefined} header
 * @param {string} apiKey
 */
function isAuthorized(header, apiKey) {
  const match = /^(?:Api-Key|Bearer)\s+(.+)$/i.exec(header ?? '');
  return Boolean(match) && match?.[1]?.trim() === apiKey;
}

/**
 * Reads the whole body, keeping at most Baseten's edge cap in memory (beyond it the request is
 * answered 413 anyway). Returns null if the client went away mid-body.
 * @param {http.IncomingMessage} req
 * @param {RecordedRequest} entry
 * @returns {Promise<Body | null>}
 */
async function readBody(req, entry) {
  /** @type {Buffer[]} */
  const chunks = [];
  let length = 0;
  try {
    for await (const chunk of req) {
      length += chunk.length;
      if (length <= EDGE_BODY_CAP) chunks.push(chunk);
    }
  } catch {
    return null;
  }
  entry.bodyBytes = length;
  entry.body = Buffer.concat(chunks).subarray(0, LOGGED_BODY_BYTES).toString('utf8');
  return { chunks, length, tooLarge: length > EDGE_BODY_CAP };
}

/** @param {Body} body */
function bodyText(body) {
  return Buffer.concat(body.chunks).toString('utf8');
}

/**
 * @param {Body} body
 * @returns {{ok: true, value: unknown} | {ok: false}}
 */
function parseJson(body) {
  try {
    return { ok: true, value: JSON.parse(bodyText(body)) };
  } catch {
    return { ok: false };
  }
}

/** @param {http.IncomingMessage} req */
function isBinary(req) {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === 'application/octet-stream';
}

/**
 * The steering object a test put in the body, or `{}`.
 * @param {unknown} value
 * @returns {Record<string, any>}
 */
function steeringOf(value) {
  return isObject(value) && isObject(value.fake) ? value.fake : {};
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, any>}
 */
function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** @param {unknown} value @returns {value is number} */
function isPositive(value) {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** @param {unknown} value @returns {value is number} */
function isNonNegative(value) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * @param {unknown} value
 * @param {number} min
 * @param {number} max
 */
function isIntIn(value, min, max) {
  return Number.isInteger(value) && /** @type {number} */ (value) >= min && /** @type {number} */ (value) <= max;
}

/**
 * Checks an async submit body against Baseten's documented fields and ranges.
 * @param {unknown} body
 * @returns {string | null} The problem, or null when valid.
 */
function validateAsyncBody(body) {
  if (!isObject(body)) return 'Request body must be a JSON object';
  if (body.model_input === undefined) return 'model_input is required';
  if (body.webhook_endpoint !== undefined && body.webhook_endpoint !== null && !isHttpUrl(body.webhook_endpoint)) {
    return 'webhook_endpoint must be an http(s) URL';
  }
  if (body.priority !== undefined && !isIntIn(body.priority, 0, 2)) return 'priority must be an integer between 0 and 2';
  if (body.max_time_in_queue_seconds !== undefined && !isIntIn(body.max_time_in_queue_seconds, 10, 259_200)) {
    return 'max_time_in_queue_seconds must be an integer between 10 and 259200';
  }
  const retry = body.inference_retry_config;
  if (retry !== undefined) {
    if (!isObject(retry)) return 'inference_retry_config must be an object';
    if (retry.max_attempts !== undefined && !isIntIn(retry.max_attempts, 1, 10)) return 'inference_retry_config.max_attempts must be between 1 and 10';
    if (retry.initial_delay_ms !== undefined && !isIntIn(retry.initial_delay_ms, 0, 10_000)) return 'inference_retry_config.initial_delay_ms must be between 0 and 10000';
    if (retry.max_delay_ms !== undefined && !isIntIn(retry.max_delay_ms, 0, 60_000)) return 'inference_retry_config.max_delay_ms must be between 0 and 60000';
  }
  return null;
}

/** @param {unknown} value */
function isHttpUrl(value) {
  if (typeof value !== 'string') return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/** @param {string} value */
function isLoopbackUrl(value) {
  try {
    const { hostname } = new URL(value);
    return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
  } catch {
    return false;
  }
}

/**
 * The status body Baseten documents for `GET /async_request/<id>`.
 * @param {AsyncRecord} record
 */
function asyncStatusBody(record) {
  return {
    request_id: record.request_id,
    [`${record.kind}_id`]: record.ownerId,
    deployment_id: record.deploymentId,
    status: record.status,
    webhook_status: record.webhook_status,
    created_at: record.created_at,
    status_at: record.status_at,
    errors: record.errors,
  };
}

/**
 * The status body plus what only a test may see: Baseten itself never returns outputs.
 * @param {AsyncRecord} record
 */
function asyncSnapshot(record) {
  return { ...asyncStatusBody(record), data: record.data, model_input: record.model_input, webhook_endpoint: record.webhook_endpoint };
}

/**
 * @param {AsyncRecord} record
 * @param {string} status
 */
function setStatus(record, status) {
  record.status = status;
  record.status_at = new Date().toISOString();
}

/**
 * @param {string} secret
 * @param {string} body
 */
function hmacHex(secret, body) {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(body, 'utf8').digest('hex');
}

/**
 * POSTs once and resolves with the status; the response body is ignored.
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {string} body
 * @param {number} timeoutMs
 * @param {AbortSignal} signal
 * @returns {Promise<number>}
 */
function postOnce(url, headers, body, timeoutMs, signal) {
  const payload = Buffer.from(body, 'utf8');
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(payload.length) },
      agent: false, // no keep-alive socket left behind to hold the process open
      signal,
      timeout: Math.max(1, timeoutMs),
      // Loopback receivers in development use self-signed certificates.
      rejectUnauthorized: false,
    });
    req.on('timeout', () => req.destroy(new Error(`webhook timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.end(payload);
  });
}

/**
 * Writes one chunk, waiting for 'drain' when the socket buffer is full so large answers stay in
 * flat memory. Resolves false once the client has gone away.
 * @param {http.ServerResponse} res
 * @param {Buffer | string} chunk
 * @param {() => void} [onFlushed] Called once the chunk has left the process.
 * @returns {Promise<boolean>}
 */
async function writeWithBackpressure(res, chunk, onFlushed) {
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
function pause(ms, res) {
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
function untilClosed(res) {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve(undefined);
    res.once('close', () => resolve(undefined));
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

/**
 * Adds the request headers as received (lower-cased) when `echo_headers` asks for them, so tests
 * see exactly what the gateway forwarded.
 * @template {object} T
 * @param {Ctx} ctx
 * @param {Record<string, any>} fake
 * @param {T} value
 */
function withEchoedHeaders(ctx, fake, value) {
  return fake.echo_headers ? { ...value, headers: { ...ctx.req.headers } } : value;
}

/** @param {number} status */
function defaultErrorMessage(status) {
  if (status === 500) return 'Internal Server Error';
  if (status === 502) return 'Error making prediction';
  if (status === 429) return 'Too many requests';
  return http.STATUS_CODES[status] ?? 'Error';
}

/** @param {number} status */
function openAIErrorType(status) {
  /** @type {Record<number, string>} */
  const types = { 400: 'BadRequestError', 401: 'AuthenticationError', 403: 'PermissionDeniedError', 404: 'NotFoundError', 405: 'MethodNotAllowedError', 422: 'UnprocessableEntityError', 429: 'RateLimitError' };
  return types[status] ?? (status >= 500 ? 'InternalServerError' : 'APIError');
}

/**
 * Text of the last user message; content may be a string or an array of parts.
 * @param {unknown[]} messages
 */
function lastUserText(messages) {
  const last = [...messages].reverse().find((m) => isObject(m) && m.role === 'user');
  if (!isObject(last)) return '';
  if (typeof last.content === 'string') return last.content;
  if (Array.isArray(last.content)) {
    return last.content.filter((part) => isObject(part) && typeof part.text === 'string').map((part) => part.text).join(' ');
  }
  return '';
}

/**
 * The reply as word tokens; `tokens: N` asks for exactly N words instead.
 * @param {string} text
 * @param {unknown} tokens
 */
function replyWords(text, tokens) {
  if (Number.isInteger(tokens) && /** @type {number} */ (tokens) > 0) {
    return Array.from({ length: /** @type {number} */ (tokens) }, (_, i) => `word${i + 1}`);
  }
  return text.split(/\s+/).filter(Boolean);
}

/** @param {string} text */
function countWords(text) {
  return text.split(/\s+/).filter(Boolean).length;
}

/**
 * @param {string} prompt
 * @param {number} completionTokens
 */
function makeUsage(prompt, completionTokens) {
  const promptTokens = countWords(prompt);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/**
 * Eight floats in [-1, 1] derived from the input's hash: same input, same vector.
 * @param {unknown} input
 */
function embed(input) {
  const digest = createHash('sha256').update(JSON.stringify(input)).digest();
  return Array.from({ length: 8 }, (_, i) => Math.round((digest.readUInt16BE(i * 2) / 0xffff * 2 - 1) * 1e6) / 1e6);
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/**
 * Last resort for a bug in the fake itself: answer 500 rather than leave the client hanging.
 * @param {http.ServerResponse} res
 * @param {unknown} err
 */
function answerCrash(res, err) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: `fake baseten crashed: ${err instanceof Error ? err.message : String(err)}` }));
}

// -----------------------------------------------------------------------------------------------
// Command line

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 * @returns {FakeOptions}
 */
function optionsFromCommandLine(argv, env) {
  /** @type {FakeOptions} */
  const options = { port: 8788 };
  if (env.FAKE_BASETEN_PORT) options.port = Number(env.FAKE_BASETEN_PORT);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--port') options.port = Number(argv[++i]);
    else if (arg.startsWith('--port=')) options.port = Number(arg.slice('--port='.length));
  }
  if (!Number.isInteger(options.port) || /** @type {number} */ (options.port) < 0) {
    throw new Error(`invalid port: ${options.port}`);
  }
  if (env.FAKE_BASETEN_API_KEY) options.apiKey = env.FAKE_BASETEN_API_KEY;
  // Comma-separated, newest first, to rehearse a secret rotation.
  if (env.FAKE_BASETEN_WEBHOOK_SECRET) options.webhookSecrets = env.FAKE_BASETEN_WEBHOOK_SECRET.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.FAKE_BASETEN_SERVED_NAMES) options.servedNames = JSON.parse(env.FAKE_BASETEN_SERVED_NAMES);
  return options;
}

async function main() {
  const fake = await startFakeBaseten(optionsFromCommandLine(process.argv.slice(2), process.env));
  console.log(`fake baseten listening on ${fake.url}`);
  const stop = () => {
    fake.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function isMainModule() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(resolvePath(process.argv[1])) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
