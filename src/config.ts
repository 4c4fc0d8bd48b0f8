/**
 * Turns the Worker's vars and secrets into one frozen, typed Config, once per
 * isolate. Every var may arrive as a JSON value (wrangler.toml) or as a string
 * holding JSON (.dev.vars, `wrangler dev --var`). Error messages name the
 * field and how to fix it, and never contain a secret.
 */
import { rememberBasetenIds } from './baseten-ids.ts';
import { hexToBytes } from './hex.ts';
import { inputSchemaProblem } from './input-schema.ts';
import { rememberSecrets } from './redact.ts';

export type Deployment = { kind: 'environment'; name: string } | { kind: 'deployment'; id: string } | { kind: 'development' };

/** A model or chain deployment on Baseten's own hosts. */
export interface BasetenTarget {
  /** Baseten's subdomain prefix: a model or a chain. */
  kind: 'model' | 'chain';
  id: string;
  deployment: Deployment;
  /**
   * The environment's own host (`model-{id}-{env}`) with bare paths. Only with
   * an environment; absent on async records written before regional targets.
   */
  regional?: boolean;
}

/** Baseten's shared OpenAI-compatible Model APIs endpoint: only the OpenAI routes reach it, `model` set to the slug. */
export interface ModelApiTarget {
  kind: 'model_api';
  slug: string;
}

/** Where an alias's calls go. */
export type Target = BasetenTarget | ModelApiTarget;

export interface ModelConfig {
  alias: string;
  target: Target;
  public: boolean;
  openai?: { servedModelName: string };
  syncRoutes: readonly string[];
  inputSchema?: Readonly<Record<string, unknown>>;
  maxBodyBytes: number;
  timeoutMs: number;
  wake: boolean;
  async: boolean;
  /** Opens the target's WebSocket endpoint at GET /v1/models/{alias}/websocket. */
  websocket: boolean;
  /** Tried in order after the target, while no byte has reached the caller (docs/failover.md); empty for most aliases. */
  fallbacks: readonly Target[];
  /** The circuit breaker of each of this alias's targets; set exactly when there are fallbacks. */
  breaker?: BreakerOptions;
  /** The response cache, for aliases that opt in (docs/cache.md). */
  cache?: CacheOption;
}

export interface CacheOption {
  ttlSeconds: number;
  /** One entry for every caller; otherwise each client has its own. */
  shared: boolean;
  /** Streamed answers are stored too, once they ended cleanly. */
  streams: boolean;
}

export interface BreakerOptions {
  /** Fail-over-worthy failures within the window that open the breaker. */
  failures: number;
  windowMs: number;
  cooldownMs: number;
}

/**
 * How a caller is rate limited: by one of Cloudflare's rate limiting bindings
 * (counted per Cloudflare location), by the strict global counter (the
 * GLOBAL_RATE_LIMITER Durable Object), or not at all.
 */
export type RateLimitPolicy = { kind: 'binding'; binding: string } | { kind: 'global'; limit: number; periodSeconds: number } | { kind: 'none' };

/**
 * A client's allowance per UTC day and month, counted by its CLIENT_METER
 * object; `onMeterFailure` says whether a meter that cannot be reached lets
 * the client through (open) or refuses it (closed).
 */
export interface Quota {
  requestsPerDay?: number;
  tokensPerDay?: number;
  requestsPerMonth?: number;
  tokensPerMonth?: number;
  onMeterFailure: 'open' | 'closed';
}

export interface ClientConfig {
  name: string;
  /** SHA-256 of the client's token, as bytes: decoded once here, compared on every request. */
  tokenDigest: Uint8Array;
  /** Aliases this client may call; '*' means every alias. */
  models: ReadonlySet<string> | '*';
  admin: boolean;
  rateLimit: RateLimitPolicy;
  quota?: Quota;
}

export interface Settings {
  asyncTtlSeconds: number;
  asyncMaxBodyBytes: number;
  /** A request not final and not checked for this long is asked of Baseten by the cron. */
  asyncReconcileAfterSeconds: number;
  /** Baseten's status endpoint is asked about one request at most this often; polls in between are served from what the gateway knows. */
  asyncStatusMinIntervalMs: number;
  sseKeepAliveMs: number;
  batchConcurrency: number;
  batchMaxRows: number;
  /** A WebSocket with no message either way for this long is closed with 1001. */
  websocketIdleMs: number;
  /** Usage of clients without a quota is added up per isolate this long before one write to the meter; 0 writes each call at once. */
  usageFlushMs: number;
  /** The policy for callers without a token, counted per IP. */
  anonymousRateLimit: RateLimitPolicy;
}

