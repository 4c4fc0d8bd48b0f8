/**
 * Upstream faults inside workerd: each maps to the contract's error, the next
 * request is served normally, and retries happen only where they cannot run a
 * model twice (the fake's log counts the attempts). The same faults under
 * `wrangler dev` are in test/node/faults-e2e.test.ts.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../../src/index.ts';
import { TEST_API_KEY, TEST_WEBHOOK_SECRET, TOKENS } from '../config.ts';
import { deliver, deliveryBody, signature, storedResult, submit } from './async-helpers.ts';
import { call, errorOf, GATEWAY, tracked, uniqueId, upstreamRequests } from './helpers.ts';

/** A predict that reaches Baseten exactly once, whatever the fault: a predict is never retried. */
async function predictWith(fake: Record<string, unknown>, alias = 'echo') {
  const id = uniqueId('fault');
  const res = await call(`/v1/models/${alias}/predict`, { token: 'alice', json: { fake }, headers: { 'x-request-id': id }, upstream: 1 });
  return { id, res };
}

async function expectHealthyAfter(): Promise<void> {
  const { res } = await predictWith({});
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ input: { fake: {} } });
}

describe('Baseten answers an error', () => {
  it.each([
    { status: 500, expected: 502, type: 'upstream_error' },
    { status: 502, expected: 502, type: 'upstream_error' },
    { status: 503, expected: 502, type: 'upstream_error' },
    { status: 429, expected: 429, type: 'rate_limited' },
    { status: 504, expected: 504, type: 'upstream_timeout' },
    { status: 400, expected: 400, type: 'invalid_request' },
  ])("maps Baseten's $status to $expected $type, sends the predict once and serves the next request", async ({ status, expected, type }) => {
    const { id, res } = await predictWith({ status, message: `boom ${status}` });
    expect(res.status).toBe(expected);
    const error = await errorOf(res);
    expect(error.type).toBe(type);
    expect(error.message).toContain(`Baseten answered ${status}`);
    expect(await upstreamRequests(id)).toHaveLength(1);
    await expectHealthyAfter();
  });

  it('reads only the start of a 100 MB error body and answers 502 at once', async () => {
    const { id, res } = await predictWith({ status: 500, bytes: 100 * 1024 * 1024 });
    expect(res.status).toBe(502);
    const error = await errorOf(res);
    expect(error.message.length).toBeLessThan(600);
    expect(await upstreamRequests(id)).toHaveLength(1);
    await expectHealthyAfter();
  });

  it('carries a garbage error body as a clean, bounded message', async () => {
    const { res } = await predictWith({ status: 500, garbage: true });
    expect(res.status).toBe(502);
    expect((await errorOf(res)).message).toBe('Baseten answered 500: {"output": <this is not json');
  });

  it('cuts the key and the webhook secret out of an upstream error that quotes them', async () => {
    const { res } = await predictWith({ status: 401, message: `key ${TEST_API_KEY} refused; secret ${TEST_WEBHOOK_SECRET}` });
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(text).not.toContain(TEST_API_KEY);
    expect(text).not.toContain(TEST_WEBHOOK_SECRET);
    expect(text).toContain('key [redacted] refused; secret [redacted]');
  });

  it("cuts the secrets out of a batch row's error too, whatever route renders it", async () => {
    const res = await call('/v1/models/echo/batch', {
      token: 'alice',
      json: { rows: [{ fake: { status: 500, message: `key ${TEST_API_KEY}` } }, { ok: 1 }] },
      upstream: 2,
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(TEST_API_KEY);
    expect(text).toContain('key [redacted]');
  });

  it('relays a garbage 200 body untouched: a success body is streamed, never parsed', async () => {
    const { res } = await predictWith({ garbage: true });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"output": <this is not json');
  });
});

describe('the connection fails', () => {
  it('answers 502 when the connection drops after Baseten received the predict, and does not send it again', async () => {
    const { id, res } = await predictWith({ reset: true });
    expect(res.status).toBe(502);
    expect((await errorOf(res)).type).toBe('upstream_error');
    expect(await upstreamRequests(id)).toHaveLength(1);
    await expectHealthyAfter();
  });

  it('answers 504 when Baseten hangs past timeout_ms, and the hung request is cancelled', async () => {
    const { id, res } = await predictWith({ hang: true }, 'quick');
    expect(res.status).toBe(504);
    expect((await errorOf(res)).type).toBe('upstream_timeout');
    // The fake notices the dropped connection on its own time: poll, within a deadline.
    await vi.waitFor(
      async () => {
        const seen = await upstreamRequests(id);
        expect(seen).toHaveLength(1);
        expect(seen[0]!.aborted).toBe(true);
      },
      { timeout: 3000, interval: 50 },
    );
    await expectHealthyAfter();
  });

  it('retries a GET after the connection drops before any answer byte', async () => {
    const id = uniqueId('retry');
    const res = await call('/v1/models/custom/sync/items/1?fake_reset_first=1', { token: 'alice', headers: { 'x-request-id': id }, upstream: 2 });
    expect(res.status).toBe(200);
    const seen = await upstreamRequests(id);
    expect(seen).toHaveLength(2);
    for (const attempt of seen) expect(attempt.headers.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
  });

  it('gives a GET three attempts in all, then answers 502', async () => {
    const id = uniqueId('retry');
    const res = await call('/v1/models/custom/sync/items/1?fake_reset_first=9', { token: 'alice', headers: { 'x-request-id': id }, upstream: 3 });
    expect(res.status).toBe(502);
    expect(await upstreamRequests(id)).toHaveLength(3);
  });

  it('never retries a POST to a custom route', async () => {
    const id = uniqueId('retry');
    const res = await call('/v1/models/custom/sync/items/1?fake_reset_first=1', {
      token: 'alice',
      method: 'POST',
      body: '{}',
      headers: { 'x-request-id': id },
      upstream: 1,
    });
    expect(res.status).toBe(502);
    expect(await upstreamRequests(id)).toHaveLength(1);
  });
});

/** The real KV with one of its methods failing the next `times` calls: a passing KV outage. */
function kvFailing(method: 'get' | 'put', times = Infinity): KVNamespace {
  let left = times;
  return new Proxy(env.ASYNC_REQUESTS, {
    get(target, name) {
      if (name === method && left-- > 0) return () => Promise.reject(new Error('KV is down'));
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Calls the Worker with `kv` as its KV; `upstream` is how many calls reach Baseten. */
async function callWithKv(kv: KVNamespace, path: string, init: RequestInit<IncomingRequestCfProperties>, upstream: number): Promise<Response> {
  const ctx = createExecutionContext();
  const request = tracked(new Request<unknown, IncomingRequestCfProperties>(`${GATEWAY}${path}`, init), upstream);
  const res = await worker.fetch(request, { ...env, ASYNC_REQUESTS: kv } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const alice = { authorization: `Bearer ${TOKENS.alice}` };

describe('KV fails (async requests lose nothing)', () => {
  it('answers a status read with 503 and retry-after while KV reads fail, and the same id reads normally once KV is back', async () => {
    const { accepted } = await submit('asyncmodel');
    const down = await callWithKv(kvFailing('get'), `/v1/async/${accepted.request_id}`, { headers: alice }, 0);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await errorOf(down)).type).toBe('service_unavailable');
    const back = await call(`/v1/async/${accepted.request_id}`, { token: 'alice', upstream: 1 });
    expect(back.status).toBe(200);
    expect(await back.json()).toMatchObject({ request_id: accepted.request_id, status: 'QUEUED' });
  });

  it('answers 503 to a webhook whose result cannot be written, so Baseten retries, and the retry stores the output', async () => {
    const { accepted } = await submit('asyncmodel');
    const body = deliveryBody(accepted.request_id, { data: { output: 'kept' } });
    const headers = { 'content-type': 'application/json', 'x-baseten-signature': await signature(body) };
    const failed = await callWithKv(kvFailing('put'), '/v1/webhooks/baseten', { method: 'POST', body, headers }, 0);
    expect(failed.status).toBe(503);
    expect(await storedResult(accepted.request_id)).toBeNull();
    const retried = await deliver(body, headers['x-baseten-signature']);
    expect(retried.status).toBe(200);
    const view = (await (await call(`/v1/async/${accepted.request_id}`, { token: 'alice' })).json()) as { status: string; output: unknown };
    expect(view).toMatchObject({ status: 'SUCCEEDED', output: { output: 'kept' } });
  });

  it('still answers a status poll and a cancel when only KV writes fail (degraded: the outcome is not kept)', async () => {
    const { accepted } = await submit('asyncmodel');
    const polled = await callWithKv(kvFailing('put'), `/v1/async/${accepted.request_id}`, { headers: alice }, 1);
    expect(polled.status).toBe(200);
    await polled.arrayBuffer();
    const canceled = await callWithKv(kvFailing('put'), `/v1/async/${accepted.request_id}`, { method: 'DELETE', headers: alice }, 1);
    expect(canceled.status).toBe(200);
    expect(await canceled.json()).toMatchObject({ canceled: true });
    // Baseten knows it was canceled: the next poll learns it from there.
    const later = (await (await call(`/v1/async/${accepted.request_id}`, { token: 'alice', upstream: 1 })).json()) as { status: string };
    expect(later.status).toBe('CANCELED');
  });
});

describe('async status lookups are retried (GET), submits are not', () => {
  it('asks Baseten again when the status connection drops before an answer', async () => {
    const { accepted } = await submit('asyncmodel', { queue_ms: 600_000, reset_status_first: 1 });
    const id = uniqueId('status');
    const res = await call(`/v1/async/${accepted.request_id}`, { token: 'alice', headers: { 'x-request-id': id }, upstream: 2 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'QUEUED' });
    const lookups = (await upstreamRequests(id)).filter((r) => r.path.endsWith(`/async_request/${accepted.request_id}`));
    expect(lookups.map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  it('sends an async submit once even when the connection drops after Baseten received it', async () => {
    const id = uniqueId('submit');
    const res = await call('/v1/models/asyncmodel/async', {
      token: 'alice',
      json: { model_input: { fake: { reset: true } } },
      headers: { 'x-request-id': id },
      upstream: 1,
    });
    expect(res.status).toBe(502);
    expect(await upstreamRequests(id)).toHaveLength(1);
  });
});
