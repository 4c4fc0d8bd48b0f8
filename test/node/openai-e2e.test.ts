/**
 * The official `openai` npm client pointed at the gateway under `wrangler dev`,
 * in front of the fake Baseten's OpenAI-compatible engine: a drop-in base URL.
 */
import { createHash, randomUUID } from 'node:crypto';
import OpenAI, { AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const SERVED = 'Qwen/Qwen2.5-3B-Instruct';
const APP_TOKEN = 'app-token-0123456789abcdef';
const ECHO_ONLY_TOKEN = 'echo-only-token-0123456789';
const KEEP_ALIVE_MS = 200;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  gateway = await startLocalGateway({
    vars: {
      MODELS: {
        llm: { model_id: 'llm001', environment: 'production', openai: { served_model_name: SERVED } },
        echo: { model_id: 'abc123', environment: 'production' },
      },
      CLIENTS: {
        app: { token_sha256: sha256(APP_TOKEN), models: ['llm', 'echo'] },
        'echo-only': { token_sha256: sha256(ECHO_ONLY_TOKEN), models: ['echo'] },
      },
      SETTINGS: { sse_keepalive_ms: KEEP_ALIVE_MS },
    },
    servedNames: { llm001: SERVED },
  });
  // No retries: a test expecting a typed error must see the first answer.
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: APP_TOKEN, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
});

/** Request options that tag a call, so its upstream request can be found in the fake's log. */
function tagged() {
  const id = `e2e-${randomUUID()}`;
  return { id, options: { headers: { 'x-request-id': id } } };
}

function upstreamOf(id: string) {
  return gateway.fake.requests.find((r) => r.headers['x-request-id'] === id);
}

async function until(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  return check();
}

const hello = [{ role: 'user' as const, content: 'hello gateway' }];

describe('openai client against the gateway', () => {
  it('creates a chat completion', async () => {
    const { id, options } = tagged();
    const completion = await client.chat.completions.create({ model: 'llm', messages: hello }, options);
    expect(completion.choices[0]!.message.content).toBe('echo: hello gateway');
    expect(completion.model).toBe(SERVED);
    expect(JSON.parse(upstreamOf(id)!.body).model).toBe(SERVED);
  });

  it('streams a chat completion: the first token arrives while the engine is still generating, all tokens assembled', async () => {
    const { id, options } = tagged();
    const params: ChatCompletionCreateParamsStreaming & { fake: object } = {
      model: 'llm',
      messages: hello,
      stream: true,
      fake: { tokens: 6, token_delay_ms: 300 },
    };
    const stream = await client.chat.completions.create(params, options);
    let text = '';
    let finishedAtFirstToken: boolean | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.content ?? '';
      if (delta && finishedAtFirstToken === undefined) finishedAtFirstToken = upstreamOf(id)!.finished;
      text += delta;
    }
    expect(finishedAtFirstToken).toBe(false);
    expect(text).toBe('word1 word2 word3 word4 word5 word6');
    expect(upstreamOf(id)!.finished).toBe(true);
  });

  it('creates a text completion', async () => {
    const completion = await client.completions.create({ model: 'llm', prompt: 'once upon' });
    expect(completion.choices[0]!.text).toBe('echo: once upon');
  });

  it('creates embeddings (the client asks for base64 and decodes it)', async () => {
    const { id, options } = tagged();
    const result = await client.embeddings.create({ model: 'llm', input: ['a', 'b'] }, options);
    expect(result.data).toHaveLength(2);
    expect(result.data[0]!.embedding).toHaveLength(8);
    expect(result.data[0]!.embedding).not.toEqual(result.data[1]!.embedding);
    expect(JSON.parse(upstreamOf(id)!.body)).toMatchObject({ model: SERVED, encoding_format: 'base64' });
  });

  it("lists and retrieves the caller's models", async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids.sort()).toEqual(['echo', 'llm']);
    expect((await client.models.retrieve('llm')).id).toBe('llm');
  });

  it('raises NotFoundError for an unknown model and for an alias without an OpenAI engine', async () => {
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: hello })).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.chat.completions.create({ model: 'echo', messages: hello })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('raises AuthenticationError for a bad token and PermissionDeniedError for an alias not granted', async () => {
    const stranger = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'not-a-real-token-0123456789', maxRetries: 0 });
    await expect(stranger.chat.completions.create({ model: 'llm', messages: hello })).rejects.toBeInstanceOf(AuthenticationError);
    const limited = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: ECHO_ONLY_TOKEN, maxRetries: 0 });
    await expect(limited.chat.completions.create({ model: 'llm', messages: hello })).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it("raises BadRequestError with the engine's message, and RateLimitError for the engine's 429", async () => {
    const bad: ChatCompletionCreateParamsNonStreaming & { fake: object } = {
      model: 'llm',
      messages: hello,
      fake: { status: 400, message: 'temperature must be at most 2' },
    };
    const error = await client.chat.completions.create(bad).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toContain('temperature must be at most 2');
    expect((error as BadRequestError).type).toBe('invalid_request');
    expect((error as BadRequestError).requestID).toBeTruthy();
    const limited = { ...bad, fake: { status: 429 } };
    await expect(client.chat.completions.create(limited)).rejects.toBeInstanceOf(RateLimitError);
  });
});

describe('event streams under wrangler dev', () => {
  it('sends keep-alive comments while the engine is silent, only between events', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP_TOKEN}`, 'content-type': 'application/json' },
      // Silent before the first event, then silent again in the middle of the second one.
      body: JSON.stringify({ model: 'llm', messages: hello, stream: true, fake: { tokens: 2, first_delay_ms: 1000, mid_event_pause_ms: 1000 } }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const text = await res.text();
    const blocks = text.split('\n\n').filter(Boolean);
    // Every block is whole: a keep-alive never lands inside an event.
    for (const block of blocks) expect(block === ': keep-alive' || block === 'data: [DONE]' || JSON.parse(block.slice(6))).toBeTruthy();
    expect(blocks.indexOf(': keep-alive')).toBe(0);
    expect(blocks.filter((b) => b !== ': keep-alive')).toHaveLength(5);
  });

  it('the openai client ignores keep-alive comments', async () => {
    const params: ChatCompletionCreateParamsStreaming & { fake: object } = {
      model: 'llm',
      messages: hello,
      stream: true,
      fake: { tokens: 3, first_delay_ms: 3 * KEEP_ALIVE_MS },
    };
    let text = '';
    for await (const chunk of await client.chat.completions.create(params)) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('word1 word2 word3');
  });

  it("cancels the engine's request when the client aborts the stream", async () => {
    const { id, options } = tagged();
    const params: ChatCompletionCreateParamsStreaming & { fake: object } = {
      model: 'llm',
      messages: hello,
      stream: true,
      fake: { tokens: 100, token_delay_ms: 100 },
    };
    const stream = await client.chat.completions.create(params, options);
    let seen = 0;
    for await (const _chunk of stream) {
      if (++seen === 3) stream.controller.abort();
    }
    expect(await until(() => upstreamOf(id)?.aborted === true)).toBe(true);
  });
});