export interface Config {
  apiKey: string;
  webhookSecrets: readonly string[];
  urlTemplate: string;
  /** Base URL of Baseten's Model APIs, without a trailing slash (e.g. https://inference.baseten.co/v1). */
  modelApiUrl: string;
  models: ReadonlyMap<string, ModelConfig>;
  clients: readonly ClientConfig[];
  allowedOrigins: ReadonlySet<string> | '*';
  publicBaseUrl?: string;
  settings: Settings;
  /** The largest body cap among OpenAI-compatible aliases (0 when there is none): an OpenAI body names its alias only inside. */
  openaiMaxBodyBytes: number;
}

/** The raw bindings the config is read from; the KV and rate-limit bindings are checked, not parsed. */
export interface ConfigSource {
  BASETEN_API_KEY?: unknown;
  BASETEN_WEBHOOK_SECRET?: unknown;
  BASETEN_URL_TEMPLATE?: unknown;
  BASETEN_MODEL_API_URL?: unknown;
  MODELS?: unknown;
  CLIENTS?: unknown;
  ALLOWED_ORIGINS?: unknown;
  PUBLIC_BASE_URL?: unknown;
  SETTINGS?: unknown;
  ASYNC_REQUESTS?: unknown;
  CLIENT_METER?: unknown;
}

export class ConfigError extends Error {}

const DEFAULT_URL_TEMPLATE = 'https://{subdomain}.api.baseten.co';
const DEFAULT_MODEL_API_URL = 'https://inference.baseten.co/v1';
/** Baseten's own edge cap is 100 MB per request body. */
const BASETEN_MAX_BODY_BYTES = 100 * 1024 * 1024;
const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Baseten's sync predict timeout is 1200 s; a gateway default well inside it. */
const DEFAULT_TIMEOUT_MS = 600_000;
/** Baseten's default async payload cap per organization is 256 KiB. */
const DEFAULT_ASYNC_MAX_BODY_BYTES = 256 * 1024;
const DEFAULT_ASYNC_TTL_SECONDS = 7 * 24 * 3600;
/** KV refuses expirationTtl below 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;

/** Baseten IDs are short alphanumerics; anything else could steer the signed request elsewhere. */
const BASETEN_ID = /^[a-z0-9]{1,64}$/i;
const ENVIRONMENT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;
/** A regional environment's name ends up in a host name: no underscore, one DNS label with its prefix. */
const REGIONAL_ENVIRONMENT_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;
const DNS_LABEL_MAX = 63;
/** Model API slugs such as "deepseek-ai/DeepSeek-V3.1": they only ever travel in a JSON body. */
const MODEL_API_SLUG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}(\/[A-Za-z0-9][A-Za-z0-9._:-]{0,127})?$/;
/** Settings that reach routes a Model API does not have. */
const NOT_FOR_MODEL_API = ['wake', 'async', 'websocket', 'sync_routes', 'input_schema'];
/** Also published as the OpenAPI alias pattern, so no regex flags. */
export const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Plain path segments (none starting with a dot), optionally ending in a '/*' wildcard. */
const SYNC_ROUTE = /^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+(\/\*)?$|^\/\*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The binding used when a caller's entry names no rate limit, if it is bound. */
const DEFAULT_RATE_LIMITER = 'RATE_LIMITER';
const GLOBAL_RATE_LIMITER = 'GLOBAL_RATE_LIMITER';
const QUOTA_KEYS = ['requests_per_day', 'tokens_per_day', 'requests_per_month', 'tokens_per_month'] as const;
const BINDING_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
/** The key only ever goes to Baseten's own hosts over https, or to this machine over http (tests, the local fake). */
const BASETEN_HOST = /(^|\.)baseten\.co$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const MODEL_KEYS = new Set([
  'model_id',
  'chain_id',
  'environment',
  'deployment_id',
  'development',
  'public',
  'openai',
  'sync_routes',
  'input_schema',
  'max_body_bytes',
  'timeout_ms',
  'wake',
  'async',
  'fallbacks',
  'breaker',
  'model_api',
  'regional',
  'websocket',
  'bei',
  'cache',
]);
const CACHE_KEYS = new Set(['ttl_seconds', 'shared', 'streams']);
/** A year: Cloudflare evicts long before, and an answer should not outlive its model by much more. */
const MAX_CACHE_TTL_SECONDS = 365 * 24 * 3600;
/** The keys that name a target, the only ones a fallback takes. */
const TARGET_KEYS = new Set(['model_id', 'chain_id', 'environment', 'deployment_id', 'development', 'model_api', 'regional']);
/** A fallback list longer than this would hold a caller through too many timeouts. */
const MAX_FALLBACKS = 4;

