/**
 * Building and signing Baseten requests (pure functions), and the one fetch
 * wrapper that adds the timeout and the caller's abort signal.
 */
import type { BasetenTarget, Config, Deployment, Target } from './config.ts';
import { HttpError } from './errors.ts';

export type Action = 'predict' | 'async_predict' | 'async_queue_status' | 'wake' | 'sync' | 'websocket';

/** Chains name their entrypoint run_remote where models say predict. */
const CHAIN_ACTIONS: Partial<Record<Action, string>> = { predict: 'run_remote', async_predict: 'async_run_remote' };

/** Only these caller headers go upstream: never Authorization, cookies or hop-by-hop headers. */
const FORWARDED_HEADERS = ['content-type', 'accept', 'accept-language', 'x-session-affinity'];

/** Baseten's clients tag their calls with it (the Performance Client: `perfclient-<id>-<batch>-<retry>`); kept for Baseten's logs. */
const CUSTOMER_REQUEST_ID = 'x-baseten-customer-request-id';
const CUSTOMER_REQUEST_ID_SHAPE = /^[\x21-\x7e]{1,256}$/;
/** Milliseconds, as Baseten's clients send them: a duration, or a Unix epoch deadline. */
const WHOLE_MS = /^\d{1,15}$/;

/** The target as a deployment on Baseten's hosts; a Model API has nothing but the OpenAI routes. */
export function basetenTarget(target: Target): BasetenTarget {
  if (target.kind === 'model_api')
    throw new HttpError('not_found', 'this alias is a Model API: only /v1/chat/completions, /v1/completions and /v1/embeddings reach it');
  return target;
}

/** The model's (or chain's) own host, `model-{id}`. */
function modelOrigin(config: Config, target: BasetenTarget): string {
  return config.urlTemplate.replace('{subdomain}', `${target.kind}-${target.id}`);
}

/** Where the target's deployment answers: the model's host, or a regional environment's own `model-{id}-{env}`. */
function deploymentOrigin(config: Config, target: BasetenTarget): string {
  if (!target.regional || target.deployment.kind !== 'environment') return modelOrigin(config, target);
  return config.urlTemplate.replace('{subdomain}', `${target.kind}-${target.id}-${target.deployment.name}`);
}

export function deploymentPath(deployment: Deployment): string {
  switch (deployment.kind) {
    case 'environment':
      return `/environments/${deployment.name}`;
    case 'deployment':
      return `/deployment/${deployment.id}`;
    case 'development':
      return '/development';
  }
}

/**
 * The URL of an action on the target's deployment. `rest` is only used by
 * sync (already checked against the alias's sync_routes) and starts with "/".
 * Regional hosts take bare paths: path-based routes do not exist there.
 */
export function targetUrl(config: Config, target: Target, action: Action, rest = ''): string {
  const deployment = basetenTarget(target);
  const name = deployment.kind === 'chain' ? (CHAIN_ACTIONS[action] ?? action) : action;
  const prefix = deployment.regional ? '' : deploymentPath(deployment.deployment);
  return `${deploymentOrigin(config, deployment)}${prefix}/${name}${rest}`;
}

/**
 * One of the OpenAI routes (`chat/completions`, ...): the Model APIs endpoint
 * for a Model API, else the engine behind the deployment's /sync/v1.
 */
export function openAIUrl(config: Config, target: Target, endpoint: string): string {
  if (target.kind === 'model_api') return `${config.modelApiUrl}/${endpoint}`;
  return targetUrl(config, target, 'sync', `/v1/${endpoint}`);
}

/**
 * Async request status and cancel live beside the deployments, not under one,
 * and on the model's own host: regional hosts have no async_request.
 */
export function asyncRequestUrl(config: Config, target: BasetenTarget, requestId: string): string {
  return `${modelOrigin(config, target)}/async_request/${encodeURIComponent(requestId)}`;
}

export interface SignOptions {
  method: string;
  requestId: string;
  body?: BodyInit | null;
  /** The caller's headers; only FORWARDED_HEADERS are copied. */
  callerHeaders?: Headers;
  contentType?: string;
  /** The gateway's own limit on this call: Baseten's timeout headers from the caller are forwarded only within it. */
  deadline?: { timeoutMs: number; nowMs: number };
  /** More headers, set after the forwarded ones (a WebSocket handshake's Upgrade and subprotocols). */
  headers?: Record<string, string>;
  /** Baseten's model hosts take `Api-Key`; Model APIs are documented with OpenAI's `Bearer`. */
  scheme?: 'Api-Key' | 'Bearer';
  /** Aborts the call, body included: given here so that fetch() need not copy the request to add it. */
  signal?: AbortSignal;
}

export function signedRequest(config: Config, url: string, options: SignOptions): Request {
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = options.callerHeaders?.get(name);
    if (value) headers.set(name, value);
  }
  if (options.contentType) headers.set('content-type', options.contentType);
  if (options.callerHeaders) {
    for (const [name, value] of basetenClientHeaders(options.callerHeaders, options.deadline)) headers.set(name, value);
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
  headers.set('authorization', `${options.scheme ?? 'Api-Key'} ${config.apiKey}`);
  headers.set('x-request-id', options.requestId);
  // Redirects are never followed: the body would be re-sent to whatever host Baseten's answer named.
  return new Request(url, { method: options.method, headers, body: options.body ?? null, signal: options.signal, redirect: 'manual' });
}

