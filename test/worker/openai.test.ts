import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { replaceMember } from '../../src/json-member.ts';
import { requestedAlias } from '../../src/routes/openai.ts';
import { EventBoundary, StreamIdle, sseRelay } from '../../src/sse.ts';
import { TEST_API_KEY } from '../config.ts';
import { call, errorOf, type FakeRequest, uniqueId, upstreamRequests } from './helpers.ts';

const SERVED = 'Qwen/Qwen2.5-3B-Instruct';
const CHAT = { model: 'llm', messages: [{ role: 'user', content: 'hello there' }] };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Posts to an OpenAI route; `upstream` is how many calls reach the engine (none unless given). */
async function post(path: string, body: unknown, options: { token?: string; upstream?: number } = {}) {
  const id = uniqueId('oai');
  const headers = { 'x-request-id': id };
  const { upstream } = options;
  const res =
    typeof body === 'string'
      ? await call(path, { method: 'POST', token: options.token ?? 'alice', body, headers: { 'content-type': 'application/json', ...headers }, upstream })
      : await call(path, { token: options.token ?? 'alice', json: body, headers, upstream });
  return { id, res };
}

/**
 * Polls the shared fake's log until `check` holds for this request, within a
 * deadline: the fake notices a dropped connection on its own time.
 */
async function eventually(id: string, check: (seen: FakeRequest) => boolean): Promise<void> {
  await vi.waitFor(
    async () => {
      const seen = (await upstreamRequests(id))[0];
      expect(seen && check(seen)).toBe(true);
    },
    { timeout: 5000, interval: 100 },
  );
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
  }
}

/** The `data:` payloads of an SSE text, `[DONE]` excluded. */
function events(text: string): { choices: { delta: { content?: string } }[]; model: string }[] {
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
    .map((e) => JSON.parse(e.slice(6)));
}

describe('replaceMember', () => {
  it('swaps only the top-level value and keeps every other byte, big integers and odd numbers included', () => {
    const text =
      '{ "model" : "llm", "seed": 123456789012345678901234, "x": 1e400, "z": -0, "t": 1.50,\n' +
      ' "messages": [{"role":"user","content":"a \\"model\\": {x}","model":"inner"}], "tools": {"model": "t"} }';
    const out = replaceMember(text, 'model', JSON.stringify(SERVED));
    expect(out).toBe(text.replace('"model" : "llm"', `"model" : "${SERVED}"`));
  });

  it('replaces a key written with escapes and every repeat of it', () => {
    expect(replaceMember('{"mod\\u0065l":"a","model":1,"m":"model"}', 'model', '"s"')).toBe('{"mod\\u0065l":"s","model":"s","m":"model"}');
  });

  it('copes with values that contain delimiters and with the key last', () => {
    const text = '{"a":"}],\\\\","b":[{"c":"]"}],"n":null,"model":"x"}';
    expect(replaceMember(text, 'model', '"y"')).toBe(text.replace('"model":"x"', '"model":"y"'));
  });
});

describe('requestedAlias', () => {
  it.each([
    ['an array body', 'chat/completions', [CHAT], 'the request body must be a JSON object'],
    ['a missing model', 'embeddings', { input: 'x' }, '`model` must be a string'],
    ['a numeric model', 'completions', { model: 3, prompt: 'x' }, '`model` must be a string'],
    ['chat without messages', 'chat/completions', { model: 'llm', prompt: 'x' }, '`messages` must be an array'],
    ['chat with a string for messages', 'chat/completions', { model: 'llm', messages: 'hi' }, '`messages` must be an array'],
  ] as const)('refuses %s', (_label, endpoint, body, message) => {
    expect(() => requestedAlias(endpoint, body)).toThrow(message);
  });

  it('leaves every other field to the engine', () => {
    expect(requestedAlias('completions', { model: 'llm' })).toBe('llm');
    expect(requestedAlias('chat/completions', { model: 'llm', messages: [], temperature: 'hot' })).toBe('llm');
  });
});

