/**
 * Turning Baseten's answer into the caller's: success bodies stream through
 * untouched with a filtered set of headers; failures become the contract's
 * error with Baseten's status and message, its IDs replaced by the alias.
 */
import type { ModelConfig } from './config.ts';
import { HttpError, redact } from './errors.ts';

/** What scrubbing needs: the alias to name, the target whose IDs it replaces. */
export type Named = Pick<ModelConfig, 'alias' | 'target'>;

/**
 * Response headers a caller may see. Everything else (set-cookie, server,
 * x-baseten-* internals, content-encoding after fetch decoded the body) stays behind.
 */
const RELAYED_HEADERS = ['content-type', 'cache-control', 'content-disposition', 'content-language', 'etag', 'last-modified'];

/** The upstream body goes back as it arrives; without a length it stays chunked. */
export function relay(upstream: Response, extraHeaders: Record<string, string> = {}): Response {
  const headers = relayedHeaders(upstream, extraHeaders);
  return new Response(upstream.body, { status: upstream.status, headers });
}

/** The upstream headers a caller may see, over `extraHeaders`. */
export function relayedHeaders(upstream: Response, extraHeaders: Record<string, string> = {}): Headers {
  const headers = new Headers(extraHeaders);
  for (const name of RELAYED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

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
  return new HttpError('upstream_error', detail);
}
