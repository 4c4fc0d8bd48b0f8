/**
 * WebSockets through the gateway under `wrangler dev` with a real client
 * (`ws`), in front of the fake Baseten's echo model; and the official
 * `openai` client against a Model APIs alias.
 */
import { createHash, randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const TOKEN = 'realtime-token-0123456789abcdef';
const OTHER_TOKEN = 'other-token-0123456789abcdef';
/** A client of its own for the usage test, with a quota of one request a day. */
const METERED_TOKEN = 'metered-token-0123456789abcdef';
const IDLE_MS = 2000;
const SLUG = 'deepseek-ai/DeepSeek-V3.1';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startLocalGateway({
    vars: {
      MODELS: {
        voice: { model_id: 'voc001', environment: 'production', websocket: true },
        echo: { model_id: 'abc123', environment: 'production' },
        deepseek: { model_api: SLUG },
        regional: { model_id: 'reg001', environment: 'staging', regional: true, async: true, sync_routes: ['/health'] },
      },
      CLIENTS: {
        app: { token_sha256: sha256(TOKEN), models: ['*'], admin: true },
        other: { token_sha256: sha256(OTHER_TOKEN), models: ['echo'] },
        metered: { token_sha256: sha256(METERED_TOKEN), models: ['voice'], quota: { requests_per_day: 1 } },
      },
      SETTINGS: { websocket_idle_ms: IDLE_MS },
    },
  });
});
afterAll(async () => {
  await gateway?.stop();
});

interface Opened {
  id: string;
  socket: WebSocket;
}

function wsUrl(alias: string): string {
  return `${gateway.url.replace(/^http/, 'ws')}/v1/models/${alias}/websocket`;
}

/** Opens a socket through the gateway, tagged with a request id; by default the token goes as a header. */
async function open(alias = 'voice', options: { protocols?: string[]; token?: string | null } = {}): Promise<Opened> {
  const id = `ws-${randomUUID()}`;
  const token = options.token === undefined ? TOKEN : options.token;
  const headers: Record<string, string> = { 'x-request-id': id, ...(token && { authorization: `Bearer ${token}` }) };
  const socket = new WebSocket(wsUrl(alias), options.protocols ?? [], { headers });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { id, socket };
}

/** The refusal a handshake got instead of a socket: status and JSON body. */
async function refused(alias: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}) {
  const id = `ws-refused-${randomUUID()}`;
  const socket = new WebSocket(wsUrl(alias), options.protocols ?? [], { headers: { 'x-request-id': id, ...options.headers } });
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    socket.once('open', () => reject(new Error('the handshake was accepted')));
    socket.once('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
  });
  return { id, status, error: JSON.parse(body).error as { type: string; message: string } };
}

function nextMessage(socket: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => socket.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })));
}

function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
}

/** The fake's record of the upstream connection opened for one gateway request id. */
function upstreamOf(id: string) {
  return gateway.fake.requests.find((r) => r.headers['x-request-id'] === id);
}

async function until<T>(read: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not met within 10 s');
}

describe('WebSocket passthrough under wrangler dev', () => {
  it('echoes text and binary frames unchanged, as text and as binary', async () => {
    const { socket } = await open();
    socket.send('hello ✓');
    const text = await nextMessage(socket);
    expect(text).toMatchObject({ isBinary: false });
    expect(text.data.toString('utf8')).toBe('hello ✓');
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    socket.send(bytes);
    const binary = await nextMessage(socket);
    expect(binary.isBinary).toBe(true);
    expect(Buffer.compare(binary.data, bytes)).toBe(0);
    socket.close(1000);
    await closed(socket);
  });

  it('takes the token as subprotocol bearer.<token>, selects gateway, and the fake never sees the token', async () => {
    const { id, socket } = await open('voice', { token: null, protocols: ['gateway', `bearer.${TOKEN}`] });
    expect(socket.protocol).toBe('gateway');
    socket.send('through the subprotocol');
    expect((await nextMessage(socket)).data.toString()).toBe('through the subprotocol');
    socket.close(1000);
    await closed(socket);
    const upstream = upstreamOf(id)!;
    expect(upstream.path).toBe('/model-voc001/environments/production/websocket');
    expect(upstream.headers.authorization).toBe('Api-Key fake-baseten-key');
    expect(JSON.stringify(upstream)).not.toContain(TOKEN);
    expect(upstream.websocket?.protocol).toBeNull();
  });

  it("selects the model's subprotocol when it picks one of the caller's", async () => {
    const { id, socket } = await open('voice', { token: null, protocols: ['gateway', 'echo', `bearer.${TOKEN}`] });
    expect(socket.protocol).toBe('echo');
    socket.close(1000);
    await closed(socket);
    expect(upstreamOf(id)!.headers['sec-websocket-protocol']).toBe('echo');
  });

  it("relays the model's close code and reason to the caller", async () => {
    const { socket } = await open();
    const done = closed(socket);
    socket.send('close:4001:upstream-bye');
    expect(await done).toEqual({ code: 4001, reason: 'upstream-bye' });
  });

  it("relays the caller's close code and reason to the model", async () => {
    const { id, socket } = await open();
    socket.send('ping');
    await nextMessage(socket);
    socket.close(4002, 'client-bye');
    await closed(socket);
    const close = await until(() => upstreamOf(id)?.websocket?.close ?? undefined);
    expect(close).toEqual({ code: 4002, reason: 'client-bye', by: 'client' });
  });

  it("closes the model's side with 1011 when the caller drops without a close frame", async () => {
    const { id, socket } = await open();
    socket.send('ping');
    await nextMessage(socket);
    socket.terminate();
    const close = await until(() => upstreamOf(id)?.websocket?.close ?? undefined);
    expect(close.code).toBe(1011);
  });

  it('refuses with JSON before any upgrade: 401, 403, 404, and nothing reaches the model', async () => {
    const cases = [
      [await refused('voice'), 401, 'unauthorized'],
      [await refused('voice', { protocols: ['gateway', 'bearer.wrong-token-0123456789abcdef'] }), 401, 'unauthorized'],
      [await refused('voice', { headers: { authorization: `Bearer ${OTHER_TOKEN}` } }), 403, 'forbidden'],
      [await refused('nope', { headers: { authorization: `Bearer ${TOKEN}` } }), 404, 'not_found'],
      [await refused('echo', { headers: { authorization: `Bearer ${TOKEN}` } }), 404, 'not_found'],
    ] as const;
    for (const [answer, status, type] of cases) {
      expect(answer.status).toBe(status);
      expect(answer.error.type).toBe(type);
      expect(upstreamOf(answer.id)).toBeUndefined();
    }
  });

  it('closes both sides with 1001 after websocket_idle_ms without a message, and logs the connection once', async () => {
    const { id, socket } = await open();
    socket.send('one message');
    await nextMessage(socket);
    expect((await closed(socket)).code).toBe(1001);
    const upstreamClose = await until(() => upstreamOf(id)?.websocket?.close ?? undefined);
    expect(upstreamClose.code).toBe(1001);
    const line = await until(() =>
      gateway
        .logs()
        .split('\n')
        .find((l) => l.includes('"websocket_closed"') && l.includes(id)),
    );
    expect(JSON.parse(line.slice(line.indexOf('{')))).toMatchObject({
      alias: 'voice',
      caller: 'app',
      close_code: 1001,
      closed_by: 'idle',
      messages_from_client: 1,
      bytes_from_client: 11,
      messages_from_upstream: 1,
      bytes_from_upstream: 11,
    });
  });
});

