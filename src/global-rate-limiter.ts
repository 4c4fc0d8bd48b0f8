/**
 * GLOBAL_RATE_LIMITER: one Durable Object per rate-limit key, so a client's
 * count is the same wherever on Cloudflare its requests land. Used only for
 * callers whose config asks for `{ "limit", "period_seconds" }`; it costs a
 * round trip to the object on every request. The window lives in storage so
 * an evicted object does not forget it. A plain fetch-based object (no
 * `cloudflare:workers` import), so the route table still loads in Node tools.
 */
import { type RateLimitOutcome, type TakeRequest, takeFromWindow, type Window } from './rate-window.ts';

const WINDOW_KEY = 'window';

export class GlobalRateLimiter implements DurableObject {
  readonly #storage: DurableObjectStorage;

  constructor(state: DurableObjectState) {
    this.#storage = state.storage;
  }

  async fetch(request: Request): Promise<Response> {
    const { limit, periodSeconds, units } = await request.json<TakeRequest>();
    const stored = await this.#storage.get<Window>(WINDOW_KEY);
    const { outcome, next } = takeFromWindow(stored, Date.now(), limit, periodSeconds, units);
    if (outcome.allowed) await this.#storage.put(WINDOW_KEY, next);
    return Response.json(outcome satisfies RateLimitOutcome);
  }
}
