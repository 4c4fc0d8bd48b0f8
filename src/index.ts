/**
 * The Worker: the routes of route-table.ts (one entry per method and path,
 * with its access, body, answers and handler) served by the router generated
 * from it, and the cron, which wakes the `wake` aliases through the same
 * Baseten service the routes use. docs/architecture.md walks a request through.
 */
import { ROUTES } from './route-table.ts';
import { routerFor } from './router.ts';
import { scheduledWake } from './wake.ts';

const router = routerFor(ROUTES);

export { ClientMeter } from './client-meter.ts';
export { GlobalRateLimiter } from './global-rate-limiter.ts';

export default {
  fetch: (request, env, ctx) => router.fetch(request, env, ctx),
  scheduled: (controller, env) => scheduledWake(controller, env),
} satisfies ExportedHandler<Env>;
