/**
 * The key only ever goes to the configured Baseten origin: config values that
 * could steer the signed request elsewhere are refused at load, and every
 * outbound request the Worker makes, from every route, is checked.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, type ConfigSource, parseConfig } from '../../src/config.ts';
import { targetUrl } from '../../src/upstream.ts';
import { RATE_LIMIT_TEST_CLIENTS, TEST_API_KEY, TEST_CLIENTS, TEST_MODELS, TOKENS } from '../config.ts';
import { call, fakeUrl } from './helpers.ts';

const base: ConfigSource = {
  ASYNC_REQUESTS: {},
  BASETEN_API_KEY: 'abcd1234.secretsecret',
  MODELS: { m: { model_id: 'abc123', environment: 'production' } },
};

function rejects(overrides: ConfigSource, field: string): void {
  let error: unknown;
  try {
    parseConfig({ ...base, ...overrides });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toContain(field);
  expect((error as Error).message).not.toContain('abcd1234.secretsecret');
}

describe('Baseten IDs in MODELS are plain identifiers', () => {
  const badIds = [
    '',
    'a'.repeat(65),
    'abc.def',
    'abc/def',
    'abc@evil.com',
    'evil.com:443',
    '..',
    '%2e%2e',
    'abc%2fdef',
    'abc def',
    'abc?x=1',
    'abc#x',
    'abc\\def',
    'abc\ndef',
    'abc\u0000',
    'ａｂｃ',
    'abc-def',
    'abc_def',
    '{subdomain}',
    'x.api.baseten.co',
  ];
  it.each(badIds)('refuses model_id %j', (id) => rejects({ MODELS: { m: { model_id: id, environment: 'production' } } }, 'MODELS.m.model_id'));
  it.each(badIds)('refuses chain_id %j', (id) => rejects({ MODELS: { m: { chain_id: id, environment: 'production' } } }, 'MODELS.m.chain_id'));
  it.each(badIds)('refuses deployment_id %j', (id) => rejects({ MODELS: { m: { model_id: 'abc', deployment_id: id } } }, 'MODELS.m.deployment_id'));
  it.each(['', '../prod', 'a/b', 'a?b', 'a#b', '-prod', '.prod', 'prod\n', 'a b', 'a%2fb', 'a'.repeat(65)])('refuses environment %j', (name) =>
    rejects({ MODELS: { m: { model_id: 'abc', environment: name } } }, 'MODELS.m.environment'),
  );
  it.each([123, true, null, ['abc'], { id: 'abc' }])('refuses a model_id that is not a string: %j', (id) =>
    rejects({ MODELS: { m: { model_id: id, environment: 'production' } } }, 'MODELS.m'),
  );
  it.each(['/a/../b', '/..', '/%2e%2e', '/a%2fb', '/a?b', '/a#b', 'a', '//a', '/a//b', '/a/*/b', '/.env', '/a\\b', '/*/x', ''])(
    'refuses sync route %j',
    (route) => rejects({ MODELS: { m: { model_id: 'abc', environment: 'p', sync_routes: [route] } } }, 'MODELS.m.sync_routes[0]'),
  );
  it.each(['a b', '../x', 'a/b', '', '.hidden', 'x'.repeat(65), '__proto__\n'])('refuses alias %j', (alias) =>
    rejects({ MODELS: { [alias]: { model_id: 'abc', environment: 'p' } } }, 'MODELS.'),
  );
});

describe('BASETEN_URL_TEMPLATE cannot point the key elsewhere', () => {
  it.each([
    ['userinfo after the subdomain', 'https://{subdomain}.api.baseten.co@evil.com'],
    ['userinfo before the host', 'https://user:pass@{subdomain}.api.baseten.co'],
    ['a backslash then userinfo', 'https://{subdomain}.api.baseten.co\\@evil.com'],
    ['another host', 'https://evil.com/{subdomain}'],
    ['a lookalike suffix', 'https://{subdomain}.api.baseten.co.evil.com'],
    ['a lookalike domain', 'https://{subdomain}.evilbaseten.co'],
    ['plain http to Baseten', 'http://{subdomain}.api.baseten.co'],
    ['plain http elsewhere', 'http://evil.example.com/{subdomain}'],
    ['a loopback lookalike', 'http://127.0.0.1.evil.com/{subdomain}'],
    ['loopback userinfo', 'http://127.0.0.1:8788@evil.com/{subdomain}'],
    ['a query', 'https://{subdomain}.api.baseten.co?x=1'],
    ['the subdomain in the query', 'https://api.baseten.co/?{subdomain}'],
    ['the subdomain in the fragment', 'https://api.baseten.co/#{subdomain}'],
    ['the subdomain twice', 'https://{subdomain}.api.baseten.co/{subdomain}'],
    ['no subdomain', 'https://api.baseten.co'],
    ['the subdomain inside a label', 'https://x{subdomain}.api.baseten.co'],
    ['the subdomain as the port', 'https://api.baseten.co:{subdomain}'],
    ['dot segments that swallow the subdomain', 'http://127.0.0.1/{subdomain}/../../x'],
    ['another scheme', 'ftp://{subdomain}.api.baseten.co'],
    ['a javascript URL', 'javascript:{subdomain}'],
    ['not a URL', '{subdomain}'],
    ['not a string', 42],
  ])('refuses %s', (_label, template) => rejects({ BASETEN_URL_TEMPLATE: template }, 'BASETEN_URL_TEMPLATE'));

  it.each([
    ['https://{subdomain}.api.baseten.co', 'https://model-abc123.api.baseten.co/environments/production/predict'],
    ['https://{subdomain}.api.baseten.co/', 'https://model-abc123.api.baseten.co/environments/production/predict'],
    ['https://{subdomain}.API.Baseten.co', 'https://model-abc123.api.baseten.co/environments/production/predict'],
    ['https://api.baseten.co/{subdomain}', 'https://api.baseten.co/model-abc123/environments/production/predict'],
    ['http://127.0.0.1:8788/{subdomain}', 'http://127.0.0.1:8788/model-abc123/environments/production/predict'],
    ['http://localhost:1/{subdomain}', 'http://localhost:1/model-abc123/environments/production/predict'],
    ['http://[::1]:1/{subdomain}', 'http://[::1]:1/model-abc123/environments/production/predict'],
  ])('accepts %s and signs for its host only', (template, expected) => {
    const config = parseConfig({ ...base, BASETEN_URL_TEMPLATE: template });
    expect(new URL(targetUrl(config, config.models.get('m')!.target, 'predict')).href).toBe(expected);
  });
});

describe('rate limit settings', () => {
  const limiter = { limit: async () => ({ success: true }) };
  const client = (rateLimit: unknown) => ({ c: { token_sha256: 'a'.repeat(64), models: ['*'], rate_limit: rateLimit } });

  it('uses RATE_LIMITER when bound and nothing is named, else no limit', () => {
    expect(parseConfig({ ...base, CLIENTS: client(undefined), RATE_LIMITER: limiter } as ConfigSource).clients[0]!.rateLimit).toEqual({
      kind: 'binding',
      binding: 'RATE_LIMITER',
    });
    expect(parseConfig({ ...base, CLIENTS: client(undefined) }).clients[0]!.rateLimit).toEqual({ kind: 'none' });
    expect(parseConfig({ ...base, RATE_LIMITER: limiter } as ConfigSource).settings.anonymousRateLimit).toEqual({ kind: 'binding', binding: 'RATE_LIMITER' });
  });

  it('reads a tier binding, "none" and a global limit', () => {
    expect(parseConfig({ ...base, CLIENTS: client('RATE_LIMITER_GOLD'), RATE_LIMITER_GOLD: limiter } as ConfigSource).clients[0]!.rateLimit).toEqual({
      kind: 'binding',
      binding: 'RATE_LIMITER_GOLD',
    });
    expect(parseConfig({ ...base, CLIENTS: client('none'), RATE_LIMITER: limiter } as ConfigSource).clients[0]!.rateLimit).toEqual({ kind: 'none' });
    expect(parseConfig({ ...base, CLIENTS: client({ limit: 10, period_seconds: 60 }), GLOBAL_RATE_LIMITER: {} } as ConfigSource).clients[0]!.rateLimit).toEqual(
      { kind: 'global', limit: 10, periodSeconds: 60 },
    );
  });

  it.each([
    ['an unbound tier', client('RATE_LIMITER_GOLD'), 'CLIENTS.c.rate_limit'],
    ['a binding that is not a rate limiter', { ...client('ASYNC_REQUESTS') }, 'CLIENTS.c.rate_limit'],
    ['a name that is not a binding name', client('rate limiter'), 'CLIENTS.c.rate_limit'],
    ['a global limit without the Durable Object', client({ limit: 10, period_seconds: 60 }), 'GLOBAL_RATE_LIMITER'],
    ['a global limit of zero', client({ limit: 0, period_seconds: 60 }), 'CLIENTS.c.rate_limit.limit'],
    ['a global limit without a period', client({ limit: 10 }), 'CLIENTS.c.rate_limit.period_seconds'],
    ['a number', client(5), 'CLIENTS.c.rate_limit'],
  ])('refuses %s', (_label, clients, field) => {
    rejects({ CLIENTS: clients, GLOBAL_RATE_LIMITER: field === 'GLOBAL_RATE_LIMITER' ? undefined : {} } as ConfigSource, field);
  });
});

/** Every request the Worker sends while this file runs, with where it went and whether it was signed. */
const outbound: { url: string; signed: boolean; authorization: string | null }[] = [];

