/**
 * The gateway under `wrangler dev`, driven over real HTTP by curl and fetch,
 * in front of the fake Baseten: what a newcomer sees after `npm run dev`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const run = promisify(execFile);
const API_KEY = 'fake-baseten-key';
const WEBHOOK_SECRET = 'whsec_fake';

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startLocalGateway();
});
afterAll(async () => {
  await gateway?.stop();
});

async function curl(...args: string[]) {
  const { stdout } = await run('curl', ['-sS', ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

function workerdPeakRssKb(): number {
  const pids = gateway.process.pid ? listDescendants(gateway.process.pid) : [];
  let peak = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (!/^Name:\s+workerd/m.test(status)) continue;
      peak = Math.max(peak, Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0));
    } catch {
      // process ended
    }
  }
  return peak;
}

function listDescendants(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [
    pid,
    ...children.flatMap((child) => {
      try {
        return listDescendants(child);
      } catch {
        return [];
      }
    }),
  ];
}

describe('gateway under wrangler dev', () => {
  it("answers a predict from curl with the fake upstream's echo", async () => {
    const out = await curl(`${gateway.url}/v1/models/echo/predict`, '-H', 'content-type: application/json', '-d', '{"prompt":"hello"}');
    expect(JSON.parse(out)).toMatchObject({ input: { prompt: 'hello' } });
  });

  it('streams chunked: the first byte arrives long before the last chunk is sent', async () => {
    const body = JSON.stringify({ fake: { stream: { chunks: 4, chunk_bytes: 32, delay_ms: 700 } } });
    const out = await curl(
      '-N',
      '-i',
      `${gateway.url}/v1/models/echo/predict`,
      '-H',
      'content-type: application/json',
      '-d',
      body,
      '-w',
      '\n%{time_starttransfer} %{time_total}',
    );
    expect(out).toMatch(/transfer-encoding: chunked/i);
    const [ttfb, total] = out.trim().split('\n').at(-1)!.split(' ').map(Number);
    // The fake spends 3 × 700 ms between chunks: a buffering gateway would show
    // its first byte only at the end.
    expect(total! - ttfb!).toBeGreaterThan(1.5);
    expect(out.match(/chunk \d/g)).toHaveLength(4);
  });

  it('cancels the upstream request when curl goes away mid-stream', async () => {
    const id = `disconnect-${Date.now()}`;
    const body = JSON.stringify({ fake: { stream: { chunks: 100, chunk_bytes: 32, delay_ms: 100 } } });
    await curl(
      '-N',
      '--max-time',
      '1',
      `${gateway.url}/v1/models/echo/predict`,
      '-H',
      'content-type: application/json',
      '-H',
      `x-request-id: ${id}`,
      '-d',
      body,
    ).catch(() => undefined);
    let entry: (typeof gateway.fake.requests)[number] | undefined;
    for (let i = 0; i < 50; i++) {
      entry = gateway.fake.requests.find((r) => r.headers['x-request-id'] === id);
      if (entry?.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(entry?.aborted).toBe(true);
  });

  it("passes 100 MB through without workerd's memory growing with the answer", async () => {
    const stream = (megabytes: number) =>
      fetch(`${gateway.url}/v1/models/echo/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fake: { stream: { chunks: megabytes, chunk_bytes: 1024 * 1024 } } }),
      });
    const drain = async (res: Response) => {
      let total = 0;
      const reader = res.body!.getReader();
      for (let next = await reader.read(); !next.done; next = await reader.read()) total += next.value.byteLength;
      return total;
    };
    expect(await drain(await stream(10))).toBe(10 * 1024 * 1024);
    const afterSmall = workerdPeakRssKb();
    expect(await drain(await stream(100))).toBe(100 * 1024 * 1024);
    const afterLarge = workerdPeakRssKb();
    expect(afterSmall).toBeGreaterThan(0);
    // Buffering would add ~100 MB (often twice that); streaming adds at most a few chunks.
    expect(afterLarge - afterSmall).toBeLessThan(40 * 1024);
  });

  it('answers bad input in the error envelope with the request id', async () => {
    const out = await curl('-i', `${gateway.url}/v1/models/echo/predict`, '-H', 'content-type: application/json', '-H', 'x-request-id: e2e-bad', '-d', '{oops');
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(out).toMatch(/x-request-id: e2e-bad/i);
    expect(out).toContain('"type":"invalid_request"');
  });

  it('never lets the key or webhook secret into a response or a log line', async () => {
    const outputs = await Promise.all([
      curl('-i', `${gateway.url}/v1/models`, '-H', 'authorization: Bearer dev-token-change-me'),
      curl('-i', `${gateway.url}/v1/models/echo/predict`, '-H', 'content-type: application/json', '-d', '{"fake":{"status":401,"message":"bad key"}}'),
      curl(
        '-i',
        `${gateway.url}/v1/models/draft/predict`,
        '-H',
        'authorization: Bearer dev-token-change-me',
        '-H',
        'content-type: application/json',
        '-d',
        '{}',
      ),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const logs = gateway.logs();
    expect(logs).toContain('"request_id"');
    for (const text of [...outputs, logs]) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(WEBHOOK_SECRET);
    }
  });
});
