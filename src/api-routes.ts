/**
 * What each public route takes and answers: the one table the OpenAPI
 * document is generated from. Request bodies that carry a model's input are
 * functions of that input's schema, so an alias's `input_schema` lands in its
 * own predict, batch and async bodies from the same definition.
 */
import { ALIAS, type Config, type ModelConfig } from './config.ts';
import type { ErrorType } from './errors.ts';

export type JsonSchema = Readonly<Record<string, unknown>> | boolean;

/**
 * Who may call: `open` anyone, no token read; `caller` a client's Bearer
 * token, or anonymous for public aliases; `admin` an admin client's token;
 * `webhook` Baseten's signature.
 */
export type Access = 'open' | 'caller' | 'admin' | 'webhook';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Reply {
  description: string;
  /** Media type → schema. */
  content?: Readonly<Record<string, JsonSchema>>;
}

export interface RouteDoc {
  method: Method;
  /** OpenAPI path template. */
  path: string;
  operationId: string;
  summary: string;
  access: Access;
  /** Request body by media type; JSON bodies that hold a model's input take that input's schema. */
  body?: (input: JsonSchema, config: Config, model?: ModelConfig) => Readonly<Record<string, JsonSchema>>;
  /** Aliases that get their own copy of this path, with their input schema in the body. */
  perAlias?: (model: ModelConfig) => boolean;
  replies: Readonly<Record<number, Reply>>;
  errors: readonly ErrorType[];
}

/** Any JSON value: the input of an alias without `input_schema`. */
export const ANY_INPUT: JsonSchema = {};

const ALIAS_CALL_ERRORS: ErrorType[] = ['unauthorized', 'forbidden', 'not_found', 'rate_limited', 'upstream_error', 'upstream_timeout'];
const BODY_ERRORS: ErrorType[] = ['invalid_request', 'payload_too_large', 'unsupported_media_type'];

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': schema });
const object = (properties: Record<string, JsonSchema>, required: string[] = [], extra: Record<string, unknown> = {}): JsonSchema =>
  ({ type: 'object', properties, required, ...extra });

/** Schemas shared by several routes, published under components/schemas. */
export const SHARED_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  RowError: object({
    type: { type: 'string' },
    message: { type: 'string' },
    status: { type: 'integer' },
  }, ['type', 'message', 'status']),
  BatchRow: {
    oneOf: [
      object({ output: { description: "The row's predict output, as the model answered it" } }, ['output'], { additionalProperties: false }),
      object({ error: ref('RowError') }, ['error'], { additionalProperties: false }),
    ],
  },
  AsyncStatus: object({
    request_id: { type: 'string' },
    alias: { type: 'string' },
    status: { enum: ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED', 'WEBHOOK_FAILED'] },
    output: { description: 'The output Baseten delivered, once SUCCEEDED' },
    errors: { type: 'array' },
  }, ['request_id', 'status']),
  OpenAIRequest: object({
    model: { type: 'string', description: 'An alias with an OpenAI-compatible engine (see GET /v1/models)' },
    stream: { type: 'boolean' },
  }, ['model']),
};

/** Binary (msgpack) input passes through unparsed, except to an alias with a schema it would bypass. */
const predictBody = (input: JsonSchema, _config: Config, model?: ModelConfig) => model?.inputSchema
  ? json(input)
  : { ...json(input), 'application/octet-stream': { type: 'string', contentMediaType: 'application/octet-stream' } };
const batchBody = (input: JsonSchema, config: Config) => json(object({
  rows: { type: 'array', items: input, maxItems: config.settings.batchMaxRows },
}, ['rows'], { additionalProperties: false }));
const asyncBody = (input: JsonSchema) => json(object({
  model_input: input,
  priority: { type: 'integer', minimum: 0, maximum: 2 },
  max_time_in_queue_seconds: { type: 'integer', minimum: 10, maximum: 259_200 },
}, ['model_input'], { additionalProperties: false }));

/** Whatever the model or engine answers: streamed through with its own content type. */
const ANY_ANSWER = { '*/*': {} };
const OPENAI_ANSWER = { 'application/json': {}, 'text/event-stream': { type: 'string' } };
const SYNC_METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];

const openAIRoute = (path: string, operationId: string, summary: string): RouteDoc => ({
  method: 'post', path, operationId, summary, access: 'caller',
  body: () => json(ref('OpenAIRequest')),
  replies: { 200: { description: 'The engine\'s answer; `"stream": true` answers server-sent events', content: OPENAI_ANSWER } },
  errors: [...BODY_ERRORS, ...ALIAS_CALL_ERRORS],
});

/** An alias in OpenAI's model shape, as `client.models.list()` and `retrieve()` expect. */
const MODEL_OBJECT = object({ id: { type: 'string' }, object: { const: 'model' }, created: { type: 'integer' }, owned_by: { type: 'string' } }, ['id', 'object']);

