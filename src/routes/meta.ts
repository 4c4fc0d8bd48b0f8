/** Routes that never call Baseten: health, the caller's model list, the OpenAPI document. */
import { authorizeModel } from '../auth.ts';
import type { ModelConfig } from '../config.ts';
import { caller, config, type GatewayRequest } from '../context.ts';
import { openApiFor } from '../openapi.ts';
import { json, wholeJson } from '../responses.ts';
import type { Api } from '../route-spec.ts';

export function healthz(): Response {
  return json({ status: 'ok' });
}

/** OpenAI's list shape, so `client.models.list()` works; only aliases this caller may use. */
export function listModels(request: GatewayRequest): Response {
  const who = caller(request);
  const data = [...config(request).models.values()].filter((model) => who.canUse(model)).map(modelObject);
  return json({ object: 'list', data });
}

/** One alias in OpenAI's model shape, for `client.models.retrieve(alias)`. */
export function retrieveModel(request: GatewayRequest): Response {
  return json(modelObject(authorizeModel(caller(request), config(request), String(request.params.alias))));
}

/** What an alias can be called with, so a client (the playground) need not guess. */
export const MODES = ['predict', 'batch', 'async', 'chat', 'websocket'] as const;

function modelObject(model: ModelConfig) {
  return { id: model.alias, object: 'model', created: 0, owned_by: 'baseten-gateway', modes: modesOf(model) };
}

function modesOf(model: ModelConfig): (typeof MODES)[number][] {
  if (model.target.kind === 'model_api') return ['chat'];
  const offered = { predict: true, batch: true, async: model.async, chat: model.openai !== undefined, websocket: model.websocket };
  return MODES.filter((mode) => offered[mode]);
}

/** The OpenAPI document of `api`, with the aliases this caller may use. */
export function openapi(request: GatewayRequest, api: Api): Response {
  return wholeJson(openApiFor(api, config(request), caller(request)));
}
