/**
 * Turns the Worker's vars and secrets into one frozen, typed Config, once per
 * isolate. Every var may arrive as a JSON value (wrangler.toml) or as a string
 * holding JSON (.dev.vars, `wrangler dev --var`). Error messages name the
 * field and how to fix it, and never contain a secret.
 */

export type Deployment =
  | { kind: 'environment'; name: string }
  | { kind: 'deployment'; id: string }
  | { kind: 'development' };

export interface Target {
  /** Baseten's subdomain prefix: a model or a chain. */
  kind: 'model' | 'chain';
  id: string;
  deployment: Deployment;
}

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
}

export interface ClientConfig {
  name: string;
  tokenSha256: string;
  /** Aliases this client may call; '*' means every alias. */
  models: ReadonlySet<string> | '*';
  admin: boolean;
  /** The key this client is counted under by the rate limiter. */
  rateLimitKey: string;
}

export interface Settings {
  asyncTtlSeconds: number;
  asyncMaxBodyBytes: number;
  sseKeepAliveMs: number;
  batchConcurrency: number;
  batchMaxRows: number;
}

export interface Config {
  apiKey: string;
  webhookSecrets: readonly string[];
  urlTemplate: string;
  models: ReadonlyMap<string, ModelConfig>;
  clients: readonly ClientConfig[];
  allowedOrigins: ReadonlySet<string> | '*';
  publicBaseUrl?: string;
  settings: Settings;
}

/** The raw bindings the config is read from; the KV and rate-limit bindings are checked, not parsed. */
export interface ConfigSource {
  BASETEN_API_KEY?: unknown;
  BASETEN_WEBHOOK_SECRET?: unknown;
  BASETEN_URL_TEMPLATE?: unknown;
  MODELS?: unknown;
  CLIENTS?: unknown;
  ALLOWED_ORIGINS?: unknown;
  PUBLIC_BASE_URL?: unknown;
  SETTINGS?: unknown;
  ASYNC_REQUESTS?: unknown;
}

export class ConfigError extends Error {}

const DEFAULT_URL_TEMPLATE = 'https://{subdomain}.api.baseten.co';
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
const ALIAS = /^[a-z0-9][a-z0-9._-]{0,63}$/i;
/** Plain path segments (none starting with a dot), optionally ending in a '/*' wildcard. */
const SYNC_ROUTE = /^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+(\/\*)?$|^\/\*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const MODEL_KEYS = new Set([
  'model_id', 'chain_id', 'environment', 'deployment_id', 'development', 'public', 'openai',
  'sync_routes', 'input_schema', 'max_body_bytes', 'timeout_ms', 'wake', 'async',
]);

const cache = new WeakMap<object, Config | ConfigError>();

