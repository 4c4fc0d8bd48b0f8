/** ANY /v1/models/{alias}/sync/{route}: a custom-server route the alias lists in sync_routes. */
import { binaryBody } from '../body.ts';
import { config, type GatewayRequest } from '../context.ts';
import { HttpError } from '../errors.ts';
import { relay } from '../responses.ts';
import { upstreamFailure } from '../upstream-errors.ts';
import { matchSyncRoute } from '../sync-routes.ts';
import { callUpstream, signedRequest, targetUrl } from '../upstream.ts';
import { noRoute } from './meta.ts';
import { modelFor } from './predict.ts';

const BODYLESS_METHODS = new Set(['GET', 'HEAD']);
/** What a custom server's route may be called with; TRACE, CONNECT and made-up methods stop here. */
const SYNC_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export async function sync(request: GatewayRequest): Promise<Response> {
  if (!SYNC_METHODS.includes(request.method)) noRoute(SYNC_METHODS);
  const model = modelFor(request);
  const url = new URL(request.url);
  const prefix = `/v1/models/${String(request.params.alias)}/sync`;
  const route = matchSyncRoute(url.pathname.slice(prefix.length), model.syncRoutes);
  if (route === undefined) throw new HttpError('not_found', `route not available for model "${model.alias}"`);
  // Streamed like a binary predict body: a custom server's upload may be as large as the cap allows.
  const body = BODYLESS_METHODS.has(request.method) ? null : await binaryBody(request, model.maxBodyBytes);
  const cfg = config(request);
  const upstreamRequest = signedRequest(cfg, targetUrl(cfg, model.target, 'sync', route + url.search), {
    method: request.method,
    requestId: request.state.requestId,
    body,
    callerHeaders: request.headers,
  });
  const upstream = await callUpstream(upstreamRequest, { timeoutMs: model.timeoutMs, callerSignal: request.signal });
  request.state.upstreamStatus = upstream.status;
  if (!upstream.ok) throw await upstreamFailure(upstream, model);
  return relay(upstream);
}
