import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../src/auth.ts';
import { type CacheKeyInput, cacheDirectives, cacheKey, cacheScope } from '../../src/cache-key.ts';
import { ConfigError, type ConfigSource, parseConfig } from '../../src/config.ts';
import worker from '../../src/index.ts';
import { TOKENS } from '../config.ts';
import { checkAnswer } from './contract.ts';
import { call, errorOf, GATEWAY, tracked } from './helpers.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const base: CacheKeyInput = { scope: 'shared', alias: 'a', route: 'predict', target: '{"kind":"model","id":"x"}', body: bytes('{"p":1}') };
const caller = (name: string, anonymous = false) => ({ name, anonymous }) as Caller;
const option = (shared: boolean) => ({ ttlSeconds: 60, shared, streams: false });

describe('cache key', () => {
  it('never gives two clients the same key unless the alias is shared', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.uint8Array({ maxLength: 64 }), async (a, b, body) => {
        fc.pre(a !== b);
        const own = (name: string) => cacheKey({ ...base, body, scope: cacheScope(caller(name), option(false)) });
        const shared = (name: string) => cacheKey({ ...base, body, scope: cacheScope(caller(name), option(true)) });
        expect(await own(a)).not.toBe(await own(b));
        expect(await shared(a)).toBe(await shared(b));
        expect(await own(a)).not.toBe(await shared(a));
      }),
      { numRuns: 50 },
    );
  });

  it('keeps anonymous callers apart from a client named "anonymous"', async () => {
    const anonymous = cacheScope(caller('anonymous', true), option(false));
    const client = cacheScope(caller('anonymous'), option(false));
    expect(await cacheKey({ ...base, scope: anonymous })).not.toBe(await cacheKey({ ...base, scope: client }));
  });

  it.each([
    ['alias', { alias: 'b' }],
    ['route', { route: 'chat/completions' }],
    ['target', { target: '{"kind":"model","id":"y"}' }],
    ['body bytes (whitespace)', { body: bytes('{"p": 1}') }],
    ['a field moved into the body', { alias: '', body: bytes('a{"p":1}') }],
  ])('changes with the %s', async (_label, change) => {
    expect(await cacheKey({ ...base, ...change })).not.toBe(await cacheKey(base));
  });

  it('is the same for the same request, as 64 hex characters', async () => {
    const key = await cacheKey(base);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(await cacheKey({ ...base, body: bytes('{"p":1}') })).toBe(key);
  });
});

describe('cache directives', () => {
  it.each([
    [null, true, true],
    ['max-age=0', true, true],
    ['no-cache', false, true],
    ['No-Cache, max-age=0', false, true],
    ['no-store', false, false],
    ['private, no-store="x"', false, false],
  ])('Cache-Control %s: lookup %s, store %s', (header, lookup, store) => {
    expect(cacheDirectives(header)).toEqual({ lookup, store });
  });
});

describe('cache config', () => {
  const models = (cache: unknown) =>
    ({ ASYNC_REQUESTS: {}, BASETEN_API_KEY: 'k', MODELS: { m: { model_id: 'abc', environment: 'production', cache } } }) as ConfigSource;

  it('reads ttl_seconds, shared and streams', () => {
    expect(parseConfig(models({ ttl_seconds: 30, shared: true })).models.get('m')!.cache).toEqual({ ttlSeconds: 30, shared: true, streams: false });
  });

  it.each([
    [{}, 'MODELS.m.cache.ttl_seconds'],
    [{ ttl_seconds: 0 }, 'MODELS.m.cache.ttl_seconds'],
    [{ ttl_seconds: 10, stream: true }, 'MODELS.m.cache.stream: unknown setting'],
    [{ ttl_seconds: 10, shared: 'yes' }, 'MODELS.m.cache.shared'],
    [true, 'MODELS.m.cache: must be a JSON object'],
  ])('refuses %j', (cache, message) => {
    expect(() => parseConfig(models(cache))).toThrow(ConfigError);
    expect(() => parseConfig(models(cache))).toThrow(message);
  });
});

interface Sent {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
}

/**
 * One request through the Worker's fetch handler, its answer read whole, and
 * its waitUntil work (a cache write) finished before this returns, so the
 * next request sees what was stored. The answer is checked against the
 * OpenAPI document, like call()'s.
 */
async function send(
  path: string,
  options: { token?: string; json?: unknown; body?: string; headers?: Record<string, string>; upstream: number },
): Promise<Sent> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set('authorization', `Bearer ${options.token in TOKENS ? TOKENS[options.token as keyof typeof TOKENS] : options.token}`);
  headers.set('content-type', 'application/json');
  const body = options.body ?? JSON.stringify(options.json);
  const request = tracked(new Request<unknown, IncomingRequestCfProperties>(`${GATEWAY}${path}`, { method: 'POST', headers, body }), options.upstream);
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, env, ctx);
  const read = new Uint8Array(await res.arrayBuffer().catch(() => new ArrayBuffer(0)));
  await waitOnExecutionContext(ctx);
  await checkAnswer({ method: 'POST', path, preflight: false, response: new Response(read, { status: res.status, headers: res.headers }) });
  return { status: res.status, headers: res.headers, body: read, text: new TextDecoder().decode(read) };
}

