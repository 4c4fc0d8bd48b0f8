import { describe, expect, it, vi } from 'vitest';
import { TEST_API_KEY, TOKENS } from '../config.ts';
import { call, errorOf, uniqueId, upstreamRequests } from './helpers.ts';

/** A predict that reaches Baseten once, whatever Baseten then answers. */
async function predictVia(alias: string, body: unknown, token = 'alice') {
  const id = uniqueId(alias);
  const res = await call(`/v1/models/${alias}/predict`, { token, json: body, headers: { 'x-request-id': id }, upstream: 1 });
  return { id, res };
}

describe('predict routing', () => {
  it.each([
    ['echo', '/model-abc123/environments/production/predict'],
    ['staging', '/model-abc123/environments/staging/predict'],
    ['pinned', '/model-abc123/deployment/q4w8e/predict'],
    ['draft', '/model-dev456/development/predict'],
    ['pipeline', '/chain-xyz789/environments/production/run_remote'],
  ])('sends alias %s to %s, signed with the API key', async (alias, path) => {
    const { id, res } = await predictVia(alias, { prompt: 'hi' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    const [seen, ...more] = await upstreamRequests(id);
    expect(more).toHaveLength(0);
    expect(seen!.method).toBe('POST');
    expect(seen!.path).toBe(path);
    expect(seen!.headers.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
    expect(seen!.headers['x-request-id']).toBe(id);
    expect(JSON.parse(seen!.body)).toEqual({ prompt: 'hi' });
  });

  it("forwards the exact body bytes and never the caller's Authorization, cookies or hop-by-hop headers", async () => {
    const id = uniqueId();
    const raw = '{"prompt":  "spaces kept",\n "n": 1.50}';
    const res = await call('/v1/models/echo/predict', {
      method: 'POST',
      token: 'alice',
      body: raw,
      headers: {
        'content-type': 'application/json',
        'x-request-id': id,
        cookie: 'session=1',
        'x-forwarded-for': '1.2.3.4',
        'proxy-authorization': 'x',
        te: 'trailers',
      },
      upstream: 1,
    });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(id);
    expect(seen!.body).toBe(raw);
    for (const name of ['cookie', 'x-forwarded-for', 'proxy-authorization', 'te']) expect(seen!.headers[name]).toBeUndefined();
    expect(seen!.headers.authorization).not.toContain(TOKENS.alice);
  });

  it('passes a binary (octet-stream) body through unparsed and answers it as binary', async () => {
    const bytes = new Uint8Array([0x82, 0xa1, 0x61, 0x01, 0x00, 0xff]);
    const res = await call('/v1/models/echo/predict', { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' }, upstream: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it('lets anonymous callers reach public aliases only', async () => {
    expect((await call('/v1/models/echo/predict', { json: {}, upstream: 1 })).status).toBe(200);
    const res = await call('/v1/models/staging/predict', { json: {} });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).type).toBe('unauthorized');
  });

  it('limits a client to its aliases: 403 for another alias, 404 for an unknown one', async () => {
    const forbidden = await call('/v1/models/pinned/predict', { token: 'bob', json: {} });
    expect(forbidden.status).toBe(403);
    expect((await errorOf(forbidden)).type).toBe('forbidden');
    const unknown = await call('/v1/models/nope/predict', { token: 'alice', json: {} });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).type).toBe('not_found');
  });

  it.each([
    ['a wrong token', 'Bearer wrong-token-0123456789abcdef'],
    ['a token of the wrong length', 'Bearer short'],
    ['another scheme', `Basic ${TOKENS.alice}`],
    ['an empty bearer', 'Bearer '],
  ])('refuses %s with 401', async (_label, header) => {
    const id = uniqueId();
    const res = await call('/v1/models/echo/predict', { json: {}, headers: { authorization: header, 'x-request-id': id } });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).type).toBe('unauthorized');
    expect(await upstreamRequests(id)).toHaveLength(0);
  });
});

