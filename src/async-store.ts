/**
 * Async requests in Workers KV (binding ASYNC_REQUESTS). The only module that
 * knows the key layout:
 *
 *   async/v1/request/<request_id>   AsyncRecord. Who owns the request, the alias
 *       and Baseten target it went to, when, and the last status the gateway
 *       learned: QUEUED, or a final status seen on Baseten's status endpoint
 *       (EXPIRED, CANCELED, WEBHOOK_FAILED, FAILED) or set by a cancel. Written
 *       on submit, on cancel and when a status poll learns a final status.
 *       Lives async_ttl_seconds plus the longest the request can take (its
 *       queue time, Baseten's one-hour run limit, webhook slack), so it
 *       outlives the result.
 *   async/v1/result/<request_id>    AsyncResult. What Baseten's signed webhook
 *       delivered: final status, output, errors. Written only by the webhook,
 *       at most once per delivery, derived from the payload alone (a repeated
 *       delivery writes the same bytes). A key of its own so that no
 *       read-modify-write of the record (a cancel racing the webhook) can ever
 *       drop an output. Lives async_ttl_seconds from delivery. A signed
 *       delivery for an id with no record here yet (written at another
 *       Cloudflare location, not visible for up to 60 s) is stored all the
 *       same, with the target it names; reading the record joins it.
 *   async/v1/due/<due epoch seconds, 10 digits>/<request_id>   empty. The
 *       cron's index of requests to ask Baseten about if no result comes:
 *       written with the record on submit (due async_reconcile_after_seconds
 *       later), deleted by the webhook, moved on by the cron while Baseten
 *       says the request is still running. Keys sort by due time, so the
 *       cron lists a bounded page from the start of the prefix and stops at
 *       the first key not yet due, never the whole namespace. Lives as long
 *       as the record.
 *
 * <request_id> is Baseten's (A-Z, a-z, 0-9, '_', '-'; at most 128), checked
 * before any key is built. Values are JSON objects with "v": 1; a reader refuses other
 * versions rather than guess at them. A binding that throws (KV outage)
 * becomes a 503 service_unavailable.
 */
import type { AsyncRecord, AsyncResult } from './async-status.ts';
import { KV_MIN_TTL_SECONDS } from './config.ts';
import { HttpError } from './errors.ts';
import { describeForLog } from './redact.ts';

export const recordKey = (requestId: string) => `async/v1/request/${requestId}`;
export const resultKey = (requestId: string) => `async/v1/result/${requestId}`;
const DUE_PREFIX = 'async/v1/due/';
export const dueKey = (dueSeconds: number, requestId: string) => `${DUE_PREFIX}${String(dueSeconds).padStart(10, '0')}/${requestId}`;
const DUE_KEY = /^async\/v1\/due\/(\d{10})\/([A-Za-z0-9_-]{1,128})$/;

/** A request the cron is to ask Baseten about. */
export interface DueEntry {
  key: string;
  requestId: string;
  dueSeconds: number;
}
/** Baseten runs an async request for at most one hour once it leaves the queue. */
const RUN_LIMIT_SECONDS = 3600;
/** Baseten's single webhook retry comes ~2 s after the first attempt; generous room for it and for clocks. */
const DELIVERY_SLACK_SECONDS = 300;
/**
 * KV caches a read, a "not found" included, for cacheTtl at the location that
 * read it. The result key is polled while it does not exist yet: the shortest
 * allowed cacheTtl (30 s) bounds how long a poll can miss a delivered result.
 */
const RESULT_CACHE_TTL_SECONDS = 30;

/** When the record may go: everything the request can still take, then the configured retention. */
export function recordExpiry(createdMs: number, maxQueueSeconds: number, ttlSeconds: number): number {
  return Math.floor(createdMs / 1000) + maxQueueSeconds + RUN_LIMIT_SECONDS + DELIVERY_SLACK_SECONDS + ttlSeconds;
}

/** KV refuses an expiration less than 60 s ahead: a rewrite near the end gets that minimum. */
export function kvExpiration(expiresAt: number, nowMs: number): number {
  return Math.max(expiresAt, Math.ceil(nowMs / 1000) + KV_MIN_TTL_SECONDS);
}

