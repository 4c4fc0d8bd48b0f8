/**
 * The response cache (docs/cache.md): Cloudflare's Cache API at the location
 * that serves the request, for aliases with a `cache` option. A request looks
 * up its entry (unless its Cache-Control says otherwise); a hit is answered
 * from the stored bytes and never reaches Baseten; a miss is answered by
 * Baseten, and a complete 200 answer is stored in `waitUntil`. Streams are
 * stored only when the alias allows it, teed so the caller's bytes are never
 * held back, and only once they ended cleanly.
 */
import { mediaType, readAtMost } from './body.ts';
import { cacheDirectives, cacheKey, cacheScope } from './cache-key.ts';
import type { ModelConfig } from './config.ts';
import { caller, type GatewayRequest } from './context.ts';
import { targetKey } from './failover.ts';

/** Larger answers are passed on and not stored: a stored entry is held whole in memory once. */
export const MAX_CACHED_BYTES = 8 * 1024 * 1024;

/** Entries live on the gateway's own host, under a path no route answers. */
export const ENTRY_PATH = '/__gateway-cache/';

/** Headers of a stored entry that are the cache's own; none reaches the caller. */
const STORED_AT = 'x-gateway-stored-at';
const STREAMED = 'x-gateway-streamed';
const CALLER_CACHE_CONTROL = 'x-gateway-cache-control';
/** Added by the Cache API or kept from storing; the replay sets its own. */
const NOT_REPLAYED = [STORED_AT, STREAMED, CALLER_CACHE_CONTROL, 'cache-control', 'cf-cache-status', 'age', 'expires', 'date', 'content-length'];

export interface Cacheable {
  /** The gateway route, part of the key. */
  route: string;
  /** The caller's exact body bytes. */
  body: Uint8Array;
  /** The caller asked for a stream (OpenAI's `"stream": true`): not looked up unless the alias caches streams. */
  stream?: boolean;
  /** Reads a stored answer as it is replayed, for what usage counts from it (an OpenAI answer's tokens). */
  onReplay?: (body: ReadableStream<Uint8Array>, streamed: boolean) => ReadableStream<Uint8Array>;
}

/**
 * The answer to a cacheable request: the stored one on a hit, else `answer()`'s,
 * stored for the next caller when it qualifies. Aliases without `cache` go
 * straight to `answer()`.
 */
export async function withCache(
  request: GatewayRequest,
  ctx: ExecutionContext,
  model: ModelConfig,
  cacheable: Cacheable,
  answer: () => Promise<Answered>,
): Promise<Response> {
  const option = model.cache;
  if (!option) return (await answer()).response;
  const directives = cacheDirectives(request.headers.get('cache-control'));
  const bypass = !directives.lookup || (cacheable.stream === true && !option.streams);
  const entry = bypass && !directives.store ? undefined : await entryUrl(request, model, cacheable);
  if (entry && !bypass) {
    const hit = await caches.default.match(entry);
    if (hit) return servedFromCache(request, hit, cacheable.onReplay);
  }
  const fresh = await answer();
  const outcome = bypass ? 'BYPASS' : 'MISS';
  request.state.cache = outcome;
  fresh.response.headers.set('x-cache', outcome);
  if (!entry || !directives.store || fresh.response.status !== 200) return fresh.response;
  return keep(fresh, entry, option.ttlSeconds, option.streams, ctx);
}

async function entryUrl(request: GatewayRequest, model: ModelConfig, cacheable: Cacheable): Promise<string> {
  const key = await cacheKey({
    scope: cacheScope(caller(request), model.cache!),
    alias: model.alias,
    route: cacheable.route,
    target: targetKey(model.target),
    body: cacheable.body,
  });
  // Cloudflare keys the cache by URL; its docs ask for the Worker's own host name.
  return `${originOf(request.url)}${ENTRY_PATH}${key}`;
}

function originOf(url: string): string {
  const pathStart = url.indexOf('/', url.indexOf('//') + 2);
  return pathStart === -1 ? url : url.slice(0, pathStart);
}

