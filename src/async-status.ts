/**
 * The pure core of async inference: the statuses a request moves through,
 * the records the gateway keeps of it, and how each answer from Baseten (a
 * delivered webhook, a status poll, a cancel) moves it on. No I/O here;
 * every function that depends on the clock takes `nowMs`.
 */
import { isObject } from './body.ts';
import type { BasetenTarget } from './config.ts';

/**
 * Baseten's async request ids. Its spec says only "string"; today they are 32
 * hex characters. Anything URL- and key-safe is taken, so a change of shape
 * cannot turn paid, queued work into a 502.
 */
const BASETEN_REQUEST_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && BASETEN_REQUEST_ID.test(value);
}

/** Baseten's async statuses, in the order a request moves through them; the OpenAPI document publishes this list. */
export const ASYNC_STATUSES = ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED', 'WEBHOOK_FAILED'] as const;
export type AsyncStatus = (typeof ASYNC_STATUSES)[number];

/** Statuses after which nothing changes upstream. */
const FINAL: ReadonlySet<AsyncStatus> = new Set(['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED', 'WEBHOOK_FAILED']);

export interface AsyncError {
  code: string;
  message: string;
}

export interface CancelOutcome {
  canceled: boolean;
  /** Baseten's own words, e.g. why an IN_PROGRESS request could not be canceled. */
  message: string;
}

export interface AsyncRecord {
  v: 1;
  request_id: string;
  /** "client:<name>", or "anon:<sha256 hex of the owner token>" for anonymous callers. */
  owner: string;
  alias: string;
  /** The target at submit time: status and cancel go where the request went, whatever MODELS says later. */
  target: BasetenTarget;
  created_at: string;
  /** Epoch seconds at which KV drops the record; rewrites keep it. */
  expires_at: number;
  status: AsyncStatus;
  status_at: string;
  errors: AsyncError[];
  cancel?: CancelOutcome & { at: string };
  /** Epoch seconds at which the cron asks Baseten about it if nothing was heard (its due entry in async-store.ts). */
  reconcile_at?: number;
}

export interface AsyncResult {
  v: 1;
  request_id: string;
  status: 'SUCCEEDED' | 'FAILED';
  /** The webhook's `data`: the model output, null when the request failed. */
  output: unknown;
  errors: AsyncError[];
  /** The webhook's `time`: when Baseten sent it. */
  delivered_at: string;
  /** What the delivery ran on: a delivery stored before its record was seen is joined only to a record of the same target. */
  target?: { kind: BasetenTarget['kind']; id: string };
}

/** A delivery whose signature and age webhook-verify.ts checked. */
export interface WebhookPayload {
  request_id: string;
  /** `model_id` for models, `chain_id` for chains: the id the request ran on. */
  targetKind: BasetenTarget['kind'];
  targetId: string;
  time: string;
  data: unknown;
  errors: AsyncError[];
}

export function isFinal(status: AsyncStatus): boolean {
  return FINAL.has(status);
}

/** What the webhook stores. Baseten's `type` is the same on failure; errors tell them apart. */
export function resultOf(payload: WebhookPayload): AsyncResult {
  return {
    v: 1,
    request_id: payload.request_id,
    status: payload.errors.length > 0 ? 'FAILED' : 'SUCCEEDED',
    output: payload.data,
    errors: payload.errors,
    delivered_at: payload.time,
    target: { kind: payload.targetKind, id: payload.targetId },
  };
}

/** The delivered result of this record, if any: one naming another target (an id that collided, or a forgery) is not its result. */
export function resultFor(record: AsyncRecord, result: AsyncResult | undefined): AsyncResult | undefined {
  if (!result?.target) return result;
  return sameBasetenTarget(result.target, record.target) ? result : undefined;
}

/** The same model or chain: what a delivery and the request it answers must agree on. */
export function sameBasetenTarget(a: Pick<BasetenTarget, 'kind' | 'id'>, b: Pick<BasetenTarget, 'kind' | 'id'>): boolean {
  return a.kind === b.kind && a.id === b.id;
}

export interface NewRequest {
  requestId: string;
  owner: string;
  alias: string;
  target: BasetenTarget;
  nowMs: number;
  expiresAt: number;
  /** Epoch seconds at which the cron first asks Baseten about it. */
  reconcileAt: number;
}

export function queuedRecord(request: NewRequest): AsyncRecord {
  const now = new Date(request.nowMs).toISOString();
  return {
    v: 1,
    request_id: request.requestId,
    owner: request.owner,
    alias: request.alias,
    target: request.target,
    created_at: now,
    expires_at: request.expiresAt,
    status: 'QUEUED',
    status_at: now,
    errors: [],
    reconcile_at: request.reconcileAt,
  };
}

/** What Baseten's `GET /async_request/{id}` says, without its model and deployment ids. */
export interface BasetenStatus {
  status: AsyncStatus;
  webhook_status?: string;
  status_at?: string;
  errors: AsyncError[];
}

export function parseBasetenStatus(value: unknown): BasetenStatus | undefined {
  if (!isObject(value) || !isStatus(value.status)) return undefined;
  const errors = value.errors === undefined || value.errors === null ? [] : parseErrors(value.errors);
  if (!errors) return undefined;
  return {
    status: value.status,
    webhook_status: typeof value.webhook_status === 'string' ? value.webhook_status : undefined,
    status_at: typeof value.status_at === 'string' ? value.status_at : undefined,
    errors,
  };
}

/**
 * The record after Baseten reported a status, or undefined when there is
 * nothing worth keeping. Only final statuses are kept, and not SUCCEEDED: the
 * output is still on its way in the webhook, and Baseten forgets the status
 * an hour after completion while the record outlives that.
 */
