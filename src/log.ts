/** One structured JSON line per request. Never a body, a header value or a key. */
import type { RequestState } from './context.ts';

export function logRequest(request: Request, state: RequestState, status: number): void {
  console.log(JSON.stringify({
    request_id: state.requestId,
    method: request.method,
    path: new URL(request.url).pathname.slice(0, 256),
    caller: state.caller?.name,
    alias: state.alias,
    status,
    upstream_status: state.upstreamStatus,
    ms: Date.now() - state.startedMs,
  }));
}
