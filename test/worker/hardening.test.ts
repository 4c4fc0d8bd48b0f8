/**
 * Regression tests for the holes an attacker's probe found (docs/security-hardening.md):
 * redirects, stalled bodies, batch rate limits, the OpenAPI cache key, OpenAI
 * `model` rewriting, PUBLIC_BASE_URL, inherited property names, ID and
 * partial-secret scrubbing, CORS on simple requests, a caller leaving before
 * the headers, IPv6 rate-limit keys and long query strings. Each runs the
 * Worker in workerd against the fake Baseten.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate, type Caller } from '../../src/auth.ts';
import { type Config, ConfigError, type ConfigSource, loadConfig, parseConfig } from '../../src/config.ts';
import { HttpError } from '../../src/errors.ts';
import worker from '../../src/index.ts';
import { openApiFor } from '../../src/openapi.ts';
import { redact } from '../../src/redact.ts';
import { API } from '../../src/route-table.ts';
import { callUpstream } from '../../src/upstream.ts';
import { publicMessage, readSmallJson } from '../../src/upstream-errors.ts';
import { HARDENING_TOKENS } from '../config/hardening.ts';
import { TEST_API_KEY, TEST_MODELS, TEST_WEBHOOK_SECRET } from '../config.ts';
import { call, errorOf, type FakeRequest, fakeUrl, GATEWAY, sleep, uniqueId, upstreamRequests } from './helpers.ts';

/** Polls the fake's log until `done` holds for the request's upstream calls (or gives up and returns what it saw). */
async function eventually(id: string, done: (seen: FakeRequest[]) => boolean): Promise<FakeRequest[]> {
  let seen = await upstreamRequests(id);
  for (let i = 0; i < 60 && !done(seen); i++) {
    await sleep(100);
    seen = await upstreamRequests(id);
  }
  return seen;
}

async function steer(rule: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${fakeUrl()}/__fake/steer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  expect(res.ok).toBe(true);
  await res.arrayBuffer();
}

/** The call's answer, or 'hung' when none came within `ms`. */
async function within(ms: number, answer: Promise<Response>): Promise<Response | 'hung'> {
  return Promise.race([answer, sleep(ms).then(() => 'hung' as const)]);
}

describe('redirects from upstream are never followed', () => {
  it.each([301, 302, 303, 307, 308])('a predict answered %i is a 502, and nothing is sent to the redirect target', async (status) => {
    const id = uniqueId('redirect');
    const res = await call('/v1/models/echo/predict', {
      token: 'alice',
      json: { secret_input: 'x', fake: { redirect: true, redirect_status: status } },
      headers: { 'x-request-id': id },
    });
    expect(res.status).toBe(502);
    const error = await errorOf(res);
    expect(error.type).toBe('upstream_error');
    expect(error.message).toContain(`Baseten answered ${status}`);
    await sleep(100);
    const seen = await upstreamRequests(id);
    expect(seen.map((r) => r.path)).toEqual(['/model-abc123/environments/production/predict']);
  });

  it('an OpenAI call answered with a redirect is a 502', async () => {
    const id = uniqueId('redirect-chat');
    const res = await call('/v1/chat/completions', {
      token: 'alice',
      headers: { 'x-request-id': id },
      json: { model: 'llm', messages: [{ role: 'user', content: 'hi' }], fake: { redirect: true } },
    });
    expect(res.status).toBe(502);
    expect((await errorOf(res)).type).toBe('upstream_error');
    expect((await upstreamRequests(id)).every((r) => !r.path.startsWith('/redirected'))).toBe(true);
  });

  it('an async submit answered with a redirect is a 502', async () => {
    const id = uniqueId('redirect-async');
    const res = await call('/v1/models/asyncmodel/async', {
      token: 'alice',
      json: { model_input: { fake: { redirect: true } } },
      headers: { 'x-request-id': id },
    });
    expect(res.status).toBe(502);
    expect((await upstreamRequests(id)).every((r) => !r.path.startsWith('/redirected'))).toBe(true);
  });

  it('an async queue status answered with a redirect is a 502', async () => {
    const id = uniqueId('redirect-queue');
    await steer({ request_id: id, fake: { redirect: true } });
    const res = await call('/v1/models/asyncmodel/async/queue', { token: 'alice', headers: { 'x-request-id': id } });
    expect(res.status).toBe(502);
    expect((await upstreamRequests(id)).map((r) => r.path)).toEqual(['/model-abc123/environments/production/async_queue_status']);
  });
});