describe('predict input errors', () => {
  it.each([
    ['malformed JSON', { 'content-type': 'application/json' }, '{"prompt": ', 400, 'invalid_request'],
    ['invalid UTF-8', { 'content-type': 'application/json' }, new Uint8Array([0x22, 0xff, 0x22]), 400, 'invalid_request'],
    ['a text/plain body', { 'content-type': 'text/plain' }, '{}', 415, 'unsupported_media_type'],
    ['no content type', {}, '{}', 415, 'unsupported_media_type'],
    ['form data', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415, 'unsupported_media_type'],
  ])('answers %s with its status and sends nothing upstream', async (_label, headers, body, status, type) => {
    const id = uniqueId();
    const res = await call('/v1/models/echo/predict', { method: 'POST', body, token: 'alice', headers: { ...headers, 'x-request-id': id } });
    expect(res.status).toBe(status);
    const error = await errorOf(res);
    expect(error.type).toBe(type);
    expect(error.request_id).toBe(id);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses a body over max_body_bytes with 413, declared or not', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(2000) });
    const declared = await call('/v1/models/small/predict', { token: 'alice', method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).type).toBe('payload_too_large');
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(600)));
        controller.close();
      },
    });
    const id = uniqueId();
    const chunked = await call('/v1/models/small/predict', {
      token: 'alice',
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json', 'x-request-id': id },
    });
    expect(chunked.status).toBe(413);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses a body over max_body_bytes whose Content-Length claims less', async () => {
    const id = uniqueId();
    const res = await call('/v1/models/small/predict', {
      token: 'alice',
      method: 'POST',
      body: JSON.stringify({ text: 'x'.repeat(2000) }),
      headers: { 'content-type': 'application/json', 'content-length': '100', 'x-request-id': id },
    });
    expect(res.status).toBe(413);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('answers 405 with Allow for a wrong method on a known route', async () => {
    const res = await call('/v1/models/echo/predict', { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect((await errorOf(res)).type).toBe('method_not_allowed');
  });

  it('answers 404 for an unknown route', async () => {
    const res = await call('/v2/nothing');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).type).toBe('not_found');
  });
});

describe('upstream failures', () => {
  it("carries Baseten's status and message in a 502", async () => {
    const { res } = await predictVia('echo', { fake: { status: 500, message: 'model exploded' } });
    expect(res.status).toBe(502);
    const error = await errorOf(res);
    expect(error.type).toBe('upstream_error');
    expect(error.message).toContain('500');
    expect(error.message).toContain('model exploded');
  });

  it('names the alias, never the Baseten model ID, in errors', async () => {
    const { res } = await predictVia('gone', {});
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(text).toContain('404');
    expect(text).not.toContain('gone01');
  });

  it("turns Baseten's 429 into rate_limited with retry-after", async () => {
    const { res } = await predictVia('echo', { fake: { status: 429, message: 'slow down' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await errorOf(res)).type).toBe('rate_limited');
  });

  it('answers 504 when Baseten is slower than the alias timeout_ms', async () => {
    const { res } = await predictVia('quick', { fake: { delay_ms: 3000 } });
    expect(res.status).toBe(504);
    expect((await errorOf(res)).type).toBe('upstream_timeout');
  });

  it('drops upstream headers that could leak or confuse', async () => {
    const { res } = await predictVia('echo', { fake: { leak_headers: true } });
    expect(res.status).toBe(200);
    for (const name of ['set-cookie', 'server', 'x-baseten-model-id', 'x-internal-debug', 'x-fake-request-seq']) {
      expect(res.headers.get(name)).toBeNull();
    }
    expect(res.headers.get('content-type')).toBe('application/json');
    await res.arrayBuffer();
  });
});

describe('streaming', () => {
  it('hands the first chunk over before Baseten has sent the rest', async () => {
    const { id, res } = await predictVia('echo', { fake: { stream: { chunks: 3, chunk_bytes: 64, delay_ms: 4000 } } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const reader = res.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    // Baseten is still writing: the chunk was not held back until the end.
    expect((await upstreamRequests(id))[0]!.finished).toBe(false);
    await reader.cancel();
  });

  it('cancels the upstream fetch when the caller goes away', async () => {
    const { id, res } = await predictVia('echo', { fake: { stream: { chunks: 50, chunk_bytes: 64, delay_ms: 100 } } });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    // The fake notices the dropped connection on its own time: poll, within a deadline.
    await vi.waitFor(async () => expect((await upstreamRequests(id))[0]?.aborted).toBe(true), { timeout: 4000, interval: 50 });
  });

  it('streams a large answer through whole', async () => {
    const { res } = await predictVia('echo', { fake: { stream: { chunks: 64, chunk_bytes: 256 * 1024 } } });
    let total = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
    }
    expect(total).toBe(64 * 256 * 1024);
  });
});
