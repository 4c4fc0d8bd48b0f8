/**
 * The one way the gateway calls Baseten, for every route and for the cron:
 * the endpoint's URL, the signed request, the call with its deadline and the
 * caller's signal, Baseten's status noted for the log line, and a refusal
 * turned into the contract's error (IDs scrubbed, secrets cut). For an alias
 * with fallbacks, the same call tries its targets in order (docs/failover.md).
 */
import type { BreakerOptions, Config, ModelConfig, Target } from './config.ts';
import { HttpError } from './errors.ts';
import {
  breakerAllows,
  breakerFailure,
  breakerRelease,
  breakerSuccess,
  breakerWaitSeconds,
  meansNoReplica,
  type TargetLabel,
  takeWake,
  targetLabel,
  worthFailingOver,
} from './failover.ts';
import { type Action, asyncRequestUrl, basetenTarget, callUpstream, openAIUrl, signedRequest, targetUrl } from './upstream.ts';
import { failureOf, type Named, readUpstreamError, type UpstreamError, upstreamRequestId } from './upstream-errors.ts';

/** Status, cancel and queue calls answer at once; a stuck one should not hold a caller for the alias's predict timeout. */
export const CONTROL_TIMEOUT_MS = 30_000;
/** Baseten answers wake with 202 at once; a wake that hangs must not hold anything for the 600 s Baseten allows it. */
export const WAKE_TIMEOUT_MS = 30_000;

/**
 * An action of the target's deployment (with the rest of the path for sync),
 * one async request by Baseten's id, or an OpenAI route (`chat/completions`),
 * which a Model API target serves too.
 */
export type Endpoint = { action: Action; rest?: string } | { asyncRequest: string } | { openai: string };

/** The calls another target can serve: the work itself, not the control calls about one deployment. */
const FAIL_OVER_ACTIONS = new Set<Action>(['predict', 'async_predict', 'sync']);
/** How long a caller is asked to wait when no target served and none said how long. */
const DEFAULT_RETRY_AFTER_SECONDS = 10;

export interface BasetenCall {
  /** POST unless said otherwise. */
  method?: string;
  /** Strings and byte arrays can be sent to several targets; a stream only once. */
  body?: BodyInit | null;
  contentType?: string;
  /** Time allowed until Baseten's response headers, per target. */
  timeoutMs: number;
  /** Aborts the call, body included: the caller's disconnect, or a batch's deadline. */
  signal?: AbortSignal;
  /** Sent upstream as x-request-id. */
  requestId: string;
  /** The caller's headers, of which upstream.ts forwards a safe few. */
  callerHeaders?: Headers;
  /** Headers of the gateway's own making, such as a WebSocket handshake's. */
  headers?: Record<string, string>;
  /** The body for one target, where it differs by target (an OpenAI `model` is each target's own name); over `body`. */
  bodyFor?: (target: Target) => BodyInit | null;
  /** Told Baseten's status as soon as it answers, for the request's log line. */
  onStatus?: (status: number) => void;
  /** Told Baseten's X-BASETEN-REQUEST-ID, for the log line. */
  onUpstreamRequestId?: (id: string) => void;
  /** Told each target as it is called (an alias with fallbacks only): the last one told is the one that answered. */
  onTarget?: (label: TargetLabel | 'none', target?: Target) => void;
  /** Keeps background work (a cold target's wake) alive after the answer. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Non-2xx statuses handed back as they came rather than thrown (a status poll's 404). */
  keep?: readonly number[];
}

/** Baseten's answer when it is a 2xx (or a status in `keep`); otherwise throws the contract's error. */
export async function callBaseten(config: Config, model: Named, endpoint: Endpoint, call: BasetenCall): Promise<Response> {
  if (hasFallbacks(model) && ('openai' in endpoint || ('action' in endpoint && FAIL_OVER_ACTIONS.has(endpoint.action)))) {
    return callWithFailover(config, model, endpoint, call);
  }
  const answer = await attempt(config, model.target, endpoint, call);
  if (answer instanceof Response) return answer;
  throw failureOf(answer, model);
}

