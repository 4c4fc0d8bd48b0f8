import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../../src/index.ts';
import { admitAgainstQuota, currentPeriod, secondsUntilNext } from '../../src/meter-rules.ts';
import { usageDataPoint } from '../../src/usage-events.ts';
import type { UsageReport } from '../../src/usage-report.ts';
import { EventSplitter, tapEvents, UsageTap } from '../../src/usage-tap.ts';
import { TOKENS } from '../config.ts';
import { call, errorOf, expectUpstream, GATEWAY, tracked, uniqueId, upstreamRequests } from './helpers.ts';
import { type MadeClient, makeClient, usageOf, usageWhen } from './usage-helpers.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function predict(token: string, alias = 'echo', upstream = 1): Promise<Response> {
  const res = await call(`/v1/models/${alias}/predict`, { token, json: { prompt: 'hi' }, upstream });
  await res.clone().arrayBuffer();
  return res;
}

/** Calls the Worker with env overrides (a meter that fails, an Analytics Engine dataset that records). */
async function callWith(overrides: Record<string, unknown>, path: string, init: RequestInit = {}, upstream = 0): Promise<Response> {
  const ctx = createExecutionContext();
  const request = tracked(new Request(`${GATEWAY}${path}`, init), upstream);
  const res = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...env, ...overrides } as Env, ctx);
  await res.clone().arrayBuffer();
  await waitOnExecutionContext(ctx);
  return res;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

