// Async that loses nothing: early webhooks, the cron's reconciliation, Idempotency-Key, status
// calls within Baseten's limits, request ids of any documented shape, https webhook URLs.
import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { reconcileAll } from '../../src/async-reconcile.ts';
import { type AsyncRecord, isRequestId, queuedRecord, reconcileStep } from '../../src/async-status.ts';
import { AsyncStore, dueKey } from '../../src/async-store.ts';
import { type ConfigSource, loadConfig, parseConfig } from '../../src/config.ts';
import worker from '../../src/index.ts';
import { basetenTarget } from '../../src/upstream.ts';
import { TEST_MODELS, TOKENS } from '../config.ts';
import { deliverSigned, deliveryBody, eventually, randomRequestId, storedRecord, storedResult, submit } from './async-helpers.ts';
import { call, errorOf, type FakeRequest, fakeUrl, GATEWAY, sleep, tracked, uniqueId, upstreamRequests } from './helpers.ts';

const config = () => loadConfig(env as ConfigSource);

interface View {
  request_id: string;
  status: string;
  final: boolean;
  errors: { code: string; message: string }[];
  output?: unknown;
}

/** A status poll; the Baseten calls it made are looked at (and so accounted for) at once. */
async function statusOf(requestId: string, id = uniqueId('status')) {
  const res = await call(`/v1/async/${requestId}`, { token: 'alice', headers: { 'x-request-id': id } });
  expect(res.status).toBe(200);
  const seen = await upstreamRequests(id);
  return { res, view: (await res.json()) as View, upstream: async () => seen };
}

/** One cron run's reconciliation at `nowMs`, and the Baseten calls it made. */
async function reconcile(nowMs: number, limit?: number) {
  const requestId = uniqueId('cron');
  const reports = await reconcileAll(config(), env.ASYNC_REQUESTS, { requestId, nowMs, limit });
  return { reports, upstream: await upstreamRequests(requestId) };
}

/** A steering rule for the shared fake, spent after `times` matches so it cannot touch other tests. */
async function steer(rule: Record<string, unknown>) {
  const res = await fetch(`${fakeUrl()}/__fake/steer`, { method: 'POST', body: JSON.stringify(rule) });
  expect(res.status).toBe(200);
}

async function allUpstream(): Promise<FakeRequest[]> {
  return (await (await fetch(`${fakeUrl()}/__fake/requests`)).json()) as FakeRequest[];
}

/** A record written as a submit at another Cloudflare location would write it, due at `dueSeconds`. */
async function recordElsewhere(requestId: string, alias: 'asyncmodel' | 'asyncchain', dueSeconds: number): Promise<AsyncRecord> {
  const model = config().models.get(alias)!;
  const nowMs = Date.now();
  const record = queuedRecord({
    requestId,
    owner: 'client:alice',
    alias,
    target: basetenTarget(model.target),
    nowMs,
    expiresAt: Math.ceil(nowMs / 1000) + 3600,
    reconcileAt: dueSeconds,
  });
  await new AsyncStore(env.ASYNC_REQUESTS).saveNew(record, nowMs);
  return record;
}

async function dueKeys(): Promise<string[]> {
  return (await env.ASYNC_REQUESTS.list({ prefix: 'async/v1/due/' })).keys.map((k) => k.name);
}

