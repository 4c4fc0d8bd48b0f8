import { describe, expect, it } from 'vitest';
import { call, uniqueId, upstreamRequests } from './helpers.ts';

type Document = { openapi: string; paths: Record<string, unknown> };

async function documentFor(token?: string): Promise<Document> {
  const id = uniqueId('openapi');
  const res = await call('/openapi.json', { token, headers: { 'x-request-id': id } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.headers.get('x-request-id')).toBe(id);
  expect(await upstreamRequests(id)).toHaveLength(0);
  return (await res.json()) as Document;
}

describe('GET /openapi.json', () => {
  it('serves OpenAPI 3.1 with the per-alias paths of the aliases this caller may use only', async () => {
    const anonymous = await documentFor();
    expect(anonymous.openapi).toBe('3.1.0');
    expect(anonymous.paths['/v1/models/{alias}/predict']).toBeDefined();
    expect(anonymous.paths['/v1/models/typed/predict']).toBeUndefined();
    expect((await documentFor('bob')).paths['/v1/models/typed/predict']).toBeUndefined();
    const alice = await documentFor('alice');
    expect(alice.paths['/v1/models/typed/predict']).toBeDefined();
    expect(alice.paths['/v1/models/typed/batch']).toBeDefined();
    // Served twice from the same per-isolate build, it does not change.
    expect(await documentFor('alice')).toEqual(alice);
  });

  it('never names a Baseten ID or the key', async () => {
    const text = JSON.stringify(await documentFor('alice'));
    for (const secret of ['abc123', 'xyz789', 'q4w8e', 'fake-baseten-key']) expect(text).not.toContain(secret);
  });
});
