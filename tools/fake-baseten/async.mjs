/**
 * Baseten's async inference: submit (`async_predict`, chains `async_run_remote`), the
 * QUEUED -> IN_PROGRESS -> SUCCEEDED | FAILED lifecycle on timers (or EXPIRED, CANCELED), status,
 * cancel and queue status, and the webhook once inference ends.
 */

import { cutConnection, newRequestId, sendError, sendJson } from './http.mjs';
import { isIntIn, isNonNegative, isObject, parseJson } from './request.mjs';
import { answerSteered } from './steering.mjs';
import { steeringFor } from './targeting.mjs';
import { deliverWebhook, isLoopbackUrl } from './webhooks.mjs';

/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').AsyncRecord} AsyncRecord */
/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Target} Target */
/** @typedef {import('./types.mjs').Deployment} Deployment */

/** Baseten's async payload cap (256 KiB by default). */
const ASYNC_PAYLOAD_CAP = 262_144;
const DEFAULT_QUEUE_MS = 50;
const DEFAULT_RUN_MS = 50;
/** Baseten's default `max_time_in_queue_seconds`. */
const DEFAULT_MAX_QUEUE_SECONDS = 600;
/** "Status is available for 1 hour after completion." */
const STATUS_RETENTION_MS = 3_600_000;
const FINAL_STATUSES = new Set(['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED', 'WEBHOOK_FAILED']);

/**
 * `POST .../async_predict` (chains: `.../async_run_remote`).
 * @param {App} app
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {Deployment} deployment
 */
export async function submitAsync(app, ctx, target, deployment) {
  if (ctx.body.length > ASYNC_PAYLOAD_CAP) {
    return sendError(ctx, 413, `payload size of ${ctx.body.length} bytes exceeds maximum size of ${ASYNC_PAYLOAD_CAP} bytes`);
  }
  const parsed = parseJson(ctx.body);
  if (!parsed.ok) return sendError(ctx, 400, 'Invalid JSON payload');
  const problem = validateAsyncBody(parsed.value);
  if (problem) return sendError(ctx, 400, problem);

  const body = /** @type {Record<string, any>} */ (parsed.value);
  const fake = steeringFor(ctx, body.model_input);
  return answerSteered(ctx, fake, target, async () => {
    const record = createAsyncRecord(app, target, deployment, body, fake);
    ctx.headers['x-baseten-request-id'] = record.request_id;
    // `webhook_first`: the result reaches the receiver before the submit answer reaches the caller.
    if (fake.webhook_first) await runAtOnce(app, record);
    else startLifecycle(app, record);
    // `async_status: 202` (or 201) picks the documented success code for this one request.
    const status = fake.async_status === 201 || fake.async_status === 202 ? fake.async_status : app.config.asyncStatusCode;
    return sendJson(ctx, status, { request_id: record.request_id });
  });
}

/**
 * @param {App} app
 * @param {Target} target
 * @param {Deployment} deployment
 * @param {Record<string, any>} body
 * @param {Record<string, any>} fake
 * @returns {AsyncRecord}
 */
function createAsyncRecord(app, target, deployment, body, fake) {
  const createdMs = app.now();
  const now = new Date(createdMs).toISOString();
  const shape = fake.request_id_shape === 'opaque' || fake.request_id_shape === 'hex' ? fake.request_id_shape : app.config.requestIdShape;
  /** @type {AsyncRecord} */
  const record = {
    request_id: newRequestId(shape),
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
    createdMs,
    finishedMs: null,
  };
  app.state.asyncRequests.set(record.request_id, record);
  return record;
}

/**
 * QUEUED -> IN_PROGRESS -> SUCCEEDED | FAILED, or QUEUED -> EXPIRED, on timers.
 * @param {App} app
 * @param {AsyncRecord} record
 */
