/**
 * CLIENT_METER: one Durable Object per client (and one for anonymous
 * callers). Requests for one object run one at a time, so its counts are
 * exact under any concurrency: the door (`/admit`) checks and counts a
 * request (or a batch's rows, all or none) against the client's quota, and
 * its strict global rate limit in the same hop; after the answer, `/record`
 * adds the call's requests, tokens, errors, upstream time and WebSocket
 * traffic to its UTC day, by alias; `/usage` reads the days back.
 * A plain fetch-based object (no `cloudflare:workers` import), like
 * GlobalRateLimiter, so the route table still loads in Node tools.
 */
import { type AdmitOutcome, type AdmitRequest, admitAgainstQuota, type CallRecord, currentPeriod, type DayUsage, type Period, utcDay } from './meter-rules.ts';
import { takeFromWindow, type Window } from './rate-window.ts';
import { addToBatch, dayWithBatch, openBatch, periodWithBatch, type UsageBatch } from './usage-batch.ts';

const PERIOD_KEY = 'period';
const WINDOW_KEY = 'window';
const DAY_PREFIX = 'day:';
/** Days of usage kept: a year and a month, so a year-over-year month is still there. */
export const RETENTION_DAYS = 400;
const DAY_MS = 86_400_000;

/** What `/usage` answers: the days asked for that saw any call, oldest first. */
export interface MeterUsage {
  days: { date: string; by_alias: DayUsage }[];
}

export class ClientMeter implements DurableObject {
  readonly #storage: DurableObjectStorage;

  constructor(state: DurableObjectState) {
    this.#storage = state.storage;
  }

  async fetch(request: Request): Promise<Response> {
    const { pathname, searchParams } = new URL(request.url);
    if (pathname === '/admit') return Response.json(await this.#admit(await request.json<AdmitRequest>()));
    if (pathname === '/record') {
      await this.#record(recordOf(await request.json<CallRecord>()));
      return new Response(null, { status: 204 });
    }
    if (pathname === '/record-batch') {
      await this.#recordBatch(await request.json<UsageBatch>());
      return new Response(null, { status: 204 });
    }
    if (pathname === '/usage') return Response.json(await this.#usage(Number(searchParams.get('days'))));
    return new Response('no such meter operation', { status: 404 });
  }

  async #admit({ quota, window, units = 1 }: AdmitRequest): Promise<AdmitOutcome> {
    const nowMs = Date.now();
    let nextWindow: Window | undefined;
    if (window) {
      const taken = takeFromWindow(await this.#storage.get<Window>(WINDOW_KEY), nowMs, window.limit, window.periodSeconds, units);
      if (!taken.outcome.allowed) return { ...taken.outcome, refusal: 'rate_limited' };
      nextWindow = taken.next;
    }
    let nextPeriod: Period | undefined;
    if (quota) {
      const period = currentPeriod(await this.#storage.get<Period>(PERIOD_KEY), nowMs);
      const outcome = admitAgainstQuota(period, quota, nowMs, units);
      if (!outcome.allowed) return outcome;
      nextPeriod = { ...period, dayRequests: period.dayRequests + units, monthRequests: period.monthRequests + units };
    }
    // Both counts move together or not at all: a refusal by either takes nothing from the other.
    const writes: Record<string, unknown> = {};
    if (nextWindow) writes[WINDOW_KEY] = nextWindow;
    if (nextPeriod) writes[PERIOD_KEY] = nextPeriod;
    await this.#storage.put(writes);
    return { allowed: true, retryAfterSeconds: 0 };
  }

  /** One call is a batch of one: the same rules, one write path. */
  async #record(call: CallRecord): Promise<void> {
    const batch = openBatch(Date.now());
    addToBatch(batch, call);
    await this.#recordBatch(batch);
  }

  /** Calls summed in an isolate (usage-batch.ts): one write for all of them. */
  async #recordBatch(batch: UsageBatch): Promise<void> {
    const nowMs = Date.now();
    const dayKey = DAY_PREFIX + batch.day;
    const stored = await this.#storage.get<Period>(PERIOD_KEY);
    const period = currentPeriod(stored, nowMs);
    const day = await this.#storage.get<DayUsage>(dayKey);
    await this.#storage.put({ [PERIOD_KEY]: periodWithBatch(period, batch.period), [dayKey]: dayWithBatch(day, batch.usage) });
    if (stored?.day !== period.day) await this.#prune(nowMs);
  }

  async #usage(days: number): Promise<MeterUsage> {
    const count = Number.isInteger(days) && days > 0 ? Math.min(days, RETENTION_DAYS) : 30;
    const from = utcDay(Date.now() - (count - 1) * DAY_MS);
    const stored = await this.#storage.list<DayUsage>({ prefix: DAY_PREFIX, start: DAY_PREFIX + from });
    return { days: [...stored].map(([key, byAlias]) => ({ date: key.slice(DAY_PREFIX.length), by_alias: byAlias })) };
  }

  /** Once a day: days past the retention go. */
  async #prune(nowMs: number): Promise<void> {
    const cutoff = DAY_PREFIX + utcDay(nowMs - RETENTION_DAYS * DAY_MS);
    // delete() takes at most 128 keys; a backlog goes over the next days' first records.
    const old = await this.#storage.list({ prefix: DAY_PREFIX, end: cutoff, limit: 128 });
    if (old.size > 0) await this.#storage.delete([...old.keys()]);
  }
}

/**
 * A record as this version reads it. During a deploy a Worker of the previous
 * version may still send `admitted` as a boolean and no `requests`: read as
 * one request, so no NaN lands in the period a quota is checked against.
 */
function recordOf(call: CallRecord): CallRecord {
  const admitted: unknown = call.admitted;
  return {
    ...call,
    requests: Number.isInteger(call.requests) ? call.requests : 1,
    admitted: typeof admitted === 'number' ? admitted : admitted === true ? 1 : 0,
  };
}