/**
 * The request headers Baseten's own clients send: the customer's request id
 * as it is, and the timeout and deadline capped by the gateway's limit
 * (without one they are not forwarded). Malformed values are dropped.
 */
export function basetenClientHeaders(caller: Headers, deadline?: { timeoutMs: number; nowMs: number }): [string, string][] {
  const forwarded: [string, string][] = [];
  const customerId = caller.get(CUSTOMER_REQUEST_ID);
  if (customerId !== null && CUSTOMER_REQUEST_ID_SHAPE.test(customerId)) forwarded.push([CUSTOMER_REQUEST_ID, customerId]);
  if (!deadline) return forwarded;
  const timeoutMs = wholeMs(caller.get('request-timeout-ms'));
  if (timeoutMs !== undefined) forwarded.push(['request-timeout-ms', String(Math.min(timeoutMs, deadline.timeoutMs))]);
  const deadlineMs = wholeMs(caller.get('request-deadline-ms'));
  if (deadlineMs !== undefined) forwarded.push(['request-deadline-ms', String(Math.min(deadlineMs, deadline.nowMs + deadline.timeoutMs))]);
  return forwarded;
}

function wholeMs(value: string | null): number | undefined {
  return value !== null && WHOLE_MS.test(value.trim()) ? Number(value.trim()) : undefined;
}

export interface CallOptions {
  /** Time allowed until Baseten's response headers arrive. */
  timeoutMs: number;
  /** The caller's signal: its disconnect aborts the upstream fetch, body included. */
  callerSignal?: AbortSignal;
}

export class UpstreamTimeout extends Error {}

/**
 * When a call's own time is up, and how to cancel it: for the bodies the
 * gateway reads itself (error messages, control answers), which must not
 * outlive the call's deadline. Kept beside the answer rather than in its body,
 * so that a body streamed to the caller is never wrapped or cut.
 */
export interface BodyDeadline {
  atMs: number;
  cancel: () => void;
}

const bodyDeadlines = new WeakMap<Response, BodyDeadline>();

/** The deadline of the call that answered with `upstream`, if it came through callUpstream. */
export function bodyDeadlineOf(upstream: Response): BodyDeadline | undefined {
  return bodyDeadlines.get(upstream);
}

/**
 * Methods a second attempt cannot repeat a side effect of (RFC 9110 §9.2.2).
 * Nothing else is retried: in Workers a refused connection and one dropped
 * after Baseten received the request fail alike ("Network connection lost"),
 * so a retried predict could run the model twice.
 */
const RETRIED_METHODS = new Set(['GET', 'HEAD']);
const RETRY_DELAYS_MS = [100, 400];

/**
 * fetch with a time limit on the headers only, so that a long healthy stream
 * is never cut, and with the caller's disconnect passed on. GET and HEAD are
 * tried again after a connection failure, within the same time limit; an
 * answer, even a 5xx, is never retried. Redirects are never followed (the
 * request is made with `redirect: 'manual'`, see signedRequest). The request
 * is made by `sign` with the call's own signal, once: fetch() then sends it
 * as it is instead of copying it to add the signal.
 */
export async function callUpstream(sign: (signal: AbortSignal) => Request, options: CallOptions): Promise<Response> {
  const startedMs = Date.now();
  const controller = new AbortController();
  const request = sign(controller.signal);
  const onCallerAbort = () => controller.abort(new Error('caller went away'));
  if (options.callerSignal?.aborted) onCallerAbort();
  options.callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new UpstreamTimeout()), options.timeoutMs);
  try {
    const upstream = refuseRedirect(await fetchWithRetries(request));
    bodyDeadlines.set(upstream, { atMs: startedMs + options.timeoutMs, cancel: () => controller.abort(new UpstreamTimeout()) });
    return upstream;
  } catch (err) {
    if (controller.signal.reason instanceof UpstreamTimeout) {
      throw new HttpError('upstream_timeout', `Baseten did not answer within ${options.timeoutMs} ms`);
    }
    if (err instanceof HttpError) throw err;
    throw new HttpError('upstream_error', 'the connection to Baseten failed before it answered');
  } finally {
    clearTimeout(timer);
  }
}

/** A 3xx is Baseten (or something posing as it) sending the call elsewhere: a failure, its body unread. */
function refuseRedirect(upstream: Response): Response {
  if (upstream.status < 300 || upstream.status > 399) return upstream;
  upstream.body?.cancel().catch(() => {});
  throw new HttpError('upstream_error', `Baseten answered ${upstream.status}, a redirect, which the gateway does not follow`);
}

async function fetchWithRetries(request: Request): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(request);
    } catch (err) {
      const delayMs = RETRY_DELAYS_MS[attempt];
      if (request.signal.aborted || !RETRIED_METHODS.has(request.method) || delayMs === undefined) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