describe('clients made at run time', () => {
  it('gives a token once that works on its models only, and lists the client without it', async () => {
    const made = await makeClient();
    expect(made.token).toMatch(/^bgw_[A-Za-z0-9_-]{43}$/);
    expect(made.static).toBe(false);
    expect((await predict(made.token)).status).toBe(200);
    const other = await call('/v1/models/staging/predict', { token: made.token, json: {} });
    expect(other.status).toBe(403);
    const list = await call('/v1/admin/clients', { token: 'admin' });
    const text = await list.text();
    expect(text).not.toContain(made.token);
    const { clients } = JSON.parse(text) as { clients: { name: string; static: boolean }[] };
    expect(clients.find((c) => c.name === made.name)?.static).toBe(false);
    expect(clients.find((c) => c.name === 'alice')?.static).toBe(true);
    // Nothing stored holds the token itself.
    const keys = await env.CLIENT_KEYS.list();
    for (const key of keys.keys) expect(await env.CLIENT_KEYS.get(key.name)).not.toContain(made.token);
  });

  it('refuses a name already taken, by a stored or a static client, with 409 conflict', async () => {
    const made = await makeClient();
    const again = await call('/v1/admin/clients', { token: 'admin', json: { name: made.name, models: ['echo'] } });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).type).toBe('conflict');
    const taken = await call('/v1/admin/clients', { token: 'admin', json: { name: 'alice', models: ['echo'] } });
    expect(taken.status).toBe(409);
  });

  it('keeps static clients out of reach of the API: 409 on change, rotate and revoke', async () => {
    expect((await call('/v1/admin/clients/bob', { token: 'admin', method: 'PATCH', json: { disabled: true } })).status).toBe(409);
    expect((await call('/v1/admin/clients/bob/rotate', { token: 'admin', json: {} })).status).toBe(409);
    expect((await call('/v1/admin/clients/bob', { token: 'admin', method: 'DELETE' })).status).toBe(409);
    expect((await predict(TOKENS.bob)).status).toBe(200);
  });

  it('refuses bad settings with 400 and stores nothing', async () => {
    const name = uniqueId('bad').slice(0, 60);
    for (const body of [
      { name, models: ['nope'] },
      { name, models: [] },
      { name, models: ['echo'], quota: { requests_per_day: -1 } },
      { name, models: ['echo'], rate_limit: 'NO_SUCH_BINDING' },
      { name, models: ['echo'], expires_at: 'soon' },
      { name, models: ['echo'], token: 'mine' },
    ]) {
      const res = await call('/v1/admin/clients', { token: 'admin', json: body });
      expect(res.status).toBe(400);
    }
    expect((await call(`/v1/admin/clients/${name}`, { token: 'admin' })).status).toBe(404);
  });

  it('changes a client with PATCH: its models, and disabled gives 401', async () => {
    const made = await makeClient();
    const patched = await call(`/v1/admin/clients/${made.name}`, { token: 'admin', method: 'PATCH', json: { models: ['staging'] } });
    expect(patched.status).toBe(200);
    expect((await patched.json<{ models: string[] }>()).models).toEqual(['staging']);
    expect((await call('/v1/models/echo/predict', { token: made.token, json: {} })).status).toBe(403);
    await call(`/v1/admin/clients/${made.name}`, { token: 'admin', method: 'PATCH', json: { disabled: true } });
    const refused = await call('/v1/models', { token: made.token });
    expect(refused.status).toBe(401);
    expect((await errorOf(refused)).message).toContain('disabled');
  });

  it('gives 401 once a client has expired', async () => {
    const made = await makeClient({ expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await call('/v1/models', { token: made.token })).status).toBe(200);
    await call(`/v1/admin/clients/${made.name}`, { token: 'admin', method: 'PATCH', json: { expires_at: new Date(Date.now() - 1000).toISOString() } });
    const refused = await call('/v1/models', { token: made.token });
    expect(refused.status).toBe(401);
    expect((await errorOf(refused)).message).toContain('expired');
  });

  it('revokes with DELETE: the token answers 401 from the next request on', async () => {
    const made = await makeClient();
    expect((await call('/v1/models', { token: made.token })).status).toBe(200);
    const revoked = await call(`/v1/admin/clients/${made.name}`, { token: 'admin', method: 'DELETE' });
    expect(await revoked.json()).toEqual({ name: made.name, revoked: true });
    expect((await call('/v1/models', { token: made.token })).status).toBe(401);
    expect((await call(`/v1/admin/clients/${made.name}`, { token: 'admin' })).status).toBe(404);
  });

  it('rotates: without grace the old token stops at once; with grace both work until it ends', async () => {
    const made = await makeClient();
    const first = await call(`/v1/admin/clients/${made.name}/rotate`, { token: 'admin', method: 'POST' });
    expect(first.status).toBe(200);
    const { token: second } = await first.json<MadeClient>();
    expect((await call('/v1/models', { token: made.token })).status).toBe(401);
    expect((await call('/v1/models', { token: second })).status).toBe(200);

    const graced = await call(`/v1/admin/clients/${made.name}/rotate`, { token: 'admin', json: { grace_seconds: 2 } });
    const body = await graced.json<MadeClient & { previous_token_valid_until: string }>();
    expect(Date.parse(body.previous_token_valid_until)).toBeGreaterThan(Date.now());
    expect((await call('/v1/models', { token: second })).status).toBe(200);
    expect((await call('/v1/models', { token: body.token })).status).toBe(200);
    await vi.waitFor(
      async () => {
        expect((await call('/v1/models', { token: second })).status).toBe(401);
      },
      { timeout: 6000, interval: 250 },
    );
    expect((await call('/v1/models', { token: body.token })).status).toBe(200);
  });

  it('answers 403 to a non-admin and 401 to an anonymous caller on every admin route', async () => {
    const routes: [string, RequestInit][] = [
      ['/v1/admin/clients', { method: 'POST', body: '{"name":"x","models":["echo"]}', headers: { 'content-type': 'application/json' } }],
      ['/v1/admin/clients', {}],
      ['/v1/admin/clients/alice', {}],
      ['/v1/admin/clients/alice', { method: 'PATCH', body: '{}', headers: { 'content-type': 'application/json' } }],
      ['/v1/admin/clients/alice', { method: 'DELETE' }],
      ['/v1/admin/clients/alice/rotate', { method: 'POST' }],
      ['/v1/admin/usage', {}],
    ];
    for (const [path, init] of routes) {
      const denied = await call(path, { ...init, token: 'bob' });
      expect(denied.status, `${init.method ?? 'GET'} ${path}`).toBe(403);
      expect((await errorOf(denied)).type).toBe('forbidden');
      expect((await call(path, init)).status).toBe(401);
    }
  });
});

