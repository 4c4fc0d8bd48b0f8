import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index.ts';
import { TEST_API_KEY, TEST_WEBHOOK_SECRET } from '../config.ts';
import { call, errorOf, GATEWAY, tracked, uniqueId, upstreamRequests } from './helpers.ts';

describe('health and model list', () => {
  it('answers /healthz without calling Baseten', async () => {
    const id = uniqueId();
    const res = await call('/healthz', { headers: { 'x-request-id': id } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it("lists only what each caller may use, in OpenAI's shape", async () => {
    const ids = async (token?: string) => {
      const body = (await (await call('/v1/models', { token })).json()) as { object: string; data: { id: string; object: string }[] };
      expect(body.object).toBe('list');
      return body.data.map((m) => m.id).sort();
    };
    expect(await ids()).toEqual(['echo']);
    expect(await ids('bob')).toEqual(['echo', 'staging']);
    expect(await ids('alice')).toContain('pipeline');
  });
});

describe('request ids', () => {
  it('echoes a sane x-request-id and replaces garbage', async () => {
    const sane = uniqueId('sane');
    expect((await call('/healthz', { headers: { 'x-request-id': sane } })).headers.get('x-request-id')).toBe(sane);
    for (const bad of ['has space', 'x'.repeat(200), '<script>', 'a\u00e9']) {
      const got = (await call('/healthz', { headers: { 'x-request-id': bad } })).headers.get('x-request-id');
      expect(got).not.toBe(bad);
      expect(got).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('puts the request id on error responses too', async () => {
    const id = uniqueId('err');
    const res = await call('/nowhere', { headers: { 'x-request-id': id } });
    expect(res.headers.get('x-request-id')).toBe(id);
    expect((await errorOf(res)).request_id).toBe(id);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    call('/v1/models/echo/predict', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });

  it('answers a preflight from an allowed origin', async () => {
    const res = await preflight('https://app.example.com');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('gives a disallowed origin no CORS headers', async () => {
    const res = await preflight('https://evil.example.com');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await call('/healthz', { headers: { origin: 'https://evil.example.com' } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('exposes x-request-id to an allowed origin', async () => {
    const res = await call('/v1/models/echo/predict', { json: {}, headers: { origin: 'https://app.example.com' }, upstream: 1 });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-expose-headers')).toContain('x-request-id');
    await res.arrayBuffer();
  });
});

describe('sync routes', () => {
  it('forwards a listed route with its method and query', async () => {
    const id = uniqueId();
    const res = await call('/v1/models/custom/sync/items/42?full=1', { token: 'alice', headers: { 'x-request-id': id }, upstream: 1 });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(id);
    expect(seen!.method).toBe('GET');
    expect(seen!.path).toBe('/model-srv001/environments/production/sync/items/42');
    expect(seen!.query).toContain('full=1');
  });

  it('streams a request body to the custom server, and refuses one over max_body_bytes', async () => {
    const id = uniqueId();
    const res = await call('/v1/models/custom/sync/items/7', {
      token: 'alice',
      method: 'PUT',
      body: 'payload-bytes',
      headers: { 'content-type': 'text/plain', 'x-request-id': id },
      upstream: 1,
    });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(id);
    expect(seen!.method).toBe('PUT');
    expect(seen!.body).toBe('payload-bytes');
    const big = uniqueId();
    const over = await call('/v1/models/custom/sync/items/7', {
      token: 'alice',
      method: 'POST',
      body: 'x'.repeat(11 * 1024 * 1024),
      headers: { 'x-request-id': big },
    });
    expect(over.status).toBe(413);
    expect(await upstreamRequests(big)).toHaveLength(0);
  });

  it.each(['HEAD', 'PATCH', 'DELETE', 'OPTIONS'])("forwards %s to a listed route as the custom server's own method", async (method) => {
    const id = uniqueId();
    const res = await call('/v1/models/custom/sync/items/9', { token: 'alice', method, headers: { 'x-request-id': id } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const [seen] = await upstreamRequests(id);
    expect(seen!.method).toBe(method);
    expect(seen!.path).toBe('/model-srv001/environments/production/sync/items/9');
  });

  it.each([
    '/v1/models/custom/sync/secret',
    '/v1/models/custom/sync/items',
    '/v1/models/custom/sync/items/..%2f..%2fadmin',
    '/v1/models/custom/sync/items/%2e%2e',
    '/v1/models/custom/sync/items/a%2Fb',
    '/v1/models/custom/sync/items/a%5cb',
    '/v1/models/custom/sync/items//x',
    '/v1/models/custom/sync/items/%252e%252e',
    '/v1/models/custom/sync/items/../../../../admin',
    '/v1/models/custom/sync/items/%00',
    '/v1/models/echo/sync/health',
  ])('refuses %s without calling Baseten', async (path) => {
    const id = uniqueId();
    const res = await call(path, { token: 'alice', headers: { 'x-request-id': id } });
    expect(res.status).toBe(404);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });
});

describe('configuration', () => {
  const run = (overrides: Record<string, unknown>) =>
    worker.fetch(tracked(new Request(`${GATEWAY}/healthz`)), { ...env, ...overrides } as Env, {} as ExecutionContext);

  it('answers every request with a 500 naming the bad field, never the key', async () => {
    const res = await run({ MODELS: JSON.stringify({ bad: { model_id: 'abc', environment: 'production', deployment_id: 'x' } }) });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain('MODELS.bad');
    expect(text).not.toContain(TEST_API_KEY);
  });

  it('accepts vars given as strings holding JSON', async () => {
    const res = await run({ MODELS: JSON.stringify({ a: { model_id: 'abc', development: true } }), CLIENTS: '{}', ALLOWED_ORIGINS: '[]' });
    expect(res.status).toBe(200);
  });

  it('answers 502 when Baseten cannot be reached', async () => {
    // Baseten is out of reach (port 9): the fake sees nothing.
    const res = await worker.fetch(
      tracked(new Request(`${GATEWAY}/v1/models/echo/predict`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })),
      { ...env, BASETEN_URL_TEMPLATE: 'http://127.0.0.1:9/{subdomain}' } as Env,
      {} as ExecutionContext,
    );
    expect(res.status).toBe(502);
    expect((await errorOf(res)).type).toBe('upstream_error');
  });
});

describe('the key never leaves the Worker', () => {
  it('appears in no response body or header across routes and failures', async () => {
    const responses = await Promise.all([
      call('/healthz'),
      call('/v1/models', { token: 'alice' }),
      call('/v1/models/echo/predict', { json: { fake: { leak_headers: true } }, upstream: 1 }),
      call('/v1/models/echo/predict', { json: { fake: { status: 401, message: 'bad key' } }, upstream: 1 }),
      call('/v1/models/quick/predict', { token: 'alice', json: { fake: { delay_ms: 2000 } }, upstream: 1 }),
      call('/v1/models/custom/sync/health', { token: 'alice', upstream: 1 }),
      call('/v1/models/echo/predict', { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } }),
    ]);
    for (const res of responses) {
      const text = await res.text();
      const headers = [...res.headers].join('\n');
      for (const secret of [TEST_API_KEY, TEST_WEBHOOK_SECRET]) {
        expect(text).not.toContain(secret);
        expect(headers).not.toContain(secret);
      }
    }
  });
});
