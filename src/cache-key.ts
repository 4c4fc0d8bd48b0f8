/**
 * The response cache's pure core: whose entry a request reads and writes,
 * the key an answer is stored under, and what the caller's Cache-Control
 * allows. The I/O around it is in cache.ts.
 */
import type { Caller } from './auth.ts';
import type { CacheOption } from './config.ts';
import { bytesToHex } from './hex.ts';

/** What the cache did for a request, in its `x-cache` header and log line. */
export type CacheOutcome = 'HIT' | 'MISS' | 'BYPASS';

/**
 * Whose entries a request may see: one client's own, every anonymous
 * caller's (the public is one tenant), or everyone's when the alias says
 * `shared`. Tagged values, so no client name (even one called "anonymous")
 * can stand for another scope.
 */
export type CacheScope = { client: string } | 'anonymous' | 'shared';

export function cacheScope(caller: Caller, option: CacheOption): CacheScope {
  if (option.shared) return 'shared';
  return caller.anonymous ? 'anonymous' : { client: caller.name };
}

export interface CacheKeyInput {
  scope: CacheScope;
  alias: string;
  /** The gateway route the answer came from: "predict", "chat/completions", ... */
  route: string;
  /** The alias's Baseten target, so re-pointing an alias never serves the old deployment's answers. */
  target: string;
  /** The exact bytes the caller sent. */
  body: Uint8Array;
}

/** Bumped when the key's layout or the stored entry's shape changes, which retires every old entry. */
const KEY_VERSION = 'gateway-cache-v1';
const UTF8 = new TextEncoder();

/**
 * SHA-256 (hex) over the scope, alias, route and target, then the body
 * bytes. The head is one line of JSON: its strings are escaped, so it cannot
 * end early or contain a newline, and no two heads (nor head and body) can
 * run into each other.
 */
export async function cacheKey(input: CacheKeyInput): Promise<string> {
  const head = UTF8.encode(`${JSON.stringify([KEY_VERSION, input.scope, input.alias, input.route, input.target])}\n`);
  const message = new Uint8Array(head.byteLength + input.body.byteLength);
  message.set(head);
  message.set(input.body, head.byteLength);
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', message)));
}

export interface CacheDirectives {
  /** Whether a stored answer may be served. */
  lookup: boolean;
  /** Whether the fresh answer may be stored. */
  store: boolean;
}

/**
 * The caller's Cache-Control (RFC 9111 §5.2.1): `no-cache` asks for a fresh
 * answer (which may still be stored for the next caller), `no-store` also
 * forbids keeping it.
 */
export function cacheDirectives(header: string | null): CacheDirectives {
  if (header === null) return { lookup: true, store: true };
  const names = header.split(',').map((part) => part.split('=')[0]!.trim().toLowerCase());
  const noStore = names.includes('no-store');
  return { lookup: !noStore && !names.includes('no-cache'), store: !noStore };
}
