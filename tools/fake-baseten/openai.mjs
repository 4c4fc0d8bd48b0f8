/**
 * An OpenAI-compatible engine behind `/sync/v1`, and Baseten's Model APIs: models, chat and text
 * completions (plain or as server-sent events, with `usage`, and a final usage chunk when
 * `stream_options.include_usage`) and embeddings, with the model-name check and OpenAI's error shape.
 * Replies echo the prompt word by word so a test can count tokens.
 */

import { createHash, randomBytes } from 'node:crypto';
import { cutConnection, defaultErrorMessage, pause, sendJson, untilClosed, withEchoedHeaders, writeWithBackpressure } from './http.mjs';
import { isAuthorized, isObject, isPositive, parseJson } from './request.mjs';
import { leakHangOrDelay, redirect } from './steering.mjs';
import { steeringFor } from './targeting.mjs';

/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').Ctx} Ctx */
/** @typedef {import('./types.mjs').Target} Target */

/**
 * An OpenAI-compatible engine (vLLM, BIS-LLM and the like) behind `/sync/v1`.
 * @param {App} app
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {string} routePath
 */
export function handleOpenAI(app, ctx, target, routePath) {
  const servedName = app.config.servedNames[target.id];
  return serveOpenAI(ctx, target, routePath, servedName === undefined ? null : [servedName]);
}

/**
 * Baseten's Model APIs (`https://inference.baseten.co/v1`, here `/model-api/v1`): one shared
 * OpenAI-compatible endpoint whose `model` must be one of the slugs it serves.
 * @param {App} app
 * @param {Ctx} ctx
 * @param {string} routePath Starting with `/v1/`.
 */
export function handleModelApi(app, ctx, routePath) {
  if (!isAuthorized(ctx.req.headers.authorization, app.config.apiKey)) {
    return sendOpenAIError(ctx, 401, ctx.req.headers.authorization ? 'Invalid API key' : 'Missing API key');
  }
  if (ctx.body.tooLarge) return sendOpenAIError(ctx, 413, 'Request Entity Too Large');
  return serveOpenAI(ctx, MODEL_API_TARGET, routePath, app.config.modelApiSlugs);
}

/** Stands in for a model where the shared steering wants one (leaked headers name it). */
const MODEL_API_TARGET = /** @type {Target} */ ({ kind: 'model', id: 'model-api', regional: null, segments: [] });

/**
 * @param {Ctx} ctx
 * @param {Target} target
 * @param {string} routePath
 * @param {string[] | null} models The names `model` must be one of; null takes any.
 */
async function serveOpenAI(ctx, target, routePath, models) {
  const method = ctx.req.method;
  if (routePath === '/v1/models') {
    if (method !== 'GET') return sendOpenAIError(ctx, 405, 'Method Not Allowed');
    return sendJson(ctx, 200, {
      object: 'list',
      data: (models ?? [target.id]).map((id) => ({ id, object: 'model', created: nowSeconds(), owned_by: 'baseten' })),
    });
  }
  const handlers = { '/v1/chat/completions': chatCompletions, '/v1/completions': textCompletions, '/v1/embeddings': embeddings };
  const handler = handlers[/** @type {keyof typeof handlers} */ (routePath)];
  if (!handler) return sendOpenAIError(ctx, 404, 'Not Found');
  if (method !== 'POST') return sendOpenAIError(ctx, 405, 'Method Not Allowed');

  const parsed = parseJson(ctx.body);
  if (!parsed.ok || !isObject(parsed.value)) return sendOpenAIError(ctx, 400, 'Request body must be a JSON object');
  const body = /** @type {Record<string, any>} */ (parsed.value);
  const fake = steeringFor(ctx, body);
  if (!(await leakHangOrDelay(ctx, fake, target))) return;
  if (fake.reset || fake.refuse) return cutConnection(ctx, { refused: Boolean(fake.refuse) });
  if (fake.redirect) return redirect(ctx, fake);
  if (Number.isInteger(fake.status) && fake.status >= 400) {
    return sendOpenAIError(ctx, fake.status, typeof fake.message === 'string' ? fake.message : defaultErrorMessage(fake.status));
  }
  if (models !== null && !models.includes(body.model)) {
    return sendOpenAIError(ctx, 404, `The model \`${body.model}\` does not exist.`);
  }
  return handler(ctx, body, fake, typeof body.model === 'string' ? body.model : target.id);
}

