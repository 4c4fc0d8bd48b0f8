import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { TEST_API_KEY, TEST_MODELS, TEST_WEBHOOK_SECRET, TOKENS } from '../config.ts';
import { deliver, deliverSigned, deliveryBody, eventually, randomRequestId, signature, storedRecord, storedResult, submit } from './async-helpers.ts';
import { call, errorOf, expectUpstream, fakeUrl, GATEWAY, tracked, uniqueId, upstreamRequests } from './helpers.ts';
import { vectorSignature } from './webhook-vectors.ts';

const WEBHOOK_URL = `${GATEWAY}/v1/webhooks/baseten`;

/** A request as the Worker receives it, for calls that need their own env (worker.fetch). */
function incoming(url: string, init: RequestInit<IncomingRequestCfProperties> = {}): Request<unknown, IncomingRequestCfProperties> {
  return new Request<unknown, IncomingRequestCfProperties>(url, init);
}

interface View {
  request_id: string;
  model: string;
  status: string;
  final: boolean;
  webhook_status?: string;
  errors: { code: string; message: string }[];
  output?: unknown;
  cancel?: { canceled: boolean; message: string };
}

/** A status read; `upstream` declares the lookups it makes at Baseten, else the test looks with upstream(). */
async function status(requestId: string, token: string | undefined = 'alice', upstream?: number) {
  const id = uniqueId('status');
  const res = await call(`/v1/async/${requestId}`, { token, headers: { 'x-request-id': id }, upstream });
  return { res, upstream: () => upstreamRequests(id) };
}

/** A status read of a request that exists; `upstream` is 1 while only Baseten knows it is final, else 0. */
async function statusBody(requestId: string, upstream: number): Promise<View> {
  const { res } = await status(requestId, 'alice', upstream);
  expect(res.status).toBe(200);
  return (await res.json()) as View;
}

/**
 * A poll in a loop: Baseten is asked at most once per
 * async_status_min_interval_ms, so whether this one reached it depends on
 * timing; its calls are acknowledged rather than declared.
 */
async function polledBody(requestId: string): Promise<View> {
  const { res, upstream } = await status(requestId);
  expect(res.status).toBe(200);
  await upstream();
  return (await res.json()) as View;
}

