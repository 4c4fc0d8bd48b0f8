/**
 * The rate limit check in the caller path: a client is counted under its name,
 * an anonymous caller under its IP, by the policy its config names.
 * Cloudflare's rate limiting binding counts per Cloudflare location, not
 * globally; the GLOBAL_RATE_LIMITER Durable Object gives one strict count.
 * A limiter that fails lets the request through (logged): an outage of the
 * counter must not take the gateway down with it.
 */
import type { Caller } from './auth.ts';
import { bindingNamed } from './config.ts';
import { HttpError } from './errors.ts';
import type { RateLimitOutcome, TakeRequest } from './rate-window.ts';
import { describeForLog } from './redact.ts';

/** The binding does not say when its window ends; its longest period is 60 s. */
const BINDING_RETRY_AFTER_SECONDS = 60;

/** Counts `units` requests for the caller (a batch counts one per row) and refuses them all when the limit cannot take them. */
export async function enforceRateLimit(caller: Caller, env: Env, requestId: string, units = 1): Promise<void> {
  let outcome: RateLimitOutcome;
  try {
    outcome = await check(caller, env, units);
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', request_id: requestId, error: `rate limiter failed, request let through: ${describeForLog(err)}` }));
    return;
  }
  if (!outcome.allowed) {
    throw new HttpError('rate_limited', 'too many requests; retry later', { 'retry-after': String(outcome.retryAfterSeconds) });
  }
}

async function check(caller: Caller, env: Env, units: number): Promise<RateLimitOutcome> {
  const policy = caller.rateLimit;
  switch (policy.kind) {
    case 'none':
      return { allowed: true, retryAfterSeconds: 0 };
    case 'binding': {
      // The config checked at load that this name is a rate limiting binding.
      const binding = bindingNamed(env, policy.binding) as RateLimit;
      // The binding counts one per call and has no weight: a batch's rows are as many calls.
      const outcomes = await Promise.all(Array.from({ length: units }, () => binding.limit({ key: caller.rateLimitKey })));
      return { allowed: outcomes.every((o) => o.success), retryAfterSeconds: BINDING_RETRY_AFTER_SECONDS };
    }
    case 'global': {
      // The config refuses a global policy when this binding is absent.
      const namespace = env.GLOBAL_RATE_LIMITER!;
      const counter = namespace.get(namespace.idFromName(caller.rateLimitKey));
      const take: TakeRequest = { limit: policy.limit, periodSeconds: policy.periodSeconds, units };
      const res = await counter.fetch('https://global-rate-limiter/take', { method: 'POST', body: JSON.stringify(take) });
      return res.json<RateLimitOutcome>();
    }
  }
}
