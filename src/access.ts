/**
 * Who may call a route, enforced by one middleware built from the route's
 * `access`: `open` and `webhook` read no token (a webhook proves itself by
 * its signature, checked over the raw body by its handler); `caller` and
 * `admin` authenticate (no token is an anonymous caller) and count the caller
 * against its rate limit (answered while the handler reads the body, and
 * always before Baseten is called or the answer leaves); `admin` then refuses anyone but an admin client,
 * before the alias is looked at, so a non-admin learns nothing about which
 * aliases exist.
 */
import type { RequestHandler } from 'itty-router';
import { authenticate, authorizeModel, requireAdmin } from './auth.ts';
import type { ModelConfig } from './config.ts';
import { caller, config, type GatewayRequest, type HandlerArgs } from './context.ts';
import { enforceRateLimit } from './rate-limit.ts';

export type Access = 'open' | 'caller' | 'admin' | 'webhook';

type Handler = (request: GatewayRequest, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

export function withAccess(access: Access): RequestHandler<GatewayRequest, HandlerArgs> | undefined {
  if (access === 'open' || access === 'webhook') return undefined;
  const adminOnly = access === 'admin';
  return async function checkCaller(request, env) {
    request.state.caller = await authenticate(request, config(request));
    admitWhileHandling(request, enforceRateLimit(request.state.caller, env, request.state.requestId));
    if (adminOnly) requireAdmin(request.state.caller);
  };
}

/**
 * The rate limiter's verdict is awaited by the handler's first call to
 * Baseten (through onBehalfOf) and, at the latest, by the router before the
 * answer goes out; the handler meanwhile reads and checks the body. A
 * refusal replaces whatever the handler answered.
 */
function admitWhileHandling(request: GatewayRequest, verdict: Promise<void>): void {
  request.state.admission = verdict;
  // Awaited later: this only keeps a refusal from counting as unhandled meanwhile.
  verdict.catch(() => {});
}

/** The route's handler, answering only once the caller was admitted. */
export function admitted(handler: Handler): Handler {
  return async function admittedHandler(request, env, ctx) {
    try {
      return await handler(request, env, ctx);
    } finally {
      await request.state.admission;
    }
  };
}

/** The alias from the path, checked against what this caller may use: 404 unknown, 401 or 403 not theirs. */
export function modelFor(request: GatewayRequest): ModelConfig {
  const model = authorizeModel(caller(request), config(request), String(request.params.alias));
  request.state.alias = model.alias;
  return model;
}
