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
import { mediaType, readJson } from '../body.ts';
import type { Config, ModelConfig, Target } from '../config.ts';
import { caller, config, onBehalfOf, type GatewayRequest } from '../context.ts';
import { HttpError } from '../errors.ts';
import { replaceMember } from '../json-member.ts';
import { sseResponse } from '../sse.ts';
import { relay } from '../responses.ts';

export type OpenAIEndpoint = 'chat/completions' | 'completions' | 'embeddings';

export const chatCompletions = (request: GatewayRequest) => forwardOpenAI(request, 'chat/completions');
export const completions = (request: GatewayRequest) => forwardOpenAI(request, 'completions');
export const embeddings = (request: GatewayRequest) => forwardOpenAI(request, 'embeddings');

async function forwardOpenAI(request: GatewayRequest, endpoint: OpenAIEndpoint): Promise<Response> {
  const cfg = config(request);
  // The alias, and so its own cap, is only known once the body is read: read up to the largest.
  const { bytes, text, value } = await readJson(request, openAIBodyCap(cfg));
  const { model, servedName } = openAIModel(request, requestedAlias(endpoint, value));
  if (bytes.byteLength > model.maxBodyBytes) {
    throw new HttpError('payload_too_large', `request body is larger than ${model.maxBodyBytes} bytes`);
  }
  // Each target gets its own name for the model: fallbacks may mix engines and Model APIs.
  const bodyFor = (target: Target) => replaceMember(text, 'model', JSON.stringify(servedNameFor(target, servedName)));
  const startedMs = Date.now();
  const upstream = await callBaseten(cfg, model, { openai: endpoint }, {
    ...onBehalfOf(request), bodyFor, contentType: 'application/json', callerHeaders: request.headers, timeoutMs: model.timeoutMs,
  });
  if (mediaType(upstream) !== 'text/event-stream') return relay(upstream);
  return sseResponse(upstream, {
    keepAliveMs: cfg.settings.sseKeepAliveMs,
    // timeout_ms counts to the first byte, then applies to each silence; never to the whole stream.
    firstByteMs: Math.max(1, model.timeoutMs - (Date.now() - startedMs)),
    idleMs: model.timeoutMs,
    onIdle: () => console.log(JSON.stringify({
      level: 'warn', request_id: request.state.requestId, alias: model.alias, event: 'stream_cut_idle', idle_ms: model.timeoutMs,
    })),
  });
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