describe('a body the gateway reads itself has a deadline', () => {
  it("an error body that stalls: 502 with Baseten's status soon after timeout_ms, and the upstream is cancelled", async () => {
    const id = uniqueId('stall-error');
    const res = await within(
      4000,
      call('/v1/models/quick/predict', { token: 'alice', json: { fake: { status: 500, stall_body: true } }, headers: { 'x-request-id': id } }),
    );
    expect(res).not.toBe('hung');
    const answer = res as Response;
    expect(answer.status).toBe(502);
    expect((await errorOf(answer)).message).toContain('Baseten answered 500');
    const seen = await eventually(id, (s) => s[0]?.aborted === true);
    expect(seen[0]?.aborted).toBe(true);
  });

  it('an async submit answer that stalls: 504, and the upstream is cancelled', async () => {
    const id = uniqueId('stall-submit');
    const res = await within(
      4000,
      call('/v1/models/quick-async/async', { token: 'alice', json: { model_input: { fake: { stall_body: true } } }, headers: { 'x-request-id': id } }),
    );
    expect(res).not.toBe('hung');
    const answer = res as Response;
    expect(answer.status).toBe(504);
    expect((await errorOf(answer)).type).toBe('upstream_timeout');
    expect((await eventually(id, (s) => s[0]?.aborted === true))[0]?.aborted).toBe(true);
  });

  it("a control answer (queue status) that stalls fails at the call's deadline, and the upstream is cancelled", async () => {
    const id = uniqueId('stall-control');
    await steer({ request_id: id, fake: { stall_body: true } });
    const sign = (signal: AbortSignal) =>
      new Request(`${fakeUrl()}/model-abc123/environments/production/async_queue_status`, {
        headers: { authorization: `Api-Key ${TEST_API_KEY}`, 'x-request-id': id },
        signal,
      });
    const upstream = await callUpstream(sign, { timeoutMs: 300 });
    expect(upstream.status).toBe(200);
    const outcome = await Promise.race([
      readSmallJson(upstream).then(
        () => 'read',
        (err: unknown) => err,
      ),
      sleep(4000).then(() => 'hung'),
    ]);
    expect(outcome).toBeInstanceOf(HttpError);
    expect((outcome as HttpError).type).toBe('upstream_timeout');
    expect((await eventually(id, (s) => s[0]?.aborted === true))[0]?.aborted).toBe(true);
  });
});

describe("every batch row counts against the caller's rate limit", () => {
  const rows = (n: number) => ({ rows: Array.from({ length: n }, (_, i) => ({ i })) });

  it('a batch of more rows than a rate-limit tier allows is refused whole, nothing sent', async () => {
    const id = uniqueId('batch-tier');
    const res = await call('/v1/models/echo/batch', { token: HARDENING_TOKENS.batcher, json: rows(6), headers: { 'x-request-id': id } });
    expect(res.status).toBe(429);
    expect((await errorOf(res)).type).toBe('rate_limited');
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('on the strict global limit (3 an hour), a batch spends one unit per row', async () => {
    // The request itself takes one unit; its four rows cannot: refused, the rows' units left untaken.
    const over = uniqueId('batch-global-over');
    const refused = await call('/v1/models/echo/batch', { token: HARDENING_TOKENS.globalBatcher, json: rows(4), headers: { 'x-request-id': over } });
    expect(refused.status).toBe(429);
    expect(await upstreamRequests(over)).toHaveLength(0);

    const fits = uniqueId('batch-global-fits');
    const served = await call('/v1/models/echo/batch', { token: HARDENING_TOKENS.globalBatcher, json: rows(2), headers: { 'x-request-id': fits } });
    expect(served.status).toBe(200);
    await served.arrayBuffer();
    expect(await upstreamRequests(fits)).toHaveLength(2);
    // One unit for the refused batch, two for these rows: the hour's budget is spent.
    const next = await call('/v1/models/echo/predict', { token: HARDENING_TOKENS.globalBatcher, json: {} });
    expect(next.status).toBe(429);
    await next.arrayBuffer();
  });
});

describe('the client name "anonymous" and the per-caller OpenAPI document', () => {
  const base: ConfigSource = { ASYNC_REQUESTS: {}, BASETEN_API_KEY: 'k', BASETEN_URL_TEMPLATE: 'http://127.0.0.1:8788/{subdomain}', MODELS: TEST_MODELS };

  it.each(['anonymous', 'Anonymous', 'ANONYMOUS'])('refuses a client named %j', (name) => {
    expect(() => parseConfig({ ...base, CLIENTS: { [name]: { token_sha256: 'a'.repeat(64), models: ['*'] } } })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, CLIENTS: { [name]: { token_sha256: 'a'.repeat(64), models: ['*'] } } })).toThrow(/CLIENTS\.\w+: .*reserved/);
  });

  it('keys the document by what the caller may see, not by a name', async () => {
    const config = parseConfig(base);
    const namedLikeAnonymous: Caller = {
      name: 'anonymous',
      anonymous: false,
      admin: false,
      rateLimitKey: 'client:anonymous',
      rateLimit: { kind: 'none' },
      meterKey: 'client:anonymous',
      canUse: () => true,
    };
    expect(openApiFor(API, config, namedLikeAnonymous)).toContain('/v1/models/typed/predict');
    const anonymous = await authenticate(new Request(GATEWAY), config, env as Env);
    expect(anonymous.anonymous).toBe(true);
    expect(openApiFor(API, config, anonymous)).not.toContain('/v1/models/typed/predict');
  });
});

