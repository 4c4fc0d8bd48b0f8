/**
 * Code written for Baseten, pointed at the gateway: Baseten's Api-Key scheme,
 * Baseten's own paths under /v1/models/{alias}/ answering like the gateway's
 * routes (async ones in Baseten's field names), BEI routes through sync,
 * Baseten's request headers, whole answers that keep their length and a
 * model's refusal marked as final.
 */
import { describe, expect, it } from 'vitest';
import { TOKENS } from '../config.ts';
import { call, errorOf, uniqueId, upstreamRequests } from './helpers.ts';

const PREFIXES = ['/production', '/development', '/environments/staging', '/deployment/q4w8e', ''];

/** One call with Baseten's own auth header, tagged so its upstream request can be found. */
async function viaApiKey(path: string, init: RequestInit & { json?: unknown } = {}, token: string = TOKENS.alice) {
  const id = uniqueId('dropin');
  const { json, ...rest } = init;
  const headers = { authorization: `Api-Key ${token}`, 'x-request-id': id, ...(rest.headers as Record<string, string> | undefined) };
  const res = await call(path, json === undefined ? { ...rest, headers } : { ...rest, json, headers });
  return { id, res, upstream: await upstreamRequests(id) };
}

describe('Api-Key as a caller scheme', () => {
  it('takes the same client tokens as Bearer', async () => {
    const { res, upstream } = await viaApiKey('/v1/models/staging/predict', { json: { prompt: 'hi' } }, TOKENS.bob);
    expect(res.status).toBe(200);
    expect(upstream).toHaveLength(1);
  });

  it('fails a bad token, and an alias not granted, exactly as Bearer does', async () => {
    const bad = 'not-a-client-token-0123456789';
    for (const [token, status] of [
      [bad, 401],
      [TOKENS.bob, 403],
    ] as const) {
      const apiKey = await call('/v1/models/pinned/predict', { json: {}, headers: { authorization: `Api-Key ${token}` } });
      const bearer = await call('/v1/models/pinned/predict', { json: {}, headers: { authorization: `Bearer ${token}` } });
      expect([apiKey.status, bearer.status]).toEqual([status, status]);
      const [a, b] = [await errorOf(apiKey), await errorOf(bearer)];
      expect([a.type, a.message]).toEqual([b.type, b.message]);
    }
  });
});

describe("Baseten's paths under /v1/models/{alias}/", () => {
  it.each(PREFIXES.flatMap((prefix) => ['predict', 'run_remote'].map((action) => [`${prefix}/${action}`])))(
    "%s calls the alias's own target, whatever the prefix names",
    async (rest) => {
      const model = await viaApiKey(`/v1/models/staging${rest}`, { json: { prompt: 'hi' } });
      expect(model.res.status).toBe(200);
      expect(model.upstream.map((r) => r.path)).toEqual(['/model-abc123/environments/staging/predict']);
      const chain = await viaApiKey(`/v1/models/pipeline${rest}`, { json: { prompt: 'hi' } });
      expect(chain.res.status).toBe(200);
      expect(chain.upstream.map((r) => r.path)).toEqual(['/chain-xyz789/environments/production/run_remote']);
    },
  );

  it.each([
    '/v1/models/echo/environments/bad.name/predict',
    '/v1/models/echo/environments/-x/predict',
    '/v1/models/echo/deployment/not-an-id/predict',
    '/v1/models/echo/deployment/q4w8e%2F..%2Fx/predict',
  ])('refuses %s (a malformed segment) without calling Baseten', async (path) => {
    const { res, upstream } = await viaApiKey(path, { json: {} });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).type).toBe('not_found');
    expect(upstream).toHaveLength(0);
  });

  it("validates an alias's input schema on Baseten's paths too", async () => {
    const { res, upstream } = await viaApiKey('/v1/models/typed/production/predict', { json: { prompt: '' } });
    expect(res.status).toBe(400);
    expect(upstream).toHaveLength(0);
  });

  it("wakes through Baseten's wake paths, for admin clients only", async () => {
    const { res, upstream } = await viaApiKey('/v1/models/staging/environments/staging/wake', { method: 'POST' }, TOKENS.admin);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ alias: 'staging', status: 'waking' });
    expect(upstream.map((r) => r.path)).toEqual(['/model-abc123/environments/staging/wake']);
    const refused = await viaApiKey('/v1/models/staging/production/wake', { method: 'POST' }, TOKENS.bob);
    expect(refused.res.status).toBe(403);
    expect(refused.upstream).toHaveLength(0);
  });

  it.each(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])('reaches a listed sync route with %s under each prefix', async (method) => {
    for (const prefix of ['/production', '/development', '/environments/sync', '/deployment/q4w8e']) {
      const body = method === 'GET' || method === 'HEAD' ? undefined : '{}';
      const { res, upstream } = await viaApiKey(`/v1/models/custom${prefix}/sync/items/7?x=1`, {
        method,
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, `${method} ${prefix}`).toBe(200);
      expect(upstream.map((r) => `${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`)).toEqual([
        `${method} /model-srv001/environments/production/sync/items/7?x=1`,
      ]);
    }
  });

  it.each(['/production', '/development', '/environments/production', '/deployment/v1d2e3'])(
    "opens a WebSocket at %s/websocket to the alias's own target, with Api-Key",
    async (prefix) => {
      const { res, upstream } = await viaApiKey(`/v1/models/voice${prefix}/websocket`, { headers: { upgrade: 'websocket' } });
      expect(res.status).toBe(101);
      const socket = res.webSocket!;
      socket.accept();
      const echo = new Promise<string>((resolve) => socket.addEventListener('message', (event) => resolve(String(event.data)), { once: true }));
      socket.send('hello');
      expect(await echo).toBe('hello');
      socket.close(1000, 'done');
      expect(upstream.map((r) => r.path)).toEqual(['/model-voc001/environments/production/websocket']);
    },
  );

  it("refuses an unlisted sync route, or one escaping its prefix, under Baseten's prefixes", async () => {
    for (const path of [
      '/v1/models/custom/production/sync/secret',
      '/v1/models/custom/environments/x/sync/items/..%2F..%2Fpredict',
      '/v1/models/custom/development/sync',
    ]) {
      const { res, upstream } = await viaApiKey(path);
      expect(res.status, path).toBe(404);
      expect(upstream).toHaveLength(0);
    }
  });
});