function hasFallbacks(model: Named): model is Routed {
  return (model.fallbacks?.length ?? 0) > 0 && 'breaker' in model && model.breaker !== undefined;
}

/** One target: its answer when it is a 2xx or kept, else Baseten's error as read. Connection failures and timeouts throw. */
async function attempt(config: Config, target: Target, endpoint: Endpoint, call: BasetenCall): Promise<Response | UpstreamError> {
  const url = endpointUrl(config, target, endpoint);
  const sign = (signal: AbortSignal) =>
    signedRequest(config, url, {
      method: call.method ?? 'POST',
      requestId: call.requestId,
      body: call.bodyFor ? call.bodyFor(target) : call.body,
      callerHeaders: call.callerHeaders,
      contentType: call.contentType,
      deadline: { timeoutMs: call.timeoutMs, nowMs: Date.now() },
      headers: call.headers,
      // Baseten's model hosts take Api-Key; Model APIs are documented with OpenAI's Bearer.
      scheme: target.kind === 'model_api' ? 'Bearer' : 'Api-Key',
      signal,
    });
  const upstream = await callUpstream(sign, { timeoutMs: call.timeoutMs, callerSignal: call.signal });
  call.onStatus?.(upstream.status);
  const upstreamId = upstreamRequestId(upstream.headers);
  if (upstreamId) call.onUpstreamRequestId?.(upstreamId);
  if (upstream.ok || call.keep?.includes(upstream.status)) return upstream;
  return readUpstreamError(upstream);
}

/** Why a target did not serve: Baseten's error, a connection failure or timeout, or its open breaker. */
type Miss = { label: TargetLabel; error?: UpstreamError; thrown?: HttpError; skipped?: boolean };

/** An alias with fallbacks, and so a breaker. */
type Routed = Named & Pick<ModelConfig, 'fallbacks'> & { breaker: BreakerOptions };

/**
 * Tries the alias's targets in order. The next target is called only after a
 * fail-over-worthy failure, which always comes before any byte of an answer
 * (a 2xx is handed back at once and is the caller's from then on), and only
 * if the body can be sent again. A target whose breaker is open is skipped.
 */
async function callWithFailover(config: Config, model: Routed, endpoint: Endpoint, call: BasetenCall): Promise<Response> {
  const targets = [model.target, ...model.fallbacks];
  const misses: Miss[] = [];
  let sent = false;
  let unreplayable = false;
  for (const [index, target] of targets.entries()) {
    const label = targetLabel(index);
    // A Model API serves the OpenAI routes only: it is no fallback for the rest.
    if (target.kind === 'model_api' && !('openai' in endpoint)) continue;
    if (!breakerAllows(target, model.breaker, Date.now())) {
      misses.push({ label, skipped: true });
      continue;
    }
    // A stream body is gone once sent: its first target is its only one.
    if (sent && !replayable(call.body)) {
      unreplayable = true;
      break;
    }
    sent = true;
    call.onTarget?.(label, target);
    const miss = await tryTarget(config, model, target, label, endpoint, call);
    if (miss instanceof Response) return miss;
    misses.push(miss);
    logFailover(call, model, miss, index + 1 < targets.length);
  }
  if (!sent) call.onTarget?.('none');
  throw noTargetServed(model, misses, unreplayable);
}

/** One target of a fail-over: its answer, or why another target should be tried (the breaker told either way). */
async function tryTarget(config: Config, model: Routed, target: Target, label: TargetLabel, endpoint: Endpoint, call: BasetenCall): Promise<Response | Miss> {
  let answer: Response | UpstreamError;
  try {
    answer = await attempt(config, target, endpoint, call);
  } catch (err) {
    // The caller left (or a batch's deadline passed): nothing learnt, nobody to serve.
    if (call.signal?.aborted || !(err instanceof HttpError)) {
      breakerRelease(target);
      throw err;
    }
    breakerFailure(target, model.breaker, Date.now());
    return { label, thrown: err };
  }
  if (answer instanceof Response || !worthFailingOver(answer)) {
    breakerSuccess(target);
    if (answer instanceof Response) return answer;
    throw failureOf(answer, model);
  }
  breakerFailure(target, model.breaker, Date.now());
  if (meansNoReplica(answer)) wakeInBackground(config, model, target, label, call);
  return { label, error: answer };
}

