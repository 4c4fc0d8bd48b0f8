/**
 * Which target a request is for, and the steering that applies to it: the `fake` object of the
 * body, narrowed by its `targets` map, and the rules a test registered through `/__fake/steer`
 * (the only way to steer bodyless calls: wake, status, cancel, queue status, WebSockets).
 * Steering per target lets a test make a primary target fail while its fallback answers.
 */

import { isObject } from './request.mjs';

/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Target} Target */
/** @typedef {import('./types.mjs').SteerRule} SteerRule */

/**
 * The selectors a request answers to, most specific first: `model-abc/environments/staging`,
 * the regional host `model-abc-staging`, `model-abc`; Model APIs `model-api/<slug>`, `model-api`.
 * @param {Target} target
 * @param {string | null} label Deployment label, null for calls without one (async_request).
 * @returns {string[]}
 */
export function targetKeys(target, label) {
  const base = `${target.kind}-${target.id}`;
  /** @type {string[]} */
  const keys = [];
  if (label) keys.push(`${base}/${label}`);
  if (label === 'environments/production') keys.push(`${base}/production`);
  if (label === 'production') keys.push(`${base}/environments/production`);
  if (target.regional) keys.push(`${base}-${target.regional}`);
  keys.push(base);
  return keys;
}

/**
 * The first rule matching the request's path, x-request-id and target; a rule with `times`
 * is spent after that many matches.
 * @param {App} app
 * @param {Pick<Ctx, 'req' | 'url'>} ctx
 * @param {string[]} keys
 * @returns {Record<string, any>}
 */
export function takeRule(app, ctx, keys) {
  const requestId = ctx.req.headers['x-request-id'];
  const rule = app.state.rules.find(
    (r) =>
      (r.target === undefined || keys.includes(r.target)) &&
      (r.request_id === undefined || r.request_id === requestId) &&
      (r.path === undefined || ctx.url.pathname.endsWith(r.path)),
  );
  if (!rule) return {};
  rule.used += 1;
  if (rule.times !== undefined && rule.used >= rule.times) app.state.rules.splice(app.state.rules.indexOf(rule), 1);
  return rule.fake;
}

/**
 * Checks and stores a rule sent to `POST /__fake/steer`.
 * @param {App} app
 * @param {unknown} body
 * @returns {string | null} The problem, or null once stored.
 */
export function addRule(app, body) {
  if (!isObject(body) || !isObject(body.fake)) return 'a rule needs a `fake` object';
  for (const field of ['target', 'request_id', 'path']) {
    if (body[field] !== undefined && typeof body[field] !== 'string') return `\`${field}\` must be a string`;
  }
  if (body.times !== undefined && !(Number.isInteger(body.times) && body.times > 0)) return '`times` must be a positive integer';
  app.state.rules.push({ target: body.target, request_id: body.request_id, path: body.path, times: body.times, fake: body.fake, used: 0 });
  return null;
}

/**
 * The steering for this request: the body's `fake` without its `targets` map, then the matching
 * rule, then the body's entry for the most specific selector this request answers to.
 * @param {Ctx} ctx
 * @param {unknown} bodyValue The parsed body (or model_input) that may hold `fake`.
 * @returns {Record<string, any>}
 */
export function steeringFor(ctx, bodyValue) {
  const fake = isObject(bodyValue) && isObject(bodyValue.fake) ? bodyValue.fake : {};
  const { targets, ...base } = fake;
  const own = isObject(targets) ? ctx.keys.map((key) => targets[key]).find(isObject) : undefined;
  return { ...base, ...ctx.rule, ...own };
}
