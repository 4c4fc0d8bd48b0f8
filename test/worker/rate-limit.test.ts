import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../../src/index.ts';
import { takeFromWindow } from '../../src/rate-window.ts';
import { TEST_CLIENTS, TOKEN_SHA256 } from '../config.ts';
import { call, errorOf, GATEWAY, sleep, tracked, uniqueId, upstreamRequests } from './helpers.ts';

/**
 * Windows are aligned to the clock: a run that straddles a boundary would see
 * its count reset halfway. Starting at least 2 s before the next boundary
 * keeps a short run inside one window. The clock is Miniflare's rate limiter's
 * and the Durable Object's, outside this isolate's fake timers, so this waits
 * for real, and only when a boundary is less than 2 s away.
 */
async function startWellInsideWindow(periodSeconds: number): Promise<void> {
  const periodMs = periodSeconds * 1000;
  const left = periodMs - (Date.now() % periodMs);
  if (left < 2000) await sleep(left + 100);
}

/** Calls the Worker with config overrides, as a deployment with other vars would run; `upstream` calls reach Baseten. */
async function callWith(overrides: Record<string, unknown>, path: string, init: RequestInit, upstream: number): Promise<Response> {
  const ctx = createExecutionContext();
  const request = tracked(new Request<unknown, IncomingRequestCfProperties>(`${GATEWAY}${path}`, init as RequestInit<IncomingRequestCfProperties>), upstream);
  const res = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const predictInit = (headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  body: '{}',
  headers: { 'content-type': 'application/json', ...headers },
});

describe('rate limiting per client', () => {
  it('refuses a client on the 5-a-minute tier with 429, retry-after and no upstream call from its 6th request', async () => {
    await startWellInsideWindow(60);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call('/v1/models/echo/predict', { token: 'limited', json: {}, upstream: 1 });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const id = uniqueId('limited');
    const refused = await call('/v1/models/echo/predict', { token: 'limited', json: {}, headers: { 'x-request-id': id } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    const error = await errorOf(refused);
    expect(error.type).toBe('rate_limited');
    expect(error.request_id).toBe(id);
    expect(await upstreamRequests(id)).toHaveLength(0);
    // Another client's count is its own.
    const other = await call('/v1/models/echo/predict', { token: 'bob', json: {}, upstream: 1 });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it('holds a client on the strict global limit to its count through the Durable Object', async () => {
    await startWellInsideWindow(3600);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call('/v1/models', { token: 'strict' });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200]);
    const refused = await call('/v1/models/echo/predict', { token: 'strict', json: {} });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect((await errorOf(refused)).type).toBe('rate_limited');
  });

  it('never limits a client whose entry says "none"', async () => {
    const clients = { ...TEST_CLIENTS, alice: { token_sha256: TOKEN_SHA256.alice, models: ['*'], rate_limit: 'none' } };
    const overrides = { CLIENTS: clients, SETTINGS: { anonymous_rate_limit: 'RATE_LIMITER_STRICT', usage_flush_ms: 0 } };
    for (let i = 0; i < 8; i++) {
      const res = await callWith(overrides, '/v1/models', { headers: { authorization: 'Bearer alice-token-0123456789abcdef' } }, 0);
      expect(res.status).toBe(200);
    }
  });
});

describe('rate limiting anonymous callers', () => {
  it('counts each IP apart', async () => {
    await startWellInsideWindow(60);
    const overrides = { SETTINGS: { anonymous_rate_limit: 'RATE_LIMITER_STRICT', usage_flush_ms: 0 } };
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const allowed = i < 5;
      statuses.push((await callWith(overrides, '/v1/models/echo/predict', predictInit({ 'cf-connecting-ip': ip }), allowed ? 1 : 0)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const neighbour = await callWith(
      overrides,
      '/v1/models/echo/predict',
      predictInit({ 'cf-connecting-ip': `203.0.113.${Math.floor(Math.random() * 250)}` }),
      1,
    );
    expect(neighbour.status).toBe(200);
  });
});

describe('rate limiter failures', () => {
  it('lets the request through and logs when the binding itself fails', async () => {
    const logged = vi.spyOn(console, 'error');
    const broken = { limit: () => Promise.reject(new Error('limiter down')) };
    const res = await callWith({ RATE_LIMITER: broken }, '/v1/models/echo/predict', predictInit(), 1);
    expect(res.status).toBe(200);
    expect(logged.mock.calls.flat().join('\n')).toContain('rate limiter failed, request let through');
    logged.mockRestore();
  });
});

describe('the fixed window', () => {
  it('allows limit requests per aligned window and says how long until the next', () => {
    let stored: Parameters<typeof takeFromWindow>[0];
    const start = 1_700_000_040_000; // a multiple of 60 s
    for (let i = 0; i < 3; i++) {
      const { outcome, next } = takeFromWindow(stored, start + i * 1000, 3, 60);
      expect(outcome.allowed).toBe(true);
      stored = next;
    }
    const refused = takeFromWindow(stored, start + 15_500, 3, 60);
    expect(refused.outcome).toEqual({ allowed: false, retryAfterSeconds: 45 });
    expect(takeFromWindow(stored, start + 60_000, 3, 60).outcome.allowed).toBe(true);
  });
});
