import { describe, expect, it } from 'vitest';
import { parseAsyncSubmit, withWebhookEndpoint } from '../../src/async-input.ts';
import { type AsyncRecord, type AsyncResult, afterBasetenStatus, afterCancel, type BasetenStatus, resultOf, statusView } from '../../src/async-status.ts';
import { kvExpiration, recordExpiry } from '../../src/async-store.ts';
import { isFresh, parseWebhookPayload, signatureMatches, signaturesOf, timeMs, verifyWebhook } from '../../src/webhook-verify.ts';
import { deliveryBody, signature } from './async-helpers.ts';
import { EARLIER_DELIVERY, MALFORMED_DELIVERY, NOON_DELIVERY, VECTOR_REQUEST_ID, VECTORS, vectorSignature } from './webhook-vectors.ts';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const ID = VECTOR_REQUEST_ID;
const encode = (text: string) => new TextEncoder().encode(text);

function record(overrides: Partial<AsyncRecord> = {}): AsyncRecord {
  return {
    v: 1,
    request_id: ID,
    owner: 'client:alice',
    alias: 'm',
    target: { kind: 'model', id: 'abc123', deployment: { kind: 'environment', name: 'production' } },
    created_at: '2026-05-01T11:59:00.000Z',
    expires_at: 0,
    status: 'QUEUED',
    status_at: '2026-05-01T11:59:00.000Z',
    errors: [],
    ...overrides,
  };
}

describe('webhook signatures', () => {
  it('reads every v1= value of a rotation header and ignores other schemes and junk', () => {
    const a = 'ab'.repeat(32);
    const b = 'CD'.repeat(32);
    expect(signaturesOf(`v1=${a}, v1=${b},v0=${a},v1=short,${a}`)).toHaveLength(2);
    expect(signaturesOf(null)).toEqual([]);
  });

  it('matches any signature under any configured secret, and nothing else', async () => {
    const body = encode(NOON_DELIVERY);
    const good = vectorSignature(NOON_DELIVERY, 'whsec_old');
    const other = vectorSignature(NOON_DELIVERY, 'whsec_other');
    expect(await signatureMatches(body, `${other},${good}`, ['whsec_new', 'whsec_old'])).toBe(true);
    expect(await signatureMatches(body, other, ['whsec_new', 'whsec_old'])).toBe(false);
    expect(await signatureMatches(body, good.slice(0, -2), ['whsec_old'])).toBe(false);
    expect(await signatureMatches(encode(`${NOON_DELIVERY} `), good, ['whsec_old'])).toBe(false);
  });

  it('accepts every fixed vector under its own secret and under no other', async () => {
    for (const { secret, body, hex } of VECTORS) {
      expect(await signatureMatches(encode(body), `v1=${hex}`, [secret])).toBe(true);
      expect(await signatureMatches(encode(body), `v1=${hex}`, [`${secret}x`])).toBe(false);
    }
  });

  it("is matched by the tests' own signer, which the async tests use for bodies made at run time", async () => {
    for (const { secret, body, hex } of VECTORS) expect(await signature(body, secret)).toBe(`v1=${hex}`);
  });
});

describe('verifyWebhook', () => {
  const secrets = ['whsec_test'];
  async function verify(text: string, header?: string | null, nowMs = NOW) {
    const signatureHeader = header === undefined ? vectorSignature(text, 'whsec_test') : header;
    return verifyWebhook({ body: encode(text), signature: signatureHeader, secrets, nowMs });
  }

  it('accepts a signed, fresh delivery and reads it', async () => {
    const verdict = await verify(EARLIER_DELIVERY);
    expect(verdict).toEqual({
      ok: true,
      payload: { request_id: ID, targetKind: 'model', targetId: 'abc123', time: '2026-05-01T11:58:00.123456Z', data: { output: 'x' }, errors: [] },
    });
  });

  it('refuses in order: no secret, no signature, a wrong one (before parsing), a malformed body, a stale time', async () => {
    const body = NOON_DELIVERY;
    expect(await verifyWebhook({ body: encode(body), signature: vectorSignature(body, 'whsec_test'), secrets: [], nowMs: NOW })).toEqual({
      ok: false,
      reason: 'not_configured',
    });
    expect(await verify(body, null)).toEqual({ ok: false, reason: 'unsigned' });
    expect(await verify('{not json', vectorSignature('{}', 'whsec_test'))).toEqual({ ok: false, reason: 'forged' });
    expect(await verify(MALFORMED_DELIVERY)).toEqual({ ok: false, reason: 'malformed' });
    expect(await verify(body, undefined, NOW + 301_000)).toEqual({ ok: false, reason: 'stale' });
    expect(await verify(body, undefined, NOW - 301_000)).toEqual({ ok: false, reason: 'stale' });
    expect((await verify(body, undefined, NOW + 300_000)).ok).toBe(true);
  });

  it('reads chain deliveries by chain_id', () => {
    expect(parseWebhookPayload({ request_id: ID, chain_id: 'xyz789', time: 't', data: null, errors: [] })).toMatchObject({
      targetKind: 'chain',
      targetId: 'xyz789',
    });
  });
});