export class AsyncStore {
  readonly #kv: KVNamespace;

  constructor(kv: KVNamespace) {
    this.#kv = kv;
  }

  record(requestId: string): Promise<AsyncRecord | undefined> {
    return this.#read(recordKey(requestId), {});
  }

  result(requestId: string): Promise<AsyncResult | undefined> {
    return this.#read(resultKey(requestId), { cacheTtl: RESULT_CACHE_TTL_SECONDS });
  }

  saveRecord(record: AsyncRecord, nowMs: number): Promise<void> {
    return this.#write(recordKey(record.request_id), record, { expiration: kvExpiration(record.expires_at, nowMs) });
  }

  /** A new record and its due entry, together: a record the cron cannot find could stay QUEUED forever. */
  async saveNew(record: AsyncRecord, nowMs: number): Promise<void> {
    await Promise.all([this.saveRecord(record, nowMs), this.markDue(record, record.reconcile_at!, nowMs)]);
  }

  /** The record comes due again at `dueSeconds`: its new entry, and the record naming it, so a webhook drops the right one. */
  async reschedule(record: AsyncRecord, dueSeconds: number, nowMs: number): Promise<void> {
    const moved = { ...record, reconcile_at: dueSeconds };
    await Promise.all([this.saveRecord(moved, nowMs), this.markDue(moved, dueSeconds, nowMs)]);
  }

  markDue(record: AsyncRecord, dueSeconds: number, nowMs: number): Promise<void> {
    return this.#put(dueKey(dueSeconds, record.request_id), '', { expiration: kvExpiration(record.expires_at, nowMs) });
  }

  /** Up to `limit` entries due by `nowMs`, oldest first: one bounded list call. */
  async due(nowMs: number, limit: number): Promise<DueEntry[]> {
    let page: KVNamespaceListResult<unknown>;
    try {
      page = await this.#kv.list({ prefix: DUE_PREFIX, limit });
    } catch (err) {
      throw unavailable('list', err);
    }
    const entries: DueEntry[] = [];
    for (const { name } of page.keys) {
      const match = DUE_KEY.exec(name);
      if (!match) continue;
      const dueSeconds = Number(match[1]);
      if (dueSeconds * 1000 > nowMs) break;
      entries.push({ key: name, requestId: match[2]!, dueSeconds });
    }
    return entries;
  }

  async dropDue(key: string): Promise<void> {
    try {
      await this.#kv.delete(key);
    } catch (err) {
      throw unavailable('delete', err);
    }
  }

  saveResult(result: AsyncResult, ttlSeconds: number): Promise<void> {
    return this.#write(resultKey(result.request_id), result, { expirationTtl: Math.max(ttlSeconds, KV_MIN_TTL_SECONDS) });
  }

  async #read<T extends { v: number }>(key: string, options: { cacheTtl?: number }): Promise<T | undefined> {
    let text: string | null;
    try {
      text = await this.#kv.get(key, { type: 'text', ...options });
    } catch (err) {
      throw unavailable('read', err);
    }
    if (text === null) return undefined;
    const value = JSON.parse(text) as T;
    // A record written by a later layout is not guessed at: a plain error, logged, 500.
    if (value.v !== 1) throw new Error(`unsupported async record version ${String(value.v)} at ${key}`);
    return value;
  }

  #write(key: string, value: { v: 1 }, options: KVNamespacePutOptions): Promise<void> {
    return this.#put(key, JSON.stringify(value), options);
  }

  async #put(key: string, text: string, options: KVNamespacePutOptions): Promise<void> {
    try {
      await this.#kv.put(key, text, options);
    } catch (err) {
      throw unavailable('write', err);
    }
  }
}

function unavailable(operation: string, err: unknown): HttpError {
  // The cause is for the log only; the caller learns that storage, not its request, failed.
  console.error(JSON.stringify({ level: 'error', event: 'kv_failure', operation, error: describeForLog(err) }));
  return new HttpError('service_unavailable', 'async request storage is unavailable; try again shortly', { 'retry-after': '5' });
}