describe('every outbound request goes to the configured origin', () => {
  beforeAll(() => {
    const original = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      // Read without touching the body, which the real fetch still has to send.
      const url = input instanceof Request ? input.url : String(input);
      const authorization = (input instanceof Request ? input.headers : new Headers(init?.headers)).get('authorization');
      outbound.push({ url, signed: authorization !== null, authorization });
      return original(input, init);
    });
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  /** Path and call options, with how many calls reach Baseten. */
  const routes: [string, Parameters<typeof call>[1]][] = [
    ['/healthz', {}],
    ['/v1/models', { token: 'alice' }],
    // typed's input schema refuses this body before anything is sent; a Model API has no predict.
    ...Object.entries(TEST_MODELS).map(([alias, entry]): [string, Parameters<typeof call>[1]] => [
      `/v1/models/${alias}/predict`,
      { token: 'alice', json: { fake: { delay_ms: 1 } }, upstream: alias === 'typed' || 'model_api' in entry ? 0 : 1 },
    ]),
    ['/v1/models/custom/sync/health', { token: 'alice', upstream: 1 }],
    ['/v1/models/custom/sync/items/1?next=https://evil.com', { token: 'alice', method: 'POST', body: '{}', upstream: 1 }],
    ['/v1/models/custom/sync/items/..%2f..%2f..%2fevil.com', { token: 'alice' }],
    ['/v1/models/echo/predict', { json: { fake: { status: 500 } }, headers: { host: 'evil.com', 'x-forwarded-host': 'evil.com' }, upstream: 1 }],
    ['/v1/models/echo/predict', { json: { url: 'https://evil.com', webhook_endpoint: 'https://evil.com' }, upstream: 1 }],
    ['/v1/models/echo/predict?url=https://evil.com', { json: {}, headers: { forwarded: 'host=evil.com' }, upstream: 1 }],
    ['//evil.com/v1/models/echo/predict', { json: {} }],
    ['/v1/models/https:%2f%2fevil.com/predict', { json: {} }],
    ['/openapi.json', { token: 'alice' }],
    ['/v1/models/echo', { token: 'alice' }],
    ['/v1/chat/completions', { token: 'alice', json: { model: 'llm', messages: [{ role: 'user', content: 'hi' }], stream: true }, upstream: 1 }],
    ['/v1/completions', { token: 'alice', json: { model: 'llm', prompt: 'hi' }, upstream: 1 }],
    ['/v1/embeddings', { token: 'alice', json: { model: 'llm', input: 'hi' }, upstream: 1 }],
    ['/v1/models/echo/batch', { token: 'alice', json: { rows: [{ a: 1 }, { fake: { status: 500 } }] }, upstream: 2 }],
    ['/v1/models/echo/wake', { token: 'admin', method: 'POST', upstream: 1 }],
    ['/v1/models/asyncmodel/async', { token: 'alice', json: { model_input: { fake: { queue_ms: 600_000 } }, webhook_endpoint: 'https://evil.com/hook' } }],
    ['/v1/models/asyncmodel/async/queue', { token: 'alice', upstream: 1 }],
    ['/v1/async/0123456789abcdef0123456789abcdef', { token: 'alice' }],
    ['/v1/webhooks/baseten', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-baseten-signature': 'v1=00' } }],
  ];

  it.each(routes)('%s signs only for the fake Baseten', async (path, init) => {
    const before = outbound.length;
    const res = await call(path, init);
    // The spy must not break the call it watches.
    expect(await res.text()).not.toContain('the connection to Baseten failed');
    for (const seen of outbound.slice(before)) {
      if (!seen.signed) continue;
      expect(new URL(seen.url).origin).toBe(new URL(fakeUrl()).origin);
      expect(new URL(seen.url).pathname).toMatch(/^\/(model|chain)-[a-z0-9]+(-[a-z0-9-]+)?\//);
    }
  });

  it("sends an async request's status and cancel only to the configured origin", async () => {
    const before = outbound.length;
    const submitted = await call('/v1/models/asyncmodel/async', { token: 'alice', json: { model_input: { fake: { queue_ms: 600_000 } } }, upstream: 1 });
    const { request_id: id } = (await submitted.json()) as { request_id: string };
    await (await call(`/v1/async/${id}`, { token: 'alice', upstream: 1 })).arrayBuffer();
    await (await call(`/v1/async/${id}`, { token: 'alice', method: 'DELETE', upstream: 1 })).arrayBuffer();
    const signed = outbound.slice(before).filter((seen) => seen.signed);
    expect(signed.map((seen) => new URL(seen.url).pathname)).toEqual([
      '/model-abc123/environments/production/async_predict',
      `/model-abc123/async_request/${id}`,
      `/model-abc123/async_request/${id}`,
    ]);
    for (const seen of signed) expect(new URL(seen.url).origin).toBe(new URL(fakeUrl()).origin);
  });

  it('signed every upstream request with the key and nothing else, and sent the key nowhere else', () => {
    const signed = outbound.filter((seen) => seen.signed);
    expect(signed.length).toBeGreaterThan(5);
    for (const seen of signed) expect(seen.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
    for (const seen of outbound) {
      if (new URL(seen.url).origin !== new URL(fakeUrl()).origin) expect(seen.signed).toBe(false);
      expect(seen.url).not.toContain(TEST_API_KEY);
    }
  });
});

describe('secrets are compared in constant time', () => {
  it('hashes the token and compares it with every client through crypto.subtle.timingSafeEqual, match or not', async () => {
    const compare = vi.spyOn(crypto.subtle, 'timingSafeEqual');
    try {
      const clientCount = Object.keys({ ...TEST_CLIENTS, ...RATE_LIMIT_TEST_CLIENTS }).length;
      for (const token of [TOKENS.bob, 'x'.repeat(TOKENS.bob.length), `${TOKENS.bob.slice(0, -1)}0`]) {
        compare.mockClear();
        await (await call('/v1/models', { token })).arrayBuffer();
        expect(compare).toHaveBeenCalledTimes(clientCount);
        for (const [a, b] of compare.mock.calls) {
          expect((a as Uint8Array).byteLength).toBe(32);
          expect((b as Uint8Array).byteLength).toBe(32);
        }
      }
    } finally {
      compare.mockRestore();
    }
  });
});