describe('EventBoundary', () => {
  const after = (...chunks: string[]) => {
    const boundary = new EventBoundary();
    for (const chunk of chunks) boundary.push(encoder.encode(chunk));
    return boundary.atBoundary;
  };

  it('is at a boundary after a blank line, whatever the line endings and chunking', () => {
    expect(after()).toBe(true);
    expect(after('data: a\n\n')).toBe(true);
    expect(after('data: a\r\n\r\n')).toBe(true);
    expect(after('data: a\r\r')).toBe(true);
    expect(after('data: a\n', '\n')).toBe(true);
    expect(after('data: a\r\n\r', '\n')).toBe(true);
    expect(after('data: a\n\ndata: b\n\n')).toBe(true);
  });

  it('is inside an event after a partial line or a single line ending', () => {
    expect(after('data: a')).toBe(false);
    expect(after('data: a\n')).toBe(false);
    expect(after('data: a\r\n')).toBe(false);
    expect(after('data: a\n\ndata: b')).toBe(false);
    expect(after('data: a\n\n', 'da')).toBe(false);
    expect(after('data: a\n\nevent: x\ndata: b\n')).toBe(false);
  });
});

/** A source stream the test feeds by hand, recording whether it was cancelled. */
function source() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
    cancel: () => {
      state.cancelled = true;
    },
  });
  return {
    stream,
    state,
    send: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    fail: (err: Error) => controller.error(err),
  };
}

describe('sseRelay', () => {
  const limits = { keepAliveMs: 50, firstByteMs: 5000, idleMs: 5000 };
  // The relay's timers run in this isolate: the tests move its clock.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes the bytes through unchanged and adds a keep-alive comment only between events', async () => {
    const upstream = source();
    const reader = sseRelay(upstream.stream, limits).getReader();
    const collected = (async () => readAll(reader))();
    upstream.send('data: {"a":1}\n\n');
    await vi.advanceTimersByTimeAsync(200); // silent at a boundary: keep-alives go out
    upstream.send('data: {"b"');
    await vi.advanceTimersByTimeAsync(200); // silent inside an event: nothing may be added
    upstream.send(':2}\n\ndata: [DONE]\n\n');
    upstream.end();
    const text = await collected;
    expect(text.replaceAll(': keep-alive\n\n', '')).toBe('data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n');
    expect(text).toMatch(/^data: \{"a":1\}\n\n(: keep-alive\n\n)+data: \{"b":2\}\n\ndata: \[DONE\]\n\n$/);
  });

  it('ends the stream with an error and cancels upstream after idleMs of silence', async () => {
    const upstream = source();
    const reader = sseRelay(upstream.stream, { keepAliveMs: 1000, firstByteMs: 5000, idleMs: 100 }).getReader();
    upstream.send('data: 1\n\n');
    expect(decoder.decode((await reader.read()).value)).toBe('data: 1\n\n');
    const cut = expect(reader.read()).rejects.toBeInstanceOf(StreamIdle);
    await vi.advanceTimersByTimeAsync(99);
    expect(upstream.state.cancelled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await cut;
    expect(upstream.state.cancelled).toBe(true);
  });

  it('gives the first byte firstByteMs, then keeps a stream alive as long as bytes keep coming', async () => {
    const upstream = source();
    const reader = sseRelay(upstream.stream, { keepAliveMs: 1000, firstByteMs: 100, idleMs: 150 }).getReader();
    const collected = (async () => readAll(reader))();
    for (let i = 0; i < 6; i++) {
      await vi.advanceTimersByTimeAsync(60);
      upstream.send(`data: ${i}\n\n`);
    }
    upstream.end();
    expect(await collected).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n');
    expect(upstream.state.cancelled).toBe(false);

    const silent = source();
    const cut = expect(sseRelay(silent.stream, { keepAliveMs: 1000, firstByteMs: 100, idleMs: 5000 }).getReader().read()).rejects.toBeInstanceOf(StreamIdle);
    await vi.advanceTimersByTimeAsync(100);
    await cut;
    expect(silent.state.cancelled).toBe(true);
  });

  it('passes a broken upstream on as an error, not as a clean end', async () => {
    const upstream = source();
    const reader = sseRelay(upstream.stream, limits).getReader();
    upstream.send('data: 1\n\n');
    await reader.read();
    upstream.fail(new Error('connection reset'));
    await expect(reader.read()).rejects.toThrow('connection reset');
  });

  it('cancels upstream when the caller cancels', async () => {
    const upstream = source();
    const reader = sseRelay(upstream.stream, limits).getReader();
    upstream.send('data: 1\n\n');
    await reader.read();
    await reader.cancel();
    expect(upstream.state.cancelled).toBe(true);
  });
});