/**
 * @param {Ctx} ctx
 * @param {Record<string, any>} body
 * @param {Record<string, any>} fake
 * @param {string} model
 */
async function chatCompletions(ctx, body, fake, model) {
  if (!Array.isArray(body.messages)) return sendOpenAIError(ctx, 400, '`messages` must be an array');
  const prompt = lastUserText(body.messages);
  const words = replyWords(`echo: ${prompt}`, fake.tokens);
  const content = words.join(' ');
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
  const created = nowSeconds();
  const usage = makeUsage(prompt, words.length);

  if (!body.stream) {
    return sendJson(
      ctx,
      200,
      withEchoedHeaders(ctx, fake, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
        usage,
      }),
    );
  }
  const chunk = (/** @type {object} */ delta, /** @type {string | null} */ finish) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  /** @type {object[]} */
  const events = [
    chunk({ role: 'assistant', content: '' }, null),
    ...words.map((word, i) => chunk({ content: i === 0 ? word : ` ${word}` }, null)),
    chunk({}, 'stop'),
  ];
  if (body.stream_options?.include_usage) events.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
  return streamSse(ctx, events, fake);
}

/**
 * @param {Ctx} ctx
 * @param {Record<string, any>} body
 * @param {Record<string, any>} fake
 * @param {string} model
 */
async function textCompletions(ctx, body, fake, model) {
  const prompt = Array.isArray(body.prompt) ? body.prompt.join(' ') : body.prompt;
  if (typeof prompt !== 'string') return sendOpenAIError(ctx, 400, '`prompt` must be a string or an array of strings');
  const words = replyWords(`echo: ${prompt}`, fake.tokens);
  const id = `cmpl-${randomBytes(12).toString('hex')}`;
  const created = nowSeconds();
  const usage = makeUsage(prompt, words.length);

  if (!body.stream) {
    return sendJson(
      ctx,
      200,
      withEchoedHeaders(ctx, fake, {
        id,
        object: 'text_completion',
        created,
        model,
        choices: [{ index: 0, text: words.join(' '), logprobs: null, finish_reason: 'stop' }],
        usage,
      }),
    );
  }
  const chunk = (/** @type {string} */ text, /** @type {string | null} */ finish) => ({
    id,
    object: 'text_completion',
    created,
    model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
  });
  /** @type {object[]} */
  const events = [...words.map((word, i) => chunk(i === 0 ? word : ` ${word}`, null)), chunk('', 'stop')];
  if (body.stream_options?.include_usage) events.push({ id, object: 'text_completion', created, model, choices: [], usage });
  return streamSse(ctx, events, fake);
}

/**
 * @param {Ctx} ctx
 * @param {Record<string, any>} body
 * @param {Record<string, any>} fake
 * @param {string} model
 */
async function embeddings(ctx, body, fake, model) {
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  if (!Array.isArray(inputs) || inputs.length === 0) return sendOpenAIError(ctx, 400, '`input` must be a string or a non-empty array');
  const tokens = inputs.reduce((sum, item) => sum + countWords(typeof item === 'string' ? item : JSON.stringify(item)), 0);
  // The openai clients ask for base64 (little-endian float32) unless told otherwise; vLLM honours it.
  const encode =
    body.encoding_format === 'base64'
      ? (/** @type {number[]} */ vector) => Buffer.from(new Float32Array(vector).buffer).toString('base64')
      : (/** @type {number[]} */ vector) => vector;
  return sendJson(
    ctx,
    200,
    withEchoedHeaders(ctx, fake, {
      object: 'list',
      data: inputs.map((item, index) => ({ object: 'embedding', index, embedding: encode(embed(item)) })),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }),
  );
}

/**
 * OpenAI server-sent events: one `data:` line per chunk, then `data: [DONE]`.
 * `mid_event_pause_ms` writes the second event in two halves with a pause between, the way a
 * slow engine or a proxy can split an event across TCP segments. `close_mid_stream` cuts the
 * connection after half the events, without `[DONE]`.
 * @param {Ctx} ctx
 * @param {object[]} events
 * @param {Record<string, any>} fake
 */
