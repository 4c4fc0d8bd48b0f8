/**
 * Every route of the public API, once: method, path, who may call, what it
 * takes and answers, and its handler. The router (router.ts) and the OpenAPI
 * document (openapi.ts) are both generated from this table, so they cannot
 * disagree; the worker tests validate every answer they receive against the
 * document. Request bodies that carry a model's input are functions of that
 * input's schema, so an alias's `input_schema` lands in its own predict,
 * batch and async bodies from the same definition.
 */
import { ASYNC_STATUSES } from './async-status.ts';
import { basetenAccepted, basetenCancel, basetenQueue, basetenStatus, inDeployment, withBasetenFields } from './baseten-compat.ts';
import { basetenPaths, PATH_PREFIXES, type PrefixName } from './baseten-paths.ts';
import type { Config, ModelConfig } from './config.ts';
import type { ErrorType } from './errors.ts';
import { IDEMPOTENCY_KEY } from './idempotency.ts';
import {
  type Api,
  BASETEN_REQUEST_ID_HEADER,
  closed,
  GATEWAY_TARGET_HEADER,
  type JsonSchema,
  json,
  type Method,
  type Reply,
  type RouteSpec,
  ref,
  TARGET_LABEL_PATTERN,
} from './route-spec.ts';
import { adminUsage, createClient, listClients, readClient, revokeClient, rotateClient, updateClient } from './routes/admin-clients.ts';
import { asyncQueue, submitAsync } from './routes/async.ts';
import { asyncStatus, cancelAsync } from './routes/async-request.ts';
import { batch } from './routes/batch.ts';
import { healthz, listModels, MODES, openapi, retrieveModel } from './routes/meta.ts';
import { chatCompletions, completions, embeddings } from './routes/openai.ts';
import { predict } from './routes/predict.ts';
import { sync } from './routes/sync.ts';
import { ownUsage } from './routes/usage.ts';
import { wake } from './routes/wake.ts';
import { basetenWebhook } from './routes/webhook.ts';
import { websocket } from './routes/websocket.ts';

/** Every metered caller route: a quota'd client is counted at the door (429), and its meter may be unreachable (503). */
const CALLER_ERRORS: ErrorType[] = ['unauthorized', 'rate_limited', 'quota_exceeded', 'service_unavailable'];
const ALIAS_ERRORS: ErrorType[] = [...CALLER_ERRORS, 'forbidden', 'not_found'];
const ALIAS_CALL_ERRORS: ErrorType[] = [...ALIAS_ERRORS, 'upstream_error', 'upstream_timeout'];
const BODY_ERRORS: ErrorType[] = ['invalid_request', 'payload_too_large', 'unsupported_media_type'];
/** Routes whose work fails over: with no target left, 503. */
/** A call Baseten works on: the alias's errors and Baseten's (service_unavailable is already the caller's: no target left, or a binding down). */
const WORK_ERRORS: ErrorType[] = ALIAS_CALL_ERRORS;
const ASYNC_REQUEST_ERRORS: ErrorType[] = [...CALLER_ERRORS, 'invalid_request', 'not_found', 'upstream_error', 'upstream_timeout'];
const ADMIN_ERRORS: ErrorType[] = ['unauthorized', 'rate_limited', 'forbidden', 'service_unavailable'];
const ADMIN_CLIENT_ERRORS: ErrorType[] = [...ADMIN_ERRORS, 'not_found', 'conflict'];