describe('OpenAI routing', () => {
  it.each([
    ['/v1/chat/completions', CHAT],
    ['/v1/completions', { model: 'llm', prompt: 'hello there' }],
    ['/v1/embeddings', { model: 'llm', input: ['a', 'b'] }],
  ])('sends %s to the engine under /sync, signed, with model set to the served name', async (path, body) => {
    const { id, res } = await post(path, body, { upstream: 1 });
    expect(res.status).toBe(200);
    const [seen, ...more] = await upstreamRequests(id);
    expect(more).toHaveLength(0);
    expect(seen!.path).toBe(`/model-llm001/environments/production/sync${path}`);
    expect(seen!.headers.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
    expect(seen!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen!.body)).toEqual({ ...body, model: SERVED });
  });

  it('forwards every other byte of the body exactly as sent', async () => {
    const raw =
      '{"model":  "llm" ,\n "messages":[{"role":"user","content":"h\\u00e9"}],"seed":123456789012345678901,"temperature":0.70,' +
      '"logprobs":true,"response_format":{"type":"json_object"},"tools":[{"type":"function","function":{"name":"f","parameters":{"model":"x"}}}]}';
    const { id, res } = await post('/v1/chat/completions', raw, { upstream: 1 });
    expect(res.status).toBe(200);
    const [seen] = await upstreamRequests(id);
    expect(seen!.body).toBe(raw.replace('"llm"', JSON.stringify(SERVED)));
  });

  it("answers with the engine's body untouched, its model field naming the served model", async () => {
    const { res } = await post('/v1/chat/completions', CHAT, { upstream: 1 });
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { model: string; choices: { message: { content: string } }[] };
    expect(body.model).toBe(SERVED);
    expect(body.choices[0]!.message.content).toBe('echo: hello there');
  });

  it("serves one alias in OpenAI's model shape, and 404 for an unknown one", async () => {
    const res = await call('/v1/models/llm', { token: 'alice' });
    expect(await res.json()).toEqual({ id: 'llm', object: 'model', created: 0, owned_by: 'baseten-gateway', modes: ['predict', 'batch', 'chat'] });
    expect((await call('/v1/models/nope', { token: 'alice' })).status).toBe(404);
  });
});

