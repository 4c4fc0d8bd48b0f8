import { Router } from 'itty-router';
import { begin, finish, renderError, withCaller, type GatewayRequest, type HandlerArgs } from './context.ts';
import { asyncStatus, cancelAsync } from './routes/async-request.ts';
import { asyncQueue, submitAsync } from './routes/async.ts';
import { batch } from './routes/batch.ts';
import { healthz, listModels, noRoute, openapi, retrieveModel } from './routes/meta.ts';
import { chatCompletions, completions, embeddings } from './routes/openai.ts';
import { predict } from './routes/predict.ts';
import { sync } from './routes/sync.ts';
import { wake } from './routes/wake.ts';
import { basetenWebhook } from './routes/webhook.ts';
import { scheduledWake } from './wake.ts';

const router = Router<GatewayRequest, HandlerArgs>({ before: [begin], catch: renderError, finally: [finish] });

router
  .get('/healthz', healthz)
  .get('/openapi.json', withCaller, openapi)
  .get('/v1/models', withCaller, listModels)
  .get('/v1/models/:alias', withCaller, retrieveModel)
  .post('/v1/chat/completions', withCaller, chatCompletions)
  .post('/v1/completions', withCaller, completions)
  .post('/v1/embeddings', withCaller, embeddings)
  .post('/v1/models/:alias/predict', withCaller, predict)
  .post('/v1/models/:alias/batch', withCaller, batch)
  .post('/v1/models/:alias/wake', withCaller, wake)
  .all('/v1/models/:alias/sync/*', withCaller, sync)
  .post('/v1/models/:alias/async', withCaller, submitAsync)
  .get('/v1/models/:alias/async/queue', withCaller, asyncQueue)
  .get('/v1/async/:request_id', withCaller, asyncStatus)
  .delete('/v1/async/:request_id', withCaller, cancelAsync)
  .post('/v1/webhooks/baseten', basetenWebhook)
  .all('*', (request: GatewayRequest) => noRoute(methodsFor(new URL(request.url).pathname)));

/** Every route as [method, path pattern], the catch-all included: the OpenAPI test checks each is documented. */
export const routes = router.routes.map(([method, , , path]) => [method, path ?? ''] as const);

/** Methods of the routes whose path matches, for 405's Allow header. */
function methodsFor(path: string): string[] {
  const methods = router.routes
    .filter(([method, pattern]) => method !== 'ALL' && pattern.test(path))
    .map(([method]) => method);
  return [...new Set(methods)];
}

export { GlobalRateLimiter } from './global-rate-limiter.ts';

export default {
  fetch: (request, env, ctx) => router.fetch(request, env, ctx),
  scheduled: (controller, env) => scheduledWake(controller, env),
} satisfies ExportedHandler<Env>;
