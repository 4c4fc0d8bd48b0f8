/**
 * /v1/admin/clients and /v1/admin/usage: clients made, changed, rotated and
 * revoked at run time (stored in CLIENT_KEYS by client-store.ts), next to
 * the static ones of CLIENTS, which are listed but never changed here (409).
 * A token is in the answer that made it, and nowhere else, ever.
 */
import { ANONYMOUS_METER_KEY, meterKeyOf, printable } from '../auth.ts';
import { isObject, readJson } from '../body.ts';
import {
  allClients,
  type ClientFields,
  clientNamed,
  deleteClient,
  dropTokens,
  newToken,
  type StoredClient,
  saveClient,
  type TokenRef,
} from '../client-store.ts';
import {
  ALIAS,
  type ClientConfig,
  type Config,
  ConfigError,
  type ConfigSource,
  parseQuota,
  parseRateLimit,
  type Quota,
  type RateLimitPolicy,
} from '../config.ts';
import { config, type GatewayRequest } from '../context.ts';
import { sha256 } from '../crypto.ts';
import { HttpError } from '../errors.ts';
import { bytesToHex } from '../hex.ts';
import { mapBounded } from '../pool.ts';
import { json } from '../responses.ts';
import { daysAsked, usageOf } from '../usage-report.ts';

const MAX_BODY_BYTES = 64 * 1024;
/** A rotated-out token works for at most this long. */
export const MAX_GRACE_SECONDS = 30 * 86_400;
const CREATE_KEYS = new Set(['name', 'models', 'admin', 'rate_limit', 'quota', 'expires_at']);
const PATCH_KEYS = new Set(['models', 'rate_limit', 'quota', 'expires_at', 'disabled']);

/** A client as the admin API shows it: never a token, never a hash. */
export interface ClientView extends ClientFields {
  name: string;
  static: boolean;
  created_at?: string;
  updated_at?: string;
}

export async function createClient(request: GatewayRequest, env: Env): Promise<Response> {
  const kv = clientKeys(env);
  const cfg = config(request);
  const body = await objectBody(request, CREATE_KEYS);
  const name = body.name;
  if (typeof name !== 'string' || !ALIAS.test(name)) throw new HttpError('invalid_request', '`name`: letters, digits, ".", "_" or "-", at most 64');
  // "anonymous" in any case is reserved, as in CLIENTS: logs and meters name callers without a token so.
  if (staticClient(cfg, name) || name.toLowerCase() === ANONYMOUS_METER_KEY || (await clientNamed(kv, name))) {
    throw new HttpError('conflict', `a client named "${name}" already exists`);
  }
  const fields = checkedFields({ admin: false, disabled: false, ...body }, cfg, env);
  const token = newToken();
  const now = new Date().toISOString();
  const record: StoredClient = { v: 1, name, ...fields, created_at: now, updated_at: now, tokens: [{ sha256: await digestHex(token) }] };
  await saveClient(kv, record);
  return json({ ...storedView(record), token }, 201);
}

export async function listClients(request: GatewayRequest, env: Env): Promise<Response> {
  const stored = env.CLIENT_KEYS ? await allClients(env.CLIENT_KEYS) : [];
  const clients = [...config(request).clients.map(staticView), ...stored.map(storedView)];
  return json({ clients });
}

export async function readClient(request: GatewayRequest, env: Env): Promise<Response> {
  const name = String(request.params.name);
  const found = staticClient(config(request), name);
  const view = found ? staticView(found) : storedView(await existing(env, name));
  const usage = env.CLIENT_METER ? await usageOf(env, name, meterKeyOf(name), daysAsked(request.query)) : undefined;
  return json({ ...view, ...(usage && { usage }) });
}

export async function updateClient(request: GatewayRequest, env: Env): Promise<Response> {
  const cfg = config(request);
  const record = await changeable(request, env);
  const body = await objectBody(request, PATCH_KEYS);
  const { name, created_at, tokens, v } = record;
  const merged: Record<string, unknown> = { ...record, ...body };
  // null clears an optional setting.
  for (const key of ['rate_limit', 'quota', 'expires_at']) if (merged[key] === null) delete merged[key];
  const next: StoredClient = { v, name, ...checkedFields(merged, cfg, env), created_at, updated_at: new Date().toISOString(), tokens };
  await saveClient(clientKeys(env), next);
  return json(storedView(next));
}

