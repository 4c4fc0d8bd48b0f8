/**
 * The meter's rules, shared by the caller path (meter.ts) and the Durable
 * Object that keeps one client's counts (client-meter.ts). Pure, so the rules
 * are tested alone: UTC periods, the quota check at the door, and adding a
 * finished call to the usage of its day and alias.
 */
import type { Quota } from './config.ts';
import type { RateLimitOutcome } from './rate-window.ts';

/** What one call adds to a client's usage. */
export interface Counters {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  upstream_ms: number;
  websocket_connections: number;
  websocket_messages_from_client: number;
  websocket_bytes_from_client: number;
  websocket_messages_from_upstream: number;
  websocket_bytes_from_upstream: number;
  websocket_ms: number;
}

/** Every counter; days stored before a counter existed lack it, and read it as 0. */
const COUNTER_KEYS: readonly (keyof Counters)[] = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'upstream_ms',
  'websocket_connections',
  'websocket_messages_from_client',
  'websocket_bytes_from_client',
  'websocket_messages_from_upstream',
  'websocket_bytes_from_upstream',
  'websocket_ms',
];

/** The counts a quota is checked against: this UTC day's and month's. */
export interface Period {
  day: string;
  month: string;
  dayRequests: number;
  dayTokens: number;
  monthRequests: number;
  monthTokens: number;
}

/** What the caller path asks the meter at the door. */
export interface AdmitRequest {
  quota?: Quota;
  /** The strict global rate limit, taken in the same hop when the client has one. */
  window?: { limit: number; periodSeconds: number };
  /** Requests to count at once (a batch's rows), all or none; 1 when absent. */
  units?: number;
}

export type AdmitOutcome = RateLimitOutcome & { refusal?: 'rate_limited' | 'quota_exceeded' };

/** What a WebSocket connection carried, reported once at its close. */
export interface SocketRecord {
  messagesFromClient: number;
  bytesFromClient: number;
  messagesFromUpstream: number;
  bytesFromUpstream: number;
  durationMs: number;
}

/** One finished call, as the caller path reports it after the answer. */
export interface CallRecord {
  alias: string;
  error: boolean;
  upstreamMs: number;
  inputTokens: number;
  outputTokens: number;
  /** Requests the call counts for: 1, or a batch's rows. */
  requests: number;
  /** How many of them the door already counted against the request quota. */
  admitted: number;
  /** Set for a WebSocket connection, counted when it closed. */
  socket?: SocketRecord;
}

/** Usage of one UTC day, by alias. */
export type DayUsage = Record<string, Counters>;

/** Calls that named no alias (a model list, a refused request) are counted under this key. */
export const NO_ALIAS = '-';

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
export const utcMonth = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

export function emptyCounters(): Counters {
  return Object.fromEntries(COUNTER_KEYS.map((key) => [key, 0])) as unknown as Counters;
}

export function addCounters(into: Counters, add: Partial<Counters>): Counters {
  for (const key of COUNTER_KEYS) into[key] = (into[key] ?? 0) + (add[key] ?? 0);
  return into;
}

/** The stored period, or a fresh one once the UTC day or month has turned. */
export function currentPeriod(stored: Period | undefined, nowMs: number): Period {
  const day = utcDay(nowMs);
  const month = utcMonth(nowMs);
  const sameMonth = stored?.month === month;
  const sameDay = sameMonth && stored?.day === day;
  return {
    day,
    month,
    dayRequests: sameDay ? stored!.dayRequests : 0,
    dayTokens: sameDay ? stored!.dayTokens : 0,
    monthRequests: sameMonth ? stored!.monthRequests : 0,
    monthTokens: sameMonth ? stored!.monthTokens : 0,
  };
}

/** Seconds until the next UTC midnight, or the first of next month. */
export function secondsUntilNext(kind: 'day' | 'month', nowMs: number): number {
  const now = new Date(nowMs);
  const next =
    kind === 'day' ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - nowMs) / 1000));
}

/**
 * Whether `units` more requests may start (one, or a batch's rows, all or
 * none): refused when a request quota cannot take them all, or when a token quota was reached by calls already finished (tokens are
 * only known after an answer, so the call that crosses the line completes and
 * the next one is refused). A month's refusal outlasts a day's, so it is
 * checked first.
 */
export function admitAgainstQuota(period: Period, quota: Quota, nowMs: number, units = 1): AdmitOutcome {
  const over = (used: number, limit: number | undefined) => limit !== undefined && used >= limit;
  const overRequests = (used: number, limit: number | undefined) => limit !== undefined && used + units > limit;
  if (overRequests(period.monthRequests, quota.requestsPerMonth) || over(period.monthTokens, quota.tokensPerMonth)) {
    return { allowed: false, refusal: 'quota_exceeded', retryAfterSeconds: secondsUntilNext('month', nowMs) };
  }
  if (overRequests(period.dayRequests, quota.requestsPerDay) || over(period.dayTokens, quota.tokensPerDay)) {
    return { allowed: false, refusal: 'quota_exceeded', retryAfterSeconds: secondsUntilNext('day', nowMs) };
  }
  return { allowed: true, retryAfterSeconds: 0 };
}

/** The period after one finished call: its tokens, and its requests the door did not already count. */
export function periodAfterCall(period: Period, call: CallRecord): Period {
  const tokens = call.inputTokens + call.outputTokens;
  const requests = Math.max(0, call.requests - call.admitted);
  return {
    ...period,
    dayRequests: period.dayRequests + requests,
    monthRequests: period.monthRequests + requests,
    dayTokens: period.dayTokens + tokens,
    monthTokens: period.monthTokens + tokens,
  };
}

/** The day's usage with one finished call added under its alias. */
export function dayAfterCall(day: DayUsage | undefined, call: CallRecord): DayUsage {
  const next: DayUsage = { ...day };
  const { socket } = call;
  next[call.alias] = addCounters(addCounters(emptyCounters(), next[call.alias] ?? {}), {
    requests: call.requests,
    errors: call.error ? 1 : 0,
    input_tokens: call.inputTokens,
    output_tokens: call.outputTokens,
    upstream_ms: Math.round(call.upstreamMs),
    ...(socket && {
      websocket_connections: 1,
      websocket_messages_from_client: socket.messagesFromClient,
      websocket_bytes_from_client: socket.bytesFromClient,
      websocket_messages_from_upstream: socket.messagesFromUpstream,
      websocket_bytes_from_upstream: socket.bytesFromUpstream,
      websocket_ms: Math.round(socket.durationMs),
    }),
  });
  return next;
}
