/**
 * The fake's HTTP server: starts it, keeps the request log and async state, answers the
 * `/__fake/*` control routes, and routes each request the way Baseten's edge does (path, auth,
 * size, model) to the module that answers it. WebSocket upgrades go to websocket.mjs.
 */

import http from 'node:http';
import { asyncSnapshot, cancelAsync, getAsyncStatus, queueStatus, submitAsync } from './async.mjs';
import { newRequestId, sendError, sendJson } from './http.mjs';
import { handleModelApi } from './openai.mjs';
import { handlePredict } from './predict.mjs';
import { isAuthorized, isObject, parseDeployment, parseJson, parseTarget, readBody } from './request.mjs';
import { answerSteered } from './steering.mjs';
import { handleSync } from './sync.mjs';
import { addRule, takeRule, targetKeys } from './targeting.mjs';
import { createUpgradeHandler } from './websocket.mjs';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse} ServerResponse */
/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Deployment} Deployment */
/** @typedef {import('./types.mjs').FakeBaseten} FakeBaseten */
/** @typedef {import('./types.mjs').FakeOptions} FakeOptions */
/** @typedef {import('./types.mjs').FakeState} FakeState */
/** @typedef {import('./types.mjs').RecordedRequest} RecordedRequest */
/** @typedef {import('./types.mjs').Target} Target */

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
    requestIdShape: options.requestIdShape ?? 'hex',
    asyncLimits: { ...DEFAULT_ASYNC_LIMITS, ...options.asyncLimits },
    webhookRetryDelayMs: options.webhookRetryDelayMs ?? 2_000,
    beiModels: options.beiModels ?? [],
    modelApiSlugs: options.modelApiSlugs ?? DEFAULT_MODEL_API_SLUGS,
    websocketProtocols: options.websocketProtocols ?? ['echo'],
  };

  /** @type {FakeState} */
  const state = {
    requests: [],
    webhookDeliveries: [],
    asyncRequests: new Map(),
    timers: new Set(),
    lifetime: new AbortController(),
    rules: [],
    clockOffsetMs: 0,
    limits: { ...DEFAULT_ASYNC_LIMITS, ...config.asyncLimits },
    rateWindows: new Map(),
  };

  const handler = createApp(config, state);
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    handler.handle(req, res).catch((err) => answerCrash(res, err));
  });
  server.on('upgrade', (req, socket, head) => {
    handler.upgrade.handleUpgrade(req, socket, head).catch(() => socket.destroy());
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
    reset: handler.reset,
    async close() {
      // The logs stay readable after close; only the work that could outlive the server stops.
      handler.stopAsyncWork();
      handler.upgrade.closeAll();
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      server.closeAllConnections();
      await closed;
    },
    asyncRequest(id) {
      const record = state.asyncRequests.get(id);
      return record && asyncSnapshot(record);
    },
    steer(rule) {
      const problem = addRule(handler.app, rule);
      if (problem) throw new Error(problem);
    },
    advanceClock: handler.advanceClock,
    setAsyncLimits(limits) {
      Object.assign(state.limits, limits);
    },
  };
}

/**
 * Baseten's documented per-model limits: 20 status and 20 cancel calls a second (the spec's
 * figure; newer pages say 100), 20 queue-status calls a second.
 */
const DEFAULT_ASYNC_LIMITS = { status: 20, cancel: 20, queue_status: 20, window_ms: 1000 };

/** Slugs from Baseten's Model APIs docs. */
const DEFAULT_MODEL_API_SLUGS = [
  'deepseek-ai/DeepSeek-V3.1',
  'deepseek-ai/DeepSeek-V3-0324',
  'openai/gpt-oss-120b',
  'zai-org/GLM-4.7',
  'moonshotai/Kimi-K2-Instruct-0905',
];

/**
 * Builds the request handler around the shared config and state.
 * @param {Required<FakeOptions>} config
 * @param {FakeState} state
 */