describe("async on Baseten's paths, in Baseten's field names", () => {
  async function submitted(path = '/v1/models/asyncmodel/production/async_predict') {
    const { res, upstream } = await viaApiKey(path, { json: { model_input: { prompt: 'hi', fake: { queue_ms: 600_000 } } } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { request_id: string };
    expect(Object.keys(body)).toEqual(['request_id']);
    return { requestId: body.request_id, upstream };
  }

  it('submits (models async_predict, chains async_run_remote) and answers {"request_id"} with 201', async () => {
    const model = await submitted('/v1/models/asyncmodel/environments/anything/async_predict');
    expect(model.upstream.map((r) => r.path)).toEqual(['/model-abc123/environments/production/async_predict']);
    const chain = await submitted('/v1/models/asyncchain/async_run_remote');
    expect(chain.upstream.map((r) => r.path)).toEqual(['/chain-xyz789/environments/production/async_run_remote']);
  });

  it("keeps the gateway handler's headers: an Idempotency-Key replay says so, and Baseten is called once", async () => {
    const key = uniqueId('idem');
    const json = { model_input: { prompt: 'hi', fake: { queue_ms: 600_000 } } };
    const first = await viaApiKey('/v1/models/asyncmodel/production/async_predict', { json, headers: { 'idempotency-key': key } });
    expect(first.res.status).toBe(201);
    expect(first.upstream).toHaveLength(1);
    const again = await viaApiKey('/v1/models/asyncmodel/production/async_predict', { json, headers: { 'idempotency-key': key } });
    expect(again.res.status).toBe(201);
    expect(again.res.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.res.json()).toEqual(await first.res.json());
    expect(again.upstream).toHaveLength(0);
  });

  it("answers status with Baseten's fields, the alias in model_id and deployment_id", async () => {
    const { requestId } = await submitted();
    const { res } = await viaApiKey(`/v1/models/asyncmodel/async_request/${requestId}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['created_at', 'deployment_id', 'errors', 'model_id', 'request_id', 'status', 'status_at', 'webhook_status']);
    expect(body).toMatchObject({
      request_id: requestId,
      model_id: 'asyncmodel',
      deployment_id: 'asyncmodel',
      status: 'QUEUED',
      webhook_status: 'PENDING',
      errors: [],
    });
    expect(JSON.stringify(body)).not.toContain('abc123');
  });

  it("cancels with Baseten's fields", async () => {
    const { requestId } = await submitted();
    const { res, upstream } = await viaApiKey(`/v1/models/asyncmodel/async_request/${requestId}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ request_id: requestId, canceled: true });
    expect(upstream.map((r) => `${r.method} ${r.path}`)).toEqual([`DELETE /model-abc123/async_request/${requestId}`]);
  });

  it("does not find a request under another alias's path, and cancels nothing there", async () => {
    const { requestId } = await submitted();
    for (const method of ['GET', 'DELETE']) {
      const { res, upstream } = await viaApiKey(`/v1/models/typed/async_request/${requestId}`, { method });
      expect(res.status).toBe(404);
      expect(upstream).toHaveLength(0);
    }
  });

  it("answers the queue with Baseten's fields", async () => {
    const { res, upstream } = await viaApiKey('/v1/models/asyncmodel/development/async_queue_status');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['deployment_id', 'model_id', 'num_in_progress_requests', 'num_queued_requests']);
    expect(body).toMatchObject({ model_id: 'asyncmodel', deployment_id: 'asyncmodel' });
    expect(upstream.map((r) => r.path)).toEqual(['/model-abc123/environments/production/async_queue_status']);
  });

  it("keeps the gateway's own errors", async () => {
    const { res } = await viaApiKey('/v1/models/echo/production/async_predict', { json: { model_input: {} } });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).type).toBe('forbidden');
  });
});

