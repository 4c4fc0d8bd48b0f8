/**
 * Baseten's answers kept faithful (single-target alias): the caller's faults
 * keep their class, Baseten's status and error_code are carried in the error,
 * 401/403/404 stay 502, IDs and secrets are cut, X-BASETEN-REQUEST-ID reaches
 * the caller, and multipart bodies pass through with their boundary.
 */
import { describe, expect, it } from 'vitest';
import { TEST_API_KEY } from '../config.ts';
import { call, errorOf, uniqueId, upstreamRequests } from './helpers.ts';

async function predictWith(fake: Record<string, unknown>) {
  const id = uniqueId('fid');
  const res = await call('/v1/models/echo/predict', { token: 'alice', json: { fake }, headers: { 'x-request-id': id }, upstream: 1 });
  return { id, res };
}

describe('the error fidelity table', () => {
  it.each<[string, Record<string, unknown>, number, string, string | undefined]>([
    ['400', { status: 400, message: 'bad prompt', detail: 'prompt must be a string' }, 400, 'invalid_request', 'client_error'],
    ['422', { status: 422, message: 'validation failed', detail: 'n: must be positive' }, 400, 'invalid_request', 'client_error'],
    ['500 with error_code client_error', { status: 500, error_code: 'client_error', message: 'bad input' }, 400, 'invalid_request', 'client_error'],
    ['413', { status: 413 }, 413, 'payload_too_large', 'payload_too_large'],
    ['429', { status: 429, retry_after: 12 }, 429, 'rate_limited', 'rate_limited'],
    ['401', { status: 401 }, 502, 'upstream_error', 'unauthorized'],
    ['403', { status: 403 }, 502, 'upstream_error', 'unauthorized'],
    ['404', { status: 404 }, 502, 'upstream_error', 'model_does_not_exist'],
    ["500 from the model's code", { status: 500 }, 502, 'upstream_error', undefined],
    ['502', { status: 502 }, 502, 'upstream_error', 'model_unavailable'],
    ['503', { status: 503 }, 502, 'upstream_error', 'model_unavailable'],
    ['504', { status: 504 }, 504, 'upstream_timeout', 'timeout'],
  ])("Baseten's %s", async (_name, fake, status, type, code) => {
    const { id, res } = await predictWith(fake);
    expect(res.status).toBe(status);
    const error = (await errorOf(res)) as Record<string, unknown>;
    expect(error.type).toBe(type);
    expect(error.upstream_status).toBe(fake.status);
    expect(error.upstream_code).toBe(code);
    expect(String(error.message)).toMatch(new RegExp(`^Baseten answered ${String(fake.status)}: `));
    if (typeof fake.detail === 'string') expect(error.message).toBe(`Baseten answered ${String(fake.status)}: ${String(fake.message)}: ${fake.detail}`);
    // The model's verdict on its input will not change: OpenAI clients honour this and stop.
    expect(res.headers.get('x-should-retry')).toBe(status === 400 || status === 413 ? 'false' : null);
    if (status === 429) expect(res.headers.get('retry-after')).toBe('12');
    expect(res.headers.get('x-baseten-request-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(await upstreamRequests(id)).toHaveLength(1);
  });

  it('replaces Baseten IDs by the alias and cuts the key from message and detail', async () => {
    const { res } = await predictWith({ status: 422, message: 'model abc123 refused', detail: `key ${TEST_API_KEY} in deployment abc123` });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).not.toContain('abc123');
    expect(text).not.toContain(TEST_API_KEY);
    expect(JSON.parse(text).error.message).toBe('Baseten answered 422: model echo refused: key [redacted] in deployment echo');
  });
});

describe('x-baseten-request-id', () => {
  it('is passed on with a successful answer', async () => {
    const { res } = await predictWith({});
    expect(res.status).toBe(200);
    expect(res.headers.get('x-baseten-request-id')).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('multipart predict bodies', () => {
  it('pass through unparsed, the boundary kept', async () => {
    const id = uniqueId('fid-form');
    const type = 'multipart/form-data; boundary="b 1"';
    const body = '--b 1\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n\x00\x01binary\r\n--b 1--\r\n';
    const res = await call('/v1/models/echo/predict', { token: 'alice', method: 'POST', body, headers: { 'content-type': type, 'x-request-id': id } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(body);
    const [sent] = await upstreamRequests(id);
    expect(sent!.headers['content-type']).toBe(type);
    expect(sent!.body).toBe(body);
  });

  it('are capped at max_body_bytes', async () => {
    const res = await call('/v1/models/small/predict', {
      token: 'alice',
      method: 'POST',
      body: 'x'.repeat(2048),
      headers: { 'content-type': 'multipart/form-data; boundary=z' },
    });
    expect(res.status).toBe(413);
  });

  it('are refused by an alias with an input schema, which they would bypass', async () => {
    const res = await call('/v1/models/typed/predict', {
      token: 'alice',
      method: 'POST',
      body: '--z--',
      headers: { 'content-type': 'multipart/form-data; boundary=z' },
    });
    expect(res.status).toBe(415);
  });
});
