/**
 * Who may call a route, enforced by one middleware built from the route's
 * `access`: `open` and `webhook` read no token (a webhook proves itself by
 * its signature, checked over the raw body by its handler); `caller` and
 * `admin` authenticate (no token is an anonymous caller) and count the caller
 * against its rate limit; `admin` then refuses anyone but an admin client,
 * before the alias is looked at, so a non-admin learns nothing about which
 * aliases exist.
 */
import type { RequestHandler } from 'itty-router';
import { authenticate, authorizeModel, requireAdmin } from './auth.ts';
import type { ModelConfig } from './config.ts';
import { caller, config, type GatewayRequest, type HandlerArgs } from './context.ts';
import { admit } from './meter.ts';
import { enforceRateLimit } from './rate-limit.ts';
import { basetenTarget } from './upstream.ts';

export type Access = 'open' | 'caller' | 'admin' | 'webhook';

/**
 * A metered `caller` route counts its calls in the caller's usage and checks
 * the caller's quota at the door (meter.ts); admin routes and reads of the
 * caller's own figures are not metered, so a client over its quota can still
 * see why.
 */
export function withAccess(access: Access, metered = true): RequestHandler<GatewayRequest, HandlerArgs> | undefined {
  if (access === 'open' || access === 'webhook') return undefined;
  const adminOnly = access === 'admin';
  const counted = metered && !adminOnly;
  return async function checkCaller(request, env) {
    const who = await authenticate(request, config(request), env);
    request.state.caller = who;
    if (counted) {
      const metered = { requests: 1, admitted: 0 };
      request.state.metered = metered;
      try {
        if (await admit(who, env, request.state.requestId)) metered.admitted = 1;
      } catch (err) {
        // Refused at the door: counted in usage (an error) but never against the quota, which had its say.
        metered.admitted = metered.requests;
        throw err;
      }
    } else {
      await enforceRateLimit(who, env, request.state.requestId);
    }
    if (adminOnly) requireAdmin(who);
  };
}

/**
 * Counts `units` more requests for a call that stands for several (a batch's
 * rows) against the caller's rate limit and quota, all or none, before any of
 * them is sent; the call's usage then counts them too.
 */
export async function admitMore(request: GatewayRequest, env: Env, units: number): Promise<void> {
  if (units <= 0) return;
  const counted = await admit(caller(request), env, request.state.requestId, units);
  const { metered } = request.state;
  if (!metered) return;
  metered.requests += units;
  if (counted) metered.admitted += units;
}

/**
 * The alias from the path, checked against what this caller may use: 404
 * unknown, 401 or 403 not theirs. The routes under the alias's path are its
 * deployment's: a Model API, which has only the OpenAI routes, is a 404 there.
 */
export function modelFor(request: GatewayRequest): ModelConfig {
  const model = authorizeModel(caller(request), config(request), String(request.params.alias));
  request.state.alias = model.alias;
  basetenTarget(model.target);
  return model;
}
