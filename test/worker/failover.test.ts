/**
 * Targets that fail over (docs/failover.md), inside workerd against the fake
 * Baseten steered per target: each fail-over-worthy failure is served by the
 * next target and the fake's log shows the order of the calls; each
 * never-fail-over case is answered from the first target with no second
 * call; the breaker skips a failing target and probes it after its cooldown;
 * a burst of cold answers wakes a target once; no target left is a 503.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { call, errorOf, fakeUrl, sleep, uniqueId, upstreamRequests } from './helpers.ts';

const PRIMARY = '/model-foa001/environments/production/predict';
const FALLBACK_1 = '/model-foa002/environments/production/predict';
const FALLBACK_2 = '/model-foa003/deployment/fod3/predict';

type Fake = Record<string, unknown>;

async function predict(alias: string, fake: Fake) {
  const id = uniqueId('fo');
  const res = await call(`/v1/models/${alias}/predict`, { token: 'alice', json: { fake }, headers: { 'x-request-id': id } });
  return { id, res };
}

/** The paths of the calls the gateway made for one request, in the order the fake saw them (a wake has an id of its own). */
async function calls(id: string): Promise<string[]> {
  return (await upstreamRequests(id)).map((r) => r.path);
}

async function steer(rule: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${fakeUrl()}/__fake/steer`, { method: 'POST', body: JSON.stringify(rule) });
  expect(res.status).toBe(200);
}

async function wakesOf(prefix: string): Promise<number> {
  const all = (await (await fetch(`${fakeUrl()}/__fake/requests`)).json()) as { path: string }[];
  return all.filter((r) => r.path === `${prefix}/wake`).length;
}

describe('a fail-over-worthy failure is served by the next target', () => {
  it.each<[string, Fake]>([
    ['a refused connection', { refuse: true }],
    ['no headers within timeout_ms', { delay_ms: 3000 }],
    ['502', { status: 502 }],
    ['503', { status: 503 }],
    ['504', { status: 504 }],
    ['429', { status: 429 }],
    ['500 model_not_ready', { status: 500, error_code: 'model_not_ready' }],
    ['500 model_unavailable', { status: 500, error_code: 'model_unavailable' }],
    ['500 internal_baseten_error', { status: 500, error_code: 'internal_baseten_error' }],
  ])('%s', async (_name, failure) => {
    const { id, res } = await predict('fo-order', { targets: { 'model-foa001': failure } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    expect(res.headers.get('x-baseten-request-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(await res.json()).toMatchObject({ model: 'foa002' });
    expect(await calls(id)).toEqual([PRIMARY, FALLBACK_1]);
  });

  it('goes on to the second fallback, in order, when the first fails too', async () => {
    const { id, res } = await predict('fo-order', { targets: { 'model-foa001': { status: 503 }, 'model-foa002': { refuse: true } } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('fallback-2');
    expect(await res.json()).toMatchObject({ model: 'foa003', deployment: 'deployment/fod3' });
    expect(await calls(id)).toEqual([PRIMARY, FALLBACK_1, FALLBACK_2]);
  });

  it('says primary when the primary answers, with one call', async () => {
    const { id, res } = await predict('fo-order', {});
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('primary');
    expect(await calls(id)).toEqual([PRIMARY]);
  });

  it('sends no x-gateway-target for an alias without fallbacks', async () => {
    const { id, res } = await predict('echo', {});
    expect(res.status).toBe(200);
    expect(res.headers.has('x-gateway-target')).toBe(false);
    expect(await calls(id)).toEqual(['/model-abc123/environments/production/predict']);
  });
});

describe('never fails over', () => {
  it.each<[string, Fake, number, string]>([
    ['400', { status: 400 }, 400, 'invalid_request'],
    ['422', { status: 422 }, 400, 'invalid_request'],
    ['401', { status: 401 }, 502, 'upstream_error'],
    ['403', { status: 403 }, 502, 'upstream_error'],
    ['404', { status: 404 }, 502, 'upstream_error'],
    ['413', { status: 413 }, 413, 'payload_too_large'],
    ["the model's own code failing (Truss 04/600)", { status: 500 }, 502, 'upstream_error'],
    ['error_code application_error', { status: 500, error_code: 'application_error' }, 502, 'upstream_error'],
    ['error_code client_error on a 503', { status: 503, error_code: 'client_error' }, 400, 'invalid_request'],
  ])('%s: answered from the primary, no second call', async (_name, failure, status, type) => {
    const { id, res } = await predict('fo-order', { targets: { 'model-foa001': failure } });
    expect(res.status).toBe(status);
    expect(res.headers.get('x-gateway-target')).toBe('primary');
    expect((await errorOf(res)).type).toBe(type);
    expect(await calls(id)).toEqual([PRIMARY]);
  });

  it('a stream that started: cut mid-way, never retried', async () => {
    const { id, res } = await predict('fo-order', { targets: { 'model-foa001': { stream: { chunks: 6 }, close_mid_stream: true } } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('primary');
    await expect(res.text()).rejects.toThrow();
    expect(await calls(id)).toEqual([PRIMARY]);
  });

  it("a binary body too large to keep for a second target: the primary's own error", async () => {
    const id = uniqueId('fo-big');
    await steer({ target: 'model-foa001', request_id: id, fake: { status: 503 } });
    const body = new Uint8Array(9 * 1024 * 1024).fill(7);
    const res = await call('/v1/models/fo-order/predict', {
      token: 'alice',
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'x-request-id': id },
    });
    expect(res.status).toBe(502);
    expect(await errorOf(res)).toMatchObject({ type: 'upstream_error', upstream_status: 503, upstream_code: 'model_unavailable' });
    expect(await calls(id)).toEqual([PRIMARY]);
  });
});

describe('replayable bodies', () => {
  it('a small binary body goes to the fallback byte for byte', async () => {
    const id = uniqueId('fo-bin');
    await steer({ target: 'model-foa001', request_id: id, fake: { status: 502 } });
    const body = new Uint8Array(4096).map((_, i) => i % 251);
    const res = await call('/v1/models/fo-order/predict', {
      token: 'alice',
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'x-request-id': id },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body);
    const sent = await upstreamRequests(id);
    expect(sent.map((r) => [r.path, r.bodyBytes])).toEqual([
      [PRIMARY, 4096],
      [FALLBACK_1, 4096],
    ]);
  });

  it('a multipart body goes to the fallback with its boundary', async () => {
    const id = uniqueId('fo-form');
    await steer({ target: 'model-foa001', request_id: id, fake: { status: 503 } });
    const type = 'multipart/form-data; boundary=----gw42';
    const body = '------gw42\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhello\r\n------gw42--\r\n';
    const res = await call('/v1/models/fo-order/predict', { token: 'alice', method: 'POST', body, headers: { 'content-type': type, 'x-request-id': id } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
    const sent = await upstreamRequests(id);
    expect(sent.map((r) => [r.path, r.headers['content-type'], r.body])).toEqual([
      [PRIMARY, type, body],
      [FALLBACK_1, type, body],
    ]);
  });
});

describe('the circuit breaker', () => {
  const PRIMARY_B = '/model-fob001/environments/production/predict';
  const FALLBACK_B = '/model-fob002/environments/production/predict';

  it('skips a failing target after `failures` failures, then probes it once the cooldown has passed', async () => {
    for (let i = 0; i < 2; i++) {
      const { id, res } = await predict('fo-breaker', { targets: { 'model-fob001': { status: 502 } } });
      expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
      expect(await calls(id)).toEqual([PRIMARY_B, FALLBACK_B]);
    }
    // Open: the primary is not called at all, even though it would answer now.
    const skipped = await predict('fo-breaker', {});
    expect(skipped.res.status).toBe(200);
    expect(skipped.res.headers.get('x-gateway-target')).toBe('fallback-1');
    expect(await calls(skipped.id)).toEqual([FALLBACK_B]);
    // After the cooldown (1 s for this alias) one probe goes through; its success closes the breaker.
    await sleep(1100);
    const probe = await predict('fo-breaker', {});
    expect(probe.res.headers.get('x-gateway-target')).toBe('primary');
    expect(await calls(probe.id)).toEqual([PRIMARY_B]);
    const closed = await predict('fo-breaker', {});
    expect(await calls(closed.id)).toEqual([PRIMARY_B]);
  });

  it('a failed probe opens the breaker again for another cooldown', async () => {
    for (let i = 0; i < 2; i++) {
      const { id } = await predict('fo-breaker', { targets: { 'model-fob001': { status: 503 } } });
      expect(await calls(id)).toEqual([PRIMARY_B, FALLBACK_B]);
    }
    await sleep(1100);
    const probe = await predict('fo-breaker', { targets: { 'model-fob001': { status: 503 } } });
    expect(await calls(probe.id)).toEqual([PRIMARY_B, FALLBACK_B]);
    const skipped = await predict('fo-breaker', {});
    expect(await calls(skipped.id)).toEqual([FALLBACK_B]);
    await sleep(1100);
    // Back to normal for the other tests of this file.
    expect(await calls((await predict('fo-breaker', {})).id)).toEqual([PRIMARY_B]);
  });

  it('with every target paused, answers 503 with retry-after and calls nobody', async () => {
    const failBoth = { targets: { 'model-fob001': { status: 502 }, 'model-fob002': { status: 502 } } };
    for (let i = 0; i < 2; i++) {
      const { id, res } = await predict('fo-breaker', failBoth);
      expect(res.status).toBe(503);
      expect(await calls(id)).toEqual([PRIMARY_B, FALLBACK_B]);
    }
    const { id, res } = await predict('fo-breaker', {});
    expect(res.status).toBe(503);
    expect(res.headers.get('x-gateway-target')).toBe('none');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await errorOf(res)).message).toContain('paused by its circuit breaker');
    expect(await calls(id)).toEqual([]);
    await sleep(1100);
  });
});

describe('cold targets', () => {
  it('a burst of "no replica" answers wakes the target once, and the fallback serves every call', async () => {
    const before = await wakesOf('/model-foc001/environments/production');
    const fakes = [
      { status: 503 },
      { status: 500, error_code: 'model_not_ready' },
      { status: 502, error_code: 'model_unavailable' },
      { status: 503 },
      { status: 503 },
    ];
    const answers = await Promise.all(fakes.map((failure) => predict('fo-cold', { targets: { 'model-foc001': failure } })));
    for (const { id, res } of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
      expect(await calls(id)).toEqual(['/model-foc001/environments/production/predict', '/model-foc002/environments/production/predict']);
    }
    for (let waited = 0; waited < 3000 && (await wakesOf('/model-foc001/environments/production')) === before; waited += 100) await sleep(100);
    await sleep(300);
    expect(await wakesOf('/model-foc001/environments/production')).toBe(before + 1);
    // The fallback answered: nothing woke it.
    expect(await wakesOf('/model-foc002/environments/production')).toBe(0);
  });

  it("no target left: 503 service_unavailable with Baseten's retry-after, the last failure's status and code", async () => {
    const { id, res } = await predict('fo-down', { targets: { 'model-fod001': { status: 503, retry_after: 7 }, 'chain-fod002': { status: 502 } } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    const error = await errorOf(res);
    expect(error).toMatchObject({ type: 'service_unavailable', upstream_status: 502, upstream_code: 'model_unavailable' });
    expect(error.message).not.toMatch(/fod00/);
    expect(await calls(id)).toEqual(['/model-fod001/environments/production/predict', '/chain-fod002/environments/production/run_remote']);
  });

  it('no target left and no advice from Baseten: a retry-after of its own', async () => {
    const { id, res } = await predict('fo-down', { targets: { 'model-fod001': { refuse: true }, 'chain-fod002': { status: 504 } } });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await calls(id)).toHaveLength(2);
  });
});

describe('every route that does work fails over', () => {
  it('batch: each row on its own, the answer naming the furthest target', async () => {
    const id = uniqueId('fo-batch');
    const res = await call('/v1/models/fo-order/batch', {
      token: 'alice',
      headers: { 'x-request-id': id },
      json: { rows: [{ fake: { targets: { 'model-foa001': { status: 503 } } } }, { n: 1 }, { fake: { targets: { 'model-foa001': { status: 400 } } } }] },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    const { rows } = (await res.json()) as { rows: Record<string, unknown>[] };
    expect(rows[0]).toMatchObject({ output: { model: 'foa002' }, target: 'fallback-1' });
    expect(rows[1]).toMatchObject({ output: { model: 'foa001' }, target: 'primary' });
    expect(rows[2]).toMatchObject({ error: { type: 'invalid_request', status: 400, upstream_status: 400, upstream_code: 'client_error' }, target: 'primary' });
    expect((await calls(id)).filter((path) => path === PRIMARY)).toHaveLength(3);
    expect((await calls(id)).filter((path) => path === FALLBACK_1)).toHaveLength(1);
  });

  it('sync routes', async () => {
    const id = uniqueId('fo-sync');
    const res = await call('/v1/models/fo-sync/sync/items/1', {
      token: 'alice',
      headers: { 'x-request-id': id },
      json: { fake: { targets: { 'model-fos001': { status: 502 } } } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    expect(await calls(id)).toEqual(['/model-fos001/environments/production/sync/items/1', '/model-fos002/environments/production/sync/items/1']);
  });

  it('OpenAI routes, a stream before its first byte included', async () => {
    for (const stream of [false, true]) {
      const id = uniqueId('fo-llm');
      const res = await call('/v1/chat/completions', {
        token: 'alice',
        headers: { 'x-request-id': id },
        json: { model: 'fo-llm', stream, messages: [{ role: 'user', content: 'hi' }], fake: { targets: { 'model-fol001': { status: 503 } } } },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
      const text = await res.text();
      if (stream) expect(text).toContain('data: [DONE]');
      expect(await calls(id)).toEqual([
        '/model-fol001/environments/production/sync/v1/chat/completions',
        '/model-fol002/environments/production/sync/v1/chat/completions',
      ]);
    }
  });

  it('OpenAI: a stream that started is never retried', async () => {
    const id = uniqueId('fo-llm-cut');
    const res = await call('/v1/chat/completions', {
      token: 'alice',
      headers: { 'x-request-id': id },
      json: {
        model: 'fo-llm',
        stream: true,
        tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
        fake: { targets: { 'model-fol001': { close_mid_stream: true } } },
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('primary');
    await expect(res.text()).rejects.toThrow();
    expect(await calls(id)).toEqual(['/model-fol001/environments/production/sync/v1/chat/completions']);
  });

  it('async submit: queued on the fallback, and its status asked of the target that queued it', async () => {
    const id = uniqueId('fo-async');
    const res = await call('/v1/models/fo-async/async', {
      token: 'alice',
      headers: { 'x-request-id': id },
      json: { model_input: { fake: { targets: { 'model-foy001': { status: 503 } } } } },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    const { request_id } = (await res.json()) as { request_id: string };
    expect(await calls(id)).toEqual(['/model-foy001/environments/production/async_predict', '/model-foy002/environments/staging/async_predict']);
    const statusId = uniqueId('fo-async-status');
    const status = await call(`/v1/async/${request_id}`, { token: 'alice', headers: { 'x-request-id': statusId } });
    expect(status.status).toBe(200);
    expect(await calls(statusId)).toEqual([`/model-foy002/async_request/${request_id}`]);
  });
});

describe('configuration', () => {
  const base = { BASETEN_API_KEY: 'k', ASYNC_REQUESTS: {} };
  const parse = (entry: Record<string, unknown>) => parseConfig({ ...base, MODELS: { m: { model_id: 'abc', environment: 'production', ...entry } } });

  it("gives an alias with fallbacks the contract's breaker defaults", () => {
    const model = parse({
      fallbacks: [
        { model_id: 'def', deployment_id: 'q1' },
        { chain_id: 'xyz', environment: 'staging' },
      ],
    }).models.get('m')!;
    expect(model.fallbacks).toEqual([
      { kind: 'model', id: 'def', deployment: { kind: 'deployment', id: 'q1' } },
      { kind: 'chain', id: 'xyz', deployment: { kind: 'environment', name: 'staging' } },
    ]);
    expect(model.breaker).toEqual({ failures: 5, windowMs: 30_000, cooldownMs: 30_000 });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ fallbacks: [] }, 'MODELS.m.fallbacks: must be an array of 1 to 4 targets'],
    [{ fallbacks: [{ model_id: 'def' }] }, 'MODELS.m.fallbacks[0]: give exactly one of environment, deployment_id, development'],
    [{ fallbacks: [{ model_id: 'def', environment: 'production', public: true }] }, 'MODELS.m.fallbacks[0].public: a fallback names a target only'],
    [{ breaker: { failures: 3 } }, 'MODELS.m.breaker: only applies to an alias with fallbacks'],
    [
      { fallbacks: [{ model_id: 'def', environment: 'production' }], breaker: { failures: 0 } },
      'MODELS.m.breaker.failures: must be a whole number from 1 to 1000',
    ],
    [{ fallbacks: [{ model_id: 'def', environment: 'production' }], breaker: { cooldown: 3 } }, 'MODELS.m.breaker.cooldown: unknown setting'],
  ])('refuses %j', (entry, message) => {
    expect(() => parse(entry)).toThrow(message);
  });
});