function replayable(body: BodyInit | null | undefined): boolean {
  return !(body instanceof ReadableStream);
}

/**
 * After the last target: 503 with retry-after when the alias had somewhere
 * else to go and nothing served; the one target's own error when the body
 * could not be sent again.
 */
function noTargetServed(model: Routed, misses: Miss[], unreplayable: boolean): HttpError {
  const last = [...misses].reverse().find((miss) => !miss.skipped);
  if (unreplayable && last) return last.error ? failureOf(last.error, model) : last.thrown!;
  const lastError = last?.error ? failureOf(last.error, model) : last?.thrown;
  const said = misses.map((miss) => `${miss.label}: ${miss.skipped ? 'paused by its circuit breaker' : summary(miss, model)}`).join('; ');
  return new HttpError(
    'service_unavailable',
    `no target of model "${model.alias}" could serve (${said}); try again later`,
    { ...lastError?.headers, 'retry-after': String(retryAfterSeconds(model, misses)) },
    lastError?.details ?? {},
  );
}

function summary(miss: Miss, model: Routed): string {
  return miss.error ? failureOf(miss.error, model).message : miss.thrown!.message;
}

/** Baseten's own advice when it gave one, else the soonest end of a cooldown, else a short default. */
function retryAfterSeconds(model: Routed, misses: Miss[]): number {
  const advised = misses.map((miss) => Number(miss.error?.retryAfter)).filter((n) => Number.isFinite(n) && n > 0);
  if (advised.length > 0) return Math.min(...advised);
  const now = Date.now();
  const cooldowns = [model.target, ...model.fallbacks].map((target) => breakerWaitSeconds(target, now)).filter((n) => n > 0);
  return cooldowns.length > 0 ? Math.min(...cooldowns) : DEFAULT_RETRY_AFTER_SECONDS;
}

function logFailover(call: BasetenCall, model: Named, miss: Miss, next: boolean): void {
  console.log(
    JSON.stringify({
      level: 'warn',
      event: 'target_failed',
      request_id: call.requestId,
      alias: model.alias,
      target: miss.label,
      upstream_status: miss.error?.status,
      upstream_code: miss.error?.code,
      error: miss.thrown?.type,
      failing_over: next,
    }),
  );
}

/** A cold target is woken in the background, once a minute at most; chains have no wake on Baseten. */
function wakeInBackground(config: Config, model: Named, target: Target, label: TargetLabel, call: BasetenCall): void {
  if (!call.waitUntil || target.kind !== 'model' || !takeWake(target, Date.now())) return;
  // The wake serves later calls, not this one: its own id, traceable to the request that fired it.
  const requestId = `${call.requestId}.wake`;
  const woken = attempt(config, target, { action: 'wake' }, { requestId, timeoutMs: WAKE_TIMEOUT_MS })
    .then(async (answer) => {
      if (answer instanceof Response) await answer.body?.cancel();
      return answer.status;
    })
    .catch((err: unknown) => (err instanceof HttpError ? err.type : 'internal'))
    .then((outcome) => console.log(JSON.stringify({ event: 'wake', reason: 'no_replica', request_id: requestId, alias: model.alias, target: label, outcome })));
  call.waitUntil(woken);
}

/** Where an endpoint is for one target: its deployment's host (regional or not), or the Model APIs endpoint. */
function endpointUrl(config: Config, target: Target, endpoint: Endpoint): string {
  if ('asyncRequest' in endpoint) return asyncRequestUrl(config, basetenTarget(target), endpoint.asyncRequest);
  if ('openai' in endpoint) return openAIUrl(config, target, endpoint.openai);
  return targetUrl(config, target, endpoint.action, endpoint.rest);
}
