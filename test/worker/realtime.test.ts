/**
 * WebSockets, Model APIs and regional environments inside workerd, against
 * the fake Baseten. The WebSocket end to end (a real client, closes, idle
 * timeout) is in test/node/realtime-e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigSource, parseConfig } from '../../src/config.ts';
import { sendableClose, utf8Length } from '../../src/websocket-relay.ts';
import { TEST_API_KEY, TOKENS } from '../config.ts';
import { submit } from './async-helpers.ts';
import { call, errorOf, type FakeRequest, fakeUrl, uniqueId, upstreamRequests } from './helpers.ts';

const SLUG = 'deepseek-ai/DeepSeek-V3.1';

interface WebSocketEntry extends FakeRequest {
  websocket?: { protocol: string | null; received: { type: string; data: string }[] };
}

/** A handshake through the gateway, tagged so its upstream handshake can be found. */
async function open(alias: string, headers: Record<string, string> = {}, token: string | null = 'alice') {
  const id = uniqueId(`ws-${alias}`);
  const res = await call(`/v1/models/${alias}/websocket`, { token: token ?? undefined, headers: { upgrade: 'websocket', 'x-request-id': id, ...headers } });
  return { id, res };
}

/** Sends one text message and waits for its echo. */
async function echoOnce(socket: WebSocket, text: string): Promise<string> {
  const answer = new Promise<string>((resolve) => socket.addEventListener('message', (event) => resolve(String(event.data)), { once: true }));
  socket.send(text);
  return answer;
}

describe('WebSocket route', () => {
  it("upgrades, relays to the target's /websocket signed with the key, and echoes", async () => {
    const { id, res } = await open('voice');
    expect(res.status).toBe(101);
    const socket = res.webSocket!;
    socket.accept();
    expect(await echoOnce(socket, 'hello')).toBe('hello');
    socket.close(1000, 'done');
    const [sent] = await upstreamRequests(id);
    expect(sent).toMatchObject({ method: 'GET', path: '/model-voc001/environments/production/websocket' });
    expect(sent!.headers.authorization).toBe(`Api-Key ${TEST_API_KEY}`);
  });

  it.each([
    ['voice-pinned', '/model-voc001/deployment/v1d2e3/websocket'],
    ['voice-draft', '/model-voc002/development/websocket'],
    ['voice-regional', '/model-voc001-eu-west/websocket'],
    ['voice-chain', '/chain-vch001/environments/production/websocket'],
  ])('opens %s at %s', async (alias, path) => {
    const { id, res } = await open(alias);
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000);
    expect((await upstreamRequests(id))[0]!.path).toBe(path);
  });

  it('takes the token as a subprotocol, selects gateway, and sends neither token nor gateway upstream', async () => {
    const { id, res } = await open('voice', { 'sec-websocket-protocol': `gateway, bearer.${TOKENS.alice}` }, null);
    expect(res.status).toBe(101);
    expect(res.headers.get('sec-websocket-protocol')).toBe('gateway');
    res.webSocket!.accept();
    res.webSocket!.close(1000);
    const [sent] = (await upstreamRequests(id)) as WebSocketEntry[];
    expect(sent!.headers['sec-websocket-protocol']).toBeUndefined();
    expect(JSON.stringify(sent!.headers)).not.toContain(TOKENS.alice);
  });

  it("passes other subprotocols upstream and selects upstream's choice", async () => {
    const { id, res } = await open('voice', { 'sec-websocket-protocol': `bearer.${TOKENS.alice}, gateway, echo` }, null);
    expect(res.headers.get('sec-websocket-protocol')).toBe('echo');
    res.webSocket!.accept();
    res.webSocket!.close(1000);
    expect((await upstreamRequests(id))[0]!.headers['sec-websocket-protocol']).toBe('echo');
  });

  it('refuses before any upgrade: 401, 403, 404, a wrong subprotocol token, a plain GET', async () => {
    const cases: [Awaited<ReturnType<typeof open>>, number, string][] = [
      [await open('voice', {}, null), 401, 'unauthorized'],
      [await open('voice', { 'sec-websocket-protocol': 'gateway, bearer.not-a-real-token-0123456789' }, null), 401, 'unauthorized'],
      [await open('voice', {}, 'bob'), 403, 'forbidden'],
      [await open('no-such-alias'), 404, 'not_found'],
      [await open('echo'), 404, 'not_found'],
    ];
    for (const [{ id, res }, status, type] of cases) {
      expect(res.status).toBe(status);
      expect(res.webSocket).toBeNull();
      expect((await errorOf(res)).type).toBe(type);
      expect(await upstreamRequests(id)).toEqual([]);
    }
    const plain = await call('/v1/models/voice/websocket', { token: 'alice' });
    expect(plain.status).toBe(400);
    expect((await errorOf(plain)).message).toContain('Upgrade: websocket');
  });

  it("answers Baseten's refusal of the handshake as JSON, without a socket", async () => {
    const rule = await fetch(`${fakeUrl()}/__fake/steer`, {
      method: 'POST',
      body: JSON.stringify({ target: 'model-voc002/development', times: 1, fake: { status: 503, message: 'model voc002 is not ready' } }),
    });
    expect(rule.ok).toBe(true);
    const { id, res } = await open('voice-draft');
    expect(res.status).toBe(502);
    expect(await upstreamRequests(id)).toHaveLength(1);
    expect(res.webSocket).toBeNull();
    const error = await errorOf(res);
    expect(error.message).toContain('Baseten answered 503');
    expect(error.message).not.toContain('voc002');
  });
});

