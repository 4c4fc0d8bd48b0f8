/**
 * Baseten's own clients pointed at the gateway under `wrangler dev`, with only
 * the base URL and the key changed: the Performance Client from npm (its real
 * native build), Baseten's request shapes from its docs, its Python SDK and
 * `truss` replayed as recorded, and the official `openai` client's retries.
 *
 * The Performance Client speaks HTTP/2 with prior knowledge only, which
 * `wrangler dev` does not: a small h2c-to-HTTP/1.1 proxy sits in front of it
 * here (a deployed Worker answers HTTP/2 over TLS itself).
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

type PerformanceClientClass = typeof import('@basetenlabs/performance-client').PerformanceClient;
const { PerformanceClient } = createRequire(import.meta.url)('@basetenlabs/performance-client') as { PerformanceClient: PerformanceClientClass };

const TOKEN = 'team-token-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** Each Performance Client call gives up after this, so a broken call fails the test instead of hanging it. */
const CLIENT_TIMEOUT_S = 30;

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;
let proxy: H2cProxy;

beforeAll(async () => {
  gateway = await startLocalGateway({
    vars: {
      MODELS: {
        // A BEI engine as a "bei" alias, and the same kind of engine as a plain model alias listing its routes.
        embed: { model_id: 'bei001', environment: 'production', bei: true },
        ranker: { model_id: 'bei002', environment: 'production', sync_routes: ['/v1/embeddings', '/rerank', '/predict', '/classify'] },
        echo: { model_id: 'abc123', environment: 'production', async: true },
        pinned: { model_id: 'abc123', deployment_id: 'q4w8e' },
        draft: { model_id: 'dev456', development: true },
        pipeline: { chain_id: 'xyz789', environment: 'production' },
        custom: { model_id: 'srv001', environment: 'production', sync_routes: ['/health', '/items/*'] },
      },
      CLIENTS: {
        team: { token_sha256: sha256(TOKEN), models: ['*'] },
        ops: { token_sha256: sha256(ADMIN_TOKEN), models: ['*'], admin: true },
      },
    },
  });
  proxy = await startH2cProxy(gateway.url);
});
afterAll(async () => {
  await proxy?.close();
  await gateway?.stop();
});

function upstreamPaths(): string[] {
  return gateway.fake.requests.map((r) => r.path);
}

describe('the Performance Client (npm), base URL and key changed only', () => {
  // Baseten's base URLs were https://model-bei001.api.baseten.co/environments/production/sync and the like.
  const bases = [
    ['a "bei" alias', () => `${proxy.url}/v1/models/embed/sync`, '/model-bei001/environments/production/sync'],
    [
      "a model alias, in Baseten's own path shape",
      () => `${proxy.url}/v1/models/ranker/environments/production/sync`,
      '/model-bei002/environments/production/sync',
    ],
  ] as const;

  describe.each(bases)('against %s', (_name, base, upstream) => {
    it("embeds, in batches, with each input's vector in order", async () => {
      const client = new PerformanceClient(base(), TOKEN);
      const before = gateway.fake.requests.length;
      const result = await client.embed(['one', 'two', 'three'], 'my-model', null, null, null, null, 2, CLIENT_TIMEOUT_S);
      expect(result.data.map((d: { index: number }) => d.index)).toEqual([0, 1, 2]);
      for (const item of result.data) expect(item.embedding.length).toBeGreaterThan(0);
      expect(result.data[0].embedding).not.toEqual(result.data[1].embedding);
      expect(upstreamPaths().slice(before)).toEqual([`${upstream}/v1/embeddings`, `${upstream}/v1/embeddings`]);
    });

    it('reranks', async () => {
      const client = new PerformanceClient(base(), TOKEN);
      const result = await client.rerank('which is fruit?', ['apple', 'car', 'pear'], false, true, false, 'Right', null, null, CLIENT_TIMEOUT_S);
      expect(result.data.map((d: { index: number }) => d.index).sort()).toEqual([0, 1, 2]);
      for (const item of result.data) {
        expect(typeof item.score).toBe('number');
        expect(item.text).toBe(['apple', 'car', 'pear'][item.index]);
      }
    });

    it('classifies, one list of labels per input', async () => {
      const client = new PerformanceClient(base(), TOKEN);
      const result = await client.classify(['good', 'bad'], false, false, 'Right', null, null, CLIENT_TIMEOUT_S);
      expect(result.data).toHaveLength(2);
      for (const labels of result.data) expect(labels.map((l: { label: string }) => l.label).sort()).toEqual(['LABEL_0', 'LABEL_1']);
    });

    it('posts a batch of payloads, one request each', async () => {
      const client = new PerformanceClient(base(), TOKEN);
      const payload = { model: 'my-model', input: ['batch'] };
      const result = await client.batchPost('/v1/embeddings', [payload, payload, payload], null, CLIENT_TIMEOUT_S);
      expect(result.data).toHaveLength(3);
      for (const answer of result.data) expect(answer.data[0].embedding.length).toBeGreaterThan(0);
    });
  });

  it('sends its usual headers (Bearer), which the gateway takes as they are', () => {
    const seen = proxy.seen.filter((r) => r.path.startsWith('/v1/models/embed/'));
    expect(seen.length).toBeGreaterThan(0);
    for (const request of seen) {
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request.headers['user-agent']).toMatch(/^baseten-performance-client\//);
    }
  });

  it('fails at once on a bad key: a 401 is not retried', async () => {
    const client = new PerformanceClient(bases[0][1](), 'not-a-client-token-0123456789');
    const before = proxy.seen.length;
    const error = await client.embed(['x'], 'm', null, null, null, null, null, CLIENT_TIMEOUT_S).catch((err: unknown) => err);
    expect(String(error)).toContain('401');
    expect(proxy.seen.length - before).toBe(1);
  });
});

