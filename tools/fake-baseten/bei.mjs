/**
 * A BEI engine (Baseten Embedding Inference) behind `/sync`: OpenAI embeddings at
 * `/v1/embeddings`, and `/rerank`, `/classify` and `/predict` in the shapes Baseten's Performance
 * Client reads (a bare array of `{index, score, text?}`; one array of `{label, score}` per input).
 * Scores come from a hash of the text, so the same input always scores the same.
 */

import { createHash } from 'node:crypto';
import { sendJson, sendRaw } from './http.mjs';
import { handleOpenAI } from './openai.mjs';
import { isObject, parseJson } from './request.mjs';
import { answerSteered } from './steering.mjs';
import { steeringFor } from './targeting.mjs';

/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Target} Target */

const LABELS = ['LABEL_0', 'LABEL_1'];

/**
 * @param {App} app
 * @param {Target} target
 */
export function isBeiModel(app, target) {
  return target.kind === 'model' && (target.id.startsWith('bei') || app.config.beiModels.includes(target.id));
}

/**
 * @param {App} app
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {string} routePath
 */
export async function handleBei(app, ctx, target, routePath) {
  if (routePath === '/v1/embeddings' || routePath === '/v1/models') return handleOpenAI(app, ctx, target, routePath);
  if (routePath === '/health') return sendJson(ctx, 200, {});
  const answer = { '/rerank': rerank, '/classify': classify, '/predict': classify }[routePath];
  if (!answer) return sendValidationError(ctx, 404, 'Not Found');
  if (ctx.req.method !== 'POST') return sendValidationError(ctx, 405, 'Method Not Allowed');
  const parsed = parseJson(ctx.body);
  if (!parsed.ok || !isObject(parsed.value)) return sendValidationError(ctx, 422, 'Request body must be a JSON object');
  const body = parsed.value;
  return answerSteered(ctx, steeringFor(ctx, body), target, () => answer(ctx, body));
}

/**
 * `{"query", "texts", "return_text"?}` -> `[{"index", "score", "text"?}]`, best first.
 * @param {Ctx} ctx
 * @param {Record<string, any>} body
 */
function rerank(ctx, body) {
  if (typeof body.query !== 'string' || !isStringArray(body.texts) || body.texts.length === 0) {
    return sendValidationError(ctx, 422, '`query` must be a string and `texts` a non-empty array of strings');
  }
  const results = body.texts.map((text, index) => ({
    index,
    score: score(`${body.query}\n${text}`),
    ...(body.return_text ? { text } : {}),
  }));
  return sendJson(
    ctx,
    200,
    results.sort((a, b) => b.score - a.score),
  );
}

/**
 * `{"inputs": [[text], ...]}` (or a list of strings, or one string) -> one list of
 * `{"label", "score"}` per input.
 * @param {Ctx} ctx
 * @param {Record<string, any>} body
 */
function classify(ctx, body) {
  const inputs = typeof body.inputs === 'string' ? [body.inputs] : body.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((i) => typeof i === 'string' || isStringArray(i))) {
    return sendValidationError(ctx, 422, '`inputs` must be a string or a non-empty array of strings or of string arrays');
  }
  return sendJson(
    ctx,
    200,
    inputs.map((input) => {
      const first = score(Array.isArray(input) ? input.join('\n') : input);
      return LABELS.map((label, i) => ({ label, score: i === 0 ? first : Math.round((1 - first) * 1e6) / 1e6 })).sort((a, b) => b.score - a.score);
    }),
  );
}

/**
 * The error shape of text-embeddings-inference, which BEI keeps.
 * @param {Ctx} ctx
 * @param {number} status
 * @param {string} message
 */
function sendValidationError(ctx, status, message) {
  return sendRaw(ctx, status, 'application/json', JSON.stringify({ error: message, error_type: status === 422 ? 'Validation' : 'Backend' }));
}

/** @param {unknown} value @returns {value is string[]} */
function isStringArray(value) {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * A score in [0, 1] from the text's hash.
 * @param {string} text
 */
function score(text) {
  return Math.round((createHash('sha256').update(text).digest().readUInt16BE(0) / 0xffff) * 1e6) / 1e6;
}