describe('OpenAI streaming', () => {
  it('relays the event stream with no-cache and no proxy buffering, ending in data: [DONE]', async () => {
    const { res } = await post('/v1/chat/completions', { ...CHAT, stream: true, fake: { tokens: 4 } }, { upstream: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(res.headers.get('content-length')).toBeNull();
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    // Compact JSON per event: the engine's own serialisation, nothing re-encoded.
    for (const event of text.split('\n\n').filter(Boolean).slice(0, -1)) {
      expect(JSON.stringify(JSON.parse(event.slice(6)))).toBe(event.slice(6));
    }
    expect(
      events(text)
        .map((e) => e.choices[0]?.delta.content ?? '')
        .join(''),
    ).toBe('word1 word2 word3 word4');
    expect(events(text).every((e) => e.model === SERVED)).toBe(true);
  });

  it('hands the first token over while the engine is still generating', async () => {
    const { id, res } = await post('/v1/chat/completions', { ...CHAT, stream: true, fake: { tokens: 3, token_delay_ms: 1500 } }, { upstream: 1 });
    const reader = res.body!.getReader();
    expect(decoder.decode((await reader.read()).value)).toContain('"role":"assistant"');
    expect((await upstreamRequests(id))[0]!.finished).toBe(false);
    await reader.cancel();
  });

  it("cancels the engine's request when the caller goes away", async () => {
    const { id, res } = await post('/v1/chat/completions', { ...CHAT, stream: true, fake: { tokens: 50, token_delay_ms: 100 } }, { upstream: 1 });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await eventually(id, (seen) => seen.aborted);
  });

  it("cuts a stream silent for longer than timeout_ms, and cancels the engine's request", async () => {
    const { id, res } = await post(
      '/v1/chat/completions',
      { ...CHAT, model: 'llm-tight', stream: true, fake: { tokens: 3, token_delay_ms: 3000 } },
      { upstream: 1 },
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    await expect(readAll(reader)).rejects.toThrow();
    await eventually(id, (seen) => seen.aborted);
  });

  it('never cuts a stream that outlasts timeout_ms while tokens keep coming', async () => {
    const { res } = await post(
      '/v1/chat/completions',
      { ...CHAT, model: 'llm-tight', stream: true, fake: { tokens: 5, token_delay_ms: 300 } },
      { upstream: 1 },
    );
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(events(text)).toHaveLength(7);
  });

  it('answers 504 when the engine sends no headers within timeout_ms', async () => {
    const { res } = await post('/v1/chat/completions', { ...CHAT, model: 'llm-tight', stream: true, fake: { delay_ms: 3000 } }, { upstream: 1 });
    expect(res.status).toBe(504);
    expect((await errorOf(res)).type).toBe('upstream_timeout');
  });
});

describe('OpenAI request checks', () => {
  it.each([
    ['a body that is not JSON', '{"model":', 400, 'invalid_request'],
    ['a body without model', { messages: [] }, 400, 'invalid_request'],
    ['a model that is not a string', { model: ['llm'], messages: [] }, 400, 'invalid_request'],
    ['chat without messages', { model: 'llm', prompt: 'hi' }, 400, 'invalid_request'],
    ['an unknown alias', { model: 'gpt-4', messages: [] }, 404, 'not_found'],
    ['an alias without an OpenAI engine', { model: 'echo', messages: [] }, 404, 'not_found'],
    ["a body over the alias's max_body_bytes", { model: 'llm-tight', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }, 413, 'payload_too_large'],
  ])('refuses %s, sending nothing upstream', async (_label, body, status, type) => {
    const { id, res } = await post('/v1/chat/completions', body);
    expect(res.status).toBe(status);
    const error = await errorOf(res);
    expect(error.type).toBe(type);
    expect(error.request_id).toBe(id);
    expect(await upstreamRequests(id)).toHaveLength(0);
  });

  it('refuses a non-JSON content type with 415', async () => {
    const res = await call('/v1/embeddings', {
      method: 'POST',
      token: 'alice',
      body: 'model=llm',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
  });

  it('checks the caller: 401 without a token, 403 for a client not granted the alias', async () => {
    const anonymous = await call('/v1/chat/completions', { json: CHAT });
    expect(anonymous.status).toBe(401);
    const forbidden = await post('/v1/chat/completions', CHAT, { token: 'bob' });
    expect(forbidden.res.status).toBe(403);
    expect((await errorOf(forbidden.res)).type).toBe('forbidden');
  });

  it('answers 405 with Allow for GET on a completion route', async () => {
    const res = await call('/v1/chat/completions', { token: 'alice' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('OpenAI engine errors', () => {
  it.each([
    { engine: 400, status: 400, type: 'invalid_request' },
    { engine: 422, status: 400, type: 'invalid_request' },
    { engine: 429, status: 429, type: 'rate_limited' },
    { engine: 401, status: 502, type: 'upstream_error' },
    { engine: 404, status: 502, type: 'upstream_error' },
    { engine: 500, status: 502, type: 'upstream_error' },
    { engine: 504, status: 504, type: 'upstream_timeout' },
  ])("maps the engine's $engine to $status $type, its message carried", async ({ engine, status, type }) => {
    const { id, res } = await post('/v1/chat/completions', { ...CHAT, fake: { status: engine, message: 'temperature must be <= 2' } }, { upstream: 1 });
    expect(res.status).toBe(status);
    const error = await errorOf(res);
    expect(error).toMatchObject({ type, message: `Baseten answered ${engine}: temperature must be <= 2`, request_id: id, upstream_status: engine });
    if (engine === 429) expect(res.headers.get('retry-after')).toBe('1');
    // A client must not send the same bad input again; anything else it may.
    expect(res.headers.get('x-should-retry')).toBe(status === 400 ? 'false' : null);
  });
});
