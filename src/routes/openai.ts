/**
 * POST /v1/chat/completions, /v1/completions, /v1/embeddings: the OpenAI
 * protocol, for aliases whose target is an OpenAI-compatible engine (vLLM,
 * TensorRT-LLM, SGLang) that Baseten exposes under /sync/v1, or one of
 * Baseten's Model APIs. `model` names the alias and is rewritten to the
 * engine's served name (a Model API's slug); every other byte of the body,
 * and of the answer, passes through as is.
 */
import { authorizeModel } from '../auth.ts';
import { callBaseten } from '../baseten.ts';
import { isObject, mediaType, readJson } from '../body.ts';
import { type Answered, answered, withCache } from '../cache.ts';
import type { Config, ModelConfig, Target } from '../config.ts';
import { caller, config, type GatewayRequest, onBehalfOf } from '../context.ts';
import { HttpError } from '../errors.ts';
import { memberSpans, prependMember, replaceMember, replaceSpans } from '../json-member.ts';
import { relay } from '../responses.ts';
import { sseResponse } from '../sse.ts';
import { tapEvents, tapJson, UsageTap } from '../usage-tap.ts';

export type OpenAIEndpoint = 'chat/completions' | 'completions' | 'embeddings';

type Route = (request: GatewayRequest, env: Env, ctx: ExecutionContext) => Promise<Response>;

export const chatCompletions: Route = (request, _env, ctx) => forwardOpenAI(request, ctx, 'chat/completions');
export const completions: Route = (request, _env, ctx) => forwardOpenAI(request, ctx, 'completions');
export const embeddings: Route = (request, _env, ctx) => forwardOpenAI(request, ctx, 'embeddings');

async function forwardOpenAI(request: GatewayRequest, ctx: ExecutionContext, endpoint: OpenAIEndpoint): Promise<Response> {
  const cfg = config(request);
  // The alias, and so its own cap, is only known once the body is read: read up to the largest.
  const { bytes, text, value } = await readJson(request, openAIBodyCap(cfg));
  const { model, servedName } = openAIModel(request, requestedAlias(endpoint, value));
  if (bytes.byteLength > model.maxBodyBytes) {
    throw new HttpError('payload_too_large', `request body is larger than ${model.maxBodyBytes} bytes`);
  }
  const askUsage = usageChunkMissing(endpoint, value);
  // The body every target gets, but for `model`: with the usage chunk asked for, spliced once.
  const base = askUsage ? withUsageChunk(text, value) : text;
  const spans = singleModelSpan(base);
  const names = [model.target, ...model.fallbacks].map((target) => servedNameFor(target, servedName));
  holdCap(askUsage ? utf8Length(base) : bytes.byteLength, base, spans, names, model.maxBodyBytes);
  // Each target gets its own name for the model: fallbacks may mix engines and Model APIs.
  const bodyFor = (target: Target) => replaceSpans(base, spans, JSON.stringify(servedNameFor(target, servedName)));
  const stream = isObject(value) && value.stream === true;
  // A hit counts the tokens its stored answer holds: non-streamed answers carry usage, streams only when their caller asked for it.
  const onReplay = (body: ReadableStream<Uint8Array>, streamed: boolean) => {
    const tap = new UsageTap();
    request.state.usage = tap;
    return streamed ? tapEvents(body, tap, false) : tapJson(body, tap);
  };
  return withCache(request, ctx, model, { route: endpoint, body: bytes, stream, onReplay }, () => callEngine(request, model, endpoint, bodyFor, askUsage));
}

async function callEngine(
  request: GatewayRequest,
  model: ModelConfig,
  endpoint: OpenAIEndpoint,
  bodyFor: (target: Target) => string,
  askUsage: boolean,
): Promise<Answered> {
  const cfg = config(request);
  const startedMs = Date.now();
  const upstream = await callBaseten(
    cfg,
    model,
    { openai: endpoint },
    {
      ...onBehalfOf(request),
      bodyFor,
      contentType: 'application/json',
      callerHeaders: request.headers,
      timeoutMs: model.timeoutMs,
    },
  );
  const tap = new UsageTap();
  request.state.usage = tap;
  if (mediaType(upstream) !== 'text/event-stream') return answered(upstream, relay(new Response(upstream.body && tapJson(upstream.body, tap), upstream)));
  return answered(
    upstream,
    sseResponse(new Response(upstream.body && tapEvents(upstream.body, tap, askUsage), upstream), {
      keepAliveMs: cfg.settings.sseKeepAliveMs,
      // timeout_ms counts to the first byte, then applies to each silence; never to the whole stream.
      firstByteMs: Math.max(1, model.timeoutMs - (Date.now() - startedMs)),
      idleMs: model.timeoutMs,
      onIdle: () =>
        console.log(
          JSON.stringify({
            level: 'warn',
            request_id: request.state.requestId,
            alias: model.alias,
            event: 'stream_cut_idle',
            idle_ms: model.timeoutMs,
          }),
        ),
    }),
  );
}