describe("WebSockets in the caller's usage and quota under wrangler dev", () => {
  it('counts the connection, its messages and bytes when it closes, and refuses the next handshake over quota as JSON', async () => {
    const { id, socket } = await open('voice', { token: METERED_TOKEN });
    socket.send('one ✓'); // 7 bytes of UTF-8, then 4 binary
    await nextMessage(socket);
    socket.send(Buffer.from([7, 8, 9, 10]));
    await nextMessage(socket);
    socket.close(1000);
    await closed(socket);
    expect(upstreamOf(id)).toBeDefined();

    type Counters = Record<string, number>;
    const usage = await until(async () => {
      const res = await fetch(`${gateway.url}/v1/usage?days=1`, { headers: { authorization: `Bearer ${METERED_TOKEN}` } });
      const body = (await res.json()) as { by_alias: Record<string, Counters> };
      return body.by_alias.voice?.websocket_connections === 1 ? body.by_alias.voice : undefined;
    });
    expect(usage).toMatchObject({
      requests: 1,
      errors: 0,
      websocket_connections: 1,
      websocket_messages_from_client: 2,
      websocket_bytes_from_client: 11,
      websocket_messages_from_upstream: 2,
      websocket_bytes_from_upstream: 11,
    });
    expect(usage.websocket_ms).toBeGreaterThan(0);

    const over = await refused('voice', { headers: { authorization: `Bearer ${METERED_TOKEN}` } });
    expect(over.status).toBe(429);
    expect(over.error.type).toBe('quota_exceeded');
    expect(upstreamOf(over.id)).toBeUndefined();
  });
});

describe('openai client against a Model APIs alias', () => {
  const client = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
  const hello = [{ role: 'user' as const, content: 'hello model api' }];

  it('creates a chat completion at the Model APIs endpoint, model set to the slug', async () => {
    const id = `mapi-${randomUUID()}`;
    const completion = await client().chat.completions.create({ model: 'deepseek', messages: hello }, { headers: { 'x-request-id': id } });
    expect(completion.choices[0]!.message.content).toBe('echo: hello model api');
    const upstream = upstreamOf(id)!;
    expect(upstream.path).toBe('/model-api/v1/chat/completions');
    expect(JSON.parse(upstream.body).model).toBe(SLUG);
  });

  it('streams a chat completion', async () => {
    const stream = await client().chat.completions.create({ model: 'deepseek', messages: hello, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: hello model api');
  });
});

describe('a regional alias under wrangler dev', () => {
  const send = async (method: string, path: string, body?: unknown) => {
    const id = `regional-${randomUUID()}`;
    const res = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'x-request-id': id, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.arrayBuffer();
    return { status: res.status, upstream: upstreamOf(id) };
  };

  it('reaches the regional host with bare paths for predict, async, wake and sync', async () => {
    const predict = await send('POST', '/v1/models/regional/predict', { x: 1 });
    expect([predict.status, predict.upstream?.path]).toEqual([200, '/model-reg001-staging/predict']);
    const queued = await send('POST', '/v1/models/regional/async', { model_input: { x: 1 } });
    expect([queued.status, queued.upstream?.path]).toEqual([201, '/model-reg001-staging/async_predict']);
    const wake = await send('POST', '/v1/models/regional/wake');
    expect([wake.status, wake.upstream?.path]).toEqual([202, '/model-reg001-staging/wake']);
    const sync = await send('GET', '/v1/models/regional/sync/health');
    expect([sync.status, sync.upstream?.path]).toEqual([200, '/model-reg001-staging/sync/health']);
  });
});
