/** The Responses the routes build: the gateway's own JSON, and Baseten's answer passed through. */

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/**
 * Response headers a caller may see. Everything else (set-cookie, server,
 * x-baseten-* internals other than the request id support asks for,
 * content-encoding after fetch decoded the body) stays behind.
 */
const RELAYED_HEADERS = ['content-type', 'cache-control', 'content-disposition', 'content-language', 'etag', 'last-modified', 'x-baseten-request-id'];

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
