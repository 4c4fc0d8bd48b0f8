import { createScheduledController, env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index.ts';
import { TEST_API_KEY, TEST_MODELS } from '../config.ts';
import { call, errorOf, expectUpstream, uniqueId, upstreamRequests } from './helpers.ts';

/** A wake; `upstream` is 1 when it reaches Baseten's wake endpoint. */
async function wakeVia(alias: string, token: string | undefined, upstream: number) {
  const id = uniqueId(`wake-${alias}`);
  const res = await call(`/v1/models/${alias}/wake`, { method: 'POST', token, headers: { 'x-request-id': id }, upstream });
  return { id, res };
}

describe('wake route', () => {
  it("lets an admin wake an alias: Baseten's wake endpoint is called, the answer names the alias only", async () => {
    const { id, res } = await wakeVia('echo', 'admin', 1);
    expect(res.status).toBe(202);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ alias: 'echo', status: 'waking' });
    expect(text).not.toContain('abc123');
    const [sent, ...more] = await upstreamRequests(id);
    expect(more).toHaveLength(0);
    expect(sent).toMatchObject({ method: 'POST', path: '/model-abc123/environments/production/wake', bodyBytes: 0 });
    expect(sent!.headers.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
  });

  it('wakes a chain and a pinned deployment at their own wake paths', async () => {
    const chain = await wakeVia('warm-chain', 'admin', 1);
    // Baseten documents wake for models only: its 404 for a chain is the gateway's upstream error.
    expect(chain.res.status).toBe(502);
    expect((await upstreamRequests(chain.id))[0]!.path).toBe('/chain-xyz789/environments/production/wake');
    const pinned = await wakeVia('pinned', 'admin', 1);
    expect((await upstreamRequests(pinned.id))[0]!.path).toBe('/model-abc123/deployment/q4w8e/wake');
  });

  it('refuses a non-admin client with 403 and an anonymous caller with 401, without calling Baseten', async () => {
    const alice = await wakeVia('echo', 'alice', 0);
    expect(alice.res.status).toBe(403);
    expect((await errorOf(alice.res)).type).toBe('forbidden');
    const anonymous = await wakeVia('echo', undefined, 0);
    expect(anonymous.res.status).toBe(401);
    expect(await upstreamRequests(alice.id)).toHaveLength(0);
    expect(await upstreamRequests(anonymous.id)).toHaveLength(0);
  });

  it('answers 404 for an unknown alias and 502 naming the alias when Baseten refuses', async () => {
    expect((await wakeVia('nope', 'admin', 0)).res.status).toBe(404);
    const { res } = await wakeVia('warm-gone', 'admin', 1);
    expect(res.status).toBe(502);
    const error = await errorOf(res);
    expect(error.type).toBe('upstream_error');
    expect(error.message).not.toContain('gone02');
  });

  it('takes POST only', async () => {
    const res = await call('/v1/models/echo/wake', { token: 'admin' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('scheduled wake', () => {
  afterEach(() => vi.restoreAllMocks());

  it('wakes exactly the aliases marked wake, all of them even when one fails, logging each outcome as a JSON line', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    vi.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
    const scheduledTime = Date.now() + Math.floor(Math.random() * 1e6);
    const controller = createScheduledController({ scheduledTime, cron: '*/5 * * * *' });
    // The cron names its wakes after the scheduled time; one per alias marked wake.
    expectUpstream(`cron-${scheduledTime}`, 3);
    await worker.scheduled(controller, env);

    const sent = await upstreamRequests(`cron-${scheduledTime}`);
    expect(sent.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'POST /chain-xyz789/environments/production/wake',
      'POST /model-abc123/environments/production/wake',
      'POST /model-gone02/environments/production/wake',
    ]);
    const wakeAliases = Object.entries(TEST_MODELS)
      .filter(([, m]) => 'wake' in m && m.wake)
      .map(([alias]) => alias)
      .sort();
    // The cron's other job, async reconciliation, logs lines of its own.
    const outcomes = lines
      .map((line) => JSON.parse(line) as { event: string; alias: string; ok: boolean; error?: string })
      .filter((o) => !o.event.startsWith('async_reconcile'));
    expect(outcomes.map((o) => o.alias).sort()).toEqual(wakeAliases);
    expect(outcomes.every((o) => o.event === 'wake')).toBe(true);
    expect(outcomes.find((o) => o.alias === 'echo')).toMatchObject({ ok: true, status: 202 });
    const failed = outcomes.find((o) => o.alias === 'warm-gone')!;
    expect(failed.ok).toBe(false);
    expect(failed.error).toContain('upstream_error: Baseten answered 404');
    expect(lines.join('\n')).not.toContain('gone02');
    expect(lines.join('\n')).not.toContain(TEST_API_KEY);
  });
});