/** A BEI engine's routes (Baseten Embedding Inference), reachable through /sync on a `"bei": true` alias without listing them. */
const BEI_SYNC_ROUTES = ['/v1/embeddings', '/rerank', '/predict', '/classify'];

const cache = new WeakMap<object, Config | ConfigError>();

/** Parses once per env object (one per isolate) and remembers a failure too. */
export function loadConfig(env: ConfigSource): Config {
  let entry = cache.get(env);
  if (!entry) {
    try {
      entry = parseConfig(env);
      rememberSecrets([entry.apiKey, ...entry.webhookSecrets]);
      rememberBasetenIds(basetenIds(entry));
    } catch (err) {
      entry = err instanceof ConfigError ? err : new ConfigError(String(err));
    }
    cache.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}

/** Every model, chain and deployment ID the config names (fallbacks too), for scrubbing from Baseten's messages; a Model API's slug is public. */
function basetenIds(config: Config): string[] {
  return [...config.models.values()].flatMap((model) => [model.target, ...model.fallbacks]).flatMap(targetIds);
}

/** The Baseten IDs one target names: its model or chain, and a pinned deployment; a Model API's slug is public. */
export function targetIds(target: Target): string[] {
  if (target.kind === 'model_api') return [];
  return target.deployment.kind === 'deployment' ? [target.id, target.deployment.id] : [target.id];
}

export interface ParseOptions {
  /**
   * Refuse an async alias against Baseten without an https PUBLIC_BASE_URL
   * (default). Only the deploy preflight turns it off: it reports the same
   * problem itself, next to the other async problems, instead of stopping at it.
   */
  requirePublicBaseUrl?: boolean;
}

export function parseConfig(env: ConfigSource, options: ParseOptions = {}): Config {
  if (!env.ASYNC_REQUESTS) fail('ASYNC_REQUESTS: bind a KV namespace named ASYNC_REQUESTS');
  const apiKey = secret(env.BASETEN_API_KEY, 'BASETEN_API_KEY', true);
  const webhookSecret = secret(env.BASETEN_WEBHOOK_SECRET, 'BASETEN_WEBHOOK_SECRET', false);
  const urlTemplate = parseUrlTemplate(optional(env.BASETEN_URL_TEMPLATE, 'BASETEN_URL_TEMPLATE') ?? DEFAULT_URL_TEMPLATE);
  const modelApiUrl = parseModelApiUrl(optional(env.BASETEN_MODEL_API_URL, 'BASETEN_MODEL_API_URL') ?? DEFAULT_MODEL_API_URL);
  const models = parseModels(required(env.MODELS, 'MODELS'));
  const clients = parseClients(optional(env.CLIENTS, 'CLIENTS') ?? {}, models, env);
  const allowedOrigins = parseOrigins(optional(env.ALLOWED_ORIGINS, 'ALLOWED_ORIGINS') ?? []);
  const publicBaseUrl = optional(env.PUBLIC_BASE_URL, 'PUBLIC_BASE_URL');
  const config: Config = {
    apiKey,
    // Several comma-separated secrets let an operator rotate without a gap.
    webhookSecrets: webhookSecret
      ? webhookSecret
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
    urlTemplate,
    modelApiUrl,
    models,
    clients,
    allowedOrigins,
    publicBaseUrl:
      options.requirePublicBaseUrl === false
        ? publicBaseUrl === undefined
          ? undefined
          : parsePublicBaseUrl(publicBaseUrl)
        : checkedPublicBaseUrl(publicBaseUrl, urlTemplate, models),
    settings: parseSettings(optional(env.SETTINGS, 'SETTINGS') ?? {}, env),
    openaiMaxBodyBytes: Math.max(0, ...[...models.values()].filter((m) => m.openai).map((m) => m.maxBodyBytes)),
  };
  return deepFreeze(config);
}

function fail(message: string): never {
  throw new ConfigError(message);
}

/**
 * Vars may be JSON values or strings holding JSON; a plain string that is not JSON stays a string.
 * A string that opens like a JSON object, array or string but does not parse is a config error
 * saying where it broke and why, without quoting the text (it may be a secret's).
 */
function decode(value: unknown, field: string): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (/^[[{"]/.test(trimmed) || /^(true|false|null|-?\d)/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch (err) {
      if (/^[[{"]/.test(trimmed)) fail(`${field}: invalid JSON ${jsonProblem(value, value.indexOf(trimmed), err)}`);
      return value;
    }
  }
  return value;
}

function jsonProblem(text: string, start: number, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const reason = message
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/ (in|after) JSON at position.*$/s, (_, where: string) => (where === 'after' ? ' after the JSON value' : ''));
  const at = / at position (\d+)/.exec(message);
  if (!at) return `(${reason})`;
  const offset = start + Number(at[1]);
  const before = text.slice(0, offset).split('\n');
  return `at line ${before.length}, column ${before.at(-1)!.length + 1} (offset ${offset}): ${reason}`;
}

function required(value: unknown, field: string): unknown {
  const decoded = optional(value, field);
  if (decoded === undefined) fail(`${field}: required, see README "Configuration"`);
  return decoded;
}

function optional(value: unknown, field: string): unknown {
  if (value === undefined || value === null || value === '') return undefined;
  return decode(value, field);
}

function secret(value: unknown, field: string, mandatory: boolean): string {
  if (value === undefined || value === '') {
    if (mandatory) fail(`${field}: missing; set it with \`wrangler secret put ${field}\``);
    return '';
  }
  if (typeof value !== 'string' || value.trim() !== value || /\s/.test(value)) {
    fail(`${field}: must be a single string without whitespace`);
  }
  return value;
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${field}: must be a JSON object`);
  return value as Record<string, unknown>;
}

function bool(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') fail(`${field}: must be true or false`);
  return value;
}

function int(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${field}: must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function str(value: unknown, field: string, pattern: RegExp, hint: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) fail(`${field}: ${hint}`);
  return value;
}

function parseUrlTemplate(value: unknown): string {
  const field = 'BASETEN_URL_TEMPLATE';
  if (typeof value !== 'string' || value.split('{subdomain}').length !== 2) fail(`${field}: must be a URL containing {subdomain} once`);
  // Two different subdomains must land in the host or the path and change nothing else,
  // so no model ID can move the request to another origin, user or query.
  const model = parseUrl(value.replace('{subdomain}', 'model-x'), field);
  const chain = parseUrl(value.replace('{subdomain}', 'chain-y'), field);
  const sameScheme = model.protocol === chain.protocol && model.port === chain.port;
  const inHost = model.hostname.startsWith('model-x.') && chain.hostname === `chain-y.${model.hostname.slice(8)}` && model.pathname === chain.pathname;
  const inPath = model.hostname === chain.hostname && model.pathname !== chain.pathname;
  if (!sameScheme || !(inHost || inPath)) fail(`${field}: {subdomain} must start the host name or sit in the path`);
  if (model.search || model.hash || model.username || model.password || value.includes('@')) fail(`${field}: must not carry a query, fragment or credentials`);
  const host = model.hostname;
  if (model.protocol === 'https:' ? !BASETEN_HOST.test(host) : !(model.protocol === 'http:' && LOOPBACK_HOSTS.has(host))) {
    fail(`${field}: must be https on a baseten.co host (http is allowed for 127.0.0.1/localhost only)`);
  }
  return value.replace(/\/+$/, '');
}

function parseModelApiUrl(value: unknown): string {
  const field = 'BASETEN_MODEL_API_URL';
  if (typeof value !== 'string') fail(`${field}: must be a URL such as ${DEFAULT_MODEL_API_URL}`);
  const url = parseUrl(value, field);
  if (url.search || url.hash || url.username || url.password || value.includes('@')) fail(`${field}: must not carry a query, fragment or credentials`);
  if (url.protocol === 'https:' ? !BASETEN_HOST.test(url.hostname) : !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    fail(`${field}: must be https on a baseten.co host (http is allowed for 127.0.0.1/localhost only)`);
  }
  return value.replace(/\/+$/, '');
}

function parseUrl(value: string, field: string): URL {
  try {
    return new URL(value);
  } catch {
    fail(`${field}: not a valid URL`);
  }
}

function parseModels(value: unknown): Map<string, ModelConfig> {
  const raw = object(value, 'MODELS');
  const models = new Map<string, ModelConfig>();
  for (const [alias, entry] of Object.entries(raw)) {
    const field = `MODELS.${alias}`;
    if (!ALIAS.test(alias)) fail(`${field}: an alias is letters, digits, '.', '_' or '-' (at most 64)`);
    models.set(alias, parseModel(alias, object(entry, field), field));
  }
  if (models.size === 0) fail('MODELS: define at least one alias');
  return models;
}

function parseModel(alias: string, raw: Record<string, unknown>, field: string): ModelConfig {
  for (const key of Object.keys(raw)) {
    if (!MODEL_KEYS.has(key)) fail(`${field}.${key}: unknown setting`);
  }
  const maxBodyBytes = int(raw.max_body_bytes, `${field}.max_body_bytes`, DEFAULT_MAX_BODY_BYTES, 1, BASETEN_MAX_BODY_BYTES);
  const target = parseTarget(raw, field);
  if (target.kind === 'model_api') {
    const misplaced = NOT_FOR_MODEL_API.find((key) => raw[key] !== undefined && raw[key] !== false);
    if (misplaced) fail(`${field}.${misplaced}: a Model API takes only the OpenAI routes (/v1/chat/completions, /v1/completions, /v1/embeddings)`);
  }
  const openai = raw.openai === undefined ? undefined : parseOpenAI(raw.openai, `${field}.openai`);
  return {
    alias,
    target,
    public: bool(raw.public, `${field}.public`),
    // A Model API speaks OpenAI's protocol by definition; its `model` is the slug.
    openai: openai ?? (target.kind === 'model_api' ? { servedModelName: target.slug } : undefined),
    syncRoutes: [...parseSyncRoutes(raw.sync_routes, `${field}.sync_routes`), ...(bool(raw.bei, `${field}.bei`) ? BEI_SYNC_ROUTES : [])],
    inputSchema: raw.input_schema === undefined ? undefined : parseInputSchema(raw.input_schema, `${field}.input_schema`),
    maxBodyBytes,
    timeoutMs: int(raw.timeout_ms, `${field}.timeout_ms`, DEFAULT_TIMEOUT_MS, 1, 3_600_000),
    wake: bool(raw.wake, `${field}.wake`),
    async: bool(raw.async, `${field}.async`),
    websocket: bool(raw.websocket, `${field}.websocket`),
    ...parseFailover(raw, field),
    cache: raw.cache === undefined ? undefined : parseCache(raw.cache, `${field}.cache`),
  };
}

function parseCache(value: unknown, field: string): CacheOption {
  const raw = object(value, field);
  for (const key of Object.keys(raw)) {
    if (!CACHE_KEYS.has(key)) fail(`${field}.${key}: unknown setting (ttl_seconds, shared, streams)`);
  }
  return {
    // `?? null`: required, and null fails the whole-number check with the usual message.
    ttlSeconds: int(raw.ttl_seconds ?? null, `${field}.ttl_seconds`, 0, 1, MAX_CACHE_TTL_SECONDS),
    shared: bool(raw.shared, `${field}.shared`),
    streams: bool(raw.streams, `${field}.streams`),
  };
}

function parseFailover(raw: Record<string, unknown>, field: string): Pick<ModelConfig, 'fallbacks' | 'breaker'> {
  if (raw.fallbacks === undefined) {
    if (raw.breaker !== undefined) fail(`${field}.breaker: only applies to an alias with fallbacks`);
    return { fallbacks: [] };
  }
  if (!Array.isArray(raw.fallbacks) || raw.fallbacks.length === 0 || raw.fallbacks.length > MAX_FALLBACKS) {
    fail(`${field}.fallbacks: must be an array of 1 to ${MAX_FALLBACKS} targets such as {"model_id": "abc123", "environment": "staging"}`);
  }
  const fallbacks = raw.fallbacks.map((entry, i) => {
    const at = `${field}.fallbacks[${i}]`;
    const target = object(entry, at);
    for (const key of Object.keys(target)) {
      if (!TARGET_KEYS.has(key)) fail(`${at}.${key}: a fallback names a target only`);
    }
    return parseTarget(target, at);
  });
  return { fallbacks, breaker: parseBreaker(raw.breaker ?? {}, `${field}.breaker`) };
}

/** The contract's defaults: 5 failures within 30 s open the breaker for 30 s. */
function parseBreaker(value: unknown, field: string): BreakerOptions {
  const raw = object(value, field);
  for (const key of Object.keys(raw)) {
    if (!['failures', 'window_seconds', 'cooldown_seconds'].includes(key)) fail(`${field}.${key}: unknown setting`);
  }
  return {
    failures: int(raw.failures, `${field}.failures`, 5, 1, 1000),
    windowMs: int(raw.window_seconds, `${field}.window_seconds`, 30, 1, 3600) * 1000,
    cooldownMs: int(raw.cooldown_seconds, `${field}.cooldown_seconds`, 30, 1, 3600) * 1000,
  };
}

/**
 * One target: `model_id` or `chain_id` with one of environment, deployment_id,
 * development (and `regional` with an environment), or `model_api`. Takes any
 * object holding those keys, an alias's entry or one of its own targets.
 */
export function parseTarget(raw: Record<string, unknown>, field: string): Target {
  const given = ['model_id', 'chain_id', 'model_api'].filter((k) => raw[k] !== undefined);
  if (given.length !== 1) fail(`${field}: give exactly one of model_id, chain_id, model_api`);
  if (raw.model_api !== undefined) return parseModelApiTarget(raw, field);
  const kind = given[0] === 'model_id' ? 'model' : 'chain';
  const idField = given[0]!;
  const id = str(raw[idField], `${field}.${idField}`, BASETEN_ID, 'must be a Baseten ID (letters and digits)');
  const deployment = parseDeployment(raw, field);
  if (!bool(raw.regional, `${field}.regional`)) return { kind, id, deployment };
  if (deployment.kind !== 'environment') fail(`${field}.regional: a regional host serves one environment; give environment, not deployment_id or development`);
  str(
    deployment.name,
    `${field}.environment`,
    REGIONAL_ENVIRONMENT_NAME,
    "a regional environment's name is letters, digits and inner hyphens (it becomes part of a host name)",
  );
  if (`${kind}-${id}-${deployment.name}`.length > DNS_LABEL_MAX)
    fail(`${field}: ${kind}-<id>-<environment> must fit in one ${DNS_LABEL_MAX}-character host label`);
  return { kind, id, deployment, regional: true };
}

function parseDeployment(raw: Record<string, unknown>, field: string): Deployment {
  const given = ['environment', 'deployment_id', 'development'].filter((k) => raw[k] !== undefined && raw[k] !== false);
  if (given.length !== 1) fail(`${field}: give exactly one of environment, deployment_id, development`);
  if (raw.environment !== undefined) {
    return { kind: 'environment', name: str(raw.environment, `${field}.environment`, ENVIRONMENT_NAME, 'must be an environment name such as "production"') };
  }
  if (raw.deployment_id !== undefined) {
    return { kind: 'deployment', id: str(raw.deployment_id, `${field}.deployment_id`, BASETEN_ID, 'must be a Baseten deployment ID') };
  }
  if (raw.development !== true) fail(`${field}.development: must be true`);
  return { kind: 'development' };
}

function parseModelApiTarget(raw: Record<string, unknown>, field: string): ModelApiTarget {
  const placed = ['environment', 'deployment_id', 'development', 'regional'].find((k) => raw[k] !== undefined && raw[k] !== false);
  if (placed) fail(`${field}.${placed}: a Model API has no deployments; give model_api alone`);
  return { kind: 'model_api', slug: str(raw.model_api, `${field}.model_api`, MODEL_API_SLUG, 'must be a Model API slug such as "deepseek-ai/DeepSeek-V3.1"') };
}

function parseOpenAI(value: unknown, field: string): { servedModelName: string } {
  const raw = object(value, field);
  const name = raw.served_model_name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) fail(`${field}.served_model_name: must be a non-empty string`);
  return { servedModelName: name };
}

function parseInputSchema(value: unknown, field: string): Record<string, unknown> {
  const schema = object(value, field);
  const problem = inputSchemaProblem(schema);
  if (problem !== undefined) fail(`${field}${problem.startsWith('/:') ? problem.slice(1) : problem} (supported: see README "Input schemas")`);
  return schema;
}

function parseSyncRoutes(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`${field}: must be an array of paths such as "/health" or "/items/*"`);
  return value.map((route, i) => str(route, `${field}[${i}]`, SYNC_ROUTE, 'must be a path of plain segments, optionally ending in "/*"'));
}

function parseClients(value: unknown, models: Map<string, ModelConfig>, env: ConfigSource): ClientConfig[] {
  const raw = object(value, 'CLIENTS');
  return Object.entries(raw).map(([name, entry]) => {
    const field = `CLIENTS.${name}`;
    if (!ALIAS.test(name)) fail(`${field}: a client name is letters, digits, '.', '_' or '-'`);
    // Logs and the caller's view name anonymous callers so: a client of that name would be mistaken for them.
    if (name.toLowerCase() === 'anonymous') fail(`${field}: the name "anonymous" is reserved for callers without a token; choose another`);
    const client = object(entry, field);
    const hash = str(client.token_sha256, `${field}.token_sha256`, SHA256_HEX, 'must be 64 lowercase hex characters (run `npm run token -- <name>`)');
    if (!Array.isArray(client.models)) fail(`${field}.models: must be an array of aliases or ["*"]`);
    const list = client.models.map((alias, i) => {
      if (alias !== '*' && (typeof alias !== 'string' || !models.has(alias))) fail(`${field}.models[${i}]: unknown alias ${JSON.stringify(alias)}`);
      return alias as string;
    });
    return {
      name,
      tokenDigest: hexToBytes(hash),
      models: list.includes('*') ? '*' : new Set(list),
      admin: bool(client.admin, `${field}.admin`),
      rateLimit: parseRateLimit(client.rate_limit, `${field}.rate_limit`, env),
      quota: client.quota === undefined ? undefined : parseQuota(client.quota, `${field}.quota`, env),
    };
  });
}

/** `{ "requests_per_day"?, "tokens_per_day"?, "requests_per_month"?, "tokens_per_month"?, "on_meter_failure"? }`; counting needs CLIENT_METER. */
export function parseQuota(value: unknown, field: string, env: ConfigSource): Quota {
  const raw = object(value, field);
  for (const key of Object.keys(raw)) {
    if (key !== 'on_meter_failure' && !(QUOTA_KEYS as readonly string[]).includes(key)) fail(`${field}.${key}: unknown setting`);
  }
  if (!env.CLIENT_METER) fail(`${field}: quotas need the CLIENT_METER Durable Object binding`);
  const limit = (key: (typeof QUOTA_KEYS)[number]) => (raw[key] === undefined ? undefined : int(raw[key], `${field}.${key}`, 0, 0, 1e12));
  const failure = raw.on_meter_failure ?? 'closed';
  if (failure !== 'open' && failure !== 'closed') fail(`${field}.on_meter_failure: must be "open" or "closed"`);
  return {
    requestsPerDay: limit('requests_per_day'),
    tokensPerDay: limit('tokens_per_day'),
    requestsPerMonth: limit('requests_per_month'),
    tokensPerMonth: limit('tokens_per_month'),
    onMeterFailure: failure,
  };
}

function parseOrigins(value: unknown): Set<string> | '*' {
  if (value === '*') return '*';
  if (!Array.isArray(value)) fail('ALLOWED_ORIGINS: must be an array of origins such as ["https://app.example.com"], or "*"');
  return new Set(
    value.map((origin, i) => {
      const field = `ALLOWED_ORIGINS[${i}]`;
      if (typeof origin !== 'string') fail(`${field}: must be a string`);
      let parsed: URL;
      try {
        parsed = new URL(origin);
      } catch {
        fail(`${field}: not a valid origin`);
      }
      if (parsed.origin !== origin) fail(`${field}: write the bare origin, e.g. ${parsed.origin}`);
      return origin;
    }),
  );
}

/**
 * Against Baseten itself (an https upstream), async aliases need an https
 * PUBLIC_BASE_URL: without one, the webhook address would come from the
 * caller's Host header, which a proxy in front, or a dev setup, may let a
 * caller choose. A local upstream (the fake, on loopback) may do without.
 */
function checkedPublicBaseUrl(value: unknown, urlTemplate: string, models: ReadonlyMap<string, ModelConfig>): string | undefined {
  const againstBaseten = urlTemplate.startsWith('https:');
  const url = value === undefined ? undefined : parsePublicBaseUrl(value);
  if (!againstBaseten) return url;
  if (url === undefined) {
    const asyncAlias = [...models.values()].find((model) => model.async);
    if (asyncAlias)
      fail(
        `PUBLIC_BASE_URL: required when an alias is async (MODELS.${asyncAlias.alias}): the https origin Baseten delivers webhooks to, e.g. https://gateway.example.com`,
      );
    return undefined;
  }
  if (!url.startsWith('https:')) fail('PUBLIC_BASE_URL: must be https when the upstream is Baseten, e.g. https://gateway.example.com');
  return url;
}

function parsePublicBaseUrl(value: unknown): string {
  if (typeof value !== 'string') fail('PUBLIC_BASE_URL: must be a URL string');
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error();
  } catch {
    fail('PUBLIC_BASE_URL: must be an http(s) URL such as https://gateway.example.com');
  }
  return value.replace(/\/+$/, '');
}

/** Baseten delivers webhooks over https only, except to loopback hosts during development. */
export function isWebhookOrigin(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
}

/**
 * `"none"`, the name of a rate limiting binding (a tier), or `{ "limit", "period_seconds" }`
 * for the strict global counter. Omitted: RATE_LIMITER when it is bound, else none.
 */
export function parseRateLimit(value: unknown, field: string, env: ConfigSource): RateLimitPolicy {
  if (value === undefined) {
    return isRateLimiter(bindingNamed(env, DEFAULT_RATE_LIMITER)) ? { kind: 'binding', binding: DEFAULT_RATE_LIMITER } : { kind: 'none' };
  }
  if (value === 'none') return { kind: 'none' };
  if (typeof value === 'string') {
    if (!BINDING_NAME.test(value) || !isRateLimiter(bindingNamed(env, value)))
      fail(`${field}: "${value.slice(0, 64)}" is not a rate limiting binding of this Worker (add it under [[ratelimits]])`);
    return { kind: 'binding', binding: value };
  }
  const raw = object(value, field);
  if (!bindingNamed(env, GLOBAL_RATE_LIMITER)) fail(`${field}: a global limit needs the ${GLOBAL_RATE_LIMITER} Durable Object binding`);
  return {
    kind: 'global',
    // `?? null`: both are required, and null fails the whole-number check with the usual message.
    limit: int(raw.limit ?? null, `${field}.limit`, 0, 1, 1_000_000),
    periodSeconds: int(raw.period_seconds ?? null, `${field}.period_seconds`, 0, 1, 86_400),
  };
}

/** A binding by the name CLIENTS or SETTINGS gives, e.g. a rate limiting tier. */
export function bindingNamed(env: object, name: string): unknown {
  return Reflect.get(env, name);
}

function isRateLimiter(binding: unknown): boolean {
  return typeof binding === 'object' && binding !== null && typeof Reflect.get(binding, 'limit') === 'function';
}

function parseSettings(value: unknown, env: ConfigSource): Settings {
  const raw = object(value, 'SETTINGS');
  return {
    asyncTtlSeconds: int(raw.async_ttl_seconds, 'SETTINGS.async_ttl_seconds', DEFAULT_ASYNC_TTL_SECONDS, KV_MIN_TTL_SECONDS, 365 * 24 * 3600),
    asyncMaxBodyBytes: int(raw.async_max_body_bytes, 'SETTINGS.async_max_body_bytes', DEFAULT_ASYNC_MAX_BODY_BYTES, 1, BASETEN_MAX_BODY_BYTES),
    asyncReconcileAfterSeconds: int(raw.async_reconcile_after_seconds, 'SETTINGS.async_reconcile_after_seconds', 300, 1, 86_400),
    asyncStatusMinIntervalMs: int(raw.async_status_min_interval_ms, 'SETTINGS.async_status_min_interval_ms', 1000, 0, 3_600_000),
    sseKeepAliveMs: int(raw.sse_keepalive_ms, 'SETTINGS.sse_keepalive_ms', 15_000, 100, 600_000),
    batchConcurrency: int(raw.batch_concurrency, 'SETTINGS.batch_concurrency', 8, 1, 64),
    batchMaxRows: int(raw.batch_max_rows, 'SETTINGS.batch_max_rows', 256, 1, 10_000),
    websocketIdleMs: int(raw.websocket_idle_ms, 'SETTINGS.websocket_idle_ms', 300_000, 100, 86_400_000),
    usageFlushMs: int(raw.usage_flush_ms, 'SETTINGS.usage_flush_ms', 1000, 0, 10_000),
    anonymousRateLimit: parseRateLimit(raw.anonymous_rate_limit, 'SETTINGS.anonymous_rate_limit', env),
  };
}

function deepFreeze<T>(value: T): T {
  // Typed arrays cannot be frozen; the digests in them are never handed out to change.
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    const children = value instanceof Map || value instanceof Set ? [...value.values()] : Object.values(value);
    for (const child of children) deepFreeze(child);
  }
  return value;
}