/** Parses once per env object (one per isolate) and remembers a failure too. */
export function loadConfig(env: ConfigSource): Config {
  let entry = cache.get(env);
  if (!entry) {
    try {
      entry = parseConfig(env);
    } catch (err) {
      entry = err instanceof ConfigError ? err : new ConfigError(String(err));
    }
    cache.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}

export function parseConfig(env: ConfigSource): Config {
  if (!env.ASYNC_REQUESTS) fail('ASYNC_REQUESTS: bind a KV namespace named ASYNC_REQUESTS');
  const apiKey = secret(env.BASETEN_API_KEY, 'BASETEN_API_KEY', true);
  const webhookSecret = secret(env.BASETEN_WEBHOOK_SECRET, 'BASETEN_WEBHOOK_SECRET', false);
  const urlTemplate = parseUrlTemplate(optional(env.BASETEN_URL_TEMPLATE) ?? DEFAULT_URL_TEMPLATE);
  const models = parseModels(required(env.MODELS, 'MODELS'));
  const clients = parseClients(optional(env.CLIENTS) ?? {}, models);
  const allowedOrigins = parseOrigins(optional(env.ALLOWED_ORIGINS) ?? []);
  const publicBaseUrl = optional(env.PUBLIC_BASE_URL);
  const config: Config = {
    apiKey,
    // Several comma-separated secrets let an operator rotate without a gap.
    webhookSecrets: webhookSecret ? webhookSecret.split(',').map((s) => s.trim()).filter(Boolean) : [],
    urlTemplate,
    models,
    clients,
    allowedOrigins,
    publicBaseUrl: publicBaseUrl === undefined ? undefined : parsePublicBaseUrl(publicBaseUrl),
    settings: parseSettings(optional(env.SETTINGS) ?? {}),
  };
  return deepFreeze(config);
}

function fail(message: string): never {
  throw new ConfigError(message);
}

/** Vars may be JSON values or strings holding JSON; a plain string that is not JSON stays a string. */
function decode(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (/^[[{"]/.test(trimmed) || /^(true|false|null|-?\d)/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value;
    }
  }
  return value;
}

function required(value: unknown, field: string): unknown {
  const decoded = optional(value);
  if (decoded === undefined) fail(`${field}: required, see README "Configuration"`);
  return decoded;
}

function optional(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return undefined;
  return decode(value);
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
  if (typeof value !== 'string' || !value.includes('{subdomain}')) fail(`${field}: must be a URL containing {subdomain}`);
  let url: URL;
  try {
    url = new URL(value.replace('{subdomain}', 'model-x'));
  } catch {
    fail(`${field}: not a valid URL`);
  }
  // The key travels with every upstream request: plain http only to this machine.
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    fail(`${field}: must be https (http is allowed for 127.0.0.1/localhost only)`);
  }
  if (url.search || url.hash || url.username || url.password) fail(`${field}: must not carry a query, fragment or credentials`);
  return value.replace(/\/+$/, '');
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
  return {
    alias,
    target: parseTarget(raw, field),
    public: bool(raw.public, `${field}.public`),
    openai: raw.openai === undefined ? undefined : parseOpenAI(raw.openai, `${field}.openai`),
    syncRoutes: parseSyncRoutes(raw.sync_routes, `${field}.sync_routes`),
    inputSchema: raw.input_schema === undefined ? undefined : object(raw.input_schema, `${field}.input_schema`),
    maxBodyBytes,
    timeoutMs: int(raw.timeout_ms, `${field}.timeout_ms`, DEFAULT_TIMEOUT_MS, 1, 3_600_000),
    wake: bool(raw.wake, `${field}.wake`),
    async: bool(raw.async, `${field}.async`),
  };
}

function parseTarget(raw: Record<string, unknown>, field: string): Target {
  const hasModel = raw.model_id !== undefined;
  if (hasModel === (raw.chain_id !== undefined)) fail(`${field}: give exactly one of model_id, chain_id`);
  const kind = hasModel ? 'model' : 'chain';
  const idField = hasModel ? 'model_id' : 'chain_id';
  const id = str(raw[idField], `${field}.${idField}`, BASETEN_ID, 'must be a Baseten ID (letters and digits)');
  const given = ['environment', 'deployment_id', 'development'].filter((k) => raw[k] !== undefined && raw[k] !== false);
  if (given.length !== 1) fail(`${field}: give exactly one of environment, deployment_id, development`);
  let deployment: Deployment;
  if (raw.environment !== undefined) {
    deployment = { kind: 'environment', name: str(raw.environment, `${field}.environment`, ENVIRONMENT_NAME, 'must be an environment name such as "production"') };
  } else if (raw.deployment_id !== undefined) {
    deployment = { kind: 'deployment', id: str(raw.deployment_id, `${field}.deployment_id`, BASETEN_ID, 'must be a Baseten deployment ID') };
  } else {
    if (raw.development !== true) fail(`${field}.development: must be true`);
    deployment = { kind: 'development' };
  }
  return { kind, id, deployment };
}

function parseOpenAI(value: unknown, field: string): { servedModelName: string } {
  const raw = object(value, field);
  const name = raw.served_model_name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) fail(`${field}.served_model_name: must be a non-empty string`);
  return { servedModelName: name };
}

function parseSyncRoutes(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`${field}: must be an array of paths such as "/health" or "/items/*"`);
  return value.map((route, i) => str(route, `${field}[${i}]`, SYNC_ROUTE, 'must be a path of plain segments, optionally ending in "/*"'));
}

function parseClients(value: unknown, models: Map<string, ModelConfig>): ClientConfig[] {
  const raw = object(value, 'CLIENTS');
  return Object.entries(raw).map(([name, entry]) => {
    const field = `CLIENTS.${name}`;
    if (!ALIAS.test(name)) fail(`${field}: a client name is letters, digits, '.', '_' or '-'`);
    const client = object(entry, field);
    const hash = str(client.token_sha256, `${field}.token_sha256`, SHA256_HEX, 'must be 64 lowercase hex characters (run `npm run token -- <name>`)');
    if (!Array.isArray(client.models)) fail(`${field}.models: must be an array of aliases or ["*"]`);
    const list = client.models.map((alias, i) => {
      if (alias !== '*' && (typeof alias !== 'string' || !models.has(alias))) fail(`${field}.models[${i}]: unknown alias ${JSON.stringify(alias)}`);
      return alias as string;
    });
    return {
      name,
      tokenSha256: hash,
      models: list.includes('*') ? '*' : new Set(list),
      admin: bool(client.admin, `${field}.admin`),
      rateLimitKey: `client:${name}`,
    };
  });
}

function parseOrigins(value: unknown): Set<string> | '*' {
  if (value === '*') return '*';
  if (!Array.isArray(value)) fail('ALLOWED_ORIGINS: must be an array of origins such as ["https://app.example.com"], or "*"');
  return new Set(value.map((origin, i) => {
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
  }));
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

function parseSettings(value: unknown): Settings {
  const raw = object(value, 'SETTINGS');
  return {
    asyncTtlSeconds: int(raw.async_ttl_seconds, 'SETTINGS.async_ttl_seconds', DEFAULT_ASYNC_TTL_SECONDS, KV_MIN_TTL_SECONDS, 365 * 24 * 3600),
    asyncMaxBodyBytes: int(raw.async_max_body_bytes, 'SETTINGS.async_max_body_bytes', DEFAULT_ASYNC_MAX_BODY_BYTES, 1, BASETEN_MAX_BODY_BYTES),
    sseKeepAliveMs: int(raw.sse_keepalive_ms, 'SETTINGS.sse_keepalive_ms', 15_000, 100, 600_000),
    batchConcurrency: int(raw.batch_concurrency, 'SETTINGS.batch_concurrency', 8, 1, 64),
    batchMaxRows: int(raw.batch_max_rows, 'SETTINGS.batch_max_rows', 256, 1, 10_000),
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    const children = value instanceof Map || value instanceof Set ? [...value.values()] : Object.values(value);
    for (const child of children) deepFreeze(child);
  }
  return value;
}
