/**
 * Upstream faults and a bounded load under `wrangler dev`, where the real
 * runtime's HTTP stack matters: each fault maps to the contract's error (or,
 * mid-stream, to a stream the client sees cut), the Worker throws nothing
 * unhandled, and the next request is served normally.
 */

import { createHash } from 'node:crypto';
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBaseten } from '../../tools/fake-baseten.mjs';
import { type ScannedGateway, startScannedGateway } from './scanned-gateway.ts';

const LOAD_TOKEN = 'load-e2e-token-0123456789abcdef';
const LIMITED_TOKEN = 'limited-e2e-token-0123456789abc';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let gateway: ScannedGateway;
/** Replaces the gateway's fake once the refused-connection test has stopped it. */
let revived: Awaited<ReturnType<typeof startFakeBaseten>> | undefined;

beforeAll(async () => {
  gateway = await startScannedGateway({
    vars: {
      MODELS: {
        echo: { model_id: 'demo01', environment: 'production', public: true },
        quick: { model_id: 'demo01', environment: 'production', public: true, timeout_ms: 500 },
        custom: { model_id: 'demo03', environment: 'production', public: true, sync_routes: ['/health', '/items/*'] },
      },
      CLIENTS: {
        load: { token_sha256: sha256(LOAD_TOKEN), models: ['*'], rate_limit: 'none' },
        limited: { token_sha256: sha256(LIMITED_TOKEN), models: ['echo'], rate_limit: 'RATE_LIMITER_STRICT' },
      },
    },
  });
});
afterAll(async () => {
  await revived?.close();
  await gateway?.stop();
});

let counter = 0;
function predict(fake: Record<string, unknown>, alias = 'echo') {
  const id = `fault-${Date.now()}-${++counter}`;
  const res = gateway.fetch(`/v1/models/${alias}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${LOAD_TOKEN}`, 'x-request-id': id },
    body: JSON.stringify({ fake }),
  });
  return { id, res };
}

const sentUpstream = (id: string) => gateway.fake.requests.filter((r) => r.headers['x-request-id'] === id);

async function expectServedNormally(): Promise<void> {
  const res = await predict({}).res;
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ input: { fake: {} } });
}

async function errorType(res: Response): Promise<string> {
  return ((await res.json()) as { error: { type: string } }).error.type;
}

describe('faults under wrangler dev', () => {
  it("maps Baseten's 500, 502, 503, 429 and 504 to the contract, sends each predict once, and serves the next request", async () => {
    for (const [status, expected, type] of [
      [500, 502, 'upstream_error'],
      [502, 502, 'upstream_error'],
      [503, 502, 'upstream_error'],
      [429, 429, 'rate_limited'],
      [504, 504, 'upstream_timeout'],
    ] as const) {
      const { id, res } = predict({ status });
      const answer = await res;
      expect(answer.status).toBe(expected);
      if (status === 429) expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await errorType(answer)).toBe(type);
      expect(sentUpstream(id)).toHaveLength(1);
      await expectServedNormally();
    }
  });

  it('answers 504 when Baseten hangs past timeout_ms and cancels the hung request', async () => {
    const { id, res } = predict({ hang: true }, 'quick');
    const answer = await res;
    expect(answer.status).toBe(504);
    expect(await errorType(answer)).toBe('upstream_timeout');
    for (let i = 0; i < 40 && !sentUpstream(id)[0]?.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sentUpstream(id)[0]?.aborted).toBe(true);
    await expectServedNormally();
  });

  it("cuts the caller's stream when Baseten closes the connection mid-stream, so the caller sees it aborted", async () => {
    const answer = await predict({ stream: { chunks: 6, chunk_bytes: 1024, delay_ms: 30 }, close_mid_stream: true }).res;
    expect(answer.status).toBe(200);
    expect(answer.headers.get('transfer-encoding')).toBe('chunked');
    await expect(answer.arrayBuffer()).rejects.toThrow();
    await expectServedNormally();
  });

  it('answers 502 when the connection drops after Baseten received the predict, and never sends it twice', async () => {
    const { id, res } = predict({ reset: true });
    const answer = await res;
    expect(answer.status).toBe(502);
    expect(await errorType(answer)).toBe('upstream_error');
    expect(sentUpstream(id)).toHaveLength(1);
    await expectServedNormally();
  });

  it('relays a garbage success body untouched and turns a garbage error body into a 502', async () => {
    const ok = await predict({ garbage: true }).res;
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('{"output": <this is not json');
    const failed = await predict({ garbage: true, status: 500 }).res;
    expect(failed.status).toBe(502);
    expect(await errorType(failed)).toBe('upstream_error');
    await expectServedNormally();
  });

  it('answers a 100 MB error body with a short 502 without reading it all', async () => {
    const answer = await predict({ status: 500, bytes: 100 * 1024 * 1024 }).res;
    expect(answer.status).toBe(502);
    expect((await answer.text()).length).toBeLessThan(1000);
    await expectServedNormally();
  });
});

describe('load under wrangler dev (bounded; figures are in bench/load-dev.mjs)', () => {
  it('serves 300 predicts over 20 connections with no error', async () => {
    const result = await autocannon({
      url: `${gateway.url}/v1/models/echo/predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${LOAD_TOKEN}` },
      body: '{"prompt":"load"}',
      connections: 20,
      amount: 300,
      timeout: 20,
    });
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result['2xx']).toBe(300);
  });

  it('carries 50 concurrent streams through whole', async () => {
    const sizes = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const answer = await predict({ stream: { chunks: 5, chunk_bytes: 2048, delay_ms: 20 } }).res;
        return (await answer.arrayBuffer()).byteLength;
      }),
    );
    expect(sizes).toEqual(Array.from({ length: 50 }, () => 5 * 2048));
  });
});

describe('rate limiting under wrangler dev', () => {
  it('gives a client on the 5-a-minute tier 429 rate_limited with retry-after from its 6th request', async () => {
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 3000) await new Promise((resolve) => setTimeout(resolve, left + 100));
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await gateway.fetch('/v1/models/echo/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${LIMITED_TOKEN}` },
        body: '{}',
      });
      statuses.push(last.status);
      if (i < 5) await last.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last!.headers.get('retry-after')).toBe('60');
    expect(await errorType(last!)).toBe('rate_limited');
  });
});

describe('Baseten refusing connections', () => {
  it('answers 502 while nothing listens, then serves normally once Baseten is back', async () => {
    const port = gateway.fake.port;
    await gateway.fake.close();
    const refused = await predict({}).res;
    expect(refused.status).toBe(502);
    expect(await errorType(refused)).toBe('upstream_error');
    const lookup = await gateway.fetch('/v1/models/custom/sync/health');
    expect(lookup.status).toBe(502);
    await lookup.arrayBuffer();
    revived = await startFakeBaseten({ port, apiKey: 'fake-baseten-key', webhookSecrets: ['whsec_fake'] });
    const back = await gateway.fetch('/v1/models/echo/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(back.status).toBe(200);
    await back.arrayBuffer();
  });

  it("left no unhandled exception in the Worker's log", () => {
    const logs = gateway.logs();
    expect(logs).toContain('"request_id"');
    expect(logs).not.toMatch(/"level":"error"|Uncaught|uncaught exception/);
  });
});
