/**
 * Reading a caller's body at the boundary: content type checked, size capped
 * while reading (a lying or missing Content-Length changes nothing), JSON
 * parsed into a value or a 400.
 */
import { HttpError } from './errors.ts';

export type BodyKind = 'json' | 'binary';

/** JSON and Baseten's binary (msgpack) I/O are the two predict bodies. */
export function bodyKind(request: Request): BodyKind {
  const type = mediaType(request);
  if (type === 'application/json') return 'json';
  if (type === 'application/octet-stream') return 'binary';
  throw new HttpError('unsupported_media_type', 'send Content-Type: application/json (or application/octet-stream for binary input)');
}

/** The bare, lower-cased media type of a request or a response. */
export function mediaType(message: { headers: Headers }): string {
  return (message.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export function requireJson(request: Request): void {
  if (mediaType(request) !== 'application/json') {
    throw new HttpError('unsupported_media_type', 'send Content-Type: application/json');
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError('payload_too_large', `request body is larger than ${maxBytes} bytes`);
}

/** Refuses early when the declared length is already over the cap. */
function checkDeclaredLength(request: Request, maxBytes: number): void {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw tooLarge(maxBytes);
}

/** Reads the whole body, stopping as soon as it passes maxBytes. */
export async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  checkDeclaredLength(request, maxBytes);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

export interface JsonBody {
  /** The exact bytes the caller sent, forwarded upstream untouched. */
  bytes: Uint8Array;
  value: unknown;
}

export async function readJson(request: Request, maxBytes: number): Promise<JsonBody> {
  requireJson(request);
  const bytes = await readCapped(request, maxBytes);
  return { bytes, value: parseJson(bytes) };
}

/** A JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new HttpError('invalid_request', 'request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError('invalid_request', 'request body is not valid JSON');
  }
}

/**
 * A binary body passed through unparsed: streamed, with the cap enforced as
 * the bytes go by. `exceeded()` tells afterwards whether a failed upstream
 * call was the cap's doing.
 */
export function cappedStream(request: Request, maxBytes: number): { body: ReadableStream<Uint8Array> | null; exceeded: () => boolean } {
  checkDeclaredLength(request, maxBytes);
  let total = 0;
  let over = false;
  if (!request.body) return { body: null, exceeded: () => false };
  const body = request.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        over = true;
        controller.error(tooLarge(maxBytes));
        return;
      }
      controller.enqueue(chunk);
    },
  }));
  return { body, exceeded: () => over };
}
