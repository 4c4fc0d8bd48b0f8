/**
 * The OpenAPI 3.1 document of the public API, generated from the route table
 * (route-table.ts), the error types (errors.ts) and the config's input
 * schemas, never written by hand. Built once per isolate; each caller is
 * served the per-alias paths of the aliases it may use only.
 */
import type { Caller } from './auth.ts';
import type { Config, ModelConfig } from './config.ts';
import { MAX_QUERY_CHARS } from './context.ts';
import { ERROR_STATUS, type ErrorType } from './errors.ts';
import { SANE_REQUEST_ID } from './request-id.ts';
import {
  ANY_INPUT,
  type Api,
  BASETEN_REQUEST_ID_HEADER,
  GATEWAY_TARGET_HEADER,
  type JsonSchema,
  PATH_PARAMETERS,
  type RouteSpec,
  routePaths,
} from './route-spec.ts';

type Json = Record<string, unknown>;
type Paths = Record<string, Record<string, Json>>;

interface Built {
  /** The document without any per-alias path. */
  base: Json & { paths: Paths };
  /** Each alias's own paths (only aliases with something of their own to say, such as an input schema). */
  aliasPaths: Map<string, Paths>;
  /** Serialized views, by the list of aliases they show: a caller's view depends on nothing else. */
  served: Map<string, string>;
}

const built = new WeakMap<Api, WeakMap<Config, Built>>();

/** The document as served to this caller (JSON text), built on first use. */
export function openApiFor(api: Api, config: Config, caller: Caller): string {
  const entry = builtFor(api, config);
  // Keyed by what the caller may see, never by a name a client could choose.
  const visible = [...config.models.values()].filter((model) => caller.canUse(model)).map((model) => model.alias);
  const key = visible.join('\n');
  let text = entry.served.get(key);
  if (text === undefined) {
    const shown = new Set(visible);
    text = JSON.stringify(view(entry, config, (model) => shown.has(model.alias)));
    entry.served.set(key, text);
  }
  return text;
}

/** The document with the per-alias paths of the aliases `visible` accepts. */
export function openApiDocument(api: Api, config: Config, visible: (model: ModelConfig) => boolean = () => true): Json {
  return view(builtFor(api, config), config, visible);
}

function builtFor(api: Api, config: Config): Built {
  let byConfig = built.get(api);
  if (!byConfig) {
    byConfig = new WeakMap();
    built.set(api, byConfig);
  }
  let entry = byConfig.get(config);
  if (!entry) {
    entry = build(api, config);
    byConfig.set(config, entry);
  }
  return entry;
}

function view(entry: Built, config: Config, visible: (model: ModelConfig) => boolean): Json {
  const paths: Paths = { ...entry.base.paths };
  for (const model of config.models.values()) {
    if (visible(model)) Object.assign(paths, entry.aliasPaths.get(model.alias));
  }
  return { ...entry.base, paths };
}

function build(api: Api, config: Config): Built {
  const paths: Paths = {};
  const aliasPaths = new Map<string, Paths>();
  for (const route of api.routes) {
    for (const [operationId, path] of routePaths(route)) {
      const item = paths[path] ?? {};
      item[route.method] = operation({ ...route, operationId, path }, config, ANY_INPUT);
      paths[path] = item;
    }
    for (const model of config.models.values()) {
      if (!model.inputSchema || !route.perAlias?.(model)) continue;
      const own = aliasPaths.get(model.alias) ?? {};
      const path = route.path.replace('{alias}', model.alias);
      own[path] = { ...own[path], [route.method]: operation(route, config, model.inputSchema, model) };
      aliasPaths.set(model.alias, own);
    }
  }
  const base = {
    openapi: '3.1.0',
    info: {
      title: 'Baseten edge gateway',
      version: '1.0.0',
      description:
        'Calls Baseten models by alias. Errors always have the shape `{"error": {"type", "message", "request_id"}}`; every response carries x-request-id.',
    },
    servers: [{ url: config.publicBaseUrl ?? '/' }],
    security: [{ bearer: [] }, { apiKey: [] }, {}],
    paths,
    components: components(api),
  };
  return { base, aliasPaths, served: new Map() };
}

function operation(route: RouteSpec, config: Config, input: JsonSchema, model?: ModelConfig): Json {
  const path = model ? route.path.replace('{alias}', model.alias) : route.path;
  const parameters: Json[] = [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({ name, in: 'path', required: true, ...PATH_PARAMETERS[name!] }));
  for (const [name, parameter] of Object.entries(route.query ?? {})) parameters.push({ name, in: 'query', required: false, ...parameter });
  parameters.push({ $ref: '#/components/parameters/RequestId' });
  for (const [name, header] of Object.entries(route.headers ?? {})) parameters.push({ name, in: 'header', required: false, ...header });
  const responses: Json = {};
  for (const [status, reply] of Object.entries(route.replies)) {
    responses[status] = {
      description: reply.description,
      headers: { 'x-request-id': { $ref: '#/components/headers/RequestId' }, ...reply.headers },
      ...(reply.content && { content: mediaTypes(reply.content) }),
    };
  }
  for (const [status, types] of errorTypesByStatus([...route.errors, ...EVERY_ROUTE_ERRORS])) {
    // Two types on one status (429: rate_limited, quota_exceeded) share one answer that names both.
    responses[status] = types.length === 1 ? { $ref: `#/components/responses/${types[0]}` } : errorReply(types);
  }
  return {
    operationId: model ? `${route.operationId}.${model.alias}` : route.operationId,
    summary: model ? `${route.summary} (alias ${model.alias})` : route.summary,
    ...(route.access === 'admin' && { description: 'Admin clients only (`"admin": true` in CLIENTS): others get 401 or 403.' }),
    security: security(route, model),
    parameters,
    ...(route.body && { requestBody: { required: true, content: mediaTypes(route.body(input, config, model)) } }),
    responses,
  };
}

