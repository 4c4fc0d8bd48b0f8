// Tests for the local Baseten fake (tools/fake-baseten.mjs), run in Node.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startFakeBaseten } from '../../tools/fake-baseten.mjs';

const API_KEY = 'test-key';
const SECRETS = ['whsec_new', 'whsec_old'];
const AUTH = { authorization: `Api-Key ${API_KEY}` };
const FAKE_PATH = fileURLToPath(new URL('../../tools/fake-baseten.mjs', import.meta.url));

type Fake = Awaited<ReturnType<typeof startFakeBaseten>>;
let fake: Fake;

beforeAll(async () => {
  fake = await startFakeBaseten({
    apiKey: API_KEY,
    webhookSecrets: SECRETS,
    servedNames: { llm: 'Qwen/Qwen2.5-3B-Instruct' },
    timeScale: 0.01,
    // Polling tests stay clear of Baseten's limits; the limit tests lower them or use a fresh fake.
    asyncLimits: { status: 10_000, cancel: 10_000, queue_status: 10_000 },
  });
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => fake.reset());

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(fake.url + path, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
  });
}

function get(path: string, method = 'GET') {
  return fetch(fake.url + path, { method, headers: AUTH });
}

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A local webhook receiver; `statuses` is the answer for each successive delivery (then 200). */
async function startReceiver(statuses: number[] = []) {
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(parts).toString('utf8') });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/v1/webhooks/baseten`,
    received,
    close: () => new Promise((r) => server.close(r)),
  };
}

function hmac(secret: string, body: string) {
  return createHmac('sha256', secret).update(body).digest('hex');
}

describe('auth and routing', () => {
  it('rejects a missing or wrong key with 401 JSON, accepts Api-Key and Bearer', async () => {
    const none = await fetch(`${fake.url}/model-abc/production/predict`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/json');
    expect(typeof (await none.json()).error).toBe('string');

    expect((await post('/model-abc/production/predict', {}, { authorization: 'Api-Key nope' })).status).toBe(401);
    expect((await post('/model-abc/production/predict', {}, { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
  });

  it('echoes model and deployment for every predict and run_remote form', async () => {
    const forms: [string, string][] = [
      ['production', 'production'],
      ['environments/staging', 'environments/staging'],
      ['development', 'development'],
      ['deployment/q4w8e', 'deployment/q4w8e'],
    ];
    for (const [path, deployment] of forms) {
      const res = await post(`/model-abc/${path}/predict`, { prompt: 'hi' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ model: 'abc', deployment, input: { prompt: 'hi' } });
      const chain = await post(`/chain-xyz/${path}/run_remote`, { n: 1 });
      expect(await chain.json()).toMatchObject({ model: 'xyz', kind: 'chain', deployment, input: { n: 1 } });
    }
    expect(fake.requests.map((r) => r.path)).toContain('/model-abc/deployment/q4w8e/predict');
  });

  it('answers 404 for deleted models and unknown routes, 400 for bad JSON', async () => {
    const gone = await post('/model-gone42/production/predict', {});
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ error: 'Model not found', error_code: 'model_does_not_exist' });
    expect((await post('/model-abc/production/nope', {})).status).toBe(404);
    expect((await post('/elsewhere', {})).status).toBe(404);
    expect((await post('/model-abc/production/predict', '{not json')).status).toBe(400);
  });

  it('passes binary bodies through, wakes with 202 {}, echoes custom sync routes', async () => {
    const bytes = Buffer.from([0x82, 0xa1, 0x61, 0x01, 0x00, 0xff]);
    const bin = await post('/model-abc/production/predict', bytes, { 'content-type': 'application/octet-stream' });
    expect(bin.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await bin.arrayBuffer())).toEqual(bytes);

    const wake = await post('/model-abc/environments/staging/wake', '');
    expect(wake.status).toBe(202);
    expect(await wake.json()).toEqual({});

    const sync = await fetch(`${fake.url}/model-abc/development/sync/items/123?x=1`, { method: 'PUT', headers: AUTH, body: 'hello' });
    expect(await sync.json()).toEqual({ route: '/items/123', method: 'PUT', query: 'x=1', body: 'hello' });
    expect(await (await get('/model-abc/production/sync/health')).json()).toEqual({ status: 'ok' });
  });

  it('steers errors, leaked headers and header echo', async () => {
    const boom = await post('/model-abc/production/predict', { fake: { status: 500, message: 'boom' } });
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: 'boom' });
    expect(boom.headers.get('x-baseten-error-source')).toBe('04');
    expect(boom.headers.get('x-baseten-error-code')).toBe('600');

    const limited = await post('/model-abc/production/predict', { fake: { status: 429 } });
    expect(limited.headers.get('retry-after')).toBe('1');

    const leaky = await post('/model-abc/production/predict', { fake: { leak_headers: true, echo_headers: true } }, { 'x-request-id': 'r1' });
    expect(leaky.headers.get('set-cookie')).toBe('session=abc');
    expect(leaky.headers.get('x-baseten-model-id')).toBe('abc');
    expect((await leaky.json()).headers['x-request-id']).toBe('r1');
    expect(leaky.headers.get('x-fake-request-seq')).toBe(String(fake.requests.length - 1));
  });
});

describe('streaming', () => {
  it('sends a chunked stream in several pieces over time', async () => {
    const arrivals: number[] = [];
    let text = '';
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      const req = http.request(
        `${fake.url}/model-abc/production/predict`,
        {
          method: 'POST',
          headers: { ...AUTH, 'content-type': 'application/json' },
        },
        (res) => {
          res.on('data', (chunk: Buffer) => {
            arrivals.push(Date.now());
            text += chunk.toString();
          });
          res.on('end', () => resolve(res.headers));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ fake: { stream: { chunks: 4, chunk_bytes: 32, delay_ms: 40 } } }));
    });
    expect(headers['transfer-encoding']).toBe('chunked');
    expect(headers['content-length']).toBeUndefined();
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(80);
    expect(text.length).toBe(4 * 32);
    expect(text.startsWith('chunk 0 ')).toBe(true);
  });

  it('records aborted: true when the client disconnects mid-stream', async () => {
    const res = await post('/model-abc/production/predict', { fake: { stream: { chunks: 100, chunk_bytes: 8, delay_ms: 20 } } });
    const seq = Number(res.headers.get('x-fake-request-seq'));
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await waitFor(() => fake.requests[seq]?.aborted);

    const hung = fetch(`${fake.url}/model-abc/production/predict`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({ fake: { hang: true } }),
      signal: AbortSignal.timeout(100),
    });
    await expect(hung).rejects.toThrow();
    await waitFor(() => fake.requests.at(-1)?.aborted);
  });

  it('cuts the connection mid-stream when asked', async () => {
    const res = await post('/model-abc/production/predict', { fake: { close_mid_stream: true, stream: { chunks: 4, delay_ms: 5 } } });
    const reader = res.body!.getReader();
    let received = '';
    const readAll = async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        received += Buffer.from(value).toString();
      }
    };
    await expect(readAll()).rejects.toThrow();
    expect(received).toBe('chunk 0\nchunk 1\n');
    expect(fake.requests.at(-1)?.aborted).toBe(false);
  });
});

describe('connection faults', () => {
  it('drops the connection after reading a predict with fake.reset, and logs that the request arrived', async () => {
    await expect(post('/model-abc/production/predict', { fake: { reset: true } }, { 'x-request-id': 'reset-1' })).rejects.toThrow();
    const seen = fake.requests.filter((r) => r.headers['x-request-id'] === 'reset-1');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.bodyBytes).toBeGreaterThan(0);
  });

  it('drops the first N requests of one x-request-id on a custom route, then answers', async () => {
    const attempt = () => fetch(`${fake.url}/model-abc/production/sync/items?fake_reset_first=2`, { headers: { ...AUTH, 'x-request-id': 'flaky-1' } });
    await expect(attempt()).rejects.toThrow();
    await expect(attempt()).rejects.toThrow();
    expect((await attempt()).status).toBe(200);
  });

  it('drops the first N status lookups of an async request (reset_status_first)', async () => {
    const submitted = await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 60_000, reset_status_first: 1 } } });
    const { request_id: id } = (await submitted.json()) as { request_id: string };
    await expect(get(`/model-abc/async_request/${id}`)).rejects.toThrow();
    expect((await get(`/model-abc/async_request/${id}`)).status).toBe(200);
  });

  it('sends garbage or a large body with an error status', async () => {
    const garbage = await post('/model-abc/production/predict', { fake: { garbage: true, status: 503 } });
    expect(garbage.status).toBe(503);
    expect(await garbage.text()).toBe('{"output": <this is not json');
    const large = await post('/model-abc/production/predict', { fake: { bytes: 100_000, status: 500 } });
    expect(large.status).toBe(500);
    expect((await large.arrayBuffer()).byteLength).toBe(100_000);
  });
});

describe('async', () => {
  it('runs the lifecycle and delivers a signed webhook (one v1= per secret, newest first)', async () => {
    const receiver = await startReceiver();
    try {
      const submit = await post('/model-abc/production/async_predict', {
        model_input: { prompt: 'hi', fake: { queue_ms: 60, run_ms: 60 } },
        webhook_endpoint: receiver.url,
      });
      expect(submit.status).toBe(201);
      const { request_id } = await submit.json();
      expect(request_id).toMatch(/^[0-9a-f]{32}$/);

      const first = await (await get(`/model-abc/async_request/${request_id}`)).json();
      expect(first).toMatchObject({ request_id, model_id: 'abc', status: 'QUEUED', webhook_status: 'PENDING', errors: [] });
      await waitFor(async () => (await (await get(`/model-abc/async_request/${request_id}`)).json()).status === 'IN_PROGRESS');

      const hook = await waitFor(() => receiver.received[0]);
      expect(hook.headers['x-baseten-request-id']).toBe(request_id);
      const values = String(hook.headers['x-baseten-signature']).split(',');
      expect(values).toEqual(SECRETS.map((s) => `v1=${hmac(s, hook.body)}`));

      const payload = JSON.parse(hook.body);
      expect(Object.keys(payload)).toEqual(['request_id', 'model_id', 'deployment_id', 'type', 'time', 'data', 'errors']);
      expect(payload).toMatchObject({ request_id, model_id: 'abc', type: 'async_request_completed', errors: [] });
      expect(payload.data.echo.prompt).toBe('hi');
      expect(Math.abs(Date.now() - Date.parse(payload.time))).toBeLessThan(5000);

      const done = await waitFor(async () => {
        const body = await (await get(`/model-abc/async_request/${request_id}`)).json();
        return body.webhook_status === 'SUCCEEDED' ? body : undefined;
      });
      expect(done.status).toBe('SUCCEEDED');
      expect(fake.webhookDeliveries).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('signs with a wrong secret on bad_signature, reports failures, retries once', async () => {
    const receiver = await startReceiver([503, 503]);
    try {
      const submit = await post('/model-abc/production/async_predict', {
        model_input: { fake: { queue_ms: 0, run_ms: 0, bad_signature: true } },
        webhook_endpoint: receiver.url,
      });
      const { request_id } = await submit.json();
      const final = await waitFor(() => {
        const record = fake.asyncRequest(request_id);
        return record?.webhook_status === 'FAILED' ? record : undefined;
      });
      expect(final.status).toBe('WEBHOOK_FAILED');
      expect(receiver.received).toHaveLength(2);
      const hook = receiver.received[0]!;
      const values = String(hook.headers['x-baseten-signature']).split(',');
      expect(values).toHaveLength(2);
      for (const secret of SECRETS) expect(values).not.toContain(`v1=${hmac(secret, hook.body)}`);

      const failed = await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 0, run_ms: 0, fail: true } } });
      const failedId = (await failed.json()).request_id;
      const status = await waitFor(() => (fake.asyncRequest(failedId)?.status === 'FAILED' ? fake.asyncRequest(failedId) : undefined));
      expect(status).toMatchObject({ webhook_status: 'NO_WEBHOOK_PROVIDED', errors: [{ code: 'MODEL_PREDICT_ERROR' }] });
    } finally {
      await receiver.close();
    }
  });

  it('cancels a QUEUED request, refuses to cancel a running one, counts the queue', async () => {
    const submit = (fakeInput: object) => post('/model-abc/environments/staging/async_predict', { model_input: { fake: fakeInput } }).then((r) => r.json());
    const queued = await submit({ queue_ms: 5000 });
    await submit({ queue_ms: 5000 });
    const running = await submit({ queue_ms: 0, run_ms: 5000 });
    await waitFor(() => fake.asyncRequest(running.request_id)?.status === 'IN_PROGRESS');

    const counts = await (await get('/model-abc/environments/staging/async_queue_status')).json();
    expect(counts).toMatchObject({ model_id: 'abc', num_queued_requests: 2, num_in_progress_requests: 1 });
    expect(await (await get('/model-abc/production/async_queue_status')).json()).toMatchObject({ num_queued_requests: 0 });

    const cancel = await get(`/model-abc/async_request/${queued.request_id}`, 'DELETE');
    expect(await cancel.json()).toMatchObject({ request_id: queued.request_id, canceled: true });
    expect((await (await get(`/model-abc/async_request/${queued.request_id}`)).json()).status).toBe('CANCELED');

    const refused = await (await get(`/model-abc/async_request/${running.request_id}`, 'DELETE')).json();
    expect(refused).toMatchObject({ canceled: false, message: 'request is IN_PROGRESS and cannot be canceled' });
    expect((await get('/model-abc/async_request/0123456789abcdef0123456789abcdef')).status).toBe(404);
  });

  it('validates the submit body and enforces the 256 KiB cap', async () => {
    expect((await post('/model-abc/production/async_predict', { prompt: 'no wrapper' })).status).toBe(400);
    expect((await post('/model-abc/production/async_predict', { model_input: {}, priority: 3 })).status).toBe(400);
    expect((await post('/model-abc/production/async_predict', { model_input: {}, max_time_in_queue_seconds: 5 })).status).toBe(400);
    const big = JSON.stringify({ model_input: { blob: 'x'.repeat(300_000) } });
    const tooBig = await post('/chain-xyz/production/async_run_remote', big);
    expect(tooBig.status).toBe(413);
    expect((await tooBig.json()).error).toBe(`payload size of ${big.length} bytes exceeds maximum size of 262144 bytes`);
  });
});

describe('OpenAI-compatible sync routes', () => {
  const CHAT = '/model-llm/environments/production/sync/v1/chat/completions';

  it('streams chat completion chunks ending with data: [DONE]', async () => {
    const res = await post(CHAT, {
      model: 'Qwen/Qwen2.5-3B-Instruct',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      fake: { tokens: 5, token_delay_ms: 5 },
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = text
      .split('\n\n')
      .filter(Boolean)
      .slice(0, -1)
      .map((line) => JSON.parse(line.slice('data: '.length)));
    expect(events[0].choices[0].delta.role).toBe('assistant');
    const content = events.map((e) => e.choices[0]?.delta.content ?? '').join('');
    expect(content.split(' ')).toHaveLength(5);
    expect(events.every((e) => e.object === 'chat.completion.chunk' && e.model === 'Qwen/Qwen2.5-3B-Instruct')).toBe(true);
  });

  it('answers a non-streaming chat echo and rejects an unknown served name with 404', async () => {
    const ok = await post(CHAT, { model: 'Qwen/Qwen2.5-3B-Instruct', messages: [{ role: 'user', content: 'ping' }] });
    const body = await ok.json();
    expect(body).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'echo: ping' }, finish_reason: 'stop' }] });

    const wrong = await post(CHAT, { model: 'gpt-4', messages: [] });
    expect(wrong.status).toBe(404);
    expect(await wrong.json()).toEqual({ error: { message: 'The model `gpt-4` does not exist.', type: 'NotFoundError', code: 404 } });

    const models = await (await get('/model-llm/production/sync/v1/models')).json();
    expect(models.data[0].id).toBe('Qwen/Qwen2.5-3B-Instruct');
  });

  it('answers embeddings as float arrays, or as base64 float32 when asked', async () => {
    const path = '/model-llm/production/sync/v1/embeddings';
    const floats = await (await post(path, { model: 'Qwen/Qwen2.5-3B-Instruct', input: 'a' })).json();
    const packed = await (await post(path, { model: 'Qwen/Qwen2.5-3B-Instruct', input: 'a', encoding_format: 'base64' })).json();
    const bytes = Buffer.from(packed.data[0].embedding, 'base64');
    const decoded = Array.from(new Float32Array(new Uint8Array(bytes).buffer)); // copied: pooled Buffers may be unaligned
    expect(decoded).toHaveLength(8);
    for (const [i, value] of decoded.entries()) expect(value).toBeCloseTo(floats.data[0].embedding[i], 6);
  });

  it('splits an event in two around mid_event_pause_ms and marks the request finished only at the end', async () => {
    const res = await post(CHAT, {
      model: 'Qwen/Qwen2.5-3B-Instruct',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      fake: { tokens: 2, mid_event_pause_ms: 300 },
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // Read until the first half of the second event is in: the fake is then pausing inside it.
    while (!/\n\n[^\n]+$/.test(text)) text += decoder.decode((await reader.read()).value!);
    expect(fake.requests[0]!.finished).toBe(false);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text.split('\n\n').filter(Boolean)).toHaveLength(5);
    await waitFor(() => fake.requests[0]!.finished);
  });
});

describe('large answers', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('streams 100 MB in 1 MiB chunks without the fake growing by more than ~50 MB', async () => {
    // Out of process, so the fake's own memory can be measured apart from the test's.
    child = spawn(process.execPath, [FAKE_PATH, '--port', '0'], {
      env: { ...process.env, FAKE_BASETEN_API_KEY: API_KEY },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const match = /^fake baseten listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(line.toString());
    expect(match).not.toBeNull();
    const url = match![1]!;
    const stats = async () => (await (await fetch(`${url}/__fake/stats`)).json()) as { rss: number; maxRss: number };

    const before = await stats();
    const chunks = 100;
    const res = await fetch(`${url}/model-abc/production/predict`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ fake: { stream: { chunks, chunk_bytes: 1024 * 1024 } } }),
    });
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    // Not reading for a moment fills the socket buffers: without backpressure the fake would
    // queue the whole answer in memory now.
    await sleep(300);

    // Collect the first 16 bytes of every 1 MiB chunk (its `chunk <i> ` label) to check order and
    // that no chunk was overwritten, without keeping the body.
    const MiB = 1024 * 1024;
    const labels: string[] = [];
    let label = '';
    let total = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let k = 0; k < value.length; ) {
        const inChunk = (total + k) % MiB;
        if (inChunk < 16) {
          label += String.fromCharCode(value[k]!);
          if (inChunk === 15) {
            labels.push(label);
            label = '';
          }
          k++;
        } else {
          k += Math.min(value.length - k, MiB - inChunk);
        }
      }
      total += value.byteLength;
    }
    const after = await stats();
    expect(total).toBe(chunks * MiB);
    expect(labels).toEqual(Array.from({ length: chunks }, (_, i) => `chunk ${i} `.padEnd(16, '.')));
    expect(after.maxRss - before.rss).toBeLessThan(50 * 1024 * 1024);
  }, 20_000);
});

describe("Baseten's error shape and headers", () => {
  it('answers edge errors with error_code, model errors with Truss headers, and a request id on every answer', async () => {
    const unavailable = await post('/model-abc/production/predict', { fake: { status: 503 } });
    expect(await unavailable.json()).toEqual({ error: 'Service Unavailable', error_code: 'model_unavailable' });
    expect(unavailable.headers.get('x-baseten-error-source')).toBeNull();
    expect(unavailable.headers.get('x-baseten-request-id')).toMatch(/^[0-9a-f]{32}$/);

    const notReady = await post('/model-abc/production/predict', { fake: { status: 500, error_code: 'model_not_ready' } });
    expect(await notReady.json()).toEqual({ error: 'Internal Server Error', error_code: 'model_not_ready' });
    expect(notReady.headers.get('x-baseten-error-code')).toBeNull();

    const invalid = await post('/model-abc/production/predict', { fake: { status: 422, message: 'bad input', detail: 'field x is required' } });
    expect(await invalid.json()).toEqual({ error: 'bad input', error_code: 'client_error', detail: 'field x is required' });

    const modelSays = await post('/model-abc/production/predict', { fake: { status: 400, truss: true } });
    expect(await modelSays.json()).toEqual({ error: 'Bad Request' });
    expect([modelSays.headers.get('x-baseten-error-source'), modelSays.headers.get('x-baseten-error-code')]).toEqual(['04', '700']);

    const limited = await post('/model-abc/production/predict', { fake: { status: 429, retry_after: 7 } });
    expect(limited.headers.get('retry-after')).toBe('7');
    expect((await limited.json()).error_code).toBe('rate_limited');

    const ok = await post('/model-abc/production/predict', {});
    const other = await post('/model-abc/production/predict', {});
    expect(ok.headers.get('x-baseten-request-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(ok.headers.get('x-baseten-request-id')).not.toBe(other.headers.get('x-baseten-request-id'));

    const unauthorized = await post('/model-abc/production/predict', {}, { authorization: 'Api-Key nope' });
    expect(await unauthorized.json()).toEqual({ error: 'Invalid API key', error_code: 'unauthorized' });
  });

  it('answers async submit 201 (202 when steered), wake 202, and has no wake or sync for chains', async () => {
    expect((await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 60_000 } } })).status).toBe(201);
    expect((await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 60_000, async_status: 202 } } })).status).toBe(202);
    expect((await post('/model-abc/development/wake', '')).status).toBe(202);
    expect((await post('/chain-xyz/production/wake', '')).status).toBe(404);
    expect((await post('/chain-xyz/production/sync/health', '')).status).toBe(404);
  });

  it('hands out opaque request ids when steered, and refuses http webhooks except on loopback', async () => {
    const opaque = await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 60_000, request_id_shape: 'opaque' } } });
    const { request_id: id } = await opaque.json();
    expect(id).toMatch(/^req_[A-Za-z0-9]+-[A-Za-z0-9]+_[A-Za-z0-9]+$/);
    expect(opaque.headers.get('x-baseten-request-id')).toBe(id);
    expect((await get(`/model-abc/async_request/${id}`)).status).toBe(200);

    const submit = (webhook: string) => post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 60_000 } }, webhook_endpoint: webhook });
    const plain = await submit('http://example.com/hook');
    expect(plain.status).toBe(400);
    expect((await plain.json()).error_code).toBe('client_error');
    expect((await submit('https://example.com/hook')).status).toBe(201);
    expect((await submit('http://localhost:9/hook')).status).toBe(201);
    expect((await submit('http://127.0.0.1:9/hook')).status).toBe(201);
  });
});

describe('async limits and the one-hour window', () => {
  it('answers 429 past the per-model limit of a window, and again once the window is over', async () => {
    fake.setAsyncLimits({ status: 2, queue_status: 1, window_ms: 60_000 });
    const status = () => get('/model-abc/async_request/0123456789abcdef0123456789abcdef');
    expect((await status()).status).toBe(404);
    expect((await status()).status).toBe(404);
    const limited = await status();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect((await limited.json()).error_code).toBe('rate_limited');
    expect((await get('/model-other/async_request/0123456789abcdef0123456789abcdef')).status).toBe(404);

    expect((await get('/model-abc/production/async_queue_status')).status).toBe(200);
    expect((await get('/model-abc/environments/x/async_queue_status')).status).toBe(429);
    fake.advanceClock(60_000);
    expect((await status()).status).toBe(404);
  });

  it("keeps Baseten's default of 20 status calls a second per model", async () => {
    const strict = await startFakeBaseten({ apiKey: API_KEY });
    try {
      const calls = Array.from({ length: 21 }, () =>
        fetch(`${strict.url}/model-abc/async_request/0123456789abcdef0123456789abcdef`, { headers: AUTH }).then((r) => r.status),
      );
      const statuses = await Promise.all(calls);
      expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    } finally {
      await strict.close();
    }
  });

  it('forgets a finished request an hour later, and expires one queued past its max time', async () => {
    const done = await (await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 0, run_ms: 0 } } })).json();
    await waitFor(() => fake.asyncRequest(done.request_id)?.status === 'SUCCEEDED');
    const queued = await (
      await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 3_600_000 } }, max_time_in_queue_seconds: 600 })
    ).json();

    fake.advanceClock(601_000);
    const expired = await (await get(`/model-abc/async_request/${queued.request_id}`)).json();
    expect(expired.status).toBe('EXPIRED');
    expect((await get(`/model-abc/async_request/${done.request_id}`)).status).toBe(200);

    const control = await fetch(`${fake.url}/__fake/clock`, { method: 'POST', body: JSON.stringify({ advance_ms: 3_600_000 }) });
    expect((await control.json()).now).toBeGreaterThan(Date.now() + 4_000_000);
    expect((await get(`/model-abc/async_request/${done.request_id}`)).status).toBe(404);
    expect((await get(`/model-abc/async_request/${done.request_id}`, 'DELETE')).status).toBe(404);
    // Expired 600 s after it was queued, so forgotten 3600 s after that.
    expect((await get(`/model-abc/async_request/${queued.request_id}`)).status).toBe(404);
  });
});

describe('webhooks as Baseten sends them', () => {
  it('retries once on a 5xx answer only, never on a 404 or a refused connection', async () => {
    const receiver = await startReceiver([404]);
    try {
      const submit = async (webhook: string, fakeInput: object = {}) =>
        (
          await (
            await post('/model-abc/production/async_predict', { model_input: { fake: { queue_ms: 0, run_ms: 0, ...fakeInput } }, webhook_endpoint: webhook })
          ).json()
        ).request_id as string;
      const lost = await submit(receiver.url);
      await waitFor(() => fake.asyncRequest(lost)?.webhook_status === 'FAILED');
      const refused = await submit('http://127.0.0.1:1/hook');
      await waitFor(() => fake.asyncRequest(refused)?.webhook_status === 'FAILED');
      expect(fake.webhookDeliveries.map((d) => [d.request_id, d.attempt])).toEqual([
        [lost, 1],
        [refused, 1],
      ]);

      receiver.received.length = 0;
      const statuses = [502, 200];
      const retried = await startReceiver(statuses);
      try {
        const id = await submit(retried.url, { webhook_retry_delay_ms: 5000 });
        await waitFor(() => fake.asyncRequest(id)?.webhook_status === 'SUCCEEDED');
        const [first, second] = fake.webhookDeliveries.filter((d) => d.request_id === id);
        expect([first!.status, second!.status]).toEqual([502, 200]);
        // 5000 ms × timeScale 0.01.
        expect(second!.time - first!.time).toBeGreaterThanOrEqual(45);
        expect(retried.received).toHaveLength(2);
      } finally {
        await retried.close();
      }
    } finally {
      await receiver.close();
    }
  });

  it('delivers before the submit answer when steered, or never', async () => {
    const receiver = await startReceiver();
    try {
      const early = await post('/model-abc/production/async_predict', { model_input: { fake: { webhook_first: true } }, webhook_endpoint: receiver.url });
      const { request_id: earlyId } = await early.json();
      expect(receiver.received).toHaveLength(1);
      expect(JSON.parse(receiver.received[0]!.body).request_id).toBe(earlyId);

      const never = await (
        await post('/model-abc/production/async_predict', {
          model_input: { fake: { queue_ms: 0, run_ms: 0, never_deliver: true } },
          webhook_endpoint: receiver.url,
        })
      ).json();
      await waitFor(() => fake.asyncRequest(never.request_id)?.status === 'SUCCEEDED');
      await sleep(50);
      expect(receiver.received).toHaveLength(1);
      expect(fake.asyncRequest(never.request_id)?.webhook_status).toBe('PENDING');
    } finally {
      await receiver.close();
    }
  });
});

describe('steering per target', () => {
  it('fails one target named in fake.targets while another answers', async () => {
    const body = { prompt: 'hi', fake: { targets: { 'model-abc/environments/production': { status: 503 }, 'model-abc-eu': { status: 504 } } } };
    expect((await post('/model-abc/environments/production/predict', body)).status).toBe(503);
    expect((await post('/model-abc/production/predict', body)).status).toBe(503);
    expect((await post('/model-abc-eu/predict', body)).status).toBe(504);
    const fallback = await post('/model-abc/environments/staging/predict', body);
    expect(fallback.status).toBe(200);
    expect((await fallback.json()).input.prompt).toBe('hi');
  });

  it('applies /__fake/steer rules by target, request id and count, to bodyless calls too', async () => {
    fake.steer({ target: 'model-abc/production', fake: { refuse: true }, times: 1 });
    await expect(post('/model-abc/production/predict', {})).rejects.toThrow();
    expect((await post('/model-abc/production/predict', {})).status).toBe(200);

    const added = await fetch(`${fake.url}/__fake/steer`, {
      method: 'POST',
      body: JSON.stringify({ target: 'model-abc/environments/cold', request_id: 'wake-1', fake: { status: 500, error_code: 'model_not_ready' } }),
    });
    expect(added.status).toBe(200);
    const wake = (id: string) => fetch(`${fake.url}/model-abc/environments/cold/wake`, { method: 'POST', headers: { ...AUTH, 'x-request-id': id } });
    const cold = await wake('wake-1');
    expect([cold.status, (await cold.json()).error_code]).toEqual([500, 'model_not_ready']);
    expect((await wake('wake-2')).status).toBe(202);
    await fetch(`${fake.url}/__fake/steer`, { method: 'DELETE' });
    expect((await wake('wake-1')).status).toBe(202);
  });

  it('delays headers, redirects to another host, and stalls an error or control body', async () => {
    const slow = post('/model-abc/production/predict', { fake: { delay_ms: 5000 } });
    const timedOut = fetch(`${fake.url}/model-abc/production/predict`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({ fake: { delay_ms: 5000 } }),
      signal: AbortSignal.timeout(50),
    });
    await expect(timedOut).rejects.toThrow();
    void slow.catch(() => {});

    const moved = await fetch(`${fake.url}/model-abc/production/predict`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({ fake: { redirect: true } }),
      redirect: 'manual',
    });
    expect(moved.status).toBe(307);
    expect(moved.headers.get('location')).toBe(`http://localhost:${fake.port}/redirected/model-abc/production/predict`);

    const stalled = await post('/model-abc/production/predict', { fake: { status: 500, error_code: 'internal_baseten_error', stall_body: true } });
    expect(stalled.status).toBe(500);
    const reader = stalled.body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString()).toBe('{"error":"Internal Server Error","e');
    const next = await Promise.race([reader.read(), sleep(100).then(() => 'stalled')]);
    expect(next).toBe('stalled');
    await reader.cancel();

    fake.steer({ path: '/async_queue_status', fake: { stall_body: true } });
    const queue = await get('/model-abc/production/async_queue_status');
    expect(queue.headers.get('content-length')).not.toBeNull();
    await expect(Promise.race([queue.text(), sleep(100).then(() => 'stalled')])).resolves.toBe('stalled');
  });

  it('cuts an OpenAI event stream half way when steered', async () => {
    const res = await post('/model-llm/production/sync/v1/chat/completions', {
      model: 'Qwen/Qwen2.5-3B-Instruct',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      fake: { tokens: 4, close_mid_stream: true },
    });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });
});

