/**
 * The strict global counter's rule, shared by the caller path (rate-limit.ts)
 * and the Durable Object that keeps the count (global-rate-limiter.ts). Pure,
 * so the rule is tested alone.
 */

export interface RateLimitOutcome {
  allowed: boolean;
  retryAfterSeconds: number;
}

/** What the caller path asks the counter for. */
export interface TakeRequest {
  limit: number;
  periodSeconds: number;
  /** Requests to count at once (a batch's rows); 1 when absent. */
  units?: number;
}

export interface Window {
  startMs: number;
  count: number;
}

/**
 * A fixed window of `periodSeconds`, aligned to the clock: at most `limit`
 * requests start in one window. `units` requests are taken together or not
 * at all.
 */
export function takeFromWindow(
  stored: Window | undefined,
  nowMs: number,
  limit: number,
  periodSeconds: number,
  units = 1,
): { outcome: RateLimitOutcome; next: Window } {
  const periodMs = periodSeconds * 1000;
  const startMs = nowMs - (nowMs % periodMs);
  const count = stored?.startMs === startMs ? stored.count : 0;
  if (count + units > limit) {
    const retryAfterSeconds = Math.max(1, Math.ceil((startMs + periodMs - nowMs) / 1000));
    return { outcome: { allowed: false, retryAfterSeconds }, next: { startMs, count } };
  }
  return { outcome: { allowed: true, retryAfterSeconds: 0 }, next: { startMs, count: count + units } };
}
