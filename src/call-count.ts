/**
 * What happens after the answer: the call is added to its client's usage
 * (CLIENT_METER) and written to Analytics Engine (USAGE_EVENTS), once the
 * answer's body is done where the gateway reads it for tokens, or once a
 * WebSocket closes. All of it runs in waitUntil: never a byte later for the
 * caller.
 */
import type { Caller } from './auth.ts';
import { recordCall } from './meter.ts';
import { NO_ALIAS, type SocketRecord } from './meter-rules.ts';
import { writeUsageEvent } from './usage-events.ts';
import type { UsageTap } from './usage-tap.ts';

export interface FinishedCall {
  requestId: string;
  method: string;
  /** The route's path template, or "" when none matched. */
  route: string;
  status: number;
  startedMs: number;
  caller?: Caller;
  /** Set on metered routes: the requests the call counts for, and how many the door already counted. */
  metered?: { requests: number; admitted: number };
  alias?: string;
  upstreamMs: number;
  usage?: UsageTap;
  /** A WebSocket connection's traffic, settled at its close: the call is counted then. */
  socket?: Promise<SocketRecord>;
  /** The request's waitUntil; without one (a request made up by a test) nothing is counted. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

export function countCall(call: FinishedCall, env: Env): void {
  const counted = call.metered !== undefined && call.caller !== undefined && env.CLIENT_METER !== undefined;
  if ((!counted && !env.USAGE_EVENTS) || !call.waitUntil) return;
  const headersMs = Date.now();
  // After a 101 the request lives as long as its socket, so this waitUntil can wait for the close.
  call.waitUntil(
    Promise.all([call.usage?.ended, call.socket]).then(async ([, socket]) => {
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
      await recordCall(
        env,
        call.caller!,
        {
          alias: call.alias ?? NO_ALIAS,
          error: call.status >= 400,
          upstreamMs,
          inputTokens,
          outputTokens,
          requests: call.metered!.requests,
          admitted: call.metered!.admitted,
          socket,
        },
        call.requestId,
      );
    }),
  );
}