describe('early webhooks', () => {
  it('stores a signed delivery for an id with no record yet, and joins it when the record appears', async () => {
    const requestId = randomRequestId();
    const res = await deliverSigned(deliveryBody(requestId, { data: { output: 'early' } }));
    expect(res.status).toBe(200);
    expect(await storedResult(requestId)).toMatchObject({ status: 'SUCCEEDED', output: { output: 'early' } });

    await recordElsewhere(requestId, 'asyncmodel', Math.ceil(Date.now() / 1000) + 300);
    const { view, upstream } = await statusOf(requestId);
    expect(view).toMatchObject({ status: 'SUCCEEDED', final: true, output: { output: 'early' } });
    expect(await upstream()).toHaveLength(0);
  });

  it('does not join an early delivery to a record of another target', async () => {
    const requestId = randomRequestId();
    expect((await deliverSigned(deliveryBody(requestId, { modelId: 'other1' }))).status).toBe(200);
    await recordElsewhere(requestId, 'asyncmodel', Math.ceil(Date.now() / 1000) + 300);
    const { view } = await statusOf(requestId);
    expect(view.final).toBe(false);
    expect(view).not.toHaveProperty('output');
  });

  it('still refuses an unsigned early delivery, storing nothing', async () => {
    const requestId = randomRequestId();
    const res = await call('/v1/webhooks/baseten', { method: 'POST', body: deliveryBody(requestId), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(401);
    expect(await storedResult(requestId)).toBeNull();
  });

  it("drops the cron's due entry when the result arrives for a known record", async () => {
    const { accepted } = await submit('asyncmodel');
    const record = (await storedRecord(accepted.request_id))!;
    expect(await dueKeys()).toContain(dueKey(record.reconcile_at!, accepted.request_id));
    expect((await deliverSigned(deliveryBody(accepted.request_id))).status).toBe(200);
    await eventually(async () => ((await dueKeys()).includes(dueKey(record.reconcile_at!, accepted.request_id)) ? undefined : true));
  });
});

describe('reconciliation in the cron', () => {
  const LATER_MS = 10 * 60 * 1000;

  // Earlier tests of this file leave due entries in its KV: each test here starts from an empty index.
  beforeEach(async () => {
    await Promise.all((await dueKeys()).map((key) => env.ASYNC_REQUESTS.delete(key)));
  });

  it('makes a request whose webhook never came WEBHOOK_FAILED, saying the result never arrived', async () => {
    const { accepted } = await submit('asyncmodel', { queue_ms: 0, run_ms: 0, never_deliver: true });
    await eventually(async () => {
      const seen = (await (await fetch(`${fakeUrl()}/__fake/async/${accepted.request_id}`)).json()) as { status: string };
      return seen.status === 'SUCCEEDED' ? true : undefined;
    });
    const run = await reconcile(Date.now() + LATER_MS);
    expect(run.reports).toEqual([{ async_request_id: accepted.request_id, outcome: 'finalized', status: 'WEBHOOK_FAILED' }]);
    expect(run.upstream).toHaveLength(1);
    const { view, upstream } = await statusOf(accepted.request_id);
    expect(view).toMatchObject({ status: 'WEBHOOK_FAILED', final: true });
    expect(view.errors.map((e) => e.code)).toContain('RESULT_NEVER_DELIVERED');
    expect(await upstream()).toHaveLength(0);
    expect(await dueKeys()).toHaveLength(0);
  });

  it('makes a request Baseten no longer knows EXPIRED, with the reason', async () => {
    const { accepted } = await submit('asyncmodel');
    // Baseten forgets a request an hour after it ends; the shared fake's clock is not moved here.
    await steer({ path: `/async_request/${accepted.request_id}`, times: 1, fake: { status: 404, message: `Async request ${accepted.request_id} not found` } });
    const { reports } = await reconcile(Date.now() + LATER_MS);
    expect(reports).toEqual([{ async_request_id: accepted.request_id, outcome: 'finalized', status: 'EXPIRED' }]);
    const { view } = await statusOf(accepted.request_id);
    expect(view).toMatchObject({ status: 'EXPIRED', final: true, errors: [{ code: 'RESULT_NEVER_DELIVERED' }] });
    expect(view.errors[0]!.message).toContain('no longer knows');
  });

  it('asks again later about a request still running, and leaves alone what is not due or already has its result', async () => {
    const running = await submit('asyncmodel');
    // Delivered before its record was written here, so the webhook could not drop its due entry.
    const delivered = { accepted: { request_id: randomRequestId() } };
    await deliverSigned(deliveryBody(delivered.accepted.request_id));
    await recordElsewhere(delivered.accepted.request_id, 'asyncmodel', Math.ceil(Date.now() / 1000));
    const notDue = randomRequestId();
    await recordElsewhere(notDue, 'asyncmodel', Math.ceil(Date.now() / 1000) + 3 * 3600);
    const nowMs = Date.now() + LATER_MS;
    const { reports, upstream } = await reconcile(nowMs);
    expect(Object.fromEntries(reports.map((r) => [r.async_request_id, r.outcome]))).toEqual({
      [running.accepted.request_id]: 'later',
      [delivered.accepted.request_id]: 'already_final',
    });
    // Only the running one was asked of Baseten.
    expect(upstream.map((r) => r.path)).toEqual([`/model-abc123/async_request/${running.accepted.request_id}`]);
    const next = Math.ceil(nowMs / 1000) + config().settings.asyncReconcileAfterSeconds;
    const keys = await dueKeys();
    expect(keys).toHaveLength(2);
    expect(keys).toContain(dueKey(next, running.accepted.request_id));
    expect(keys.some((key) => key.endsWith(`/${notDue}`))).toBe(true);
    expect((await storedRecord(running.accepted.request_id))!.status).toBe('QUEUED');
  });

  it('moves the record with its due entry, so a result arriving after a later check drops the live entry', async () => {
    const { accepted } = await submit('asyncmodel');
    const nowMs = Date.now() + LATER_MS;
    const { reports } = await reconcile(nowMs);
    expect(reports.find((r) => r.async_request_id === accepted.request_id)?.outcome).toBe('later');
    const next = Math.ceil(nowMs / 1000) + config().settings.asyncReconcileAfterSeconds;
    expect((await storedRecord(accepted.request_id))!.reconcile_at).toBe(next);
    expect((await deliverSigned(deliveryBody(accepted.request_id))).status).toBe(200);
    await eventually(async () => ((await dueKeys()).some((key) => key.endsWith(`/${accepted.request_id}`)) ? undefined : true));
  });

  it("does bounded work per run, and one request's failure does not stop the others", async () => {
    const failing = await submit('asyncmodel');
    const forgotten = [await submit('asyncmodel'), await submit('asyncmodel')];
    await steer({ path: `/async_request/${failing.accepted.request_id}`, times: 1, fake: { status: 500 } });
    for (const { accepted } of forgotten) await steer({ path: `/async_request/${accepted.request_id}`, times: 1, fake: { status: 404 } });
    const nowMs = Date.now() + LATER_MS;
    const { reports: first, upstream: firstCalls } = await reconcile(nowMs, 2);
    expect(first).toHaveLength(2);
    expect(firstCalls).toHaveLength(2);
    const { reports: second } = await reconcile(nowMs, 2);
    const outcomes = Object.fromEntries([...first, ...second].map((r) => [r.async_request_id, r.outcome]));
    expect(outcomes[failing.accepted.request_id]).toBe('failed');
    for (const { accepted } of forgotten) {
      expect(outcomes[accepted.request_id]).toBe('finalized');
      expect((await storedRecord(accepted.request_id))!.status).toBe('EXPIRED');
    }
    // The failed one is asked again one interval later, not dropped.
    expect(await dueKeys()).toEqual([expect.stringContaining(failing.accepted.request_id)]);
  });

  it('runs beside the wake in the scheduled handler; a broken KV stops the reconciliation only', async () => {
    const failing = () => {
      throw new Error('KV is down');
    };
    const brokenKv = { get: failing, put: failing, delete: failing, list: failing, getWithMetadata: failing } as unknown as KVNamespace;
    const scheduledTime = Date.now() + Math.floor(Math.random() * 1e6);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime, cron: '*/5 * * * *' }), { ...env, ASYNC_REQUESTS: brokenKv } as Env);
    await waitOnExecutionContext(ctx);
    const wakes = (await upstreamRequests(`cron-${scheduledTime}`)).filter((r) => r.path.endsWith('/wake'));
    expect(wakes.length).toBeGreaterThan(0);
  });
});

