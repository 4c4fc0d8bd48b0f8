/**
 * Sync routes (`.../sync/<route>`, models only): a custom server's own routes echo what they
 * received; `/v1/...` belongs to an OpenAI-compatible engine; a BEI model answers its own routes.
 */

import { handleBei, isBeiModel } from './bei.mjs';
import { cutConnection, sendError, sendJson, withEchoedHeaders } from './http.mjs';
import { handleOpenAI } from './openai.mjs';
import { bodyText, parseJson } from './request.mjs';
import { answerSteered } from './steering.mjs';
import { steeringFor } from './targeting.mjs';

/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Target} Target */

/**
 * `?fake_reset_first=N` on a custom route (bodiless requests cannot carry `fake`): the first N
 * requests with this x-request-id lose their connection before any answer byte, so a test can
 * watch a client retry.
 * @param {App} app
 * @param {Ctx} ctx
 */
function dropFirstAttempts(app, ctx) {
  const drops = Number(ctx.url.searchParams.get('fake_reset_first') ?? 0);
  if (!(drops > 0)) return false;
  const id = ctx.req.headers['x-request-id'];
  const seen = app.state.requests.filter((r) => r.headers['x-request-id'] === id && r.path === ctx.entry.path).length;
  return seen <= drops;
}

/**
 * `.../sync/<route>` reaches the container's `/<route>`.
 * @param {App} app
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {string[]} routeSegments
 */
export async function handleSync(app, ctx, target, routeSegments) {
  const routePath = `/${routeSegments.join('/')}`;
  // Chains have no sync endpoints on Baseten.
  if (target.kind !== 'model') return sendError(ctx, 404, 'Route not found', { errorCode: null });
  if (dropFirstAttempts(app, ctx)) return cutConnection(ctx);
  if (isBeiModel(app, target)) return handleBei(app, ctx, target, routePath);
  if (routeSegments[0] === 'v1') return handleOpenAI(app, ctx, target, routePath);
  if (routePath === '/health') return sendJson(ctx, 200, { status: 'ok' });

  const text = bodyText(ctx.body);
  const parsed = parseJson(ctx.body);
  const fake = steeringFor(ctx, parsed.ok ? parsed.value : undefined);
  return answerSteered(ctx, fake, target, () =>
    sendJson(ctx, 200, withEchoedHeaders(ctx, fake, { route: routePath, method: ctx.req.method, query: ctx.url.search.slice(1), body: text })),
  );
}