export const ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: 'get', path: '/healthz', operationId: 'healthz', summary: 'Liveness; never calls Baseten', access: 'open',
    replies: { 200: { description: 'Up', content: json(object({ status: { const: 'ok' } }, ['status'])) } },
    errors: [],
  },
  {
    method: 'get', path: '/openapi.json', operationId: 'openapi', summary: 'This document, with the aliases this caller may use', access: 'caller',
    replies: { 200: { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } },
    errors: ['unauthorized'],
  },
  {
    method: 'get', path: '/v1/models', operationId: 'listModels', summary: 'The aliases this caller may use, in OpenAI\'s list shape', access: 'caller',
    replies: {
      200: {
        description: 'Model list',
        content: json(object({ object: { const: 'list' }, data: { type: 'array', items: MODEL_OBJECT } }, ['object', 'data'])),
      },
    },
    errors: ['unauthorized'],
  },
  {
    method: 'get', path: '/v1/models/{alias}', operationId: 'retrieveModel', summary: 'One alias this caller may use, in OpenAI\'s model shape', access: 'caller',
    replies: { 200: { description: 'Model', content: json(MODEL_OBJECT) } },
    errors: ['unauthorized', 'forbidden', 'not_found'],
  },
  {
    method: 'post', path: '/v1/models/{alias}/predict', operationId: 'predict', access: 'caller',
    summary: 'One prediction: the body goes to the target\'s /predict (chains: /run_remote) and the answer streams back as it arrives',
    body: predictBody, perAlias: (model) => model.inputSchema !== undefined,
    replies: { 200: { description: 'The model\'s answer, status and content type kept; chunked streams stay chunked', content: ANY_ANSWER } },
    errors: [...BODY_ERRORS, ...ALIAS_CALL_ERRORS],
  },
  {
    method: 'post', path: '/v1/models/{alias}/batch', operationId: 'batch', access: 'caller',
    summary: 'One predict per row, a bounded number at a time; a row\'s failure is that row\'s error. The alias\'s timeout is the whole batch\'s deadline',
    body: batchBody, perAlias: (model) => model.inputSchema !== undefined,
    replies: { 200: { description: 'One entry per row, in order', content: json(object({ rows: { type: 'array', items: ref('BatchRow') } }, ['rows'])) } },
    errors: [...BODY_ERRORS, 'unauthorized', 'forbidden', 'not_found'],
  },
  {
    method: 'post', path: '/v1/models/{alias}/async', operationId: 'asyncPredict', access: 'caller',
    summary: 'Queues an async predict (chains: /async_run_remote); the result arrives by Baseten\'s webhook and is kept by the gateway',
    body: asyncBody, perAlias: (model) => model.async && model.inputSchema !== undefined,
    replies: { 201: { description: 'Queued', content: json(object({ request_id: { type: 'string' }, status_url: { type: 'string' } }, ['request_id', 'status_url'])) } },
    errors: [...BODY_ERRORS, ...ALIAS_CALL_ERRORS],
  },
  {
    method: 'get', path: '/v1/models/{alias}/async/queue', operationId: 'asyncQueue', summary: 'The target\'s async queue', access: 'caller',
    replies: { 200: { description: 'Queue status', content: json(object({ alias: { type: 'string' }, num_queued_requests: { type: 'integer' }, num_in_progress_requests: { type: 'integer' } })) } },
    errors: ALIAS_CALL_ERRORS,
  },
  {
    method: 'get', path: '/v1/async/{request_id}', operationId: 'asyncStatus', summary: 'Status, errors and (once delivered) output of the caller\'s own async request', access: 'caller',
    replies: { 200: { description: 'The request', content: json(ref('AsyncStatus')) } },
    errors: ['unauthorized', 'not_found', 'upstream_error', 'upstream_timeout'],
  },
  {
    method: 'delete', path: '/v1/async/{request_id}', operationId: 'asyncCancel', summary: 'Cancels the caller\'s own async request', access: 'caller',
    replies: { 200: { description: 'Canceled', content: json(ref('AsyncStatus')) } },
    errors: ['unauthorized', 'not_found', 'upstream_error', 'upstream_timeout'],
  },
  {
    method: 'post', path: '/v1/webhooks/baseten', operationId: 'basetenWebhook', access: 'webhook',
    summary: 'Baseten\'s async result delivery; signed, at most 300 s old, for a known request; a repeat changes nothing',
    body: () => json(object({
      request_id: { type: 'string' }, model_id: { type: 'string' }, deployment_id: { type: 'string' },
      type: { type: 'string' }, time: { type: 'string' }, data: {}, errors: { type: 'array' },
    }, ['request_id'])),
    replies: { 200: { description: 'Stored (or already stored)' } },
    errors: ['invalid_request', 'unauthorized', 'not_found', 'payload_too_large', 'unsupported_media_type'],
  },
  ...SYNC_METHODS.map((method): RouteDoc => ({
    method, path: '/v1/models/{alias}/sync/{route}', operationId: `sync_${method}`, access: 'caller',
    summary: 'A custom-server route, only if the alias lists it in sync_routes',
    body: method === 'get' ? undefined : () => ANY_ANSWER,
    replies: { 200: { description: 'The custom server\'s answer, streamed back', content: ANY_ANSWER } },
    errors: [...BODY_ERRORS, ...ALIAS_CALL_ERRORS],
  })),
  openAIRoute('/v1/chat/completions', 'chatCompletions', 'OpenAI-compatible chat completions; `model` is an alias, rewritten to the engine\'s served name'),
  openAIRoute('/v1/completions', 'completions', 'OpenAI-compatible completions'),
  openAIRoute('/v1/embeddings', 'embeddings', 'OpenAI-compatible embeddings'),
  {
    method: 'post', path: '/v1/models/{alias}/wake', operationId: 'wake', summary: 'Wakes the target\'s deployment (admin clients only)', access: 'admin',
    replies: { 202: { description: 'Waking', content: json(object({ alias: { type: 'string' }, status: { const: 'waking' } }, ['alias', 'status'])) } },
    errors: ALIAS_CALL_ERRORS,
  },
];

/** Path parameters, by name. */
export const PATH_PARAMETERS: Readonly<Record<string, { description: string; schema: JsonSchema }>> = {
  alias: { description: 'A model alias this caller may use (see GET /v1/models)', schema: { type: 'string', pattern: ALIAS.source } },
  request_id: { description: 'The request_id the async submit answered', schema: { type: 'string' } },
  route: { description: 'The rest of the path, as listed in the alias\'s sync_routes; may hold several segments', schema: { type: 'string' } },
};