describe('async submit', () => {
  it.each([
    ['asyncmodel', '/model-abc123/environments/production/async_predict'],
    ['asyncchain', '/chain-xyz789/environments/production/async_run_remote'],
  ])("sends alias %s to %s with the gateway as webhook_endpoint, and records it as the caller's", async (alias, path) => {
    const { gatewayId, accepted } = await submit(alias);
    expect(accepted.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(accepted.status_url).toBe(`${GATEWAY}/v1/async/${accepted.request_id}`);
    expect(accepted.status).toBe('QUEUED');
    expect(accepted.owner_token).toBeUndefined();
    const [seen, ...more] = await upstreamRequests(gatewayId);
    expect(more).toHaveLength(0);
    expect(seen!.path).toBe(path);
    expect(seen!.headers.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
    expect(JSON.parse(seen!.body)).toEqual({ model_input: { prompt: 'hi', fake: { queue_ms: 600_000 } }, webhook_endpoint: WEBHOOK_URL });
    const record = await storedRecord(accepted.request_id);
    expect(record).toMatchObject({ v: 1, request_id: accepted.request_id, owner: 'client:alice', alias, status: 'QUEUED' });
    expect(Date.parse(record!.created_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("forwards the caller's exact bytes, integers beyond 2^53 included, with the optional fields", async () => {
    const id = uniqueId();
    const raw = '{"model_input": {"n": 12345678901234567890, "fake": {"queue_ms": 600000}}, "priority": 2, "max_time_in_queue_seconds": 10}';
    const res = await call('/v1/models/asyncmodel/async', {
      method: 'POST',
      token: 'alice',
      body: raw,
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      upstream: 1,
    });
    expect(res.status).toBe(201);
    const [seen] = await upstreamRequests(id);
    expect(seen!.body).toBe(`${raw.slice(0, -1)},"webhook_endpoint":"${WEBHOOK_URL}"}`);
  });

  it("accepts Baseten's 202 as well as its 201", async () => {
    const { accepted } = await submit('asyncmodel', { queue_ms: 600_000, async_status: 202 });
    expect(await storedRecord(accepted.request_id)).not.toBeNull();
  });

  it.each([
    ['no model_input', { priority: 1 }],
    ['a priority of 3', { model_input: 1, priority: 3 }],
    ['a fractional priority', { model_input: 1, priority: 0.5 }],
    ['a queue time under 10 s', { model_input: 1, max_time_in_queue_seconds: 9 }],
    ['a queue time over 72 h', { model_input: 1, max_time_in_queue_seconds: 259_201 }],
    ['a webhook_endpoint of its own', { model_input: 1, webhook_endpoint: 'https://evil.example.com/' }],
    ['an unknown field', { model_input: 1, colour: 'red' }],
    ['a bad retry config', { model_input: 1, inference_retry_config: { max_attempts: 11 } }],
    ['an array', [1]],
  ])('refuses %s with 400 and calls nothing upstream', async (_label, body) => {
    const id = uniqueId();
    const res = await call('/v1/models/asyncmodel/async', { token: 'alice', json: body, headers: { 'x-request-id': id } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).type).toBe('invalid_request');
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses a body over the async cap with 413 before calling Baseten, the added webhook_endpoint counted', async () => {
    const cap = 256 * 1024;
    for (const size of [cap + 1, cap - 20]) {
      const id = uniqueId();
      const prefix = '{"model_input":"';
      const body = `${prefix}${'x'.repeat(size - prefix.length - 2)}"}`;
      expect(body.length).toBe(size);
      const res = await call('/v1/models/asyncmodel/async', {
        method: 'POST',
        token: 'alice',
        body,
        headers: { 'content-type': 'application/json', 'x-request-id': id },
      });
      expect(res.status).toBe(413);
      expect((await errorOf(res)).type).toBe('payload_too_large');
      expect(await upstreamRequests(id)).toHaveLength(0);
    }
  });

  it('refuses aliases without "async": 403, unknown aliases 404, aliases not granted 403, all without an upstream call', async () => {
    for (const [alias, token, expected] of [
      ['echo', 'alice', 403],
      ['nope', 'alice', 404],
      ['asyncmodel', 'bob', 403],
    ] as const) {
      const id = uniqueId();
      const res = await call(`/v1/models/${alias}/async`, { token, json: { model_input: 1 }, headers: { 'x-request-id': id } });
      expect(res.status).toBe(expected);
      expect(await upstreamRequests(id)).toHaveLength(0);
    }
  });

  it('refuses async work with 503 when no webhook secret is configured, since its result could not be received', async () => {
    const id = uniqueId();
    const res = await worker.fetch(
      incoming(`${GATEWAY}/v1/models/asyncmodel/async`, {
        method: 'POST',
        body: '{"model_input":1}',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alice}`, 'x-request-id': id },
      }),
      { ...env, BASETEN_WEBHOOK_SECRET: '' } as Env,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it("passes Baseten's refusal on with its status, IDs replaced by the alias, and records nothing", async () => {
    const id = uniqueId();
    const res = await call('/v1/models/asyncmodel/async', {
      token: 'alice',
      json: { model_input: { fake: { status: 429, message: 'model abc123 is busy' } } },
      headers: { 'x-request-id': id },
      upstream: 1,
    });
    expect(res.status).toBe(429);
    const error = await errorOf(res);
    expect(error.message).toContain('model asyncmodel is busy');
    expect(error.message).not.toContain('abc123');
  });
});

describe('async status', () => {
  it("merges Baseten's live status while not final, naming the alias and never Baseten's IDs", async () => {
    const { accepted } = await submit('asyncmodel');
    const { res, upstream } = await status(accepted.request_id);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('abc123');
    expect(text).not.toContain('dep-env');
    expect(text).not.toContain('model_id');
    expect(JSON.parse(text)).toMatchObject({
      request_id: accepted.request_id,
      model: 'asyncmodel',
      status: 'QUEUED',
      final: false,
      webhook_status: 'PENDING',
      errors: [],
    });
    const [seen, ...more] = await upstream();
    expect(more).toHaveLength(0);
    expect(seen!.method).toBe('GET');
    expect(seen!.path).toBe(`/model-abc123/async_request/${accepted.request_id}`);
  });

  it("asks the chain for a chain's request", async () => {
    const { accepted } = await submit('asyncchain');
    const { res, upstream } = await status(accepted.request_id);
    expect(res.status).toBe(200);
    expect((await upstream())[0]!.path).toBe(`/chain-xyz789/async_request/${accepted.request_id}`);
  });

  it('follows the request to IN_PROGRESS', async () => {
    const { accepted } = await submit('asyncmodel', { queue_ms: 0, run_ms: 600_000 });
    const view = await eventually(async () => {
      const body = await polledBody(accepted.request_id);
      return body.status === 'IN_PROGRESS' ? body : undefined;
    });
    expect(view.final).toBe(false);
  });

  it('returns the delivered output once final, from KV without calling Baseten', async () => {
    const { accepted } = await submit('asyncmodel');
    const res = await deliverSigned(deliveryBody(accepted.request_id, { data: { output: 'model response here' } }));
    expect(res.status).toBe(200);
    const { res: statusRes, upstream } = await status(accepted.request_id);
    expect(await statusRes.json()).toMatchObject({ status: 'SUCCEEDED', final: true, output: { output: 'model response here' }, errors: [] });
    expect(await upstream()).toHaveLength(0);
  });

  it("returns a failed request's errors, IDs replaced, and no output", async () => {
    const { accepted } = await submit('asyncmodel');
    const errors = [{ code: 'MODEL_PREDICT_ERROR', message: 'predict crashed in abc123' }];
    expect((await deliverSigned(deliveryBody(accepted.request_id, { data: null, errors }))).status).toBe(200);
    const view = await statusBody(accepted.request_id, 0);
    expect(view).toMatchObject({ status: 'FAILED', final: true, errors: [{ code: 'MODEL_PREDICT_ERROR', message: 'predict crashed in asyncmodel' }] });
    expect(view).not.toHaveProperty('output');
  });

  it.each([
    ['EXPIRED', { queue_ms: 10, expire: true }],
    // The fake cannot reach https://gateway.test, so its delivery fails as a real one would.
    ['WEBHOOK_FAILED', { queue_ms: 0, run_ms: 0 }],
  ])('keeps a final status learned from Baseten (%s) and then stops asking', async (expected, fake) => {
    const { accepted } = await submit('asyncmodel', fake);
    await eventually(async () => ((await polledBody(accepted.request_id)).status === expected ? true : undefined));
    expect((await storedRecord(accepted.request_id))!.status).toBe(expected);
    const { res, upstream } = await status(accepted.request_id);
    expect(await res.json()).toMatchObject({ status: expected, final: true });
    expect(await upstream()).toHaveLength(0);
  });

  it('refuses a malformed request id with 400 before any lookup or upstream call', async () => {
    for (const bad of ['a'.repeat(129), 'a.b', 'a%20b', '..%2f..%2fproduction']) {
      const { res, upstream } = await status(bad);
      expect(res.status).toBe(400);
      expect(await upstream()).toHaveLength(0);
    }
  });
});

describe('async ownership', () => {
  it('answers another client exactly as for an unknown id: 404, same error, nothing sent upstream', async () => {
    const { accepted } = await submit('asyncmodel');
    const foreign = await status(accepted.request_id, 'admin');
    const unknown = await status(randomRequestId(), 'alice');
    expect(foreign.res.status).toBe(404);
    expect(unknown.res.status).toBe(404);
    const [a, b] = [await errorOf(foreign.res), await errorOf(unknown.res)];
    expect({ type: a.type, message: a.message }).toEqual({ type: b.type, message: b.message });
    expect(await foreign.upstream()).toHaveLength(0);

    const id = uniqueId();
    const cancel = await call(`/v1/async/${accepted.request_id}`, { method: 'DELETE', token: 'admin', headers: { 'x-request-id': id } });
    expect(cancel.status).toBe(404);
    expect(await upstreamRequests(id)).toHaveLength(0);
    expect((await storedRecord(accepted.request_id))!.cancel).toBeUndefined();
  });

  describe('anonymous callers', () => {
    const anonEnv = { ...env, MODELS: { ...TEST_MODELS, open: { model_id: 'abc123', environment: 'production', public: true, async: true } } } as Env;
    const fetchAnon = (path: string, init: RequestInit<IncomingRequestCfProperties>, upstream: number) =>
      worker.fetch(tracked(incoming(`${GATEWAY}${path}`, init), upstream), anonEnv, createExecutionContext());

    async function anonSubmit() {
      const res = await fetchAnon(
        '/v1/models/open/async',
        { method: 'POST', body: '{"model_input":{"fake":{"queue_ms":600000}}}', headers: { 'content-type': 'application/json' } },
        1,
      );
      expect(res.status).toBe(201);
      return (await res.json()) as { request_id: string; owner_token: string };
    }

    it('get an owner token once, and only that token reads the request', async () => {
      const first = await anonSubmit();
      const second = await anonSubmit();
      expect(first.owner_token).toMatch(/^aot_[0-9a-f]{64}$/);
      expect((await storedRecord(first.request_id))!.owner).not.toContain(first.owner_token);
      // Only the owner's read gets as far as asking Baseten for the live status.
      const read = (token?: string, auth?: string) =>
        fetchAnon(
          `/v1/async/${first.request_id}`,
          {
            headers: { ...(token ? { 'x-async-owner-token': token } : {}), ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
          },
          token === first.owner_token && !auth ? 1 : 0,
        );
      expect((await read(first.owner_token)).status).toBe(200);
      expect((await read()).status).toBe(404);
      expect((await read(second.owner_token)).status).toBe(404);
      expect((await read('aot_nothex')).status).toBe(404);
      // A client presenting the token is still that client, not the anonymous owner.
      expect((await read(first.owner_token, TOKENS.alice)).status).toBe(404);
    });
  });
});

describe('async webhook', () => {
  it('refuses unsigned and forged deliveries with 401 and stores nothing, checking the signature before parsing', async () => {
    const { accepted } = await submit('asyncmodel');
    const body = deliveryBody(accepted.request_id);
    const forgedBySecret = await signature(body, 'whsec_not_ours');
    const tampered = deliveryBody(accepted.request_id, { data: { output: 'forged' } });
    for (const [sent, header] of [
      [body, null],
      [body, 'garbage'],
      [body, forgedBySecret],
      [tampered, await signature(body)],
      ['{not json', forgedBySecret],
    ] as const) {
      const res = await deliver(sent, header);
      expect(res.status).toBe(401);
      expect((await errorOf(res)).type).toBe('unauthorized');
    }
    expect(await storedResult(accepted.request_id)).toBeNull();
  });

  it('refuses a genuinely signed delivery more than 300 s old (a replay) or from the future, storing nothing', async () => {
    const { accepted } = await submit('asyncmodel');
    for (const offsetMs of [-301_000, 301_000]) {
      const res = await deliverSigned(deliveryBody(accepted.request_id, { time: new Date(Date.now() + offsetMs).toISOString() }));
      expect(res.status).toBe(401);
    }
    expect(await storedResult(accepted.request_id)).toBeNull();
  });

  it("refuses a delivery naming another model than its request's (400), storing nothing", async () => {
    const { accepted } = await submit('asyncmodel');
    expect((await deliverSigned(deliveryBody(accepted.request_id, { modelId: 'other1' }))).status).toBe(400);
    expect(await storedResult(accepted.request_id)).toBeNull();
  });

  it('treats a repeated delivery as harmless: the first stored result stands', async () => {
    const { accepted } = await submit('asyncmodel');
    const body = deliveryBody(accepted.request_id, { data: { output: 'first' } });
    expect((await deliverSigned(body)).status).toBe(200);
    const stored = await storedResult(accepted.request_id);
    expect(stored).toMatchObject({ v: 1, status: 'SUCCEEDED', output: { output: 'first' } });
    expect((await deliverSigned(body)).status).toBe(200);
    expect((await deliverSigned(deliveryBody(accepted.request_id, { data: { output: 'second' } }))).status).toBe(200);
    expect(await storedResult(accepted.request_id)).toEqual(stored);
  });

  it('accepts any of several signatures during a key rotation, and any of several configured secrets', async () => {
    const { accepted } = await submit('asyncmodel');
    const body = deliveryBody(accepted.request_id);
    const rotated = `${await signature(body, 'whsec_newer')},${await signature(body)}`;
    expect((await deliver(body, rotated)).status).toBe(200);

    const other = await submit('asyncmodel');
    const otherBody = deliveryBody(other.accepted.request_id);
    const res = await worker.fetch(
      tracked(incoming(WEBHOOK_URL, { method: 'POST', body: otherBody, headers: { 'x-baseten-signature': await signature(otherBody, 'whsec_newer') } })),
      { ...env, BASETEN_WEBHOOK_SECRET: `whsec_newer,${TEST_WEBHOOK_SECRET}` } as Env,
      createExecutionContext(),
    );
    expect(res.status).toBe(200);
    expect(await storedResult(other.accepted.request_id)).not.toBeNull();
  });

  it('refuses every delivery when no webhook secret is configured', async () => {
    const { accepted } = await submit('asyncmodel');
    const body = deliveryBody(accepted.request_id);
    const res = await worker.fetch(
      tracked(incoming(WEBHOOK_URL, { method: 'POST', body, headers: { 'x-baseten-signature': await signature(body) } })),
      { ...env, BASETEN_WEBHOOK_SECRET: '' } as Env,
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(await storedResult(accepted.request_id)).toBeNull();
  });

  it('refuses a signed body that is not a delivery with 400', async () => {
    const body = '{"hello":"world"}';
    expect((await deliver(body, vectorSignature(body, TEST_WEBHOOK_SECRET))).status).toBe(400);
  });
});

describe('async cancel', () => {
  it('cancels a queued request upstream and records the outcome; status then reads CANCELED from KV', async () => {
    const { accepted } = await submit('asyncmodel');
    const id = uniqueId();
    const res = await call(`/v1/async/${accepted.request_id}`, { method: 'DELETE', token: 'alice', headers: { 'x-request-id': id }, upstream: 1 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ request_id: accepted.request_id, model: 'asyncmodel', canceled: true, message: 'request canceled' });
    const [seen] = await upstreamRequests(id);
    expect(seen!.method).toBe('DELETE');
    expect(seen!.path).toBe(`/model-abc123/async_request/${accepted.request_id}`);
    expect((await storedRecord(accepted.request_id))!.cancel).toMatchObject({ canceled: true, message: 'request canceled' });
    const { res: statusRes, upstream } = await status(accepted.request_id);
    expect(await statusRes.json()).toMatchObject({ status: 'CANCELED', final: true, cancel: { canceled: true } });
    expect(await upstream()).toHaveLength(0);
  });

  it("records Baseten's refusal to cancel a running request, with its message", async () => {
    const { accepted } = await submit('asyncmodel', { queue_ms: 0, run_ms: 600_000 });
    await eventually(async () => ((await polledBody(accepted.request_id)).status === 'IN_PROGRESS' ? true : undefined));
    const res = await call(`/v1/async/${accepted.request_id}`, { method: 'DELETE', token: 'alice', upstream: 1 });
    const outcome = (await res.json()) as { canceled: boolean; message: string };
    expect(outcome.canceled).toBe(false);
    expect(outcome.message).toContain('IN_PROGRESS');
    expect((await storedRecord(accepted.request_id))!.cancel).toMatchObject({ canceled: false });
    expect(await statusBody(accepted.request_id, 1)).toMatchObject({ status: 'IN_PROGRESS', cancel: { canceled: false } });
  });

  it('answers a final request without calling Baseten', async () => {
    const { accepted } = await submit('asyncmodel');
    await deliverSigned(deliveryBody(accepted.request_id));
    const id = uniqueId();
    const res = await call(`/v1/async/${accepted.request_id}`, { method: 'DELETE', token: 'alice', headers: { 'x-request-id': id } });
    expect(await res.json()).toMatchObject({ canceled: false, message: 'request is already SUCCEEDED' });
    expect(await upstreamRequests(id)).toHaveLength(0);
  });
});

describe('async queue status', () => {
  it("returns the target's queue counts under the alias, without Baseten's IDs", async () => {
    await submit('asyncmodel');
    const id = uniqueId();
    const res = await call('/v1/models/asyncmodel/async/queue', { token: 'alice', headers: { 'x-request-id': id }, upstream: 1 });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain('abc123');
    expect(text).not.toContain('dep-env');
    const body = JSON.parse(text) as { model: string; num_queued_requests: number; num_in_progress_requests: number };
    expect(body.model).toBe('asyncmodel');
    expect(body.num_queued_requests).toBeGreaterThanOrEqual(1);
    expect(typeof body.num_in_progress_requests).toBe('number');
    expect((await upstreamRequests(id))[0]!.path).toBe('/model-abc123/environments/production/async_queue_status');
  });

  it('is refused for an alias without "async"', async () => {
    expect((await call('/v1/models/echo/async/queue', { token: 'alice' })).status).toBe(403);
  });
});

describe('KV outage', () => {
  const failing = () => {
    throw new Error('KV is down');
  };
  const throwingKv = { get: failing, put: failing, delete: failing, list: failing, getWithMetadata: failing } as unknown as KVNamespace;
  const outageEnv = { ...env, ASYNC_REQUESTS: throwingKv } as Env;
  const request = (path: string, init: RequestInit<IncomingRequestCfProperties> = {}) => incoming(`${GATEWAY}${path}`, init);
  const submitRequest = (id: string) =>
    request('/v1/models/asyncmodel/async', {
      method: 'POST',
      body: '{"model_input":{"fake":{"queue_ms":600000}}}',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.alice}`, 'x-request-id': id },
    });

  it('answers a submit Baseten accepted with a clear 503 that still carries the upstream request id', async () => {
    const id = uniqueId();
    expectUpstream(id, 1);
    const res = await worker.fetch(submitRequest(id), outageEnv, createExecutionContext());
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const error = (await res.json()) as { error: { type: string; async_request_id: string; status_url: string } };
    expect(error.error.type).toBe('service_unavailable');
    expect(error.error.async_request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(error.error.status_url).toBe(`${GATEWAY}/v1/async/${error.error.async_request_id}`);
    // Baseten did get the work, under that id.
    expect(await upstreamRequests(id)).toHaveLength(1);
    expect((await fetch(`${fakeUrl()}/__fake/async/${error.error.async_request_id}`)).status).toBe(200);
  });

  it('writes the record in the background when KV comes back, so the id returned with the 503 becomes usable', async () => {
    let failures = 1;
    const flakyKv = new Proxy(env.ASYNC_REQUESTS, {
      get(target, name) {
        if (name === 'put' && failures-- > 0) return failing;
        const value = Reflect.get(target, name) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const ctx = createExecutionContext();
    const res = await worker.fetch(tracked(submitRequest(uniqueId()), 1), { ...env, ASYNC_REQUESTS: flakyKv } as Env, ctx);
    expect(res.status).toBe(503);
    const { error } = (await res.json()) as { error: { async_request_id: string } };
    await waitOnExecutionContext(ctx);
    expect((await status(error.async_request_id, 'alice', 1)).res.status).toBe(200);
  });

  it('answers status, cancel and webhook calls with 503 service_unavailable, the webhook so that Baseten retries', async () => {
    const requestId = randomRequestId();
    const auth = { authorization: `Bearer ${TOKENS.alice}` };
    const body = deliveryBody(requestId);
    for (const req of [
      request(`/v1/async/${requestId}`, { headers: auth }),
      request(`/v1/async/${requestId}`, { method: 'DELETE', headers: auth }),
      request('/v1/webhooks/baseten', { method: 'POST', body, headers: { 'x-baseten-signature': await signature(body) } }),
    ]) {
      const res = await worker.fetch(tracked(req), outageEnv, createExecutionContext());
      expect(res.status).toBe(503);
      expect((await errorOf(res)).type).toBe('service_unavailable');
    }
  });
});