/** A client token (Bearer or Api-Key), or anonymous (the empty requirement) where public aliases allow it. */
function security(route: RouteSpec, model?: ModelConfig): Json[] {
  const token = [{ bearer: [] }, { apiKey: [] }];
  switch (route.access) {
    case 'open':
      return [];
    case 'admin':
      return token;
    case 'webhook':
      return [{ basetenSignature: [] }];
    case 'caller':
      return model && !model.public ? token : [...token, {}];
  }
}

function mediaTypes(content: Readonly<Record<string, JsonSchema>>): Json {
  return Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }]));
}

/** What any route may answer before its own checks: a query over the cap, a disallowed Origin, a bad config or a bug. */
const EVERY_ROUTE_ERRORS: readonly ErrorType[] = ['uri_too_long', 'forbidden', 'internal'];

const ERROR_WHEN: Record<ErrorType, string> = {
  invalid_request:
    "Malformed JSON, a bad field, input that breaks the alias's input_schema (the message names the path), or input the model refused (Baseten's 400 or 422, its message and detail carried, with x-should-retry: false)",
  unauthorized: 'Missing or bad token, or a private alias called without one',
  forbidden: 'Alias not granted to this client, origin not allowed, or an admin route',
  not_found: 'Unknown alias, route or request',
  method_not_allowed: 'Known path, other method',
  conflict:
    'A client name already taken or a static client changed through the API; or an Idempotency-Key already used with another body, or its first request still in flight (retry-after says when to try again)',
  payload_too_large: "Body over the alias's max_body_bytes, too many batch rows, or Baseten's 413",
  uri_too_long: `A query string longer than ${MAX_QUERY_CHARS} characters`,
  unsupported_media_type: 'Not application/json (or application/octet-stream or multipart/form-data where predict takes them)',
  rate_limited: "Over the rate limit, or Baseten's 429",
  quota_exceeded: 'The client used up its requests or tokens for the UTC day or month; retry-after says until the next period',
  internal: 'Bad gateway configuration (the message names the field), or a bug',
  upstream_error: 'Baseten answered 401, 403, 404 or 5xx (its status and message carried) or could not be reached',
  service_unavailable: 'A service the gateway needs is unavailable, or no target of an alias with fallbacks could serve (retry-after says when to try again)',
  upstream_timeout: 'Baseten did not answer in time',
};

function errorTypesByStatus(errors: readonly ErrorType[]): Map<number, ErrorType[]> {
  const byStatus = new Map<number, ErrorType[]>();
  for (const type of new Set([...errors, 'internal' as const])) byStatus.set(ERROR_STATUS[type], [...(byStatus.get(ERROR_STATUS[type]) ?? []), type]);
  return byStatus;
}

function errorReply(types: readonly ErrorType[]): Json {
  return {
    description: types.map((type) => `${type}: ${ERROR_WHEN[type]}`).join('; '),
    headers: {
      'x-request-id': { $ref: '#/components/headers/RequestId' },
      ...(types.some((type) => type === 'rate_limited' || type === 'quota_exceeded' || type === 'service_unavailable' || type === 'conflict') && {
        'retry-after': { description: 'Seconds to wait', schema: { type: 'integer' } },
      }),
      ...GATEWAY_TARGET_HEADER,
      ...BASETEN_REQUEST_ID_HEADER,
      'x-should-retry': {
        description: "`false` on a model's refusal of its input: sending it again cannot succeed (the OpenAI clients honour it)",
        schema: { const: 'false' },
      },
    },
    content: mediaTypes({ 'application/json': { $ref: '#/components/schemas/Error' } }),
  };
}

function components(api: Api): Json {
  const errorSchema = {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['type', 'message', 'request_id'],
        additionalProperties: false,
        properties: {
          type: { enum: Object.keys(ERROR_STATUS) },
          message: { type: 'string' },
          request_id: { type: 'string' },
          // A 503 after Baseten accepted an async submit says where the work went.
          async_request_id: { type: 'string' },
          model: { type: 'string' },
          status_url: { type: 'string' },
          owner_token: { type: 'string' },
          upstream_status: { type: 'integer', description: "Baseten's HTTP status, when the error is Baseten's answer" },
          upstream_code: {
            type: 'string',
            description: "Baseten's error_code (timeout, client_error, model_unavailable, model_not_ready, ...), when it sent one",
          },
        },
      },
    },
  };
  const responses = Object.fromEntries((Object.keys(ERROR_STATUS) as ErrorType[]).map((type) => [type, errorReply([type])]));
  return {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'A client token whose SHA-256 is listed in CLIENTS. Without one, only public aliases answer.' },
      apiKey: {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description: "The same client token as `Api-Key <token>`, Baseten's own scheme, so code written for Baseten only changes its key",
      },
      basetenSignature: {
        type: 'apiKey',
        in: 'header',
        name: 'X-BASETEN-SIGNATURE',
        description: '`v1=<hex HMAC-SHA256 of the raw body>` with the webhook secret; several comma-separated values during rotation',
      },
    },
    parameters: {
      RequestId: {
        name: 'x-request-id',
        in: 'header',
        required: false,
        description: 'Echoed and sent upstream when sane; otherwise a new one is made',
        schema: { type: 'string', pattern: SANE_REQUEST_ID.source },
      },
    },
    headers: {
      RequestId: { description: 'The request id, also sent upstream and logged', schema: { type: 'string' } },
    },
    schemas: { Error: errorSchema, ...api.schemas },
    responses,
  };
}