describe('Idempotency-Key on async submit', () => {
  /** A keyed submit; whether it reached Baseten is counted by the body's nonce, so its own calls are only acknowledged here. */
  async function submitWith(key: string, input: unknown, token: keyof typeof TOKENS = 'alice') {
    const id = uniqueId('idem');
    const res = await call('/v1/models/asyncmodel/async', { token, json: { model_input: input }, headers: { 'idempotency-key': key, 'x-request-id': id } });
    await upstreamRequests(id);
    return res;
  }

  async function submitCalls(nonce: string): Promise<number> {
    return (await allUpstream()).filter((r) => r.path.endsWith('/async_predict') && r.body.includes(nonce)).length;
  }

  /** Follows retry-after on the in-flight 409, as a client should. */
  async function submitUntilAnswered(key: string, input: unknown): Promise<Response> {
    for (;;) {
      const res = await submitWith(key, input);
      if (res.status !== 409) return res;
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await errorOf(res)).type).toBe('conflict');
      await sleep(100);
    }
  }

  it('5 concurrent submits with one key make exactly one Baseten call, and all get the same answer', async () => {
    const key = uniqueId('key');
    const nonce = uniqueId('nonce');
    const input = { nonce, fake: { queue_ms: 600_000, delay_ms: 300 } };
    const answers = await Promise.all(Array.from({ length: 5 }, () => submitUntilAnswered(key, input)));
    expect(answers.map((res) => res.status)).toEqual([201, 201, 201, 201, 201]);
    const bodies = await Promise.all(answers.map((res) => res.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(answers.filter((res) => res.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    expect(new Set(answers.map((res) => res.headers.get('location'))).size).toBe(1);
    expect(await submitCalls(nonce)).toBe(1);
  });

  it('replays the first answer to a later retry: same status, body and request_id, marked idempotent-replayed', async () => {
    const key = uniqueId('key');
    const input = { nonce: uniqueId('nonce'), fake: { queue_ms: 600_000 } };
    const first = await submitWith(key, input);
    const again = await submitWith(key, input);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(await again.text()).toBe(await first.text());
    expect(await submitCalls(input.nonce)).toBe(1);
  });

  it('answers the same key with a different body 409 conflict, calling nothing upstream', async () => {
    const key = uniqueId('key');
    expect((await submitWith(key, { n: 1, fake: { queue_ms: 600_000 } })).status).toBe(201);
    const nonce = uniqueId('nonce');
    const res = await submitWith(key, { n: 2, nonce, fake: { queue_ms: 600_000 } });
    expect(res.status).toBe(409);
    expect(res.headers.get('retry-after')).toBeNull();
    expect((await errorOf(res)).message).toContain('different request body');
    expect(await submitCalls(nonce)).toBe(0);
  });

  it("scopes keys by caller: another client's same key is its own request", async () => {
    const key = uniqueId('key');
    const input = { fake: { queue_ms: 600_000 } };
    const alice = (await (await submitWith(key, input, 'alice')).json()) as { request_id: string };
    const admin = await submitWith(key, input, 'admin');
    expect(admin.status).toBe(201);
    expect(admin.headers.get('idempotent-replayed')).toBeNull();
    expect(((await admin.json()) as { request_id: string }).request_id).not.toBe(alice.request_id);
  });

  it('frees the key when Baseten refused the work, so a retry calls Baseten again', async () => {
    const key = uniqueId('key');
    const nonce = uniqueId('nonce');
    const input = { nonce, fake: { status: 503, retry_after: 1 } };
    expect((await submitWith(key, input)).status).toBe(502);
    expect((await submitWith(key, input)).status).toBe(502);
    expect(await submitCalls(nonce)).toBe(2);
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['with a space', 'my key'],
    ['non-ASCII', 'clé'],
  ])('refuses a key that is %s with 400, calling nothing upstream', async (_label, key) => {
    const id = uniqueId('idem');
    const res = await SELF.fetch(`${GATEWAY}/v1/models/asyncmodel/async`, {
      method: 'POST',
      body: '{"model_input":1}',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alice}`, 'x-request-id': id, 'idempotency-key': key },
    });
    expect(res.status).toBe(400);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses a key from an anonymous caller, who has no identity to scope it by', async () => {
    const anonEnv = { ...env, MODELS: { ...TEST_MODELS, open: { model_id: 'abc123', environment: 'production', public: true, async: true } } } as Env;
    const res = await worker.fetch(
      new Request<unknown, IncomingRequestCfProperties>(`${GATEWAY}/v1/models/open/async`, {
        method: 'POST',
        body: '{"model_input":1}',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
      }),
      anonEnv,
      createExecutionContext(),
    );
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('client token');
  });

  it('accepts a key of 255 visible characters', async () => {
    expect((await submitWith('~'.repeat(255), { fake: { queue_ms: 600_000 } })).status).toBe(201);
  });
});

describe("status calls within Baseten's limits", () => {
  it('a polling loop makes at most one Baseten status call per interval', async () => {
    const { accepted } = await submit('asyncmodel');
    const intervalMs = config().settings.asyncStatusMinIntervalMs;
    const ids: string[] = [];
    const startedMs = Date.now();
    while (Date.now() - startedMs < 2.5 * intervalMs) {
      const id = uniqueId('poll');
      ids.push(id);
      const { view } = await statusOf(accepted.request_id, id);
      expect(view).toMatchObject({ status: 'QUEUED', final: false });
    }
    const elapsedMs = Date.now() - startedMs;
    const calls = (await Promise.all(ids.map((id) => upstreamRequests(id)))).flat();
    expect(calls.every((r) => r.path.endsWith(`/async_request/${accepted.request_id}`))).toBe(true);
    expect(ids.length).toBeGreaterThan(calls.length);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(Math.floor(elapsedMs / intervalMs) + 1);
  });

  it("serves Baseten's 429 on status as the last known view with its retry-after, not as a failure", async () => {
    const { accepted } = await submit('asyncmodel', { queue_ms: 0, run_ms: 600_000 });
    await eventually(async () => ((await statusOf(accepted.request_id)).view.status === 'IN_PROGRESS' ? true : undefined));
    await sleep(config().settings.asyncStatusMinIntervalMs + 50);
    await steer({ path: `/async_request/${accepted.request_id}`, times: 1, fake: { status: 429, retry_after: 7 } });
    const id = uniqueId('status');
    const { res, view } = await statusOf(accepted.request_id, id);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(view).toMatchObject({ status: 'IN_PROGRESS', final: false });
    expect((await upstreamRequests(id)).length).toBe(1);
  });

  it('serves a 429 on the very first poll from the record', async () => {
    const { accepted } = await submit('asyncmodel');
    await steer({ path: `/async_request/${accepted.request_id}`, times: 1, fake: { status: 429, retry_after: 3 } });
    const { res, view } = await statusOf(accepted.request_id);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(view).toMatchObject({ status: 'QUEUED', final: false });
  });
});

describe('the pure rules', () => {
  const record = queuedRecord({
    requestId: 'r1',
    owner: 'client:a',
    alias: 'm',
    target: { kind: 'model', id: 'abc123', deployment: { kind: 'development' } },
    nowMs: 0,
    expiresAt: 1,
    reconcileAt: 1,
  });
  const nowMs = Date.parse('2030-01-01T00:10:00Z');
  const reported = (status: string, minutesAgo: number) => ({ status, errors: [], status_at: new Date(nowMs - minutesAgo * 60_000).toISOString() }) as never;

  it('waits while Baseten runs the request, or while a webhook retry may still come', () => {
    expect(reconcileStep(record, reported('IN_PROGRESS', 30), nowMs)).toEqual({ kind: 'later' });
    expect(reconcileStep(record, reported('SUCCEEDED', 0.5), nowMs)).toEqual({ kind: 'later' });
  });

  it("keeps Baseten's own final statuses that carry no output, and marks lost outputs WEBHOOK_FAILED", () => {
    for (const status of ['FAILED', 'EXPIRED', 'CANCELED']) {
      expect(reconcileStep(record, reported(status, 5), nowMs)).toMatchObject({ kind: 'final', record: { status } });
    }
    for (const status of ['SUCCEEDED', 'WEBHOOK_FAILED']) {
      expect(reconcileStep(record, reported(status, 5), nowMs)).toMatchObject({
        kind: 'final',
        record: { status: 'WEBHOOK_FAILED', errors: [{ code: 'RESULT_NEVER_DELIVERED' }] },
      });
    }
  });

  it("checks the new settings' ranges", () => {
    const source = (extra: ConfigSource) => ({ ASYNC_REQUESTS: {}, BASETEN_API_KEY: 'k', MODELS: { m: { model_id: 'a1', environment: 'p' } }, ...extra });
    expect(parseConfig(source({})).settings).toMatchObject({ asyncReconcileAfterSeconds: 300, asyncStatusMinIntervalMs: 1000 });
    expect(() => parseConfig(source({ SETTINGS: { async_reconcile_after_seconds: 0 } }))).toThrow(/SETTINGS.async_reconcile_after_seconds/);
    expect(() => parseConfig(source({ SETTINGS: { async_status_min_interval_ms: -1 } }))).toThrow(/SETTINGS.async_status_min_interval_ms/);
  });

  it("takes request ids of Baseten's documented shape, whatever it is today", () => {
    for (const id of ['0123456789abcdef0123456789abcdef', 'req_AbC1x9-Zq2w8e_Ty7u6i', 'a'.repeat(128)]) expect(isRequestId(id)).toBe(true);
    for (const id of ['', 'a'.repeat(129), 'a/b', 'a.b', 'é']) expect(isRequestId(id)).toBe(false);
  });
});

describe('request ids and webhook URLs', () => {
  it('takes a non-hex Baseten request id end to end: submit, status, webhook, cancel', async () => {
    const { accepted } = await submit('asyncmodel', { queue_ms: 600_000, request_id_shape: 'opaque' });
    expect(accepted.request_id).not.toMatch(/^[0-9a-f]{32}$/);
    expect(accepted.request_id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect((await statusOf(accepted.request_id)).view).toMatchObject({ status: 'QUEUED' });
    const cancel = await call(`/v1/async/${accepted.request_id}`, { method: 'DELETE', token: 'alice', upstream: 1 });
    expect(await cancel.json()).toMatchObject({ canceled: true });

    const other = await submit('asyncmodel', { queue_ms: 600_000, request_id_shape: 'opaque' });
    expect((await deliverSigned(deliveryBody(other.accepted.request_id, { data: 'opaque ok' }))).status).toBe(200);
    expect((await statusOf(other.accepted.request_id)).view).toMatchObject({ status: 'SUCCEEDED', output: 'opaque ok' });
  });

  it('hands Baseten an https webhook URL even when the caller came over http', async () => {
    const id = uniqueId();
    const res = await SELF.fetch('http://gateway.test/v1/models/asyncmodel/async', {
      method: 'POST',
      body: '{"model_input":{"fake":{"queue_ms":600000}}}',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alice}`, 'x-request-id': id },
    });
    expect(res.status).toBe(201);
    const [seen] = await upstreamRequests(id);
    expect(JSON.parse(seen!.body).webhook_endpoint).toBe('https://gateway.test/v1/webhooks/baseten');
  });

  it.each([
    ['http://gateway.example.com', 'https://gateway.example.com/v1/webhooks/baseten'],
    ['https://gateway.example.com/base/', 'https://gateway.example.com/base/v1/webhooks/baseten'],
    ['http://127.0.0.1:8787', 'http://127.0.0.1:8787/v1/webhooks/baseten'],
  ])('hands Baseten an https webhook URL for PUBLIC_BASE_URL %s, loopback excepted', async (base, expected) => {
    const id = uniqueId();
    const res = await worker.fetch(
      tracked(
        new Request<unknown, IncomingRequestCfProperties>(`${GATEWAY}/v1/models/asyncmodel/async`, {
          method: 'POST',
          body: '{"model_input":{"fake":{"queue_ms":600000}}}',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alice}`, 'x-request-id': id },
        }),
        1,
      ),
      { ...env, PUBLIC_BASE_URL: base } as Env,
      createExecutionContext(),
    );
    expect(res.status).toBe(201);
    const [seen] = await upstreamRequests(id);
    expect(JSON.parse(seen!.body).webhook_endpoint).toBe(expected);
  });
});