/**
 * A streamed completion whose caller did not ask for the usage chunk: the
 * gateway asks for it to count the tokens, and cuts it from the caller's
 * stream. Embeddings do not stream.
 */
export function usageChunkMissing(endpoint: OpenAIEndpoint, body: unknown): boolean {
  if (endpoint === 'embeddings' || !isObject(body) || body.stream !== true) return false;
  const options = body.stream_options;
  if (options === undefined) return true;
  // A stream_options the engine will refuse anyway is left for it to refuse.
  return isObject(options) && options.include_usage !== true;
}

function withUsageChunk(text: string, body: unknown): string {
  const options = (body as Record<string, unknown>).stream_options;
  const asked = JSON.stringify({ ...(isObject(options) ? options : {}), include_usage: true });
  return isObject(options) ? replaceMember(text, 'stream_options', asked) : prependMember(text, 'stream_options', asked);
}

/** The checks the gateway owns; every other field is the engine's business. */
export function requestedAlias(endpoint: OpenAIEndpoint, body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError('invalid_request', 'the request body must be a JSON object');
  }
  const model = 'model' in body ? body.model : undefined;
  if (typeof model !== 'string' || model === '') {
    throw new HttpError('invalid_request', '`model` must be a string: the alias of the model to call');
  }
  if (endpoint === 'chat/completions' && !('messages' in body && Array.isArray(body.messages))) {
    throw new HttpError('invalid_request', '`messages` must be an array');
  }
  return model;
}

/**
 * Where `model`'s value is. A repeated `model` is refused: engines disagree on
 * which copy wins, and each copy rewritten would let a small body grow past
 * the cap on its way upstream.
 */
function singleModelSpan(text: string): [number, number][] {
  const spans = memberSpans(text, 'model');
  if (spans.length > 1) throw new HttpError('invalid_request', '`model` is given more than once; send it once');
  return spans;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

/** The cap holds for what is sent: a served name longer than the alias grows the body, for every target it may go to. */
function holdCap(receivedBytes: number, text: string, spans: readonly [number, number][], names: readonly string[], maxBodyBytes: number): void {
  const encoder = new TextEncoder();
  const replaced = spans.reduce((sum, [start, end]) => sum + encoder.encode(text.slice(start, end)).byteLength, 0);
  const longest = Math.max(...names.map((name) => encoder.encode(JSON.stringify(name)).byteLength));
  if (receivedBytes - replaced + longest > maxBodyBytes) {
    throw new HttpError('payload_too_large', `request body is larger than ${maxBodyBytes} bytes once \`model\` names the engine's served model`);
  }
}

/** The alias, checked against this caller, and known to speak the OpenAI protocol. */
function openAIModel(request: GatewayRequest, alias: string): { model: ModelConfig; servedName: string } {
  const model = authorizeModel(caller(request), config(request), alias);
  request.state.alias = model.alias;
  if (!model.openai) {
    // OpenAI itself answers 404 for a model that exists but not on this endpoint.
    throw new HttpError('not_found', `model "${model.alias}" is not an OpenAI-compatible engine; call /v1/models/${model.alias}/predict`);
  }
  return { model, servedName: model.openai.servedModelName };
}

/** What `model` becomes for one target: a Model API's slug, else the alias's served name. */
function servedNameFor(target: Target, servedName: string): string {
  return target.kind === 'model_api' ? target.slug : servedName;
}

function openAIBodyCap(cfg: Config): number {
  if (cfg.openaiMaxBodyBytes === 0) throw new HttpError('not_found', 'no OpenAI-compatible model is configured');
  return cfg.openaiMaxBodyBytes;
}