async function streamSse(ctx, events, fake) {
  const { res } = ctx;
  const firstDelayMs = isPositive(fake.first_delay_ms) ? fake.first_delay_ms : 0;
  const tokenDelayMs = isPositive(fake.token_delay_ms) ? fake.token_delay_ms : 0;
  const midEventPauseMs = isPositive(fake.mid_event_pause_ms) ? fake.mid_event_pause_ms : 0;
  const cutAfter = fake.close_mid_stream ? Math.max(1, Math.floor(events.length / 2)) : Infinity;
  res.writeHead(200, { ...ctx.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  for (const [i, event] of events.entries()) {
    if (i >= cutAfter) return cutAfterFlush(ctx);
    const wait = i === 0 ? firstDelayMs : tokenDelayMs;
    if (wait > 0) await pause(wait, res);
    const text = `data: ${JSON.stringify(event)}\n\n`;
    if (i === 1 && midEventPauseMs > 0) {
      const half = Math.floor(text.length / 2);
      if (!(await writeWithBackpressure(res, text.slice(0, half)))) return;
      await pause(midEventPauseMs, res);
      if (!(await writeWithBackpressure(res, text.slice(half)))) return;
      continue;
    }
    if (!(await writeWithBackpressure(res, text))) return;
  }
  if (!(await writeWithBackpressure(res, 'data: [DONE]\n\n'))) return;
  res.end();
}

/**
 * Lets the events already written reach the client, then cuts the connection.
 * @param {Ctx} ctx
 */
async function cutAfterFlush(ctx) {
  const flushed = new Promise((resolve) => ctx.res.write('', () => resolve(undefined)));
  await Promise.race([flushed, untilClosed(ctx.res)]);
  cutConnection(ctx);
}

/**
 * OpenAI-style error, the shape OpenAI-compatible engines return.
 * @param {Ctx} ctx
 * @param {number} status
 * @param {string} message
 */
function sendOpenAIError(ctx, status, message) {
  if (status === 429) ctx.headers['retry-after'] = '1';
  return sendJson(ctx, status, { error: { message, type: openAIErrorType(status), code: status } });
}

/** @param {number} status */
function openAIErrorType(status) {
  /** @type {Record<number, string>} */
  const types = {
    400: 'BadRequestError',
    401: 'AuthenticationError',
    403: 'PermissionDeniedError',
    404: 'NotFoundError',
    405: 'MethodNotAllowedError',
    422: 'UnprocessableEntityError',
    429: 'RateLimitError',
  };
  return types[status] ?? (status >= 500 ? 'InternalServerError' : 'APIError');
}

/**
 * Text of the last user message; content may be a string or an array of parts.
 * @param {unknown[]} messages
 */
function lastUserText(messages) {
  const last = [...messages].reverse().find((m) => isObject(m) && m.role === 'user');
  if (!isObject(last)) return '';
  if (typeof last.content === 'string') return last.content;
  if (Array.isArray(last.content)) {
    return last.content
      .filter((part) => isObject(part) && typeof part.text === 'string')
      .map((part) => part.text)
      .join(' ');
  }
  return '';
}

/**
 * The reply as word tokens; `tokens: N` asks for exactly N words instead.
 * @param {string} text
 * @param {unknown} tokens
 */
function replyWords(text, tokens) {
  if (Number.isInteger(tokens) && /** @type {number} */ (tokens) > 0) {
    return Array.from({ length: /** @type {number} */ (tokens) }, (_, i) => `word${i + 1}`);
  }
  return text.split(/\s+/).filter(Boolean);
}

/** @param {string} text */
function countWords(text) {
  return text.split(/\s+/).filter(Boolean).length;
}

/**
 * @param {string} prompt
 * @param {number} completionTokens
 */
function makeUsage(prompt, completionTokens) {
  const promptTokens = countWords(prompt);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/**
 * Eight floats in [-1, 1] derived from the input's hash: same input, same vector.
 * @param {unknown} input
 */
function embed(input) {
  const digest = createHash('sha256').update(JSON.stringify(input)).digest();
  return Array.from({ length: 8 }, (_, i) => Math.round(((digest.readUInt16BE(i * 2) / 0xffff) * 2 - 1) * 1e6) / 1e6);
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}