describe('regional hosts', () => {
  it('serves bare paths on model-<id>-<env> and nothing path-based there', async () => {
    const predicted = await post('/model-abc-staging/predict', { n: 1 });
    expect(await predicted.json()).toMatchObject({ model: 'abc', deployment: 'environments/staging', input: { n: 1 } });
    expect((await post('/model-abc-staging/production/predict', {})).status).toBe(404);
    expect((await post('/model-abc/predict', {})).status).toBe(404);

    const { request_id: id } = await (await post('/model-abc-staging/async_predict', { model_input: { fake: { queue_ms: 60_000 } } })).json();
    expect(await (await get('/model-abc-staging/async_queue_status')).json()).toMatchObject({
      model_id: 'abc',
      deployment_id: 'dep-env-staging',
      num_queued_requests: 1,
    });
    expect((await get(`/model-abc/async_request/${id}`)).status).toBe(200);
    expect((await get(`/model-abc-staging/async_request/${id}`)).status).toBe(404);
    expect((await post('/model-abc-staging/wake', '')).status).toBe(202);
    expect(await (await get('/model-abc-staging/sync/health')).json()).toEqual({ status: 'ok' });
    expect(await (await post('/chain-xyz-staging/run_remote', { n: 2 })).json()).toMatchObject({ kind: 'chain', deployment: 'environments/staging' });
  });
});

