/**
 * POST /v1/models/{alias}/async: queue a request on the target's
 * /async_predict (chains: /async_run_remote), results to come back through
 * the gateway's webhook, and record it in KV as this caller's. With an
 * Idempotency-Key, the same caller's retries get the first answer again.
 * GET /v1/models/{alias}/async/queue: the target's async queue status.
 */
import { modelFor } from '../access.ts';
import { parseAsyncSubmit, withWebhookEndpoint } from '../async-input.ts';
import { type NewOwner, newOwner } from '../async-owner.ts';
import { type AsyncRecord, isRequestId, queuedRecord } from '../async-status.ts';
import { AsyncStore, recordExpiry } from '../async-store.ts';
import { CONTROL_TIMEOUT_MS, callBaseten } from '../baseten.ts';
import { isObject, readJson } from '../body.ts';
import { type Config, isWebhookOrigin, type ModelConfig, type Target } from '../config.ts';
import { caller, config, type GatewayRequest, onBehalfOf } from '../context.ts';
import { HttpError } from '../errors.ts';
import { claimKey, idempotencyKeyOf } from '../idempotency.ts';
import { validateInput } from '../input-schema.ts';
import { json } from '../responses.ts';
import { basetenTarget } from '../upstream.ts';
import { readSmallJson } from '../upstream-errors.ts';

const WEBHOOK_PATH = '/v1/webhooks/baseten';
/** If the record cannot be written after Baseten accepted, try again in the background (ms after the answer). */
const SAVE_RETRY_DELAYS_MS = [1_000, 4_000];
/** How long past the alias's timeout a claimed Idempotency-Key waits for its first request before a retry may take it over. */
const CLAIM_SLACK_MS = 30_000;

export async function submitAsync(request: GatewayRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
  const model = asyncModelFor(request);
  const cfg = config(request);
  // Without a secret every webhook is refused, so the output would be lost: refuse the work up front.
  if (cfg.webhookSecrets.length === 0) {
    throw new HttpError('service_unavailable', 'async inference is not available: the gateway has no BASETEN_WEBHOOK_SECRET to receive results with');
  }
  const key = idempotencyKeyOf(request.headers, caller(request));
  const cap = cfg.settings.asyncMaxBodyBytes;
  const { text, value } = await readJson(request, cap);
  const { modelInput, maxQueueSeconds } = parseAsyncSubmit(value);
  validateInput(model, modelInput);
  const base = publicBase(cfg, request);
  const body = withWebhookEndpoint(text, `${base}${WEBHOOK_PATH}`);
  // Baseten's cap applies to what it receives, webhook_endpoint included.
  if (body.byteLength > cap) throw new HttpError('payload_too_large', `request body is larger than ${cap} bytes once the gateway adds webhook_endpoint`);
  const owner = await newOwner(caller(request));
  const submission = { model, body, base, maxQueueSeconds, owner };
  if (key === undefined) return answerOf(await queue(request, env, ctx, submission));

  const claim = await claimKey(env.IDEMPOTENCY, { owner: owner.owner, key, alias: model.alias, body: text, leaseMs: model.timeoutMs + CLAIM_SLACK_MS });
  if (claim instanceof Response) return claim;
  let queued: Queued;
  try {
    queued = await queue(request, env, ctx, submission);
  } catch (err) {
    // Baseten did not take the work (or it is unknown whether it did): a retry may try again.
    await claim.release();
    throw err;
  }
  // Even when only the record is late (saveLater retries it), Baseten has the work: a retry gets the request id, not a second run.
  const { accepted } = queued;
  await claim.complete({ status: 201, body: JSON.stringify(accepted), location: accepted.status_url });
  return answerOf(queued);
}

/** Queued upstream: the 201 body, and the 503 to answer instead when the record could not be written yet. */
interface Queued {
  accepted: Accepted;
  unrecorded?: HttpError;
}

function answerOf({ accepted, unrecorded }: Queued): Response {
  if (unrecorded) throw unrecorded;
  return json(accepted, 201, { location: accepted.status_url });
}

interface Submission {
  model: ModelConfig;
  body: Uint8Array;
  base: string;
  maxQueueSeconds: number;
  owner: NewOwner;
}

