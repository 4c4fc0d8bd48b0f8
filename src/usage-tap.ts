/**
 * Reading the OpenAI `usage` of an answer as it passes, without holding it
 * back: a JSON answer is copied aside (up to a cap) and read at its end; an
 * event stream is split into events to find the usage chunk. When the
 * gateway asked the engine for that chunk and the caller did not, the chunk
 * is cut out and every other byte goes through as it came; only then is a
 * partly received event held until its end, so the chunk can be told apart.
 * The tap's `ended` settles when the body is done, cancelled or broken: that
 * is when the call is counted.
 */

const LF = 0x0a;
const CR = 0x0d;
/** A JSON answer longer than this is passed on without being read for its usage. */
const MAX_JSON_COPY_BYTES = 1024 * 1024;

export class UsageTap {
  inputTokens = 0;
  outputTokens = 0;
  /** When the body ended (ms since epoch), if it was tapped. */
  endedMs?: number;
  readonly ended: Promise<void>;
  #settle!: () => void;

  constructor() {
    this.ended = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  end(): void {
    this.endedMs ??= Date.now();
    this.#settle();
  }

  /** OpenAI's usage object; a later one (engines that report running totals) replaces an earlier one. */
  note(usage: unknown): void {
    if (typeof usage !== 'object' || usage === null) return;
    const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : 0);
    this.inputTokens = count(Reflect.get(usage, 'prompt_tokens'));
    this.outputTokens = count(Reflect.get(usage, 'completion_tokens'));
  }
}

/** A JSON answer passed through untouched; its `usage` read once it has all arrived. */
export function tapJson(body: ReadableStream<Uint8Array>, tap: UsageTap): ReadableStream<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  return passThrough(
    body,
    tap,
    (chunk) => {
      size += chunk.byteLength;
      if (size <= MAX_JSON_COPY_BYTES) chunks.push(chunk);
      return chunk;
    },
    () => {
      if (size <= MAX_JSON_COPY_BYTES) tap.note(parsed(new TextDecoder().decode(concat(chunks)))?.usage);
      return undefined;
    },
  );
}

/** An event stream passed through; its usage chunk read, and cut out when `strip` (the caller did not ask for it). */
export function tapEvents(body: ReadableStream<Uint8Array>, tap: UsageTap, strip: boolean): ReadableStream<Uint8Array> {
  const events = new EventSplitter();
  const keep = (event: Uint8Array): boolean => {
    const data = eventData(event);
    if (data?.usage === undefined) return true;
    tap.note(data.usage);
    return !(strip && Array.isArray(data.choices) && data.choices.length === 0);
  };
  return passThrough(
    body,
    tap,
    (chunk) => {
      const complete = events.push(chunk);
      if (!strip) {
        complete.forEach(keep);
        return chunk;
      }
      return concat(complete.filter(keep));
    },
    () => {
      const rest = events.rest();
      return strip && rest.byteLength > 0 && !keep(rest) ? undefined : rest;
    },
  );
}

/**
 * Pulls the body one chunk at a time as the caller reads (nothing read ahead),
 * passing on what `onChunk` gives back; a caller's cancel goes upstream.
 */
function passThrough(
  body: ReadableStream<Uint8Array>,
  tap: UsageTap,
  onChunk: (chunk: Uint8Array) => Uint8Array,
  onEnd: () => Uint8Array | undefined,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) {
              const last = onEnd();
              if (last && last.byteLength > 0) controller.enqueue(last);
              controller.close();
              tap.end();
              return;
            }
            const out = onChunk(value);
            if (out.byteLength > 0) {
              controller.enqueue(out);
              return;
            }
          }
        } catch (err) {
          tap.end();
          throw err;
        }
      },
      cancel(reason) {
        tap.end();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Splits an event stream's bytes into whole events, each with the blank line
 * that ends it. Lines end in LF, CR or CRLF (WHATWG HTML, "Parsing an event
 * stream"); an event ending in CR waits for the next byte in case it is the
 * LF of a CRLF.
 */
export class EventSplitter {
  #buffer: Uint8Array = new Uint8Array(0);
  #scanned = 0;
  #lineEmpty = true;
  #afterCR = false;
  /** Where the current event ends, once known to end at a CR. */
  #cutAfterCR = -1;

  push(chunk: Uint8Array): Uint8Array[] {
    this.#buffer = concat([this.#buffer, chunk]);
    const events: Uint8Array[] = [];
    let start = 0;
    for (let i = this.#scanned; i < this.#buffer.length; i++) {
      const byte = this.#buffer[i]!;
      if (this.#cutAfterCR >= 0) {
        const end = byte === LF ? i + 1 : this.#cutAfterCR;
        events.push(this.#buffer.subarray(start, end));
        start = end;
        this.#cutAfterCR = -1;
        this.#afterCR = false;
        if (byte === LF) continue;
      }
      if (byte === LF && this.#afterCR) {
        this.#afterCR = false;
        continue;
      }
      if (byte !== LF && byte !== CR) {
        this.#lineEmpty = false;
        this.#afterCR = false;
        continue;
      }
      this.#afterCR = byte === CR;
      if (!this.#lineEmpty) {
        this.#lineEmpty = true;
        continue;
      }
      if (byte === CR) {
        this.#cutAfterCR = i + 1;
        continue;
      }
      events.push(this.#buffer.subarray(start, i + 1));
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    if (this.#cutAfterCR >= 0) this.#cutAfterCR -= start;
    this.#scanned = this.#buffer.length;
    return events;
  }

  /** What is left at the end of the stream: an unfinished event. */
  rest(): Uint8Array {
    return this.#buffer;
  }
}

/** The JSON of an event's data lines, when it is an object that mentions usage. */
function eventData(event: Uint8Array): Record<string, unknown> | undefined {
  const text = new TextDecoder().decode(event);
  if (!text.includes('"usage"')) return undefined;
  const data = text
    .split(/\r\n|\r|\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
    .join('\n');
  return parsed(data);
}

function parsed(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