const COUNTER_PROPERTIES: Record<string, JsonSchema> = {
  requests: { type: 'integer', description: 'Calls; a batch counts one per row sent, a WebSocket one per connection' },
  errors: { type: 'integer', description: 'Answers with a status of 400 or more' },
  input_tokens: { type: 'integer', description: 'OpenAI usage.prompt_tokens' },
  output_tokens: { type: 'integer', description: 'OpenAI usage.completion_tokens' },
  upstream_ms: { type: 'integer', description: 'Time Baseten took: to its response headers, and for OpenAI answers to their last byte' },
  websocket_connections: { type: 'integer', description: 'WebSocket connections, counted when they closed' },
  websocket_messages_from_client: { type: 'integer', description: 'Messages the caller sent on its WebSockets' },
  websocket_bytes_from_client: { type: 'integer', description: 'Bytes of those messages (text as UTF-8)' },
  websocket_messages_from_upstream: { type: 'integer', description: "Messages Baseten sent on the caller's WebSockets" },
  websocket_bytes_from_upstream: { type: 'integer', description: 'Bytes of those messages (text as UTF-8)' },
  websocket_ms: { type: 'integer', description: 'Time the WebSockets were open' },
};
/** A client as the admin API shows it: never a token or a hash. */
const CLIENT_PROPERTIES: Record<string, JsonSchema> = {
  name: { type: 'string' },
  static: { type: 'boolean', description: 'From CLIENTS: listed here, changed only in the config' },
  models: { type: 'array', items: { type: 'string' } },
  admin: { type: 'boolean' },
  rate_limit: { description: '"none", a rate limiting binding\'s name, or {"limit", "period_seconds"}' },
  quota: { $ref: '#/components/schemas/Quota' },
  expires_at: { type: 'string', format: 'date-time' },
  disabled: { type: 'boolean' },
  created_at: { type: 'string', format: 'date-time' },
  updated_at: { type: 'string', format: 'date-time' },
};
const CLIENT_REQUIRED = ['name', 'static', 'models', 'admin', 'disabled'];

/** Which of the alias's targets a batch row went to last (aliases with fallbacks only). */
const ROW_TARGET: JsonSchema = { type: 'string', pattern: TARGET_LABEL_PATTERN, description: 'primary or fallback-N: the target that answered this row' };