describe('delivery times', () => {
  it("reads Baseten's microsecond UTC times, zone or not, and nothing else", () => {
    expect(timeMs('2024-04-30T01:01:08.883423Z')).toBe(Date.parse('2024-04-30T01:01:08.883Z'));
    expect(timeMs('2024-04-30T01:01:08.883423')).toBe(Date.parse('2024-04-30T01:01:08.883Z'));
    expect(timeMs('2024-04-30T03:01:08+02:00')).toBe(Date.parse('2024-04-30T01:01:08Z'));
    expect(timeMs('yesterday')).toBeUndefined();
    expect(isFresh('1714438868', NOW)).toBe(false);
  });
});

describe('status transitions', () => {
  const reported = (status: BasetenStatus['status'], errors: BasetenStatus['errors'] = []): BasetenStatus => ({
    status,
    webhook_status: 'PENDING',
    status_at: '2026-05-01T12:00:00Z',
    errors,
  });

  it('keeps final statuses no webhook will bring, but not SUCCEEDED, whose output is still on its way', () => {
    for (const status of ['EXPIRED', 'CANCELED', 'WEBHOOK_FAILED', 'FAILED'] as const) {
      expect(afterBasetenStatus(record(), reported(status), NOW)?.status).toBe(status);
    }
    for (const status of ['QUEUED', 'IN_PROGRESS', 'SUCCEEDED'] as const) {
      expect(afterBasetenStatus(record(), reported(status), NOW)).toBeUndefined();
    }
    expect(afterBasetenStatus(record({ status: 'CANCELED' }), reported('EXPIRED'), NOW)).toBeUndefined();
  });

  it('ends the request on an accepted cancel and only notes a refused one', () => {
    expect(afterCancel(record(), { canceled: true, message: 'ok' }, NOW)).toMatchObject({ status: 'CANCELED', cancel: { canceled: true, message: 'ok' } });
    expect(afterCancel(record(), { canceled: false, message: 'running' }, NOW)).toMatchObject({ status: 'QUEUED', cancel: { canceled: false } });
  });

  it("lets a delivered result win, and calls Baseten's SUCCEEDED not final until the output is here", () => {
    const result: AsyncResult = { v: 1, request_id: ID, status: 'SUCCEEDED', output: { y: 1 }, errors: [], delivered_at: 't' };
    expect(statusView(record({ status: 'WEBHOOK_FAILED' }), result, undefined)).toMatchObject({ status: 'SUCCEEDED', final: true, output: { y: 1 } });
    const pending = statusView(record(), undefined, reported('SUCCEEDED'));
    expect(pending).toMatchObject({ status: 'SUCCEEDED', final: false, webhook_status: 'PENDING' });
    expect(pending).not.toHaveProperty('output');
    expect(statusView(record(), undefined, undefined)).toMatchObject({ status: 'QUEUED', final: false });
  });

  it('derives a stored result from the payload alone, so a repeated delivery writes the same bytes', () => {
    const payload = parseWebhookPayload(
      JSON.parse(deliveryBody(ID, { time: '2026-05-01T12:00:00Z', errors: [{ code: 'MODEL_PREDICT_ERROR', message: 'boom' }] })),
    )!;
    expect(JSON.stringify(resultOf(payload))).toBe(JSON.stringify(resultOf({ ...payload })));
    expect(resultOf(payload)).toMatchObject({ status: 'FAILED', errors: [{ code: 'MODEL_PREDICT_ERROR', message: 'boom' }] });
  });
});

describe('async records in KV', () => {
  it("keeps a record through its queue time, Baseten's hour of running and the retention", () => {
    expect(recordExpiry(NOW, 600, 604_800)).toBe(NOW / 1000 + 600 + 3600 + 300 + 604_800);
  });

  it('never asks KV for an expiration less than 60 s ahead', () => {
    expect(kvExpiration(NOW / 1000 + 10, NOW)).toBe(NOW / 1000 + 60);
    expect(kvExpiration(NOW / 1000 + 3600, NOW)).toBe(NOW / 1000 + 3600);
  });
});

describe('async submit body', () => {
  it("defaults the queue time to Baseten's 600 s", () => {
    expect(parseAsyncSubmit({ model_input: null })).toEqual({ modelInput: null, maxQueueSeconds: 600 });
    expect(parseAsyncSubmit({ model_input: 1, max_time_in_queue_seconds: 10, priority: 0, inference_retry_config: { max_attempts: 3 } })).toEqual({
      modelInput: 1,
      maxQueueSeconds: 10,
    });
  });

  it("splices webhook_endpoint into the caller's bytes, trailing whitespace and all", () => {
    const out = new TextDecoder().decode(withWebhookEndpoint('{"model_input": {"n": 12345678901234567890}}\n ', 'https://g.example/v1/webhooks/baseten'));
    expect(out).toBe('{"model_input": {"n": 12345678901234567890},"webhook_endpoint":"https://g.example/v1/webhooks/baseten"}\n ');
    expect(JSON.parse(out).webhook_endpoint).toBe('https://g.example/v1/webhooks/baseten');
  });
});