describe('OpenAI routes: `model` is rewritten once, and the cap holds for what is sent', () => {
  it.each([
    ['twice', '{"model":"llm","model":"llm","messages":[]}'],
    ['twice, once escaped', '{"model":"llm","messages":[],"mod\\u0065l":"llm"}'],
    ['three times', '{"model":"llm","messages":[],"model":"llm","model":"llm"}'],
  ])('refuses `model` given %s (400, nothing sent)', async (_label, body) => {
    const id = uniqueId('dup-model');
    const res = await call('/v1/chat/completions', {
      method: 'POST',
      token: 'alice',
      body,
      headers: { 'content-type': 'application/json', 'x-request-id': id },
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).type).toBe('invalid_request');
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses a body under max_body_bytes that the longer served name pushes over it (413, nothing sent)', async () => {
    const id = uniqueId('grown');
    const head = '{"model":"llm-tight","messages":[],"pad":"';
    const body = `${head}${'p'.repeat(4096 - head.length - 2)}"}`;
    expect(new TextEncoder().encode(body).byteLength).toBe(4096);
    const res = await call('/v1/chat/completions', {
      method: 'POST',
      token: 'alice',
      body,
      headers: { 'content-type': 'application/json', 'x-request-id': id },
    });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).type).toBe('payload_too_large');
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('still sends a body whose rewritten form fits', async () => {
    const id = uniqueId('fits');
    const res = await call('/v1/chat/completions', {
      token: 'alice',
      json: { model: 'llm-tight', messages: [{ role: 'user', content: 'hi' }] },
      headers: { 'x-request-id': id },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const [sent] = await upstreamRequests(id);
    expect(JSON.parse(sent!.body).model).toBe('Qwen/Qwen2.5-3B-Instruct');
  });
});

describe('PUBLIC_BASE_URL is required for async aliases against Baseten itself', () => {
  const asyncModels = { MODELS: { m: { model_id: 'abc123', environment: 'production', async: true } } };
  const base: ConfigSource = { ASYNC_REQUESTS: {}, BASETEN_API_KEY: 'k', ...asyncModels };

  it('refuses an async alias without PUBLIC_BASE_URL', () => {
    expect(() => parseConfig(base)).toThrow(/PUBLIC_BASE_URL: required .*async/);
  });

  it('refuses a PUBLIC_BASE_URL over http', () => {
    expect(() => parseConfig({ ...base, PUBLIC_BASE_URL: 'http://gateway.example.com' })).toThrow(/PUBLIC_BASE_URL: must be https/);
  });

  it('accepts an https PUBLIC_BASE_URL, and no async alias without one', () => {
    expect(parseConfig({ ...base, PUBLIC_BASE_URL: 'https://gateway.example.com' }).publicBaseUrl).toBe('https://gateway.example.com');
    expect(() => parseConfig({ ...base, MODELS: { m: { model_id: 'abc123', environment: 'production' } } })).not.toThrow();
  });

  it("leaves a local upstream (the fake, 127.0.0.1) free to use the caller's Host", () => {
    expect(() => parseConfig({ ...base, BASETEN_URL_TEMPLATE: 'http://127.0.0.1:8788/{subdomain}' })).not.toThrow();
  });
});

describe('caller-chosen keys are looked up as own properties only', () => {
  it.each(['{"constructor":3}', '{"__proto__":7}', '{"toString":1}', '{"hasOwnProperty":1}', '{"constructor":1.5}', '{"valueOf":{}}'])(
    'refuses inference_retry_config %s (400, nothing sent)',
    async (retry) => {
      const id = uniqueId('retry-proto');
      const body = `{"model_input":{"prompt":"hi"},"inference_retry_config":${retry}}`;
      const res = await call('/v1/models/asyncmodel/async', {
        method: 'POST',
        token: 'alice',
        body,
        headers: { 'content-type': 'application/json', 'x-request-id': id },
      });
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.message).toMatch(/unknown field inference_retry_config\./);
      expect(error.message).not.toContain('undefined');
      expect(await upstreamRequests(id)).toHaveLength(0);
    },
  );
});

describe("input_schema checks see only the caller's own keys", () => {
  it.each([
    ['an inherited name as an extra key', '{"prompt":"hi","constructor":1}', /constructor/],
    ['__proto__ as an extra key', '{"prompt":"hi","__proto__":{"n":9}}', /__proto__/],
  ])('refuses %s (400, naming it)', async (_label, body, named) => {
    const id = uniqueId('schema-proto');
    const res = await call('/v1/models/typed/predict', {
      method: 'POST',
      token: 'alice',
      body,
      headers: { 'content-type': 'application/json', 'x-request-id': id },
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(named);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });
});

describe('Baseten IDs and partial secrets are scrubbed from upstream messages', () => {
  let config: Config;
  beforeAll(() => {
    config = loadConfig(env as ConfigSource);
  });
  const echo = () => config.models.get('echo')!;

  it("replaces the target's own ID in any letter case", () => {
    expect(publicMessage('model ABC123 failed; Abc123 again', echo())).toBe('model echo failed; echo again');
  });

  it('removes every ID the config knows, whichever alias it belongs to', () => {
    const text = publicMessage('deployment q4w8e of dev456, chain XYZ789, llm001', echo());
    for (const id of ['q4w8e', 'dev456', 'xyz789', 'llm001']) expect(text.toLowerCase()).not.toContain(id);
  });

  it('removes ID-shaped tokens it has never seen', () => {
    const text = publicMessage('model zq8x7w2k: deployment_id=7fk2mq9p not ready (model-Wq3e5r7t.api.baseten.co)', echo());
    for (const id of ['zq8x7w2k', '7fk2mq9p', 'wq3e5r7t']) expect(text.toLowerCase()).not.toContain(id);
    expect(text).toContain('not ready');
  });

  it('keeps ordinary words and numbers', () => {
    expect(publicMessage('CUDA out of memory on an A100 after 30 s (HTTP 500)', echo())).toBe('CUDA out of memory on an A100 after 30 s (HTTP 500)');
  });

  it('cuts any run of 8 or more characters of a secret, in any case', () => {
    const prefix = TEST_API_KEY.slice(0, 8);
    expect(redact(`Invalid API key ${prefix}***`)).not.toContain(prefix);
    expect(redact(`key …${TEST_API_KEY.slice(3, 12).toUpperCase()}…`).toLowerCase()).not.toContain(TEST_API_KEY.slice(3, 12));
    expect(redact(`secret ${TEST_WEBHOOK_SECRET.slice(1, 9)}`)).not.toContain(TEST_WEBHOOK_SECRET.slice(1, 9));
    expect(redact(`seven ${TEST_API_KEY.slice(0, 7)}`)).toContain(TEST_API_KEY.slice(0, 7));
  });

  it("a Baseten error quoting another deployment's ID in capitals and a key prefix reaches the caller without them", async () => {
    const message = `deployment Q4W8E of model ABC123 refused key ${TEST_API_KEY.slice(0, 9)}...`;
    const res = await call('/v1/models/echo/predict', { token: 'alice', json: { fake: { status: 500, message } }, upstream: 1 });
    expect(res.status).toBe(502);
    const text = (await errorOf(res)).message;
    expect(text.toLowerCase()).not.toMatch(/q4w8e|abc123/);
    expect(text).not.toContain(TEST_API_KEY.slice(0, 8));
  });
});

describe('CORS is enforced on every request that carries an Origin', () => {
  it('refuses a simple request from a disallowed origin (403, nothing sent)', async () => {
    const id = uniqueId('cors-simple');
    const res = await call('/v1/models/echo/predict', {
      method: 'POST',
      body: '{}',
      token: 'alice',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example.com', 'x-request-id': id },
    });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).type).toBe('forbidden');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses a disallowed origin on a GET too', async () => {
    const res = await call('/v1/models', { headers: { origin: 'null' } });
    expect(res.status).toBe(403);
    await res.arrayBuffer();
  });

  it.each([
    ['an allowed origin', { origin: 'https://app.example.com' }, 'https://app.example.com'],
    ["the gateway's own origin (its playground)", { origin: GATEWAY }, null],
    ['no origin (server to server)', {}, null],
  ])('serves %s', async (_label, headers, allowOrigin) => {
    const id = uniqueId('cors-ok');
    const res = await call('/v1/models/echo/predict', { token: 'alice', json: {}, headers: { ...headers, 'x-request-id': id } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(allowOrigin);
    await res.arrayBuffer();
    expect(await upstreamRequests(id)).toHaveLength(1);
  });
});

describe('a caller who leaves before the response headers', () => {
  it("cancels the upstream call when the request's signal fires (what Cloudflare does on a disconnect)", async () => {
    const id = uniqueId('leave-early');
    const caller = new AbortController();
    const request = new Request<unknown, IncomingRequestCfProperties>(`${GATEWAY}/v1/models/echo/predict`, {
      method: 'POST',
      body: JSON.stringify({ fake: { hang: true } }),
      signal: caller.signal,
      headers: { 'content-type': 'application/json', 'x-request-id': id },
    });
    const ctx = createExecutionContext();
    const answer = worker.fetch(request, env, ctx);
    await eventually(id, (seen) => seen.length === 1);
    caller.abort();
    const res = await answer;
    expect(res.status).toBe(502);
    await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
    expect((await eventually(id, (s) => s[0]?.aborted === true))[0]?.aborted).toBe(true);
  });
});

describe('anonymous IPv6 callers are rate limited per /64', () => {
  const config = () => loadConfig(env as ConfigSource);
  const keyOf = async (ip: string) => (await authenticate(new Request(GATEWAY, { headers: { 'cf-connecting-ip': ip } }), config(), env as Env)).rateLimitKey;

  it('puts every address of one /64 in one bucket', async () => {
    const keys = await Promise.all(['2001:db8:1:2::1', '2001:DB8:1:2:ffff:ffff:ffff:fffe', '2001:0db8:0001:0002:abcd::9'].map(keyOf));
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toBe('ip:2001:db8:1:2::/64');
  });

  it('keeps other /64s, IPv4 and IPv4-mapped addresses apart', async () => {
    expect(await keyOf('2001:db8:1:3::1')).toBe('ip:2001:db8:1:3::/64');
    expect(await keyOf('::1')).toBe('ip:0:0:0:0::/64');
    expect(await keyOf('203.0.113.7')).toBe('ip:203.0.113.7');
    expect(await keyOf('::ffff:203.0.113.7')).toBe('ip:203.0.113.7');
  });
});

describe('query strings have a length cap', () => {
  it.each([
    ['/healthz', {}],
    ['/v1/models/echo/predict', { token: 'alice', json: {} }],
    ['/v1/models/custom/sync/items/1', { token: 'alice' }],
  ] as const)('answers 414 uri_too_long on %s with a 60 KB query, nothing sent', async (path, init) => {
    const id = uniqueId('long-query');
    const res = await call(`${path}?q=${'a'.repeat(60_000)}`, { ...init, headers: { 'x-request-id': id } });
    expect(res.status).toBe(414);
    expect((await errorOf(res)).type).toBe('uri_too_long');
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('serves a query at the cap', async () => {
    const id = uniqueId('query-at-cap');
    const res = await call(`/v1/models/custom/sync/items/1?q=${'a'.repeat(8192 - 3)}`, { token: 'alice', headers: { 'x-request-id': id } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await upstreamRequests(id)).toHaveLength(1);
  });
});
