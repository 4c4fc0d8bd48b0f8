/**
 * The Worker: the routes of route-table.ts (one entry per method and path,
 * with its access, body, answers and handler) served by the router generated
 * from it, and the cron, which wakes the `wake` aliases and reconciles async
 * requests whose result never came, each through the same Baseten service
 * the routes use and each unaffected by the other's failure.
 * docs/architecture.md walks a request through.
 */
import { scheduled } from './cron.ts';
import { ROUTES } from './route-table.ts';
import { routerFor } from './router.ts';

const router = routerFor(ROUTES);

export { ClientMeter } from './client-meter.ts';
export { GlobalRateLimiter } from './global-rate-limiter.ts';
export { IdempotencyClaim } from './idempotency-claim.ts';

export default {
  fetch: (request, env, ctx) => router.fetch(request, env, ctx),
  scheduled,
} satisfies ExportedHandler<Env>;
