/**
 * Who is calling: a client holding a Bearer token whose SHA-256 is listed in
 * CLIENTS, or an anonymous caller limited to public aliases.
 */
import type { Config, ModelConfig, RateLimitPolicy } from './config.ts';
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
  canUse(model: ModelConfig): boolean;
}

/** Tokens are opaque; this only keeps absurd input away from the hash. */
const TOKEN_SHAPE = /^[\x21-\x7e]{16,512}$/;
const UNKNOWN_TOKEN = 'unknown token: no client in CLIENTS holds it';

export async function authenticate(request: Request, config: Config): Promise<Caller> {
  // A browser's WebSocket cannot send headers: its token comes as a subprotocol.
  const header = request.headers.get('authorization') ?? protocolAuthorization(request.headers);
  if (header === null) return anonymousCaller(request, config);
  const match = /^Bearer +(\S+)$/i.exec(header.trim());
  if (!match) throw new HttpError('unauthorized', 'malformed Authorization header: send "Bearer <token>"');
  // A token of impossible shape is simply not one of ours: the caller learns the same as for any unknown token.
  if (!TOKEN_SHAPE.test(match[1]!)) throw new HttpError('unauthorized', UNKNOWN_TOKEN);
  const digest = await sha256(match[1]!);
  // Compare against every client, without stopping at a match, so timing says nothing.
  let found: Config['clients'][number] | undefined;
  for (const client of config.clients) {
    if (timingSafeEqualBytes(digest, client.tokenDigest) && !found) found = client;
  }
  if (!found) throw new HttpError('unauthorized', UNKNOWN_TOKEN);
  const client = found;
  return {
    name: client.name,
    anonymous: false,
    admin: client.admin,
    rateLimitKey: client.rateLimitKey,
    rateLimit: client.rateLimit,
    canUse: (model) => client.models === '*' || client.models.has(model.alias),
  };
}

function anonymousCaller(request: Request, config: Config): Caller {
  // Set by Cloudflare's edge, which overwrites any value a client sends.
  const ip = request.headers.get('cf-connecting-ip') ?? 'unknown';
  return {
    name: 'anonymous',
    anonymous: true,
    admin: false,
    rateLimitKey: `ip:${ip}`,
    rateLimit: config.settings.anonymousRateLimit,
    canUse: (model) => model.public,
  };
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
