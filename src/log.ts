/** One structured JSON line per request. Never a body, a header value or a key. */

/** What the line says about the request, as the request's state holds it. */
export interface LoggedState {
  requestId: string;
  startedMs: number;
  caller?: { name: string };
  alias?: string;
  upstreamStatus?: number;
  upstreamRequestId?: string;
  gatewayTarget?: string;
  cache?: string;
}

export function logRequest(request: Request, state: LoggedState, status: number): void {
  console.log(
    JSON.stringify({
      request_id: state.requestId,
      method: request.method,
      path: pathOf(request.url).slice(0, 256),
      caller: state.caller?.name,
      alias: state.alias,
      status,
      upstream_status: state.upstreamStatus,
      upstream_request_id: state.upstreamRequestId,
      target: state.gatewayTarget,
      cache: state.cache,
      ms: Date.now() - state.startedMs,
    }),
  );
}

/** The path of an absolute URL as the runtime hands it over (already normalized), without parsing it again. */
export function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start === -1) return '/';
  const end = url.indexOf('?', start);
  return end === -1 ? url.slice(start) : url.slice(start, end);
}