let counter = 0;
/** An input no other test (nor an earlier run against the same cache) sends. */
const fresh = (extra: Record<string, unknown> = {}) => ({ prompt: `cache-test ${Date.now()} ${++counter} ${Math.random()}`, ...extra });

describe('predict through the cache', () => {
  it('answers a repeated request from the cache, without calling Baseten, with age and the same bytes', async () => {
    const json = fresh();
    const miss = await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 });
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.headers.get('age')).toBeNull();
    const hit = await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 0 });
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('age')).toMatch(/^\d+$/);
    expect(hit.headers.get('content-type')).toBe(miss.headers.get('content-type'));
    expect(hit.text).toBe(miss.text);
    // The entry's own bookkeeping stays behind; the first answer's Cache-Control (no-transform, which keeps its length) comes back.
    expect([...hit.headers.keys()].filter((name) => name.startsWith('x-gateway') || name === 'cf-cache-status')).toEqual([]);
    expect(hit.headers.get('cache-control')).toBe(miss.headers.get('cache-control'));
  });

  it("keeps each client's answers to itself", async () => {
    const json = fresh();
    expect((await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
    expect((await send('/v1/models/cached/predict', { token: 'admin', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
    expect((await send('/v1/models/cached/predict', { token: 'admin', json, upstream: 0 })).headers.get('x-cache')).toBe('HIT');
    expect((await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 0 })).headers.get('x-cache')).toBe('HIT');
  });

  it('shares one entry between clients when the alias says shared, still checking who may call', async () => {
    const json = fresh();
    expect((await send('/v1/models/cached-shared/predict', { token: 'alice', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
    expect((await send('/v1/models/cached-shared/predict', { token: 'admin', json, upstream: 0 })).headers.get('x-cache')).toBe('HIT');
    const stranger = await send('/v1/models/cached-shared/predict', { token: 'bob', json, upstream: 0 });
    expect(stranger.status).toBe(403);
    const anonymous = await send('/v1/models/cached-shared/predict', { json, upstream: 0 });
    expect(anonymous.status).toBe(401);
  });

  it("never answers one alias from another's entry, even for the same target and body", async () => {
    const json = fresh();
    await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 });
    expect((await send('/v1/models/cached-twin/predict', { token: 'alice', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
  });

  it('keys on the exact bytes: the same JSON spaced differently is another entry', async () => {
    const json = fresh();
    await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 });
    const spaced = await send('/v1/models/cached/predict', { token: 'alice', body: JSON.stringify(json, null, 1), upstream: 1 });
    expect(spaced.headers.get('x-cache')).toBe('MISS');
  });

  it('bypasses on Cache-Control: no-cache and stores the fresh answer for the next caller', async () => {
    const json = fresh();
    await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 });
    const refreshed = await send('/v1/models/cached/predict', { token: 'alice', json, headers: { 'cache-control': 'no-cache' }, upstream: 1 });
    expect(refreshed.headers.get('x-cache')).toBe('BYPASS');
    expect((await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 0 })).headers.get('x-cache')).toBe('HIT');
  });

  it('neither reads nor stores on Cache-Control: no-store', async () => {
    const json = fresh();
    const first = await send('/v1/models/cached/predict', { token: 'alice', json, headers: { 'cache-control': 'no-store' }, upstream: 1 });
    expect(first.headers.get('x-cache')).toBe('BYPASS');
    expect((await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
    expect(
      (await send('/v1/models/cached/predict', { token: 'alice', json, headers: { 'cache-control': 'no-store' }, upstream: 1 })).headers.get('x-cache'),
    ).toBe('BYPASS');
  });

  it.each([500, 503, 400, 404])('never stores a failed call (Baseten %i)', async (status) => {
    const json = fresh({ fake: { status } });
    const first = await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 });
    expect(first.status).not.toBe(200);
    expect(first.headers.get('x-cache')).toBeNull();
    expect((await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 })).status).toBe(first.status);
  });

  it("counts a hit against the caller's rate limit", async () => {
    const json = fresh();
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await send('/v1/models/cached/predict', { token: 'cache-limited', json, upstream: i === 0 ? 1 : 0 }));
    expect(answers.map((answer) => answer.headers.get('x-cache'))).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 'HIT']);
    const refused = await send('/v1/models/cached/predict', { token: 'cache-limited', json, upstream: 0 });
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text).error.type).toBe('rate_limited');
  });

  it('does not store a stream unless the alias caches streams', async () => {
    const json = fresh({ fake: { stream: { chunks: 4, chunk_bytes: 64 } } });
    expect((await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
    expect((await send('/v1/models/cached/predict', { token: 'alice', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
  });

  it('stores a stream that ended cleanly and replays it as a stream, byte for byte', async () => {
    const json = fresh({ fake: { stream: { chunks: 6, chunk_bytes: 1000, content_type: 'application/x-ndjson' } } });
    const miss = await send('/v1/models/cached-streams/predict', { token: 'alice', json, upstream: 1 });
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.body.byteLength).toBe(6000);
    const hit = await send('/v1/models/cached-streams/predict', { token: 'alice', json, upstream: 0 });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('content-type')).toBe('application/x-ndjson');
    expect(hit.headers.get('content-length')).toBeNull();
    expect(hit.body).toEqual(miss.body);
  });

  it('never stores a stream that broke off', async () => {
    const json = fresh({ fake: { stream: { chunks: 6, chunk_bytes: 1000 }, close_mid_stream: true } });
    const cut = await send('/v1/models/cached-streams/predict', { token: 'alice', json, upstream: 1 });
    expect(cut.body.byteLength).toBeLessThan(6000);
    expect((await send('/v1/models/cached-streams/predict', { token: 'alice', json, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
  });

  it('passes binary input through uncached', async () => {
    const id = `binary-${Date.now()}`;
    const res = await call('/v1/models/cached/predict', {
      method: 'POST',
      token: 'alice',
      body: new Uint8Array([1, 2, 3]),
      headers: { 'content-type': 'application/octet-stream', 'x-request-id': id },
      upstream: 1,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBeNull();
  });
});

describe('OpenAI routes through the cache', () => {
  const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: fresh().prompt }], ...extra });

  it('replays a chat completion (the same id: not a new generation)', async () => {
    const json = chat('cached-llm-json');
    const miss = await send('/v1/chat/completions', { token: 'alice', json, upstream: 1 });
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const hit = await call('/v1/chat/completions', { token: 'alice', json, upstream: 0 });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(await hit.text()).toBe(miss.text);
  });

  it("counts a hit's tokens in the caller's usage, read from the stored answer", async () => {
    const tokensOf = async () => {
      const usage = (await (await call('/v1/usage', { token: 'alice' })).json()) as {
        by_alias: Record<string, { input_tokens: number; output_tokens: number }>;
      };
      const counters = usage.by_alias['cached-llm-json'];
      return (counters?.input_tokens ?? 0) + (counters?.output_tokens ?? 0);
    };
    const json = chat('cached-llm-json');
    const before = await tokensOf();
    const miss = await send('/v1/chat/completions', { token: 'alice', json, upstream: 1 });
    const { usage } = JSON.parse(miss.text) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const perAnswer = usage.prompt_tokens + usage.completion_tokens;
    expect(perAnswer).toBeGreaterThan(0);
    expect(await tokensOf()).toBe(before + perAnswer);
    const hit = await send('/v1/chat/completions', { token: 'alice', json, upstream: 0 });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(await tokensOf()).toBe(before + 2 * perAnswer);
  });

  it("never answers one route from another's entry", async () => {
    const body = JSON.stringify({ ...chat('cached-llm-json'), prompt: 'same bytes' });
    await send('/v1/chat/completions', { token: 'alice', body, upstream: 1 });
    expect((await send('/v1/completions', { token: 'alice', body, upstream: 1 })).headers.get('x-cache')).toBe('MISS');
  });

  it('bypasses "stream": true when the alias does not cache streams', async () => {
    const json = chat('cached-llm-json', { stream: true });
    for (let i = 0; i < 2; i++) {
      const answer = await send('/v1/chat/completions', { token: 'alice', json, upstream: 1 });
      expect(answer.headers.get('x-cache')).toBe('BYPASS');
      expect(answer.text).toContain('data: [DONE]');
    }
  });

  it('replays an event stream byte for byte when the alias caches streams', async () => {
    const json = chat('cached-llm', { stream: true });
    const miss = await send('/v1/chat/completions', { token: 'alice', json, upstream: 1 });
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.text).toContain('data: [DONE]');
    const hit = await send('/v1/chat/completions', { token: 'alice', json, upstream: 0 });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('content-type')).toBe(miss.headers.get('content-type'));
    expect(hit.headers.get('cache-control')).toBe('no-cache');
    expect(hit.body).toEqual(miss.body);
  });

  it("never stores an engine's refusal", async () => {
    const json = chat('cached-llm-json', { fake: { status: 400 } });
    expect((await send('/v1/chat/completions', { token: 'alice', json, upstream: 1 })).status).toBe(400);
    const again = await send('/v1/chat/completions', { token: 'alice', json, upstream: 1 });
    expect(again.status).toBe(400);
    expect((await errorOf(new Response(again.text))).type).toBe('invalid_request');
  });
});
