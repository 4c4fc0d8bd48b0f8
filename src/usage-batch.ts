/**
 * Calls of one client without a quota, added up in the isolate for a moment
 * and written to its meter in one request (meter.ts), so that a busy client
 * costs its meter one write per flush instead of one per call. Pure, shared
 * by the caller path that adds calls up and the Durable Object that applies
 * the sum (client-meter.ts).
 */
import { addCounters, type CallRecord, type DayUsage, dayAfterCall, emptyCounters, type Period, periodAfterCall, utcDay, utcMonth } from './meter-rules.ts';

/** Calls that finished on one UTC day, summed. */
export interface UsageBatch {
  day: string;
  /** By alias, as a day's usage is stored. */
  usage: DayUsage;
  /** What the calls add to the quota's counts, from zero: only its own day and month are used. */
  period: Period;
}

export function openBatch(nowMs: number): UsageBatch {
  const day = utcDay(nowMs);
  return {
    day,
    usage: {},
    period: { day, month: utcMonth(nowMs), dayRequests: 0, dayTokens: 0, monthRequests: 0, monthTokens: 0 },
  };
}

/** Adds one finished call, by the same rules the meter applies to a single call. */
export function addToBatch(batch: UsageBatch, call: CallRecord): void {
  batch.usage = dayAfterCall(batch.usage, call);
  batch.period = periodAfterCall(batch.period, call);
}

/** Calls in a batch, for the log when one cannot be written. */
export function batchRequests(batch: UsageBatch): number {
  return Object.values(batch.usage).reduce((sum, counters) => sum + counters.requests, 0);
}

/** A stored day with a batch of the same day added, alias by alias. */
export function dayWithBatch(day: DayUsage | undefined, batch: DayUsage): DayUsage {
  const next: DayUsage = { ...day };
  for (const [alias, counters] of Object.entries(batch)) {
    next[alias] = addCounters({ ...(next[alias] ?? emptyCounters()) }, counters);
  }
  return next;
}

/**
 * The current period with a batch's counts added. A batch written after
 * midnight UTC belongs to the day before: it no longer counts for today (nor
 * for this month, after the first of one).
 */
export function periodWithBatch(period: Period, batch: Period): Period {
  const sameDay = batch.day === period.day;
  const sameMonth = batch.month === period.month;
  return {
    ...period,
    dayRequests: period.dayRequests + (sameDay ? batch.dayRequests : 0),
    dayTokens: period.dayTokens + (sameDay ? batch.dayTokens : 0),
    monthRequests: period.monthRequests + (sameMonth ? batch.monthRequests : 0),
    monthTokens: period.monthTokens + (sameMonth ? batch.monthTokens : 0),
  };
}
