/**
 * Quotas and usage where they meet batch and WebSockets, inside workerd
 * against the fake Baseten: a batch spends one request of the quota per row,
 * claimed whole before any row is sent; a WebSocket is refused over quota
 * before the upgrade, and its traffic is counted when it closes.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AdmitOutcome, AdmitRequest, Counters } from '../../src/meter-rules.ts';
import { call, errorOf, uniqueId, upstreamRequests } from './helpers.ts';
import { makeClient as makeClientOf, usageWhen } from './usage-helpers.ts';

const makeClient = (settings: Record<string, unknown>) => makeClientOf(settings, ['echo', 'voice']);

const rows = (n: number) => ({ rows: Array.from({ length: n }, (_, i) => ({ i })) });

async function batchOf(token: string, n: number) {
  const id = uniqueId('batch-quota');
  const res = await call('/v1/models/echo/batch', { token, json: rows(n), headers: { 'x-request-id': id } });
  const body = await res.text();
  return { id, res, body, sent: await upstreamRequests(id) };
}

describe('batch rows against the quota', () => {
  it('spends one request per row: a batch that fits is served, one that does not is refused whole with nothing sent', async () => {
    const made = await makeClient({ quota: { requests_per_day: 5 } });
    const fits = await batchOf(made.token, 3);
    expect(fits.res.status).toBe(200);
    expect(JSON.parse(fits.body).rows).toHaveLength(3);
    expect(fits.sent).toHaveLength(3);

    // 3 used; this request takes the 4th at the door, and its other 2 rows do not fit in the 5th.
    const over = await batchOf(made.token, 3);
    expect(over.res.status).toBe(429);
    expect(JSON.parse(over.body).error.type).toBe('quota_exceeded');
    expect(Number(over.res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.sent).toHaveLength(0);

    const last = await batchOf(made.token, 1);
    expect(last.res.status).toBe(200);
    const refused = await call('/v1/models/echo/predict', { token: made.token, json: {} });
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).type).toBe('quota_exceeded');

    // Usage: 3 rows, the refused batch's own request, 1 row; the predict refused at the door names no alias.
    const usage = await usageWhen(made.token, (u) => u.totals.requests === 6);
    expect(usage.by_alias.echo).toMatchObject({ requests: 5, errors: 1 });
    expect(usage.by_alias['-']).toMatchObject({ requests: 1, errors: 1 });
  });

  it('never lets concurrent batches past the quota: each is served whole or refused whole', async () => {
    const made = await makeClient({ quota: { requests_per_day: 12 } });
    const batches = await Promise.all(Array.from({ length: 4 }, () => batchOf(made.token, 4)));
    const served = batches.filter((b) => b.res.status === 200);
    const refused = batches.filter((b) => b.res.status === 429);
    expect(served.length + refused.length).toBe(4);
    // Whatever the order, the door takes one unit each and the rest is claimed whole: 2 or 3 fit in 12, never 4.
    expect(served.length).toBeGreaterThanOrEqual(2);
    expect(served.length).toBeLessThanOrEqual(3);
    for (const b of served) expect(b.sent).toHaveLength(4);
    for (const b of refused) {
      expect(b.sent).toHaveLength(0);
      expect(JSON.parse(b.body).error.type).toBe('quota_exceeded');
    }
    expect(batches.flatMap((b) => b.sent).length).toBeLessThanOrEqual(12);
  });
});

/** A handshake through the gateway for the `voice` alias. */
async function openVoice(token: string, upstream: number) {
  const id = uniqueId('ws-quota');
  const res = await call('/v1/models/voice/websocket', { token, headers: { upgrade: 'websocket', 'x-request-id': id }, upstream });
  return { id, res };
}

describe('WebSockets against the quota and in the usage', () => {
  it('counts the connection as a request before the upgrade, and refuses over quota as JSON with no socket and nothing upstream', async () => {
    const made = await makeClient({ quota: { requests_per_day: 1 } });
    const first = await openVoice(made.token, 1);
    expect(first.res.status).toBe(101);
    const socket = first.res.webSocket!;
    socket.accept();
    socket.close(1000, 'done');

    const second = await openVoice(made.token, 0);
    expect(second.res.status).toBe(429);
    expect(second.res.webSocket).toBeNull();
    expect(second.res.headers.get('content-type')).toContain('application/json');
    expect((await errorOf(second.res)).type).toBe('quota_exceeded');
    expect(Number(second.res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await upstreamRequests(second.id)).toHaveLength(0);
  });

  it('adds the connection, its messages and bytes each way and its duration to the usage when it closes', async () => {
    const made = await makeClient({});
    const { res } = await openVoice(made.token, 1);
    expect(res.status).toBe(101);
    const socket = res.webSocket!;
    socket.accept();
    const echoed = new Promise<void>((resolve) => {
      let seen = 0;
      socket.addEventListener('message', () => {
        seen += 1;
        if (seen === 2) resolve();
      });
    });
    socket.send('héllo');
    socket.send(new Uint8Array([1, 2, 3]));
    await echoed;
    socket.close(1000, 'done');
    const usage = await usageWhen(made.token, (u) => u.by_alias.voice?.websocket_connections === 1);
    expect(usage.by_alias.voice).toMatchObject({
      requests: 1,
      errors: 0,
      websocket_messages_from_client: 2,
      websocket_bytes_from_client: 9,
      websocket_messages_from_upstream: 2,
      websocket_bytes_from_upstream: 9,
    });
    expect(usage.by_alias.voice!.websocket_ms).toBeGreaterThanOrEqual(0);
    expect(usage.totals.websocket_connections).toBe(1);
  });
});

describe('the meter during a deploy', () => {
  it('reads a record of the previous version (admitted as a boolean, no requests) as one request', async () => {
    const meter = env.CLIENT_METER!.get(env.CLIENT_METER!.idFromName(uniqueId('legacy-meter')));
    const legacy = { alias: 'echo', error: false, upstreamMs: 1, inputTokens: 0, outputTokens: 0, admitted: false };
    expect((await meter.fetch('https://client-meter/record', { method: 'POST', body: JSON.stringify(legacy) })).status).toBe(204);
    const asked: AdmitRequest = { quota: { requestsPerDay: 1, onMeterFailure: 'closed' } };
    const outcome = await (await meter.fetch('https://client-meter/admit', { method: 'POST', body: JSON.stringify(asked) })).json<AdmitOutcome>();
    expect(outcome).toMatchObject({ allowed: false, refusal: 'quota_exceeded' });
    const usage = await (await meter.fetch('https://client-meter/usage?days=1')).json<{ days: { by_alias: Record<string, Counters> }[] }>();
    expect(usage.days[0]!.by_alias.echo!.requests).toBe(1);
  });
});
