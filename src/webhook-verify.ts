/**
 * Verifying Baseten's signed async result deliveries. Pure: the clock comes
 * in as `nowMs`.
 *
 * Signature scheme (Baseten docs, "Async inference", "Keeping webhook secrets
 * secure"): `X-BASETEN-SIGNATURE: v1=<hex HMAC-SHA256(secret, raw body)>`;
 * during a key rotation Baseten sends one `v1=` per live secret,
 * comma-separated, newest first. Baseten's reference verifier refuses a
 * payload whose `time` is more than 300 s old.
 */
import { isRequestId, parseErrors, sameBasetenTarget, utcMs, type WebhookPayload } from './async-status.ts';
import { isObject, jsonText, utf8 } from './body.ts';
import type { BasetenTarget } from './config.ts';
import { hmacSha256, timingSafeEqualBytes } from './crypto.ts';
import { hexToBytes } from './hex.ts';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

const V1_SIGNATURE = /^v1=([0-9a-fA-F]{64})$/;
/** ISO 8601 with an optional zone; Baseten writes UTC, with microseconds. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** The `v1=` values of the header as bytes; other schemes and junk are ignored. */
export function signaturesOf(header: string | null): Uint8Array[] {
  if (header === null) return [];
  return header
    .split(',')
    .map((part) => V1_SIGNATURE.exec(part.trim())?.[1])
    .filter((hex): hex is string => hex !== undefined)
    .map((hex) => hexToBytes(hex.toLowerCase()));
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

export type WebhookVerdict = { ok: true; payload: WebhookPayload } | { ok: false; reason: 'not_configured' | 'unsigned' | 'forged' | 'malformed' | 'stale' };

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
  return ISO_TIME.test(time) ? utcMs(time) : undefined;
}

/** Within the tolerance either way: an old delivery is a replay, a future one a bad clock or a forgery. */
export function isFresh(time: string, nowMs: number): boolean {
  const sent = timeMs(time);
  return sent !== undefined && Math.abs(nowMs - sent) <= SIGNATURE_TOLERANCE_SECONDS * 1000;
}

/** The delivery is about the model (or chain) the request was sent to. */
export function sameTarget(payload: WebhookPayload, target: BasetenTarget): boolean {
  return sameBasetenTarget({ kind: payload.targetKind, id: payload.targetId }, target);
}
