// End to end under wrangler dev: submit through the gateway, the fake Baseten runs the request and
// delivers a real signed webhook to the gateway's loopback URL, the status route returns the output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';
import { TEST_CLIENTS, TEST_MODELS, TOKENS } from '../config.ts';

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;

beforeAll(async () => {
  // The cron is fired by hand (--test-scheduled); records come due for it one second after submit.
  gateway = await startLocalGateway({
    vars: { MODELS: TEST_MODELS, CLIENTS: TEST_CLIENTS, ALLOWED_ORIGINS: [], SETTINGS: { async_reconcile_after_seconds: 1 } },
    extraArgs: ['--test-scheduled'],
  });
});
afterAll(async () => {
  await gateway?.stop();
});

interface View {
  status: string;
  final: boolean;
  model: string;
  output?: unknown;
  errors: { code: string; message: string }[];
  cancel?: { canceled: boolean };
}

function api(path: string, init: RequestInit & { token?: keyof typeof TOKENS } = {}) {
  const { token = 'alice', ...rest } = init;
  return fetch(`${gateway.url}${path}`, { ...rest, headers: { authorization: `Bearer ${TOKENS[token]}`, ...rest.headers } });
}

async function submit(alias: string, modelInput: unknown): Promise<{ request_id: string; status_url: string }> {
  const res = await api(`/v1/models/${alias}/async`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model_input: modelInput }),
  });
  expect(res.status).toBe(201);
  return res.json();
}