function startLifecycle(app, record) {
  const { fake } = record;
  const queueMs = isNonNegative(fake.queue_ms) ? fake.queue_ms : DEFAULT_QUEUE_MS;
  const runMs = isNonNegative(fake.run_ms) ? fake.run_ms : DEFAULT_RUN_MS;
  const maxQueueMs = record.maxQueueSeconds * 1000;
  const expires = Boolean(fake.expire) || queueMs > maxQueueMs;

  app.schedule(
    () => {
      if (record.status !== 'QUEUED') return; // canceled or expired meanwhile
      if (expires) return expire(app, record);
      setStatus(app, record, 'IN_PROGRESS');
      app.schedule(() => void finishInference(app, record), runMs);
    },
    expires ? Math.min(queueMs, maxQueueMs) : queueMs,
  );
}

/**
 * Runs the inference and its webhook delivery to the end at once.
 * @param {App} app
 * @param {AsyncRecord} record
 */
async function runAtOnce(app, record) {
  setStatus(app, record, 'IN_PROGRESS');
  await finishInference(app, record);
}

/**
 * @param {App} app
 * @param {AsyncRecord} record
 */
function expire(app, record) {
  setStatus(app, record, 'EXPIRED');
  if (record.webhook_endpoint) record.webhook_status = 'CANCELED';
}

/**
 * @param {App} app
 * @param {AsyncRecord} record
 */
async function finishInference(app, record) {
  if (record.fake.fail) {
    record.errors = [
      { code: 'MODEL_PREDICT_ERROR', message: typeof record.fake.message === 'string' ? record.fake.message : 'Exception while running predict' },
    ];
    record.data = null;
    setStatus(app, record, 'FAILED');
  } else {
    record.data = { echo: record.model_input };
    setStatus(app, record, 'SUCCEEDED');
  }
  // `never_deliver`: the result is lost on Baseten's side; the webhook stays PENDING.
  if (!record.webhook_endpoint || record.fake.never_deliver) return;
  await notifyReceiver(app, record).catch(() => {
    // Only reachable after reset()/close() aborted the delivery; nothing left to update.
  });
}

/**
 * Sends the result and records the outcome. "Inference succeeded but webhook delivery failed"
 * becomes WEBHOOK_FAILED; a failed inference stays FAILED.
 * @param {App} app
 * @param {AsyncRecord} record
 */
async function notifyReceiver(app, record) {
  // Taken now: reset() replaces the controller, and this delivery belongs to the old one.
  const { signal } = app.state.lifetime;
  const delivered = await deliverWebhook(app, record, signal);
  if (signal.aborted) return;
  record.webhook_status = delivered ? 'SUCCEEDED' : 'FAILED';
  if (!delivered && record.status === 'SUCCEEDED') setStatus(app, record, 'WEBHOOK_FAILED');
}

/**
 * @param {App} app
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {string} requestId
 */
