/**
 * Reading a caller's body at the boundary: content type checked, size capped
 * while reading (a lying or missing Content-Length changes nothing), JSON
 * parsed into a value or a 400.
 */
import { HttpError } from './errors.ts';

export type BodyKind = 'json' | 'binary' | 'multipart';

/** A multipart body is unreadable without its boundary (RFC 2046: 1 to 70 characters, quoted or not). */
const BOUNDARY = /;\s*boundary=("[^"]{1,70}"|[^\s;"]{1,70})\s*(;|$)/i;

/** JSON, Baseten's binary (msgpack) I/O and multipart forms are the predict bodies Baseten takes. */
export function bodyKind(request: Request): BodyKind {
  const type = mediaType(request);
  if (type === 'application/json') return 'json';
  if (type === 'application/octet-stream') return 'binary';
  if (type === 'multipart/form-data') {
    if (!BOUNDARY.test(request.headers.get('content-type') ?? ''))
      throw new HttpError('invalid_request', 'a multipart/form-data body needs its boundary in Content-Type');
    return 'multipart';
  }
  throw new HttpError(
    'unsupported_media_type',
    'send Content-Type: application/json (or application/octet-stream for binary input, multipart/form-data for forms)',
  );
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

/** Reads the whole body, stopping as soon as it passes maxBytes. */
export async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = declaredLength(request);
  if ((declared ?? 0) > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readWhole(request, declared, maxBytes).catch(() => {
    // The caller went away or broke its framing mid-body: its fault, not the gateway's.
    throw new HttpError('invalid_request', 'the request body ended before it was complete');
  });
  if (!bytes) throw tooLarge(maxBytes);
  return bytes;
}

/**
 * HTTP framing holds a body to its declared length, already within the cap,
 * so the runtime may read it in one go: several times cheaper than a
 * JavaScript read loop. The length check after it still holds the cap.
 */
async function readWhole(request: Request, declared: number | undefined, maxBytes: number): Promise<Uint8Array | undefined> {
  if (declared === undefined || !request.body) return readAtMost(request.body, maxBytes);
  const bytes = new Uint8Array(await request.arrayBuffer());
  return bytes.byteLength > maxBytes ? undefined : bytes;
}

/** A whole stream (a request's or a response's body), or undefined as soon as it passes maxBytes. */
export async function readAtMost(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
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
  /** The same bytes decoded, for routes that splice the JSON text. */
  text: string;
  value: unknown;
}

export async function readJson(request: Request, maxBytes: number): Promise<JsonBody> {
  requireJson(request);
  const bytes = await readCapped(request, maxBytes);
  const text = utf8(bytes);
  if (text === undefined) throw new HttpError('invalid_request', 'request body is not valid UTF-8');
  const parsed = jsonText(text);
  if (!parsed) throw new HttpError('invalid_request', 'request body is not valid JSON');
  return { bytes, text, value: parsed.value };
}

/** A JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One decoder for every request: without `stream`, each decode() starts afresh. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Strict UTF-8 (a leading BOM dropped), or undefined for anything else. */
export function utf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The parsed value, boxed so that a JSON `null` is told apart from a parse failure. */
export function jsonText(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/**
 * A binary body passed through unparsed, never cut short in silence. With a
 * declared length (within the cap) it streams through with that exact length,
 * so a body that ends early breaks the upstream request instead of completing
 * it. A chunked body is read whole first, up to the cap: workerd ends a
 * chunked upload whose source fails midway as if it were complete, and
 * Baseten would run the model on the truncated input. A body of at most
 * `bufferBytes` is read whole too, so that it can be sent to another target.
 */
export async function binaryBody(request: Request, maxBytes: number, bufferBytes = 0): Promise<BodyInit | null> {
  const declared = declaredLength(request);
  if (declared === undefined || !request.body) return readCapped(request, maxBytes);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (declared <= bufferBytes) return readCapped(request, maxBytes);
  const exact = new FixedLengthStream(declared);
  // A failed pipe fails the upstream fetch, which is where it is reported.
  request.body.pipeTo(exact.writable).catch(() => {});
  return exact.readable;
}

function declaredLength(request: Request): number | undefined {
  const header = request.headers.get('content-length');
  const value = header === null ? Number.NaN : Number(header);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