/**
 * Requests as Baseten's docs' `requests` snippets, its Python SDK (with
 * `base_url_override`) and `truss predict` send them, recorded as
 * method, path under the model's base, headers and body. Only the host
 * (`https://model-<id>.api.baseten.co` → `<gateway>/v1/models/<alias>`) and the
 * key changed.
 */
const PYTHON_HEADERS = {
  'user-agent': 'python-requests/2.32.3',
  'accept-encoding': 'gzip, deflate, br',
  accept: '*/*',
  'content-type': 'application/json',
  authorization: `Api-Key ${TOKEN}`,
};

interface Recorded {
  name: string;
  alias: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  status: number;
  /** Where the gateway should have sent it. */
  upstream?: string;
}

const RECORDED: Recorded[] = [
  {
    name: 'docs: production predict',
    alias: 'echo',
    method: 'POST',
    path: '/production/predict',
    body: { prompt: 'hi' },
    status: 200,
    upstream: '/model-abc123/environments/production/predict',
  },
  {
    name: 'SDK: environment predict',
    alias: 'echo',
    method: 'POST',
    path: '/environments/production/predict',
    body: { prompt: 'hi' },
    status: 200,
    upstream: '/model-abc123/environments/production/predict',
  },
  {
    name: 'truss predict: a pinned deployment',
    alias: 'pinned',
    method: 'POST',
    path: '/deployment/q4w8e/predict',
    body: { prompt: 'hi' },
    status: 200,
    upstream: '/model-abc123/deployment/q4w8e/predict',
  },
  {
    name: 'truss predict: the development deployment',
    alias: 'draft',
    method: 'POST',
    path: '/development/predict',
    body: { prompt: 'hi' },
    status: 200,
    upstream: '/model-dev456/development/predict',
  },
  {
    name: 'SDK: regional predict',
    alias: 'echo',
    method: 'POST',
    path: '/predict',
    body: { prompt: 'hi' },
    status: 200,
    upstream: '/model-abc123/environments/production/predict',
  },
  {
    name: 'docs: chain run_remote',
    alias: 'pipeline',
    method: 'POST',
    path: '/production/run_remote',
    body: { text: 'hi' },
    status: 200,
    upstream: '/chain-xyz789/environments/production/run_remote',
  },
  {
    name: 'docs: custom server route',
    alias: 'custom',
    method: 'GET',
    path: '/environments/production/sync/health',
    status: 200,
    upstream: '/model-srv001/environments/production/sync/health',
  },
  {
    name: 'SDK: queue status',
    alias: 'echo',
    method: 'GET',
    path: '/production/async_queue_status',
    status: 200,
    upstream: '/model-abc123/environments/production/async_queue_status',
  },
  {
    name: 'SDK: wake (an admin key)',
    alias: 'echo',
    method: 'POST',
    path: '/production/wake',
    headers: { authorization: `Api-Key ${ADMIN_TOKEN}` },
    status: 202,
    upstream: '/model-abc123/environments/production/wake',
  },
];

