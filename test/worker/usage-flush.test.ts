import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ConfigSource, parseConfig } from '../../src/config.ts';
import worker from '../../src/index.ts';
import { emptyCounters } from '../../src/meter-rules.ts';
import { addToBatch, dayWithBatch, openBatch, periodWithBatch } from '../../src/usage-batch.ts';
import { GATEWAY, tracked } from './helpers.ts';
import { makeClient as makeClientOf, usageOf } from './usage-helpers.ts';

const makeClient = (settings: Record<string, unknown> = {}) => makeClientOf(settings, ['echo']);

/** The real CLIENT_METER, with every request to it noted by path; `fail` makes the paths it names fail. */
function watchedMeter(fail: readonly string[] = []) {
  const paths: string[] = [];
  const meter = {
    idFromName: (name: string) => env.CLIENT_METER!.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = env.CLIENT_METER!.get(id);
      return {
        fetch: (url: string, init?: RequestInit) => {
          const { pathname } = new URL(url);
          paths.push(pathname);
          return fail.includes(pathname) ? Promise.reject(new Error('meter down')) : stub.fetch(url, init);
        },
      };
    },
  };
  return { meter, writes: (path: string) => paths.filter((p) => p === path).length };
}

/** A predict with env overrides, its waitUntil work (the usage writes) awaited. */
async function predictWith(overrides: Record<string, unknown>, token: string, body = '{"prompt":"hi"}'): Promise<Response> {
  const ctx = createExecutionContext();
  const upstream = body.startsWith('{') ? 1 : 0;
  const request = tracked(
    new Request(`${GATEWAY}/v1/models/echo/predict`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    }),
    upstream,
  );
  const res = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...env, ...overrides } as Env, ctx);
  await res.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return res;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('usage written in batches', () => {
  it('writes the calls of a client without a quota within the window once, and the usage shows every one', async () => {
    const client = await makeClient();
    const { meter, writes } = watchedMeter();
    const settings = { SETTINGS: { usage_flush_ms: 1000 } };
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => predictWith({ CLIENT_METER: meter, ...settings }, client.token)),
      predictWith({ CLIENT_METER: meter, ...settings }, client.token, 'not json'),
    ]);
    expect(answers.map((res) => res.status).sort()).toEqual([200, 200, 200, 200, 200, 400]);
    expect(writes('/record-batch')).toBe(1);
    expect(writes('/record')).toBe(0);
    const usage = await usageOf(client.token);
    expect(usage.totals.requests).toBe(6);
    expect(usage.totals.errors).toBe(1);
    expect(usage.by_alias.echo!.requests).toBe(6);
  });

  it('writes each call of a client with a quota at once, so the quota stays exact', async () => {
    const client = await makeClient({ quota: { requests_per_day: 100 } });
    const { meter, writes } = watchedMeter();
    for (let n = 1; n <= 3; n += 1) {
      expect((await predictWith({ CLIENT_METER: meter, SETTINGS: { usage_flush_ms: 5000 } }, client.token)).status).toBe(200);
      expect(writes('/record')).toBe(n);
      expect((await usageOf(client.token)).totals.requests).toBe(n);
    }
    expect(writes('/record-batch')).toBe(0);
  });

  it('writes each call at once with usage_flush_ms 0', async () => {
    const client = await makeClient();
    const { meter, writes } = watchedMeter();
    await Promise.all([1, 2].map(() => predictWith({ CLIENT_METER: meter, SETTINGS: { usage_flush_ms: 0 } }, client.token)));
    expect(writes('/record')).toBe(2);
    expect(writes('/record-batch')).toBe(0);
    expect((await usageOf(client.token)).totals.requests).toBe(2);
  });

  it('logs a batch its meter did not take, and the answers are not affected', async () => {
    const client = await makeClient();
    const { meter, writes } = watchedMeter(['/record-batch']);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const answers = await Promise.all([1, 2, 3].map(() => predictWith({ CLIENT_METER: meter, SETTINGS: { usage_flush_ms: 500 } }, client.token)));
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200]);
    expect(writes('/record-batch')).toBe(1);
    expect(logged.mock.calls.map(([line]) => String(line)).join('\n')).toContain('3 calls not counted: Error: meter down');
  });
});

describe('batch rules', () => {
  it('takes usage_flush_ms from 0 to 10000 ms, 1000 when not set', () => {
    expect(parseConfig({ ...env, SETTINGS: {} } as ConfigSource).settings.usageFlushMs).toBe(1000);
    expect(() => parseConfig({ ...env, SETTINGS: { usage_flush_ms: 10_001 } } as ConfigSource)).toThrow(/SETTINGS.usage_flush_ms/);
  });

  it('sums calls by alias as single records would', () => {
    const batch = openBatch(Date.UTC(2025, 0, 31, 12));
    const call = { alias: 'echo', error: false, upstreamMs: 2.4, inputTokens: 3, outputTokens: 4, requests: 1, admitted: 0 };
    addToBatch(batch, call);
    addToBatch(batch, { ...call, error: true });
    addToBatch(batch, { ...call, alias: 'llm', admitted: 1 });
    expect(batch.usage.echo).toMatchObject({ requests: 2, errors: 1, input_tokens: 6, output_tokens: 8, upstream_ms: 4, websocket_connections: 0 });
    expect(batch.period).toMatchObject({ dayRequests: 2, monthRequests: 2, dayTokens: 21, monthTokens: 21 });
    const socket = { messagesFromClient: 2, bytesFromClient: 10, messagesFromUpstream: 3, bytesFromUpstream: 30, durationMs: 99.6 };
    addToBatch(batch, { ...call, alias: 'rt', requests: 1, socket });
    addToBatch(batch, { ...call, alias: 'rt', requests: 4, socket });
    expect(batch.usage.rt).toMatchObject({ requests: 5, websocket_connections: 2, websocket_bytes_from_upstream: 60, websocket_ms: 200 });
    const stored = { echo: { ...emptyCounters(), requests: 1, input_tokens: 1, output_tokens: 1, upstream_ms: 1 } };
    expect(dayWithBatch(stored, batch.usage).echo).toMatchObject({ requests: 3, errors: 1, input_tokens: 7, output_tokens: 9, upstream_ms: 5 });
    expect(stored.echo.requests).toBe(1);
  });

  it('counts a batch written after midnight UTC in its own day only, and after the first of a month in its month only', () => {
    const batch = openBatch(Date.UTC(2025, 0, 31, 23, 59, 59));
    addToBatch(batch, { alias: 'echo', error: false, upstreamMs: 1, inputTokens: 1, outputTokens: 1, requests: 1, admitted: 0 });
    const now = (day: string, month: string) => ({ day, month, dayRequests: 10, dayTokens: 10, monthRequests: 10, monthTokens: 10 });
    expect(periodWithBatch(now('2025-01-31', '2025-01'), batch.period)).toMatchObject({ dayRequests: 11, dayTokens: 12, monthRequests: 11, monthTokens: 12 });
    expect(periodWithBatch(now('2025-02-01', '2025-02'), batch.period)).toMatchObject({ dayRequests: 10, monthRequests: 10, monthTokens: 10 });
    expect(periodWithBatch(now('2025-01-30', '2025-01'), batch.period)).toMatchObject({ dayRequests: 10, monthRequests: 11 });
  });
});
