/**
 * What happens after the answer: the call is added to its client's usage
 * (CLIENT_METER) and written to Analytics Engine (USAGE_EVENTS), once the
 * answer's body is done where the gateway reads it for tokens. All of it runs
 * in waitUntil: never a byte later for the caller.
 */
import type { Caller } from './auth.ts';
import { NO_ALIAS } from './meter-rules.ts';
import { recordCall } from './meter.ts';
import type { UsageTap } from './usage-tap.ts';
import { writeUsageEvent } from './usage-events.ts';

export interface FinishedCall {
  requestId: string;
  method: string;
  /** The route's path template, or "" when none matched. */
  route: string;
  status: number;
  startedMs: number;
  caller?: Caller;
  /** Set on metered routes: whether the door already counted the request. */
  metered?: { admitted: boolean };
  alias?: string;
  upstreamMs: number;
  usage?: UsageTap;
  /** The request's waitUntil; without one (a request made up by a test) nothing is counted. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

export function countCall(call: FinishedCall, env: Env): void {
  const counted = call.metered !== undefined && call.caller !== undefined && env.CLIENT_METER !== undefined;
  if ((!counted && !env.USAGE_EVENTS) || !call.waitUntil) return;
  const headersMs = Date.now();
  call.waitUntil((call.usage?.ended ?? Promise.resolve()).then(async () => {
    const { usage } = call;
    const inputTokens = usage?.inputTokens ?? 0;
    const outputTokens = usage?.outputTokens ?? 0;
    // A tapped answer's time with Baseten runs on until its last byte.
    const upstreamMs = call.upstreamMs + (usage?.endedMs === undefined ? 0 : Math.max(0, usage.endedMs - headersMs));
    writeUsageEvent(env.USAGE_EVENTS, {
      client: call.caller?.name ?? '',
      alias: call.alias ?? '',
      route: call.route,
      method: call.method,
      status: call.status,
      latencyMs: (usage?.endedMs ?? headersMs) - call.startedMs,
      ttfbMs: headersMs - call.startedMs,
      inputTokens,
      outputTokens,
      upstreamMs,
    });
    if (!counted) return;
    await recordCall(env, call.caller!, {
      alias: call.alias ?? NO_ALIAS,
      error: call.status >= 400,
      upstreamMs,
      inputTokens,
      outputTokens,
      admitted: call.metered!.admitted,
    }, call.requestId);
  }));
}