/** Polls the status route until the gateway calls the request final. */
async function finalView(requestId: string, timeoutMs = 10_000): Promise<View> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api(`/v1/async/${requestId}`);
    expect(res.status).toBe(200);
    const view = (await res.json()) as View;
    if (view.final) return view;
    if (Date.now() > deadline) throw new Error(`still ${view.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const deliveriesFor = (requestId: string) => gateway.fake.webhookDeliveries.filter((d) => d.request_id === requestId);

describe('async round trip under wrangler dev', () => {
  it.each(['asyncmodel', 'asyncchain'])('%s: submit, signed webhook from Baseten, status returns the output', async (alias) => {
    const accepted = await submit(alias, { prompt: 'hello' });
    expect(accepted.status_url).toBe(`${gateway.url}/v1/async/${accepted.request_id}`);
    const view = await finalView(accepted.request_id);
    expect(view).toMatchObject({ status: 'SUCCEEDED', model: alias, output: { echo: { prompt: 'hello' } }, errors: [] });
    const [delivery, ...more] = deliveriesFor(accepted.request_id);
    expect(more).toHaveLength(0);
    expect(delivery!.url).toBe(`${gateway.url}/v1/webhooks/baseten`);
    expect(delivery!.status).toBe(200);
  });

  it("delivers a failure's errors, without output", async () => {
    const accepted = await submit('asyncmodel', { fake: { fail: true, message: 'boom' } });
    const view = await finalView(accepted.request_id);
    expect(view).toMatchObject({ status: 'FAILED', errors: [{ code: 'MODEL_PREDICT_ERROR', message: 'boom' }] });
    expect(view).not.toHaveProperty('output');
  });

  it('shows the request only to its owner: another client gets the 404 an unknown id gets', async () => {
    const accepted = await submit('asyncmodel', { fake: { queue_ms: 60_000 } });
    const foreign = await api(`/v1/async/${accepted.request_id}`, { token: 'admin' });
    const unknown = await api(`/v1/async/${'0'.repeat(32)}`, { token: 'admin' });
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    const strip = (body: { error: { type: string; message: string } }) => ({ type: body.error.type, message: body.error.message });
    expect(strip(await foreign.json())).toEqual(strip(await unknown.json()));
  });

  it.each([
    ['forged', { bad_signature: true }],
    ['stale', { stale: true }],
  ])('refuses a %s webhook with 401 and stores nothing; Baseten then reports WEBHOOK_FAILED', async (_label, fake) => {
    const accepted = await submit('asyncmodel', { fake });
    const view = await finalView(accepted.request_id);
    expect(view.status).toBe('WEBHOOK_FAILED');
    expect(view).not.toHaveProperty('output');
    expect(deliveriesFor(accepted.request_id).map((d) => d.status)).toEqual([401]);
  });

  it('takes a repeated delivery as harmless, and refuses a replay with altered data', async () => {
    const accepted = await submit('asyncmodel', { prompt: 'once', fake: { deliver_twice: true } });
    const first = await finalView(accepted.request_id);
    await expect.poll(() => deliveriesFor(accepted.request_id).length).toBe(2);
    expect(deliveriesFor(accepted.request_id).map((d) => d.status)).toEqual([200, 200]);

    const captured = deliveriesFor(accepted.request_id)[0]!;
    const replay = (body: string) =>
      fetch(`${gateway.url}/v1/webhooks/baseten`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-baseten-signature': captured.signature! },
      });
    expect((await replay(captured.body)).status).toBe(200);
    expect((await replay(captured.body.replace('"once"', '"twice"'))).status).toBe(401);
    expect(await finalView(accepted.request_id)).toEqual(first);
  });

  it('cancels a queued request', async () => {
    const accepted = await submit('asyncmodel', { fake: { queue_ms: 60_000 } });
    const res = await api(`/v1/async/${accepted.request_id}`, { method: 'DELETE' });
    expect(await res.json()).toMatchObject({ canceled: true, model: 'asyncmodel' });
    expect(await finalView(accepted.request_id)).toMatchObject({ status: 'CANCELED', cancel: { canceled: true } });
    expect(deliveriesFor(accepted.request_id)).toHaveLength(0);
  });

  it('keeps a webhook that arrives before the submit has answered, and serves its output', async () => {
    const accepted = await submit('asyncmodel', { prompt: 'early', fake: { webhook_first: true } });
    // The delivery was answered before the record existed anywhere.
    expect(deliveriesFor(accepted.request_id).map((d) => d.status)).toEqual([200]);
    const view = await finalView(accepted.request_id);
    expect(view).toMatchObject({ status: 'SUCCEEDED', output: { echo: { prompt: 'early' } } });
  });

  it('works end to end with a Baseten request id that is not hex', async () => {
    const accepted = await submit('asyncmodel', { prompt: 'opaque', fake: { request_id_shape: 'opaque' } });
    expect(accepted.request_id).not.toMatch(/^[0-9a-f]{32}$/);
    expect(accepted.status_url).toBe(`${gateway.url}/v1/async/${accepted.request_id}`);
    expect(await finalView(accepted.request_id)).toMatchObject({ status: 'SUCCEEDED', output: { echo: { prompt: 'opaque' } } });
    expect(deliveriesFor(accepted.request_id).map((d) => d.status)).toEqual([200]);
  });

  it('replays an Idempotency-Key retry with the first answer', async () => {
    const send = () =>
      api('/v1/models/asyncmodel/async', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'e2e-retry-1' },
        body: JSON.stringify({ model_input: { prompt: 'once' } }),
      });
    const first = await send();
    const again = await send();
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(await first.text());
  });

  it('reports the queue under the alias', async () => {
    await submit('asyncmodel', { fake: { queue_ms: 60_000 } });
    const res = await api('/v1/models/asyncmodel/async/queue');
    const text = await res.text();
    expect(text).not.toContain('abc123');
    expect(JSON.parse(text)).toMatchObject({ model: 'asyncmodel', num_queued_requests: expect.any(Number) });
    expect(JSON.parse(text).num_queued_requests).toBeGreaterThanOrEqual(1);
  });

  // Last: it moves the fake's clock two hours on, past Baseten's one-hour memory of finished requests.
  it('the cron makes a request whose webhook never came, and that Baseten has forgotten, EXPIRED with the reason', async () => {
    const accepted = await submit('asyncmodel', { fake: { queue_ms: 0, run_ms: 0, never_deliver: true } });
    await expect
      .poll(async () => ((await (await fetch(`${gateway.fake.url}/__fake/async/${accepted.request_id}`)).json()) as { status: string }).status)
      .toBe('SUCCEEDED');
    await fetch(`${gateway.fake.url}/__fake/clock`, { method: 'POST', body: JSON.stringify({ advance_ms: 2 * 3_600_000 }) });
    const before = (await (await api(`/v1/async/${accepted.request_id}`)).json()) as View;
    expect(before.final).toBe(false);

    // Due about a second after the submit: the cron is fired until it has looked at the request.
    const fireCron = async () => {
      const fired = await fetch(`${gateway.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
      expect(fired.status).toBe(200);
      return (await (await api(`/v1/async/${accepted.request_id}`)).json()) as View;
    };
    await expect.poll(async () => (await fireCron()).final, { timeout: 10_000, interval: 500 }).toBe(true);
    const view = await finalView(accepted.request_id);
    expect(view).toMatchObject({ status: 'EXPIRED', errors: [{ code: 'RESULT_NEVER_DELIVERED' }] });
    // The cron's log line reaches wrangler's output a moment after the record is final.
    await expect
      .poll(() => gateway.logs())
      .toMatch(new RegExp(`"event":"async_reconcile".*"async_request_id":"${accepted.request_id}","outcome":"finalized","status":"EXPIRED"`));
  });
});
