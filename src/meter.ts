/**
 * The caller path's side of CLIENT_METER: the door (a quota'd client is
 * counted before its body is read or Baseten is called, its strict global
 * rate limit taken in the same hop), the count after the answer (in
 * waitUntil, never in the way of a byte; summed per isolate for clients
 * without a quota), and reading a client's days back.
 */
import type { Caller } from './auth.ts';
import type { MeterUsage } from './client-meter.ts';
import { type ConfigSource, loadConfig } from './config.ts';
import { HttpError } from './errors.ts';
import { type AdmitOutcome, type AdmitRequest, type CallRecord, utcDay } from './meter-rules.ts';
import { enforceRateLimit } from './rate-limit.ts';
import { describeForLog } from './redact.ts';
import { addToBatch, batchRequests, openBatch, type UsageBatch } from './usage-batch.ts';

function meterFor(env: Env, key: string): DurableObjectStub {
  const namespace = env.CLIENT_METER!;
  return namespace.get(namespace.idFromName(key));
}

async function ask<T>(stub: DurableObjectStub, path: string, body?: unknown): Promise<T> {
  const res = await stub.fetch(`https://client-meter${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`meter answered ${res.status}`);
  return res.json<T>();
}

/**
 * Lets the caller in or throws 429: `units` requests (one, or a batch's rows)
 * taken together or not at all. A client without a quota goes through the
 * rate limiter alone; one with a quota is counted by its meter, which also
 * takes its global rate limit (one hop instead of two). Answers whether the
 * meter counted them, so the count after the answer does not repeat them.
 */
export async function admit(caller: Caller, env: Env, requestId: string, units = 1): Promise<boolean> {
  const { quota, rateLimit } = caller;
  if (!quota) {
    await enforceRateLimit(caller, env, requestId, units);
    return false;
  }
  if (rateLimit.kind === 'binding') await enforceRateLimit(caller, env, requestId, units);
  const asked: AdmitRequest = {
    quota,
    window: rateLimit.kind === 'global' ? { limit: rateLimit.limit, periodSeconds: rateLimit.periodSeconds } : undefined,
    units,
  };
  let outcome: AdmitOutcome;
  try {
    outcome = await ask<AdmitOutcome>(meterFor(env, caller.meterKey), '/admit', asked);
  } catch (err) {
    const open = quota.onMeterFailure === 'open';
    logMeterFailure(requestId, `meter unreachable, request ${open ? 'let through' : 'refused'}: ${describeForLog(err)}`);
    if (open) return false;
    throw new HttpError('service_unavailable', 'usage meter unavailable; retry later');
  }
  if (!outcome.allowed) {
    const quotaOver = outcome.refusal === 'quota_exceeded';
    throw new HttpError(
      quotaOver ? 'quota_exceeded' : 'rate_limited',
      quotaOver ? `client "${caller.name}" has used up its quota` : 'too many requests; retry later',
      {
        'retry-after': String(outcome.retryAfterSeconds),
      },
    );
  }
  return true;
}

/** Sums of calls not yet written, by meter key and UTC day; lost only if the isolate is evicted inside the window. */
const pending = new Map<string, UsageBatch>();

/**
 * Adds a finished call to its client's usage; a failure is logged and the
 * call goes uncounted. A client with a quota is written at once: its token
 * quota must refuse the call after the one that crossed it. The others'
 * calls are summed in this isolate for `usage_flush_ms` and written in one
 * request; the call that opens a sum waits out the window and writes it, in
 * its own waitUntil.
 */
export async function recordCall(env: Env, caller: Pick<Caller, 'meterKey' | 'quota'>, call: CallRecord, requestId: string): Promise<void> {
  if (!env.CLIENT_METER) return;
  const flushMs = loadConfig(env as ConfigSource).settings.usageFlushMs;
  if (caller.quota || flushMs === 0) {
    await post(env, caller.meterKey, '/record', call, requestId, 'call not counted');
    return;
  }
  const nowMs = Date.now();
  const key = `${caller.meterKey} ${utcDay(nowMs)}`;
  const open = pending.get(key);
  if (open) {
    addToBatch(open, call);
    return;
  }
  const batch = openBatch(nowMs);
  addToBatch(batch, call);
  pending.set(key, batch);
  await new Promise((resolve) => setTimeout(resolve, flushMs));
  // Calls finishing from here on open the next sum.
  pending.delete(key);
  await post(env, caller.meterKey, '/record-batch', batch, requestId, `${batchRequests(batch)} calls not counted`);
}

async function post(env: Env, meterKey: string, path: string, body: unknown, requestId: string, lost: string): Promise<void> {
  try {
    const res = await meterFor(env, meterKey).fetch(`https://client-meter${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`meter answered ${res.status}`);
  } catch (err) {
    logMeterFailure(requestId, `${lost}: ${describeForLog(err)}`);
  }
}

/** The client's days of usage, the last `days` of them. */
export async function meteredDays(env: Env, meterKey: string, days: number): Promise<MeterUsage> {
  if (!env.CLIENT_METER) throw new HttpError('service_unavailable', 'usage needs the CLIENT_METER binding');
  try {
    return await ask<MeterUsage>(meterFor(env, meterKey), `/usage?days=${days}`);
  } catch (err) {
    logMeterFailure('', `usage read failed: ${describeForLog(err)}`);
    throw new HttpError('service_unavailable', 'usage meter unavailable; retry later');
  }
}

function logMeterFailure(requestId: string, error: string): void {
  console.error(JSON.stringify({ level: 'error', request_id: requestId || undefined, error }));
}
