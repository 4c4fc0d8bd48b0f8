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
}

export function logRequest(request: Request, state: LoggedState, status: number): void {
  console.log(JSON.stringify({
    request_id: state.requestId,
    method: request.method,
    path: new URL(request.url).pathname.slice(0, 256),
    caller: state.caller?.name,
    alias: state.alias,
    status,
    upstream_status: state.upstreamStatus,
    upstream_request_id: state.upstreamRequestId,
    target: state.gatewayTarget,
    ms: Date.now() - state.startedMs,
  }));
}
