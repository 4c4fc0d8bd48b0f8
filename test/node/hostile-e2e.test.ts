/**
 * Hostile input that workerd's fetch cannot build, sent over a raw TCP socket
 * to the gateway under `wrangler dev`: lying Content-Length, conflicting
 * framing, raw CR/LF and NUL in headers, oversized headers, made-up methods,
 * smuggled and pipelined requests. Then a sweep over every route and failure
 * mode; every answer here and every log line is scanned for the secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, type ScannedGateway, secretScanner, startScannedGateway, WEBHOOK_SECRET } from './scanned-gateway.ts';

let gateway: ScannedGateway;
beforeAll(async () => {
  gateway = await startScannedGateway({ servedNames: { llm001: 'Qwen/Qwen2.5-3B-Instruct' } });
});
afterAll(async () => {
  await gateway?.stop();
});

const DEV_TOKEN = 'dev-token-change-me';

/** A raw HTTP/1.1 request; the server closes after answering unless the case says otherwise. */
function request(head: string, headers: string[] = [], body = '', close = true): string {
  const lines = [head, 'Host: 127.0.0.1', ...headers, ...(close ? ['Connection: close'] : [])];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const statusOf = (reply: string) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 0);
const allStatuses = (reply: string) => [...reply.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
const sentUpstream = (id: string) => gateway.fake.requests.filter((r) => r.headers['x-request-id'] === id);
const predictHead = 'POST /v1/models/echo/predict HTTP/1.1';
const json = 'Content-Type: application/json';

interface RawCase {
  name: string;
  bytes: string;
  /** How long to wait for more once the gateway goes quiet. */
  quietMs?: number;
  check: (reply: string) => void;
  /** The x-request-id the case sends, and how often Baseten may see it. */
  upstream?: { id: string; count: number; bodyBytes?: number };
}

const RAW: RawCase[] = [
  {
    name: 'a Content-Length larger than the body: the gateway waits for the rest and sends nothing upstream',
    bytes: request(predictHead, [json, 'Content-Length: 100', 'x-request-id: raw-cl-long'], '{"a":1}'),
    quietMs: 700,
    check: (reply) => expect(reply).toBe(''),
    upstream: { id: 'raw-cl-long', count: 0 },
  },
  {
    name: 'a Content-Length smaller than the body: only the declared bytes go upstream, the rest is refused as a request',
    bytes: request(predictHead, [json, 'Content-Length: 2', 'x-request-id: raw-cl-short'], '{}GARBAGE / HTTP/1.1\r\n\r\n', false),
    check: (reply) => {
      expect(allStatuses(reply)[0]).toBe(200);
      expect(
        allStatuses(reply)
          .slice(1)
          .every((s) => s >= 400),
      ).toBe(true);
    },
    upstream: { id: 'raw-cl-short', count: 1, bodyBytes: 2 },
  },
  {
    name: 'a request smuggled behind a short Content-Length is checked like any other (401 on a private alias)',
    bytes: request(
      predictHead,
      [json, 'Content-Length: 2'],
      `{}${request('POST /v1/models/echo-staging/predict HTTP/1.1', [json, 'Content-Length: 2', 'x-request-id: raw-smuggled'], '{}')}`,
      false,
    ),
    check: (reply) => {
      expect(allStatuses(reply)).toEqual([200, 401]);
      expect(reply).toContain('"type":"unauthorized"');
    },
    upstream: { id: 'raw-smuggled', count: 0 },
  },
  {
    name: 'both Content-Length and chunked: chunked wins and the connection is closed after',
    bytes: request(predictHead, [json, 'Content-Length: 40', 'Transfer-Encoding: chunked', 'x-request-id: raw-cl-te'], '2\r\n{}\r\n0\r\n\r\n'),
    check: (reply) => expect(statusOf(reply)).toBe(200),
    upstream: { id: 'raw-cl-te', count: 1, bodyBytes: 2 },
  },
  {
    name: 'a chunked body over the 10 MiB cap: 413',
    bytes: request(
      predictHead,
      [json, 'Transfer-Encoding: chunked', 'x-request-id: raw-chunked-over'],
      `${`100000\r\n${'a'.repeat(0x100000)}\r\n`.repeat(11)}0\r\n\r\n`,
    ),
    check: (reply) => {
      expect(statusOf(reply)).toBe(413);
      expect(reply).toContain('"type":"payload_too_large"');
    },
    upstream: { id: 'raw-chunked-over', count: 0 },
  },
  {
    name: 'an invalid chunk size: refused, nothing upstream',
    bytes: request(predictHead, [json, 'Transfer-Encoding: chunked', 'x-request-id: raw-bad-chunk'], 'zz\r\n{}\r\n0\r\n\r\n'),
    check: (reply) => expect(statusOf(reply)).toBeGreaterThanOrEqual(400),
    upstream: { id: 'raw-bad-chunk', count: 0 },
  },
  {
    name: 'a bare LF inside a header value ends the line: no header is injected into the answer',
    bytes: request('GET /healthz HTTP/1.1', ['x-request-id: raw-lf\nSet-Cookie: a=b']),
    check: (reply) => {
      expect(statusOf(reply)).toBe(200);
      expect(reply.toLowerCase()).not.toContain('set-cookie');
      expect(reply).toContain('x-request-id: raw-lf\r\n');
    },
  },
  {
    name: 'a bare CR inside a header value: 400',
    bytes: request('GET /healthz HTTP/1.1', ['x-request-id: abc\rSet-Cookie: a=b']),
    check: (reply) => {
      expect(statusOf(reply)).toBe(400);
      expect(reply.toLowerCase()).not.toContain('set-cookie');
    },
  },
  {
    name: 'CRLF injected through an encoded x-request-id is not decoded into headers',
    bytes: request('GET /healthz HTTP/1.1', ['x-request-id: a%0d%0aSet-Cookie:%20a=b']),
    check: (reply) => {
      expect(statusOf(reply)).toBe(200);
      expect(reply.toLowerCase()).not.toContain('set-cookie');
      expect(reply).toMatch(/x-request-id: [0-9a-f-]{36}\r\n/);
    },
  },
  {
    name: 'a NUL in a header: 400',
    bytes: request('GET /healthz HTTP/1.1', ['x-request-id: a\0b']),
    check: (reply) => expect(statusOf(reply)).toBe(400),
  },
  {
    name: 'a space before the colon: 400',
    bytes: request('GET /healthz HTTP/1.1', ['x-request-id : spaced']),
    check: (reply) => expect(statusOf(reply)).toBe(400),
  },
  {
    name: 'an obsolete folded header: 400',
    bytes: request('GET /healthz HTTP/1.1', ['x-request-id: a', ' b']),
    check: (reply) => expect(statusOf(reply)).toBe(400),
  },
  {
    name: 'a 200 KB header: answered, and not forwarded',
    bytes: request(predictHead, [json, 'Content-Length: 2', `x-pad: ${'a'.repeat(200_000)}`, 'x-request-id: raw-big-header'], '{}'),
    check: (reply) => expect(statusOf(reply)).toBe(200),
    upstream: { id: 'raw-big-header', count: 1 },
  },
  {
    name: '2,000 headers: answered',
    bytes: request(
      'GET /healthz HTTP/1.1',
      Array.from({ length: 2000 }, (_, i) => `x-h${i}: 1`),
    ),
    check: (reply) => expect(statusOf(reply)).toBe(200),
  },
  {
    name: 'a made-up method: refused before the Worker',
    bytes: request('BREW /v1/models HTTP/1.1'),
    check: (reply) => expect(statusOf(reply)).toBe(501),
  },
  {
    name: "TRACE: 405 in the contract's envelope",
    bytes: request('TRACE /v1/models HTTP/1.1'),
    check: (reply) => {
      expect(statusOf(reply)).toBe(405);
      expect(reply).toContain('"type":"method_not_allowed"');
    },
  },
  {
    name: 'TRACE on a custom route: 405, nothing upstream',
    bytes: request('TRACE /v1/models/custom/sync/health HTTP/1.1', [`Authorization: Bearer ${DEV_TOKEN}`, 'x-request-id: raw-trace']),
    check: (reply) => expect(statusOf(reply)).toBe(405),
    upstream: { id: 'raw-trace', count: 0 },
  },
  {
    name: 'CONNECT: refused',
    bytes: request('CONNECT 127.0.0.1:80 HTTP/1.1'),
    check: (reply) => expect(statusOf(reply)).toBeGreaterThanOrEqual(400),
  },
  {
    name: 'an absolute-form target naming another host: served, and the upstream is still Baseten',
    bytes: request('POST http://evil.example/v1/models/echo/predict HTTP/1.1', [json, 'Content-Length: 2', 'x-request-id: raw-absolute'], '{}'),
    check: (reply) => expect(statusOf(reply)).toBe(200),
    upstream: { id: 'raw-absolute', count: 1 },
  },
  {
    name: 'raw dot segments in the path: resolved by the parser, then 404',
    bytes: request('GET /v1/models/custom/sync/items/../../../admin HTTP/1.1', [`Authorization: Bearer ${DEV_TOKEN}`]),
    check: (reply) => expect(statusOf(reply)).toBe(404),
  },
  {
    name: 'raw backslashes in the path: 404',
    bytes: request('GET /v1/models/custom/sync/items\\..\\..\\admin HTTP/1.1', [`Authorization: Bearer ${DEV_TOKEN}`]),
    check: (reply) => expect(statusOf(reply)).toBe(404),
  },
  {
    name: 'encoded slashes in a custom route: 404, nothing upstream',
    bytes: request('GET /v1/models/custom/sync/items/..%2F..%2Fadmin HTTP/1.1', [`Authorization: Bearer ${DEV_TOKEN}`, 'x-request-id: raw-encoded-slash']),
    check: (reply) => expect(statusOf(reply)).toBe(404),
    upstream: { id: 'raw-encoded-slash', count: 0 },
  },
  {
    name: 'raw non-ASCII bytes in the path: 400',
    bytes: request('GET /v1/models/\xff\xfe/predict HTTP/1.1'),
    check: (reply) => expect(statusOf(reply)).toBe(400),
  },
  {
    name: 'a garbage request line: 400',
    bytes: 'GARBAGE\r\n\r\n',
    check: (reply) => expect(statusOf(reply)).toBe(400),
  },
  {
    name: 'HTTP/1.0 without a Host: 400',
    bytes: 'GET /healthz HTTP/1.0\r\n\r\n',
    check: (reply) => expect(statusOf(reply)).toBe(400),
  },
  {
    name: 'a 60 KB query string: 414 uri_too_long, nothing upstream',
    bytes: request(`GET /v1/models/custom/sync/items/1?q=${'q'.repeat(60_000)} HTTP/1.1`, [
      `Authorization: Bearer ${DEV_TOKEN}`,
      'x-request-id: raw-long-query',
    ]),
    check: (reply) => {
      expect(statusOf(reply)).toBe(414);
      expect(reply).toContain('"type":"uri_too_long"');
    },
    upstream: { id: 'raw-long-query', count: 0 },
  },
  {
    name: 'a simple text/plain POST from a disallowed Origin: 403, nothing upstream',
    bytes: request(predictHead, ['Content-Type: text/plain', 'Origin: https://evil.example', 'Content-Length: 2', 'x-request-id: raw-foreign-origin'], '{}'),
    check: (reply) => {
      expect(statusOf(reply)).toBe(403);
      expect(reply).toContain('"type":"forbidden"');
      expect(reply.toLowerCase()).not.toContain('access-control-allow-origin');
    },
    upstream: { id: 'raw-foreign-origin', count: 0 },
  },
  {
    name: 'a POST from an allowed Origin: served with its CORS headers',
    bytes: request(predictHead, [json, 'Origin: http://localhost:8787', 'Content-Length: 2', 'x-request-id: raw-allowed-origin'], '{}'),
    check: (reply) => {
      expect(statusOf(reply)).toBe(200);
      expect(reply.toLowerCase()).toContain('access-control-allow-origin: http://localhost:8787');
    },
    upstream: { id: 'raw-allowed-origin', count: 1 },
  },
  {
    name: 'a predict Baseten answers with a redirect to another host: 502, the body not re-sent',
    bytes: request(predictHead, [json, 'Content-Length: 26', 'x-request-id: raw-redirect'], '{"fake":{"redirect":true}}'),
    check: (reply) => {
      expect(statusOf(reply)).toBe(502);
      expect(reply).toContain('"type":"upstream_error"');
    },
    upstream: { id: 'raw-redirect', count: 1 },
  },
  {
    name: 'two pipelined requests: both answered, in order',
    bytes: request('GET /healthz HTTP/1.1', ['x-request-id: raw-one'], '', false) + request('GET /healthz HTTP/1.1', ['x-request-id: raw-two']),
    check: (reply) => {
      expect(allStatuses(reply)).toEqual([200, 200]);
      expect(reply.indexOf('raw-one')).toBeLessThan(reply.indexOf('raw-two'));
    },
  },
];

describe(`raw-socket hostile input under wrangler dev (${RAW.length} cases)`, () => {
  it.each(RAW.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const reply = await gateway.raw(Buffer.from(c.bytes, 'latin1'), c.quietMs ?? 1500);
    c.check(reply);
    if (c.upstream) {
      const seen = sentUpstream(c.upstream.id);
      expect(seen).toHaveLength(c.upstream.count);
      if (c.upstream.bodyBytes !== undefined) expect(seen[0]?.bodyBytes).toBe(c.upstream.bodyBytes);
      for (const r of seen) expect(r.headers['x-pad']).toBeUndefined();
    }
    // The gateway keeps serving.
    const health = await gateway.fetch('/healthz');
    expect(health.status).toBe(200);
    await health.arrayBuffer();
  });

  it('threw nothing the Worker did not handle', () => {
    expect(gateway.logs()).not.toContain('"level":"error"');
  });
});