export async function revokeClient(request: GatewayRequest, env: Env): Promise<Response> {
  const record = await changeable(request, env);
  await deleteClient(clientKeys(env), record);
  return json({ name: record.name, revoked: true });
}

/** A new token; the ones it replaces keep working for `grace_seconds` (default 0: not at all). */
export async function rotateClient(request: GatewayRequest, env: Env): Promise<Response> {
  const kv = clientKeys(env);
  const record = await changeable(request, env);
  const body = request.headers.get('content-length') === '0' || !request.body ? {} : await objectBody(request, new Set(['grace_seconds']));
  const grace = body.grace_seconds ?? 0;
  if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
    throw new HttpError('invalid_request', `grace_seconds must be a whole number from 0 to ${MAX_GRACE_SECONDS}`);
  }
  const nowMs = Date.now();
  const graceEnd = new Date(nowMs + grace * 1000).toISOString();
  const kept: TokenRef[] = [];
  const dropped: TokenRef[] = [];
  for (const old of record.tokens) {
    const notAfter = old.not_after !== undefined && old.not_after < graceEnd ? old.not_after : graceEnd;
    (grace > 0 && Date.parse(notAfter) > nowMs ? kept : dropped).push({ sha256: old.sha256, not_after: notAfter });
  }
  const token = newToken();
  const next: StoredClient = { ...record, updated_at: new Date(nowMs).toISOString(), tokens: [{ sha256: await digestHex(token) }, ...kept] };
  await saveClient(kv, next);
  await dropTokens(kv, dropped);
  return json({ ...storedView(next), token, ...(kept.length > 0 && { previous_token_valid_until: graceEnd }) });
}

/** Every client's usage (static, stored, anonymous), or one client's with `?client=`. */
export async function adminUsage(request: GatewayRequest, env: Env): Promise<Response> {
  const days = daysAsked(request.query);
  const asked = request.query.client;
  let names: string[];
  if (asked !== undefined) {
    if (typeof asked !== 'string') throw new HttpError('invalid_request', 'give `client` once');
    names = [asked];
  } else {
    const stored = env.CLIENT_KEYS ? await allClients(env.CLIENT_KEYS) : [];
    names = [...config(request).clients.map((c) => c.name), ...stored.map((c) => c.name), ANONYMOUS_METER_KEY];
  }
  const keyOf = (name: string) => (name === ANONYMOUS_METER_KEY ? ANONYMOUS_METER_KEY : meterKeyOf(name));
  const clients = await mapBounded(names, 8, (name) => usageOf(env, name, keyOf(name), days));
  return json({ clients });
}

function clientKeys(env: Env): KVNamespace {
  if (!env.CLIENT_KEYS) throw new HttpError('service_unavailable', 'clients made at run time need the CLIENT_KEYS binding');
  return env.CLIENT_KEYS;
}

function staticClient(cfg: Config, name: string): ClientConfig | undefined {
  return cfg.clients.find((client) => client.name === name);
}

async function existing(env: Env, name: string): Promise<StoredClient> {
  const record = env.CLIENT_KEYS && ALIAS.test(name) ? await clientNamed(env.CLIENT_KEYS, name) : null;
  if (!record) throw new HttpError('not_found', `no client named "${printable(name)}"`);
  return record;
}

/** A stored client the path names; a static one is the config's, not the API's, to change. */
async function changeable(request: GatewayRequest, env: Env): Promise<StoredClient> {
  const name = String(request.params.name);
  if (staticClient(config(request), name)) throw new HttpError('conflict', `client "${name}" is static (CLIENTS): change it in the config`);
  clientKeys(env);
  return existing(env, name);
}

