/**
 * What a route is: the shape every entry of the route table (route-table.ts)
 * has, and the schema pieces the entries share. The router and the OpenAPI
 * document are both generated from these entries.
 */
import type { Access } from './access.ts';
import { DEPLOYMENT_ID_SEGMENT, ENVIRONMENT_SEGMENT } from './baseten-paths.ts';
import { ALIAS, type Config, type ModelConfig } from './config.ts';
import type { GatewayRequest } from './context.ts';
import type { ErrorType } from './errors.ts';

export type JsonSchema = Readonly<Record<string, unknown>> | boolean;

export type Method = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';

export type Handler = (request: GatewayRequest, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

export interface Reply {
  description: string;
  /** Media type → schema. */
  content?: Readonly<Record<string, JsonSchema>>;
  /** Response headers the route sets, by name. */
  headers?: Readonly<Record<string, { description: string; schema: JsonSchema }>>;
}

export interface RouteSpec {
  method: Method;
  /** OpenAPI path template; `{route}` at the end takes the rest of the path. */
  path: string;
  /**
   * More path templates served by this entry alike, by name: each is its own
   * OpenAPI operation, `<operationId>.<name>`, without per-alias copies.
   */
  alsoAt?: Readonly<Record<string, string>>;
  operationId: string;
  summary: string;
  access: Access;
  /** False for `caller` routes that are not counted in usage nor held to a quota (the caller's own figures, its model list). */
  metered?: false;
  /** Query parameters, by name. */
  query?: Readonly<Record<string, { description: string; schema: JsonSchema }>>;
  /** Request headers the route reads, by name (x-request-id is implied). */
  headers?: Readonly<Record<string, { description: string; schema: JsonSchema }>>;
  /** Request body by media type; JSON bodies that hold a model's input take that input's schema. */
  body?: (input: JsonSchema, config: Config, model?: ModelConfig) => Readonly<Record<string, JsonSchema>>;
  /** Aliases that get their own copy of this path, with their input schema in the body. */
  perAlias?: (model: ModelConfig) => boolean;
  /** Answers by status ("200", or a range such as "2XX" where Baseten's own status is relayed). */
  replies: Readonly<Record<string, Reply>>;
  /** The contract's errors this route answers, each documented with the error envelope; `internal` is implied. */
  errors: readonly ErrorType[];
  handler: Handler;
}

/** The table and the schemas its entries share by reference: all the OpenAPI document is built from, with the config. */
export interface Api {
  routes: readonly RouteSpec[];
  schemas: Readonly<Record<string, JsonSchema>>;
}

/** Any JSON value: the input of an alias without `input_schema`. */
export const ANY_INPUT: JsonSchema = {};

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: JsonSchema) => ({ 'application/json': schema });
/** An object whose fields are all listed: an answer that grows or renames a field no longer matches its schema. */
export const closed = (
  properties: Record<string, JsonSchema>,
  required: string[] = Object.keys(properties),
  extra: Record<string, unknown> = {},
): JsonSchema => ({ type: 'object', properties, required, additionalProperties: false, ...extra });

/** Path parameters, by name. */
export const PATH_PARAMETERS: Readonly<Record<string, { description: string; schema: JsonSchema }>> = {
  alias: { description: 'A model alias this caller may use (see GET /v1/models)', schema: { type: 'string', pattern: ALIAS.source } },
  request_id: { description: 'The request_id the async submit answered', schema: { type: 'string' } },
  name: { description: "A client's name", schema: { type: 'string', pattern: ALIAS.source } },
  route: { description: "The rest of the path, as listed in the alias's sync_routes; may hold several segments", schema: { type: 'string' } },
  environment: {
    description: 'Any well-formed environment name: the alias decides where the call goes',
    schema: { type: 'string', pattern: ENVIRONMENT_SEGMENT.source },
  },
  deployment_id: {
    description: 'Any well-formed deployment id: the alias decides where the call goes',
    schema: { type: 'string', pattern: DEPLOYMENT_ID_SEGMENT.source },
  },
};

/** What x-gateway-target may say. */
export const TARGET_LABEL_PATTERN = '^(primary|fallback-[1-9][0-9]*|none)$';

/** On every answer of an alias with fallbacks that reached (or skipped) its targets. */
export const GATEWAY_TARGET_HEADER = {
  'x-gateway-target': {
    description:
      "Aliases with `fallbacks` only: the target that answered, `primary` or `fallback-N` (1-based, in the order of the alias's `fallbacks`); `none` when every target's circuit breaker was open. See docs/failover.md for `fallbacks` and `breaker`",
    schema: { type: 'string', pattern: TARGET_LABEL_PATTERN },
  },
};

export const BASETEN_REQUEST_ID_HEADER = {
  'x-baseten-request-id': { description: "Baseten's X-BASETEN-REQUEST-ID for the call that answered: quote it to Baseten support", schema: { type: 'string' } },
};

/** Every path an entry answers on, by OpenAPI operationId. */
export function routePaths(route: RouteSpec): [operationId: string, path: string][] {
  return [
    [route.operationId, route.path],
    ...Object.entries(route.alsoAt ?? {}).map(([name, path]): [string, string] => [`${route.operationId}.${name}`, path]),
  ];
}