describe('WebSockets', () => {
  function open(path: string, protocols: string[] = [], headers: Record<string, string> = AUTH) {
    const ws = new WebSocket(`${fake.url.replace('http', 'ws')}${path}`, protocols, { headers });
    return ws;
  }

  it('echoes text and binary, closes on request with code and reason, and logs the connection', async () => {
    const ws = open('/model-abc/environments/production/websocket', ['other', 'echo'], { ...AUTH, 'x-request-id': 'ws-1' });
    await once(ws, 'open');
    expect(ws.protocol).toBe('echo');
    const replies: { data: Buffer; binary: boolean }[] = [];
    ws.on('message', (data: Buffer, binary: boolean) => replies.push({ data, binary }));
    ws.send('hello');
    ws.send(Buffer.from([0, 1, 255]));
    await waitFor(() => replies.length === 2);
    expect(replies[0]).toEqual({ data: Buffer.from('hello'), binary: false });
    expect(replies[1]).toEqual({ data: Buffer.from([0, 1, 255]), binary: true });
    ws.send('close:4001:going away');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect([code, reason.toString()]).toEqual([4001, 'going away']);

    const entry = fake.requests.find((r) => r.headers['x-request-id'] === 'ws-1')!;
    expect(entry.path).toBe('/model-abc/environments/production/websocket');
    expect(entry.headers['sec-websocket-protocol']).toBe('other,echo');
    expect(entry.headers.authorization).toBe(`Api-Key ${API_KEY}`);
    expect(entry.websocket).toMatchObject({
      protocol: 'echo',
      received: [
        { type: 'text', data: 'hello', bytes: 5 },
        { type: 'binary', data: 'AAH/', bytes: 3 },
        { type: 'text', data: 'close:4001:going away' },
      ],
      close: { code: 4001, reason: 'going away', by: 'server' },
    });
  });

  it('opens on every websocket path form, and refuses a bad key or path before the upgrade', async () => {
    for (const path of [
      '/model-abc/development/websocket',
      '/model-abc/deployment/q4w8e/websocket',
      '/model-abc-eu/websocket',
      '/chain-xyz/environments/production/websocket',
    ]) {
      const ws = open(path);
      await once(ws, 'open');
      expect(ws.protocol).toBe('');
      ws.close(1000, 'bye');
      await once(ws, 'close');
    }
    const refusedWith = async (ws: WebSocket) => {
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
      res.resume();
      return res.statusCode;
    };
    expect(await refusedWith(open('/model-abc/production/websocket'))).toBe(404);
    expect(await refusedWith(open('/model-abc/development/websocket', [], { authorization: 'Api-Key nope' }))).toBe(401);
    fake.steer({ target: 'model-abc/development', fake: { status: 503 }, times: 1 });
    expect(await refusedWith(open('/model-abc/development/websocket'))).toBe(503);
    fake.steer({ target: 'model-abc/development', fake: { websocket_protocol: 'chat' }, times: 1 });
    const chat = open('/model-abc/development/websocket', ['echo', 'chat']);
    await once(chat, 'open');
    expect(chat.protocol).toBe('chat');
    chat.close();
  });
});

