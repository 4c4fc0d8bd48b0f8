/**
 * Baseten's failures turned into the contract's error: its status kept in
 * the message, its message cut to one bounded line, its IDs replaced by the
 * alias and every secret removed. Also the bounded reads of Baseten's small
 * JSON answers.
 */

import { scrubBasetenIds } from './baseten-ids.ts';
import { type ModelConfig, targetIds } from './config.ts';
import { type ErrorType, HttpError } from './errors.ts';
import { redact } from './redact.ts';
import { bodyDeadlineOf } from './upstream.ts';

/** What scrubbing needs: the alias to name, the targets whose IDs it replaces (the fallbacks' too, when known). */
export type Named = Pick<ModelConfig, 'alias' | 'target'> & Partial<Pick<ModelConfig, 'fallbacks'>>;

/** Enough of an error body to carry its message; the rest is not read. */
const ERROR_BODY_MAX_BYTES = 4096;

/** What the gateway read of a body: its start, and whether the call's deadline cut it short. */
interface Prefix {
  text: string;
  late: boolean;
}

/**
 * Reads at most maxBytes of an answer's body, then cancels the rest. The read
 * ends at the call's deadline (see bodyDeadlineOf): a body that stalls half
 * way cancels the upstream call instead of holding the caller.
 */
export async function readPrefix(upstream: Response, maxBytes: number): Promise<Prefix> {
  if (!upstream.body) return { text: '', late: false };
  const reader = upstream.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const deadline = bodyDeadlineOf(upstream);
  let late = false;
  const timer = deadline
    ? setTimeout(
        () => {
          late = true;
          deadline.cancel();
          reader.cancel().catch(() => {});
        },
        Math.max(0, deadline.atMs - Date.now()),
      )
    : null;
  try {
    while (total < maxBytes && !late) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } catch (err) {
    if (!late) throw err;
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  return { text: decodePrefix(chunks, Math.min(total, maxBytes)), late };
}

function decodePrefix(chunks: Uint8Array[], length: number): string {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** What a Baseten error body says: `{"error", "error_code"?, "detail"?}`; engines say `{"error": {"message"}}`, FastAPI `{"detail"}`. */
export interface ErrorBody {
  message: string;
  /** Baseten's `error_code`, when it is one of the documented words. */
  code?: string;
  detail?: string;
}

const ERROR_CODE = /^[a-z_]{1,64}$/;

/** Baseten errors are `{"error": "...", "error_code"?, "detail"?}`; engines say `{"error": {"message": "..."}}`. */
export function errorBodyOf(text: string): ErrorBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { message: text.trim() || 'no message' };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { message: text.trim() || 'no message' };
  const body = parsed as Record<string, unknown>;
  const error = body.error;
  // FastAPI's 422 detail is a list of problems: kept as JSON text.
  const detail = typeof body.detail === 'string' ? body.detail : body.detail === undefined ? undefined : JSON.stringify(body.detail);
  const code = typeof body.error_code === 'string' && ERROR_CODE.test(body.error_code) ? body.error_code : undefined;
  let message: string | undefined;
  if (typeof error === 'string') message = error;
  else if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string') message = error.message;
  if (message === undefined) return { message: detail ?? (text.trim() || 'no message'), code };
  return { message, code, detail };
}

/** Baseten's model, chain and deployment IDs never reach a caller: the alias stands in for its own, "[id]" for any other. */
export function scrubIds(text: string, model: Named): string {
  return scrubBasetenIds(text, [model.target, ...(model.fallbacks ?? [])].flatMap(targetIds), model.alias);
}

/** Printable, single-line, bounded: a message from upstream cannot inject anything. */
function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 500);
}

/** A Baseten message fit for a caller: IDs replaced by the alias, secrets cut, one bounded line. */
export function publicMessage(text: string, model: Named): string {
  return clean(redact(scrubIds(text, model)));
}

/** Status, cancel and queue answers are a few hundred bytes; a longer one is cut, then fails to parse. */
const CONTROL_BODY_MAX_BYTES = 16 * 1024;

/** Baseten's small JSON control answers (submit, status, cancel, queue); undefined when not JSON. */
export async function readSmallJson(upstream: Response): Promise<unknown> {
  const { text, late } = await readPrefix(upstream, CONTROL_BODY_MAX_BYTES);
  if (late) throw new HttpError('upstream_timeout', `Baseten's ${upstream.status} answer did not finish in time`);
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A non-2xx Baseten answer, read once: what the fail-over decision and the caller's error are made from. */
export interface UpstreamError extends ErrorBody {
  status: number;
  /** Seconds, as Baseten sent them on a 429 or 503. */
  retryAfter?: string;
  /** X-BASETEN-REQUEST-ID, for support tickets. */
  requestId?: string;
  /** A Truss server's own error: X-BASETEN-ERROR-SOURCE and X-BASETEN-ERROR-CODE. */
  trussSource?: string;
  trussCode?: string;
}

/** Baseten's request ids are documented only as strings: anything else is not passed on. */
const SANE_UPSTREAM_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Baseten's X-BASETEN-REQUEST-ID when it is a plain token. */
export function upstreamRequestId(headers: Headers): string | undefined {
  const id = headers.get('x-baseten-request-id');
  return id !== null && SANE_UPSTREAM_ID.test(id) ? id : undefined;
}

export async function readUpstreamError(upstream: Response): Promise<UpstreamError> {
  const { text, late } = await readPrefix(upstream, ERROR_BODY_MAX_BYTES);
  // A message cut short by the call's deadline still gives Baseten's status: the caller gets that much.
  const body = late ? { message: 'its message did not arrive in time' } : errorBodyOf(text);
  const retryAfter = upstream.headers.get('retry-after') ?? '';
  return {
    ...body,
    status: upstream.status,
    retryAfter: /^\d{1,6}$/.test(retryAfter) ? retryAfter : undefined,
    requestId: upstreamRequestId(upstream.headers),
    trussSource: upstream.headers.get('x-baseten-error-source') ?? undefined,
    trussCode: upstream.headers.get('x-baseten-error-code') ?? undefined,
  };
}

/** Maps a non-2xx Baseten answer to the contract's error. */
export async function upstreamFailure(upstream: Response, model: Named): Promise<HttpError> {
  return failureOf(await readUpstreamError(upstream), model);
}

/**
 * The contract's error for a Baseten refusal. The caller's faults keep their
 * class (and tell OpenAI clients not to retry); 401, 403 and 404 are the
 * gateway's configuration, so they stay 502.
 */
export function failureOf(error: UpstreamError, model: Named): HttpError {
  const text = error.detail === undefined ? error.message : `${error.message}: ${error.detail}`;
  const message = `Baseten answered ${error.status}: ${publicMessage(text, model)}`;
  const details: Record<string, string | number> = { upstream_status: error.status };
  if (error.code) details.upstream_code = error.code;
  const headers: Record<string, string> = error.requestId ? { 'x-baseten-request-id': error.requestId } : {};
  const type = errorTypeOf(error);
  if (type === 'invalid_request' || type === 'payload_too_large') headers['x-should-retry'] = 'false';
  if (type === 'rate_limited') headers['retry-after'] = error.retryAfter ?? '1';
  return new HttpError(type, message, headers, details);
}

function errorTypeOf(error: UpstreamError): ErrorType {
  if (error.status === 400 || error.status === 422 || error.code === 'client_error') return 'invalid_request';
  if (error.status === 413) return 'payload_too_large';
  if (error.status === 429) return 'rate_limited';
  if (error.status === 504) return 'upstream_timeout';
  return 'upstream_error';
}
