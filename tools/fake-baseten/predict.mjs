/**
 * `POST .../predict` (chains: `.../run_remote`): the echo a simple Truss model gives, after the
 * shared steering.
 */

import { sendError, sendJson, withEchoedHeaders, writeWithBackpressure } from './http.mjs';
import { isBinary, isMultipart, parseJson } from './request.mjs';
import { answerSteered } from './steering.mjs';
import { steeringFor } from './targeting.mjs';

/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Target} Target */
/** @typedef {import('./types.mjs').Deployment} Deployment */

/**
 * Echoes the input the way a simple Truss model would; binary (msgpack) and multipart bodies come
 * back as is (steered by rules only).
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {Deployment} deployment
 */
export async function handlePredict(ctx, target, deployment) {
  // Baseten's spec takes multipart/form-data predict input too; the fake echoes it like bytes.
  if (isBinary(ctx.req) || isMultipart(ctx.req)) return answerSteered(ctx, ctx.rule, target, () => echoBinary(ctx));
  const parsed = parseJson(ctx.body);
  if (!parsed.ok) return sendError(ctx, 400, 'Invalid JSON payload');
  const input = parsed.value;
  const fake = steeringFor(ctx, input);
  return answerSteered(ctx, fake, target, () =>
    sendJson(ctx, 200, withEchoedHeaders(ctx, fake, { model: target.id, kind: target.kind, deployment: deployment.label, input })),
  );
}

/**
 * Sends back exactly the bytes received, as Truss does for `application/octet-stream` I/O.
 * @param {Ctx} ctx
 */
async function echoBinary(ctx) {
  const { res } = ctx;
  res.writeHead(200, { ...ctx.headers, 'content-type': 'application/octet-stream', 'content-length': String(ctx.body.length) });
  for (const chunk of ctx.body.chunks) {
    if (!(await writeWithBackpressure(res, chunk))) return;
  }
  res.end();
}
