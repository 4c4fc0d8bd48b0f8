/**
 * What Baseten last said about an async request, and when: the status route
 * asks Baseten at most once per `async_status_min_interval_ms` per request
 * and serves the polls in between (and Baseten's 429s) from here. Kept in
 * this isolate's memory and in the location's cache (Cache API), so a
 * polling loop is held back wherever its polls land in the location; across
 * Cloudflare locations each keeps its own. Plain data only: nothing here
 * carries I/O from one request into another.
 */
import type { BasetenStatus } from './async-status.ts';

export interface SeenStatus {
  /** Baseten's answer; null when it did not know the id (404). */
  reported: BasetenStatus | null;
  atMs: number;
}

/** Long enough to serve a 429 from; the record in KV outlives it anyway. */
const KEEP_SECONDS = 300;
/** Enough for every request polled within a few minutes in one isolate. */
const MEMORY_ENTRIES = 2000;
/** A host no request can reach: the cache key only. */
const CACHE_ORIGIN = 'https://async-status.gateway.internal/';

const memory = new Map<string, SeenStatus>();

export async function lastSeen(requestId: string): Promise<SeenStatus | undefined> {
  const held = memory.get(requestId);
  if (held) return held;
  try {
    const cached = await caches.default.match(cacheKey(requestId));
    return cached ? await cached.json<SeenStatus>() : undefined;
  } catch {
    // A cache miss at worst: one more call to Baseten.
    return undefined;
  }
}

export async function remember(requestId: string, seen: SeenStatus): Promise<void> {
  if (memory.size >= MEMORY_ENTRIES) memory.delete(memory.keys().next().value!);
  memory.delete(requestId);
  memory.set(requestId, seen);
  try {
    await caches.default.put(
      cacheKey(requestId),
      new Response(JSON.stringify(seen), {
        headers: { 'content-type': 'application/json', 'cache-control': `max-age=${KEEP_SECONDS}` },
      }),
    );
  } catch {
    // The memory copy still holds this isolate's polls back.
  }
}

/** After a cancel, Baseten's status has changed: the next poll asks it. */
export async function forget(requestId: string): Promise<void> {
  memory.delete(requestId);
  await caches.default.delete(cacheKey(requestId)).catch(() => false);
}

function cacheKey(requestId: string): string {
  return `${CACHE_ORIGIN}${requestId}`;
}