describe('Model API targets', () => {
  const hello = [{ role: 'user', content: 'hello model api' }];

  it('sends the OpenAI routes to the Model APIs endpoint with the slug as model and the key as Bearer', async () => {
    const id = uniqueId('mapi');
    const res = await call('/v1/chat/completions', { token: 'alice', json: { model: 'deepseek', messages: hello }, headers: { 'x-request-id': id } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('echo: hello model api');
    const [sent] = await upstreamRequests(id);
    expect(sent).toMatchObject({ method: 'POST', path: '/model-api/v1/chat/completions' });
    expect(JSON.parse(sent!.body).model).toBe(SLUG);
    expect(sent!.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
  });

  it('streams as server-sent events, and serves completions and embeddings', async () => {
    const stream = await call('/v1/chat/completions', { token: 'alice', json: { model: 'deepseek', messages: hello, stream: true }, upstream: 1 });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await stream.text()).toContain('data: [DONE]');
    expect((await call('/v1/completions', { token: 'alice', json: { model: 'deepseek', prompt: 'hi' }, upstream: 1 })).status).toBe(200);
    expect((await call('/v1/embeddings', { token: 'alice', json: { model: 'deepseek', input: 'hi' }, upstream: 1 })).status).toBe(200);
  });

  it('refuses every other route without calling Baseten', async () => {
    for (const [path, options] of [
      ['/v1/models/deepseek/predict', { json: {} }],
      ['/v1/models/deepseek/batch', { json: { rows: [{}] } }],
      ['/v1/models/deepseek/websocket', { headers: { upgrade: 'websocket' } }],
    ] as const) {
      const id = uniqueId('mapi-refused');
      const res = await call(path, { token: 'alice', ...options, headers: { ...('headers' in options ? options.headers : {}), 'x-request-id': id } });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).message).toContain('only /v1/chat/completions');
      expect(await upstreamRequests(id)).toEqual([]);
    }
  });

  it.each([
    ['llm-to-api', 'model-rfa001', ['/model-rfa001/environments/production/sync/v1/chat/completions', '/model-api/v1/chat/completions'], ['org/rt-llm', SLUG]],
    ['api-to-llm', 'model-api', ['/model-api/v1/chat/completions', '/model-rfa002/environments/production/sync/v1/chat/completions'], [SLUG, 'org/rt-llm']],
  ])('%s fails over between a deployment and a Model API, each called by its own model name', async (alias, failing, paths, names) => {
    const id = uniqueId('mapi-failover');
    const res = await call('/v1/chat/completions', {
      token: 'alice',
      json: { model: alias, messages: hello, fake: { targets: { [failing]: { status: 503 } } } },
      headers: { 'x-request-id': id },
    });
    expect(res.status).toBe(200);
    const sent = await upstreamRequests(id);
    expect(sent.map((r) => r.path)).toEqual(paths);
    expect(sent.map((r) => JSON.parse(r.body).model)).toEqual(names);
  });

  it('lists each alias with the modes it takes', async () => {
    const list = (await (await call('/v1/models', { token: 'alice' })).json()) as { data: { id: string; modes: string[] }[] };
    const modes = Object.fromEntries(list.data.map((model) => [model.id, model.modes]));
    expect(modes.deepseek).toEqual(['chat']);
    expect(modes.voice).toEqual(['predict', 'batch', 'websocket']);
    expect(modes.llm).toEqual(['predict', 'batch', 'chat']);
    expect(modes.asyncmodel).toEqual(['predict', 'batch', 'async']);
    expect(((await (await call('/v1/models/voice', { token: 'alice' })).json()) as { modes: string[] }).modes).toContain('websocket');
  });
});

