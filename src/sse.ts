/**
 * Relaying a server-sent event stream: the engine's bytes go through as they
 * arrive, unchanged; while the engine is silent a comment line keeps proxies
 * and load balancers from closing the connection; and a stream silent for
 * longer than the alias allows is cut, upstream cancelled.
 */
import { relayedHeaders } from './responses.ts';

/** An SSE comment (a line starting with ':'): clients ignore it, intermediaries see traffic. */
const KEEP_ALIVE = new TextEncoder().encode(': keep-alive\n\n');
const LF = 0x0a;
const CR = 0x0d;

/**
 * Whether the bytes seen so far end at an event boundary (a blank line), where
 * a comment can be slipped in without landing inside an event. Lines end in
 * LF, CR or CRLF (WHATWG HTML, "Parsing an event stream").
 */
export class EventBoundary {
  /** True at the start and right after a blank line. */
  atBoundary = true;
  private lineEmpty = true;
  private lastWasCR = false;

  push(chunk: Uint8Array): void {
    // Only the line endings after the last ordinary byte can matter.
    let start = chunk.length;
    while (start > 0 && (chunk[start - 1] === LF || chunk[start - 1] === CR)) start--;
    if (start > 0) {
      this.atBoundary = false;
      this.lineEmpty = false;
      this.lastWasCR = false;
    }
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF && this.lastWasCR) {
        this.lastWasCR = false; // the second half of a CRLF
        continue;
      }
      this.atBoundary = this.lineEmpty;
      this.lineEmpty = true;
      this.lastWasCR = byte === CR;
    }
  }
}

export interface SseLimits {
  /** Silence after which a keep-alive comment is sent (if at an event boundary). */
  keepAliveMs: number;
  /** Time allowed for the first body byte. */
  firstByteMs: number;
  /** Silence allowed between later bytes. */
  idleMs: number;
  /** Told when the stream is cut for silence, to log it. */
  onIdle?: () => void;
}

export class StreamIdle extends Error {}

/**
 * Pulls the upstream body one chunk at a time, as the caller reads (so a slow
 * caller is never mistaken for a silent engine), and passes each chunk on as is.
 */
export function sseRelay(body: ReadableStream<Uint8Array>, limits: SseLimits): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const boundary = new EventBoundary();
  let waitMs = limits.firstByteMs;
  let ended = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Both timers only run while waiting on the engine, and stop once the stream has ended.
        const keepAlive = setInterval(() => {
          if (!ended && boundary.atBoundary) controller.enqueue(KEEP_ALIVE);
        }, limits.keepAliveMs);
        const idle = setTimeout(() => {
          if (ended) return;
          // Erroring (not closing) the stream lets the caller see it was truncated.
          ended = true;
          controller.error(new StreamIdle(`no bytes from upstream for ${waitMs} ms`));
          limits.onIdle?.();
          reader.cancel('idle').catch(() => {});
        }, waitMs);
        try {
          const { done, value } = await reader.read();
          if (ended) return;
          if (done) {
            ended = true;
            controller.close();
            return;
          }
          boundary.push(value);
          controller.enqueue(value);
          waitMs = limits.idleMs;
        } catch (err) {
          // A broken upstream ends the caller's stream the same way: truncated, not closed.
          if (ended) return;
          ended = true;
          throw err;
        } finally {
          clearInterval(keepAlive);
          clearTimeout(idle);
        }
      },
      cancel(reason) {
        ended = true;
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The caller's response for an upstream event stream: its headers filtered, buffering forbidden. */
export function sseResponse(upstream: Response, limits: SseLimits): Response {
  const headers = relayedHeaders(upstream);
  headers.set('cache-control', 'no-cache');
  // nginx (and proxies that copy it) would otherwise buffer the whole stream.
  headers.set('x-accel-buffering', 'no');
  return new Response(sseRelay(upstream.body!, limits), { status: upstream.status, headers });
}