describe('Model APIs', () => {
  const CHAT = '/model-api/v1/chat/completions';

  it('checks the key and the slug, and answers with usage', async () => {
    const body = { model: 'deepseek-ai/DeepSeek-V3.1', messages: [{ role: 'user', content: 'two words' }] };
    const ok = await post(CHAT, body, { authorization: `Bearer ${API_KEY}` });
    expect(await ok.json()).toMatchObject({ model: 'deepseek-ai/DeepSeek-V3.1', usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } });
    expect((await post(CHAT, body, { authorization: 'Bearer nope' })).status).toBe(401);
    const unknown = await post(CHAT, { ...body, model: 'acme/unknown' });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.type).toBe('NotFoundError');
    const models = await (await get('/model-api/v1/models')).json();
    expect(models.data.map((m: { id: string }) => m.id)).toContain('openai/gpt-oss-120b');
  });

  it('streams SSE with a final usage chunk only when asked, and steers per slug', async () => {
    const base = { model: 'openai/gpt-oss-120b', messages: [{ role: 'user', content: 'hi' }], stream: true, fake: { tokens: 3 } };
    const events = async (body: object) =>
      (await (await post(CHAT, body)).text())
        .split('\n\n')
        .filter(Boolean)
        .slice(0, -1)
        .map((e) => JSON.parse(e.slice('data: '.length)));
    const plain = await events(base);
    expect(plain.some((e) => e.usage)).toBe(false);
    const counted = await events({ ...base, stream_options: { include_usage: true } });
    expect(counted.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });

    const steered = await post(CHAT, { ...base, fake: { targets: { 'model-api/openai/gpt-oss-120b': { status: 429 } } } });
    expect(steered.status).toBe(429);
  });
});