export function getAsyncStatus(app, ctx, target, requestId) {
  if (!withinLimit(app, ctx, 'status', target)) return;
  const record = findAsync(app, target, requestId);
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
 * @param {App} app
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {string} requestId
 */
export function cancelAsync(app, ctx, target, requestId) {
  if (!withinLimit(app, ctx, 'cancel', target)) return;
  const record = findAsync(app, target, requestId);
  if (!record) return sendError(ctx, 404, `Async request ${requestId} not found`);
  if (record.status !== 'QUEUED') {
    return sendJson(ctx, 200, { request_id: requestId, canceled: false, message: `request is ${record.status} and cannot be canceled` });
  }
  setStatus(app, record, 'CANCELED');
  if (record.webhook_endpoint) record.webhook_status = 'CANCELED';
  return sendJson(ctx, 200, { request_id: requestId, canceled: true, message: 'request canceled' });
}

/**
 * @param {App} app
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {Deployment} deployment
 */
export function queueStatus(app, ctx, target, deployment) {
  if (!withinLimit(app, ctx, 'queue_status', target)) return;
  let queued = 0;
  let inProgress = 0;
  for (const record of app.state.asyncRequests.values()) {
    ageOut(app, record);
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
 * Request ids are global, but an id asked for under the wrong model is treated as unknown, and
 * so is one whose status Baseten no longer keeps (an hour after it became final).
 * @param {App} app
 * @param {Target} target
 * @param {string} requestId
 */
function findAsync(app, target, requestId) {
  const record = app.state.asyncRequests.get(requestId);
  if (!record || record.kind !== target.kind || record.ownerId !== target.id) return undefined;
  ageOut(app, record);
  if (record.finishedMs !== null && app.now() - record.finishedMs > STATUS_RETENTION_MS) {
    app.state.asyncRequests.delete(requestId);
    return undefined;
  }
  return record;
}

/**
 * Brings a record up to the fake's clock, which tests may move on by hours: a request still
 * QUEUED past its `max_time_in_queue_seconds` has EXPIRED.
 * @param {App} app
 * @param {AsyncRecord} record
 */
function ageOut(app, record) {
  const deadline = record.createdMs + record.maxQueueSeconds * 1000;
  if (record.status === 'QUEUED' && app.now() > deadline) {
    expire(app, record);
    record.finishedMs = deadline;
    record.status_at = new Date(deadline).toISOString();
  }
}

/**
 * Baseten's per-model limits on status, cancel and queue status: over the limit within one
 * window, 429 until the window ends. A window opens at its first call, so a burst of calls
 * counts the same however fast the machine is.
 * @param {App} app
 * @param {Ctx} ctx
 * @param {'status' | 'cancel' | 'queue_status'} kind
 * @param {Target} target
 * @returns {boolean} false once the 429 is sent.
 */
function withinLimit(app, ctx, kind, target) {
  const { limits, rateWindows } = app.state;
  const key = `${kind} ${target.kind}-${target.id}`;
  const now = app.now();
  let window = rateWindows.get(key);
  if (!window || now - window.start >= limits.window_ms) {
    window = { start: now, count: 0 };
    rateWindows.set(key, window);
  }
  window.count += 1;
  if (window.count <= limits[kind]) return true;
  const retryAfter = Math.max(1, Math.ceil((window.start + limits.window_ms - now) / 1000));
  sendError(ctx, 429, `Rate limit exceeded: at most ${limits[kind]} ${kind} calls per ${limits.window_ms} ms`, { retryAfter });
  return false;
}

/**
 * Checks an async submit body against Baseten's documented fields and ranges.
 * @param {unknown} body
 * @returns {string | null} The problem, or null when valid.
 */
function validateAsyncBody(body) {
  if (!isObject(body)) return 'Request body must be a JSON object';
  if (body.model_input === undefined) return 'model_input is required';
  if (body.webhook_endpoint !== undefined && body.webhook_endpoint !== null && !isAcceptedWebhookUrl(body.webhook_endpoint)) {
    return 'webhook_endpoint must be an https URL (http only for localhost)';
  }
  if (body.priority !== undefined && !isIntIn(body.priority, 0, 2)) return 'priority must be an integer between 0 and 2';
  if (body.max_time_in_queue_seconds !== undefined && !isIntIn(body.max_time_in_queue_seconds, 10, 259_200)) {
    return 'max_time_in_queue_seconds must be an integer between 10 and 259200';
  }
  const retry = body.inference_retry_config;
  if (retry !== undefined) {
    if (!isObject(retry)) return 'inference_retry_config must be an object';
    if (retry.max_attempts !== undefined && !isIntIn(retry.max_attempts, 1, 10)) return 'inference_retry_config.max_attempts must be between 1 and 10';
    if (retry.initial_delay_ms !== undefined && !isIntIn(retry.initial_delay_ms, 0, 10_000))
      return 'inference_retry_config.initial_delay_ms must be between 0 and 10000';
    if (retry.max_delay_ms !== undefined && !isIntIn(retry.max_delay_ms, 0, 60_000)) return 'inference_retry_config.max_delay_ms must be between 0 and 60000';
  }
  return null;
}

/**
 * Baseten requires https, except for localhost during development.
 * @param {unknown} value
 */
function isAcceptedWebhookUrl(value) {
  if (typeof value !== 'string') return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || (protocol === 'http:' && isLoopbackUrl(value));
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
export function asyncSnapshot(record) {
  return { ...asyncStatusBody(record), data: record.data, model_input: record.model_input, webhook_endpoint: record.webhook_endpoint };
}

/**
 * @param {App} app
 * @param {AsyncRecord} record
 * @param {string} status
 */
function setStatus(app, record, status) {
  const now = app.now();
  record.status = status;
  record.status_at = new Date(now).toISOString();
  if (FINAL_STATUSES.has(status)) record.finishedMs = now;
}