/** Schemas shared by several routes, published under components/schemas. */
const SHARED_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  RowError: closed(
    {
      type: { type: 'string' },
      message: { type: 'string' },
      status: { type: 'integer' },
      upstream_status: { type: 'integer' },
      upstream_code: { type: 'string' },
    },
    ['type', 'message', 'status'],
  ),
  BatchRow: {
    oneOf: [
      closed({ output: { description: "The row's predict output, as the model answered it" }, target: ROW_TARGET }, ['output']),
      closed({ error: ref('RowError'), target: ROW_TARGET }, ['error']),
    ],
  },
  AsyncError: closed({ code: { type: 'string' }, message: { type: 'string' } }),
  AsyncStatus: closed(
    {
      request_id: { type: 'string' },
      model: { type: 'string', description: 'The alias the request was sent to' },
      status: { enum: [...ASYNC_STATUSES] },
      final: { type: 'boolean', description: 'True once the gateway holds the outcome; until then poll again (the output may be in flight)' },
      created_at: { type: 'string' },
      status_at: { type: 'string' },
      webhook_status: { type: 'string' },
      errors: { type: 'array', items: ref('AsyncError') },
      output: { description: 'The output Baseten delivered, once SUCCEEDED' },
      cancel: closed({ canceled: { type: 'boolean' }, message: { type: 'string' } }),
    },
    ['request_id', 'model', 'status', 'final', 'created_at', 'status_at', 'errors'],
  ),
  AsyncCancel: closed({
    request_id: { type: 'string' },
    model: { type: 'string' },
    canceled: { type: 'boolean', description: 'False when Baseten refused (the request already runs) or it was already final' },
    message: { type: 'string' },
  }),
  UsageCounters: closed(COUNTER_PROPERTIES),
  Usage: closed({
    client: { type: 'string' },
    period: closed({ from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' }, days: { type: 'integer' } }),
    totals: ref('UsageCounters'),
    by_alias: { type: 'object', additionalProperties: ref('UsageCounters'), description: 'Calls that named no alias are under "-"' },
    by_day: {
      type: 'array',
      description: 'One entry per UTC day of the period, oldest first, days without calls included',
      items: closed({
        date: { type: 'string', format: 'date' },
        ...COUNTER_PROPERTIES,
        by_alias: { type: 'object', additionalProperties: ref('UsageCounters') },
      }),
    },
  }),
  Client: closed(CLIENT_PROPERTIES, CLIENT_REQUIRED),
  Quota: closed(
    {
      requests_per_day: { type: 'integer', minimum: 0 },
      tokens_per_day: { type: 'integer', minimum: 0 },
      requests_per_month: { type: 'integer', minimum: 0 },
      tokens_per_month: { type: 'integer', minimum: 0 },
      on_meter_failure: { enum: ['open', 'closed'], description: 'When the meter cannot be reached: let the client through, or refuse with 503 (default)' },
    },
    [],
  ),
  BasetenAsyncStatus: closed({
    request_id: { type: 'string' },
    model_id: { type: 'string', description: "The alias the request was sent to (never Baseten's ID)" },
    deployment_id: { type: 'string', description: 'The alias again' },
    status: { enum: [...ASYNC_STATUSES] },
    webhook_status: { enum: ['PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'NO_WEBHOOK_PROVIDED'] },
    created_at: { type: 'string' },
    status_at: { type: 'string' },
    errors: { type: 'array', items: ref('AsyncError') },
  }),
  OpenAIRequest: {
    type: 'object',
    properties: {
      model: { type: 'string', description: 'An alias with an OpenAI-compatible engine (see GET /v1/models)' },
      stream: { type: 'boolean' },
    },
    required: ['model'],
  },
};

/** Binary (msgpack) and multipart input pass through unparsed, except to an alias with a schema they would bypass. */
const predictBody = (input: JsonSchema, _config: Config, model?: ModelConfig) =>
  model?.inputSchema
    ? json(input)
    : {
        ...json(input),
        'application/octet-stream': { type: 'string', contentMediaType: 'application/octet-stream' },
        'multipart/form-data': { type: 'object', description: 'Passed through unparsed, boundary kept, within max_body_bytes' },
      };
const batchBody = (input: JsonSchema, config: Config) =>
  json(
    closed(
      {
        rows: { type: 'array', items: input, maxItems: config.settings.batchMaxRows },
      },
      ['rows'],
    ),
  );
const asyncBody = (input: JsonSchema) =>
  json(
    closed(
      {
        model_input: input,
        priority: { type: 'integer', minimum: 0, maximum: 2 },
        max_time_in_queue_seconds: { type: 'integer', minimum: 10, maximum: 259_200 },
      },
      ['model_input'],
    ),
  );

/** Whatever the model or engine answers: streamed through with its own content type. */
const ANY_ANSWER = { '*/*': {} };
const OPENAI_ANSWER = { 'application/json': {}, 'text/event-stream': { type: 'string' } };
/** What a custom server's route may be called with; TRACE, CONNECT and made-up methods get 405. */
const SYNC_METHODS: Method[] = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];

/** An alias in OpenAI's model shape, as `client.models.list()` and `retrieve()` expect, with the gateway's `modes`. */
const MODEL_OBJECT = closed({
  id: { type: 'string' },
  object: { const: 'model' },
  created: { type: 'integer' },
  owned_by: { type: 'string' },
  modes: {
    type: 'array',
    items: { enum: [...MODES] },
    description:
      "Gateway extension of OpenAI's model object: how this alias can be called. predict and batch (its predict routes), async (async routes), chat (the OpenAI routes), websocket (its WebSocket route)",
  },
});

const ok = (description: string, schema: JsonSchema): Reply => ({ description, content: json(schema) });
/** A relayed Baseten answer: who served it, and Baseten's id for it. */
const RELAYED = { headers: { ...GATEWAY_TARGET_HEADER, ...BASETEN_REQUEST_ID_HEADER } };

/** On answers of aliases with a `cache` option (docs/cache.md). */
const CACHE_HEADERS: Reply['headers'] = {
  'x-cache': { description: "HIT: stored answer, Baseten not called; MISS: Baseten's; BYPASS: not looked up", schema: { enum: ['HIT', 'MISS', 'BYPASS'] } },
  age: { description: 'On a hit: seconds since stored', schema: { type: 'integer', minimum: 0 } },
};

const DAYS_QUERY = { days: { description: 'UTC days to cover, ending today (default 30)', schema: { type: 'integer', minimum: 1, maximum: 400 } } };
const CLIENT_SETTINGS = {
  models: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'Aliases, or ["*"]' },
  rate_limit: { description: '"none", a rate limiting binding\'s name, or {"limit", "period_seconds"} (strict, global); null clears' },
  quota: { oneOf: [ref('Quota'), { type: 'null' }] },
  expires_at: { type: ['string', 'null'], format: 'date-time' },
};
const WITH_TOKEN = (extra: Record<string, JsonSchema> = {}) =>
  closed(
    {
      ...CLIENT_PROPERTIES,
      token: { type: 'string', description: 'Shown this once; only its SHA-256 is stored' },
      ...extra,
    },
    [...CLIENT_REQUIRED, 'token'],
  );
const PREDICT_REPLIES = {
  200: {
    description: "The model's answer, content type kept; chunked streams stay chunked",
    content: ANY_ANSWER,
    headers: { ...RELAYED.headers, ...CACHE_HEADERS },
  },
};
const PREDICT_ERRORS: ErrorType[] = [...BODY_ERRORS, ...WORK_ERRORS];
const WAKE_REPLIES = { 202: ok('Waking', closed({ alias: { type: 'string' }, status: { const: 'waking' } })) };
const SYNC_REPLIES = { '2XX': { description: "The custom server's answer, its status kept, streamed back", content: ANY_ANSWER, ...RELAYED } };
const SYNC_ERRORS: ErrorType[] = ['invalid_request', 'payload_too_large', ...WORK_ERRORS];
const syncBody = (method: Method) => (method === 'get' || method === 'head' ? undefined : () => ANY_ANSWER);
const ASYNC_SUBMIT_ERRORS: ErrorType[] = [...BODY_ERRORS, ...WORK_ERRORS, 'conflict'];
/** Both async submit paths (the gateway's and Baseten's) share one handler, so one description of its key and answers. */
const IDEMPOTENCY_KEY_HEADER = {
  'Idempotency-Key': {
    description:
      'Clients only: a retry with the same key within 24 h gets the first answer again (header idempotent-replayed) and Baseten is called once; the same key with another body, or while the first is in flight, is 409 conflict',
    schema: { type: 'string', pattern: IDEMPOTENCY_KEY.source },
  },
};
const REPLAYED_HEADER = {
  'idempotent-replayed': { description: '`true` when this is the first answer to the same Idempotency-Key, sent again', schema: { const: 'true' } },
};
/** Both status paths share one handler: a Baseten 429 on status serves the last known view with this header. */
const STATUS_RETRY_AFTER = {
  'retry-after': { description: 'Baseten refused the status call (429): the last known view is served; wait this many seconds', schema: { type: 'string' } },
};
const OWNER_TOKEN = { type: 'string', description: 'Anonymous callers only: send it as x-async-owner-token to read or cancel the request' };
const QUEUE_COUNTS = { num_queued_requests: { type: 'integer' }, num_in_progress_requests: { type: 'integer' } };
const WEBSOCKET_REPLIES = {
  101: {
    description: 'Switching Protocols: the socket is open. Without a message either way for SETTINGS.websocket_idle_ms, both sides are closed with 1001',
    headers: {
      'sec-websocket-protocol': {
        description: 'The subprotocol upstream selected, or gateway when the caller offered it and upstream selected none; never the token',
        schema: { type: 'string' },
      },
    },
  },
};
const WEBSOCKET_ERRORS: ErrorType[] = ['invalid_request', ...ALIAS_CALL_ERRORS];

const openAIRoute = (path: string, operationId: string, summary: string, handler: RouteSpec['handler']): RouteSpec => ({
  method: 'post',
  path,
  operationId,
  summary,
  access: 'caller',
  body: () => json(ref('OpenAIRequest')),
  replies: {
    200: {
      description: 'The engine\'s answer; `"stream": true` answers server-sent events',
      content: OPENAI_ANSWER,
      headers: { ...RELAYED.headers, ...CACHE_HEADERS },
    },
  },
  errors: PREDICT_ERRORS,
  handler,
});

/**
 * One entry serving a Baseten path shape (an action after each of Baseten's
 * deployment prefixes) with the gateway's own handler; the first prefix's
 * path is the entry's, the others are `alsoAt`.
 */
const basetenRoute = (action: string, prefixes: readonly PrefixName[] | undefined, spec: Omit<RouteSpec, 'path' | 'alsoAt'>): RouteSpec => {
  const [[, path], ...others] = basetenPaths(action, prefixes) as [[PrefixName, string], ...[PrefixName, string][]];
  return { ...spec, path, alsoAt: Object.fromEntries(others), handler: inDeployment(spec.handler) };
};
const BASETEN_PATHS =
  "Baseten's own path (see docs/baseten-clients.md): the alias decides the target, the environment or deployment segment only has to be well-formed.";

export const ROUTES: readonly RouteSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'healthz',
    summary: 'Liveness; never calls Baseten',
    access: 'open',
    replies: { 200: ok('Up', closed({ status: { const: 'ok' } })) },
    errors: [],
    handler: healthz,
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document, with the aliases this caller may use',
    access: 'caller',
    replies: { 200: ok('OpenAPI 3.1', { type: 'object', required: ['openapi', 'paths'] }) },
    errors: CALLER_ERRORS,
    handler: (request) => openapi(request, API),
  },
  {
    method: 'get',
    path: '/v1/models',
    operationId: 'listModels',
    summary: "The aliases this caller may use, in OpenAI's list shape",
    access: 'caller',
    replies: { 200: ok('Model list', closed({ object: { const: 'list' }, data: { type: 'array', items: MODEL_OBJECT } })) },
    errors: CALLER_ERRORS,
    handler: listModels,
  },
  {
    method: 'get',
    path: '/v1/models/{alias}',
    operationId: 'retrieveModel',
    summary: "One alias this caller may use, in OpenAI's model shape",
    access: 'caller',
    replies: { 200: ok('Model', MODEL_OBJECT) },
    errors: ALIAS_ERRORS,
    handler: retrieveModel,
  },
  openAIRoute(
    '/v1/chat/completions',
    'chatCompletions',
    "OpenAI-compatible chat completions; `model` is an alias, rewritten to the engine's served name",
    chatCompletions,
  ),
  openAIRoute('/v1/completions', 'completions', 'OpenAI-compatible completions', completions),
  openAIRoute('/v1/embeddings', 'embeddings', 'OpenAI-compatible embeddings', embeddings),
  {
    method: 'post',
    path: '/v1/models/{alias}/predict',
    operationId: 'predict',
    access: 'caller',
    summary: "One prediction: the body goes to the target's /predict (chains: /run_remote) and the answer streams back as it arrives",
    body: predictBody,
    perAlias: (model) => model.inputSchema !== undefined,
    replies: PREDICT_REPLIES,
    errors: PREDICT_ERRORS,
    handler: predict,
  },
  {
    method: 'post',
    path: '/v1/models/{alias}/batch',
    operationId: 'batch',
    access: 'caller',
    summary: "One predict per row, a bounded number at a time; a row's failure is that row's error. The alias's timeout is the whole batch's deadline",
    body: batchBody,
    perAlias: (model) => model.inputSchema !== undefined,
    replies: { 200: { ...ok('One entry per row, in order', closed({ rows: { type: 'array', items: ref('BatchRow') } })), headers: GATEWAY_TARGET_HEADER } },
    errors: [...BODY_ERRORS, ...ALIAS_ERRORS],
    handler: batch,
  },
  {
    method: 'post',
    path: '/v1/models/{alias}/wake',
    operationId: 'wake',
    summary: "Wakes the target's deployment (admin clients only)",
    access: 'admin',
    replies: WAKE_REPLIES,
    errors: ALIAS_CALL_ERRORS,
    handler: wake,
  },
  ...SYNC_METHODS.map(
    (method): RouteSpec => ({
      method,
      path: '/v1/models/{alias}/sync/{route}',
      operationId: `sync_${method}`,
      access: 'caller',
      summary: 'A custom-server route, only if the alias lists it in sync_routes',
      body: syncBody(method),
      replies: SYNC_REPLIES,
      errors: SYNC_ERRORS,
      handler: sync,
    }),
  ),
  {
    method: 'get',
    path: '/v1/models/{alias}/websocket',
    operationId: 'websocket',
    access: 'caller',
    summary:
      'A WebSocket (send Upgrade: websocket) to the target\'s /websocket, for aliases with "websocket": true: messages and closes relayed both ways unchanged. Browsers may send the token as the subprotocol bearer.<token> and offer gateway',
    replies: WEBSOCKET_REPLIES,
    errors: WEBSOCKET_ERRORS,
    handler: websocket,
  },
  {
    method: 'post',
    path: '/v1/models/{alias}/async',
    operationId: 'asyncPredict',
    access: 'caller',
    summary: "Queues an async predict (chains: /async_run_remote); the result arrives by Baseten's webhook and is kept by the gateway",
    body: asyncBody,
    perAlias: (model) => model.async && model.inputSchema !== undefined,
    headers: IDEMPOTENCY_KEY_HEADER,
    replies: {
      201: {
        ...ok(
          'Queued',
          closed(
            {
              request_id: { type: 'string' },
              model: { type: 'string' },
              status: { const: 'QUEUED' },
              status_url: { type: 'string' },
              owner_token: OWNER_TOKEN,
            },
            ['request_id', 'model', 'status', 'status_url'],
          ),
        ),
        headers: {
          location: { description: 'The status_url', schema: { type: 'string' } },
          ...REPLAYED_HEADER,
          ...GATEWAY_TARGET_HEADER,
        },
      },
    },
    errors: ASYNC_SUBMIT_ERRORS,
    handler: submitAsync,
  },
  {
    method: 'get',
    path: '/v1/models/{alias}/async/queue',
    operationId: 'asyncQueue',
    summary: "The target's async queue",
    access: 'caller',
    replies: { 200: ok('Queue status', closed({ model: { type: 'string' }, ...QUEUE_COUNTS })) },
    errors: ALIAS_CALL_ERRORS,
    handler: asyncQueue,
  },
  {
    method: 'get',
    path: '/v1/async/{request_id}',
    operationId: 'asyncStatus',
    summary: "Status, errors and (once delivered) output of the caller's own async request",
    access: 'caller',
    replies: {
      200: {
        ...ok('The request', ref('AsyncStatus')),
        headers: STATUS_RETRY_AFTER,
      },
    },
    errors: ASYNC_REQUEST_ERRORS,
    handler: asyncStatus,
  },
  {
    method: 'delete',
    path: '/v1/async/{request_id}',
    operationId: 'asyncCancel',
    summary: "Cancels the caller's own async request",
    access: 'caller',
    replies: { 200: ok("Baseten's verdict on the cancel", ref('AsyncCancel')) },
    errors: ASYNC_REQUEST_ERRORS,
    handler: cancelAsync,
  },
  {
    method: 'get',
    path: '/v1/usage',
    operationId: 'usage',
    access: 'caller',
    metered: false,
    summary: "The caller's own usage: totals, by alias, by UTC day",
    query: DAYS_QUERY,
    replies: { 200: ok('Usage', ref('Usage')) },
    errors: ['unauthorized', 'rate_limited', 'invalid_request', 'service_unavailable'],
    handler: ownUsage,
  },
  {
    method: 'post',
    path: '/v1/admin/clients',
    operationId: 'createClient',
    access: 'admin',
    summary: 'Makes a client; its token is in this answer only',
    body: () =>
      json(
        closed({ name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }, admin: { type: 'boolean' }, ...CLIENT_SETTINGS }, ['name', 'models']),
      ),
    replies: { 201: ok('Made', WITH_TOKEN()) },
    errors: [...ADMIN_CLIENT_ERRORS, ...BODY_ERRORS],
    handler: createClient,
  },
  {
    method: 'get',
    path: '/v1/admin/clients',
    operationId: 'listClients',
    access: 'admin',
    summary: 'Every client, static ones marked; never a token or a hash',
    replies: { 200: ok('Clients', closed({ clients: { type: 'array', items: ref('Client') } })) },
    errors: ADMIN_ERRORS,
    handler: listClients,
  },
  {
    method: 'get',
    path: '/v1/admin/clients/{name}',
    operationId: 'readClient',
    access: 'admin',
    summary: 'One client, with its usage',
    query: DAYS_QUERY,
    replies: { 200: ok('The client', closed({ ...CLIENT_PROPERTIES, usage: ref('Usage') }, CLIENT_REQUIRED)) },
    errors: [...ADMIN_CLIENT_ERRORS, 'invalid_request'],
    handler: readClient,
  },
  {
    method: 'patch',
    path: '/v1/admin/clients/{name}',
    operationId: 'updateClient',
    access: 'admin',
    summary: "Changes a stored client's models, rate limit, quota, expiry or disabled flag (static clients: 409)",
    body: () => json(closed({ ...CLIENT_SETTINGS, disabled: { type: 'boolean' } }, [])),
    replies: { 200: ok('Changed', ref('Client')) },
    errors: [...ADMIN_CLIENT_ERRORS, ...BODY_ERRORS],
    handler: updateClient,
  },
  {
    method: 'delete',
    path: '/v1/admin/clients/{name}',
    operationId: 'revokeClient',
    access: 'admin',
    summary: "Revokes a stored client: its tokens answer 401 at once here, everywhere within KV's propagation (about 60 s)",
    replies: { 200: ok('Revoked', closed({ name: { type: 'string' }, revoked: { const: true } })) },
    errors: ADMIN_CLIENT_ERRORS,
    handler: revokeClient,
  },
  {
    method: 'post',
    path: '/v1/admin/clients/{name}/rotate',
    operationId: 'rotateClient',
    access: 'admin',
    summary: 'A new token; the old one keeps working for grace_seconds (default 0)',
    body: () => json(closed({ grace_seconds: { type: 'integer', minimum: 0, maximum: 2_592_000 } }, [])),
    replies: { 200: ok('Rotated', WITH_TOKEN({ previous_token_valid_until: { type: 'string', format: 'date-time' } })) },
    errors: [...ADMIN_CLIENT_ERRORS, ...BODY_ERRORS],
    handler: rotateClient,
  },
  {
    method: 'get',
    path: '/v1/admin/usage',
    operationId: 'adminUsage',
    access: 'admin',
    summary: "Every client's usage (static, stored, anonymous), or one client's with ?client=",
    query: { ...DAYS_QUERY, client: { description: "One client's name", schema: { type: 'string' } } },
    replies: { 200: ok('Usage by client', closed({ clients: { type: 'array', items: ref('Usage') } })) },
    errors: [...ADMIN_ERRORS, 'invalid_request'],
    handler: adminUsage,
  },
  {
    method: 'post',
    path: '/v1/webhooks/baseten',
    operationId: 'basetenWebhook',
    access: 'webhook',
    summary:
      "Baseten's async result delivery; signed, at most 300 s old; stored even before the request's record is visible here, and joined to it; a repeat changes nothing",
    body: () =>
      json({
        type: 'object',
        properties: {
          request_id: { type: 'string' },
          model_id: { type: 'string' },
          chain_id: { type: 'string' },
          deployment_id: { type: 'string' },
          type: { type: 'string' },
          time: { type: 'string' },
          data: {},
          errors: { type: 'array' },
        },
        required: ['request_id', 'time'],
      }),
    replies: { 200: ok('Stored (or already stored)', closed({ received: { const: true } })) },
    errors: ['invalid_request', 'unauthorized', 'payload_too_large', 'service_unavailable'],
    handler: basetenWebhook,
  },
  ...basetenRoutes(),
];

