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

export function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export function requireJson(request: Request): void {
  if (mediaType(request) !== 'application/json') {
    throw new HttpError('unsupported_media_type', 'send Content-Type: application/json');
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError('payload_too_large', `request body is larger than ${maxBytes} bytes`);
}

/**
 * Refuses early when the declared length is already over the cap; returns
 * the declared length, or undefined when there is none (a chunked body).
 */
function checkDeclaredLength(request: Request, maxBytes: number): number | undefined {
  const header = request.headers.get('content-length');
  if (header === null) return undefined;
  const declared = Number(header);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  return Number.isSafeInteger(declared) ? declared : undefined;
}

/** Reads the whole body, stopping as soon as it passes maxBytes. */
export async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = checkDeclaredLength(request, maxBytes);
  if (!request.body) return new Uint8Array(0);
  if (declared !== undefined) {
    // HTTP framing holds the body to its declared length, already within the cap, so the
    // runtime may read it in one go: several times cheaper than a JavaScript read loop.
    // The check after it still holds the cap for a body that was not framed that way.
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
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

/** One decoder for every request: without `stream`, each decode() starts afresh. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = UTF8.decode(bytes);
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