describe('"bei": true aliases', () => {
  it.each([
    ['/v1/embeddings', { input: ['hello'], model: 'any' }],
    ['/rerank', { query: 'q?', texts: ['a', 'b'], return_text: true }],
    ['/classify', { inputs: [['good']] }],
    ['/predict', { inputs: [['good']] }],
  ])("reach the engine's %s through sync without listing it", async (route, body) => {
    const { res, upstream } = await viaApiKey(`/v1/models/bei-embed/sync${route}`, { json: body });
    expect(res.status).toBe(200);
    expect(upstream.map((r) => r.path)).toEqual([`/model-bei001/environments/production/sync${route}`]);
    const unlisted = await viaApiKey(`/v1/models/bei-unlisted/sync${route}`, { json: body });
    expect(unlisted.res.status).toBe(404);
  });

  it('reach nothing else', async () => {
    expect((await viaApiKey('/v1/models/bei-embed/sync/health')).res.status).toBe(404);
  });
});

describe("Baseten's request headers", () => {
  it("forwards the customer request id and the timeout and deadline, capped by the alias's timeout_ms", async () => {
    const now = Date.now();
    const { upstream } = await viaApiKey('/v1/models/quick/predict', {
      json: {},
      headers: { 'request-timeout-ms': '3600000', 'request-deadline-ms': String(now + 3_600_000), 'x-baseten-customer-request-id': 'perfclient-abc-0-0' },
    });
    const headers = upstream[0]!.headers;
    expect(headers['x-baseten-customer-request-id']).toBe('perfclient-abc-0-0');
    expect(headers['request-timeout-ms']).toBe('300');
    const deadline = Number(headers['request-deadline-ms']);
    expect(deadline).toBeGreaterThanOrEqual(now + 300);
    expect(deadline).toBeLessThan(now + 60_000);
  });

  it('forwards shorter limits as they are, and drops malformed ones', async () => {
    const soon = Date.now() + 50;
    const kept = await viaApiKey('/v1/models/echo/predict', { json: {}, headers: { 'request-timeout-ms': '120', 'request-deadline-ms': String(soon) } });
    expect(kept.upstream[0]!.headers).toMatchObject({ 'request-timeout-ms': '120', 'request-deadline-ms': String(soon) });
    const dropped = await viaApiKey('/v1/models/echo/predict', {
      json: {},
      headers: { 'request-timeout-ms': '-5', 'request-deadline-ms': 'soon', 'x-baseten-customer-request-id': 'a b' },
    });
    for (const name of ['request-timeout-ms', 'request-deadline-ms', 'x-baseten-customer-request-id'])
      expect(dropped.upstream[0]!.headers[name]).toBeUndefined();
  });
});

describe('whole answers and final refusals', () => {
  it("marks whole JSON answers (the gateway's own, errors, relayed ones with a length) so nothing re-frames them", async () => {
    const answers = [
      await call('/v1/models', { token: 'alice' }),
      await call('/v1/models/nope/predict', { token: 'alice', json: {} }),
      await call('/v1/models/echo/predict', { token: 'alice', json: { prompt: 'hi' }, upstream: 1 }),
    ];
    for (const res of answers) {
      expect(res.headers.get('cache-control')).toContain('no-transform');
      expect(res.headers.get('content-encoding')).toBe('identity');
      await res.body?.cancel();
    }
  });

  it('leaves a stream alone', async () => {
    const res = await call('/v1/models/echo/predict', { token: 'alice', json: { fake: { stream: { chunks: 3, chunk_bytes: 4, delay_ms: 5 } } }, upstream: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('cache-control') ?? '').not.toContain('no-transform');
    await res.text();
  });

  it.each([
    [400, 'false'],
    [422, 'false'],
    [413, 'false'],
    [404, null],
    [429, null],
    [500, null],
    [503, null],
  ])("a model's %s carries x-should-retry: %s", async (status, expected) => {
    const res = await call('/v1/models/echo/predict', { token: 'alice', json: { fake: { status, retry_after: null } }, upstream: 1 });
    expect(res.headers.get('x-should-retry')).toBe(expected);
    await res.body?.cancel();
  });
});