export function afterBasetenStatus(record: AsyncRecord, reported: BasetenStatus, nowMs: number): AsyncRecord | undefined {
  if (isFinal(record.status) || !isFinal(reported.status) || reported.status === 'SUCCEEDED') return undefined;
  return { ...record, status: reported.status, status_at: reported.status_at ?? new Date(nowMs).toISOString(), errors: reported.errors };
}

export function parseCancelOutcome(value: unknown): CancelOutcome | undefined {
  if (!isObject(value) || typeof value.canceled !== 'boolean') return undefined;
  return { canceled: value.canceled, message: typeof value.message === 'string' ? value.message : '' };
}

/** A cancel Baseten accepted ends the request; a refused one (already running) only leaves its answer on the record. */
export function afterCancel(record: AsyncRecord, outcome: CancelOutcome, nowMs: number): AsyncRecord {
  const at = new Date(nowMs).toISOString();
  const next: AsyncRecord = { ...record, cancel: { ...outcome, at } };
  return outcome.canceled ? { ...next, status: 'CANCELED', status_at: at } : next;
}

/** What a caller sees of its request. IDs are not in it: the alias names the model. */
export interface StatusView {
  request_id: string;
  model: string;
  status: AsyncStatus;
  /** True once the gateway holds the outcome; until then poll again (the output may be in flight). */
  final: boolean;
  created_at: string;
  status_at: string;
  webhook_status?: string;
  errors: AsyncError[];
  output?: unknown;
  cancel?: CancelOutcome;
}

/**
 * Merges what the gateway knows with what Baseten reported (when it was
 * asked). The delivered result wins over everything; then a final status on
 * the record; then Baseten's live status; then the record as it stands.
 */
export function statusView(record: AsyncRecord, result: AsyncResult | undefined, reported: BasetenStatus | undefined): StatusView {
  const named = { request_id: record.request_id, model: record.alias };
  const cancel = record.cancel ? { cancel: { canceled: record.cancel.canceled, message: record.cancel.message } } : {};
  if (result) {
    const output = result.status === 'SUCCEEDED' ? { output: result.output } : {};
    return {
      ...named,
      status: result.status,
      final: true,
      created_at: record.created_at,
      status_at: result.delivered_at,
      errors: result.errors,
      ...output,
      ...cancel,
    };
  }
  if (isFinal(record.status) || !reported) {
    return {
      ...named,
      status: record.status,
      final: isFinal(record.status),
      created_at: record.created_at,
      status_at: record.status_at,
      errors: record.errors,
      ...cancel,
    };
  }
  return {
    ...named,
    status: reported.status,
    // SUCCEEDED on Baseten's side is not final here until the webhook's output is stored.
    final: isFinal(reported.status) && reported.status !== 'SUCCEEDED',
    created_at: record.created_at,
    status_at: reported.status_at ?? record.status_at,
    ...(reported.webhook_status ? { webhook_status: reported.webhook_status } : {}),
    errors: reported.errors,
    ...cancel,
  };
}

function isStatus(value: unknown): value is AsyncStatus {
  return typeof value === 'string' && (ASYNC_STATUSES as readonly string[]).includes(value);
}

export function parseErrors(value: unknown): AsyncError[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const errors: AsyncError[] = [];
  for (const item of value) {
    if (!isObject(item)) return undefined;
    errors.push({ code: String(item.code ?? 'UNKNOWN'), message: String(item.message ?? '') });
  }
  return errors;
}

/**
 * Baseten tries a webhook twice, ~2 s apart, 10 s each: a final status older
 * than this with no result stored means the result is not coming.
 */
export const WEBHOOK_GRACE_MS = 60_000;

const NEVER_DELIVERED = 'RESULT_NEVER_DELIVERED';

/** What the cron does with a record it asked Baseten about: nothing more, ask again later, or write it final. */
export type ReconcileStep = { kind: 'later' } | { kind: 'final'; record: AsyncRecord };

/**
 * The cron's verdict on a record with no result that is not final here.
 * `reported` undefined: Baseten no longer knows the id (it keeps status an
 * hour after completion), so no result can come any more.
 */
export function reconcileStep(record: AsyncRecord, reported: BasetenStatus | undefined, nowMs: number): ReconcileStep {
  const at = new Date(nowMs).toISOString();
  if (!reported) {
    const error = {
      code: NEVER_DELIVERED,
      message: 'Baseten no longer knows this request (it keeps status for one hour after completion) and no result was delivered to the gateway',
    };
    return { kind: 'final', record: { ...record, status: 'EXPIRED', status_at: at, errors: [error] } };
  }
  if (!isFinal(reported.status)) return { kind: 'later' };
  const finishedMs = reported.status_at === undefined ? undefined : utcMs(reported.status_at);
  // A result may still be on its way (the retry comes ~2 s after the first attempt).
  if (finishedMs === undefined || nowMs - finishedMs < WEBHOOK_GRACE_MS) return { kind: 'later' };
  if (reported.status === 'SUCCEEDED' || reported.status === 'WEBHOOK_FAILED') {
    const error = {
      code: NEVER_DELIVERED,
      message: `Baseten reports ${reported.status}, but its webhook never delivered the result to the gateway: the output is lost`,
    };
    return { kind: 'final', record: { ...record, status: 'WEBHOOK_FAILED', status_at: at, errors: [...reported.errors, error] } };
  }
  return { kind: 'final', record: { ...record, status: reported.status, status_at: reported.status_at ?? at, errors: reported.errors } };
}

/** Baseten writes UTC without a zone. */
/** Milliseconds since the epoch, or undefined; a time without a zone is UTC, as Baseten writes it. */
export function utcMs(time: string): number | undefined {
  const ms = Date.parse(/[Zz]|[+-]\d{2}:\d{2}$/.test(time) ? time : `${time}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}