describe('quotas', () => {
  it('lets exactly 5 of 20 concurrent calls through a quota of 5 requests a day, before any body is read', async () => {
    const made = await makeClient({ quota: { requests_per_day: 5 } });
    const ids = Array.from({ length: 20 }, () => uniqueId('q'));
    const answers = await Promise.all(
      ids.map((id) =>
        call('/v1/models/echo/predict', {
          token: made.token,
          json: { prompt: 'hi' },
          headers: { 'x-request-id': id },
        }),
      ),
    );
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    const refused = answers.find((res) => res.status === 429)!;
    expect((await errorOf(refused)).type).toBe('quota_exceeded');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    const sent = await Promise.all(ids.map((id) => upstreamRequests(id)));
    expect(sent.flat()).toHaveLength(5);
    // Reading one's own usage is not held to the quota.
    const usage = await usageWhen(made.token, (u) => u.totals.requests === 20);
    expect(usage.totals.errors).toBe(15);
  });

  it('stops the call after the one that crossed a token quota', async () => {
    const made = await makeClient({ quota: { tokens_per_day: 10 } });
    const chat = async (words: number) => {
      const res = await call('/v1/chat/completions', {
        token: made.token,
        json: { model: 'llm', messages: [{ role: 'user', content: 'one two' }], fake: { tokens: words } },
        upstream: 1,
      });
      // The tokens are read as the answer passes: the call counts once it has been read.
      await res.arrayBuffer();
      return res;
    };
    // 2 prompt + 4 completion tokens: under 10.
    expect((await chat(4)).status).toBe(200);
    await usageWhen(made.token, (u) => u.totals.input_tokens + u.totals.output_tokens === 6);
    // 2 + 6 more crosses 10, and still completes.
    expect((await chat(6)).status).toBe(200);
    await usageWhen(made.token, (u) => u.totals.input_tokens + u.totals.output_tokens === 14);
    const refused = await call('/v1/chat/completions', { token: made.token, json: { model: 'llm', messages: [] } });
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).type).toBe('quota_exceeded');
  });

  it('takes a strict global rate limit in the same hop as the quota', async () => {
    const made = await makeClient({ quota: { requests_per_month: 100 }, rate_limit: { limit: 2, period_seconds: 86_400 } });
    expect((await predict(made.token)).status).toBe(200);
    expect((await predict(made.token)).status).toBe(200);
    const refused = await call('/v1/models/echo/predict', { token: made.token, json: {} });
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).type).toBe('rate_limited');
  });

  it('spends no quota on a call the rate limit refused', async () => {
    const made = await makeClient({ quota: { requests_per_day: 3 }, rate_limit: { limit: 1, period_seconds: 1 } });
    let served = 0;
    let rateLimited = 0;
    let quotaOver = false;
    for (let i = 0; i < 30 && !quotaOver; i++) {
      const res = await call('/v1/models/echo/predict', { token: made.token, json: {} });
      expectUpstream(res.headers.get('x-request-id')!, res.status === 200 ? 1 : 0);
      if (res.status === 200) served += 1;
      else if ((await errorOf(res)).type === 'quota_exceeded') quotaOver = true;
      else rateLimited += 1;
      if (res.status === 429 && !quotaOver) await new Promise((resolve) => setTimeout(resolve, 400));
    }
    // Every refusal by the rate limit left the quota's three requests to the calls that were let in.
    expect(rateLimited).toBeGreaterThan(0);
    expect(served).toBe(3);
    expect(quotaOver).toBe(true);
  }, 20_000);

  it('refuses with 503 when the meter is unreachable and the quota says closed, lets through when it says open', async () => {
    const broken = {
      idFromName: () => ({}),
      get: () => ({ fetch: () => Promise.reject(new Error('meter down')) }),
    };
    const closed = await makeClient({ quota: { requests_per_day: 100 } });
    const open = await makeClient({ quota: { requests_per_day: 100, on_meter_failure: 'open' } });
    const init = (token: string): RequestInit => ({ method: 'POST', body: '{}', headers: bearer(token) });
    const refused = await callWith({ CLIENT_METER: broken }, '/v1/models/echo/predict', init(closed.token));
    expect(refused.status).toBe(503);
    expect((await errorOf(refused)).type).toBe('service_unavailable');
    const through = await callWith({ CLIENT_METER: broken }, '/v1/models/echo/predict', init(open.token), 1);
    expect(through.status).toBe(200);
  });

  it('holds static clients to a quota from CLIENTS too', async () => {
    const clients = {
      alice: { token_sha256: '380b4b4121ca83f5367b54432e63220108395d27fbac45559096b42ca5ce8fe3', models: ['*'], quota: { requests_per_month: 0 } },
    };
    const refused = await callWith({ CLIENTS: clients }, '/v1/models', { headers: { authorization: `Bearer ${TOKENS.alice}` } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(31 * 86_400);
  });
});

