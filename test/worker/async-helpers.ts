/** Helpers for the async tests: submitting, signing deliveries as Baseten does, reading what KV holds. */
import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import type { AsyncRecord, AsyncResult } from '../../src/async-status.ts';
import { recordKey, resultKey } from '../../src/async-store.ts';
import { bytesToHex } from '../../src/hex.ts';
import { hmacSha256 } from '../../src/crypto.ts';
import { TEST_WEBHOOK_SECRET } from '../config.ts';
import { call, sleep, uniqueId, type CallOptions } from './helpers.ts';

export interface Accepted {
  request_id: string;
  model: string;
  status: string;
  status_url: string;
  owner_token?: string;
}

/** Submits through the gateway; `fake` steers the fake Baseten's lifecycle (a long queue keeps the request QUEUED). */
export async function submit(alias: string, fake: Record<string, unknown> = { queue_ms: 600_000 }, options: CallOptions = {}) {
  const id = uniqueId('async');
  const res = await call(`/v1/models/${alias}/async`, {
    token: 'alice',
    json: { model_input: { prompt: 'hi', fake } },
    ...options,
    headers: { 'x-request-id': id, ...(options.headers as Record<string, string> | undefined) },
  });
  expect(res.status).toBe(201);
  return { gatewayId: id, accepted: (await res.json()) as Accepted };
}

export async function signature(body: string, secret = TEST_WEBHOOK_SECRET): Promise<string> {
  return `v1=${bytesToHex(await hmacSha256(secret, new TextEncoder().encode(body)))}`;
}

/** Baseten's delivery body: compact JSON in its documented field order. */
export function deliveryBody(requestId: string, fields: { modelId?: string; time?: string; data?: unknown; errors?: unknown[] } = {}): string {
  return JSON.stringify({
    request_id: requestId,
    model_id: fields.modelId ?? 'abc123',
    deployment_id: 'dep-env-production',
    type: 'async_request_completed',
    time: fields.time ?? new Date().toISOString(),
    data: fields.data === undefined ? { output: 'done' } : fields.data,
    errors: fields.errors ?? [],
  });
}

export function deliver(body: string, signatureHeader: string | null, headers: Record<string, string> = {}) {
  return call('/v1/webhooks/baseten', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...(signatureHeader === null ? {} : { 'x-baseten-signature': signatureHeader }), ...headers },
  });
}

export async function deliverSigned(body: string) {
  return deliver(body, await signature(body));
}

export async function storedRecord(requestId: string): Promise<AsyncRecord | null> {
  return env.ASYNC_REQUESTS.get(recordKey(requestId), 'json');
}

export async function storedResult(requestId: string): Promise<AsyncResult | null> {
  return env.ASYNC_REQUESTS.get(resultKey(requestId), 'json');
}

/** A Baseten-shaped id that nothing was ever submitted under. */
export function randomRequestId(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** Polls `probe` until it returns something; the fake's lifecycle runs on its own timers. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
