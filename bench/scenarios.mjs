// What is sent, and how each target is addressed: the fake Baseten directly,
// the pass-through floor Worker, the gateway, and Portkey's gateway. Every
// target reaches the same fake upstream with the same payload.
import { createHash } from 'node:crypto';

export const BASETEN_KEY = 'fake-baseten-key';
/** The benchmark's client token; its hash goes in CLIENTS. */
export const CLIENT_TOKEN = 'bench-client-token-4f1c9a7e2b';
/** The same client's twin, counted by the RATE_LIMITER binding: the figures "with the rate limiter". */
export const LIMITED_CLIENT_TOKEN = 'bench-limited-token-8d2e0c5a1f';
export const MODEL_ID = 'bench01';
export const CHAT_MODEL_ID = 'chat01';
/** The cached alias's own target, so the fake's log shows whether a cache hit reached it. */
export const CACHED_MODEL_ID = 'cache01';
export const SERVED_NAME = 'bench/chat-model';
/** A primary the fake refuses connections for (a rule steers it), to time serving from its fallback. */
export const REFUSING_MODEL_ID = 'benchrf';
const FALLBACK = { model_id: 'bench02', environment: 'production' };

/**
 * The RATE_LIMITER binding, with a limit no run reaches: Miniflare emulates
 * it as a call to a Durable Object of its own; on Cloudflare the counters
 * live on the Worker's machine.
 */
export const RATE_LIMITS = { RATE_LIMITER: { namespace_id: '1001', simple: { limit: 1_000_000_000, period: /** @type {60} */ (60) } } };

const sha256 = (/** @type {string} */ token) => createHash('sha256').update(token).digest('hex');

/**
 * The gateway's vars: a predict alias, the same behind the response cache, an
 * OpenAI alias; one client not rate limited and its twin on RATE_LIMITER.
 * @param {string} upstreamUrl
 */
export function gatewayVars(upstreamUrl) {
  return {
    BASETEN_API_KEY: BASETEN_KEY,
    BASETEN_WEBHOOK_SECRET: 'whsec_bench',
    BASETEN_URL_TEMPLATE: `${upstreamUrl}/{subdomain}`,
    MODELS: {
      bench: { model_id: MODEL_ID, environment: 'production' },
      cached: { model_id: CACHED_MODEL_ID, environment: 'production', cache: { ttl_seconds: 3600 } },
      chat: { model_id: CHAT_MODEL_ID, environment: 'production', openai: { served_model_name: SERVED_NAME } },
      'bench-async': { model_id: MODEL_ID, environment: 'production', async: true },
      // Fail-over: the same primary with a fallback; a refusing primary, tried every time or skipped by its open breaker.
      failover: { model_id: MODEL_ID, environment: 'production', fallbacks: [FALLBACK] },
      refused: { model_id: REFUSING_MODEL_ID, environment: 'production', fallbacks: [FALLBACK], breaker: { failures: 1000 } },
      'refused-open': { model_id: REFUSING_MODEL_ID, environment: 'staging', fallbacks: [FALLBACK] },
    },
    CLIENTS: {
      bench: { token_sha256: sha256(CLIENT_TOKEN), models: ['*'], rate_limit: 'none' },
      'bench-limited': { token_sha256: sha256(LIMITED_CLIENT_TOKEN), models: ['*'], rate_limit: 'RATE_LIMITER' },
    },
  };
}

/** About 200 bytes of JSON; the fake's echo of it is about as long. */
export const SMALL_INPUT = {
  inputs: { prompt: 'The quick brown fox jumps over the lazy dog while we count', max_new_tokens: 64, temperature: 0.7 },
  request_tag: 'bench-small-predict',
};

/** A JSON input of about `bytes` bytes. @param {number} bytes */
export function inputOfSize(bytes) {
  return { inputs: { text: 'x'.repeat(Math.max(0, bytes - 24)) } };
}

