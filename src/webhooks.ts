/**
 * The pure core of async inference: verifying Baseten's signed webhooks and
 * moving a request from one status to the next. No I/O here; every function
 * that depends on the clock takes `nowMs`.
 *
 * Signature scheme (Baseten docs, "Async inference", "Keeping webhook secrets
 * secure"): `X-BASETEN-SIGNATURE: v1=<hex HMAC-SHA256(secret, raw body)>`;
 * during a key rotation Baseten sends one `v1=` per live secret,
 * comma-separated, newest first. Baseten's reference verifier refuses a
 * payload whose `time` is more than 300 s old.
 */
import { timingSafeEqualBytes } from './auth.ts';
import { hexToBytes } from './hex.ts';
import { ASYNC_STATUSES, type AsyncError, type AsyncRecord, type AsyncResult, type AsyncStatus, type CancelOutcome } from './async-store.ts';
import { isObject, jsonText, utf8 } from './body.ts';
import type { Target } from './config.ts';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** Baseten's async request ids: 32 lowercase hex characters. */
const BASETEN_REQUEST_ID = /^[0-9a-f]{32}$/;
const V1_SIGNATURE = /^v1=([0-9a-fA-F]{64})$/;
/** ISO 8601 with an optional zone; Baseten writes UTC, with microseconds. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && BASETEN_REQUEST_ID.test(value);
}

// ---------------------------------------------------------------------------
// Webhook verification

/** The `v1=` values of the header as bytes; other schemes and junk are ignored. */
export function signaturesOf(header: string | null): Uint8Array[] {
  if (header === null) return [];
  return header.split(',')
    .map((part) => V1_SIGNATURE.exec(part.trim())?.[1])
    .filter((hex): hex is string => hex !== undefined)
    .map((hex) => hexToBytes(hex.toLowerCase()));
}

export async function hmacSha256(secret: string, body: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, body));
}

/** True when any v1 signature is the HMAC of the raw body under any secret. Every pair is compared, in constant time. */
export async function signatureMatches(body: Uint8Array, header: string | null, secrets: readonly string[]): Promise<boolean> {
  const given = signaturesOf(header);
  let matched = false;
  for (const secret of secrets) {
    const expected = await hmacSha256(secret, body);
    for (const signature of given) matched = timingSafeEqualBytes(expected, signature) || matched;
  }
  return matched;
}

export interface WebhookPayload {
  request_id: string;
  /** `model_id` for models, `chain_id` for chains: the id the request ran on. */
  targetKind: Target['kind'];
  targetId: string;
  time: string;
  data: unknown;
  errors: AsyncError[];
}

export type WebhookVerdict =
  | { ok: true; payload: WebhookPayload }
  | { ok: false; reason: 'not_configured' | 'unsigned' | 'forged' | 'malformed' | 'stale' };

/**
 * Checks a delivery in the order that keeps unsigned bytes from being
 * interpreted: a configured secret, a signature over the raw bytes, then the
 * JSON, then its age.
 */
export async function verifyWebhook(input: { body: Uint8Array; signature: string | null; secrets: readonly string[]; nowMs: number }): Promise<WebhookVerdict> {
  if (input.secrets.length === 0) return { ok: false, reason: 'not_configured' };
  if (signaturesOf(input.signature).length === 0) return { ok: false, reason: 'unsigned' };
  if (!(await signatureMatches(input.body, input.signature, input.secrets))) return { ok: false, reason: 'forged' };
  const text = utf8(input.body);
  const payload = parseWebhookPayload(text === undefined ? undefined : jsonText(text)?.value);
  if (!payload) return { ok: false, reason: 'malformed' };
  if (!isFresh(payload.time, input.nowMs)) return { ok: false, reason: 'stale' };
  return { ok: true, payload };
}

export function parseWebhookPayload(value: unknown): WebhookPayload | undefined {
  if (!isObject(value) || !isRequestId(value.request_id) || typeof value.time !== 'string') return undefined;
  const targetKind = typeof value.model_id === 'string' ? 'model' : typeof value.chain_id === 'string' ? 'chain' : undefined;
  if (!targetKind) return undefined;
  const errors = value.errors === undefined || value.errors === null ? [] : parseErrors(value.errors);
  if (!errors) return undefined;
  return {
    request_id: value.request_id,
    targetKind,
    targetId: String(targetKind === 'model' ? value.model_id : value.chain_id),
    time: value.time,
    data: value.data ?? null,
    errors,
  };
}

/** Milliseconds since the epoch, or undefined; a time without a zone is UTC, as Baseten writes it. */
export function timeMs(time: string): number | undefined {
  const match = ISO_TIME.exec(time);
  if (!match) return undefined;
  const ms = Date.parse(match[2] ? time : `${time}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Within the tolerance either way: an old delivery is a replay, a future one a bad clock or a forgery. */
export function isFresh(time: string, nowMs: number): boolean {
  const sent = timeMs(time);
  return sent !== undefined && Math.abs(nowMs - sent) <= SIGNATURE_TOLERANCE_SECONDS * 1000;
}

/** The delivery is about the model (or chain) the request was sent to. */
export function sameTarget(payload: WebhookPayload, target: Target): boolean {
  return payload.targetKind === target.kind && payload.targetId === target.id;
}

// ---------------------------------------------------------------------------
// Status transitions

const FINAL: ReadonlySet<AsyncStatus> = new Set(['SUCCEEDED', 'FAILED', 'EXPIRED', 'CANCELED', 'WEBHOOK_FAILED']);

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
  };
}

export interface NewRequest {
  requestId: string;
  owner: string;
  alias: string;
  target: Target;
  nowMs: number;
  expiresAt: number;
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
    return { ...named, status: result.status, final: true, created_at: record.created_at, status_at: result.delivered_at, errors: result.errors, ...output, ...cancel };
  }
  if (isFinal(record.status) || !reported) {
    return { ...named, status: record.status, final: isFinal(record.status), created_at: record.created_at, status_at: record.status_at, errors: record.errors, ...cancel };
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

// ---------------------------------------------------------------------------

function isStatus(value: unknown): value is AsyncStatus {
  return typeof value === 'string' && (ASYNC_STATUSES as readonly string[]).includes(value);
}

function parseErrors(value: unknown): AsyncError[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const errors: AsyncError[] = [];
  for (const item of value) {
    if (!isObject(item)) return undefined;
    errors.push({ code: String(item.code ?? 'UNKNOWN'), message: String(item.message ?? '') });
  }
  return errors;
}