describe('usage metering', () => {
  it('counts the tokens of a plain and of a streamed answer, and the caller who did not ask never sees the usage chunk', async () => {
    const made = await makeClient();
    const plain = await call('/v1/chat/completions', {
      token: made.token,
      json: { model: 'llm', messages: [{ role: 'user', content: 'a b c' }], fake: { tokens: 5 } },
      upstream: 1,
    });
    expect((await plain.json<{ usage: unknown }>()).usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    await usageWhen(made.token, (u) => u.by_alias.llm?.output_tokens === 5 && u.by_alias.llm.input_tokens === 3);

    const id = uniqueId('stream');
    const streamed = await call('/v1/chat/completions', {
      token: made.token,
      headers: { 'x-request-id': id },
      json: { model: 'llm', stream: true, messages: [{ role: 'user', content: 'a b' }], fake: { tokens: 4 } },
    });
    const text = await streamed.text();
    expect(text).not.toContain('"usage"');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const contents = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '');
    expect(contents.join('')).toBe('word1 word2 word3 word4');
    const [sent] = await upstreamRequests(id);
    expect(JSON.parse(sent!.body).stream_options).toEqual({ include_usage: true });
    const usage = await usageWhen(made.token, (u) => u.by_alias.llm?.output_tokens === 9);
    expect(usage.by_alias.llm!.input_tokens).toBe(5);
    expect(usage.by_alias.llm!.requests).toBe(2);
  });

  it("passes the usage chunk to a caller who asked for it, and keeps the caller's other stream options", async () => {
    const id = uniqueId('asked');
    const res = await call('/v1/completions', {
      token: 'alice',
      headers: { 'x-request-id': id },
      json: { model: 'llm', prompt: 'x y', stream: true, stream_options: { include_usage: true }, fake: { tokens: 2 } },
      upstream: 1,
    });
    const text = await res.text();
    expect(text).toContain('"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}');
    const [sent] = await upstreamRequests(id);
    expect(JSON.parse(sent!.body).stream_options).toEqual({ include_usage: true });
  });

  it('shows a caller its own figures only', async () => {
    const one = await makeClient();
    const two = await makeClient();
    await predict(one.token);
    await predict(one.token);
    await usageWhen(one.token, (u) => u.totals.requests === 2);
    const own = await usageOf(two.token);
    expect(own.client).toBe(two.name);
    expect(own.totals.requests).toBe(0);
    const admin = await call(`/v1/admin/usage?client=${one.name}&days=1`, { token: 'admin' });
    const { clients } = await admin.json<{ clients: UsageReport[] }>();
    expect(clients.map((c) => c.client)).toEqual([one.name]);
    expect(clients[0]!.by_alias.echo?.requests).toBe(2);
    expect(clients[0]!.by_day).toHaveLength(1);
    const everyone = await call('/v1/admin/usage?days=1', { token: 'admin' });
    const names = (await everyone.json<{ clients: UsageReport[] }>()).clients.map((c) => c.client);
    expect(names).toEqual(expect.arrayContaining(['alice', 'bob', one.name, two.name, 'anonymous']));
    const read = await call(`/v1/admin/clients/${one.name}?days=3`, { token: 'admin' });
    const detail = await read.json<{ usage: UsageReport }>();
    expect(detail.usage.totals.requests).toBe(2);
    expect(detail.usage.by_day.map((d) => d.date)).toHaveLength(3);
  });

  it('refuses a bad days with 400', async () => {
    expect((await call('/v1/usage?days=0', { token: 'alice' })).status).toBe(400);
    expect((await call('/v1/usage?days=abc', { token: 'alice' })).status).toBe(400);
  });

  it('writes one Analytics Engine data point per request, with client, alias, route, status, latency and tokens', async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const dataset = { writeDataPoint: (point: AnalyticsEngineDataPoint) => points.push(point) };
    const body = JSON.stringify({ model: 'llm', messages: [{ role: 'user', content: 'p q r' }], fake: { tokens: 2 } });
    const res = await callWith({ USAGE_EVENTS: dataset }, '/v1/chat/completions', { method: 'POST', body, headers: bearer(TOKENS.alice) }, 1);
    expect(res.status).toBe(200);
    expect(points).toHaveLength(1);
    const [point] = points;
    expect(point!.indexes).toEqual(['alice']);
    expect(point!.blobs).toEqual(['alice', 'llm', '/v1/chat/completions', 'POST', '2xx']);
    const [status, latency, ttfb, input, output, upstream] = point!.doubles!;
    expect([status, input, output]).toEqual([200, 3, 2]);
    expect(latency).toBeGreaterThanOrEqual(ttfb!);
    expect(upstream).toBeGreaterThanOrEqual(0);
    expect(
      usageDataPoint({
        client: 'c',
        alias: 'a',
        route: 'r',
        method: 'GET',
        status: 404,
        latencyMs: 1,
        ttfbMs: 1,
        inputTokens: 0,
        outputTokens: 0,
        upstreamMs: 0,
      }).blobs![4],
    ).toBe('4xx');
  });
});

