/**
 * Baseten's failures turned into the contract's error: its status kept in
 * the message, its message cut to one bounded line, its IDs replaced by the
 * alias and every secret removed. Also the bounded reads of Baseten's small
 * JSON answers.
 */
import type { ModelConfig } from './config.ts';
import { HttpError } from './errors.ts';
import { redact } from './redact.ts';

/** What scrubbing needs: the alias to name, the target whose IDs it replaces. */
export type Named = Pick<ModelConfig, 'alias' | 'target'>;

/** Enough of an error body to carry its message; the rest is not read. */
const ERROR_BODY_MAX_BYTES = 4096;

/** Reads at most maxBytes of a body, then cancels the rest. */
export async function readPrefix(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(total, maxBytes));
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

/** Baseten's model, chain and deployment IDs never reach a caller: the alias stands in. */
export function scrubIds(text: string, model: Named): string {
  const ids = [model.target.id];
  if (model.target.deployment.kind === 'deployment') ids.push(model.target.deployment.id);
  let out = text;
  for (const id of ids) out = out.split(id).join(model.alias);
  return out;
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

/** Baseten's small JSON control answers (status, cancel, queue); undefined when not JSON. */
export async function readSmallJson(upstream: Response): Promise<unknown> {
  const text = await readPrefix(upstream.body, CONTROL_BODY_MAX_BYTES);
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Maps a non-2xx Baseten answer to the contract's error. */
export async function upstreamFailure(upstream: Response, model: Named): Promise<HttpError> {
  const text = await readPrefix(upstream.body, ERROR_BODY_MAX_BYTES);
  const message = publicMessage(errorMessageOf(text), model);
  const detail = `Baseten answered ${upstream.status}: ${message}`;
  if (upstream.status === 429) {
    const retryAfter = upstream.headers.get('retry-after') ?? '';
    return new HttpError('rate_limited', detail, { 'retry-after': /^\d{1,6}$/.test(retryAfter) ? retryAfter : '1' });
  }
  if (upstream.status === 504) return new HttpError('upstream_timeout', detail);
  return new HttpError('upstream_error', detail, modelRefused(upstream.status) ? NO_RETRY : {});
}

/**
 * The OpenAI clients read it before retrying a 5xx: a model's refusal of this
 * input would come back the same, so the 502 that carries it is final.
 */
const NO_RETRY = { 'x-should-retry': 'false' };

/** A 4xx that says something about the input, not about timing (408 and 429 may pass on a later try). */
function modelRefused(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}
