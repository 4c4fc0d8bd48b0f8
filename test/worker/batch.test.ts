import { describe, expect, it } from 'vitest';
import { call, errorOf, uniqueId, upstreamRequests } from './helpers.ts';

interface Row {
  output?: unknown;
  error?: { type: string; message: string; status: number };
}

/** A batch whose rows make `upstream` predicts in all. */
async function batchVia(alias: string, rows: unknown[], upstream: number, token = 'alice') {
  const id = uniqueId(`batch-${alias}`);
  const res = await call(`/v1/models/${alias}/batch`, { token, json: { rows }, headers: { 'x-request-id': id }, upstream });
  return { id, res };
}

async function rowsOf(res: Response): Promise<Row[]> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return ((await res.json()) as { rows: Row[] }).rows;
}

describe('batch', () => {
  it('answers good, schema-invalid and upstream-failing rows in order, each on its own, and never sends the invalid ones', async () => {
    const { id, res } = await batchVia(
      'typed',
      [
        { prompt: 'first' },
        { prompt: 3 },
        { prompt: 'boom', fake: { status: 500, message: 'model abc123 crashed' } },
        { prompt: 'garbled', fake: { garbage: true } },
        { n: 2 },
        { prompt: 'last', n: 4 },
      ],
      4,
    );
    const rows = await rowsOf(res);
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({ output: expect.objectContaining({ kind: 'model', deployment: 'environments/production', input: { prompt: 'first' } }) });
    expect(rows[1]).toEqual({ error: { type: 'invalid_request', message: '/prompt: must be string', status: 400 } });
    expect(rows[2]!.error).toMatchObject({ type: 'upstream_error', status: 502 });
    expect(rows[2]!.error!.message).toContain('Baseten answered 500: model typed crashed');
    expect(rows[3]!.error).toEqual({ type: 'upstream_error', status: 502, message: 'Baseten answered 200 with a body that is not JSON' });
    expect(rows[4]).toEqual({ error: { type: 'invalid_request', message: '/prompt: is required', status: 400 } });
    expect(rows[5]).toEqual({ output: expect.objectContaining({ input: { prompt: 'last', n: 4 } }) });

    const sent = await upstreamRequests(id);
    expect(sent.map((r) => JSON.parse(r.body).prompt).sort()).toEqual(['boom', 'first', 'garbled', 'last']);
    for (const r of sent) {
      expect(r.path).toBe('/model-abc123/environments/production/predict');
      expect(r.headers.authorization).toBe('Api-Key fake-baseten-key');
      expect(r.headers['content-type']).toBe('application/json');
    }
  });

  it('sends chain rows to run_remote', async () => {
    const { id, res } = await batchVia('pipeline', [{ a: 1 }, { a: 2 }], 2);
    expect((await rowsOf(res)).map((row) => (row.output as { input: unknown }).input)).toEqual([{ a: 1 }, { a: 2 }]);
    expect((await upstreamRequests(id)).map((r) => r.path)).toEqual(Array(2).fill('/chain-xyz789/environments/production/run_remote'));
  });

  it('keeps rows done before the deadline and times out the rest', async () => {
    const { res } = await batchVia('quick', [{ fast: true }, { fake: { hang: true } }], 2);
    const rows = await rowsOf(res);
    expect(rows[0]!.output).toMatchObject({ input: { fast: true } });
    expect(rows[1]!.error).toEqual({ type: 'upstream_timeout', status: 504, message: 'not done within the batch deadline of 300 ms' });
  });

  it('keeps at most batch_concurrency (8) rows in flight and never sends rows whose deadline has passed', async () => {
    const { id, res } = await batchVia(
      'quick',
      Array.from({ length: 10 }, (_, i) => ({ i, fake: { hang: true } })),
      8,
    );
    const rows = await rowsOf(res);
    expect(rows).toHaveLength(10);
    for (const row of rows) expect(row.error?.type).toBe('upstream_timeout');
    expect(await upstreamRequests(id)).toHaveLength(8);
  });

  it("makes an oversized or cut answer that row's error only", async () => {
    const { res } = await batchVia('echo', [{ fake: { bytes: 5_000_000 } }, { ok: 1 }, { fake: { stream: { chunks: 4 }, close_mid_stream: true } }], 3);
    const rows = await rowsOf(res);
    expect(rows[0]!.error).toMatchObject({ type: 'upstream_error', message: "Baseten's answer is larger than 4194304 bytes" });
    expect(rows[1]!.output).toMatchObject({ input: { ok: 1 } });
    expect(rows[2]!.error?.type).toBe('upstream_error');
  });

  it("keeps each row's output exactly as the model wrote it", async () => {
    const { res } = await batchVia('echo', [{ s: 'caf\u00e9 \u{1F600}' }, null, [1, 2]], 3);
    const rows = await rowsOf(res);
    expect(rows.map((row) => (row.output as { input: unknown }).input)).toEqual([{ s: 'caf\u00e9 \u{1F600}' }, null, [1, 2]]);
  });

  it('answers an empty batch with no rows and no upstream call', async () => {
    const { id, res } = await batchVia('echo', [], 0);
    expect(await res.json()).toEqual({ rows: [] });
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses more than batch_max_rows (256) rows with 413 before sending any', async () => {
    const { id, res } = await batchVia(
      'echo',
      Array.from({ length: 257 }, () => ({})),
      0,
    );
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toMatchObject({ type: 'payload_too_large', message: 'a batch takes at most 256 rows; this one has 257' });
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it.each([
    ['a bare array', [{}]],
    ['rows that are not an array', { rows: {} }],
    ['an unknown field', { rows: [], row: [] }],
  ])('refuses %s with 400', async (_label, body) => {
    const res = await call('/v1/models/echo/batch', { token: 'alice', json: body });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).type).toBe('invalid_request');
  });

  it("takes JSON only, within the alias's body cap, from callers allowed to use the alias", async () => {
    const binary = await call('/v1/models/echo/batch', { method: 'POST', body: '{}', headers: { 'content-type': 'application/octet-stream' } });
    expect(binary.status).toBe(415);
    expect((await batchVia('small', [{ pad: 'x'.repeat(2000) }], 0)).res.status).toBe(413);
    expect((await batchVia('pinned', [{}], 0, 'bob')).res.status).toBe(403);
    const anonymous = await call('/v1/models/staging/batch', { json: { rows: [{}] } });
    expect(anonymous.status).toBe(401);
    expect((await call('/v1/models/echo/batch', { json: { rows: [{}] }, upstream: 1 })).status).toBe(200);
  });
});
