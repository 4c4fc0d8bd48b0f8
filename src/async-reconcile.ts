/**
 * The cron's second job: async requests whose result never came. It reads a
 * bounded page of the due index (async-store.ts), asks Baseten about each
 * request while Baseten still knows it, and either writes it final
 * (WEBHOOK_FAILED or EXPIRED, with the reason) or moves its entry on. One
 * request's failure does not stop the others; each outcome is one log line.
 */
import { type AsyncRecord, type BasetenStatus, isFinal, parseBasetenStatus, reconcileStep, resultFor } from './async-status.ts';
import { AsyncStore, type DueEntry } from './async-store.ts';
import { callBaseten } from './baseten.ts';
import type { Config } from './config.ts';
import { HttpError, publicReason } from './errors.ts';
import { readSmallJson } from './upstream-errors.ts';

/**
 * Requests looked at per run. Each costs one Baseten call and a few KV
 * operations; 40 stays inside the free plan's 50 subrequests per invocation.
 */
export const RECONCILE_BATCH = 40;
/** Baseten calls at once: the status endpoint allows 20 a second per model. */
const RECONCILE_CONCURRENCY = 4;
/** A status call that hangs must not hold the run. */
const RECONCILE_TIMEOUT_MS = 10_000;

export type ReconcileOutcome =
  /** The record is final here or has its result: its entry is dropped. */
  | 'already_final'
  /** No record here (gone with its TTL): the entry is dropped. */
  | 'no_record'
  /** Baseten says it is still running, or finished too recently: asked again later. */
  | 'later'
  /** Written final from Baseten's answer. */
  | 'finalized'
  /** Baseten or KV failed: asked again later. */
  | 'failed';

export interface ReconcileReport {
  async_request_id: string;
  outcome: ReconcileOutcome;
  status?: string;
  error?: string;
}

export interface ReconcileRun {
  /** Sent upstream as x-request-id and written in each log line. */
  requestId: string;
  nowMs: number;
  limit?: number;
}

export async function reconcileAll(config: Config, kv: KVNamespace, run: ReconcileRun): Promise<ReconcileReport[]> {
  const store = new AsyncStore(kv);
  const entries = await store.due(run.nowMs, run.limit ?? RECONCILE_BATCH);
  const reports: ReconcileReport[] = [];
  for (let i = 0; i < entries.length; i += RECONCILE_CONCURRENCY) {
    const slice = entries.slice(i, i + RECONCILE_CONCURRENCY);
    reports.push(...(await Promise.all(slice.map((entry) => reconcileOne(config, store, entry, run)))));
  }
  return reports;
}

async function reconcileOne(config: Config, store: AsyncStore, entry: DueEntry, run: ReconcileRun): Promise<ReconcileReport> {
  let report: ReconcileReport;
  try {
    report = await decide(config, store, entry, run);
  } catch (err) {
    report = { async_request_id: entry.requestId, outcome: 'failed', error: publicReason(err) };
    // Moved on so that a request Baseten keeps failing on cannot hold the head of the index.
    await moveOn(store, entry, run, config).catch(() => {});
  }
  const line = JSON.stringify({ event: 'async_reconcile', request_id: run.requestId, ...report });
  if (report.outcome === 'failed') console.error(line);
  else console.log(line);
  return report;
}

async function decide(config: Config, store: AsyncStore, entry: DueEntry, run: ReconcileRun): Promise<ReconcileReport> {
  const id = entry.requestId;
  const [record, result] = await Promise.all([store.record(id), store.result(id)]);
  if (!record) {
    await store.dropDue(entry.key);
    return { async_request_id: id, outcome: 'no_record' };
  }
  const delivered = resultFor(record, result);
  if (delivered || isFinal(record.status)) {
    await store.dropDue(entry.key);
    return { async_request_id: id, outcome: 'already_final', status: delivered?.status ?? record.status };
  }
  const step = reconcileStep(record, await askBaseten(config, record, run.requestId), run.nowMs);
  if (step.kind === 'later') {
    await moveOn(store, entry, run, config, record);
    return { async_request_id: id, outcome: 'later' };
  }
  await store.saveRecord(step.record, run.nowMs);
  await store.dropDue(entry.key);
  return { async_request_id: id, outcome: 'finalized', status: step.record.status };
}

/** The entry comes due again one interval from now. */
async function moveOn(store: AsyncStore, entry: DueEntry, run: ReconcileRun, config: Config, record?: AsyncRecord): Promise<void> {
  const next = Math.ceil(run.nowMs / 1000) + config.settings.asyncReconcileAfterSeconds;
  const known = record ?? (await store.record(entry.requestId));
  if (known) await store.reschedule(known, next, run.nowMs);
  await store.dropDue(entry.key);
}

/** Baseten's status, or undefined when it no longer knows the id. */
async function askBaseten(config: Config, record: AsyncRecord, requestId: string): Promise<BasetenStatus | undefined> {
  const upstream = await callBaseten(
    config,
    record,
    { asyncRequest: record.request_id },
    {
      method: 'GET',
      requestId,
      timeoutMs: RECONCILE_TIMEOUT_MS,
      keep: [404],
    },
  );
  if (upstream.status === 404) {
    await upstream.body?.cancel();
    return undefined;
  }
  const reported = parseBasetenStatus(await readSmallJson(upstream));
  if (!reported) throw new HttpError('upstream_error', 'Baseten answered an unreadable async status');
  return reported;
}

/** The cron's reconciliation run; its Baseten calls carry the run's request id. A KV failure was logged by the store. */
export async function reconcileRun(config: Config, kv: KVNamespace, requestId: string): Promise<void> {
  try {
    const reports = await reconcileAll(config, kv, { requestId, nowMs: Date.now() });
    console.log(JSON.stringify({ event: 'async_reconcile_run', request_id: requestId, looked_at: reports.length }));
  } catch (err) {
    console.error(JSON.stringify({ event: 'async_reconcile_run', request_id: requestId, ok: false, error: publicReason(err) }));
  }
}
