/**
 * GLOBAL_RATE_LIMITER: one Durable Object per rate-limit key, so a client's
 * count is the same wherever on Cloudflare its requests land. Used only for
 * callers whose config asks for `{ "limit", "period_seconds" }`; it costs a
 * round trip to the object on every request. The window lives in storage so
 * an evicted object does not forget it.
 */
import { DurableObject } from 'cloudflare:workers';
import { takeFromWindow, type RateLimitOutcome, type Window } from './rate-limit.ts';

const WINDOW_KEY = 'window';

export class GlobalRateLimiter extends DurableObject<Env> {
  async take(limit: number, periodSeconds: number): Promise<RateLimitOutcome> {
    const stored = await this.ctx.storage.get<Window>(WINDOW_KEY);
    const { outcome, next } = takeFromWindow(stored, Date.now(), limit, periodSeconds);
    if (outcome.allowed) await this.ctx.storage.put(WINDOW_KEY, next);
    return outcome;
  }
}
