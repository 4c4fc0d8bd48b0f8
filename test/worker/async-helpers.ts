/** Helpers for the async tests: submitting, signing deliveries as Baseten does, reading what KV holds. */
import { env } from 'cloudflare:test';
import { expect, vi } from 'vitest';
import type { AsyncRecord, AsyncResult } from '../../src/async-status.ts';
import { recordKey, resultKey } from '../../src/async-store.ts';
import { TEST_WEBHOOK_SECRET } from '../config.ts';
import { type CallOptions, call, uniqueId } from './helpers.ts';

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
    upstream: 1,
    ...options,
    headers: { 'x-request-id': id, ...(options.headers as Record<string, string> | undefined) },
  });
  expect(res.status).toBe(201);
  return { gatewayId: id, accepted: (await res.json()) as Accepted };
}

/**
 * Signs as Baseten does (HMAC-SHA256 of the body, hex, after `v1=`), written
 * here rather than taken from src/ so the gateway's verifier is never checked
 * against itself; async-units.test.ts holds it to fixed vectors.
 */
export async function signature(body: string, secret = TEST_WEBHOOK_SECRET): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(body)));
  return `v1=${hex(mac)}`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
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
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Polls `probe` until it returns something, within a deadline: the fake's
 * lifecycle runs on real timers in another process, out of fake timers' reach.
 */
export function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await probe();
      if (value === undefined) throw new Error('condition not met yet');
      return value;
    },
    { timeout: timeoutMs, interval: 20 },
  );
}
