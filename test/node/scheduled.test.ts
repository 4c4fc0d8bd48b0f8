// The cron trigger under `wrangler dev --test-scheduled`: the real scheduled() entry point, against the fake Baseten.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const MODELS = {
  warm: { model_id: 'warm01', environment: 'production', wake: true },
  'warm-chain': { chain_id: 'chain01', environment: 'staging', wake: true },
  'warm-gone': { model_id: 'gone01', development: true, wake: true },
  cold: { model_id: 'cold01', environment: 'production' },
};

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
type Seen = { method: string; path: string; headers: Record<string, string> };
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startLocalGateway({ vars: { MODELS }, extraArgs: ['--test-scheduled'] });
});
afterAll(async () => {
  await gateway?.stop();
});

async function wakeCalls(): Promise<Seen[]> {
  const all = (await (await fetch(`${gateway.fake.url}/__fake/requests`)).json()) as Seen[];
  return all.filter((r) => r.path.endsWith('/wake'));
}

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

describe('scheduled wake under wrangler dev', () => {
  it('wakes exactly the aliases marked wake when the cron fires, and logs each outcome as a JSON line', async () => {
    const res = await fetch(`${gateway.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
    expect(res.status).toBe(200);
    const calls = await until(async () => {
      const seen = await wakeCalls();
      return seen.length >= 3 ? seen : undefined;
    });
    expect(calls.map((c) => `${c.method} ${c.path}`).sort()).toEqual([
      'POST /chain-chain01/environments/staging/wake',
      'POST /model-gone01/development/wake',
      'POST /model-warm01/environments/production/wake',
    ]);
    expect(new Set(calls.map((c) => c.headers['x-request-id'])).size).toBe(1);
    expect(calls[0]!.headers['x-request-id']).toMatch(/^cron-\d+$/);

    const lines = await until(async () => {
      const found = gateway
        .logs()
        .split('\n')
        .filter((line) => line.includes('"event":"wake"'));
      return found.length >= 3 ? found : undefined;
    });
    // wrangler wraps console.error lines in its own (coloured) [ERROR] marker.
    const outcomes = lines.map((line) => JSON.parse(/\{.*\}/.exec(line)![0]) as { alias: string; ok: boolean });
    // Baseten has no wake endpoint for chains: the chain's wake fails like the deleted model's.
    expect(outcomes.map((o) => `${o.alias}:${o.ok}`).sort()).toEqual(['warm-chain:false', 'warm-gone:false', 'warm:true']);
    expect(gateway.logs()).not.toContain('fake-baseten-key');
  });
});