describe('BEI engines', () => {
  const SYNC = '/model-bei001/environments/production/sync';

  it('answers rerank, classify and predict in the Performance Client shapes', async () => {
    const ranked = await (await post(`${SYNC}/rerank`, { query: 'q', texts: ['a', 'b', 'c'], return_text: true })).json();
    expect(ranked).toHaveLength(3);
    expect(ranked.map((r: { index: number }) => r.index).sort()).toEqual([0, 1, 2]);
    expect(ranked[0].score).toBeGreaterThanOrEqual(ranked[2].score);
    expect(ranked[0]).toHaveProperty('text');

    const classes = await (await post(`${SYNC}/classify`, { inputs: [['a'], ['b']] })).json();
    expect(classes).toHaveLength(2);
    expect(classes[0].map((c: { label: string }) => c.label).sort()).toEqual(['LABEL_0', 'LABEL_1']);
    expect(await (await post(`${SYNC}/predict`, { inputs: [['a'], ['b']] })).json()).toEqual(classes);

    const embedded = await (await post(`${SYNC}/v1/embeddings`, { model: 'bei', input: ['x', 'y'] })).json();
    expect(embedded).toMatchObject({ object: 'list', data: [{ index: 0 }, { index: 1 }], usage: { total_tokens: 2 } });
    const invalid = await post(`${SYNC}/rerank`, { query: 'q' });
    expect([invalid.status, (await invalid.json()).error_type]).toEqual([422, 'Validation']);
  });
});

describe('OpenAI engine usage', () => {
  it('puts usage in plain answers, and a usage chunk at the end of a stream only with include_usage', async () => {
    const path = '/model-llm/production/sync/v1/completions';
    const plain = await (await post(path, { model: 'Qwen/Qwen2.5-3B-Instruct', prompt: 'a b', fake: { tokens: 4 } })).json();
    expect(plain.usage).toEqual({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
    const text = await (
      await post(path, { model: 'Qwen/Qwen2.5-3B-Instruct', prompt: 'a b', stream: true, stream_options: { include_usage: true }, fake: { tokens: 4 } })
    ).text();
    const last = JSON.parse(text.split('\n\n').filter(Boolean).at(-2)!.slice('data: '.length));
    expect(last).toMatchObject({ choices: [], usage: { total_tokens: 6 } });
  });
});
