/**
 * Clients created at run time, in Workers KV (binding CLIENT_KEYS). The only
 * module that knows the key layout:
 *
 *   client/v1/name/<name>        StoredClient: the client and the SHA-256 of
 *       each token that works for it. Read by the admin API only.
 *   client/v1/token/<sha256 hex> TokenEntry: a copy of the client (without
 *       the hashes) and, for a token rotated out, when it stops working. Read
 *       on every request that carries a token no static client holds: one KV
 *       read, no second hop to the name.
 *
 * A token itself is never stored: it is shown once, when it is made. Every
 * change rewrites the name record and each token key. Values are JSON
 * objects with "v": 1. A binding that throws becomes a 503.
 *
 * Revocation deletes the token keys. KV makes a write visible at once where
 * it was made and everywhere else within its propagation delay (about 60 s);
 * reads are cached at a location for the shortest time KV allows, so a
 * revoked token stops everywhere within about a minute. Nothing is cached in
 * the isolate.
 */
import { HttpError } from './errors.ts';
import { bytesToHex } from './hex.ts';
import { mapBounded } from './pool.ts';
import { describeForLog } from './redact.ts';

/** A client as the admin API takes it; `rate_limit` and `quota` as given (checked when written, parsed when used). */
export interface ClientFields {
  models: string[];
  admin: boolean;
  rate_limit?: unknown;
  quota?: unknown;
  /** ISO 8601; from then on its tokens answer 401. */
  expires_at?: string;
  disabled: boolean;
}

export interface ClientProfile extends ClientFields {
  v: 1;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface TokenRef {
  sha256: string;
  /** A token rotated out works until then (ISO 8601). */
  not_after?: string;
}

export interface StoredClient extends ClientProfile {
  tokens: TokenRef[];
}

export interface TokenEntry {
  v: 1;
  client: ClientProfile;
  not_after?: string;
}

const NAME_PREFIX = 'client/v1/name/';
const nameKey = (name: string) => NAME_PREFIX + name;
const tokenKey = (sha256Hex: string) => `client/v1/token/${sha256Hex}`;
/** The shortest time KV lets a location cache a read: bounds how long a revoked token may still be seen there. */
const TOKEN_CACHE_TTL_SECONDS = 30;
/** KV refuses an expiration closer than 60 s. */
const KV_MIN_EXPIRY_SECONDS = 60;

/** A fresh token: 32 random bytes, prefixed so a leaked one is recognisable. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `bgw_${btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')}`;
}

export async function clientForToken(kv: KVNamespace, digest: Uint8Array): Promise<TokenEntry | null> {
  const entry = await guarded(() => kv.get<TokenEntry>(tokenKey(bytesToHex(digest)), { type: 'json', cacheTtl: TOKEN_CACHE_TTL_SECONDS }));
  return entry?.v === 1 ? entry : null;
}

export async function clientNamed(kv: KVNamespace, name: string): Promise<StoredClient | null> {
  const record = await guarded(() => kv.get<StoredClient>(nameKey(name), { type: 'json' }));
  return record?.v === 1 ? record : null;
}

/** Every stored client, by name. */
export async function allClients(kv: KVNamespace): Promise<StoredClient[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await guarded(() => kv.list({ prefix: NAME_PREFIX, cursor }));
    names.push(...page.keys.map((key) => key.name.slice(NAME_PREFIX.length)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  const records = await mapBounded(names, 8, (name) => clientNamed(kv, name).catch(() => null));
  return records.filter((record): record is StoredClient => record !== null);
}

/** Writes the client under its name and under each token's hash; a rotated-out token's key expires with it. */
export async function saveClient(kv: KVNamespace, record: StoredClient): Promise<void> {
  const { tokens, ...client } = record;
  await guarded(() =>
    Promise.all(
      tokens.map((token) => {
        const entry: TokenEntry = { v: 1, client, not_after: token.not_after };
        const expiration = token.not_after === undefined ? undefined : expiresAt(token.not_after);
        return kv.put(tokenKey(token.sha256), JSON.stringify(entry), expiration === undefined ? {} : { expiration });
      }),
    ),
  );
  await guarded(() => kv.put(nameKey(record.name), JSON.stringify(record)));
}

/** Revokes: the token keys go first, so no moment exists where a token works without its client record. */
export async function deleteClient(kv: KVNamespace, record: StoredClient): Promise<void> {
  await dropTokens(kv, record.tokens);
  await guarded(() => kv.delete(nameKey(record.name)));
}

export async function dropTokens(kv: KVNamespace, tokens: readonly TokenRef[]): Promise<void> {
  await guarded(() => Promise.all(tokens.map((token) => kv.delete(tokenKey(token.sha256)))));
}

function expiresAt(notAfter: string): number {
  const seconds = Math.ceil(Date.parse(notAfter) / 1000);
  return Math.max(seconds, Math.ceil(Date.now() / 1000) + KV_MIN_EXPIRY_SECONDS);
}

async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', error: `CLIENT_KEYS failed: ${describeForLog(err)}` }));
    throw new HttpError('service_unavailable', 'client store unavailable; retry later');
  }
}
