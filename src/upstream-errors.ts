/**
 * Baseten's failures turned into the contract's error: its status kept in
 * the message, its message cut to one bounded line, its IDs replaced by the
 * alias and every secret removed. Also the bounded reads of Baseten's small
 * JSON answers.
 */
import type { ModelConfig } from './config.ts';
import { scrubBasetenIds } from './baseten-ids.ts';
import { HttpError } from './errors.ts';
import { redact } from './redact.ts';
import { bodyDeadlineOf } from './upstream.ts';

/** What scrubbing needs: the alias to name, the target whose IDs it replaces. */
export type Named = Pick<ModelConfig, 'alias' | 'target'>;

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
  const timer = deadline ? setTimeout(() => {
    late = true;
    deadline.cancel();
    reader.cancel().catch(() => {});
  }, Math.max(0, deadline.atMs - Date.now())) : null;
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

/** Baseten errors are `{"error": "..."}`; engines say `{"error": {"message": "..."}}`. */
export function errorMessageOf(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'error' in parsed) {
      const error = (parsed as { error: unknown }).error;
      if (typeof error === 'string') return error;
      if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string') return error.message;
    }
    if (parsed && typeof parsed === 'object' && 'detail' in parsed && typeof parsed.detail === 'string') return parsed.detail;
  } catch {
    // not JSON: the text itself, trimmed below
  }
  return text.trim() || 'no message';
}

/** Baseten's model, chain and deployment IDs never reach a caller: the alias stands in for its own, "[id]" for any other. */
export function scrubIds(text: string, model: Named): string {
  const own = [model.target.id];
  if (model.target.deployment.kind === 'deployment') own.push(model.target.deployment.id);
  return scrubBasetenIds(text, own, model.alias);
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

/** Maps a non-2xx Baseten answer to the contract's error. */
export async function upstreamFailure(upstream: Response, model: Named): Promise<HttpError> {
  const { text, late } = await readPrefix(upstream, ERROR_BODY_MAX_BYTES);
  // A message cut short by the deadline is still Baseten's status: the caller gets that much.
  const message = late ? 'its message did not arrive in time' : publicMessage(errorMessageOf(text), model);
  const detail = `Baseten answered ${upstream.status}: ${message}`;
  if (upstream.status === 429) {
    const retryAfter = upstream.headers.get('retry-after') ?? '';
    return new HttpError('rate_limited', detail, { 'retry-after': /^\d{1,6}$/.test(retryAfter) ? retryAfter : '1' });
  }
  if (upstream.status === 504) return new HttpError('upstream_timeout', detail);
  return new HttpError('upstream_error', detail);
}