describe('the secrets never leave: every route and failure mode, every answer and log line scanned', () => {
  const auth = { authorization: `Bearer ${DEV_TOKEN}` };
  const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const aliases = ['echo', 'chat', 'echo-staging', 'pinned', 'draft', 'pipeline', 'custom'];
  const sweep: [string, RequestInit?][] = [
    ['/healthz'],
    ['/v1/models'],
    ['/v1/models', { headers: auth }],
    ['/v1/models', { headers: { authorization: `Api-Key ${API_KEY}` } }],
    ['/v1/models', { headers: { authorization: `Bearer ${API_KEY}` } }],
    ...aliases.map((alias): [string, RequestInit] => [`/v1/models/${alias}/predict`, post({ prompt: 'hi' })]),
    ['/v1/models/echo/predict', post({ fake: { status: 401, message: `Invalid API key ${API_KEY}` } })],
    ['/v1/models/echo/predict', post({ fake: { status: 500, message: `webhook secret ${WEBHOOK_SECRET}` } })],
    ['/v1/models/echo/predict', post({ fake: { status: 429 } })],
    ['/v1/models/echo/predict', post({ fake: { status: 503, garbage: true } })],
    ['/v1/models/echo/predict', post({ fake: { leak_headers: true } })],
    ['/v1/models/echo/predict', post({ fake: { reset: true } })],
    ['/v1/models/echo/predict', post({ fake: { stream: { chunks: 3, chunk_bytes: 64 } } })],
    ['/v1/models/echo/predict', post('{oops')],
    ['/v1/models/echo/predict', post('{}', { 'content-type': 'text/plain' })],
    ['/v1/models/echo/predict', { method: 'GET' }],
    ['/v1/models/nope/predict', post({})],
    ['/v1/models/custom/sync/health', { headers: auth }],
    ['/v1/models/custom/sync/items/1', post({ fake: { status: 500, message: `key ${API_KEY}` } })],
    ['/v1/models/custom/sync/items/..%2f', { headers: auth }],
    ['/v1/models/echo/predict', { method: 'OPTIONS', headers: { origin: 'http://localhost:8787', 'access-control-request-method': 'POST' } }],
    ['/v1/models/echo/predict', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } }],
    ['/nowhere'],
    ['/openapi.json'],
    ['/v1/models/echo', { headers: auth }],
    ['/v1/chat/completions', post({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true })],
    ['/v1/chat/completions', post({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })],
    ['/v1/completions', post({ model: 'chat', prompt: 'hi' })],
    ['/v1/embeddings', post({ model: 'chat', input: 'hi' })],
    ['/v1/chat/completions', post({ model: 'echo', messages: [] })],
    ['/v1/models/echo/batch', post({ rows: [{ a: 1 }, { fake: { status: 500, message: `key ${API_KEY}` } }] })],
    ['/v1/models/echo/wake', { method: 'POST', headers: auth }],
    ['/v1/models/echo/wake', { method: 'POST' }],
    ['/v1/models/echo/async', post({ model_input: { fake: { queue_ms: 0, run_ms: 0 } } })],
    ['/v1/models/echo/async', post({ model_input: { fake: { fail: true, message: `secret ${WEBHOOK_SECRET}` } } })],
    ['/v1/models/echo/async/queue', { headers: auth }],
    ['/v1/async/0123456789abcdef0123456789abcdef', { headers: auth }],
    ['/v1/async/0123456789abcdef0123456789abcdef', { method: 'DELETE', headers: auth }],
    ['/v1/webhooks/baseten', post('{"request_id":"0123456789abcdef0123456789abcdef"}', { 'x-baseten-signature': 'v1=00' })],
    ['/v1/webhooks/baseten', post('{}')],
  ];

  it.each(sweep.map(([path, init], i) => [`${init?.method ?? 'GET'} ${path} #${i}`, path, init] as const))('%s', async (_label, path, init) => {
    const res = await gateway.fetch(path, init);
    const body = await res.text();
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(body).not.toContain(API_KEY);
    expect(body).not.toContain(WEBHOOK_SECRET);
  });

  it('follows async requests through status and cancel once Baseten has run them', async () => {
    const ids: string[] = [];
    for (const fake of [{ queue_ms: 0, run_ms: 0 }, { fail: true, message: `secret ${WEBHOOK_SECRET} key ${API_KEY}` }, { queue_ms: 600_000 }]) {
      const submitted = await gateway.fetch('/v1/models/echo/async', post({ model_input: { fake } }));
      expect(submitted.status).toBe(201);
      ids.push(((await submitted.json()) as { request_id: string }).request_id);
    }
    // Baseten's webhooks come back through the gateway; then every view of the requests is scanned.
    for (let i = 0; i < 50 && gateway.fake.webhookDeliveries.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    for (const id of ids) {
      const view = await gateway.fetch(`/v1/async/${id}`, { headers: auth });
      expect(view.status).toBe(200);
      await view.text();
    }
    const canceled = await gateway.fetch(`/v1/async/${ids[2]}`, { method: 'DELETE', headers: auth });
    expect(canceled.status).toBe(200);
    await canceled.text();
  });

  it('scanned every answer, and the scanner sees a secret split across chunks', async () => {
    expect(gateway.answers()).toBeGreaterThanOrEqual(RAW.length + sweep.length);
    const hits: string[] = [];
    const half = Math.floor(API_KEY.length / 2);
    const parts = [`xx${API_KEY.slice(0, half)}`, `${API_KEY.slice(half)}yy`].map((p) => new TextEncoder().encode(p));
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        for (const p of parts) c.enqueue(p);
        c.close();
      },
    });
    await new Response(
      stream.pipeThrough(
        secretScanner((text) => {
          if (text.includes(API_KEY)) hits.push(text);
        }),
      ),
    ).arrayBuffer();
    expect(hits.length).toBeGreaterThan(0);
  });
});
