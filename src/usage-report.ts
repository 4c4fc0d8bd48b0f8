/**
 * A client's usage as the API shows it (`GET /v1/usage`, the admin reads):
 * totals, by alias, and one entry per UTC day of the period, oldest first,
 * days without calls included as zeros so a chart needs no gaps filled.
 */
import { type MeterUsage, RETENTION_DAYS } from './client-meter.ts';
import { HttpError } from './errors.ts';
import { meteredDays } from './meter.ts';
import { addCounters, type Counters, emptyCounters, utcDay } from './meter-rules.ts';

export interface UsageReport {
  client: string;
  period: { from: string; to: string; days: number };
  totals: Counters;
  by_alias: Record<string, Counters>;
  by_day: (Counters & { date: string; by_alias: Record<string, Counters> })[];
}

export const DEFAULT_USAGE_DAYS = 30;
const DAY_MS = 86_400_000;

/** `?days=N`: 1 to the meter's retention, 30 when absent. */
export function daysAsked(query: Record<string, unknown>): number {
  const raw = query.days;
  if (raw === undefined) return DEFAULT_USAGE_DAYS;
  const days = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(days >= 1 && days <= RETENTION_DAYS)) throw new HttpError('invalid_request', `days must be a whole number from 1 to ${RETENTION_DAYS}`);
  return days;
}

export async function usageOf(env: Env, client: string, meterKey: string, days: number): Promise<UsageReport> {
  return usageReport(client, days, await meteredDays(env, meterKey, days), Date.now());
}

export function usageReport(client: string, days: number, meter: MeterUsage, nowMs: number): UsageReport {
  const stored = new Map(meter.days.map((day) => [day.date, day.by_alias]));
  const totals = emptyCounters();
  const byAlias: Record<string, Counters> = {};
  const byDay: UsageReport['by_day'] = [];
  for (let i = days - 1; i >= 0; i--) {
    const date = utcDay(nowMs - i * DAY_MS);
    // Read through addCounters, so a day stored before a counter existed shows it as 0.
    const aliases = Object.fromEntries(Object.entries(stored.get(date) ?? {}).map(([alias, counters]) => [alias, addCounters(emptyCounters(), counters)]));
    const dayTotals = emptyCounters();
    for (const [alias, counters] of Object.entries(aliases)) {
      addCounters(dayTotals, counters);
      byAlias[alias] = addCounters(byAlias[alias] ?? emptyCounters(), counters);
    }
    addCounters(totals, dayTotals);
    byDay.push({ date, ...dayTotals, by_alias: aliases });
  }
  return { client, period: { from: byDay[0]!.date, to: utcDay(nowMs), days }, totals, by_alias: byAlias, by_day: byDay };
}
