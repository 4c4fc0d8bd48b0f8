/** The Responses the routes build: the gateway's own JSON, and Baseten's answer passed through. */

/**
 * What keeps a whole answer's Content-Length on its way to the caller.
 * Cloudflare's edge, and wrangler dev's copy of it, compress JSON and text
 * for callers that accept gzip or br, which drops the length and re-frames
 * the answer as chunked; clients such as `truss predict` take a chunked
 * answer for a stream. Cloudflare leaves an answer marked `no-transform` as
 * it is; wrangler dev ignores that and skips only answers that already carry
 * a Content-Encoding other than gzip or br, hence `identity` too. Streams are
 * left to be compressed: they have no length to keep.
 */
export const KEEP_LENGTH: Readonly<Record<string, string>> = { 'cache-control': 'no-transform', 'content-encoding': 'identity' };

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return wholeJson(JSON.stringify(body), status, headers);
}

/** JSON the gateway already holds whole (serialized, or put together from parts). */
export function wholeJson(body: string | Blob, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json', ...KEEP_LENGTH, ...headers } });
}

/**
 * Response headers a caller may see. Everything else (set-cookie, server,
 * x-baseten-* internals other than the request id support asks for,
 * content-encoding after fetch decoded the body) stays behind.
 */
const RELAYED_HEADERS = ['content-type', 'cache-control', 'content-disposition', 'content-language', 'etag', 'last-modified', 'x-baseten-request-id'];

/** The upstream body goes back as it arrives; without a length it stays chunked, with one it keeps it. */
export function relay(upstream: Response, extraHeaders: Record<string, string> = {}): Response {
  const headers = relayedHeaders(upstream, extraHeaders);
  if (upstream.headers.has('content-length')) {
    const cacheControl = headers.get('cache-control');
    headers.set('cache-control', cacheControl ? `${cacheControl}, ${KEEP_LENGTH['cache-control']}` : KEEP_LENGTH['cache-control']!);
    headers.set('content-encoding', KEEP_LENGTH['content-encoding']!);
  }
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
