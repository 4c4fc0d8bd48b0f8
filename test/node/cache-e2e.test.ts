/**
 * The response cache under `wrangler dev`, over real HTTP: the Cache API
 * works locally, a repeated predict is answered without reaching the fake
 * Baseten, and a stored stream comes back chunked, byte for byte.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const SERVED_NAME = 'Qwen/Qwen2.5-3B-Instruct';
const MODELS = {
  cached: { model_id: 'cache01', environment: 'production', public: true, cache: { ttl_seconds: 60, streams: true } },
  'cached-chat': {
    model_id: 'llm001',
    environment: 'production',
    public: true,
    openai: { served_model_name: SERVED_NAME },
    cache: { ttl_seconds: 60, streams: true },
  },
};

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startLocalGateway({ vars: { MODELS }, servedNames: { llm001: SERVED_NAME } });
});
afterAll(async () => {
  await gateway?.stop();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A POST over plain HTTP/1.1, so the framing (chunked or not) is visible. */
function post(path: string, body: unknown): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The entry is written after the first answer went out: ask until it is there. */
async function untilHit(path: string, body: unknown): Promise<Raw> {
  for (let i = 0; i < 50; i++) {
    const answer = await post(path, body);
    if (answer.headers['x-cache'] === 'HIT') return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${path} never answered from the cache`);
}

const upstreamCalls = (marker: string) => gateway.fake.requests.filter((r) => r.body.includes(marker)).length;

describe('response cache under wrangler dev', () => {
  it('answers a repeated predict from the cache, Baseten called once', async () => {
    const marker = `e2e-${Date.now()}-${Math.random()}`;
    const input = { prompt: marker };
    const miss = await post('/v1/models/cached/predict', input);
    expect(miss.status).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    const hit = await untilHit('/v1/models/cached/predict', input);
    expect(hit.body.equals(miss.body)).toBe(true);
    expect(hit.headers['content-length']).toBe(String(miss.body.byteLength));
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(0);
    // Polling for the hit may have missed while the entry was being written; the hit itself never calls.
    const before = upstreamCalls(marker);
    expect((await post('/v1/models/cached/predict', input)).headers['x-cache']).toBe('HIT');
    expect(upstreamCalls(marker)).toBe(before);
  });

  it('replays a stored stream chunked, byte for byte, with its content type', async () => {
    const marker = `e2e-stream-${Date.now()}-${Math.random()}`;
    const input = { marker, fake: { stream: { chunks: 8, chunk_bytes: 4096, content_type: 'application/x-ndjson' } } };
    const miss = await post('/v1/models/cached/predict', input);
    expect(miss.headers['transfer-encoding']).toBe('chunked');
    expect(miss.body.byteLength).toBe(8 * 4096);
    const hit = await untilHit('/v1/models/cached/predict', input);
    expect(hit.headers['transfer-encoding']).toBe('chunked');
    expect(hit.headers['content-type']).toBe('application/x-ndjson');
    expect(hit.body.equals(miss.body)).toBe(true);
  });

  it('replays a chat completion event stream byte for byte', async () => {
    const input = { model: 'cached-chat', stream: true, messages: [{ role: 'user', content: `e2e ${Date.now()} ${Math.random()}` }] };
    const miss = await post('/v1/chat/completions', input);
    expect(miss.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(miss.body.toString()).toContain('data: [DONE]');
    const hit = await untilHit('/v1/chat/completions', input);
    expect(hit.headers['content-type']).toBe(miss.headers['content-type']);
    expect(hit.body.equals(miss.body)).toBe(true);
  });
});