/** Queues the request upstream and records it; what was accepted, with the 503 that still names it if the record is late. */
async function queue(request: GatewayRequest, env: Env, ctx: ExecutionContext, submission: Submission): Promise<Queued> {
  const { model, base, owner } = submission;
  const cfg = config(request);
  const { requestId, target } = await queueUpstream(request, model, submission.body);
  const nowMs = Date.now();
  const record = queuedRecord({
    requestId,
    owner: owner.owner,
    alias: model.alias,
    target: basetenTarget(target),
    nowMs,
    expiresAt: recordExpiry(nowMs, submission.maxQueueSeconds, cfg.settings.asyncTtlSeconds),
    reconcileAt: Math.ceil(nowMs / 1000) + cfg.settings.asyncReconcileAfterSeconds,
  });
  const accepted = acceptedBody(record, `${base}/v1/async/${requestId}`, owner);
  const store = new AsyncStore(env.ASYNC_REQUESTS);
  try {
    await store.saveNew(record, nowMs);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    // Baseten has the work: the caller gets its id (and owner token) with the 503, and the record is tried again.
    ctx.waitUntil(saveLater(store, record));
    const unrecorded = new HttpError(
      'service_unavailable',
      'Baseten queued the request but the gateway could not record it yet (it retries for a few seconds); poll status_url instead of resubmitting',
      err.headers,
      errorDetails(accepted),
    );
    return { accepted, unrecorded };
  }
  return { accepted };
}

export async function asyncQueue(request: GatewayRequest): Promise<Response> {
  const model = asyncModelFor(request);
  const upstream = await callBaseten(
    config(request),
    model,
    { action: 'async_queue_status' },
    {
      ...onBehalfOf(request),
      method: 'GET',
      timeoutMs: CONTROL_TIMEOUT_MS,
    },
  );
  const answer = await readSmallJson(upstream);
  const queued = isObject(answer) ? answer.num_queued_requests : undefined;
  const inProgress = isObject(answer) ? answer.num_in_progress_requests : undefined;
  if (typeof queued !== 'number' || typeof inProgress !== 'number') throw new HttpError('upstream_error', 'Baseten answered an unreadable queue status');
  // Baseten's answer also names model_id and deployment_id: only the counts and the alias go out.
  return json({ model: model.alias, num_queued_requests: queued, num_in_progress_requests: inProgress });
}

/** The alias from the path, usable by this caller and open to async requests. */
function asyncModelFor(request: GatewayRequest): ModelConfig {
  const model = modelFor(request);
  if (!model.async) throw new HttpError('forbidden', `model "${model.alias}" does not accept async requests`);
  return model;
}

/**
 * The origin Baseten can reach this gateway at: PUBLIC_BASE_URL, else the one
 * the caller used; moved to https unless it is a loopback host, since Baseten
 * delivers webhooks over https only (npm run check flags an http
 * PUBLIC_BASE_URL for async aliases before deploy).
 */
function publicBase(cfg: Config, request: Request): string {
  const url = new URL(cfg.publicBaseUrl ?? new URL(request.url).origin);
  if (!isWebhookOrigin(url)) url.protocol = 'https:';
  return url.href.replace(/\/+$/, '');
}

/**
 * Sends the submit and returns Baseten's request id (it answers 201 or 202
 * depending on the docs' generation: any 2xx) and the target that queued it,
 * where its status and cancel calls go.
 */
async function queueUpstream(request: GatewayRequest, model: ModelConfig, body: Uint8Array): Promise<{ requestId: string; target: Target }> {
  const behalf = onBehalfOf(request);
  let target = model.target;
  const upstream = await callBaseten(
    config(request),
    model,
    { action: 'async_predict' },
    {
      ...behalf,
      body,
      contentType: 'application/json',
      callerHeaders: request.headers,
      timeoutMs: model.timeoutMs,
      onTarget: (label, tried) => {
        behalf.onTarget?.(label);
        if (tried) target = tried;
      },
    },
  );
  const answer = await readSmallJson(upstream);
  const requestId = isObject(answer) ? answer.request_id : undefined;
  if (!isRequestId(requestId)) throw new HttpError('upstream_error', 'Baseten accepted the request but answered no usable request id');
  return { requestId, target };
}

interface Accepted {
  request_id: string;
  model: string;
  status: 'QUEUED';
  status_url: string;
  owner_token?: string;
}

function acceptedBody(record: AsyncRecord, statusUrl: string, owner: NewOwner): Accepted {
  const body: Accepted = { request_id: record.request_id, model: record.alias, status: 'QUEUED', status_url: statusUrl };
  if (owner.token) body.owner_token = owner.token;
  return body;
}

/** The 503's extra error fields: the error's own request_id is the gateway's, so Baseten's is async_request_id. */
function errorDetails(accepted: Accepted): Record<string, string> {
  const details: Record<string, string> = { async_request_id: accepted.request_id, model: accepted.model, status_url: accepted.status_url };
  if (accepted.owner_token) details.owner_token = accepted.owner_token;
  return details;
}

async function saveLater(store: AsyncStore, record: AsyncRecord): Promise<void> {
  for (const delayMs of SAVE_RETRY_DELAYS_MS) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      await store.saveNew(record, Date.now());
      console.log(JSON.stringify({ event: 'async_record_saved_late', async_request_id: record.request_id }));
      return;
    } catch {
      // logged by the store; try again or give up below
    }
  }
  console.error(JSON.stringify({ level: 'error', event: 'async_record_lost', async_request_id: record.request_id }));
}
