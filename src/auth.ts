/**
 * Who is calling: a client holding a token whose SHA-256 is listed in
 * CLIENTS or stored in CLIENT_KEYS (clients made through the admin API), sent
 * as `Bearer <token>` or as Baseten's own `Api-Key <token>` (so code written
 * for Baseten only changes its key), or an anonymous caller limited to public
 * aliases.
 */
import { clientForToken, type TokenEntry } from './client-store.ts';
import { type Config, ConfigError, type ConfigSource, type ModelConfig, parseQuota, parseRateLimit, type Quota, type RateLimitPolicy } from './config.ts';
import { sha256, timingSafeEqualBytes } from './crypto.ts';
import { HttpError } from './errors.ts';
import { protocolAuthorization } from './websocket-protocols.ts';

export interface Caller {
  /** Client name, or "anonymous". */
  name: string;
  anonymous: boolean;
  admin: boolean;
  /** Key the rate limiter counts this caller under: the client, or the IP for anonymous calls. */
  rateLimitKey: string;
  rateLimit: RateLimitPolicy;
  /** Counted at the door by the client's meter when set. */
  quota?: Quota;
  /** The CLIENT_METER object this caller's usage is counted in. */
  meterKey: string;
  canUse(model: ModelConfig): boolean;
}

/** Tokens are opaque; this only keeps absurd input away from the hash. */
const TOKEN_SHAPE = /^[\x21-\x7e]{16,512}$/;
const UNKNOWN_TOKEN = 'unknown token: no client in CLIENTS or made through the admin API holds it';

export async function authenticate(request: Request, config: Config, env: Env): Promise<Caller> {
  // A browser's WebSocket cannot send headers: its token comes as a subprotocol.
  const header = request.headers.get('authorization') ?? protocolAuthorization(request.headers);
  if (header === null) return anonymousCaller(request, config);
  const match = /^(?:Bearer|Api-Key) +(\S+)$/i.exec(header.trim());
  if (!match) throw new HttpError('unauthorized', 'malformed Authorization header: send "Bearer <token>" or "Api-Key <token>"');
  // A token of impossible shape is simply not one of ours: the caller learns the same as for any unknown token.
  if (!TOKEN_SHAPE.test(match[1]!)) throw new HttpError('unauthorized', UNKNOWN_TOKEN);
  const digest = await sha256(match[1]!);
  // Compare against every client, without stopping at a match, so timing says nothing.
  let found: Config['clients'][number] | undefined;
  for (const client of config.clients) {
    if (timingSafeEqualBytes(digest, client.tokenDigest) && !found) found = client;
  }
  if (!found) return storedCaller(digest, env);
  const client = found;
  return {
    name: client.name,
    anonymous: false,
    admin: client.admin,
    rateLimitKey: meterKeyOf(client.name),
    rateLimit: client.rateLimit,
    quota: client.quota,
    meterKey: meterKeyOf(client.name),
    canUse: (model) => client.models === '*' || client.models.has(model.alias),
  };
}

export const meterKeyOf = (clientName: string) => `client:${clientName}`;
export const ANONYMOUS_METER_KEY = 'anonymous';

/** A client from CLIENT_KEYS: one KV read by the token's hash; revoked, expired, disabled or rotated out is 401. */
async function storedCaller(digest: Uint8Array, env: Env): Promise<Caller> {
  const entry = env.CLIENT_KEYS ? await clientForToken(env.CLIENT_KEYS, digest) : null;
  if (!entry) throw new HttpError('unauthorized', UNKNOWN_TOKEN);
  const refusal = refusalOf(entry, Date.now());
  if (refusal) throw new HttpError('unauthorized', refusal);
  const { client } = entry;
  const models = client.models.includes('*') ? '*' : new Set(client.models);
  return {
    name: client.name,
    anonymous: false,
    admin: client.admin,
    rateLimitKey: meterKeyOf(client.name),
    rateLimit: storedPolicy(() => parseRateLimit(client.rate_limit, 'rate_limit', env as ConfigSource)),
    quota: client.quota === undefined ? undefined : storedPolicy(() => parseQuota(client.quota, 'quota', env as ConfigSource)),
    meterKey: meterKeyOf(client.name),
    canUse: (model) => models === '*' || models.has(model.alias),
  };
}

/** Why a stored token no longer works, if it does not. */
export function refusalOf(entry: TokenEntry, nowMs: number): string | undefined {
  if (entry.client.disabled) return 'this client is disabled';
  if (entry.client.expires_at !== undefined && Date.parse(entry.client.expires_at) <= nowMs) return 'this client has expired';
  if (entry.not_after !== undefined && Date.parse(entry.not_after) <= nowMs) return 'this token was rotated out';
  return undefined;
}

/**
 * A stored policy was checked when it was written; one that no longer parses
 * (its rate limiting binding was removed since) fails closed with a 503.
 */
function storedPolicy<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ConfigError) throw new HttpError('service_unavailable', `this client's settings no longer fit the gateway's config: ${err.message}`);
    throw err;
  }
}

function anonymousCaller(request: Request, config: Config): Caller {
  // Set by Cloudflare's edge, which overwrites any value a client sends.
  const ip = request.headers.get('cf-connecting-ip') ?? 'unknown';
  return {
    name: 'anonymous',
    anonymous: true,
    admin: false,
    rateLimitKey: `ip:${addressBucket(ip)}`,
    rateLimit: config.settings.anonymousRateLimit,
    meterKey: ANONYMOUS_METER_KEY,
    canUse: (model) => model.public,
  };
}

/**
 * What an anonymous caller is counted under: an IPv4 address as is, an IPv6
 * address by its /64, the block one subscriber is usually given (counting
 * each address would give one holder 2^64 buckets). IPv4-mapped IPv6
 * addresses count as the IPv4 address they carry.
 */
export function addressBucket(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const groups = ipv6Groups(ip);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : ip;
}

/** The eight groups of an IPv6 address (leading zeros dropped, lower case), or undefined if it is not one. */
function ipv6Groups(ip: string): string[] | undefined {
  if (!/^[0-9a-f:.]+$/i.test(ip) || !ip.includes(':')) return undefined;
  const halves = ip.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const parts = halves.map((half) => (half === '' ? [] : half.split(':')));
  // An embedded IPv4 tail (::ffff:1.2.3.4 and the like) stands for two groups; the prefix is all that counts.
  const groups = parts.map((list) => list.flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const missing = 8 - groups.reduce((n, list) => n + list.length, 0);
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = halves.length === 1 ? groups[0]! : [...groups[0]!, ...Array<string>(missing).fill('0'), ...groups[1]!];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => g.replace(/^0+(?=.)/, ''));
}

/** Finds the alias and checks this caller may use it: 404 unknown, 401 anonymous on a private alias, 403 otherwise. */
export function authorizeModel(caller: Caller, config: Config, alias: string): ModelConfig {
  const model = config.models.get(alias);
  if (!model) throw new HttpError('not_found', `unknown model alias "${printable(alias)}"`);
  if (caller.canUse(model)) return model;
  if (caller.anonymous) throw new HttpError('unauthorized', `model "${alias}" needs a Bearer token`);
  throw new HttpError('forbidden', `client "${caller.name}" may not use model "${alias}"`);
}

export function requireAdmin(caller: Caller): void {
  if (caller.anonymous) throw new HttpError('unauthorized', 'this route needs an admin token');
  if (!caller.admin) throw new HttpError('forbidden', 'this route is for admin clients only');
}

/** Echoed names are cut and stripped of control characters so an error cannot carry injected text. */
export function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