describe("Baseten's recorded requests, replayed against the gateway", () => {
  it.each(RECORDED)('$name: $method $path', async ({ alias, method, path, headers, body, status, upstream }) => {
    const id = `replay-${randomUUID()}`;
    const res = await fetch(`${gateway.url}/v1/models/${alias}${path}`, {
      method,
      headers: { ...PYTHON_HEADERS, ...headers, 'x-request-id': id },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.status).toBe(status);
    await res.arrayBuffer();
    const sent = gateway.fake.requests.filter((r) => r.headers['x-request-id'] === id);
    expect(sent.map((r) => r.path)).toEqual([upstream]);
  });

  it("SDK: async predict, status, cancel, in Baseten's field names", async () => {
    const submit = await fetch(`${gateway.url}/v1/models/echo/environments/production/async_predict`, {
      method: 'POST',
      headers: PYTHON_HEADERS,
      body: JSON.stringify({ model_input: { prompt: 'hi', fake: { queue_ms: 600_000 } }, priority: 1, max_time_in_queue_seconds: 600 }),
    });
    expect(submit.status).toBe(201);
    const { request_id: requestId, ...rest } = (await submit.json()) as { request_id: string };
    expect(rest).toEqual({});
    const status = await fetch(`${gateway.url}/v1/models/echo/async_request/${requestId}`, { headers: PYTHON_HEADERS });
    expect(await status.json()).toMatchObject({
      request_id: requestId,
      model_id: 'echo',
      deployment_id: 'echo',
      status: 'QUEUED',
      webhook_status: 'PENDING',
      errors: [],
    });
    const cancel = await fetch(`${gateway.url}/v1/models/echo/async_request/${requestId}`, { method: 'DELETE', headers: PYTHON_HEADERS });
    expect(await cancel.json()).toMatchObject({ request_id: requestId, canceled: true });
  });

  it('Api-Key and Bearer fail a bad token the same way', async () => {
    const answers = await Promise.all(
      ['Api-Key', 'Bearer'].map(async (scheme) => {
        const res = await fetch(`${gateway.url}/v1/models/echo/production/predict`, {
          method: 'POST',
          headers: { ...PYTHON_HEADERS, authorization: `${scheme} not-a-client-token-0123456789` },
          body: '{}',
        });
        const { error } = (await res.json()) as { error: { type: string; message: string } };
        return [res.status, error.type, error.message];
      }),
    );
    expect(answers[0]).toEqual([401, 'unauthorized', expect.stringContaining('unknown token')]);
    expect(answers[1]).toEqual(answers[0]);
  });
});

/** One raw HTTP/1.1 exchange, so the framing (Content-Length or chunked) is seen as sent. */
function rawRequest(url: string, init: { method: string; headers: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(url, { method: init.method, headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('framing under wrangler dev, for a caller that accepts gzip and br', () => {
  const asked = { 'accept-encoding': 'gzip, deflate, br', authorization: `Api-Key ${TOKEN}`, 'content-type': 'application/json' };

  it.each([
    ["a model's JSON answer", 'POST', '/v1/models/echo/production/predict', JSON.stringify({ prompt: 'x'.repeat(4000) })],
    ["the gateway's own JSON", 'GET', '/v1/models', undefined],
    ['an error', 'POST', '/v1/models/nope/predict', '{}'],
  ])('%s keeps its Content-Length, uncompressed (truss predict reads a chunked answer as a stream)', async (_name, method, path, body) => {
    const res = await rawRequest(`${gateway.url}${path}`, { method, headers: asked, body });
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(res.headers['content-encoding']).toBe('identity');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(() => JSON.parse(res.body.toString())).not.toThrow();
  });

  it('a stream stays chunked', async () => {
    const res = await rawRequest(`${gateway.url}/v1/models/echo/predict`, {
      method: 'POST',
      headers: asked,
      body: JSON.stringify({ fake: { stream: { chunks: 3, chunk_bytes: 8, delay_ms: 20 } } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
  });
});

describe("the official openai client's retries", () => {
  it("does not retry a model's 400 with its default two retries: one upstream call", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: TOKEN, maxRetries: 2 });
    const id = `no-retry-${randomUUID()}`;
    const error = await client
      .post('/models/echo/predict', { body: { fake: { status: 400, message: 'bad input' } }, headers: { 'x-request-id': id } })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const sent = gateway.fake.requests.filter((r) => r.headers['x-request-id'] === id);
    expect(sent).toHaveLength(1);
  });
});

interface H2cProxy {
  url: string;
  seen: { method: string; path: string; headers: Record<string, string> }[];
  close(): Promise<void>;
}

/** Headers HTTP/2 forbids or the hop re-creates. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'content-length', 'content-encoding', 'host']);

/** Cleartext HTTP/2 (prior knowledge) in, HTTP/1.1 to `target` out, answers buffered: enough for whole JSON answers. */
async function startH2cProxy(target: string): Promise<H2cProxy> {
  const seen: H2cProxy['seen'] = [];
  const server = http2.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(req.headers)
        .filter(([name]) => !name.startsWith(':') && !HOP_HEADERS.has(name))
        .map(([name, value]) => [name, String(value)]),
    );
    seen.push({ method: req.method, path: req.url, headers });
    try {
      const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
      const body = Buffer.from(await upstream.arrayBuffer());
      const answerHeaders: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (!HOP_HEADERS.has(name)) answerHeaders[name] = value;
      });
      res.writeHead(upstream.status, answerHeaders);
      res.end(body);
    } catch (err) {
      res.writeHead(502);
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
