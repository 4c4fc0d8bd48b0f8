/**
 * GET /v1/async/{request_id}: the caller's own request, from KV and, while
 * it is not final, from Baseten's /async_request/{id} (at most once per
 * async_status_min_interval_ms).
 * DELETE /v1/async/{request_id}: cancel upstream, keep the outcome.
 *
 * Unknown ids and other callers' ids get the same 404, so nothing tells
 * which ids exist.
 */
import { presentedOwner, sameOwner } from '../async-owner.ts';
import {
  type AsyncRecord,
  type AsyncResult,
  afterBasetenStatus,
  afterCancel,
  type BasetenStatus,
  isFinal,
  isRequestId,
  parseBasetenStatus,
  parseCancelOutcome,
  resultFor,
  type StatusView,
  statusView,
} from '../async-status.ts';
import { forget, lastSeen, remember } from '../async-status-cache.ts';
import { AsyncStore } from '../async-store.ts';
import { CONTROL_TIMEOUT_MS, callBaseten } from '../baseten.ts';
import { caller, config, type GatewayRequest, onBehalfOf } from '../context.ts';
import { HttpError } from '../errors.ts';
import { json } from '../responses.ts';
import { publicMessage, readSmallJson } from '../upstream-errors.ts';

export async function asyncStatus(request: GatewayRequest, env: Env): Promise<Response> {
  const store = new AsyncStore(env.ASYNC_REQUESTS);
  const { record, result } = await ownedRequest(request, store);
  if (result || isFinal(record.status)) return json(publicView(statusView(record, result, undefined), record));

  // Not final here: either it is still running, or its result or final status has not reached this location yet.
  const { reported, retryAfter } = await basetenStatus(request, record);
  const learned = reported && afterBasetenStatus(record, reported, Date.now());
  if (learned) {
    // Awaited, so the next poll at this location is served from KV; a failed write (the store logs it) only costs a later Baseten call.
    await store.saveRecord(learned, Date.now()).catch(() => {});
  }
  const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': retryAfter };
  return json(publicView(statusView(learned ?? record, undefined, reported), record), 200, headers);
}

export async function cancelAsync(request: GatewayRequest, env: Env): Promise<Response> {
  const store = new AsyncStore(env.ASYNC_REQUESTS);
  const { record, result } = await ownedRequest(request, store);
  const status = result?.status ?? record.status;
  if (isFinal(status)) {
    // Baseten cancels only QUEUED requests; a final one is answered without spending its cancel rate limit.
    return json({ request_id: record.request_id, model: record.alias, canceled: false, message: `request is already ${status}` });
  }
  const upstream = await asyncRequestCall(request, record, 'DELETE');
  const outcome = parseCancelOutcome(await readSmallJson(upstream));
  if (!outcome) throw new HttpError('upstream_error', 'Baseten answered an unreadable cancel outcome');
  await forget(record.request_id);
  // Baseten's answer stands even if it cannot be kept (the store logs it): a later status poll learns CANCELED from Baseten itself.
  await store.saveRecord(afterCancel(record, outcome, Date.now()), Date.now()).catch(() => {});
  return json({ request_id: record.request_id, model: record.alias, canceled: outcome.canceled, message: publicMessage(outcome.message, record) });
}

/** The record and result of the id in the path, if this caller owns it; otherwise the one 404. */
async function ownedRequest(request: GatewayRequest, store: AsyncStore): Promise<{ record: AsyncRecord; result?: AsyncResult }> {
  const requestId = String(request.params.request_id);
  // Checked before anything is looked up or sent.
  if (!isRequestId(requestId)) throw new HttpError('invalid_request', "an async request id is 1 to 128 letters, digits, '_' or '-'");
  const [record, result, owner] = await Promise.all([store.record(requestId), store.result(requestId), presentedOwner(caller(request), request.headers)]);
  // Baseten's path names the model too (/v1/models/{alias}/async_request/{id}): another alias's request is not found there.
  const aliasInPath = request.params.alias;
  if (!record || !sameOwner(record.owner, owner) || (aliasInPath !== undefined && aliasInPath !== record.alias)) {
    throw new HttpError(
      'not_found',
      'no async request with this id for this caller (anonymous callers send the owner_token from the submit in x-async-owner-token)',
    );
  }
  request.state.alias = record.alias;
  // A delivery that came before the record was seen here is joined now, if it names the record's target.
  return { record, result: resultFor(record, result) };
}

interface Polled {
  /** Baseten's view, or undefined when it no longer knows the id (it keeps status an hour after completion) or was not asked. */
  reported?: BasetenStatus;
  /** Set when Baseten refused with 429: the poll is served from what the gateway knows, with Baseten's wait. */
  retryAfter?: string;
}

/**
 * Baseten's view of the request, asked at most once per
 * async_status_min_interval_ms: polls in between get the last answer. A 429
 * from Baseten is not the caller's failure: the last known view is served.
 */
async function basetenStatus(request: GatewayRequest, record: AsyncRecord): Promise<Polled> {
  const seen = await lastSeen(record.request_id);
  const nowMs = Date.now();
  if (seen && nowMs - seen.atMs < config(request).settings.asyncStatusMinIntervalMs) return { reported: seen.reported ?? undefined };
  const upstream = await asyncRequestCall(request, record, 'GET', [404, 429]);
  if (upstream.status === 429) {
    await upstream.body?.cancel();
    return { reported: seen?.reported ?? undefined, retryAfter: retryAfterOf(upstream) };
  }
  if (upstream.status === 404) {
    await upstream.body?.cancel();
    await remember(record.request_id, { reported: null, atMs: nowMs });
    return {};
  }
  const reported = parseBasetenStatus(await readSmallJson(upstream));
  if (!reported) throw new HttpError('upstream_error', 'Baseten answered an unreadable async status');
  await remember(record.request_id, { reported, atMs: nowMs });
  return { reported };
}

/** Baseten's wait in whole seconds when it gave a sane one, else one second. */
function retryAfterOf(upstream: Response): string {
  const given = upstream.headers.get('retry-after') ?? '';
  return /^\d{1,6}$/.test(given) ? given : '1';
}

/** Baseten's status or cancel endpoint for the request, at the target it was sent to. */
function asyncRequestCall(request: GatewayRequest, record: AsyncRecord, method: 'GET' | 'DELETE', keep: number[] = []): Promise<Response> {
  return callBaseten(
    config(request),
    record,
    { asyncRequest: record.request_id },
    {
      ...onBehalfOf(request),
      method,
      timeoutMs: CONTROL_TIMEOUT_MS,
      keep,
    },
  );
}

/** Error and cancel messages come from Baseten and may name its IDs: the alias stands in. */
function publicView(view: StatusView, record: AsyncRecord): StatusView {
  const errors = view.errors.map((error) => ({ code: error.code, message: publicMessage(error.message, record) }));
  const cancel = view.cancel && { ...view.cancel, message: publicMessage(view.cancel.message, record) };
  return { ...view, errors, ...(cancel ? { cancel } : {}) };
}