/** Baseten's own paths, each shape one entry served by the gateway's handler for it. */
function basetenRoutes(): RouteSpec[] {
  const predictShape = (action: string, prefixes: readonly PrefixName[] | undefined, operationId: string) =>
    basetenRoute(action, prefixes, {
      method: 'post',
      operationId,
      access: 'caller',
      summary: `As predict. ${BASETEN_PATHS}`,
      body: predictBody,
      replies: PREDICT_REPLIES,
      errors: PREDICT_ERRORS,
      handler: predict,
    });
  const asyncShape = (action: string, operationId: string) =>
    basetenRoute(action, undefined, {
      method: 'post',
      operationId,
      access: 'caller',
      summary: `As the async submit, answered in Baseten's shape. ${BASETEN_PATHS}`,
      body: asyncBody,
      headers: IDEMPOTENCY_KEY_HEADER,
      replies: {
        201: {
          ...ok(
            'Queued',
            closed(
              {
                request_id: { type: 'string' },
                owner_token: OWNER_TOKEN,
              },
              ['request_id'],
            ),
          ),
          headers: {
            location: { description: "The gateway's status_url for the request", schema: { type: 'string' } },
            ...REPLAYED_HEADER,
            ...GATEWAY_TARGET_HEADER,
          },
        },
      },
      errors: ASYNC_SUBMIT_ERRORS,
      handler: withBasetenFields(submitAsync, basetenAccepted),
    });
  const asyncRequest = {
    path: '/v1/models/{alias}/async_request/{request_id}',
    access: 'caller' as const,
    errors: ASYNC_REQUEST_ERRORS,
  };
  return [
    // The bare `predict` (regional form) is the gateway's own predict path.
    predictShape('predict', PATH_PREFIXES, 'basetenPredict'),
    predictShape('run_remote', undefined, 'basetenRunRemote'),
    asyncShape('async_predict', 'basetenAsyncPredict'),
    asyncShape('async_run_remote', 'basetenAsyncRunRemote'),
    basetenRoute('async_queue_status', undefined, {
      method: 'get',
      operationId: 'basetenAsyncQueue',
      access: 'caller',
      summary: `As the async queue, answered in Baseten's shape. ${BASETEN_PATHS}`,
      replies: { 200: ok('Queue status', closed({ model_id: { type: 'string' }, deployment_id: { type: 'string' }, ...QUEUE_COUNTS })) },
      errors: ALIAS_CALL_ERRORS,
      handler: withBasetenFields(asyncQueue, basetenQueue),
    }),
    // Baseten's WebSockets live under a prefix only; the bare form is the gateway's own route.
    basetenRoute('websocket', PATH_PREFIXES, {
      method: 'get',
      operationId: 'basetenWebsocket',
      access: 'caller',
      summary: `As the WebSocket route (send Upgrade: websocket). ${BASETEN_PATHS}`,
      replies: WEBSOCKET_REPLIES,
      errors: WEBSOCKET_ERRORS,
      handler: websocket,
    }),
    basetenRoute('wake', PATH_PREFIXES, {
      method: 'post',
      operationId: 'basetenWake',
      access: 'admin',
      summary: `As wake (admin clients only). ${BASETEN_PATHS}`,
      replies: WAKE_REPLIES,
      errors: ALIAS_CALL_ERRORS,
      handler: wake,
    }),
    ...SYNC_METHODS.map((method) =>
      basetenRoute('sync/{route}', PATH_PREFIXES, {
        method,
        operationId: `basetenSync_${method}`,
        access: 'caller',
        summary: `As the custom-server route. ${BASETEN_PATHS}`,
        body: syncBody(method),
        replies: SYNC_REPLIES,
        errors: SYNC_ERRORS,
        handler: sync,
      }),
    ),
    {
      ...asyncRequest,
      method: 'get',
      operationId: 'basetenAsyncStatus',
      summary: "As the async status, in Baseten's shape; only for a request sent to this alias. Baseten's own path (see docs/baseten-clients.md).",
      replies: { 200: { ...ok('The request', ref('BasetenAsyncStatus')), headers: STATUS_RETRY_AFTER } },
      handler: withBasetenFields(asyncStatus, basetenStatus),
    },
    {
      ...asyncRequest,
      method: 'delete',
      operationId: 'basetenAsyncCancel',
      summary: "As the async cancel, in Baseten's shape; only for a request sent to this alias. Baseten's own path (see docs/baseten-clients.md).",
      replies: {
        200: ok("Baseten's verdict on the cancel", closed({ request_id: { type: 'string' }, canceled: { type: 'boolean' }, message: { type: 'string' } })),
      },
      handler: withBasetenFields(cancelAsync, basetenCancel),
    },
  ];
}

export const API: Api = { routes: ROUTES, schemas: SHARED_SCHEMAS };