async function objectBody(request: GatewayRequest, allowed: ReadonlySet<string>): Promise<Record<string, unknown>> {
  const { value } = await readJson(request, MAX_BODY_BYTES);
  if (!isObject(value)) throw new HttpError('invalid_request', 'the request body must be a JSON object');
  const unknown = Object.keys(value).find((key) => !allowed.has(key));
  if (unknown !== undefined) throw new HttpError('invalid_request', `unknown field "${printable(unknown)}" (allowed: ${[...allowed].join(', ')})`);
  return value;
}

/** The settings, checked as the config checks a static client's; a problem is the caller's 400. */
function checkedFields(raw: Record<string, unknown>, cfg: Config, env: Env): ClientFields {
  const { models, admin, rate_limit, quota, expires_at, disabled } = raw;
  if (!Array.isArray(models) || models.length === 0) throw new HttpError('invalid_request', '`models`: a non-empty array of aliases, or ["*"]');
  for (const alias of models) {
    if (alias !== '*' && (typeof alias !== 'string' || !cfg.models.has(alias))) {
      throw new HttpError('invalid_request', `\`models\`: unknown alias ${JSON.stringify(alias).slice(0, 70)}`);
    }
  }
  if (typeof admin !== 'boolean') throw new HttpError('invalid_request', '`admin`: true or false');
  if (typeof disabled !== 'boolean') throw new HttpError('invalid_request', '`disabled`: true or false');
  if (expires_at !== undefined && (typeof expires_at !== 'string' || Number.isNaN(Date.parse(expires_at)))) {
    throw new HttpError('invalid_request', '`expires_at`: an ISO 8601 time such as 2027-01-01T00:00:00Z');
  }
  asConfig(() => rate_limit !== undefined && parseRateLimit(rate_limit, 'rate_limit', env as ConfigSource));
  asConfig(() => quota !== undefined && parseQuota(quota, 'quota', env as ConfigSource));
  return {
    models: [...new Set(models as string[])],
    admin,
    disabled,
    ...(rate_limit !== undefined && { rate_limit }),
    ...(quota !== undefined && { quota }),
    ...(expires_at !== undefined && { expires_at: new Date(Date.parse(expires_at as string)).toISOString() }),
  };
}

function asConfig(check: () => unknown): void {
  try {
    check();
  } catch (err) {
    if (err instanceof ConfigError) throw new HttpError('invalid_request', err.message);
    throw err;
  }
}

function storedView({ name, models, admin, rate_limit, quota, expires_at, disabled, created_at, updated_at }: StoredClient): ClientView {
  return {
    name,
    static: false,
    models,
    admin,
    disabled,
    created_at,
    updated_at,
    ...(rate_limit !== undefined && { rate_limit }),
    ...(quota !== undefined && { quota }),
    ...(expires_at !== undefined && { expires_at }),
  };
}

function staticView(client: ClientConfig): ClientView {
  return {
    name: client.name,
    static: true,
    models: client.models === '*' ? ['*'] : [...client.models],
    admin: client.admin,
    disabled: false,
    rate_limit: policyJson(client.rateLimit),
    ...(client.quota && { quota: quotaJson(client.quota) }),
  };
}

function policyJson(policy: RateLimitPolicy): unknown {
  switch (policy.kind) {
    case 'none':
      return 'none';
    case 'binding':
      return policy.binding;
    case 'global':
      return { limit: policy.limit, period_seconds: policy.periodSeconds };
  }
}

function quotaJson(quota: Quota): Record<string, unknown> {
  return {
    ...(quota.requestsPerDay !== undefined && { requests_per_day: quota.requestsPerDay }),
    ...(quota.tokensPerDay !== undefined && { tokens_per_day: quota.tokensPerDay }),
    ...(quota.requestsPerMonth !== undefined && { requests_per_month: quota.requestsPerMonth }),
    ...(quota.tokensPerMonth !== undefined && { tokens_per_month: quota.tokensPerMonth }),
    on_meter_failure: quota.onMeterFailure,
  };
}

async function digestHex(token: string): Promise<string> {
  return bytesToHex(await sha256(token));
}