describe('regional targets', () => {
  async function pathOf(path: string, options: Parameters<typeof call>[1]) {
    const id = uniqueId('regional');
    const res = await call(path, { token: 'alice', ...options, headers: { 'x-request-id': id } });
    expect(res.status).toBeLessThan(300);
    const sent = await upstreamRequests(id);
    return { res, paths: sent.map((r) => `${r.method} ${r.path}`) };
  }

  it('reaches the regional host with bare paths for predict, sync, queue and wake', async () => {
    expect((await pathOf('/v1/models/regional/predict', { json: { x: 1 } })).paths).toEqual(['POST /model-reg001-staging/predict']);
    expect((await pathOf('/v1/models/regional-chain/predict', { json: { x: 1 } })).paths).toEqual(['POST /chain-rch001-staging/run_remote']);
    expect((await pathOf('/v1/models/regional/sync/health', {})).paths).toEqual(['GET /model-reg001-staging/sync/health']);
    expect((await pathOf('/v1/models/regional/async/queue', {})).paths).toEqual(['GET /model-reg001-staging/async_queue_status']);
    expect((await pathOf('/v1/models/regional/wake', { method: 'POST', token: 'admin' })).paths).toEqual(['POST /model-reg001-staging/wake']);
  });

  it("submits async on the regional host and reads its status on the model's own host", async () => {
    const { gatewayId, accepted } = await submit('regional');
    expect((await upstreamRequests(gatewayId)).map((r) => r.path)).toEqual(['/model-reg001-staging/async_predict']);
    const id = uniqueId('regional-status');
    const status = await call(`/v1/async/${accepted.request_id}`, { token: 'alice', headers: { 'x-request-id': id } });
    expect(status.status).toBe(200);
    expect((await upstreamRequests(id)).map((r) => r.path)).toEqual([`/model-reg001/async_request/${accepted.request_id}`]);
  });
});

describe('config of the new targets', () => {
  const base: ConfigSource = { ASYNC_REQUESTS: {}, BASETEN_API_KEY: 'abcd1234.secretsecret' };
  const problem = (source: ConfigSource): string => {
    try {
      parseConfig({ ...base, ...source });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('config was accepted');
  };
  const models = (entry: Record<string, unknown>): ConfigSource => ({ MODELS: { m: entry } });

  it('reads Model API, regional and WebSocket entries', () => {
    const config = parseConfig({
      ...base,
      MODELS: { a: { model_api: SLUG }, r: { model_id: 'abc', environment: 'eu-west', regional: true, websocket: true } },
    });
    expect(config.models.get('a')).toMatchObject({ target: { kind: 'model_api', slug: SLUG }, openai: { servedModelName: SLUG }, websocket: false });
    expect(config.models.get('r')).toMatchObject({ target: { kind: 'model', id: 'abc', regional: true }, websocket: true });
    expect(config.modelApiUrl).toBe('https://inference.baseten.co/v1');
    expect(config.settings.websocketIdleMs).toBe(300_000);
  });

  it('names the field and the fix for each bad entry', () => {
    expect(problem(models({ model_api: SLUG, model_id: 'abc', environment: 'p' }))).toContain('exactly one of model_id, chain_id, model_api');
    expect(problem(models({ model_api: SLUG, environment: 'production' }))).toContain('MODELS.m.environment: a Model API has no deployments');
    expect(problem(models({ model_api: 'not a slug' }))).toContain('MODELS.m.model_api');
    for (const key of ['wake', 'async', 'websocket'])
      expect(problem(models({ model_api: SLUG, [key]: true }))).toContain(`MODELS.m.${key}: a Model API takes only the OpenAI routes`);
    expect(problem(models({ model_id: 'abc', deployment_id: 'd1', regional: true }))).toContain('MODELS.m.regional');
    expect(problem(models({ model_id: 'abc', environment: 'eu_west', regional: true }))).toContain('MODELS.m.environment');
    expect(problem(models({ model_id: 'a'.repeat(60), environment: 'production', regional: true }))).toContain('host label');
    expect(problem(models({ model_id: 'abc', environment: 'p', websocket: 'yes' }))).toContain('MODELS.m.websocket');
    expect(problem({ ...models({ model_id: 'abc', environment: 'p' }), SETTINGS: { websocket_idle_ms: 0 } })).toContain('SETTINGS.websocket_idle_ms');
  });

  it('sends the key to Model APIs only over https on baseten.co, or http on loopback', () => {
    const ok = { MODELS: { a: { model_api: SLUG } } };
    expect(parseConfig({ ...base, ...ok, BASETEN_MODEL_API_URL: 'http://127.0.0.1:9/model-api/v1/' }).modelApiUrl).toBe('http://127.0.0.1:9/model-api/v1');
    for (const url of [
      'https://evil.com/v1',
      'http://inference.baseten.co/v1',
      'https://inference.baseten.co.evil.com/v1',
      'https://user@inference.baseten.co/v1',
      'https://inference.baseten.co/v1?x=1',
    ]) {
      expect(problem({ ...ok, BASETEN_MODEL_API_URL: url })).toContain('BASETEN_MODEL_API_URL');
    }
  });
});

describe('WebSocket relay pieces', () => {
  it('passes on close codes a peer may send, and replaces the ones it may not', () => {
    expect(sendableClose(1000, 'bye')).toEqual({ code: 1000, reason: 'bye' });
    expect(sendableClose(4001, 'custom')).toEqual({ code: 4001, reason: 'custom' });
    expect(sendableClose(1005, '')).toEqual({});
    for (const code of [1004, 1006, 1015, 2000, 5000]) expect(sendableClose(code, 'x').code).toBe(1011);
  });

  it('counts UTF-8 bytes as the wire does', () => {
    for (const text of ['', 'ascii', 'héllo', '€uro', '😀 emoji', '\ud800 lone']) expect(utf8Length(text)).toBe(new TextEncoder().encode(text).byteLength);
  });
});
