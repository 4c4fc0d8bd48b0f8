/**
 * What every request carries through the router, and the three hooks around
 * the routes: `begin` (request id, query length, config, CORS), `renderError` (the
 * only place an error becomes a response) and `finish` (common headers, the
 * log line).
 */
import type { IRequest } from 'itty-router';
import type { Caller } from './auth.ts';
import type { BasetenCall } from './baseten.ts';
import type { CacheOutcome } from './cache-key.ts';
import { countCall } from './call-count.ts';
import { type Config, ConfigError, type ConfigSource, loadConfig } from './config.ts';
import { preflight, refuseForeignOrigin, withCorsHeaders } from './cors.ts';
import { errorResponse, HttpError } from './errors.ts';
import { logRequest } from './log.ts';
import type { SocketRecord } from './meter-rules.ts';
import { describeForLog } from './redact.ts';
import { requestIdFor } from './request-id.ts';
import type { UsageTap } from './usage-tap.ts';

export interface RequestState {
  requestId: string;
  startedMs: number;
  config?: Config;
  caller?: Caller;
  alias?: string;
  upstreamStatus?: number;
  /** Baseten's X-BASETEN-REQUEST-ID, for the log line. */
  upstreamRequestId?: string;
  /** Which of an alias's targets answered (aliases with fallbacks): sent as x-gateway-target. */
  gatewayTarget?: string;
  /** The request's ExecutionContext.waitUntil, for work that outlives the answer. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Time Baseten took to answer, summed over this request's calls. */
  upstreamMs: number;
  /** Set by access on routes counted in the caller's usage: the requests the call counts for, and how many the door already counted. */
  metered?: { requests: number; admitted: number };
  /** The answer's tokens, read as it passes (OpenAI routes). */
  usage?: UsageTap;
  /** A WebSocket connection's traffic, settled when it closes (the WebSocket routes). */
  socket?: Promise<SocketRecord>;
  cache?: CacheOutcome;
}

export type GatewayRequest = IRequest & { state: RequestState };
export type HandlerArgs = [Env, ExecutionContext];

/** Longer queries are refused before anything else: no route needs one, and upstream servers refuse them less clearly (431). */
export const MAX_QUERY_CHARS = 8192;

export function begin(request: GatewayRequest, env: Env, ctx?: ExecutionContext): Response | undefined {
  request.state = {
    requestId: requestIdFor(request),
    startedMs: Date.now(),
    upstreamMs: 0,
    // A request made up by a test may come with an empty context.
    waitUntil: typeof ctx?.waitUntil === 'function' ? (promise) => ctx.waitUntil(promise) : undefined,
  };
  const { search } = new URL(request.url);
  if (search.length - 1 > MAX_QUERY_CHARS) throw new HttpError('uri_too_long', `the query string is longer than ${MAX_QUERY_CHARS} characters`);
  request.state.config = configOf(env);
  const answer = preflight(request, request.state.config);
  if (!answer) refuseForeignOrigin(request, request.state.config);
  return answer;
}

function configOf(env: Env): Config {
  try {
    return loadConfig(env as ConfigSource);
  } catch (err) {
    if (err instanceof ConfigError) throw new HttpError('internal', `gateway configuration error: ${err.message}`);
    throw err;
  }
}

export function config(request: GatewayRequest): Config {
  return request.state.config!;
}

export function caller(request: GatewayRequest): Caller {
  return request.state.caller!;
}

/**
 * What a Baseten call made for this request carries: its id, the caller's
 * disconnect, where Baseten's status, request id and serving target are
 * noted, the request's background work, and the rate limiter's verdict it
 * waits for.
 */
export function onBehalfOf(request: GatewayRequest): Pick<BasetenCall, 'requestId' | 'signal' | 'onStatus' | 'onUpstreamRequestId' | 'onTarget' | 'waitUntil'> {
  const { state } = request;
  // A call that fails over answers more than once: each answer adds the time since the one before.
  let sinceMs = Date.now();
  return {
    requestId: state.requestId,
    signal: request.signal,
    onStatus: (status) => {
      state.upstreamStatus = status;
      const nowMs = Date.now();
      state.upstreamMs += nowMs - sinceMs;
      sinceMs = nowMs;
    },
    onUpstreamRequestId: (id) => {
      state.upstreamRequestId = id;
    },
    onTarget: (label) => {
      state.gatewayTarget = label;
    },
    waitUntil: state.waitUntil,
  };
}

export function renderError(err: unknown, request: IRequest): Response {
  // `begin` may itself have failed (a bad config): the state is made here then.
  const state: RequestState = request.state ?? { requestId: requestIdFor(request), startedMs: Date.now(), upstreamMs: 0 };
  request.state = state;
  if (!(err instanceof HttpError)) {
    console.error(JSON.stringify({ level: 'error', request_id: state.requestId, error: describeForLog(err) }));
  }
  return errorResponse(err, state.requestId);
}

export function finish(response: Response, request: GatewayRequest, env: Env): Response {
  const { state } = request;
  // Every handler builds its own Response, so the headers here are mutable.
  response.headers.set('x-request-id', state.requestId);
  if (state.gatewayTarget) response.headers.set('x-gateway-target', state.gatewayTarget);
  withCorsHeaders(response.headers, state.config, request.headers.get('origin'));
  logRequest(request, state, response.status);
  countCall({ ...state, method: request.method, route: typeof request.route === 'string' ? request.route : '', status: response.status }, env);
  return response;
}
