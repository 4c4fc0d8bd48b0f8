/**
 * ANY /v1/models/{alias}/sync/{route} (and Baseten's own shapes of it): a
 * custom-server route the alias lists in sync_routes.
 */
import { modelFor } from '../access.ts';
import { callBaseten } from '../baseten.ts';
import { binaryBody } from '../body.ts';
import { config, type GatewayRequest, onBehalfOf } from '../context.ts';
import { HttpError } from '../errors.ts';
import { replayBufferBytes } from '../failover.ts';
import { relay } from '../responses.ts';
import { matchSyncRoute } from '../sync-routes.ts';

const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

export async function sync(request: GatewayRequest): Promise<Response> {
  const model = modelFor(request);
  const url = new URL(request.url);
  const route = matchSyncRoute(restOfPath(request.route, url.pathname), model.syncRoutes);
  if (route === undefined) throw new HttpError('not_found', `route not available for model "${model.alias}"`);
  // Streamed like a binary predict body: a custom server's upload may be as large as the cap allows.
  const body = BODYLESS_METHODS.has(request.method) ? null : await binaryBody(request, model.maxBodyBytes, replayBufferBytes(model));
  const upstream = await callBaseten(
    config(request),
    model,
    { action: 'sync', rest: route + url.search },
    {
      ...onBehalfOf(request),
      method: request.method,
      body,
      callerHeaders: request.headers,
      timeoutMs: model.timeoutMs,
    },
  );
  return relay(upstream);
}

/** The path after the matched route's `/sync` (still percent-encoded), whichever path shape matched: the route's wildcard sits that many segments in. */
function restOfPath(routePattern: string, pathname: string): string {
  const depth = routePattern.split('/').indexOf('*');
  return `/${pathname.split('/').slice(depth).join('/')}`;
}
