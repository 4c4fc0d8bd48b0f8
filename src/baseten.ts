/**
 * The one way the gateway calls Baseten, for every route and for the cron:
 * the endpoint's URL, the signed request, the call with its deadline and the
 * caller's signal, Baseten's status noted for the log line, and a refusal
 * turned into the contract's error (IDs scrubbed, secrets cut).
 */
import type { Config } from './config.ts';
import type { HttpError } from './errors.ts';
import { upstreamFailure, type Named } from './upstream-errors.ts';
import { asyncRequestUrl, callUpstream, signedRequest, targetUrl, type Action } from './upstream.ts';

/** Status, cancel and queue calls answer at once; a stuck one should not hold a caller for the alias's predict timeout. */
export const CONTROL_TIMEOUT_MS = 30_000;

/** An action of the target's deployment (with the rest of the path for sync), or one async request by Baseten's id. */
export type Endpoint = { action: Action; rest?: string } | { asyncRequest: string };

export interface BasetenCall {
  /** POST unless said otherwise. */
  method?: string;
  body?: BodyInit | null;
  contentType?: string;
  /** Time allowed until Baseten's response headers. */
  timeoutMs: number;
  /** Aborts the call, body included: the caller's disconnect, or a batch's deadline. */
  signal?: AbortSignal;
  /** Sent upstream as x-request-id. */
  requestId: string;
  /** The caller's headers, of which upstream.ts forwards a safe few. */
  callerHeaders?: Headers;
  /** Told Baseten's status as soon as it answers, for the request's log line. */
  onStatus?: (status: number) => void;
  /** Non-2xx statuses handed back as they came rather than thrown (a status poll's 404). */
  keep?: readonly number[];
  /** How a refusal becomes the contract's error, where a route knows better than upstreamFailure. */
  failure?: (upstream: Response, model: Named) => Promise<HttpError>;
}

/** Baseten's answer when it is a 2xx (or a status in `keep`); otherwise throws the contract's error. */
export async function callBaseten(config: Config, model: Named, endpoint: Endpoint, call: BasetenCall): Promise<Response> {
  const url = 'asyncRequest' in endpoint
    ? asyncRequestUrl(config, model.target, endpoint.asyncRequest)
    : targetUrl(config, model.target, endpoint.action, endpoint.rest);
  const request = signedRequest(config, url, {
    method: call.method ?? 'POST',
    requestId: call.requestId,
    body: call.body,
    callerHeaders: call.callerHeaders,
    contentType: call.contentType,
    deadline: { timeoutMs: call.timeoutMs, nowMs: Date.now() },
  });
  const upstream = await callUpstream(request, { timeoutMs: call.timeoutMs, callerSignal: call.signal });
  call.onStatus?.(upstream.status);
  if (upstream.ok || call.keep?.includes(upstream.status)) return upstream;
  throw await (call.failure ?? upstreamFailure)(upstream, model);
}