function createApp(config, state) {
  /**
   * Runs `fn` after `ms` without keeping the process alive; reset() and close() cancel it.
   * @param {() => void} fn
   * @param {number} ms
   */
  function schedule(fn, ms) {
    const timer = setTimeout(
      () => {
        state.timers.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    timer.unref();
    state.timers.add(timer);
  }

  /** @param {number} ms */
  function later(ms) {
    return new Promise((resolve) => schedule(() => resolve(undefined), ms));
  }

  /** @type {App} */
  const app = { config, state, schedule, later, now: () => Date.now() + state.clockOffsetMs };

  /** @param {number} ms */
  function advanceClock(ms) {
    state.clockOffsetMs += ms;
    return app.now();
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
    state.rules.length = 0;
    state.clockOffsetMs = 0;
    state.limits = { ...DEFAULT_ASYNC_LIMITS, ...config.asyncLimits };
    state.rateWindows.clear();
    stopAsyncWork();
  }

  /**
   * @param {IncomingMessage} req
   * @param {URL} url
   * @returns {RecordedRequest}
   */
  function recordRequest(req, url) {
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
    state.requests.push(entry);
    return entry;
  }

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    if (url.pathname.startsWith('/__fake/')) return handleControl(req, res, url);

    const entry = recordRequest(req, url);
    const seq = state.requests.length - 1;
    /** @type {Ctx} */
    const ctx = {
      req,
      res,
      url,
      entry,
      headers: { 'x-fake-request-seq': String(seq) },
      selfClosed: false,
      body: { chunks: [], length: 0, tooLarge: false },
      keys: [],
      rule: {},
      stallBody: false,
    };
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
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {URL} url
   */
  async function handleControl(req, res, url) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const parsed = parseJson({ chunks, length: 0, tooLarge: false });
    const input = parsed.ok && isObject(parsed.value) ? parsed.value : {};
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
    if (key === 'POST /__fake/steer') {
      const problem = addRule(app, input);
      return problem ? send(400, { error: problem }) : send(200, { ok: true });
    }
    if (key === 'DELETE /__fake/steer') {
      state.rules.length = 0;
      return send(200, { ok: true });
    }
    if (key === 'POST /__fake/clock') {
      const ms = Number(input.advance_ms ?? 0);
      if (!Number.isFinite(ms) || ms < 0) return send(400, { error: '`advance_ms` must be a non-negative number' });
      return send(200, { now: advanceClock(ms) });
    }
    if (key === 'POST /__fake/limits') {
      Object.assign(state.limits, input);
      return send(200, state.limits);
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
    if (ctx.url.pathname.startsWith('/model-api/')) return routeModelApi(ctx);
    const target = parseTarget(ctx.url.pathname);
    if (!target) return sendError(ctx, 404, 'Route not found', { errorCode: null });
    if (!isAuthorized(ctx.req.headers.authorization, config.apiKey)) {
      return sendError(ctx, 401, ctx.req.headers.authorization ? 'Invalid API key' : 'Missing API key');
    }
    if (ctx.body.tooLarge) return sendError(ctx, 413, 'Request Entity Too Large');
    if (target.id.startsWith('gone')) return sendError(ctx, 404, 'Model not found');
    ctx.headers['x-baseten-request-id'] = newRequestId(config.requestIdShape);

    const [first, requestId, ...extra] = target.segments;
    // Status and cancel live on the plain host only, without a deployment.
    if (first === 'async_request' && requestId && extra.length === 0 && !target.regional) {
      steerFor(ctx, targetKeys(target, null));
      if (ctx.req.method === 'GET') return answerSteered(ctx, ctx.rule, target, () => getAsyncStatus(app, ctx, target, requestId));
      if (ctx.req.method === 'DELETE') return answerSteered(ctx, ctx.rule, target, () => cancelAsync(app, ctx, target, requestId));
      return sendError(ctx, 405, 'Method not allowed');
    }

    const deployment = parseDeployment(target);
    if (!deployment) return sendError(ctx, 404, 'Route not found', { errorCode: null });
    steerFor(ctx, targetKeys(target, deployment.label));
    return routeEndpoint(ctx, target, deployment);
  }

  /**
   * @param {Ctx} ctx
   * @param {string[]} keys
   */
  function steerFor(ctx, keys) {
    ctx.keys = keys;
    ctx.rule = takeRule(app, ctx, keys);
  }

  /**
   * Baseten's shared OpenAI-compatible endpoint; `model-api/<slug>` steers one slug.
   * @param {Ctx} ctx
   */
  function routeModelApi(ctx) {
    const parsed = parseJson(ctx.body);
    const slug = parsed.ok && isObject(parsed.value) && typeof parsed.value.model === 'string' ? parsed.value.model : null;
    steerFor(ctx, slug ? [`model-api/${slug}`, 'model-api'] : ['model-api']);
    ctx.headers['x-baseten-request-id'] = newRequestId(config.requestIdShape);
    return handleModelApi(app, ctx, ctx.url.pathname.slice('/model-api'.length));
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
    const only = (/** @type {string} */ allowed, /** @type {() => unknown} */ fn) => (method === allowed ? fn() : sendError(ctx, 405, 'Method not allowed'));
    const steered = (/** @type {() => unknown} */ fn) => answerSteered(ctx, ctx.rule, target, fn);

    if (name === 'sync') return handleSync(app, ctx, target, rest);
    if (rest.length > 0) return sendError(ctx, 404, 'Route not found', { errorCode: null });
    if (name === predictName) return only('POST', () => handlePredict(ctx, target, deployment));
    if (name === `async_${predictName}`) return only('POST', () => submitAsync(app, ctx, target, deployment));
    if (name === 'async_queue_status') return only('GET', () => steered(() => queueStatus(app, ctx, target, deployment)));
    // Baseten documents wake for models only.
    if (name === 'wake' && target.kind === 'model') return only('POST', () => steered(() => sendJson(ctx, 202, {})));
    return sendError(ctx, 404, 'Route not found', { errorCode: null });
  }

  const upgrade = createUpgradeHandler(app, (req) => recordRequest(req, new URL(req.url ?? '/', 'http://fake.invalid')));

  return { app, handle, reset, stopAsyncWork, advanceClock, upgrade };
}

/**
 * Last resort for a bug in the fake itself: answer 500 rather than leave the client hanging.
 * @param {ServerResponse} res
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