/** An input the fake answers with a chunked stream of `chunks` × `chunkBytes`. @param {number} chunks @param {number} chunkBytes */
export function streamInput(chunks, chunkBytes) {
  return { fake: { stream: { chunks, chunk_bytes: chunkBytes } } };
}

const json = { 'content-type': 'application/json' };
const signed = { ...json, authorization: `Api-Key ${BASETEN_KEY}` };
const client = { ...json, authorization: `Bearer ${CLIENT_TOKEN}` };
const limitedClient = { ...json, authorization: `Bearer ${LIMITED_CLIENT_TOKEN}` };
const predictPath = `/model-${MODEL_ID}/environments/production/predict`;
const chatBase = `/model-${CHAT_MODEL_ID}/environments/production/sync/v1`;

/**
 * POST predict with `input`, four ways: the gateway with and without the rate limiter.
 * @param {{fake: string, floor: string, gateway: string}} urls
 * @param {unknown} input
 * @param {string} [alias] the gateway's alias (the floor and direct calls go to the predict model regardless)
 */
export function predictTargets(urls, input, alias = 'bench') {
  const body = JSON.stringify(input);
  return {
    direct: { url: `${urls.fake}${predictPath}`, headers: signed, body },
    floor: { url: `${urls.floor}${predictPath}`, headers: signed, body },
    gateway: { url: `${urls.gateway}/v1/models/${alias}/predict`, headers: client, body },
    gatewayRl: { url: `${urls.gateway}/v1/models/${alias}/predict`, headers: limitedClient, body },
  };
}

/**
 * POST an async submit to the gateway three ways: without Idempotency-Key,
 * with a new key each time (the claim and the kept answer: two Durable Object
 * calls), and with one key again and again (a replay: one call, no Baseten).
 * The request stays QUEUED at the fake, so no webhook adds load.
 * @param {{gateway: string}} urls
 */
export function asyncSubmitTargets(urls) {
  const url = `${urls.gateway}/v1/models/bench-async/async`;
  const body = JSON.stringify({ model_input: { ...SMALL_INPUT, fake: { queue_ms: 600_000 } } });
  return {
    no_key: { url, headers: client, body },
    new_key: { url, headers: client, body, freshHeader: 'idempotency-key' },
    replay: { url, headers: { ...client, 'idempotency-key': 'bench-replayed-key' }, body },
  };
}

/**
 * The gateway's predict for an alias without fallbacks, one whose primary
 * answers, one whose primary refuses every connection, and the same with its
 * breaker open.
 * @param {{gateway: string}} urls
 * @param {unknown} input
 */
export function failoverTargets(urls, input) {
  const body = JSON.stringify(input);
  const alias = (/** @type {string} */ name) => ({ url: `${urls.gateway}/v1/models/${name}/predict`, headers: client, body });
  return { plain: alias('bench'), failover: alias('failover'), refused: alias('refused'), refusedOpen: alias('refused-open') };
}

/**
 * POST chat/completions, three ways; the gateway is called by alias, the
 * others by the engine's served name.
 * @param {{fake: string, gateway: string, portkey: string}} urls
 * @param {boolean} stream
 */
export function chatTargets(urls, stream) {
  const messages = [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'Name three colours of the rainbow and one fruit of each colour please' },
  ];
  const body = (/** @type {string} */ model) => JSON.stringify({ model, messages, max_tokens: 64, stream });
  return {
    direct: { url: `${urls.fake}${chatBase}/chat/completions`, headers: signed, body: body(SERVED_NAME) },
    gateway: { url: `${urls.gateway}/v1/chat/completions`, headers: client, body: body('chat') },
    portkey: {
      url: `${urls.portkey}/v1/chat/completions`,
      headers: {
        ...json,
        authorization: `Bearer ${BASETEN_KEY}`,
        'x-portkey-provider': 'openai',
        'x-portkey-custom-host': `${urls.fake}${chatBase}`,
      },
      body: body(SERVED_NAME),
    },
  };
}
