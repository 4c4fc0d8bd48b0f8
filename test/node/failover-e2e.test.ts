/**
 * Fail-over under `wrangler dev`, the runtime's real HTTP stack between the
 * Worker and the fake Baseten: a refused connection and a cold 503 are served
 * by the fallback in the logged order, a model's 400 is answered once, the
 * breaker skips the primary, no target left is a 503 with retry-after, and
 * the log line carries the serving target and Baseten's request id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScannedGateway, startScannedGateway } from './scanned-gateway.ts';

let gateway: ScannedGateway;

beforeAll(async () => {
  gateway = await startScannedGateway({
    vars: {
      MODELS: {
        main: {
          model_id: 'fe0001',
          environment: 'production',
          public: true,
          fallbacks: [{ model_id: 'fe0002', environment: 'production' }],
          breaker: { failures: 2, window_seconds: 30, cooldown_seconds: 30 },
        },
        down: { model_id: 'fe0003', environment: 'production', public: true, fallbacks: [{ model_id: 'fe0004', deployment_id: 'dep4' }] },
      },
    },
  });
});
afterAll(async () => {
  await gateway?.stop();
});

let counter = 0;
async function predict(alias: string, fake: Record<string, unknown>) {
  const id = `fo-e2e-${Date.now()}-${++counter}`;
  const res = await gateway.fetch(`/v1/models/${alias}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ fake }),
  });
  return { id, res };
}

const calls = (id: string) => gateway.fake.requests.filter((r) => r.headers['x-request-id'] === id && !r.path.endsWith('/wake')).map((r) => r.path);
const PRIMARY = '/model-fe0001/environments/production/predict';
const FALLBACK = '/model-fe0002/environments/production/predict';

describe('fail-over under wrangler dev', () => {
  it("serves a refused connection from the fallback, in order, and logs the target and Baseten's request id", async () => {
    const { id, res } = await predict('main', { targets: { 'model-fe0001': { refuse: true } } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    const upstreamId = res.headers.get('x-baseten-request-id');
    expect(upstreamId).toMatch(/^[0-9a-f]{32}$/);
    expect(await res.json()).toMatchObject({ model: 'fe0002' });
    expect(calls(id)).toEqual([PRIMARY, FALLBACK]);
    // The request's own line (status 200) may follow the primary's target_failed line by a moment.
    const requestLine = () =>
      gateway
        .logs()
        .split('\n')
        .find((l) => l.includes(`"request_id":"${id}"`) && l.includes('"status":200'));
    await expect.poll(requestLine).toBeDefined();
    const line = requestLine();
    expect(line).toContain(`"upstream_request_id":"${upstreamId}"`);
    expect(line).toContain('"target":"fallback-1"');
  });

  it("answers a model's 400 from the primary alone, as 400 with x-should-retry: false", async () => {
    const { id, res } = await predict('main', { targets: { 'model-fe0001': { status: 400, message: 'bad input', detail: 'prompt: required' } } });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(res.headers.get('x-gateway-target')).toBe('primary');
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({
      type: 'invalid_request',
      message: 'Baseten answered 400: bad input: prompt: required',
      upstream_status: 400,
      upstream_code: 'client_error',
    });
    expect(calls(id)).toEqual([PRIMARY]);
  });

  it("opens the primary's breaker after two cold answers and wakes it once; then skips it", async () => {
    for (let i = 0; i < 2; i++) {
      const { id, res } = await predict('main', { targets: { 'model-fe0001': { status: 503 } } });
      expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
      expect(calls(id)).toEqual([PRIMARY, FALLBACK]);
    }
    const { id, res } = await predict('main', {});
    expect(res.status).toBe(200);
    expect(calls(id)).toEqual([FALLBACK]);
    await expect.poll(() => gateway.fake.requests.filter((r) => r.path === '/model-fe0001/environments/production/wake').length).toBe(1);
  });

  it('answers 503 with retry-after when no target serves', async () => {
    const { id, res } = await predict('down', { targets: { 'model-fe0003': { status: 502 }, 'model-fe0004': { status: 429, retry_after: 9 } } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('9');
    expect(res.headers.get('x-gateway-target')).toBe('fallback-1');
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('service_unavailable');
    expect(calls(id)).toEqual(['/model-fe0003/environments/production/predict', '/model-fe0004/deployment/dep4/predict']);
  });
});