/**
 * A hit, as the caller's answer. The call itself was admitted and counted on
 * the way in (rate limit, quota); this is where a hit is marked for the log
 * line, and where its tokens are to be read from the stored answer for
 * usage, as the OpenAI routes read them from Baseten's.
 */
function servedFromCache(request: GatewayRequest, stored: Response, onReplay: Cacheable['onReplay']): Response {
  request.state.cache = 'HIT';
  const headers = new Headers(stored.headers);
  const storedAtMs = Number(headers.get(STORED_AT));
  const streamed = headers.has(STREAMED);
  const callerCacheControl = headers.get(CALLER_CACHE_CONTROL);
  for (const name of NOT_REPLAYED) headers.delete(name);
  if (callerCacheControl !== null) headers.set('cache-control', callerCacheControl);
  headers.set('x-cache', 'HIT');
  headers.set('age', String(Math.max(0, Math.floor((Date.now() - storedAtMs) / 1000))));
  const body = onReplay && stored.body ? onReplay(stored.body, streamed) : stored.body;
  return new Response(streamed && body ? unsized(body) : body, { status: 200, headers });
}

/** The same bytes without a known length, so they go out chunked, as a stream does. */
function unsized(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const pass = new IdentityTransformStream();
  // A failed pipe errors the caller's stream, which is where it shows.
  body.pipeTo(pass.writable).catch(() => {});
  return pass.readable;
}

/**
 * The caller's answer, and whether Baseten streamed it: sent it without a
 * length (chunked), or as events. The relayed answer no longer shows this in
 * its headers (the runtime frames it from its body).
 */
export interface Answered {
  response: Response;
  /** Baseten's Content-Length; none for a stream. */
  length?: number;
}

export function answered(upstream: Response, response: Response): Answered {
  const declared = upstream.headers.get('content-length');
  const streamed = declared === null || mediaType(upstream) === 'text/event-stream';
  return { response, length: streamed ? undefined : Number(declared) };
}

async function keep({ response, length }: Answered, entry: string, ttlSeconds: number, streams: boolean, ctx: ExecutionContext): Promise<Response> {
  if (!response.body) return response;
  if (length === undefined) return streams ? teed(response, entry, ttlSeconds, ctx) : response;
  if (length > MAX_CACHED_BYTES) return response;
  // Its length is known and small: the caller gets the same bytes, with the same length, once they are in.
  const bytes = new Uint8Array(await response.arrayBuffer());
  ctx.waitUntil(store(entry, bytes, response.headers, ttlSeconds, false));
  return new Response(bytes, { status: 200, headers: response.headers });
}

/** The caller reads one branch as it arrives; the other is stored if the stream ends cleanly. */
function teed(response: Response, entry: string, ttlSeconds: number, ctx: ExecutionContext): Response {
  const [toCaller, toCache] = response.body!.tee();
  ctx.waitUntil(
    readAtMost(toCache, MAX_CACHED_BYTES).then(
      (bytes) => (bytes ? store(entry, bytes, response.headers, ttlSeconds, true) : undefined),
      // Cut, cancelled or broken: nothing is stored.
      () => undefined,
    ),
  );
  return new Response(toCaller, { status: 200, headers: response.headers });
}

async function store(entry: string, bytes: Uint8Array, answered: Headers, ttlSeconds: number, streamed: boolean): Promise<void> {
  const headers = new Headers(answered);
  headers.delete('x-cache');
  const callerCacheControl = headers.get('cache-control');
  if (callerCacheControl !== null) headers.set(CALLER_CACHE_CONTROL, callerCacheControl);
  // What the Cache API reads for the entry's lifetime; never shown to the caller.
  headers.set('cache-control', `max-age=${ttlSeconds}`);
  headers.set(STORED_AT, String(Date.now()));
  if (streamed) headers.set(STREAMED, '1');
  try {
    await caches.default.put(entry, new Response(bytes, { status: 200, headers }));
  } catch (err) {
    // A cache that refuses costs the next caller a call to Baseten, nothing more.
    console.error(JSON.stringify({ level: 'warn', event: 'cache_put_failed', error: String(err).slice(0, 200) }));
  }
}