describe('meter rules and the usage tap', () => {
  it('refuses at the quota and says how long until the next UTC period', () => {
    const now = Date.UTC(2026, 0, 31, 23, 0, 0);
    const period = { ...currentPeriod(undefined, now), dayRequests: 3, monthTokens: 50 };
    expect(admitAgainstQuota(period, { requestsPerDay: 4, onMeterFailure: 'closed' }, now).allowed).toBe(true);
    expect(admitAgainstQuota(period, { requestsPerDay: 3, onMeterFailure: 'closed' }, now)).toEqual({
      allowed: false,
      refusal: 'quota_exceeded',
      retryAfterSeconds: 3600,
    });
    expect(admitAgainstQuota(period, { tokensPerMonth: 50, onMeterFailure: 'closed' }, now).retryAfterSeconds).toBe(3600);
    expect(secondsUntilNext('month', Date.UTC(2026, 0, 15))).toBe(17 * 86_400);
    expect(currentPeriod(period, Date.UTC(2026, 1, 1)).monthTokens).toBe(0);
  });

  it('cuts only the usage chunk, whatever the chunking, and keeps every other byte', async () => {
    const stream =
      'data: {"choices":[{"delta":{"content":"a"}}]}\r\n\r\n' +
      ': comment\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":9}}\n\n' +
      'data: [DONE]\n\n';
    const kept = stream.replace('data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":9}}\n\n', '');
    for (const size of [1, 3, 7, 1000]) {
      const bytes = encoder.encode(stream);
      const source = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
          controller.close();
        },
      });
      const tap = new UsageTap();
      const out = await new Response(tapEvents(source, tap, true)).arrayBuffer();
      expect(decoder.decode(out), `chunks of ${size}`).toBe(kept);
      expect([tap.inputTokens, tap.outputTokens]).toEqual([7, 9]);
    }
  });

  it('splits events on LF, CR and CRLF blank lines', () => {
    const splitter = new EventSplitter();
    const events = [...splitter.push(encoder.encode('a\n\nb\r\rc\r\n')), ...splitter.push(encoder.encode('\r\nd'))].map((e) => decoder.decode(e));
    expect(events).toEqual(['a\n\n', 'b\r\r', 'c\r\n\r\n']);
    expect(decoder.decode(splitter.rest())).toBe('d');
  });
});
